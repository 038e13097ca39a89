/*
 * pause.c - how long can the program be held up?  A large, pointer-rich live
 * heap is churned at random while the program watches its own clock.
 *
 *   pause [records [seconds [replacements]]]     (defaults 3000000, 20, 0)
 *
 * Setup: a table (one scanned array of `records` pointers, from the memory
 * manager like everything else) is filled with records.  A record is 64 bytes:
 * a pointer to its child, a key and six words of payload; its child is 32
 * bytes: a pointer back to the record, the key and two words of payload.  So
 * every slot holds 96 bytes in two objects plus the table's 8, three pointers
 * in all: about 312 MB live with the default 3 million records (bdwgc rounds
 * 64 and 32 bytes up to 80 and 48, because it adds a byte to each object for
 * interior pointers).  After the setup one full collection is forced, so the
 * live heap can be measured as the system counts it; that collection is not
 * part of the measured phase.
 *
 * Measured phase: repeatedly draw a random slot (xorshift64*, fixed seed, the
 * same numbers in the Go version) and replace its record by a new record with
 * a new child; the old pair becomes garbage (under malloc it is freed).  Every
 * 64 replacements the program reads CLOCK_MONOTONIC and records the gap since
 * the previous reading: normally a few microseconds (64 replacements), much
 * more when the program was stopped (by a stop-the-world pause, a mark assist,
 * a sweep, the scheduler, a page fault storm...).  The phase ends after
 * `seconds` seconds or `replacements` replacements, whichever comes first (0:
 * no limit of that kind; at least one limit must be set).
 *
 * At the end every record is checked (a damaged one means the collector freed
 * or reused a live object) and the program prints:
 *
 *   pause table: ...                     (the same for every system)
 *   pause (<system>): ...                (information for people)
 *   PAUSE maxgap_ns=<ns> p50_ns= p99_ns= p999_ns= gaps=<n> replacements=<n>
 *         seconds=<s> rate=<replacements/s> live_bytes=<n> gcs=<n>
 *         gc_maxpause_ns=<ns> gc_totalpause_ns=<ns>
 *         hist=50:<n>,100:<n>,...,1000000:<n>,inf:<n>
 *   PAUSEGC <ns>,<ns>,...                 the collector's own pause of each
 *                                         collection in the phase (last 256)
 *   PAUSEHIST <lo_ns>:<hi_ns>:<n>,...     the fine histogram of gaps
 *   BENCH collections=... (bench_report(): the whole process, setup included)
 *
 * (one line each).  hist= is a coarse histogram: `50:n` counts gaps below
 * 50 us, `100:n` those from 50 to 100 us, and so on up to 1 s; `inf:n` counts
 * gaps of 1 s and more.  PAUSEHIST has about 16 buckets per power of two (6%
 * wide), which is also what the percentiles are read from: a percentile is
 * the upper edge of the bucket it falls in (never above the maximum gap).
 * gcs, gc_maxpause_ns and gc_totalpause_ns cover the measured phase only
 * (see shim.h for what each collector's "pause" is).
 */
#include "shim.h"

enum { kCheckEvery = 64, kSubBits = 4, kSub = 1 << kSubBits, kFineBuckets = 64 * kSub };

typedef struct child child;
typedef struct record {
    child *child;
    uint64_t key;
    uint64_t payload[6];
} record;
struct child {
    record *parent;
    uint64_t key;
    uint64_t payload[2];
};
_Static_assert(sizeof(record) == 64, "record must be 64 bytes");
_Static_assert(sizeof(child) == 32, "child must be 32 bytes");

/* Coarse buckets: upper edges in microseconds; one more bucket for the rest. */
static const uint64_t coarse_us[] = {50,    100,   200,    500,    1000,   2000,   5000,
                                     10000, 20000, 50000, 100000, 200000, 500000, 1000000};
enum { kCoarse = sizeof coarse_us / sizeof coarse_us[0] + 1 };

static uint64_t fine[kFineBuckets];
static uint64_t coarse[kCoarse];

/* Fine buckets: values below 16 ns have one bucket each; above, each power
 * of two [2^e, 2^(e+1)) is cut into 16 equal buckets. */
