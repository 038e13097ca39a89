/*
 * test_memstats.c - gc_read_memstats.
 *
 *   exact        after every gc_collect, mallocs - frees == heap_objects, through
 *                phases of allocation, drops and gc_free; heap_alloc rises by at
 *                least the bytes of objects kept alive
 *   by_size      sizes strictly ascending from 8 to 32768; 1000 objects of 100 B
 *                raise the 112-byte class's mallocs by 1000 (+ at most 10), and
 *                once dropped its frees by >= 990; every class has frees <= mallocs;
 *                100 large objects raise mallocs by exactly 100 more than the sum
 *                of by_size[].mallocs
 *   counters     each gc_collect adds exactly 1 to num_gc and num_forced_gc; the
 *                latest pause_ns (at (num_gc + 255) % 256) is > 0 and its pause_end
 *                and last_gc lie within the call (wall clock), over 300
 *                collections, past the ring's wrap; pause_total_ns grows by at
 *                least each pause
 *   invariants   alloc == heap_alloc; heap_inuse + heap_idle == heap_sys;
 *                heap_released <= heap_idle; heap_alloc <= heap_inuse; sys covers
 *                heap_sys + the metadata *_sys; *_inuse <= *_sys; total_alloc
 *                never decreases and grows by the bytes allocated;
 *                0 <= gc_cpu_fraction <= 1; enable_gc == 1
 *   threads      100000 objects allocated by 4 threads that then exit are counted
 *                (heap_objects, by_size) and, dropped, are counted as freed
 *   free_os      after dropping 128 MiB, gc_free_os_memory raises heap_released by
 *                at least 64 MiB
 *   metrics      gc_read_metrics (no stop): heap_live >= the 64 MiB kept and <= heap_alloc,
 *                then < 8 MiB once dropped; num_gc, num_forced_gc and the pause ring equal
 *                gc_read_memstats'; mallocs lag the exact count by at most 4096;
 *                0 < gc_cpu_ns <= cpu_ns; uptime grows; scavenged_bytes grows by >= 64 MiB
 *                over gc_free_os_memory; gogc as GOGC says; ncpu the CPUs online;
 *                reserved zero
 *   metrics_concurrent  gc_read_metrics and gc_read_memstats in loops on two threads beside
 *                collections for 2 s: both make progress (neither's stop of the world
 *                leaves the other waiting for a lock a stopped thread holds)
 */
#include "common.h"

#include <stdatomic.h>

static gc_memstats ms, ms2;

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void check_exact(const char *when)
{
    gc_collect();
    gc_read_memstats(&ms);
    TC_CHECK(ms.mallocs - ms.frees == ms.heap_objects, "%s: mallocs %llu - frees %llu = %llu, heap_objects %llu", when,
             (unsigned long long)ms.mallocs, (unsigned long long)ms.frees,
             (unsigned long long)(ms.mallocs - ms.frees), (unsigned long long)ms.heap_objects);
    uint64_t sm = 0, sf = 0;
    for (int i = 0; i < GC_NUM_SIZE_CLASSES; i++) {
        TC_CHECK(ms.by_size[i].frees <= ms.by_size[i].mallocs, "%s: class %u: frees %llu > mallocs %llu", when,
                 ms.by_size[i].size, (unsigned long long)ms.by_size[i].frees,
                 (unsigned long long)ms.by_size[i].mallocs);
        sm += ms.by_size[i].mallocs;
        sf += ms.by_size[i].frees;
    }
    TC_CHECK(sm <= ms.mallocs && sf <= ms.frees, "%s: by_size sums (%llu, %llu) exceed mallocs/frees (%llu, %llu)",
             when, (unsigned long long)sm, (unsigned long long)sf, (unsigned long long)ms.mallocs,
             (unsigned long long)ms.frees);
}

static void **volatile g_keep;

TC_NOINLINE static void phase_alloc(size_t n, uint64_t seed)
{
    g_keep = gc_alloc(n * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        size_t len = 1 + tc_rand(&seed) % 5000;
        if (i % 97 == 0)
            len = 40000 + tc_rand(&seed) % 100000;
        g_keep[i] = (i & 1) ? gc_alloc(len) : gc_alloc_noscan(len);
    }
}

