/*
 * small_heap.c - a small live heap under a flat-out allocation rate, the shape of
 * an interpreter's heap (Guile, ECL, neko on bdwgc): collections by the thousand.
 *
 *   small_heap [threads [iterations [records]]]     (defaults 2, 20000000, 16384)
 *
 * Each thread keeps a ring of `records` live 32-byte records and, `iterations`
 * times, replaces the record at a random slot (xorshift64*, seeded by thread
 * number, the same in the Go version) with a new one that points to the record
 * it replaced half the time, so the heap holds pointers and short chains:
 * about 1.5 records a slot, 0.9 MiB live per thread at the default (the ring's
 * 128 KiB included).  A record holds its serial number; at the end each thread
 * checks every live record's number and the chains' links.
 */
#include "shim.h"

#include <pthread.h>

typedef struct record {
    struct record *prev; /* the record this one replaced, or NULL */
    uint64_t serial;
    uint64_t slot;
    uint64_t check; /* serial ^ slot ^ 0x5bd1e995 */
} record;

typedef struct worker {
    pthread_t tid;
    int index;
    long iterations, records;
    uint64_t live_records;
    long damaged;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    long n = w->records;
    record **ring = bench_alloc_zero((size_t)n * sizeof(record *));
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(w->index + 1);
    for (long it = 0; it < w->iterations; it++) {
        uint64_t r = rng_next(&seed);
        long idx = (long)((r >> 32) % (uint64_t)n);
        record *p = bench_alloc(sizeof(record));
        p->serial = (uint64_t)it;
        p->slot = (uint64_t)idx;
        p->check = p->serial ^ p->slot ^ 0x5bd1e995;
        record *old = ring[idx];
        if (old && (r & 1)) {
            /* keep the chain one record long: drop what old pointed to */
            p->prev = old;
            bench_free(old->prev);
            old->prev = NULL;
        } else {
            if (old) {
                bench_free(old->prev);
                bench_free(old);
            }
            p->prev = NULL;
        }
        ring[idx] = p;
    }
    uint64_t live = 0;
    long damaged = 0;
    for (long i = 0; i < n; i++) {
        for (record *p = ring[i]; p; p = p->prev) {
            if (p->check != (p->serial ^ p->slot ^ 0x5bd1e995) || p->slot != (uint64_t)i) damaged++;
            live++;
        }
        if (ring[i]) {
            bench_free(ring[i]->prev);
            bench_free(ring[i]);
        }
    }
    bench_free(ring);
    w->live_records = live;
    w->damaged = damaged;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init();
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    long iterations = argc > 2 ? atol(argv[2]) : 20000000;
    long records = argc > 3 ? atol(argv[3]) : 16384;
    if (threads < 1) threads = 1;
    if (records < 1) records = 1;
    worker *ws = calloc((size_t)threads, sizeof(worker));
    if (!ws) return 1;
    for (int i = 0; i < threads; i++) {
        ws[i].index = i;
        ws[i].iterations = iterations;
        ws[i].records = records;
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "small_heap: pthread_create failed\n");
            return 1;
        }
    }
    uint64_t live = 0;
    long damaged = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ws[i].tid, NULL);
        live += ws[i].live_records;
        damaged += ws[i].damaged;
    }
    printf("small_heap (%s): %d threads x %ld iterations, %ld records each\n", BENCH_SYSTEM, threads, iterations,
           records);
    printf("live records at end %llu\n", (unsigned long long)live);
    free(ws);
    if (damaged) {
        printf("DAMAGED: %ld records\n", damaged);
        return 1;
    }
    bench_report();
    return 0;
}
