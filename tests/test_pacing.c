/*
 * test_pacing.c - GOGC, gc_set_percent, the heap goal, the memory limit.
 *
 *   percent     gc_set_percent returns the previous value: 100 by default, then
 *               what was set, -1 after turning the collector off
 *   off_api     gc_set_percent(-1): num_gc stays put while 300 MiB of garbage is
 *               allocated; gc_collect still collects (num_gc +1, num_forced_gc +1);
 *               gc_set_percent(100) brings automatic collections back
 *   off_env     GOGC=off (child process): gc_set_percent returns -1, enable_gc is
 *               still 1 (Go's EnableGC is always true), num_gc stays put under
 *               allocation, gc_collect collects
 *   gogc_env    GOGC=50 (child process): gc_set_percent returns 50, and the goal
 *               after a collection is 1.5 x the live heap
 *   goal        next_gc >= 4 MiB with an empty heap (and <= 8 MiB); with 40 MiB
 *               live it is live x (1 + GOGC/100) within 10% for GOGC 100, 50, 200
 *   auto        with 32 MiB live and GOGC=100, allocating 320 MiB of garbage
 *               triggers 3..40 collections and heap_alloc never exceeds
 *               2.5 x live + 16 MiB
 *   memlimit    gc_set_memory_limit: INT64_MAX by default, returns the previous
 *               value, -1 only queries; GOMEMLIMIT=512MiB is read at start-up
 *   memlimit_gc GOGC=off GOMEMLIMIT=64MiB (child): enable_gc is 1, and allocating
 *               500 MiB of garbage collects (num_gc advances) and keeps heap_sys
 *               well under the garbage volume
 *   threads     four threads replace small scanned objects at random in rings
 *               of about 6 MiB each (GODEBUG=gctrace=1, child): every automatic
 *               cycle's heap at mark end stays within 1.5x the goal it ran to
 *               (+8 MB for the caches' spans); the program waits past 1.25x,
 *               including while write tracking is being armed, before any
 *               assist can run
 */
#include "common.h"

#include <pthread.h>

static gc_memstats ms;

/* Allocate bytes of garbage in objects of 1..64 KiB. */
TC_NOINLINE static void garbage(size_t bytes)
{
    uint64_t rng = 7;
    for (size_t done = 0; done < bytes;) {
        size_t len = 1024 + tc_rand(&rng) % (64 * 1024);
        char *p = gc_alloc_noscan(len);
        TC_CHECK(p != NULL, "gc_alloc_noscan(%zu)", len);
        p[0] = 1;
        done += len;
    }
}

static void **volatile g_live;

TC_NOINLINE static void make_live(size_t mib)
{
    g_live = gc_alloc(mib * sizeof(void *));
    for (size_t i = 0; i < mib; i++)
        g_live[i] = gc_alloc_noscan(TC_MiB);
}

/* ------------------------------------------------------------------------ */

static void test_percent(void)
{
    int r;
    TC_CHECK((r = gc_set_percent(50)) == 100, "first gc_set_percent returned %d, want the default 100", r);
    TC_CHECK((r = gc_set_percent(200)) == 50, "gc_set_percent returned %d, want 50", r);
    TC_CHECK((r = gc_set_percent(-1)) == 200, "gc_set_percent returned %d, want 200", r);
    TC_CHECK((r = gc_set_percent(0)) == -1, "gc_set_percent after -1 returned %d, want -1", r);
    TC_CHECK((r = gc_set_percent(100)) == 0, "gc_set_percent returned %d, want 0", r);
    TC_CHECK((r = gc_set_percent(100)) == 100, "gc_set_percent returned %d, want 100", r);
}

