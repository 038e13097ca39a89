/*
 * test_memlimit.c - the memory limit, memory returned to the OS, running out.
 *
 * Sizes are measured where the kernel sees them: VmRSS and VmHWM from
 * /proc/self/status, less the VmRSS the process had when the subtest started
 * (the program, libc, the test's own buffers: "base" below).  The limit covers
 * everything tricolor maps, so what tricolor adds to RSS is held to it.
 *
 *   limit_rss          GOGC off, limit L = 120 MiB, 70 MiB live in small
 *                      pointer-holding records, 1.5 GiB of garbage of mixed
 *                      sizes: VmHWM - base <= 1.10 L (the limit is soft, by
 *                      10%); >= 15 collections (each frees at most ~80 MiB
 *                      here, so fewer means the heap went past the limit);
 *                      every record intact afterwards
 *   limit_goal         GOGC=100, 40 MiB live: setting a 64 MiB limit returns
 *                      the previous one (INT64_MAX), memstats.memory_limit
 *                      shows it and next_gc drops to <= 64 MiB at once (no
 *                      collection in between) and stays above the live heap;
 *                      a negative argument only queries; a 1 GiB limit leaves
 *                      GOGC's goal (2 x live within 10%) in force
 *   limit_change       GOGC off (so that only the limit can collect), no
 *                      limit, 150 MiB live, 130 MiB of it dropped; a limit of
 *                      80 MiB set while garbage is allocated: within 10 s RSS
 *                      - base < 100 MiB (the limit + 25%: slack for the
 *                      soft limit and non-heap memory), then it stays under
 *                      that bound (VmHWM reset through /proc/self/clear_refs)
 *                      over 400 MiB more garbage; raising the limit to
 *                      INT64_MAX returns 80 MiB and lets the heap grow past
 *                      160 MiB with at most 1 collection; survivors intact
 *   release_background GOGC=100, 200 MiB live dropped, gc_collect, then no
 *                      library call: RSS - base < 100 MiB within 10 s
 *                      (polled every 100 ms); heap_released grew >= 64 MiB
 *   free_os_memory     200 MiB live dropped, gc_free_os_memory: at once RSS -
 *                      base < 64 MiB, heap_released == heap_idle exactly,
 *                      heap_released > 150 MiB
 *   released_exact     after gc_free_os_memory, 60 MiB of new objects (written
 *                      through): heap_released <= heap_idle, heap_inuse +
 *                      heap_idle == heap_sys, and what tricolor says it holds
 *                      (sys - heap_released) and what the kernel counts (RSS -
 *                      base) differ by at most 8 MiB one way (RSS above: memory
 *                      tricolor does not count) and 16 MiB the other (counted
 *                      but never touched: metadata mapped but not written);
 *                      twice, the second time after another drop + free
 *   madvfree           child with GODEBUG=madvdontneed=0: after
 *                      gc_free_os_memory of 200 MiB, heap_released > 150 MiB
 *                      and /proc/self/smaps_rollup LazyFree > 100 MiB (the
 *                      pages are still resident: RSS falls only when the
 *                      kernel needs them); 150 MiB allocated afterwards (the
 *                      pages still hold the old pattern) read as zero
 *   scavtrace          child with GODEBUG=scavtrace=1: every stderr line that
 *                      starts with "scav " is "scav N KiB work, N KiB total,
 *                      N% util" with an optional " (forced)"; util <= 100;
 *                      4 gc_collect calls give >= 4 unforced lines (<= num_gc);
 *                      one gc_free_os_memory gives exactly one forced line,
 *                      total >= 64 MiB (100 MiB was dropped), work <= total,
 *                      total within 1 MiB of the heap_released the child reads
 *   enomem             child with RLIMIT_AS = VmSize + 512 MiB: 1 MiB objects
 *                      kept in a chain until gc_alloc returns NULL: after >= 256
 *                      of them (half the headroom) and <= 4096, errno ENOMEM,
 *                      the OOM function called exactly once, with 1 MiB; a
 *                      function returning a static buffer makes gc_alloc (1 MiB
 *                      and 768 MiB) and gc_alloc_noscan return that buffer, with
 *                      the size asked for; gc_set_oom_fn returns the previous
 *                      function; the chain dropped, 256 x 1 MiB allocate again,
 *                      zeroed; the chain was intact at exhaustion and a small
 *                      structure built before it still holds its bytes; the
 *                      child exits 0 (no crash)
 *   limiter            GOGC=100, 64 MiB live, limit 8 MiB (far below the live
 *                      heap), 1 GiB of garbage: finishes within 60 s (SIGALRM
 *                      fails it) and in at most 10 x (+ 3 s) the time the same
 *                      garbage takes without the limit (the collector held
 *                      near half the CPU makes it 2-5 x slower, counting the
 *                      limiter's fill time; the rest is room for a loaded
 *                      machine); gc_limiter_last_enabled in 1..num_gc+1;
 *                      gc_cpu_fraction < 0.8 (over the process's life, fill
 *                      time included; on 2 cores 0.5 is one whole core); live
 *                      data intact
 *   gctrace_env        child with GOMEMLIMIT=64MiB GOGC=off GODEBUG=gctrace=1:
 *                      memory_limit == 64 MiB, gc_set_memory_limit(-1) too,
 *                      next_gc <= 64 MiB; 200 MiB of garbage runs >= 2
 *                      collections (GOGC is off: only the limit triggers them)
 *                      and every gctrace line's goal is <= 64 MB
 *   limiter_trace      child with GOMEMLIMIT=8MiB GODEBUG=gctrace=1, 64 MiB
 *                      live, 512 MiB of garbage: every gc line is in Go's
 *                      format (with " (limited)" allowed at the end) and at
 *                      least one says " (limited)"; the records intact
 *   mark_overflow      the mark queue refused new work buffers (a hidden cap
 *                      standing in for an exhausted OS) while 200000 parents
 *                      each hold a child: the marker overflowed (its heap
 *                      rescans counted > 0), no parent or child was freed or
 *                      lost its bytes, and the heap holds no more than the
 *                      reachable objects (+1000): the 20000 unreachable ones
 *                      allocated among them and the churn were reclaimed
 *   target_300 (long)  the targets, in absolute VmRSS/VmHWM (~10 s on
 *                      2 cores): GOGC off, limit 300 MiB, 200 MiB live, 4 GiB
 *                      of garbage: VmHWM <= 330 MiB; every live byte intact; live
 *                      dropped, GOGC 100, gc_collect: VmRSS < 100 MiB within
 *                      10 s with no further call; 200 MiB rebuilt and dropped,
 *                      gc_free_os_memory: VmRSS < 64 MiB at once
 */
#include "common.h"

#include <regex.h>
#include <stdatomic.h>
#include <sys/resource.h>

#define MB(x) ((double)(x) / 1048576.0)

static gc_memstats ms, ms2;

/* VmRSS when the subtest started. */
static uint64_t g_base;

/* ------------------------------------------------------------------------ */
/* /proc                                                                    */
/* ------------------------------------------------------------------------ */

/* The "key: N kB" field of a /proc file, in bytes.  open/read into a static
 * buffer: no malloc (enomem reads it with the address space exhausted). */