static void test_exact(void)
{
    check_exact("start");
    gc_read_memstats(&ms2);
    phase_alloc(20000, 1);
    check_exact("20000 live objects");
    TC_CHECK(ms.heap_objects >= ms2.heap_objects + 20000, "heap_objects %llu -> %llu with 20001 new live objects",
             (unsigned long long)ms2.heap_objects, (unsigned long long)ms.heap_objects);
    uint64_t bytes = 0;
    for (size_t i = 0; i < 20000; i++)
        bytes += gc_size(g_keep[i]);
    TC_CHECK(ms.heap_alloc >= ms2.heap_alloc + bytes, "heap_alloc rose by %llu with %llu bytes of new live objects",
             (unsigned long long)(ms.heap_alloc - ms2.heap_alloc), (unsigned long long)bytes);
    for (size_t i = 0; i < 20000; i += 3)
        g_keep[i] = NULL;
    check_exact("a third dropped");
    for (size_t i = 1; i < 20000; i += 3) {
        gc_free(g_keep[i]);
        g_keep[i] = NULL;
    }
    check_exact("a third gc_free'd");
    phase_alloc(5000, 2);
    check_exact("all replaced");
    g_keep = NULL;
    check_exact("all dropped");
}

/* ------------------------------------------------------------------------ */

TC_NOINLINE static void alloc_n(size_t n, size_t size)
{
    g_keep = gc_alloc(n * sizeof(void *));
    for (size_t i = 0; i < n; i++)
        g_keep[i] = gc_alloc(size);
}

static void test_by_size(void)
{
    gc_read_memstats(&ms);
    TC_CHECK(ms.by_size[0].size == 8, "by_size[0].size = %u", ms.by_size[0].size);
    TC_CHECK(ms.by_size[GC_NUM_SIZE_CLASSES - 1].size == 32768, "last by_size size %u",
             ms.by_size[GC_NUM_SIZE_CLASSES - 1].size);
    for (int i = 1; i < GC_NUM_SIZE_CLASSES; i++)
        TC_CHECK(ms.by_size[i].size > ms.by_size[i - 1].size, "by_size[%d].size %u after %u", i, ms.by_size[i].size,
                 ms.by_size[i - 1].size);
    int c112 = tc_class_index(&ms, 100);
    TC_CHECK(c112 >= 0 && ms.by_size[c112].size == 112, "100 bytes go to the %u-byte class, want 112",
             c112 >= 0 ? ms.by_size[c112].size : 0);

    tc_collect_clean();
    gc_read_memstats(&ms);
    alloc_n(1000, 100);
    gc_read_memstats(&ms2);
    uint64_t dm = ms2.by_size[c112].mallocs - ms.by_size[c112].mallocs;
    TC_CHECK(dm >= 1000 && dm <= 1010, "1000 objects of 100 bytes: the 112-byte class's mallocs rose by %llu",
             (unsigned long long)dm);
    TC_CHECK(ms2.mallocs - ms.mallocs >= 1001, "1001 allocations: mallocs rose by %llu",
             (unsigned long long)(ms2.mallocs - ms.mallocs));
    g_keep = NULL;
    tc_collect_clean();
    gc_read_memstats(&ms);
    uint64_t df = ms.by_size[c112].frees - ms2.by_size[c112].frees;
    TC_CHECK(df >= 990, "1000 dropped 100-byte objects: the 112-byte class's frees rose by %llu",
             (unsigned long long)df);
    check_exact("by_size");

    /* large objects are counted in mallocs but in no class */
    gc_read_memstats(&ms);
    uint64_t s0 = 0, s1 = 0;
    for (int i = 0; i < GC_NUM_SIZE_CLASSES; i++)
        s0 += ms.by_size[i].mallocs;
    alloc_n(100, 50000);
    gc_read_memstats(&ms2);
    for (int i = 0; i < GC_NUM_SIZE_CLASSES; i++)
        s1 += ms2.by_size[i].mallocs;
    TC_CHECK((ms2.mallocs - ms.mallocs) - (s1 - s0) == 100,
             "100 large objects (+ a small array): mallocs +%llu, by_size mallocs +%llu",
             (unsigned long long)(ms2.mallocs - ms.mallocs), (unsigned long long)(s1 - s0));
    g_keep = NULL;
}