static void off_checks(const char *how)
{
    gc_collect();
    gc_read_memstats(&ms);
    uint32_t n0 = ms.num_gc, f0 = ms.num_forced_gc;
    garbage(300 * TC_MiB);
    gc_read_memstats(&ms);
    TC_CHECK(ms.num_gc == n0, "%s: num_gc went from %u to %u while allocating 300 MiB with collection off", how, n0,
             ms.num_gc);
    gc_collect();
    gc_read_memstats(&ms);
    TC_CHECK(ms.num_gc == n0 + 1, "%s: gc_collect moved num_gc from %u to %u", how, n0, ms.num_gc);
    TC_CHECK(ms.num_forced_gc == f0 + 1, "%s: gc_collect moved num_forced_gc from %u to %u", how, f0,
             ms.num_forced_gc);
    TC_CHECK(ms.heap_alloc < 32 * TC_MiB, "%s: heap_alloc %.1f MiB after gc_collect: the garbage was not freed", how,
             ms.heap_alloc / 1048576.0);
}

static void test_off_api(void)
{
    gc_set_percent(-1);
    off_checks("gc_set_percent(-1)");
    TC_CHECK(gc_set_percent(100) == -1, "gc_set_percent(100) after -1 did not return -1");
    gc_read_memstats(&ms);
    uint32_t n0 = ms.num_gc;
    garbage(100 * TC_MiB);
    gc_read_memstats(&ms);
    TC_CHECK(ms.num_gc >= n0 + 2, "after gc_set_percent(100) 100 MiB of garbage ran only %u collections",
             ms.num_gc - n0);
}

/* ------------------------------------------------------------------------ */

static void goal_check(int percent, const char *how)
{
    tc_collect_clean();
    gc_read_memstats(&ms);
    double want = (double)ms.heap_alloc * (1.0 + percent / 100.0);
    if (want < 4.0 * TC_MiB)
        want = 4.0 * TC_MiB;
    TC_CHECK(ms.next_gc >= 0.9 * want && ms.next_gc <= 1.1 * want,
             "%s: next_gc %.2f MiB with heap_alloc %.2f MiB after gc_collect, want %.2f MiB (GOGC=%d)", how,
             ms.next_gc / 1048576.0, ms.heap_alloc / 1048576.0, want / 1048576.0, percent);
}

static void test_goal(void)
{
    tc_collect_clean();
    gc_read_memstats(&ms);
    TC_CHECK(ms.next_gc >= 4 * TC_MiB && ms.next_gc <= 8 * TC_MiB,
             "next_gc %llu with an empty heap, want 4 MiB (the minimum) .. 8 MiB", (unsigned long long)ms.next_gc);
    make_live(40);
    goal_check(100, "default");
    gc_set_percent(50);
    goal_check(50, "gc_set_percent(50)");
    gc_set_percent(200);
    goal_check(200, "gc_set_percent(200)");
    gc_set_percent(100);
    goal_check(100, "gc_set_percent(100)");
    g_live = NULL;
}

static void test_auto(void)
{
    make_live(32);
    tc_collect_clean();
    gc_read_memstats(&ms);
    uint64_t live = ms.heap_alloc;
    uint32_t n0 = ms.num_gc;
    uint64_t peak = 0;
    for (int i = 0; i < 80; i++) {
        garbage(4 * TC_MiB);
        gc_read_memstats(&ms);
        if (ms.heap_alloc > peak)
            peak = ms.heap_alloc;
    }
    uint32_t n = ms.num_gc - n0;
    printf("     auto: live %.1f MiB, 320 MiB of garbage: %u collections, peak heap_alloc %.1f MiB\n",
           live / 1048576.0, n, peak / 1048576.0);
    TC_CHECK(n >= 3 && n <= 40, "%u automatic collections for 320 MiB of garbage over %.1f MiB live (GOGC=100)", n,
             live / 1048576.0);
    /* Goal 2x live; marking beside the program lets the heap pass it while
     * the cycle runs (Go's hard goal is 1.1x the goal; here allocating
     * threads are held back from 1.1x and stopped at 1.25x), and heap_alloc
     * counts dead objects until they are swept. */
    TC_CHECK(peak <= 3 * live + 16 * TC_MiB, "heap_alloc peaked at %.1f MiB with %.1f MiB live (GOGC=100)",
             peak / 1048576.0, live / 1048576.0);
    g_live = NULL;
}

