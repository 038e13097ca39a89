/*
 * memlimit.c - does the collector keep to a memory limit, and does it give
 * memory back to the OS?  (Issue 4.)  Collectors only: tricolor and bdwgc
 * (go/memlimit.go is the same program in Go).
 *
 *   memlimit [live_mib [garbage_mib [limit_mib [window_s [threshold_mib [replace_every]]]]]]
 *            (defaults 200 4096 300 20 live_mib/2 16)
 *
 * The live set: a table (one scanned array from the collector) of records,
 * each with a child.  A record is a pointer to its child, its key and 5, 13,
 * 21 or 29 words of payload (56, 120, 184 or 248 bytes, by key % 4: sizes
 * just under a size class, so bdwgc's extra byte costs nothing); its child is
 * 24 bytes: a pointer back to the record, the key and ~key.  That is 184
 * bytes a slot on average with the table's pointer, so live_mib MiB make
 * live_mib * 2^20 / 184 records (tricolor and bdwgc round the child up to 32
 * bytes, Go keeps 24).
 *
 * 1. Limit phase.  No proportional pacing, a memory limit only:
 *      tricolor  gc_set_percent(-1), gc_set_memory_limit(limit)
 *      bdwgc     GC_set_max_heap_size(limit): a hard cap on its heap (bdwgc
 *                has no soft limit), with GC_set_max_retries(1) so that it
 *                collects before giving up (MEMLIMIT_BDWGC_RETRIES=0, bdwgc's
 *                default, fails at the first heap growth refused).  When an
 *                allocation returns NULL all the same, the program stops the
 *                phase and reports status=oom (with the garbage allocated so
 *                far) instead of crashing.
 *    Build the live set, then allocate garbage_mib MiB of garbage: objects
 *    of 16 B to 32 KiB (80% of them 16-256 B, 15% 256 B-4 KiB, 5% 4-32 KiB),
 *    a quarter of them scanned and holding pointers to live records, each
 *    written once per 4 KiB page (so each is resident, as data a program
 *    writes would be), the last 256 kept in a ring (short-lived rather than
 *    dead at once).  Every replace_every garbage objects a random live record
 *    is replaced by a new one (0: never), so the live set churns but keeps
 *    its size.  Random numbers: xorshift64*, fixed seed, the same in C and
 *    Go, so every system does exactly the same allocations.  At the end each
 *    record is checked and the keys' checksum is compared with the one kept
 *    along the way.
 * 2. Release phase.  Drop all live data (the table and the ring), go back to
 *    the default pacing (tricolor: gc_set_memory_limit(INT64_MAX),
 *    gc_set_percent(100); bdwgc: GC_set_max_heap_size(0), unbounded), run
 *    one collection (gc_collect, GC_gcollect), then, with no further call
 *    into the collector, read VmRSS every 50 ms for window_s seconds: RSS
 *    right after the collection, the time until RSS fell below
 *    threshold_mib ("never" if not within the window), RSS at the end.
 * 3. Free phase.  Build the live set again (default pacing), drop it, then
 *    call the explicit release (tricolor gc_free_os_memory, bdwgc
 *    GC_gcollect_and_unmap): RSS before and right after, and how long the
 *    call took; for information also RSS after each of 3 more calls (bdwgc
 *    unmaps only blocks that were free before the collection).
 *
 * RSS is VmRSS and VmHWM from /proc/self/status (read with pread into a
 * buffer on the stack).  VmHWM, the peak, is the process's since start (it
 * is not reset between phases: that would also reset the peak that wait4()
 * reports to measure.c).
 *
 * Output (one line each; the MEMLIMIT lines are for run.sh, key=value):
 *
 *   memlimit: ...                         parameters (the same on every system)
 *   memlimit check: ...                   the checks (the same on every system)
 *   memlimit (<system>): ...              information for people
 *   MEMLIMIT phase=limit status=ok|oom live_mib= garbage_mib= limit_mib=
 *            records= replacements= garbage_done_mib= seconds= build_seconds=
 *            cpu_s= gcs= peak_rss_kb= rss_kb= retained_kb= checksum=
 *            [bdwgc_retries=]
 *   MEMLIMIT phase=release gc_ms= rss_before_kb= rss_after_gc_kb=
 *            threshold_mib= below_ms=<ms|never> window_s= rss_end_kb=
 *            rss_min_kb= cpu_s= retained_end_kb=
 *   MEMLIMITRSS <ms>:<kB>,...             the release phase's samples
 *   MEMLIMIT phase=free rebuild_seconds= rss_before_kb= free_ms= rss_after_kb= retained_after_kb=
 *            rss_after_more_kb=<kB>,<kB>,<kB>
 *   BENCH collections=... (bench_report(): the whole process)
 *
 * retained: what the collector holds from the OS less what it gave back, as
 * it counts it (tricolor: sys - heap_released; bdwgc: its heap less unmapped
 * blocks, without its own metadata; Go: Sys - HeapReleased).
 */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#if !defined(SYS_TRICOLOR) && !defined(SYS_BDWGC)