/* ------------------------------------------------------------------------ */

static void test_counters(void)
{
    gc_collect();
    for (int k = 0; k < 300; k++) {
        gc_read_memstats(&ms);
        uint64_t t0 = wall_ns();
        gc_collect();
        uint64_t t1 = wall_ns();
        gc_read_memstats(&ms2);
        TC_CHECK(ms2.num_gc == ms.num_gc + 1, "gc_collect moved num_gc from %u to %u", ms.num_gc, ms2.num_gc);
        TC_CHECK(ms2.num_forced_gc == ms.num_forced_gc + 1, "gc_collect moved num_forced_gc from %u to %u",
                 ms.num_forced_gc, ms2.num_forced_gc);
        unsigned at = (ms2.num_gc + 255) % 256;
        uint64_t pause = ms2.pause_ns[at];
        TC_CHECK(pause > 0, "pause_ns[%u] (the latest, num_gc %u) is 0", at, ms2.num_gc);
        TC_CHECK(pause <= t1 - t0, "pause_ns[%u] = %llu ns, but gc_collect took %llu ns", at,
                 (unsigned long long)pause, (unsigned long long)(t1 - t0));
        TC_CHECK(ms2.pause_end[at] >= t0 && ms2.pause_end[at] <= t1,
                 "pause_end[%u] = %llu is not within the gc_collect call [%llu, %llu]", at,
                 (unsigned long long)ms2.pause_end[at], (unsigned long long)t0, (unsigned long long)t1);
        TC_CHECK(ms2.last_gc >= t0 && ms2.last_gc <= t1, "last_gc %llu is not within the gc_collect call [%llu, %llu]",
                 (unsigned long long)ms2.last_gc, (unsigned long long)t0, (unsigned long long)t1);
        TC_CHECK(ms2.pause_total_ns >= ms.pause_total_ns + pause, "pause_total_ns %llu -> %llu, the pause was %llu",
                 (unsigned long long)ms.pause_total_ns, (unsigned long long)ms2.pause_total_ns,
                 (unsigned long long)pause);
        if (k % 16 == 0)
            tc_churn(64, 1000);
    }
}

/* ------------------------------------------------------------------------ */

static void invariants(const char *when)
{
    gc_read_memstats(&ms);
    TC_CHECK(ms.alloc == ms.heap_alloc, "%s: alloc %llu != heap_alloc %llu", when, (unsigned long long)ms.alloc,
             (unsigned long long)ms.heap_alloc);
    TC_CHECK(ms.heap_inuse + ms.heap_idle == ms.heap_sys, "%s: heap_inuse %llu + heap_idle %llu != heap_sys %llu",
             when, (unsigned long long)ms.heap_inuse, (unsigned long long)ms.heap_idle,
             (unsigned long long)ms.heap_sys);
    TC_CHECK(ms.heap_released <= ms.heap_idle, "%s: heap_released %llu > heap_idle %llu", when,
             (unsigned long long)ms.heap_released, (unsigned long long)ms.heap_idle);
    TC_CHECK(ms.heap_alloc <= ms.heap_inuse, "%s: heap_alloc %llu > heap_inuse %llu", when,
             (unsigned long long)ms.heap_alloc, (unsigned long long)ms.heap_inuse);
    uint64_t parts = ms.heap_sys + ms.mspan_sys + ms.mcache_sys + ms.gc_sys + ms.other_sys;
    TC_CHECK(ms.sys >= parts, "%s: sys %llu < heap_sys + mspan_sys + mcache_sys + gc_sys + other_sys = %llu", when,
             (unsigned long long)ms.sys, (unsigned long long)parts);
    TC_CHECK(ms.mspan_inuse <= ms.mspan_sys && ms.mcache_inuse <= ms.mcache_sys,
             "%s: mspan %llu/%llu, mcache %llu/%llu (inuse/sys)", when, (unsigned long long)ms.mspan_inuse,
             (unsigned long long)ms.mspan_sys, (unsigned long long)ms.mcache_inuse, (unsigned long long)ms.mcache_sys);
    TC_CHECK(ms.heap_objects == 0 || (ms.mspan_inuse > 0 && ms.gc_sys > 0),
             "%s: mspan_inuse %llu, gc_sys %llu with %llu objects in the heap", when,
             (unsigned long long)ms.mspan_inuse, (unsigned long long)ms.gc_sys, (unsigned long long)ms.heap_objects);
    TC_CHECK(ms.gc_cpu_fraction >= 0 && ms.gc_cpu_fraction <= 1, "%s: gc_cpu_fraction %g", when, ms.gc_cpu_fraction);
    TC_CHECK(ms.enable_gc == 1, "%s: enable_gc %d", when, ms.enable_gc);
    TC_CHECK(ms.total_alloc >= ms.heap_alloc, "%s: total_alloc %llu < heap_alloc %llu", when,
             (unsigned long long)ms.total_alloc, (unsigned long long)ms.heap_alloc);
}