static uint64_t proc_kb(const char *path, const char *key)
{
    static char buf[16384];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    TC_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        TC_CHECK(r >= 0, "read %s: %s", path, strerror(errno));
        if (r == 0 || (n += (size_t)r) == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[n] = 0;
    size_t klen = strlen(key);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            return strtoull(line + klen + 1, NULL, 10) * 1024;
    TC_FAIL("no %s in %s", key, path);
}

static uint64_t vm_rss(void) { return proc_kb("/proc/self/status", "VmRSS"); }
static uint64_t vm_hwm(void) { return proc_kb("/proc/self/status", "VmHWM"); }

/* Reset VmHWM to the current RSS (Linux 4.0+); 0 on success. */
static int reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok ? 0 : -1;
}

static void start(void) { g_base = vm_rss(); }

/* Statistics, zeroed first: a field the library leaves unset reads 0. */
static void stats(gc_memstats *m)
{
    memset(m, 0, sizeof *m);
    gc_read_memstats(m);
}

/* VmRSS above `base` (0 when below). */
static uint64_t rss_over(uint64_t base)
{
    uint64_t r = vm_rss();
    return r > base ? r - base : 0;
}

/* Poll VmRSS every 100 ms, with no library call, until RSS - base < bound or
 * `seconds` have passed.  Returns the last RSS - base; *took the seconds. */
static uint64_t wait_rss_below(uint64_t base, uint64_t bound, double seconds, double *took)
{
    double t0 = tc_now();
    uint64_t r;
    for (;;) {
        r = rss_over(base);
        if (r < bound || tc_now() - t0 >= seconds)
            break;
        tc_sleep_ms(100);
    }
    *took = tc_now() - t0;
    return r;
}

/* "GODEBUG=" + the variant's setting (TRICOLOR_TEST_GODEBUG: the @mprotect and
 * @stw runs) + extra, so that children keep the variant. */