static inline int fine_index(uint64_t v)
{
    if (v < kSub) return (int)v;
    int e = 63 - __builtin_clzll(v); /* e >= kSubBits */
    int idx = (e - kSubBits + 1) * kSub + (int)((v >> (e - kSubBits)) & (kSub - 1));
    return idx < kFineBuckets ? idx : kFineBuckets - 1;
}
static inline uint64_t fine_lo(int idx)
{
    if (idx < kSub) return (uint64_t)idx;
    int e = idx / kSub - 1 + kSubBits, m = idx % kSub;
    return (uint64_t)(kSub + m) << (e - kSubBits);
}
static inline uint64_t fine_hi(int idx) { return idx < kSub ? (uint64_t)idx + 1 : fine_lo(idx + 1); }

static inline void record_gap(uint64_t gap)
{
    fine[fine_index(gap)]++;
    int c = 0;
    while (c < kCoarse - 1 && gap >= coarse_us[c] * 1000) c++;
    coarse[c]++;
}

/* The upper edge of the bucket holding the q-quantile, at most max. */
static uint64_t quantile(uint64_t n, double q, uint64_t max)
{
    if (n == 0) return 0;
    uint64_t rank = (uint64_t)(q * (double)n);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    uint64_t cum = 0;
    for (int i = 0; i < kFineBuckets; i++) {
        cum += fine[i];
        if (cum >= rank) {
            uint64_t hi = fine_hi(i);
            return hi < max ? hi : max;
        }
    }
    return max;
}

static record *new_record(uint64_t key)
{
    record *r = bench_alloc(sizeof(record));
    child *c = bench_alloc(sizeof(child));
    r->key = key;
    for (int i = 0; i < 6; i++) r->payload[i] = key * (uint64_t)(i + 3);
    c->parent = r;
    c->key = key;
    c->payload[0] = ~key;
    c->payload[1] = key ^ 0x5555555555555555ULL;
    r->child = c;
    return r;
}

static void drop_record(record *r)
{
#if BENCH_GC
    (void)r;
#else
    if (r) {
        bench_free(r->child);
        bench_free(r);
    }
#endif
}

static int record_ok(const record *r)
{
    if (!r || !r->child) return 0;
    const child *c = r->child;
    if (c->parent != r || c->key != r->key) return 0;
    if (c->payload[0] != ~r->key || c->payload[1] != (r->key ^ 0x5555555555555555ULL)) return 0;
    for (int i = 0; i < 6; i++)
        if (r->payload[i] != r->key * (uint64_t)(i + 3)) return 0;
    return 1;
}

