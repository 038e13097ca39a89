/*
 * stats.c - MemStats, gctrace formatting, clocks and messages.
 *
 * Owns the global counters (gstats).  Counting follows Go: a small object is
 * counted as allocated when its span leaves a thread cache (cache.c adds the
 * span's alloc_count growth), and as freed when the sweeper finds it unmarked
 * or gc_free frees it; large objects are counted as they come and go.
 * gc_read_memstats stops the world for a moment to add what caches hold
 * uncounted, so the snapshot is exact: after gc_collect(), mallocs - frees is
 * the number of objects in the heap.  gc_read_metrics reads the same counters
 * without the stop (runtime/metrics' way), so its small-object counts lag by
 * what caches hold; the pause ring it shares with record_cycle is guarded by
 * stats_lock, a leaf lock.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct gc_stats gstats;
pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t nanotime(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t walltime(void) { return clock_ns(CLOCK_REALTIME); }
uint64_t process_cputime(void) { return clock_ns(CLOCK_PROCESS_CPUTIME_ID); }
uint64_t thread_cputime(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

/* Go's gctrace number format: whole milliseconds from 10 ms up, else two
 * significant digits with at most three decimals. */
void fmt_ms(char *buf, size_t n, uint64_t ns)
{
    if (ns >= 10000000u) {
        snprintf(buf, n, "%llu", (unsigned long long)(ns / 1000000u));
        return;
    }
    uint64_t x = ns / 1000u;
    if (x == 0) {
        snprintf(buf, n, "0");
        return;
    }
    int dec = 3;
    while (x >= 100) {
        x /= 10;
        dec--;
    }
    uint64_t p = 1;
    for (int i = 0; i < dec; i++)
        p *= 10;
    if (dec == 0)
        snprintf(buf, n, "%llu", (unsigned long long)x);
    else
        snprintf(buf, n, "%llu.%0*llu", (unsigned long long)(x / p), dec, (unsigned long long)(x % p));
}

static void vprint(const char *prefix, const char *fmt, va_list ap)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s", prefix);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + ((size_t)m < sizeof buf - (size_t)n - 1 ? (size_t)m : sizeof buf - (size_t)n - 2);
    buf[len++] = '\n';
    ssize_t w = write(2, buf, len);
    (void)w;
}

void tc_print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint("tricolor: ", fmt, ap);
    va_end(ap);
}

void tc_trace(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint("", fmt, ap);
    va_end(ap);
}

void tc_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint("tricolor: ", fmt, ap);
    va_end(ap);
    abort();
}

/* Everything but the stop: the counters, plus nmalloc[] (what caches hold
 * uncounted, or zeros).  The pause ring is read under stats_lock (lock_ring),
 * which record_cycle holds while it writes a cycle's entry; gc_read_memstats
 * does not take it: it holds gc_lock, so no cycle is recorded meanwhile, and
 * with the world stopped a stopped gc_read_metrics caller may hold it.
 * Returns the collector's CPU time, read with the ring. */