static const char *godebug_with(const char *extra)
{
    static char buf[256];
    const char *v = getenv("TRICOLOR_TEST_GODEBUG");
    int has = v && *v;
    snprintf(buf, sizeof buf, "GODEBUG=%s%s%s", has ? v : "", has && *extra ? "," : "", extra);
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Live data: record pairs and noscan chunks                                */
/* ------------------------------------------------------------------------ */

/* A small scanned record: its first word points to a second record (or is
 * NULL).  tag has a top byte of 0xa5, so that no word of the header looks
 * like an address; the payload is a tc_fill pattern. */
struct rec {
    struct rec *next;
    uint32_t seed;
    uint32_t tag; /* 0xa5000000 | payload length */
    uint8_t data[];
};
#define REC_TAG 0xa5000000u

static struct rec **volatile g_recs;
static size_t g_nrecs;

static uint32_t rec_seed(size_t i, int k) { return (uint32_t)tc_mix((uint64_t)i * 2 + (uint64_t)k); }
/* Payload 16..223 bytes: records of 32..239 bytes, in 14 size classes. */
static size_t rec_len(uint32_t seed) { return 16 + seed % 208; }

TC_NOINLINE static struct rec *new_rec(uint32_t seed)
{
    size_t len = rec_len(seed);
    struct rec *r = gc_alloc(sizeof *r + len);
    TC_CHECK(r != NULL, "gc_alloc(%zu) for a live record", sizeof *r + len);
    r->seed = seed;
    r->tag = REC_TAG | (uint32_t)len;
    tc_fill(r->data, len, seed);
    return r;
}

/* About `bytes` of heap in record pairs (a pair averages ~290 bytes with the
 * table's slot), reachable only from g_recs. */
TC_NOINLINE static void build_recs(size_t bytes)
{
    size_t n = bytes / 290 + 1;
    struct rec **t = gc_alloc(n * sizeof *t);
    TC_CHECK(t != NULL, "gc_alloc(%zu) for the record table", n * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        struct rec *a = new_rec(rec_seed(i, 0));
        a->next = new_rec(rec_seed(i, 1));
        t[i] = a;
    }
    g_recs = t;
    g_nrecs = n;
}

static void check_rec(const struct rec *r, size_t i, int k, const char *when)
{
    uint32_t seed = rec_seed(i, k);
    size_t len = rec_len(seed);
    TC_CHECK(r != NULL, "%s: record %zu.%d is gone (NULL link)", when, i, k);
    TC_CHECK(r->seed == seed && r->tag == (REC_TAG | (uint32_t)len),
             "%s: record %zu.%d header overwritten: seed %08x tag %08x, want %08x %08x", when, i, k, r->seed, r->tag,
             seed, REC_TAG | (uint32_t)len);
    long d = tc_pattern_diff(r->data, len, seed);
    TC_CHECK(d < 0, "%s: record %zu.%d payload overwritten at byte %ld of %zu (freed while live?)", when, i, k, d,
             len);
}

TC_NOINLINE static void check_recs(const char *when)
{
    struct rec **t = g_recs;
    TC_CHECK(t != NULL, "%s: no record table", when);
    for (size_t i = 0; i < g_nrecs; i++) {
        check_rec(t[i], i, 0, when);
        check_rec(t[i]->next, i, 1, when);
        TC_CHECK(t[i]->next->next == NULL, "%s: record %zu.1 links to %p", when, i, (void *)t[i]->next->next);
    }
}

/* Noscan chunks of 8..128 KiB (small size classes and large objects), each
 * filled with pattern i. */
static void *volatile *g_chunks;
static size_t g_nchunks;
#define CHUNK_SEED 1000u

static size_t chunk_len(size_t i) { return 8 * TC_KiB + tc_mix(i + 77) % (120 * TC_KiB); }

TC_NOINLINE static void *volatile *build_chunks_into(size_t bytes, size_t *count, uint32_t seed0)
{
    size_t n = bytes / (68 * TC_KiB) + 1;
    void *volatile *t = gc_alloc(n * sizeof *t);
    TC_CHECK(t != NULL, "gc_alloc(%zu) for the chunk table", n * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        size_t len = chunk_len(i);
        void *p = gc_alloc_noscan(len);
        TC_CHECK(p != NULL, "gc_alloc_noscan(%zu) for a live chunk", len);
        tc_fill(p, len, seed0 + (uint32_t)i);
        t[i] = p;
    }
    *count = n;
    return t;
}

TC_NOINLINE static void build_chunks(size_t bytes) { g_chunks = build_chunks_into(bytes, &g_nchunks, CHUNK_SEED); }

/* Check the chunks of t that keep(i) says are kept (all when keep is NULL). */
TC_NOINLINE static void check_chunks_in(void *volatile *t, size_t n, uint32_t seed0, int (*keep)(size_t),
                                        const char *when)
{
    TC_CHECK(t != NULL, "%s: no chunk table", when);
    for (size_t i = 0; i < n; i++) {
        if (keep && !keep(i))
            continue;
        TC_CHECK(t[i] != NULL, "%s: chunk %zu is NULL", when, i);
        TC_CHECK(gc_size(t[i]) >= chunk_len(i), "%s: chunk %zu: gc_size %zu < %zu (freed while live?)", when, i,
                 gc_size(t[i]), chunk_len(i));
        long d = tc_pattern_diff(t[i], chunk_len(i), seed0 + (uint32_t)i);
        TC_CHECK(d < 0, "%s: chunk %zu (%zu bytes) overwritten at byte %ld (freed while live?)", when, i,
                 chunk_len(i), d);
    }
}

TC_NOINLINE static void drop_all(void)
{
    g_recs = NULL;
    g_nrecs = 0;
    g_chunks = NULL;
    g_nchunks = 0;
    tc_clear_stack();
}

/* ------------------------------------------------------------------------ */
/* Garbage                                                                  */
/* ------------------------------------------------------------------------ */

/* `bytes` of garbage, written through (so that it is resident), in 1 MiB
 * slices that take turns: small objects (16 B..1 KiB), medium (1..32 KiB),
 * large (33 KiB..1 MiB); scanned and noscan mixed. */
TC_NOINLINE static void garbage(size_t bytes, uint64_t *rng)
{
    size_t done = 0;
    for (int kind = 0; done < bytes; kind = (kind + 1) % 3) {
        size_t slice = 0;
        while (slice < TC_MiB) {
            uint64_t r = tc_rand(rng);
            size_t len = kind == 0   ? 16 + r % 1008
                         : kind == 1 ? TC_KiB + r % (31 * TC_KiB)
                                     : 33 * TC_KiB + r % (991 * TC_KiB);
            void *p = (r >> 40) & 1 ? gc_alloc(len) : gc_alloc_noscan(len);
            TC_CHECK(p != NULL, "gc_alloc(%zu) returned NULL while making garbage (errno %d)", len, errno);
            memset(p, 0x5a, len);
            __asm__ volatile("" : : "r"(p) : "memory");
            slice += len;
        }
        done += slice;
    }
}

/* ------------------------------------------------------------------------ */
/* limit_rss                                                                */
/* ------------------------------------------------------------------------ */

static void test_limit_rss(void)
{
    start();
    const int64_t L = 120 * (int64_t)TC_MiB;
    gc_set_percent(-1);
    gc_set_memory_limit(L);
    build_recs(70 * TC_MiB);
    tc_collect_clean();
    stats(&ms);
    uint64_t live = ms.heap_alloc;
    TC_CHECK(live >= 60 * TC_MiB && live <= 90 * TC_MiB, "the live records take %.1f MiB, want ~70 (test premise)",
             MB(live));
    uint32_t n0 = ms.num_gc;
    double t0 = tc_now();
    uint64_t rng = 1;
    garbage(1536 * TC_MiB, &rng);
    double t = tc_now() - t0;
    uint64_t hwm = vm_hwm();
    stats(&ms);
    uint64_t peak = hwm - g_base;
    printf("     limit_rss: base %.1f MiB, live %.1f MiB, 1.5 GiB of garbage in %.1fs: %u collections, "
           "VmHWM - base %.1f MiB (limit %.0f MiB), heap_sys %.1f MiB\n",
           MB(g_base), MB(live), t, ms.num_gc - n0, MB(peak), MB(L), MB(ms.heap_sys));
    TC_CHECK(peak <= (uint64_t)L * 110 / 100,
             "GOGC=off, limit %.0f MiB, %.1f MiB live, 1.5 GiB of garbage: VmHWM - base = %.1f MiB, over the limit "
             "+ 10%% (%.1f MiB)",
             MB(L), MB(live), MB(peak), MB(L) * 1.1);
    TC_CHECK(ms.num_gc - n0 >= 15,
             "GOGC=off, limit %.0f MiB: only %u collections for 1.5 GiB of garbage over %.1f MiB live", MB(L),
             ms.num_gc - n0, MB(live));
    check_recs("after 1.5 GiB of garbage under the limit");
    int64_t r = gc_set_memory_limit(-1);
    TC_CHECK(r == L, "gc_set_memory_limit(-1) = %lld, want %lld", (long long)r, (long long)L);
}

/* ------------------------------------------------------------------------ */
/* limit_goal                                                               */
/* ------------------------------------------------------------------------ */

static void test_limit_goal(void)
{
    int64_t r;
    stats(&ms);
    TC_CHECK(ms.memory_limit == INT64_MAX, "memstats.memory_limit %lld with no limit set, want INT64_MAX",
             (long long)ms.memory_limit);
    TC_CHECK((r = gc_set_memory_limit(-1)) == INT64_MAX, "gc_set_memory_limit(-1) = %lld with no limit",
             (long long)r);

    build_chunks(40 * TC_MiB);
    tc_collect_clean();
    stats(&ms);
    uint64_t live = ms.heap_alloc;
    TC_CHECK(ms.next_gc >= live * 18 / 10, "premise: GOGC=100 goal %.1f MiB with %.1f MiB live and no limit",
             MB(ms.next_gc), MB(live));

    const int64_t L = 64 * (int64_t)TC_MiB;
    TC_CHECK((r = gc_set_memory_limit(L)) == INT64_MAX, "setting the first limit returned %lld, want INT64_MAX",
             (long long)r);
    /* At once: no collection in between. */
    stats(&ms);
    printf("     limit_goal: live %.1f MiB, limit 64 MiB: next_gc %.1f MiB at once\n", MB(live), MB(ms.next_gc));
    TC_CHECK(ms.memory_limit == L, "memstats.memory_limit %lld after gc_set_memory_limit(%lld)",
             (long long)ms.memory_limit, (long long)L);
    TC_CHECK(ms.next_gc <= (uint64_t)L,
             "next_gc %.1f MiB right after setting a %.0f MiB limit (GOGC=100, live %.1f MiB)", MB(ms.next_gc), MB(L),
             MB(live));
    TC_CHECK(ms.next_gc > live, "next_gc %.1f MiB is not above the live heap %.1f MiB under a %.0f MiB limit",
             MB(ms.next_gc), MB(live), MB(L));

    /* Negative: a query that changes nothing. */
    TC_CHECK((r = gc_set_memory_limit(-1)) == L, "gc_set_memory_limit(-1) = %lld, want %lld", (long long)r,
             (long long)L);
    TC_CHECK((r = gc_set_memory_limit(-12345)) == L, "gc_set_memory_limit(-12345) = %lld, want %lld", (long long)r,
             (long long)L);
    stats(&ms);
    TC_CHECK(ms.memory_limit == L, "memory_limit %lld after queries, want %lld", (long long)ms.memory_limit,
             (long long)L);

    /* After collections and under allocation the goal stays under the limit. */
    tc_collect_clean();
    stats(&ms);
    printf("     limit_goal: next_gc %.1f MiB after gc_collect\n", MB(ms.next_gc));
    TC_CHECK(ms.next_gc <= (uint64_t)L && ms.next_gc > ms.heap_alloc,
             "after gc_collect under a %.0f MiB limit: next_gc %.1f MiB, heap_alloc %.1f MiB", MB(L), MB(ms.next_gc),
             MB(ms.heap_alloc));
    uint64_t rng = 3, worst = 0;
    for (int i = 0; i < 25; i++) {
        garbage(4 * TC_MiB, &rng);
        stats(&ms);
        if (ms.next_gc > worst)
            worst = ms.next_gc;
    }
    printf("     limit_goal: next_gc at most %.1f MiB over 100 MiB of garbage\n", MB(worst));
    TC_CHECK(worst <= (uint64_t)L, "next_gc reached %.1f MiB under a %.0f MiB limit while allocating", MB(worst),
             MB(L));

    /* A limit above GOGC's goal: GOGC's goal (the smaller) governs. */
    TC_CHECK((r = gc_set_memory_limit(1LL << 30)) == L, "gc_set_memory_limit(1 GiB) returned %lld, want %lld",
             (long long)r, (long long)L);
    tc_collect_clean();
    stats(&ms);
    TC_CHECK(ms.memory_limit == 1LL << 30, "memory_limit %lld, want 1 GiB", (long long)ms.memory_limit);
    double want = 2.0 * (double)ms.heap_alloc;
    TC_CHECK(ms.next_gc >= 0.9 * want && ms.next_gc <= 1.1 * want,
             "limit 1 GiB, GOGC=100: next_gc %.1f MiB with %.1f MiB live, want 2 x live within 10%%", MB(ms.next_gc),
             MB(ms.heap_alloc));
    TC_CHECK((r = gc_set_memory_limit(INT64_MAX)) == 1LL << 30, "removing the limit returned %lld, want 1 GiB",
             (long long)r);
    stats(&ms);
    TC_CHECK(ms.memory_limit == INT64_MAX, "memory_limit %lld after removing the limit", (long long)ms.memory_limit);
    check_chunks_in(g_chunks, g_nchunks, CHUNK_SEED, NULL, "limit_goal");
}

/* ------------------------------------------------------------------------ */
/* limit_change                                                             */
/* ------------------------------------------------------------------------ */

/* 2 chunks in 15 survive: 20 MiB of 150, scattered over the heap. */
static int kept_2_of_15(size_t i) { return i % 15 < 2; }

TC_NOINLINE static void drop_most_chunks(void)
{
    for (size_t i = 0; i < g_nchunks; i++)
        if (!kept_2_of_15(i))
            g_chunks[i] = NULL;
    tc_clear_stack();
}

static void *volatile *g_more;
static size_t g_nmore;

TC_NOINLINE static void build_more(size_t bytes) { g_more = build_chunks_into(bytes, &g_nmore, 5000); }

static void test_limit_change(void)
{
    start();
    gc_set_percent(-1); /* only the limit can start a collection */
    build_chunks(150 * TC_MiB);
    drop_most_chunks();
    uint64_t before = rss_over(g_base);
    TC_CHECK(before >= 120 * TC_MiB, "premise: RSS - base %.1f MiB after building 150 MiB", MB(before));

    const int64_t L = 80 * (int64_t)TC_MiB;
    const uint64_t bound = 100 * TC_MiB;
    int64_t r = gc_set_memory_limit(L);
    TC_CHECK(r == INT64_MAX, "gc_set_memory_limit returned %lld, want INT64_MAX", (long long)r);
    uint64_t rng = 5, cur = before;
    double t0 = tc_now(), took;
    size_t made = 0;
    for (;;) {
        garbage(4 * TC_MiB, &rng);
        made += 4;
        cur = rss_over(g_base);
        took = tc_now() - t0;
        if (cur < bound || took > 10)
            break;
    }
    printf("     limit_change: RSS - base %.1f MiB with 20 MiB live; limit 80 MiB: %.1f MiB after %.2fs "
           "(%zu MiB of garbage)\n",
           MB(before), MB(cur), took, made);
    TC_CHECK(cur < bound, "a %.0f MiB limit set with 20 MiB live and %.1f MiB resident: RSS - base still %.1f MiB "
             "after %.1fs of allocation, want < %.0f MiB",
             MB(L), MB(before), MB(cur), took, MB(bound));

    /* It stays under: the peak over 400 MiB more garbage. */
    int have_reset = reset_hwm() == 0;
    uint64_t peak = cur;
    for (int i = 0; i < 100; i++) {
        garbage(4 * TC_MiB, &rng);
        uint64_t x = have_reset ? vm_hwm() : vm_rss();
        x = x > g_base ? x - g_base : 0;
        if (x > peak)
            peak = x;
    }
    printf("     limit_change: peak %.1f MiB over 400 MiB more%s\n", MB(peak), have_reset ? "" : " (sampled)");
    TC_CHECK(peak < bound, "under a %.0f MiB limit, RSS - base peaked at %.1f MiB over 400 MiB of garbage", MB(L),
             MB(peak));
    check_chunks_in(g_chunks, g_nchunks, CHUNK_SEED, kept_2_of_15, "after the limit was lowered");

    /* Raised: GOGC is still off, so the heap now grows without collecting. */
    r = gc_set_memory_limit(INT64_MAX);
    TC_CHECK(r == L, "raising the limit returned %lld, want %lld", (long long)r, (long long)L);
    stats(&ms);
    uint32_t n0 = ms.num_gc;
    build_more(100 * TC_MiB);
    garbage(100 * TC_MiB, &rng);
    stats(&ms);
    printf("     limit_change: limit removed: heap_alloc %.1f MiB, %u collections\n", MB(ms.heap_alloc),
           ms.num_gc - n0);
    TC_CHECK(ms.num_gc <= n0 + 1, "GOGC=off and the limit removed: %u collections while allocating 200 MiB",
             ms.num_gc - n0);
    TC_CHECK(ms.heap_alloc > 2 * (uint64_t)L, "the limit removed: heap_alloc %.1f MiB, want past %.0f MiB",
             MB(ms.heap_alloc), 2 * MB(L));
    check_chunks_in(g_chunks, g_nchunks, CHUNK_SEED, kept_2_of_15, "after the limit was raised");
    check_chunks_in(g_more, g_nmore, 5000, NULL, "allocated after the limit was raised");
}

/* ------------------------------------------------------------------------ */
/* release_background, free_os_memory, released_exact                       */
/* ------------------------------------------------------------------------ */

/* 200 MiB live: 100 MiB of small records, 100 MiB of chunks. */
TC_NOINLINE static void build_200(void)
{
    build_recs(100 * TC_MiB);
    build_chunks(100 * TC_MiB);
}

static void test_release_background(void)
{
    start();
    gc_set_percent(100);
    build_200();
    tc_collect_clean();
    stats(&ms);
    uint64_t full = rss_over(g_base);
    drop_all();
    gc_collect();
    /* From here on, no library call until RSS is down (or 10 s passed). */
    double took;
    uint64_t after = wait_rss_below(g_base, 100 * TC_MiB, 10, &took);
    stats(&ms2);
    printf("     release_background: RSS - base %.1f MiB with 200 MiB live; dropped: %.1f MiB after %.1fs; "
           "heap_released %.1f -> %.1f MiB\n",
           MB(full), MB(after), took, MB(ms.heap_released), MB(ms2.heap_released));
    TC_CHECK(full >= 180 * TC_MiB, "premise: RSS - base only %.1f MiB with 200 MiB live", MB(full));
    TC_CHECK(after < 100 * TC_MiB,
             "200 MiB dropped and collected (GOGC=100): RSS - base still %.1f MiB after %.1fs with no library "
             "call; the background scavenger should have returned it",
             MB(after), took);
    TC_CHECK(ms2.heap_released >= ms.heap_released + 64 * TC_MiB,
             "RSS fell from %.1f to %.1f MiB but heap_released went only from %.1f to %.1f MiB", MB(full), MB(after),
             MB(ms.heap_released), MB(ms2.heap_released));
}

static void test_free_os_memory(void)
{
    start();
    build_200();
    tc_collect_clean();
    uint64_t full = rss_over(g_base);
    drop_all();
    gc_free_os_memory();
    uint64_t after = rss_over(g_base); /* at once */
    stats(&ms);
    printf("     free_os_memory: RSS - base %.1f MiB -> %.1f MiB; heap_idle %.1f, heap_released %.1f MiB\n", MB(full),
           MB(after), MB(ms.heap_idle), MB(ms.heap_released));
    TC_CHECK(full >= 180 * TC_MiB, "premise: RSS - base only %.1f MiB with 200 MiB live", MB(full));
    TC_CHECK(after < 64 * TC_MiB, "200 MiB dropped, gc_free_os_memory: RSS - base %.1f MiB when it returned",
             MB(after));
    TC_CHECK(ms.heap_released == ms.heap_idle,
             "after gc_free_os_memory heap_released %llu != heap_idle %llu (every free page goes back)",
             (unsigned long long)ms.heap_released, (unsigned long long)ms.heap_idle);
    TC_CHECK(ms.heap_released > 150 * TC_MiB, "200 MiB dropped, gc_free_os_memory: heap_released only %.1f MiB",
             MB(ms.heap_released));
}

static void exact_checks(const char *when)
{
    uint64_t rss = rss_over(g_base);
    stats(&ms);
    uint64_t held = ms.sys - ms.heap_released;
    printf("     released_exact: %s: sys %.1f - heap_released %.1f = %.1f MiB; RSS - base %.1f MiB; heap_idle %.1f\n",
           when, MB(ms.sys), MB(ms.heap_released), MB(held), MB(rss), MB(ms.heap_idle));
    TC_CHECK(ms.heap_released <= ms.heap_idle, "%s: heap_released %llu > heap_idle %llu", when,
             (unsigned long long)ms.heap_released, (unsigned long long)ms.heap_idle);
    TC_CHECK(ms.heap_inuse + ms.heap_idle == ms.heap_sys, "%s: heap_inuse %llu + heap_idle %llu != heap_sys %llu",
             when, (unsigned long long)ms.heap_inuse, (unsigned long long)ms.heap_idle,
             (unsigned long long)ms.heap_sys);
    TC_CHECK(rss <= held + 8 * TC_MiB,
             "%s: RSS - base %.1f MiB, but tricolor says it holds only %.1f MiB (sys - heap_released): "
             "released pages still resident?",
             when, MB(rss), MB(held));
    TC_CHECK(held <= rss + 16 * TC_MiB,
             "%s: tricolor says it holds %.1f MiB (sys - heap_released) but RSS - base is %.1f MiB: pages counted "
             "as held that were released?",
             when, MB(held), MB(rss));
}

static void test_released_exact(void)
{
    start();
    build_200();
    tc_collect_clean();
    drop_all();
    gc_free_os_memory();
    stats(&ms);
    TC_CHECK(ms.heap_released > 150 * TC_MiB, "premise: heap_released %.1f MiB after freeing 200 MiB",
             MB(ms.heap_released));
    /* New objects on released pages: they are backed again. */
    build_recs(30 * TC_MiB);
    build_chunks(30 * TC_MiB);
    exact_checks("60 MiB allocated after gc_free_os_memory");
    check_recs("released_exact");
    check_chunks_in(g_chunks, g_nchunks, CHUNK_SEED, NULL, "released_exact");
    drop_all();
    gc_free_os_memory();
    build_chunks(60 * TC_MiB);
    exact_checks("dropped, freed again, 60 MiB of chunks");
    check_chunks_in(g_chunks, g_nchunks, CHUNK_SEED, NULL, "released_exact");
}

/* ------------------------------------------------------------------------ */
/* Children                                                                 */
/* ------------------------------------------------------------------------ */

static void run_child(tc_child *c, const char *name, const char *const *env, unsigned timeout)
{
    const char *args[] = {"--child", name, NULL};
    tc_run_self(c, args, env, timeout);
    if (c->out[0])
        printf("%s", c->out);
    TC_CHECK(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0, "child %s %s:\n%s", name,
             tc_status_str(c->status), c->err);
}

/* madvfree ---------------------------------------------------------------- */

static void test_madvfree(void)
{
    tc_child c;
    const char *env[] = {godebug_with("madvdontneed=0"), "GOGC", "GOMEMLIMIT", NULL};
    run_child(&c, "madvfree", env, 120);
    tc_child_free(&c);
}

TC_NOINLINE static size_t alloc_check_zero(size_t bytes)
{
    /* Scanned and noscan, small and large: every kind of span that can take
     * the freed pages.  Kept until all are checked, so none is reused. */
    size_t n = bytes / (64 * TC_KiB) + 1, got = 0;
    void *volatile *t = gc_alloc(n * sizeof *t);
    TC_CHECK(t != NULL, "gc_alloc for a table");
    uint64_t rng = 11;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = tc_rand(&rng);
        size_t len = i % 4 == 0   ? 16 + r % 4000
                     : i % 4 == 1 ? 4 * TC_KiB + r % (28 * TC_KiB)
                                  : 33 * TC_KiB + r % (200 * TC_KiB);
        void *p = (r >> 33) & 1 ? gc_alloc(len) : gc_alloc_noscan(len);
        TC_CHECK(p != NULL, "gc_alloc(%zu)", len);
        long d = tc_nonzero_at(p, len);
        TC_CHECK(d < 0,
                 "object %zu (%zu bytes) allocated on pages returned with MADV_FREE has a non-zero byte at %ld "
                 "(0x%02x): the old contents came back",
                 i, len, d, ((uint8_t *)p)[d]);
        t[i] = p;
        got += len;
    }
    return got;
}