#error "memlimit is for the collectors: compile with -DSYS_TRICOLOR or -DSYS_BDWGC"
#endif

/* ------------------------------------------------------------------------ */
/* The collector's side                                                      */

#if defined(SYS_TRICOLOR)

static void *sys_alloc(size_t n, int scan) { return scan ? gc_alloc(n) : gc_alloc_noscan(n); }
static void sys_limit_on(int64_t bytes)
{
    gc_set_percent(-1);
    gc_set_memory_limit(bytes);
}
static void sys_limit_off(void)
{
    gc_set_memory_limit(INT64_MAX);
    gc_set_percent(100);
}
static void sys_collect(void) { gc_collect(); }
static void sys_release(void) { gc_free_os_memory(); }
static uint64_t sys_retained(void)
{
    static gc_memstats ms; /* large: keep it off the stack */
    gc_read_memstats(&ms);
    return ms.sys > ms.heap_released ? ms.sys - ms.heap_released : 0;
}
#define SYS_LIMIT_HOW "gc_set_percent(-1), gc_set_memory_limit"
#define SYS_SETTINGS() ""
#define SYS_RELEASE_HOW "gc_free_os_memory"

#elif defined(SYS_BDWGC)

static void *sys_alloc(size_t n, int scan) { return scan ? GC_MALLOC(n) : GC_MALLOC_ATOMIC(n); }
/* With bdwgc's default of 0 retries, the first time the heap cannot grow an
 * allocation returns NULL, even when a collection would have freed plenty;
 * with 1 it collects first and fails only if that did not help (the
 * "Out of Memory!  Trying to continue..." warnings on stderr).  1 by default
 * here; MEMLIMIT_BDWGC_RETRIES=n in the environment sets another value. */
static int bdwgc_retries = 1;
static void sys_limit_on(int64_t bytes)
{
    const char *e = getenv("MEMLIMIT_BDWGC_RETRIES");
    if (e && *e) bdwgc_retries = atoi(e);
    GC_set_max_retries((GC_word)bdwgc_retries);
    GC_set_max_heap_size((GC_word)bytes);
}
static void sys_limit_off(void) { GC_set_max_heap_size(0); }
static void sys_collect(void) { GC_gcollect(); }
static void sys_release(void) { GC_gcollect_and_unmap(); }
static uint64_t sys_retained(void)
{
    GC_word heap = 0; /* without the unmapped blocks */
    GC_get_heap_usage_safe(&heap, NULL, NULL, NULL, NULL);
    return heap;
}
#define SYS_LIMIT_HOW "GC_set_max_heap_size (a hard cap)"
static const char *bdwgc_settings(void)
{
    static char buf[48];
    snprintf(buf, sizeof buf, " bdwgc_retries=%d", bdwgc_retries);
    return buf;
}
#define SYS_SETTINGS() bdwgc_settings()
#define SYS_RELEASE_HOW "GC_gcollect_and_unmap"

#endif

/* ------------------------------------------------------------------------ */

