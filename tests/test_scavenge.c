/*
 * test_scavenge.c - pages released while marking runs stay write-tracked.
 *
 * Under the uffd backend, MADV_DONTNEED drops a page's write protection along
 * with the page (kernel.md; on transparent huge pages, kernels have
 * misreported such pages to PAGEMAP_SCAN).  A page released while marking
 * runs and then reused for a new span would take the program's stores
 * unseen: an object allocated black there, given the only pointer to an
 * object not yet marked, would hide that object from the collector.
 * scavenge.c re-protects the armed pages it releases (gc_rearm_released).
 *
 *   mark_release      while concurrent collections run back to back on one
 *                     thread and another returns every free page to the OS
 *                     whenever marking runs (the library's scavenge_all, a
 *                     hidden function), the main thread moves pointers out
 *                     of an old table into holders allocated while marking
 *                     runs (black, on pages just released and reused) and
 *                     clears the table slot: every moved object must survive
 *                     with its bytes, over several seconds of this
 *   mark_release_thp  the same with GODEBUG=gcthp=1 (MADV_HUGEPAGE on the
 *                     heap, checked in /proc/self/smaps' VmFlags; with the
 *                     machine's THP mode "madvise" the kernel then backs the
 *                     heap with huge pages where it has them: AnonHugePages
 *                     is printed, not required)
 *   mark_release_nothp  the same with GODEBUG=gcthp=0 (MADV_NOHUGEPAGE, checked
 *                     the same way)
 *
 * The test links the static library: gc_phase and scavenge_all are hidden
 * symbols, visible only within one link.
 */
#include "common.h"

#include <stdatomic.h>
#include <stdbool.h>

extern _Atomic int gc_phase; /* 0: off, 1: marking */
extern __thread void *tls_thread __attribute__((tls_model("initial-exec")));
uint64_t scavenge_all(void *t);

#define NOBJ 200000
#define OBJ 48

static void **volatile g_table; /* the old objects, each filled with tc_fill(i) */
static void **volatile g_chain; /* holders: [0] moved object, [1] its index, [2] next holder */
static _Atomic bool g_stop;
static _Atomic uint64_t g_released, g_releases;

static inline bool marking(void) { return atomic_load_explicit(&gc_phase, memory_order_acquire) == 1; }

static void *collector(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_stop)) {
        gc_collect();
        tc_sleep_ms(2);
    }
    return NULL;
}

static void *releaser(void *arg)
{
    (void)arg;
    TC_CHECK(gc_register_thread() == 0, "gc_register_thread failed");
    while (!atomic_load(&g_stop)) {
        if (marking()) {
            uint64_t got = scavenge_all(tls_thread);
            atomic_fetch_add(&g_released, got);
            atomic_fetch_add(&g_releases, got != 0);
        }
        sched_yield();
    }
    gc_unregister_thread();
    return NULL;
}

TC_NOINLINE static void build(void)
{
    g_table = gc_alloc(NOBJ * sizeof(void *));
    TC_CHECK(g_table != NULL, "table");
    for (size_t i = 0; i < NOBJ; i++) {
        void *o = gc_alloc(OBJ);
        TC_CHECK(o != NULL, "object");
        tc_fill(o, OBJ, (uint32_t)i);
        g_table[i] = o;
    }
}

/* Move up to n pointers from the table into new holders while marking runs. */
TC_NOINLINE static size_t move_some(uint64_t *rng, size_t n)
{
    size_t moved = 0;
    for (size_t k = 0; k < n && marking(); k++) {
        size_t i = tc_rand(rng) % NOBJ;
        void *o = g_table[i];
        if (!o)
            continue;
        void **h = gc_alloc(3 * sizeof(void *));
        TC_CHECK(h != NULL, "holder");
        h[0] = o;
        h[1] = (void *)(uintptr_t)i;
        h[2] = g_chain;
        g_chain = h;
        g_table[i] = NULL; /* the holder holds the only pointer now */
        moved++;
    }
    return moved;
}

/* Garbage of assorted sizes: free pages for the releaser, reused next cycle. */
TC_NOINLINE static void garbage(uint64_t *rng, size_t bytes)
{
    for (size_t done = 0; done < bytes;) {
        size_t len = 64 + tc_rand(rng) % 4096;
        char *p = gc_alloc(len);
        TC_CHECK(p != NULL, "garbage");
        p[0] = 1;
        done += len;
    }
}