static int child_madvfree(void)
{
    start();
    build_200();
    tc_collect_clean();
    drop_all();
    gc_free_os_memory();
    uint64_t lazy = proc_kb("/proc/self/smaps_rollup", "LazyFree");
    uint64_t rss = rss_over(g_base);
    stats(&ms);
    printf("     madvfree: after gc_free_os_memory heap_released %.1f MiB, LazyFree %.1f MiB, RSS - base %.1f MiB\n",
           MB(ms.heap_released), MB(lazy), MB(rss));
    TC_CHECK(ms.heap_released > 150 * TC_MiB, "GODEBUG=madvdontneed=0: heap_released %.1f MiB after freeing 200 MiB",
             MB(ms.heap_released));
    TC_CHECK(lazy > 100 * TC_MiB,
             "GODEBUG=madvdontneed=0: LazyFree %.1f MiB after freeing 200 MiB (MADV_FREE pages show there until "
             "the kernel takes them)",
             MB(lazy));
    size_t got = alloc_check_zero(150 * TC_MiB);
    printf("     madvfree: %.1f MiB allocated afterwards, all zero\n", MB(got));
    return 0;
}

/* scavtrace --------------------------------------------------------------- */

#define SCAV_RE "^scav ([0-9]+) KiB work, ([0-9]+) KiB total, ([0-9]+)% util( \\(forced\\))?$"