static void test_invariants(void)
{
    tc_sink = gc_alloc(1);
    invariants("start");
    uint64_t ta0 = ms.total_alloc;
    alloc_n(1000, 100);
    invariants("1000 objects");
    TC_CHECK(ms.total_alloc >= ta0 + 1000 * 112, "total_alloc rose by %llu for 1000 112-byte objects",
             (unsigned long long)(ms.total_alloc - ta0));
    uint64_t ta1 = ms.total_alloc;
    g_keep = NULL;
    tc_collect_clean();
    invariants("after a collection");
    TC_CHECK(ms.total_alloc >= ta1, "total_alloc decreased across a collection: %llu -> %llu",
             (unsigned long long)ta1, (unsigned long long)ms.total_alloc);
    phase_alloc(20000, 3);
    invariants("20000 mixed objects");
    tc_churn(3000, 20000);
    invariants("after garbage");
    g_keep = NULL;
    tc_collect_clean();
    invariants("after dropping everything");
}

/* ------------------------------------------------------------------------ */

#define NTHR 4
#define PER 25000
static void *volatile *g_thr_keep[NTHR];

static void *thr_alloc(void *arg)
{
    int t = (int)(intptr_t)arg;
    void *volatile *a = gc_alloc(PER * sizeof(void *));
    for (int i = 0; i < PER; i++)
        a[i] = gc_alloc(48);
    g_thr_keep[t] = a;
    return NULL;
}

static void test_threads(void)
{
    tc_collect_clean();
    gc_read_memstats(&ms);
    int c48 = tc_class_index(&ms, 48);
    uint64_t obj0 = ms.heap_objects, m48 = ms.by_size[c48].mallocs, f48 = ms.by_size[c48].frees;
    pthread_t t[NTHR];
    for (int i = 0; i < NTHR; i++)
        t[i] = tc_thread(thr_alloc, (void *)(intptr_t)i);
    for (int i = 0; i < NTHR; i++)
        tc_join(t[i]);
    check_exact("threads exited");
    TC_CHECK(ms.heap_objects + 2 >= obj0 + NTHR * (PER + 1) && ms.heap_objects <= obj0 + NTHR * (PER + 1) + 10,
             "%d objects kept by exited threads: heap_objects %llu -> %llu", NTHR * (PER + 1),
             (unsigned long long)obj0, (unsigned long long)ms.heap_objects);
    TC_CHECK(ms.by_size[c48].mallocs - m48 >= NTHR * PER, "48-byte class mallocs rose by %llu, want %d",
             (unsigned long long)(ms.by_size[c48].mallocs - m48), NTHR * PER);
    memset((void *)g_thr_keep, 0, sizeof g_thr_keep);
    tc_collect_clean();
    check_exact("threads' objects dropped");
    TC_CHECK(ms.by_size[c48].frees - f48 >= NTHR * PER * 99 / 100, "48-byte class frees rose by %llu, want ~%d",
             (unsigned long long)(ms.by_size[c48].frees - f48), NTHR * PER);
    TC_CHECK(ms.heap_objects <= obj0 + NTHR * PER / 100, "heap_objects %llu after dropping, was %llu",
             (unsigned long long)ms.heap_objects, (unsigned long long)obj0);
}