static void test_memlimit(void)
{
    int64_t r;
    TC_CHECK((r = gc_set_memory_limit(-1)) == INT64_MAX, "default memory limit %lld", (long long)r);
    TC_CHECK((r = gc_set_memory_limit(1LL << 30)) == INT64_MAX, "gc_set_memory_limit returned %lld", (long long)r);
    TC_CHECK((r = gc_set_memory_limit(-1)) == 1LL << 30, "the limit is %lld after setting 1 GiB", (long long)r);
    TC_CHECK((r = gc_set_memory_limit(INT64_MAX)) == 1LL << 30, "gc_set_memory_limit returned %lld", (long long)r);
    TC_CHECK((r = gc_set_memory_limit(-1)) == INT64_MAX, "the limit is %lld after removing it", (long long)r);

    tc_child c;
    const char *args[] = {"--child", "memlimit_env", NULL};
    const char *env[] = {"GOMEMLIMIT=512MiB", "GOGC", NULL};
    tc_run_self(&c, args, env, 60);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "child with GOMEMLIMIT=512MiB %s:\n%s",
             tc_status_str(c.status), c.err);
    tc_child_free(&c);
}

/* ------------------------------------------------------------------------ */

enum { RING_SLOTS = 24000, RING_REPLACE = 1500000, RING_THREADS = 4 };

static void *ring_worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 2654435761u + 1;
    void **ring = gc_alloc(RING_SLOTS * sizeof(void *));
    TC_CHECK(ring != NULL, "gc_alloc(ring)");
    for (long i = 0; i < RING_REPLACE; i++) {
        uint64_t r = tc_rand(&rng);
        size_t len = 16 + (size_t)(r >> 40) % 63 * 8;
        uint64_t *p = gc_alloc(len);
        TC_CHECK(p != NULL, "gc_alloc(%zu)", len);
        p[0] = len;
        ring[r % RING_SLOTS] = p;
    }
    for (long i = 0; i < RING_SLOTS; i++)
        TC_CHECK(!ring[i] || ((uint64_t *)ring[i])[0] >= 16, "ring slot %ld damaged", i);
    return NULL;
}

static void ring_threads(void)
{
    pthread_t t[RING_THREADS];
    for (int i = 0; i < RING_THREADS; i++)
        TC_CHECK(pthread_create(&t[i], NULL, ring_worker, (void *)(uintptr_t)(i + 1)) == 0, "pthread_create");
    for (int i = 0; i < RING_THREADS; i++)
        pthread_join(t[i], NULL);
}

static void test_threads(void)
{
    tc_child c;
    const char *args[] = {"--child", "threads", NULL};
    const char *env[] = {"GODEBUG=gctrace=1", "GOGC", "GOMEMLIMIT", NULL};
    tc_run_self(&c, args, env, 120);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "child threads %s:\n%s", tc_status_str(c.status),
             c.err);
    long prev_goal = -1, worst_end = 0, worst_goal = 1;
    unsigned cycles = 0;
    char *save = NULL;
    for (char *line = strtok_r(c.err, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        long n, start, end, marked, goal;
        const char *mb = strstr(line, " ms cpu, ");
        if (strncmp(line, "gc ", 3) != 0 || !mb || sscanf(line, "gc %ld", &n) != 1 ||
            sscanf(mb, " ms cpu, %ld->%ld->%ld MB, %ld MB goal", &start, &end, &marked, &goal) != 4)
            continue;
        /* The first cycles run to the 4 MB minimum goal, before the live
         * heap is built: their overshoot is the runway's first guess. */
        if (prev_goal >= 16 && !strstr(line, "(forced)")) {
            cycles++;
            if (end * worst_goal > worst_end * prev_goal) {
                worst_end = end;
                worst_goal = prev_goal;
            }
            TC_CHECK(end * 2 <= prev_goal * 3 + 16,
                     "gc %ld: the heap reached %ld MB by mark end, its goal was %ld MB:\n  %s", n, end, prev_goal, line);
        }
        prev_goal = goal;
    }
    printf("     threads: %u automatic cycles checked, the worst ended at %ld MB for a %ld MB goal\n", cycles, worst_end,
           worst_goal);
    TC_CHECK(cycles >= 5, "only %u automatic cycles past the first goals:\n%s", cycles, c.err);
    tc_child_free(&c);
}

