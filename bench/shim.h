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
 * and, for programs that look at one phase of a run (pause.c):
 *
 *   bench_collect()         a full collection (a no-op for malloc, mimalloc)
 *   bench_heap_inuse()      bytes of heap objects in use as the system counts
 *                           them (rounded up to its size classes); after
 *                           bench_collect() that is the live heap.  0 when
 *                           the system cannot say
 *   bench_usable_size(p)    the size the system really gave to object p
 *   bench_gc_mark()         start a phase: remember the collector's counters
 *   bench_gc_phase(&ph)     collections and pauses since bench_gc_mark():
 *                           ph.collections, ph.max_pause_ns, ph.total_pause_ns
 *                           and ph.pause_ns[0 .. ph.npauses-1], the pause of
 *                           each of the phase's last (up to) 256 collections,
 *                           oldest first
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

/* Shared by the programs: the random numbers (xorshift64*, the same sequence
 * for every system) and a monotonic clock in nanoseconds. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if (defined(SYS_TRICOLOR) + defined(SYS_BDWGC) + defined(SYS_MALLOC) + defined(SYS_MIMALLOC)) != 1
#error "define exactly one of SYS_TRICOLOR, SYS_BDWGC, SYS_MALLOC, SYS_MIMALLOC"
#endif

static inline void bench_oom(size_t n)
{
    fprintf(stderr, "bench: out of memory allocating %zu bytes\n", n);
    abort();
}

/* What bench_gc_phase() reports.  Pauses beyond the last BENCH_PHASE_PAUSES
 * collections of the phase are counted in collections and total_pause_ns but
 * have no entry in pause_ns[]; max_pause_ns is exact for bdwgc (every pause is
 * seen) and covers only the entries of pause_ns[] for tricolor (a ring of 256,
 * as Go's MemStats). */
#define BENCH_PHASE_PAUSES 256
typedef struct bench_gcphase {
    uint64_t collections;
    uint64_t max_pause_ns;
    uint64_t total_pause_ns;
    int npauses;
    uint64_t pause_ns[BENCH_PHASE_PAUSES];
} bench_gcphase;

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

static inline void bench_collect(void) { gc_collect(); }

static inline uint64_t bench_heap_inuse(void)
{
    static gc_memstats ms;
    gc_read_memstats(&ms);
    return ms.heap_alloc;
}

#define bench_usable_size(p) gc_size(p)

static uint32_t bench_mark_num_gc;
static uint64_t bench_mark_pause_total_ns;

static inline void bench_gc_mark(void)
{
    static gc_memstats ms;
    gc_read_memstats(&ms);
    bench_mark_num_gc = ms.num_gc;
    bench_mark_pause_total_ns = ms.pause_total_ns;
}

static inline void bench_gc_phase(bench_gcphase *ph)
{
    static gc_memstats ms;
    gc_read_memstats(&ms);
    memset(ph, 0, sizeof *ph);
    ph->collections = ms.num_gc - bench_mark_num_gc;
    ph->total_pause_ns = ms.pause_total_ns - bench_mark_pause_total_ns;
    /* Collection k (1, 2, ...) has its pause at pause_ns[(k - 1) % 256]. */
    uint32_t first = bench_mark_num_gc + 1;
    if (ms.num_gc >= 256 && first < ms.num_gc - 255) first = ms.num_gc - 255;
    for (uint32_t k = first; k <= ms.num_gc && k != 0; k++) {
        uint64_t p = ms.pause_ns[(k - 1) % 256];
        ph->pause_ns[ph->npauses++] = p;
        if (p > ph->max_pause_ns) ph->max_pause_ns = p;
    }
}

/* ------------------------------------------------------------------------ */
#elif defined(SYS_BDWGC)

#define GC_THREADS
#include <gc.h> /* with GC_THREADS: pthread_create -> GC_pthread_create */

#define BENCH_SYSTEM "bdwgc"
#define BENCH_GC 1

static uint64_t bench_stw_start_ns, bench_max_pause_ns, bench_total_pause_ns;
/* Every pause also goes into a ring, for bench_gc_phase(). */
static uint64_t bench_pause_ring[BENCH_PHASE_PAUSES], bench_npauses, bench_phase_max_ns;

static inline uint64_t bench_mono_ns(void) { return mono_ns(); }

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
        if (d > bench_phase_max_ns) bench_phase_max_ns = d;
        bench_pause_ring[bench_npauses++ % BENCH_PHASE_PAUSES] = d;
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

static inline void bench_collect(void) { GC_gcollect(); }

static inline uint64_t bench_heap_inuse(void)
{
    GC_word heap = 0, free_bytes = 0;
    GC_get_heap_usage_safe(&heap, &free_bytes, NULL, NULL, NULL);
    return heap > free_bytes ? (uint64_t)(heap - free_bytes) : 0;
}

#define bench_usable_size(p) GC_size(p)

static uint64_t bench_mark_gc_no, bench_mark_npauses, bench_mark_total_ns;

static inline void bench_gc_mark(void)
{
    GC_alloc_lock(); /* the callback writes these with the lock held */
    bench_mark_gc_no = GC_get_gc_no();
    bench_mark_npauses = bench_npauses;
    bench_mark_total_ns = bench_total_pause_ns;
    bench_phase_max_ns = 0;
    GC_alloc_unlock();
}

static inline void bench_gc_phase(bench_gcphase *ph)
{
    memset(ph, 0, sizeof *ph);
    GC_alloc_lock();
    ph->collections = GC_get_gc_no() - bench_mark_gc_no;
    ph->total_pause_ns = bench_total_pause_ns - bench_mark_total_ns;
    ph->max_pause_ns = bench_phase_max_ns;
    uint64_t first = bench_mark_npauses;
    if (bench_npauses - first > BENCH_PHASE_PAUSES) first = bench_npauses - BENCH_PHASE_PAUSES;
    for (uint64_t k = first; k < bench_npauses; k++)
        ph->pause_ns[ph->npauses++] = bench_pause_ring[k % BENCH_PHASE_PAUSES];
    GC_alloc_unlock();
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

static inline void bench_collect(void) {}

#if defined(SYS_MIMALLOC)
static inline uint64_t bench_heap_inuse(void) { return 0; } /* no cheap counter */
#define bench_usable_size(p) mi_usable_size(p)
#else
#include <malloc.h>
static inline uint64_t bench_heap_inuse(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
#else
    return 0;
#endif
}
#define bench_usable_size(p) malloc_usable_size(p)
#endif

static inline void bench_gc_mark(void) {}
static inline void bench_gc_phase(bench_gcphase *ph) { memset(ph, 0, sizeof *ph); }

#endif

#endif /* BENCH_SHIM_H */