/* ------------------------------------------------------------------------ */

static void test_free_os(void)
{
    alloc_n(128, TC_MiB);
    tc_collect_clean();
    gc_read_memstats(&ms);
    g_keep = NULL;
    tc_clear_stack();
    gc_free_os_memory();
    gc_read_memstats(&ms2);
    printf("     free_os: heap_released %.1f -> %.1f MiB, heap_idle %.1f MiB\n", ms.heap_released / 1048576.0,
           ms2.heap_released / 1048576.0, ms2.heap_idle / 1048576.0);
    TC_CHECK(ms2.heap_released >= ms.heap_released + 64 * TC_MiB,
             "gc_free_os_memory after dropping 128 MiB: heap_released %.1f -> %.1f MiB", ms.heap_released / 1048576.0,
             ms2.heap_released / 1048576.0);
    TC_CHECK(ms2.num_gc == ms.num_gc + 1, "gc_free_os_memory did not collect (num_gc %u -> %u)", ms.num_gc,
             ms2.num_gc);
    invariants("after gc_free_os_memory");
}

static void test_metrics(void)
{
    static gc_metrics mt, mt2;
    alloc_n(64, TC_MiB);
    gc_collect();
    gc_read_metrics(&mt);
    gc_read_memstats(&ms);
    printf("     metrics: heap_live %.1f MiB, heap_alloc %.1f MiB, gc_cpu %.3f ms of %.3f ms cpu\n",
           mt.heap_live / 1048576.0, mt.memstats.heap_alloc / 1048576.0, mt.gc_cpu_ns / 1e6, mt.cpu_ns / 1e6);
    TC_CHECK(mt.heap_live >= 64 * TC_MiB && mt.heap_live <= ms.heap_alloc,
             "heap_live %llu with 64 MiB kept, heap_alloc %llu", (unsigned long long)mt.heap_live,
             (unsigned long long)ms.heap_alloc);
    TC_CHECK(mt.memstats.num_gc == ms.num_gc && mt.memstats.num_forced_gc == ms.num_forced_gc,
             "num_gc %u/%u, gc_read_memstats %u/%u", mt.memstats.num_gc, mt.memstats.num_forced_gc, ms.num_gc,
             ms.num_forced_gc);
    TC_CHECK(!memcmp(mt.memstats.pause_ns, ms.pause_ns, sizeof ms.pause_ns) &&
                 !memcmp(mt.memstats.pause_end, ms.pause_end, sizeof ms.pause_end) &&
                 mt.memstats.pause_total_ns == ms.pause_total_ns,
             "the pause ring differs from gc_read_memstats'");
    TC_CHECK(mt.memstats.mallocs <= ms.mallocs && mt.memstats.mallocs + 4096 >= ms.mallocs,
             "mallocs %llu, exact %llu", (unsigned long long)mt.memstats.mallocs, (unsigned long long)ms.mallocs);
    TC_CHECK(mt.memstats.frees <= mt.memstats.mallocs, "frees %llu > mallocs %llu",
             (unsigned long long)mt.memstats.frees, (unsigned long long)mt.memstats.mallocs);
    for (int i = 0; i < GC_NUM_SIZE_CLASSES; i++)
        TC_CHECK(mt.memstats.by_size[i].size == ms.by_size[i].size &&
                     mt.memstats.by_size[i].frees <= mt.memstats.by_size[i].mallocs,
                 "by_size[%d]: size %u (memstats %u), frees %llu, mallocs %llu", i, mt.memstats.by_size[i].size,
                 ms.by_size[i].size, (unsigned long long)mt.memstats.by_size[i].frees,
                 (unsigned long long)mt.memstats.by_size[i].mallocs);
    TC_CHECK(mt.gc_cpu_ns > 0 && mt.gc_cpu_ns <= mt.cpu_ns, "gc_cpu_ns %llu, cpu_ns %llu",
             (unsigned long long)mt.gc_cpu_ns, (unsigned long long)mt.cpu_ns);
    TC_CHECK(mt.memstats.next_gc == ms.next_gc && mt.memstats.memory_limit == ms.memory_limit,
             "next_gc %llu / %llu, memory_limit %lld / %lld", (unsigned long long)mt.memstats.next_gc,
             (unsigned long long)ms.next_gc, (long long)mt.memstats.memory_limit, (long long)ms.memory_limit);
    const char *gogc = getenv("GOGC");
    int want = !gogc || !*gogc ? 100 : !strcmp(gogc, "off") ? -1 : atoi(gogc);
    TC_CHECK(mt.gogc == want, "gogc %d, GOGC=%s", mt.gogc, gogc ? gogc : "(unset)");
    TC_CHECK(mt.ncpu == (uint32_t)sysconf(_SC_NPROCESSORS_ONLN), "ncpu %u", mt.ncpu);
    for (int i = 0; i < 8; i++)
        TC_CHECK(mt.reserved[i] == 0, "reserved[%d] = %llu", i, (unsigned long long)mt.reserved[i]);

    g_keep = NULL;
    tc_clear_stack();
    gc_free_os_memory();
    gc_read_metrics(&mt2);
    printf("     metrics: after the drop heap_live %.1f MiB, scavenged %.1f -> %.1f MiB\n", mt2.heap_live / 1048576.0,
           mt.scavenged_bytes / 1048576.0, mt2.scavenged_bytes / 1048576.0);
    TC_CHECK(mt2.heap_live < 8 * TC_MiB, "heap_live %.1f MiB after dropping everything", mt2.heap_live / 1048576.0);
    TC_CHECK(mt2.scavenged_bytes >= mt.scavenged_bytes + 64 * TC_MiB, "scavenged_bytes %llu -> %llu",
             (unsigned long long)mt.scavenged_bytes, (unsigned long long)mt2.scavenged_bytes);
    TC_CHECK(mt2.uptime_ns > mt.uptime_ns && mt2.memstats.num_gc == mt.memstats.num_gc + 1,
             "uptime %llu -> %llu, num_gc %u -> %u", (unsigned long long)mt.uptime_ns,
             (unsigned long long)mt2.uptime_ns, mt.memstats.num_gc, mt2.memstats.num_gc);
}