static void test_scavtrace(void)
{
    tc_child c;
    const char *env[] = {godebug_with("scavtrace=1"), "GOGC", "GOMEMLIMIT", NULL};
    run_child(&c, "scavtrace", env, 120);
    unsigned num_gc = 0;
    unsigned long long released_kib = 0;
    const char *res = strstr(c.out, "result ");
    TC_CHECK(res && sscanf(res, "result %u %llu", &num_gc, &released_kib) == 2, "child's stdout: %s", c.out);

    regex_t re;
    int e = regcomp(&re, SCAV_RE, REG_EXTENDED);
    TC_CHECK(e == 0, "regcomp: %d", e);
    regmatch_t m[5];
    unsigned plain = 0, forced = 0;
    unsigned long long ftotal = 0, fwork = 0;
    char *save = NULL;
    for (char *line = strtok_r(c.err, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "scav ", 5) != 0)
            continue;
        TC_CHECK(regexec(&re, line, 5, m, 0) == 0, "scavtrace line does not match:\n  \"%s\"\n  want %s", line,
                 SCAV_RE);
        unsigned long long work = strtoull(line + m[1].rm_so, NULL, 10);
        unsigned long long total = strtoull(line + m[2].rm_so, NULL, 10);
        unsigned long util = strtoul(line + m[3].rm_so, NULL, 10);
        TC_CHECK(util <= 100, "util %lu%% > 100%% in \"%s\"", util, line);
        if (m[4].rm_so >= 0) {
            forced++;
            ftotal = total;
            fwork = work;
        } else {
            plain++;
        }
    }
    regfree(&re);
    printf("     scavtrace: %u collections, %u lines, %u forced (total %llu KiB, work %llu KiB); heap_released "
           "%llu KiB\n",
           num_gc, plain, forced, ftotal, fwork, released_kib);
    TC_CHECK(plain >= 4 && plain <= num_gc,
             "%u unforced scav lines for %u collections (4 of them gc_collect calls); want one per collection",
             plain, num_gc);
    TC_CHECK(forced == 1, "%u lines end in (forced) after one gc_free_os_memory call", forced);
    TC_CHECK(ftotal >= 64 * 1024, "the forced line's total is %llu KiB after 100 MiB was dropped and freed", ftotal);
    TC_CHECK(fwork <= ftotal, "the forced line released %llu KiB of work but the total is %llu KiB", fwork, ftotal);
    unsigned long long diff = ftotal > released_kib ? ftotal - released_kib : released_kib - ftotal;
    TC_CHECK(diff <= 1024, "the forced line's total %llu KiB, heap_released right after %llu KiB", ftotal,
             released_kib);
    tc_child_free(&c);
}