static void run_child(const char *name, const char *const *env)
{
    tc_child c;
    const char *args[] = {"--child", name, NULL};
    tc_run_self(&c, args, env, 120);
    if (c.out[0])
        printf("%s", c.out);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "child %s %s:\n%s", name, tc_status_str(c.status),
             c.err);
    tc_child_free(&c);
}

static void test_off_env(void)
{
    const char *env[] = {"GOGC=off", "GOMEMLIMIT", "GODEBUG", NULL};
    run_child("off_env", env);
}

static void test_gogc_env(void)
{
    const char *env[] = {"GOGC=50", "GOMEMLIMIT", "GODEBUG", NULL};
    run_child("gogc_env", env);
}

static void test_memlimit_gc(void)
{
    const char *env[] = {"GOGC=off", "GOMEMLIMIT=64MiB", "GODEBUG", NULL};
    run_child("memlimit_gc", env);
}

static int child_main(const char *name)
{
    tc_current = name;
    int r;
    if (strcmp(name, "off_env") == 0) {
        gc_read_memstats(&ms);
        TC_CHECK(ms.enable_gc == 1, "enable_gc is %d with GOGC=off (Go's EnableGC is always true)", ms.enable_gc);
        off_checks("GOGC=off");
        TC_CHECK((r = gc_set_percent(100)) == -1, "gc_set_percent returned %d with GOGC=off, want -1", r);
    } else if (strcmp(name, "gogc_env") == 0) {
        make_live(40);
        goal_check(50, "GOGC=50");
        TC_CHECK((r = gc_set_percent(100)) == 50, "gc_set_percent returned %d with GOGC=50, want 50", r);
    } else if (strcmp(name, "memlimit_env") == 0) {
        int64_t l = gc_set_memory_limit(-1);
        TC_CHECK(l == 512LL << 20, "gc_set_memory_limit(-1) = %lld with GOMEMLIMIT=512MiB", (long long)l);
    } else if (strcmp(name, "memlimit_gc") == 0) {
        gc_read_memstats(&ms);
        TC_CHECK(ms.enable_gc == 1, "enable_gc is %d with GOGC=off and GOMEMLIMIT=64MiB", ms.enable_gc);
        uint32_t n0 = ms.num_gc;
        garbage(500 * TC_MiB);
        gc_read_memstats(&ms);
        printf("     memlimit_gc: %u collections, heap_sys %.1f MiB\n", ms.num_gc - n0, ms.heap_sys / 1048576.0);
        TC_CHECK(ms.num_gc >= n0 + 3, "GOGC=off GOMEMLIMIT=64MiB: only %u collections while allocating 500 MiB",
                 ms.num_gc - n0);
        TC_CHECK(ms.heap_sys <= 160 * TC_MiB, "GOGC=off GOMEMLIMIT=64MiB: heap_sys %.1f MiB after 500 MiB of garbage",
                 ms.heap_sys / 1048576.0);
    } else if (strcmp(name, "threads") == 0) {
        ring_threads();
    } else {
        TC_FAIL("unknown child %s", name);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    static const tc_subtest tests[] = {
        {"percent", test_percent},   {"off_api", test_off_api},   {"off_env", test_off_env},
        {"gogc_env", test_gogc_env}, {"goal", test_goal},         {"auto", test_auto},
        {"memlimit", test_memlimit}, {"memlimit_gc", test_memlimit_gc}, {"threads", test_threads},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
