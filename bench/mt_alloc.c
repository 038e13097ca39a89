/*
 * mt_alloc.c - multi-threaded allocation over the allocation shim (shim.h).
 *
 *   mt_alloc [threads [iterations [slots]]]     (defaults 4, 4000000, 20000)
 *
 * Each thread keeps a ring of `slots` live objects and, `iterations` times,
 * draws a random number r (xorshift64*, seeded by thread number, identical in
 * the Go version) and replaces slot r % slots with a new object:
 *   - 1 draw in 512: a large pointer-free ("noscan") object of 4..64 KiB,
 *   - otherwise a small scanned object of 16..512 bytes (multiples of 8).
 * So there is a steady live set (about slots * 270 B + a few large objects per
 * thread) and a lot of garbage.  The new object's first word holds its size
 * and its last byte is written.  Under malloc and mimalloc the replaced object
 * is freed; under the collectors it is simply dropped.
 *
 * At the end every thread checks that each live object still holds its size
 * (a damaged object means the collector freed a live object), then the totals
 * are printed; "live bytes" is the same for every system.
 */
#include "shim.h"

#include <pthread.h>

enum { kSmallMin = 16, kSmallSteps = 63, kLargeMin = 4096, kLargeSteps = 61, kLargeOneIn = 512 };

typedef struct worker {
    pthread_t tid;
    int index;
    long iterations;
    long slots;
    /* results */
    uint64_t allocs, bytes, live_bytes;
    long damaged;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    long slots = w->slots;
    void **ring = bench_alloc_zero((size_t)slots * sizeof(void *));
    uint32_t *sizes = bench_alloc_noscan((size_t)slots * sizeof(uint32_t));
    memset(sizes, 0, (size_t)slots * sizeof(uint32_t));
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(w->index + 1);
    uint64_t bytes = 0;

    for (long it = 0; it < w->iterations; it++) {
        uint64_t r = rng_next(&seed);
        long idx = (long)((r >> 32) % (uint64_t)slots);
        int large = (r & (kLargeOneIn - 1)) == 0;
        size_t sz;
        void *p;
        if (large) {
            sz = kLargeMin + ((r >> 9) % kLargeSteps) * 1024;
            p = bench_alloc_noscan(sz);
        } else {
            sz = kSmallMin + ((r >> 9) % kSmallSteps) * 8;
            p = bench_alloc(sz);
        }
        ((uint64_t *)p)[0] = sz;
        ((unsigned char *)p)[sz - 1] = 1;
        bench_free(ring[idx]);
        ring[idx] = p;
        sizes[idx] = (uint32_t)sz;
        bytes += sz;
    }

    uint64_t live = 0;
    long damaged = 0;
    for (long i = 0; i < slots; i++) {
        if (!ring[i]) continue;
        if (((uint64_t *)ring[i])[0] != sizes[i]) damaged++;
        live += sizes[i];
        bench_free(ring[i]);
        ring[i] = NULL;
    }
    bench_free(ring);
    bench_free(sizes);
    w->allocs = (uint64_t)w->iterations;
    w->bytes = bytes;
    w->live_bytes = live;
    w->damaged = damaged;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init();
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    long iterations = argc > 2 ? atol(argv[2]) : 4000000;
    long slots = argc > 3 ? atol(argv[3]) : 20000;
    if (threads < 1) threads = 1;
    if (slots < 1) slots = 1;

    worker *ws = calloc((size_t)threads, sizeof(worker));
    if (!ws) return 1;
    for (int i = 0; i < threads; i++) {
        ws[i].index = i;
        ws[i].iterations = iterations;
        ws[i].slots = slots;
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "mt_alloc: pthread_create failed\n");
            return 1;
        }
    }
    uint64_t allocs = 0, bytes = 0, live = 0;
    long damaged = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ws[i].tid, NULL);
        allocs += ws[i].allocs;
        bytes += ws[i].bytes;
        live += ws[i].live_bytes;
        damaged += ws[i].damaged;
    }
    printf("mt_alloc (%s): %d threads x %ld iterations, %ld slots each\n", BENCH_SYSTEM, threads,
           iterations, slots);
    printf("allocated %llu objects, %llu MiB; live bytes at end %llu\n",
           (unsigned long long)allocs, (unsigned long long)(bytes >> 20),
           (unsigned long long)live);
    free(ws);
    if (damaged) {
        fprintf(stderr, "mt_alloc: %ld live objects damaged\n", damaged);
        return 1;
    }
    bench_report();
    return 0;
}
