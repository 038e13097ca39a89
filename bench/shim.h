/*
 * shim.h - one allocation interface over the four C memory managers the
 * benchmarks compare.  Each benchmark source is compiled once per system with
 * exactly one of:
 *
 *   -DSYS_TRICOLOR  tricolor (this project): gc_alloc / gc_alloc_noscan
 *   -DSYS_BDWGC     bdwgc 8.2 (Debian libgc-dev): GC_MALLOC / GC_MALLOC_ATOMIC
 *   -DSYS_MALLOC    the C library's malloc / free
 *   -DSYS_MIMALLOC  mimalloc: mi_malloc / mi_free
 *
 * The interface:
 *
 *   bench_init()            call first thing in main()
 *   bench_alloc(n)          memory that may hold pointers; contents undefined
 *                           (the GC systems zero it anyway), caller initialises
 *   bench_alloc_zero(n)     the same, zeroed
 *   bench_alloc_noscan(n)   pointer-free data (never scanned by a collector)
 *   bench_free(p)           release p; a no-op under the collectors, which
 *                           reclaim garbage themselves
 *   BENCH_GC                1 for the collected systems, 0 for the others
 *   BENCH_SYSTEM            the system's name, a string
 *   bench_report()          print the machine-readable line at exit:
 *                             BENCH collections=<n> maxpause_ns=<ns> totalpause_ns=<ns>
 *
 * Threads are created with plain pthread_create: under bdwgc, gc.h (included
 * with GC_THREADS) redirects it to GC_pthread_create so the collector knows
 * every thread; tricolor registers a thread on its first allocation.
 *
 * How pauses are measured:
 *   tricolor: gc_read_memstats(); collections = num_gc, maxpause = the largest
 *             entry of pause_ns[], a ring of the LAST 256 pauses only (as in Go's
 *             MemStats), so with more than 256 collections an earlier, longer
 *             pause may be missing; totalpause = pause_total_ns.
 *   bdwgc:    collections = GC_get_gc_no(); every stop-the-world pause is timed
 *             from GC_EVENT_PRE_STOP_WORLD to GC_EVENT_POST_START_WORLD with
 *             clock_gettime(CLOCK_MONOTONIC) in a GC_set_on_collection_event
 *             callback (called with the allocation lock held), so the maximum
 *             covers all collections.  bdwgc marks with the world stopped, so
 *             this is the whole mark phase.
 *   malloc, mimalloc: 0 collections, 0 pause.
 */
#ifndef BENCH_SHIM_H
#define BENCH_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if (defined(SYS_TRICOLOR) + defined(SYS_BDWGC) + defined(SYS_MALLOC) + defined(SYS_MIMALLOC)) != 1
#error "define exactly one of SYS_TRICOLOR, SYS_BDWGC, SYS_MALLOC, SYS_MIMALLOC"
#endif

static inline void bench_oom(size_t n)
{
    fprintf(stderr, "bench: out of memory allocating %zu bytes\n", n);
    abort();
}

/* ------------------------------------------------------------------------ */
#if defined(SYS_TRICOLOR)

#include <pthread.h>
#include <tricolor.h>

#define BENCH_SYSTEM "tricolor"
#define BENCH_GC 1

static inline void bench_init(void) {}

static inline void *bench_alloc(size_t n)
{
    void *p = gc_alloc(n);
    if (!p) bench_oom(n);
    return p;
}
#define bench_alloc_zero(n) bench_alloc(n) /* gc_alloc zeroes */
static inline void *bench_alloc_noscan(size_t n)
{
    void *p = gc_alloc_noscan(n);
    if (!p) bench_oom(n);
    return p;
}
#define bench_free(p) ((void)(p))

static inline void bench_report(void)
{
    static gc_memstats ms; /* large (about 8 KiB): keep it off the stack */
    gc_read_memstats(&ms);
    uint64_t maxp = 0;
    for (int i = 0; i < 256; i++)
        if (ms.pause_ns[i] > maxp) maxp = ms.pause_ns[i];
    printf("BENCH collections=%u maxpause_ns=%llu totalpause_ns=%llu\n", ms.num_gc,
           (unsigned long long)maxp, (unsigned long long)ms.pause_total_ns);
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
#elif defined(SYS_BDWGC)

#define GC_THREADS
#include <gc.h> /* with GC_THREADS: pthread_create -> GC_pthread_create */

#define BENCH_SYSTEM "bdwgc"
#define BENCH_GC 1

static uint64_t bench_stw_start_ns, bench_max_pause_ns, bench_total_pause_ns;

static inline uint64_t bench_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Called by the collector with its lock held: the statics need no locking. */
static void GC_CALLBACK bench_gc_event(GC_EventType ev)
{
    if (ev == GC_EVENT_PRE_STOP_WORLD) {
        bench_stw_start_ns = bench_mono_ns();
    } else if (ev == GC_EVENT_POST_START_WORLD && bench_stw_start_ns != 0) {
        uint64_t d = bench_mono_ns() - bench_stw_start_ns;
        bench_stw_start_ns = 0;
        bench_total_pause_ns += d;
        if (d > bench_max_pause_ns) bench_max_pause_ns = d;
    }
}

static inline void bench_init(void)
{
    GC_INIT();
    GC_set_on_collection_event(bench_gc_event);
}

static inline void *bench_alloc(size_t n)
{
    void *p = GC_MALLOC(n);
    if (!p) bench_oom(n);
    return p;
}
#define bench_alloc_zero(n) bench_alloc(n) /* GC_MALLOC zeroes */
static inline void *bench_alloc_noscan(size_t n)
{
    void *p = GC_MALLOC_ATOMIC(n);
    if (!p) bench_oom(n);
    return p;
}
#define bench_free(p) ((void)(p))

static inline void bench_report(void)
{
    printf("BENCH collections=%lu maxpause_ns=%llu totalpause_ns=%llu\n",
           (unsigned long)GC_get_gc_no(), (unsigned long long)bench_max_pause_ns,
           (unsigned long long)bench_total_pause_ns);
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
#elif defined(SYS_MALLOC) || defined(SYS_MIMALLOC)

#include <pthread.h>
#if defined(SYS_MIMALLOC)
#include <mimalloc.h>
#define BENCH_SYSTEM "mimalloc"
#define BENCH_MALLOC_ mi_malloc
#define BENCH_CALLOC_ mi_calloc
#define BENCH_FREE_ mi_free
#else
#define BENCH_SYSTEM "malloc"
#define BENCH_MALLOC_ malloc
#define BENCH_CALLOC_ calloc
#define BENCH_FREE_ free
#endif
#define BENCH_GC 0

static inline void bench_init(void) {}

static inline void *bench_alloc(size_t n)
{
    void *p = BENCH_MALLOC_(n);
    if (!p) bench_oom(n);
    return p;
}
static inline void *bench_alloc_zero(size_t n)
{
    void *p = BENCH_CALLOC_(1, n);
    if (!p) bench_oom(n);
    return p;
}
#define bench_alloc_noscan(n) bench_alloc(n)
#define bench_free(p) BENCH_FREE_(p)

static inline void bench_report(void)
{
    printf("BENCH collections=0 maxpause_ns=0 totalpause_ns=0\n");
    fflush(stdout);
}

#endif

#endif /* BENCH_SHIM_H */