static int child_scavtrace(void)
{
    build_chunks(50 * TC_MiB);
    build_recs(50 * TC_MiB);
    tc_collect_clean();
    tc_collect_clean();
    drop_all();
    tc_collect_clean();
    tc_collect_clean();
    gc_free_os_memory();
    stats(&ms);
    printf("     scavtrace: child result %u %llu\n", ms.num_gc, (unsigned long long)(ms.heap_released >> 10));
    return 0;
}

/* enomem ------------------------------------------------------------------ */

static void test_enomem(void)
{
    tc_child c;
    const char *env[] = {"GOGC", "GOMEMLIMIT", NULL};
    run_child(&c, "enomem", env, 120);
    tc_child_free(&c);
}

static volatile unsigned g_oom_calls;
static volatile size_t g_oom_size;
static _Alignas(16) char g_oom_buf[4096];

/* gc_alloc is declared with the malloc attribute: the compiler may take its
 * result to differ from every pointer it knows of, g_oom_buf included, and
 * fold p == g_oom_buf to false.  Compare the values behind its back. */
static int same_ptr(const void *a, const void *b) { return tc_opaque((uintptr_t)a) == tc_opaque((uintptr_t)b); }

static void *oom_null(size_t bytes)
{
    g_oom_calls++;
    g_oom_size = bytes;
    return NULL;
}

static void *oom_static(size_t bytes)
{
    g_oom_calls++;
    g_oom_size = bytes;
    return g_oom_buf;
}

/* 1 MiB scanned objects; the first word links to the next one.  The head is
 * in g_chain only; the tail (where the next one goes) is kept hidden, so a
 * stale copy of it on the stack keeps one chunk, not the chain. */
struct chunk {
    struct chunk *next;
    uint64_t seq; /* 0xa5... | index */
};
static struct chunk *volatile g_chain;
static volatile uintptr_t g_tail_hidden;

/* Allocate until NULL or `max`; returns how many; *err: errno at the NULL. */
TC_NOINLINE static size_t fill_chain(size_t max, int *err)
{
    size_t n = 0;
    *err = 0;
    for (; n < max; n++) {
        errno = 0;
        struct chunk *p = gc_alloc(TC_MiB);
        if (!p) {
            *err = errno;
            break;
        }
        p->seq = 0xa5a5000000000000ull | n;
        if (n == 0)
            g_chain = p;
        else
            ((struct chunk *)tc_unhide(g_tail_hidden))->next = p;
        g_tail_hidden = tc_hide(p);
    }
    g_tail_hidden = 0;
    return n;
}

TC_NOINLINE static size_t chain_length(void)
{
    size_t n = 0;
    for (struct chunk *p = g_chain; p; p = p->next) {
        TC_CHECK(p->seq == (0xa5a5000000000000ull | n), "chunk %zu of the chain has seq %llx", n,
                 (unsigned long long)p->seq);
        n++;
    }
    return n;
}

static struct rec *volatile g_small[64];

TC_NOINLINE static void build_small(void)
{
    for (size_t i = 0; i < 64; i++)
        g_small[i] = new_rec(rec_seed(i, 7));
}

TC_NOINLINE static void check_small(const char *when)
{
    for (size_t i = 0; i < 64; i++) {
        check_rec(g_small[i], i, 7, when);
        TC_CHECK(g_small[i]->next == NULL, "%s: small record %zu links to %p", when, i, (void *)g_small[i]->next);
    }
}

TC_NOINLINE static void reuse_after_oom(void)
{
    void *volatile *t = gc_alloc(256 * sizeof *t);
    TC_CHECK(t != NULL, "gc_alloc of a 2 KiB table after the chain was dropped (errno %d)", errno);
    for (size_t i = 0; i < 256; i++) {
        void *p = gc_alloc(TC_MiB);
        TC_CHECK(p != NULL, "the chain dropped and collected: gc_alloc(1 MiB) #%zu returned NULL (errno %d)", i,
                 errno);
        long d = tc_nonzero_at(p, TC_MiB);
        TC_CHECK(d < 0, "1 MiB object #%zu allocated after the out-of-memory episode has non-zero byte %ld", i, d);
        memset(p, 0x33, TC_MiB);
        t[i] = p;
    }
}

static int child_enomem(void)
{
    gc_set_percent(100);
    build_small();
    tc_collect_clean(); /* the collector's threads and buffers exist before the limit */
    printf("     enomem: started\n"); /* stdout's buffer is allocated before the limit too */

    struct rlimit rl;
    TC_CHECK(getrlimit(RLIMIT_AS, &rl) == 0, "getrlimit: %s", strerror(errno));
    uint64_t vsz = proc_kb("/proc/self/status", "VmSize");
    rl.rlim_cur = (rlim_t)(vsz + 512 * TC_MiB);
    TC_CHECK(rl.rlim_max == RLIM_INFINITY || rl.rlim_cur <= rl.rlim_max, "RLIMIT_AS hard limit %llu is too low",
             (unsigned long long)rl.rlim_max);
    TC_CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit: %s", strerror(errno));

    gc_oom_fn prev = gc_set_oom_fn(oom_null);
    TC_CHECK(prev == NULL, "the first gc_set_oom_fn returned %p, want NULL", (void *)prev);
    int err;
    size_t n = fill_chain(4096, &err);
    unsigned calls = g_oom_calls;
    size_t asked = g_oom_size;
    printf("     enomem: VmSize %.1f MiB, RLIMIT_AS +512 MiB: %zu x 1 MiB before NULL (errno %d); callback called "
           "%u times, last with %zu\n",
           MB(vsz), n, err, calls, asked);
    TC_CHECK(n < 4096, "RLIMIT_AS = VmSize + 512 MiB, yet 4096 x 1 MiB were allocated");
    TC_CHECK(n >= 256, "out of memory after only %zu x 1 MiB with 512 MiB of address space to spare", n);
    TC_CHECK(err == ENOMEM, "gc_alloc returned NULL with errno %d (%s), want ENOMEM", err, strerror(err));
    TC_CHECK(calls == 1, "the OOM function ran %u times for one failed gc_alloc", calls);
    TC_CHECK(asked == TC_MiB, "the OOM function was called with %zu, want the size asked for, %zu", asked, TC_MiB);
    size_t len = chain_length();
    TC_CHECK(len == n, "the chain holds %zu chunks, %zu were allocated", len, n);

    /* A function that hands out a buffer of its own. */
    prev = gc_set_oom_fn(oom_static);
    TC_CHECK(prev == oom_null, "gc_set_oom_fn returned %p, want the previous function %p", (void *)prev,
             (void *)oom_null);
    void *p = gc_alloc(TC_MiB);
    TC_CHECK(same_ptr(p, g_oom_buf), "memory exhausted, OOM function returns %p: gc_alloc returned %p",
             (void *)g_oom_buf, p);
    TC_CHECK(g_oom_calls == 2 && g_oom_size == TC_MiB, "OOM function: %u calls, last size %zu", g_oom_calls,
             (size_t)g_oom_size);
    p = gc_alloc(768 * TC_MiB);
    TC_CHECK(same_ptr(p, g_oom_buf),
             "gc_alloc(768 MiB) with memory exhausted returned %p, want the OOM function's %p", p, (void *)g_oom_buf);
    TC_CHECK(g_oom_calls == 3 && g_oom_size == 768 * TC_MiB, "OOM function: %u calls, last size %zu (want 768 MiB)",
             g_oom_calls, (size_t)g_oom_size);
    p = gc_alloc_noscan(TC_MiB);
    TC_CHECK(same_ptr(p, g_oom_buf), "gc_alloc_noscan(1 MiB) with memory exhausted returned %p, want %p", p,
             (void *)g_oom_buf);
    TC_CHECK(g_oom_calls == 4, "gc_alloc_noscan: OOM function calls %u, want 4", g_oom_calls);
    prev = gc_set_oom_fn(NULL);
    TC_CHECK(prev == oom_static, "gc_set_oom_fn(NULL) returned %p, want %p", (void *)prev, (void *)oom_static);

    /* Drop the chain: the memory comes back for new objects. */
    g_chain = NULL;
    tc_collect_clean();
    reuse_after_oom();
    check_small("after running out of memory");
    TC_CHECK(g_oom_calls == 4, "the OOM function ran again (%u calls) with memory available", g_oom_calls);
    printf("     enomem: 256 MiB allocated again after dropping the chain\n");
    return 0;
}