static uint64_t fill_memstats(gc_memstats *out, const uint64_t *nmalloc, bool lock_ring)
{
    struct gc_stats *g = &gstats;
    memset(out, 0, sizeof *out);
    uint64_t mallocs = 0, frees = 0, total = 0, freed_bytes = 0;
    for (unsigned c = 1; c < NUM_CLASSES; c++) {
        uint64_t m = atomic_load(&g->nmalloc[c]) + nmalloc[c], f = atomic_load(&g->nfree[c]);
        if (f > m) /* read apart, without the world stopped */
            f = m;
        out->by_size[c - 1].size = class_size[c];
        out->by_size[c - 1].mallocs = m;
        out->by_size[c - 1].frees = f;
        mallocs += m;
        frees += f;
        total += m * class_size[c];
        freed_bytes += f * class_size[c];
    }
    uint64_t lf = atomic_load(&g->large_free), lfb = atomic_load(&g->large_free_bytes);
    mallocs += atomic_load(&g->large_alloc);
    frees += lf;
    total += atomic_load(&g->large_alloc_bytes);
    freed_bytes += lfb;
    if (frees > mallocs)
        frees = mallocs;
    if (freed_bytes > total)
        freed_bytes = total;
    out->mallocs = mallocs;
    out->frees = frees;
    out->heap_objects = mallocs - frees;
    out->total_alloc = total;
    out->heap_alloc = out->alloc = total - freed_bytes;

    uint64_t sys = 0;
    for (int k = 0; k < SYS_NKINDS; k++)
        sys += atomic_load(&sys_bytes[k]);
    out->sys = sys;
    out->heap_sys = atomic_load(&sys_bytes[SYS_HEAP]);
    out->heap_inuse = atomic_load(&heap_inuse_pages) * PAGE_SIZE;
    out->heap_idle = out->heap_sys > out->heap_inuse ? out->heap_sys - out->heap_inuse : 0;
    out->heap_released = atomic_load(&heap_released_bytes);
    out->mspan_sys = atomic_load(&sys_bytes[SYS_SPAN]);
    out->mspan_inuse = atomic_load(&nspans_inuse) * sizeof(span_t);
    out->mcache_sys = atomic_load(&sys_bytes[SYS_CACHE]);
    out->mcache_inuse = __atomic_load_n(&nthreads, __ATOMIC_RELAXED) * sizeof(gc_thread_t);
    out->gc_sys = atomic_load(&sys_bytes[SYS_GC]);
    out->other_sys = atomic_load(&sys_bytes[SYS_OTHER]);
    out->buck_hash_sys = atomic_load(&sys_bytes[SYS_PROF]);

    out->next_gc = atomic_load(&heap_goal);
    if (lock_ring)
        pthread_mutex_lock(&stats_lock);
    out->last_gc = g->last_gc;
    out->pause_total_ns = g->pause_total_ns;
    memcpy(out->pause_ns, g->pause_ns, sizeof out->pause_ns);
    memcpy(out->pause_end, g->pause_end, sizeof out->pause_end);
    out->num_gc = g->num_gc;
    out->num_forced_gc = g->num_forced_gc;
    uint64_t gc_cpu = g->gc_cpu_ns;
    if (lock_ring)
        pthread_mutex_unlock(&stats_lock);
    uint64_t elapsed = nanotime() - g->start_ns;
    out->gc_cpu_fraction = elapsed ? (double)gc_cpu / ((double)elapsed * (double)gc_nprocs()) : 0;
    out->enable_gc = 1;
    out->memory_limit = atomic_load(&memory_limit);
    out->gc_limiter_enabled = limiter_on();
    out->gc_limiter_last_enabled = limiter_last_enabled();
    return gc_cpu;
}

void gc_read_memstats(gc_memstats *out)
{
    gc_thread_t *self = current_thread();
    (void)self;
    uint64_t nmalloc[NUM_CLASSES] = {0};

    pthread_mutex_lock(&gc_lock);
    pthread_mutex_lock(&threads_lock);
    stop_the_world();
    for (gc_thread_t *t = thread_list; t; t = t->next)
        cache_add_unflushed_stats(&t->cache, nmalloc);
    fill_memstats(out, nmalloc, false);
    start_the_world();
    pthread_mutex_unlock(&threads_lock);
    pthread_mutex_unlock(&gc_lock);
}

void gc_read_metrics(gc_metrics *out)
{
    static const uint64_t none[NUM_CLASSES];
    gc_init_once();
    memset(out, 0, sizeof *out);
    out->gc_cpu_ns = fill_memstats(&out->memstats, none, true);
    out->heap_live = atomic_load(&last_marked_bytes);
    out->cpu_ns = process_cputime() - gstats.start_cpu_ns;
    out->uptime_ns = nanotime() - gstats.start_ns;
    out->scavenged_bytes = scavenge_released_total();
    int pct = atomic_load(&gc_percent);
    out->gogc = pct;
    out->ncpu = (uint32_t)gc_nprocs();
}