typedef struct child child;
typedef struct record {
    child *child;
    uint64_t key;
    uint64_t payload[]; /* record_words(key) words */
} record;
struct child {
    record *parent;
    uint64_t key;
    uint64_t check; /* ~key */
};
_Static_assert(sizeof(record) == 16, "record header must be 16 bytes");
_Static_assert(sizeof(child) == 24, "child must be 24 bytes");

enum { kRing = 256, kSampleMs = 50, kSlotBytes = 184, kMaxSamples = 1 << 16 };
#define RNG_SEED 0x2545F4914F6CDD1DULL
#define KEY_MUL 0x9E3779B97F4A7C15ULL

/* Only globals hold the live data, so that dropping it is clearing them: the
 * collectors scan stacks conservatively, and a stale copy in a local could
 * keep the whole table alive. */
static record **g_table;
static long g_records;
static void *g_ring[kRing];

static uint32_t sample_ms[kMaxSamples];
static uint32_t sample_kb[kMaxSamples];

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* VmRSS and VmHWM in kB from /proc/self/status; 0 when unreadable. */
static int status_fd = -1;
static void read_rss(uint64_t *rss_kb, uint64_t *hwm_kb)
{
    char buf[8192];
    *rss_kb = 0;
    if (hwm_kb) *hwm_kb = 0;
    if (status_fd < 0) status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (status_fd < 0) return;
    ssize_t n;
    do n = pread(status_fd, buf, sizeof buf - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return;
    buf[n] = '\0';
    const char *p = strstr(buf, "VmRSS:");
    if (p) *rss_kb = strtoull(p + 6, NULL, 10);
    if (hwm_kb && (p = strstr(buf, "VmHWM:"))) *hwm_kb = strtoull(p + 6, NULL, 10);
}
static uint64_t rss_now(void)
{
    uint64_t r;
    read_rss(&r, NULL);
    return r;
}

/* Sleep until CLOCK_MONOTONIC reaches t (ns); the collector's stop signal
 * may interrupt the sleep, so go back to it. */
static void sleep_until(uint64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* Overwrite the stack below the caller with zeros, so that stale pointers
 * left by earlier calls do not keep dropped data alive. */
static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char buf[64 * 1024];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static inline int record_words(uint64_t key) { return 5 + 8 * (int)(key & 3); }
static inline uint64_t key_hash(uint64_t key) { return key * KEY_MUL; }

static record *new_record(uint64_t key)
{
    int nw = record_words(key);
    record *r = sys_alloc(sizeof(record) + (size_t)nw * 8, 1);
    if (!r) return NULL;
    child *c = sys_alloc(sizeof(child), 1);
    if (!c) return NULL;
    r->key = key;
    for (int i = 0; i < nw; i++) r->payload[i] = key * (uint64_t)(i + 3);
    c->parent = r;
    c->key = key;
    c->check = ~key;
    r->child = c;
    return r;
}

static int record_ok(const record *r)
{
    if (!r || !r->child) return 0;
    const child *c = r->child;
    if (c->parent != r || c->key != r->key || c->check != ~r->key) return 0;
    int nw = record_words(r->key);
    for (int i = 0; i < nw; i++)
        if (r->payload[i] != r->key * (uint64_t)(i + 3)) return 0;
    return 1;
}

/* Fill g_table with n records keyed 1..n; returns how many were built (fewer
 * when an allocation failed) and adds their keys' hashes to *sum. */
static __attribute__((noinline)) long build_live(long n, uint64_t *sum)
{
    g_records = n;
    g_table = sys_alloc((size_t)n * sizeof(record *), 1);
    if (!g_table) return 0;
    for (long i = 0; i < n; i++) {
        record *r = new_record((uint64_t)i + 1);
        if (!r) return i;
        g_table[i] = r;
        *sum += key_hash((uint64_t)i + 1);
    }
    return n;
}

/* Check every record of g_table; returns the number damaged and the keys'
 * checksum in *sum.  Empty slots (after a failed build) are skipped. */
static __attribute__((noinline)) long check_live(long built, uint64_t *sum)
{
    long damaged = 0;
    *sum = 0;
    if (!g_table) return built > 0;
    for (long i = 0; i < built; i++) {
        if (!record_ok(g_table[i])) damaged++;
        else *sum += key_hash(g_table[i]->key);
    }
    return damaged;
}

/* A garbage object's size from a random number: 80% 16-256 B, 15%
 * 256 B-4 KiB, 5% 4-32 KiB, always a multiple of 8. */
static inline size_t garbage_size(uint64_t r)
{
    uint64_t u = r % 100, v = r >> 8;
    if (u < 80) return 16 + 8 * (size_t)(v % 31);
    if (u < 95) return 256 + 64 * (size_t)(v % 61);
    return 4096 + 512 * (size_t)(v % 57);
}

typedef struct churn {
    uint64_t done_bytes, objects, replacements;
    int oom;
} churn;

/* The limit phase's garbage: see the head of the file. */
static __attribute__((noinline)) void make_garbage(uint64_t garbage_bytes, long replace_every, uint64_t *sum,
                                                   churn *out)
{
    uint64_t seed = RNG_SEED, next_key = (uint64_t)g_records + 1;
    uint64_t n = (uint64_t)g_records;
    memset(out, 0, sizeof *out);
    while (out->done_bytes < garbage_bytes) {
        uint64_t r = rng_next(&seed);
        size_t size = garbage_size(r);
        int scan = ((r >> 40) & 3) == 0;
        void *p = sys_alloc(size, scan);
        if (!p) {
            out->oom = 1;
            return;
        }
        if (scan) {
            /* Pointers into the live set, one per 4 KiB and one at the end. */
            uint64_t r2 = rng_next(&seed);
            record **pp = p, *a = g_table[(r2 >> 16) % n], *b = g_table[(r2 >> 40) % n];
            size_t words = size / 8;
            for (size_t i = 0; i < words; i += 512) pp[i] = a;
            pp[words - 1] = b;
        } else {
            unsigned char *bp = p;
            for (size_t i = 0; i < size; i += 4096) bp[i] = (unsigned char)r;
            bp[size - 1] = (unsigned char)(r >> 8);
        }
        g_ring[out->objects % kRing] = p;
        out->objects++;
        out->done_bytes += size;
        if (replace_every > 0 && out->objects % (uint64_t)replace_every == 0) {
            uint64_t r3 = rng_next(&seed);
            uint64_t idx = (r3 >> 16) % n;
            record *rec = new_record(next_key);
            if (!rec) {
                out->oom = 1;
                return;
            }
            *sum -= key_hash(g_table[idx]->key);
            *sum += key_hash(next_key);
            g_table[idx] = rec;
            next_key++;
            out->replacements++;
        }
    }
}

static void drop_live(void)
{
    g_table = NULL;
    memset(g_ring, 0, sizeof g_ring);
    scrub_stack();
}

int main(int argc, char **argv)
{
    bench_init();
    long live_mib = argc > 1 ? atol(argv[1]) : 200;
    long garbage_mib = argc > 2 ? atol(argv[2]) : 4096;
    long limit_mib = argc > 3 ? atol(argv[3]) : 300;
    double window_s = argc > 4 ? atof(argv[4]) : 20.0;
    long threshold_mib = argc > 5 ? atol(argv[5]) : live_mib / 2;
    long replace_every = argc > 6 ? atol(argv[6]) : 16;
    if (live_mib < 1 || garbage_mib < 0 || limit_mib < 1 || window_s < 0 || threshold_mib < 1 || replace_every < 0) {
        fprintf(stderr, "memlimit: bad arguments\n");
        return 2;
    }
    long records = (long)(((uint64_t)live_mib << 20) / kSlotBytes);
    uint64_t garbage_bytes = (uint64_t)garbage_mib << 20;

    printf("memlimit: %ld records of 56-248 B, each with a 24 B child (%ld MiB nominal with the table); "
           "%ld MiB of garbage in objects of 16 B-32 KiB; a record replaced every %ld; limit %ld MiB; "
           "release window %.1f s, threshold %ld MiB\n",
           records, live_mib, garbage_mib, replace_every, limit_mib, window_s, threshold_mib);
    fflush(stdout);

    /* 1. Limit phase. */
    sys_limit_on((int64_t)limit_mib << 20);
    bench_gc_mark();
    double cpu0 = cpu_seconds();
    uint64_t t0 = mono_ns(), sum = 0;
    long built = build_live(records, &sum);
    uint64_t t_built = mono_ns();
    churn ch = {0, 0, 0, 0};
    if (built == records) make_garbage(garbage_bytes, replace_every, &sum, &ch);
    int oom = built < records || ch.oom;
    uint64_t t1 = mono_ns();
    double cpu1 = cpu_seconds();
    bench_gcphase ph;
    bench_gc_phase(&ph);
    uint64_t rss1, hwm1;
    read_rss(&rss1, &hwm1);
    uint64_t retained1 = sys_retained();

    uint64_t check = 0;
    long damaged = check_live(built, &check);
    if (damaged || check != sum) {
        fprintf(stderr, "memlimit: limit phase: %ld of %ld records damaged (checksum %016llx, expected %016llx)\n",
                damaged, built, (unsigned long long)check, (unsigned long long)sum);
        return 1;
    }
    printf("memlimit check: limit-phase live data intact\n");
    if (oom)
        printf("memlimit (%s): OUT OF MEMORY under the limit (%s) after %ld of %ld records and %.1f MiB of "
               "garbage: the limit phase stops there\n",
               BENCH_SYSTEM, SYS_LIMIT_HOW, built, records, ch.done_bytes / 1048576.0);
    printf("memlimit (%s): limit phase %.2f s (build %.2f s), %llu collections, peak RSS %.1f MiB, RSS %.1f MiB, "
           "retained %.1f MiB, %llu replacements\n",
           BENCH_SYSTEM, (t1 - t0) / 1e9, (t_built - t0) / 1e9, (unsigned long long)ph.collections, hwm1 / 1024.0,
           rss1 / 1024.0, retained1 / 1048576.0, (unsigned long long)ch.replacements);
    printf("MEMLIMIT phase=limit status=%s live_mib=%ld garbage_mib=%ld limit_mib=%ld records=%ld built=%ld "
           "replacements=%llu garbage_done_mib=%.1f seconds=%.3f build_seconds=%.3f cpu_s=%.2f gcs=%llu "
           "peak_rss_kb=%llu rss_kb=%llu retained_kb=%llu checksum=%016llx%s\n",
           oom ? "oom" : "ok", live_mib, garbage_mib, limit_mib, records, built,
           (unsigned long long)ch.replacements, ch.done_bytes / 1048576.0, (t1 - t0) / 1e9, (t_built - t0) / 1e9,
           cpu1 - cpu0, (unsigned long long)ph.collections, (unsigned long long)hwm1, (unsigned long long)rss1,
           (unsigned long long)(retained1 / 1024), (unsigned long long)sum, SYS_SETTINGS());
    fflush(stdout);

    /* 2. Release phase: drop everything, default pacing, one collection,
     * then only watch. */
    drop_live();
    sys_limit_off();
    uint64_t rss_before = rss_now();
    double cpu2 = cpu_seconds();
    uint64_t g0 = mono_ns();
    sys_collect();
    uint64_t g1 = mono_ns();
    uint64_t threshold_kb = (uint64_t)threshold_mib * 1024;
    uint64_t window_ns = (uint64_t)(window_s * 1e9);
    int nsamples = 0;
    long below_ms = -1;
    uint64_t rss_min = UINT64_MAX, rss_end = 0, rss_after_gc = 0;
    for (uint64_t k = 0;; k++) {
        uint64_t due = g1 + k * (uint64_t)kSampleMs * 1000000u;
        if (due > g1 + window_ns) break;
        if (k > 0) sleep_until(due);
        uint64_t r = rss_now();
        uint64_t ms = (mono_ns() - g1) / 1000000u;
        if (k == 0) rss_after_gc = r;
        if (nsamples < kMaxSamples) {
            sample_ms[nsamples] = (uint32_t)ms;
            sample_kb[nsamples] = (uint32_t)r;
            nsamples++;
        }
        if (below_ms < 0 && r < threshold_kb) below_ms = (long)ms;
        if (r < rss_min) rss_min = r;
        rss_end = r;
    }
    double cpu3 = cpu_seconds();
    uint64_t retained2 = sys_retained();
    char below[32];
    if (below_ms >= 0) snprintf(below, sizeof below, "%ld", below_ms);
    else snprintf(below, sizeof below, "never");
    printf("memlimit (%s): release: collection %.1f ms, RSS %.1f MiB before it, %.1f MiB after; below %ld MiB: %s%s; "
           "after %.1f s %.1f MiB (min %.1f MiB), retained %.1f MiB\n",
           BENCH_SYSTEM, (g1 - g0) / 1e6, rss_before / 1024.0, rss_after_gc / 1024.0, threshold_mib, below,
           below_ms >= 0 ? " ms" : "", window_s, rss_end / 1024.0, rss_min / 1024.0, retained2 / 1048576.0);
    printf("MEMLIMIT phase=release gc_ms=%.3f rss_before_kb=%llu rss_after_gc_kb=%llu threshold_mib=%ld below_ms=%s "
           "window_s=%.1f rss_end_kb=%llu rss_min_kb=%llu cpu_s=%.2f retained_end_kb=%llu\n",
           (g1 - g0) / 1e6, (unsigned long long)rss_before, (unsigned long long)rss_after_gc, threshold_mib, below,
           window_s, (unsigned long long)rss_end, (unsigned long long)rss_min, cpu3 - cpu2,
           (unsigned long long)(retained2 / 1024));
    printf("MEMLIMITRSS ");
    for (int i = 0; i < nsamples; i++) printf("%s%u:%u", i ? "," : "", sample_ms[i], sample_kb[i]);
    printf("\n");
    fflush(stdout);

    /* 3. Free phase: the live set again, dropped, then the explicit release. */
    uint64_t f0 = mono_ns(), sum3 = 0;
    long built3 = build_live(records, &sum3);
    uint64_t f1 = mono_ns();
    damaged = check_live(built3, &check);
    if (built3 < records || damaged || check != sum3) {
        fprintf(stderr, "memlimit: free phase: built %ld of %ld records, %ld damaged\n", built3, records, damaged);
        return 1;
    }
    printf("memlimit check: rebuilt live data intact\n");
    drop_live();
    uint64_t rss_pre = rss_now();
    uint64_t r0 = mono_ns();
    sys_release();
    uint64_t r1 = mono_ns();
    uint64_t rss_post = rss_now();
    uint64_t retained3 = sys_retained();
    /* For information: RSS after a second, third and fourth call (bdwgc
     * unmaps only blocks that were already free at an earlier collection). */
    char more[128];
    int mlen = 0;
    for (int i = 0; i < 3; i++) {
        sys_release();
        mlen += snprintf(more + mlen, sizeof more - (size_t)mlen, "%s%llu", i ? "," : "",
                         (unsigned long long)rss_now());
    }
    printf("memlimit (%s): free: rebuild %.2f s, RSS %.1f MiB before %s, %.1f MiB after; "
           "the call took %.1f ms; retained %.1f MiB; RSS after 3 more calls: %s kB\n",
           BENCH_SYSTEM, (f1 - f0) / 1e9, rss_pre / 1024.0, SYS_RELEASE_HOW, rss_post / 1024.0,
           (r1 - r0) / 1e6, retained3 / 1048576.0, more);
    printf("MEMLIMIT phase=free rebuild_seconds=%.3f rss_before_kb=%llu free_ms=%.3f "
           "rss_after_kb=%llu retained_after_kb=%llu rss_after_more_kb=%s\n",
           (f1 - f0) / 1e9, (unsigned long long)rss_pre, (r1 - r0) / 1e6,
           (unsigned long long)rss_post, (unsigned long long)(retained3 / 1024), more);
    bench_report();
    return 0;
}