/* limiter ----------------------------------------------------------------- */

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL test_memlimit.c: [limiter] 1 GiB of garbage under a limit far below the live "
                              "heap still running after 60 s: a low limit must slow the program, not stop it\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

static void test_limiter(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(60);

    gc_set_percent(100);
    build_recs(64 * TC_MiB);
    tc_collect_clean();
    uint64_t rng = 9;
    /* The yardstick: the same garbage with GOGC alone. */
    double t0 = tc_now();
    garbage(TC_GiB, &rng);
    double t_free = tc_now() - t0;
    tc_collect_clean();
    stats(&ms);
    uint64_t live = ms.heap_alloc;
    uint32_t n0 = ms.num_gc;
    gc_set_memory_limit(8 * (int64_t)TC_MiB);
    t0 = tc_now();
    garbage(TC_GiB, &rng);
    double t = tc_now() - t0;
    alarm(0);
    stats(&ms);
    printf("     limiter: %.1f MiB live, 1 GiB of garbage in %.1fs without a limit; limit 8 MiB: %.1fs, "
           "%u collections, gc_limiter_last_enabled %u (num_gc %u), gc_cpu_fraction %.3f\n",
           MB(live), t_free, t, ms.num_gc - n0, ms.gc_limiter_last_enabled, ms.num_gc, ms.gc_cpu_fraction);
    TC_CHECK(ms.gc_limiter_last_enabled > 0 && ms.gc_limiter_last_enabled <= ms.num_gc + 1,
             "limit 8 MiB under %.1f MiB live: gc_limiter_last_enabled %u (num_gc %u): the GC CPU limiter never "
             "came on",
             MB(live), ms.gc_limiter_last_enabled, ms.num_gc);
    /* The fraction is over the whole run, and includes the second or so of
     * back-to-back collections the limiter takes to fill its bucket (one
     * CPU-second per CPU, Go's): hence a bound above one half. */
    TC_CHECK(ms.gc_cpu_fraction < 0.8, "limit 8 MiB under %.1f MiB live: gc_cpu_fraction %.3f, want < 0.8",
             MB(live), ms.gc_cpu_fraction);
    /* Without the limiter this takes minutes (a full mark of the live heap
     * for every few KiB allocated); with it, about 10 s here against 0.5 s
     * (printed above).  That is a time, so it is not asserted (a loaded
     * machine stretches it): the CPU fraction above is the outcome, and
     * alarm(60) catches a program the limit stopped. */
    check_recs("after the limiter");
}

/* gctrace_env ------------------------------------------------------------- */

static void test_gctrace_env(void)
{
    tc_child c;
    const char *env[] = {"GOMEMLIMIT=64MiB", "GOGC=off", godebug_with("gctrace=1"), NULL};
    run_child(&c, "gctrace_env", env, 120);
    regex_t re;
    int e = regcomp(&re, "^gc ([0-9]+) @.* ([0-9]+) MB goal,", REG_EXTENDED);
    TC_CHECK(e == 0, "regcomp: %d", e);
    regmatch_t m[3];
    unsigned lines = 0;
    long worst = 0;
    char *save = NULL;
    for (char *line = strtok_r(c.err, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "gc ", 3) != 0)
            continue;
        TC_CHECK(regexec(&re, line, 3, m, 0) == 0, "gctrace line without a goal: \"%s\"", line);
        long goal = strtol(line + m[2].rm_so, NULL, 10);
        if (goal > worst)
            worst = goal;
        TC_CHECK(goal <= 64, "GOMEMLIMIT=64MiB: gctrace goal %ld MB in \"%s\"", goal, line);
        lines++;
    }
    regfree(&re);
    printf("     gctrace_env: %u gctrace lines, goals up to %ld MB\n", lines, worst);
    TC_CHECK(lines >= 2, "GOMEMLIMIT=64MiB GOGC=off, 200 MiB of garbage: %u gctrace lines", lines);
    tc_child_free(&c);
}

static int child_gctrace_env(void)
{
    stats(&ms);
    TC_CHECK(ms.memory_limit == 64LL << 20, "GOMEMLIMIT=64MiB: memstats.memory_limit %lld", (long long)ms.memory_limit);
    TC_CHECK(ms.next_gc <= 64 * TC_MiB, "GOMEMLIMIT=64MiB GOGC=off: next_gc %.1f MiB at start", MB(ms.next_gc));
    int64_t l = gc_set_memory_limit(-1);
    TC_CHECK(l == 64LL << 20, "GOMEMLIMIT=64MiB: gc_set_memory_limit(-1) = %lld", (long long)l);
    uint32_t n0 = ms.num_gc;
    uint64_t rng = 13, worst = ms.next_gc;
    for (int i = 0; i < 50; i++) {
        garbage(4 * TC_MiB, &rng);
        stats(&ms);
        if (ms.next_gc > worst)
            worst = ms.next_gc;
    }
    TC_CHECK(worst <= 64 * TC_MiB, "GOMEMLIMIT=64MiB GOGC=off: next_gc reached %.1f MiB", MB(worst));
    TC_CHECK(ms.num_gc >= n0 + 2, "GOMEMLIMIT=64MiB GOGC=off: %u collections over 200 MiB of garbage",
             ms.num_gc - n0);
    int r = gc_set_percent(-1);
    TC_CHECK(r == -1, "GOGC=off: gc_set_percent returned %d", r);
    return 0;
}

/* limiter_trace ------------------------------------------------------------ */

/* The limiter's state in gctrace: a cycle during which it was on ends its
 * line with " (limited)", after the number of Ps (and after " (forced)"). */