TC_NOINLINE static void check(size_t *held_out)
{
    size_t held = 0;
    for (void **h = g_chain; h; h = h[2]) {
        void *o = h[0];
        size_t i = (size_t)(uintptr_t)h[1];
        TC_CHECK(gc_base(o) == o, "object %zu (moved into a holder allocated while marking) was freed", i);
        long d = tc_pattern_diff(o, OBJ, (uint32_t)i);
        TC_CHECK(d < 0, "object %zu (moved while marking) lost its bytes at offset %ld", i, d);
        held++;
    }
    for (size_t i = 0; i < NOBJ; i++) {
        void *o = g_table[i];
        if (o)
            TC_CHECK(tc_pattern_diff(o, OBJ, (uint32_t)i) < 0, "object %zu in the table lost its bytes", i);
    }
    *held_out = held;
}

static long anon_huge_kb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Whether a mapping of at least 64 MiB (a heap arena) carries the VmFlags
 * flag (" hg": MADV_HUGEPAGE, " nh": MADV_NOHUGEPAGE) in /proc/self/smaps. */
static bool arena_has_flag(const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return false;
    char line[512];
    unsigned long lo = 0, hi = 0;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
            lo = a;
            hi = b;
        } else if (strncmp(line, "VmFlags:", 8) == 0 && hi - lo >= (64ul << 20) && strstr(line, flag)) {
            found = true;
        }
    }
    fclose(f);
    return found;
}

static bool thp_possible(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return false;
    char buf[128] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return !strstr(buf, "[never]");
}

static void run(const char *godebug_extra, int thp)
{
    const char *dbg = getenv("GODEBUG");
    if (dbg && strstr(dbg, "gcstoptheworld=1")) {
        printf("     skipped: marking stops the world, so nothing is released while it runs\n");
        exit(77);
    }
    if (godebug_extra) {
        const char *old = getenv("GODEBUG");
        char buf[256];
        snprintf(buf, sizeof buf, "%s%s%s", old && *old ? old : "", old && *old ? "," : "", godebug_extra);
        setenv("GODEBUG", buf, 1); /* before the library's first call */
    }
    double seconds = 4;
    const char *s = getenv("TRICOLOR_SCAVENGE_SECONDS");
    if (s)
        seconds = atof(s);
    uint64_t rng = 42;
    build();
    garbage(&rng, 64 * TC_MiB);
    pthread_t c = tc_thread(collector, NULL);
    pthread_t r = tc_thread(releaser, NULL);
    size_t moved = 0;
    long huge = -1;
    double t0 = tc_now();
    while (tc_now() - t0 < seconds) {
        moved += move_some(&rng, 2000);
        garbage(&rng, 2 * TC_MiB);
        long h = anon_huge_kb();
        if (h > huge)
            huge = h;
    }
    atomic_store(&g_stop, true);
    tc_join(c);
    tc_join(r);
    tc_clear_stack();
    gc_collect();
    tc_churn(OBJ, 400000);
    gc_collect();
    size_t held;
    check(&held);
    printf("     %s: moved %zu objects while marking (%zu still held), %llu releases while marking, %.1f MiB "
           "released; AnonHugePages peak %ld kB\n",
           godebug_extra ? godebug_extra : "default", moved, held, (unsigned long long)atomic_load(&g_releases),
           (double)atomic_load(&g_released) / (double)TC_MiB, huge);
    TC_CHECK(held == moved, "%zu objects moved, %zu found in the holders", moved, held);
    TC_CHECK(moved > 1000, "only %zu objects moved while marking ran: the test did not exercise anything", moved);
    TC_CHECK(atomic_load(&g_releases) > 0, "no memory was released while marking ran");
    /* The advice is what tricolor controls; whether the kernel then finds
     * huge pages to give (AnonHugePages) depends on the machine's memory. */
    if (thp == 1)
        TC_CHECK(arena_has_flag(" hg"), "GODEBUG=gcthp=1 but no heap arena has MADV_HUGEPAGE (VmFlags hg)");
    if (thp == 0)
        TC_CHECK(arena_has_flag(" nh"), "GODEBUG=gcthp=0 but no heap arena has MADV_NOHUGEPAGE (VmFlags nh)");
    (void)thp_possible;
}

static void test_mark_release(void) { run(NULL, -1); }
static void test_mark_release_thp(void) { run("gcthp=1", 1); }
static void test_mark_release_nothp(void) { run("gcthp=0", 0); }

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"mark_release", test_mark_release},
        {"mark_release_thp", test_mark_release_thp},
        {"mark_release_nothp", test_mark_release_nothp},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