int main(int argc, char **argv)
{
    bench_init();
    long records = argc > 1 ? atol(argv[1]) : 3000000;
    double seconds = argc > 2 ? atof(argv[2]) : 20.0;
    long long max_repl = argc > 3 ? atoll(argv[3]) : 0;
    if (records < 1) records = 1;
    if (seconds <= 0 && max_repl <= 0) {
        fprintf(stderr, "pause: give a duration or a number of replacements\n");
        return 2;
    }

    /* Setup: the table and its records.  Keys are numbered, not random, so
     * the setup does not consume random numbers. */
    record **table = bench_alloc_zero((size_t)records * sizeof(record *));
    for (long i = 0; i < records; i++) table[i] = new_record((uint64_t)i + 1);

    printf("pause table: %ld records of %zu B, each with a child of %zu B (%.1f MiB with the table)\n",
           records, sizeof(record), sizeof(child),
           (double)records * (sizeof(record) + sizeof(child) + sizeof(record *)) / 1048576.0);
    bench_collect();
    uint64_t live = bench_heap_inuse();
    size_t rec_size = bench_usable_size(table[0]), child_size = bench_usable_size(table[0]->child);
    printf("pause (%s): live heap after setup %.1f MiB as the system counts it; objects of %zu and %zu B\n",
           BENCH_SYSTEM, (double)live / 1048576.0, rec_size, child_size);
    fflush(stdout);

    /* Measured phase. */
    uint64_t seed = 0x2545F4914F6CDD1DULL;
    uint64_t next_key = (uint64_t)records + 1;
    uint64_t limit_ns = seconds > 0 ? (uint64_t)(seconds * 1e9) : UINT64_MAX;
    uint64_t repl_limit = max_repl > 0 ? (uint64_t)max_repl : UINT64_MAX;
    uint64_t repl = 0, gaps = 0, max_gap = 0;

    bench_gc_mark();
    uint64_t t0 = mono_ns(), prev = t0, now = t0;
    for (;;) {
        for (int k = 0; k < kCheckEvery && repl < repl_limit; k++, repl++) {
            uint64_t r = rng_next(&seed);
            long idx = (long)((r >> 16) % (uint64_t)records);
            record *old = table[idx];
            table[idx] = new_record(next_key++);
            drop_record(old);
        }
        now = mono_ns();
        uint64_t gap = now - prev;
        prev = now;
        record_gap(gap);
        gaps++;
        if (gap > max_gap) max_gap = gap;
        if (now - t0 >= limit_ns || repl >= repl_limit) break;
    }
    uint64_t elapsed = now - t0;
    bench_gcphase ph;
    bench_gc_phase(&ph);

    /* Check every record. */
    long damaged = 0;
    for (long i = 0; i < records; i++)
        if (!record_ok(table[i])) damaged++;
    if (damaged) {
        fprintf(stderr, "pause: %ld of %ld records damaged\n", damaged, records);
        return 1;
    }
    printf("pause table: all %ld records intact\n", records);

    double secs = (double)elapsed / 1e9;
    double rate = secs > 0 ? (double)repl / secs : 0;
    uint64_t p50 = quantile(gaps, 0.50, max_gap), p99 = quantile(gaps, 0.99, max_gap),
             p999 = quantile(gaps, 0.999, max_gap);
    printf("pause (%s): %llu replacements in %.2f s (%.2f M/s); %llu gaps: max %.3f ms, p99 %.3f ms, "
           "p99.9 %.3f ms; %llu collections, longest collector pause %.3f ms\n",
           BENCH_SYSTEM, (unsigned long long)repl, secs, rate / 1e6, (unsigned long long)gaps, max_gap / 1e6,
           p99 / 1e6, p999 / 1e6, (unsigned long long)ph.collections, ph.max_pause_ns / 1e6);

    printf("PAUSE maxgap_ns=%llu p50_ns=%llu p99_ns=%llu p999_ns=%llu gaps=%llu replacements=%llu "
           "seconds=%.3f rate=%.0f live_bytes=%llu gcs=%llu gc_maxpause_ns=%llu gc_totalpause_ns=%llu hist=",
           (unsigned long long)max_gap, (unsigned long long)p50, (unsigned long long)p99,
           (unsigned long long)p999, (unsigned long long)gaps, (unsigned long long)repl, secs, rate,
           (unsigned long long)live, (unsigned long long)ph.collections,
           (unsigned long long)ph.max_pause_ns, (unsigned long long)ph.total_pause_ns);
    for (int c = 0; c < kCoarse; c++) {
        if (c < kCoarse - 1)
            printf("%llu:%llu,", (unsigned long long)coarse_us[c], (unsigned long long)coarse[c]);
        else
            printf("inf:%llu\n", (unsigned long long)coarse[c]);
    }
    printf("PAUSEGC ");
    for (int i = 0; i < ph.npauses; i++) printf("%s%llu", i ? "," : "", (unsigned long long)ph.pause_ns[i]);
    printf("\nPAUSEHIST ");
    int first = 1;
    for (int i = 0; i < kFineBuckets; i++) {
        if (!fine[i]) continue;
        printf("%s%llu:%llu:%llu", first ? "" : ",", (unsigned long long)fine_lo(i),
               (unsigned long long)fine_hi(i), (unsigned long long)fine[i]);
        first = 0;
    }
    printf("\n");

    for (long i = 0; i < records; i++) {
        drop_record(table[i]);
        table[i] = NULL;
    }
    bench_free(table);
    bench_report();
    return 0;
}