static void test_limiter_trace(void)
{
    tc_child c;
    const char *env[] = {"GOMEMLIMIT=8MiB", "GOGC", godebug_with("gctrace=1"), NULL};
    run_child(&c, "limiter_trace", env, 120);
    regex_t re;
    int e = regcomp(&re, "^gc [0-9]+ @[0-9.]+s [0-9]+%: .* [0-9]+ P( \\(forced\\))?( \\(limited\\))?$", REG_EXTENDED);
    TC_CHECK(e == 0, "regcomp: %d", e);
    unsigned lines = 0, limited = 0;
    char *save = NULL;
    for (char *line = strtok_r(c.err, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "gc ", 3) != 0)
            continue;
        TC_CHECK(regexec(&re, line, 0, NULL, 0) == 0, "gctrace line not in Go's format: \"%s\"", line);
        lines++;
        limited += strstr(line, " (limited)") != NULL;
    }
    regfree(&re);
    printf("     limiter_trace: %u gctrace lines, %u of them (limited)\n", lines, limited);
    TC_CHECK(limited > 0, "GOMEMLIMIT=8MiB under 64 MiB live: no gctrace line says (limited) in %u lines", lines);
    tc_child_free(&c);
}

static int child_limiter_trace(void)
{
    build_recs(64 * TC_MiB);
    uint64_t rng = 21;
    garbage(512 * TC_MiB, &rng);
    stats(&ms);
    TC_CHECK(ms.gc_limiter_last_enabled > 0, "GOMEMLIMIT=8MiB under 64 MiB live: the limiter never came on");
    check_recs("limiter_trace");
    return 0;
}

/* mark_overflow ----------------------------------------------------------- */

/* Hidden symbols of the library (this test links it statically). */
extern unsigned mark_debug_wb_cap;
extern _Atomic unsigned mark_overflow_passes;

#define OV_N 200000
static void **volatile g_ov;                /* OV_N parents, each [0] -> a child with a pattern */

TC_NOINLINE static void ov_build(void)
{
    g_ov = gc_alloc(OV_N * sizeof(void *));
    TC_CHECK(g_ov != NULL, "table");
    for (size_t i = 0; i < OV_N; i++) {
        void **parent = gc_alloc(2 * sizeof(void *));
        void *child = gc_alloc(48);
        TC_CHECK(parent && child, "allocation");
        tc_fill(child, 48, (uint32_t)i);
        parent[0] = child;
        g_ov[i] = parent;
        if (i % 10 == 0) /* garbage among them, to reclaim */
            tc_sink = gc_alloc(48);
    }
}

/* The OS refusing the mark queue's work buffers (simulated: a cap on how many
 * the library may map) must not lose a reachable object: the queue drops
 * entries and the marker rescans the heap until nothing is dropped. */
static void test_mark_overflow(void)
{
    ov_build();
    mark_debug_wb_cap = 4; /* at most 4 buffers more in use than now */
    unsigned p0 = atomic_load(&mark_overflow_passes);
    tc_collect_clean();
    tc_churn(48, 100000);
    tc_collect_clean();
    unsigned passes = atomic_load(&mark_overflow_passes) - p0;
    mark_debug_wb_cap = 0;
    for (size_t i = 0; i < OV_N; i++) {
        void **parent = g_ov[i];
        TC_CHECK(gc_base(parent) == parent, "parent %zu freed after the mark queue overflowed", i);
        void *child = parent[0];
        TC_CHECK(gc_base(child) == child, "child %zu freed after the mark queue overflowed", i);
        TC_CHECK(tc_pattern_diff(child, 48, (uint32_t)i) < 0, "child %zu lost its bytes", i);
    }
    /* Everything else was reclaimed: the parents, their children and the
     * table are what is left (a few hundred objects of the library's and
     * the test's own besides). */
    uint64_t objects = tc_heap_objects();
    printf("     mark_overflow: %u heap rescans after overflows; %llu objects in the heap, %d reachable\n", passes,
           (unsigned long long)objects, 2 * OV_N + 1);
    TC_CHECK(passes > 0, "the mark queue never overflowed (the test did not exercise the overflow path)");
    TC_CHECK(objects <= 2 * OV_N + 1 + 1000,
             "%llu objects in the heap after the overflowed collections, %d reachable: garbage was kept",
             (unsigned long long)objects, 2 * OV_N + 1);
}

/* ------------------------------------------------------------------------ */
/* target_300 (long)                                                        */
/* ------------------------------------------------------------------------ */

static void test_target_300(void)
{
    start();
    gc_set_percent(-1);
    gc_set_memory_limit(300 * (int64_t)TC_MiB);
    build_200();
    double t0 = tc_now();
    uint64_t rng = 17;
    garbage(4 * TC_GiB, &rng);
    double t = tc_now() - t0;
    uint64_t hwm = vm_hwm();
    stats(&ms);
    printf("     target_300: base %.1f MiB; GOGC=off, limit 300 MiB, 200 MiB live, 4 GiB of garbage in %.1fs: "
           "%u collections, VmHWM %.1f MiB\n",
           MB(g_base), t, ms.num_gc, MB(hwm));
    TC_CHECK(hwm <= 330 * TC_MiB, "GOGC=off, limit 300 MiB, 200 MiB live, 4 GiB of garbage: VmHWM %.1f MiB > 330",
             MB(hwm));
    check_recs("target_300");
    check_chunks_in(g_chunks, g_nchunks, CHUNK_SEED, NULL, "target_300");

    drop_all();
    gc_set_percent(100);
    gc_collect();
    double took;
    uint64_t rss = wait_rss_below(0, 100 * TC_MiB, 10, &took); /* absolute */
    printf("     target_300: dropped, GOGC=100, gc_collect: VmRSS %.1f MiB after %.1fs\n", MB(rss), took);
    TC_CHECK(rss < 100 * TC_MiB, "live heap dropped, gc_collect: VmRSS still %.1f MiB after %.1fs with no call",
             MB(rss), took);

    build_200();
    tc_collect_clean();
    drop_all();
    gc_free_os_memory();
    rss = vm_rss();
    printf("     target_300: rebuilt, dropped, gc_free_os_memory: VmRSS %.1f MiB\n", MB(rss));
    TC_CHECK(rss < 64 * TC_MiB, "gc_free_os_memory after dropping 200 MiB: VmRSS %.1f MiB", MB(rss));
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        tc_current = argv[2];
        if (strcmp(argv[2], "madvfree") == 0)
            return child_madvfree();
        if (strcmp(argv[2], "scavtrace") == 0)
            return child_scavtrace();
        if (strcmp(argv[2], "enomem") == 0)
            return child_enomem();
        if (strcmp(argv[2], "gctrace_env") == 0)
            return child_gctrace_env();
        if (strcmp(argv[2], "limiter_trace") == 0)
            return child_limiter_trace();
        TC_FAIL("unknown child %s", argv[2]);
    }
    static const tc_subtest tests[] = {
        {"limit_rss", test_limit_rss},
        {"limit_goal", test_limit_goal},
        {"limit_change", test_limit_change},
        {"release_background", test_release_background},
        {"free_os_memory", test_free_os_memory},
        {"released_exact", test_released_exact},
        {"madvfree", test_madvfree},
        {"scavtrace", test_scavtrace},
        {"enomem", test_enomem},
        {"limiter", test_limiter},
        {"gctrace_env", test_gctrace_env},
        {"limiter_trace", test_limiter_trace},
        {"mark_overflow", test_mark_overflow},
        {"target_300", test_target_300},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