static atomic_int g_mc_stop;
static atomic_long g_mc_metrics, g_mc_memstats;

/* Reads in a loop: gc_read_metrics if arg is non-NULL, else gc_read_memstats. */
static void *mc_reader(void *arg)
{
    static gc_metrics mt;
    static gc_memstats ms_;
    while (!atomic_load(&g_mc_stop)) {
        if (arg)
            gc_read_metrics(&mt);
        else
            gc_read_memstats(&ms_);
        atomic_fetch_add(arg ? &g_mc_metrics : &g_mc_memstats, 1);
    }
    return NULL;
}

/* gc_read_metrics beside gc_read_memstats and collections: the stop of the one
 * may catch the other inside its read, and neither may wait for the other. */
static void test_metrics_concurrent(void)
{
    pthread_t a = tc_thread(mc_reader, &g_mc_metrics), b = tc_thread(mc_reader, NULL);
    double t0 = tc_now();
    long gcs = 0;
    while (tc_now() - t0 < 2.0) {
        alloc_n(64, 1024);
        g_keep = NULL;
        gc_collect();
        gcs++;
    }
    atomic_store(&g_mc_stop, 1);
    tc_join(a);
    tc_join(b);
    printf("     metrics_concurrent: %ld gc_read_metrics, %ld gc_read_memstats, %ld collections in 2 s\n",
           (long)g_mc_metrics, (long)g_mc_memstats, gcs);
    TC_CHECK(g_mc_metrics > 0 && g_mc_memstats > 0, "the readers did not run");
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"exact", test_exact},   {"by_size", test_by_size}, {"counters", test_counters},
        {"invariants", test_invariants}, {"threads", test_threads}, {"free_os", test_free_os},
        {"metrics", test_metrics},       {"metrics_concurrent", test_metrics_concurrent},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
