/*
 * make_map.c - tricolor's maps (GC_MAP, gc_make_map, gc_map_set,
 * gc_map_lookup, gc_map_delete) against Go's map (go/make_map.go, the same
 * program in Go) and glib's GHashTable.
 *
 *   make_map [small [big [strings [ops]]]]     (defaults 1000 1000000 100000 2000000)
 *
 * Built twice:
 *   -DSYS_TRICOLOR                tricolor's typed map macros over gc_mapassign,
 *                                 gc_mapaccess, gc_mapdelete;
 *   -DSYS_MALLOC -DBENCH_GHASH    glib's GHashTable (libglib2.0-dev), plain
 *                                 malloc, no collector.  uint64 keys are stored
 *                                 directly in the key pointer (g_direct_hash,
 *                                 g_direct_equal, GUINT_TO_POINTER: a 64-bit
 *                                 pointer holds the whole key), values likewise
 *                                 in the value pointer.  That is GHashTable's
 *                                 fastest form (no allocation and no indirection
 *                                 per key, as in the other two maps, which store
 *                                 keys and values inline); g_int64_hash would
 *                                 need each key stored elsewhere and reached
 *                                 through a pointer.  g_direct_hash uses the key's
 *                                 low 32 bits: the keys are random, so that is a
 *                                 good hash here.  String keys: g_str_hash and
 *                                 g_str_equal, the table pointing to the caller's
 *                                 strings (no copy, as Go's map[string]).  A
 *                                 round's table is destroyed inside the timed
 *                                 loop (free is GHashTable's share of what a
 *                                 collector does for the other two).
 *
 * Keys: xorshift64* numbers (shim.h's rng_next, the same in Go), all distinct.
 * Values: key ^ 0x5bd1e995.  For n = small (cache-resident) and n = big
 * (memory-bound), each over about `ops` operations:
 *   u64_insert_<n>   insert n keys into a map made with no size hint; a new map
 *                    each round, ops/n rounds (at least 1)
 *   u64_hit_<n>      v, ok := m[k] for keys present, in insertion order, `ops` times
 *   u64_miss_<n>     the same for keys absent (another seed)
 *   u64_delete_<n>   delete all n keys in insertion order (the map is built
 *                    untimed before each round), ops/n rounds
 * then
 *   grow_insert_max, grow_insert_p9999, grow_insert_p50
 *                    while a map made with no hint grows to `big` entries,
 *                    each insert timed alone (CLOCK_MONOTONIC before and after;
 *                    the clock's cost, ~20 ns, is included): the longest, the
 *                    99.99th percentile and the median, in ns.  tricolor's tables
 *                    split one at a time (at most 1024 slots move per insert),
 *                    Go 1.19 evacuates two old buckets per insert while it grows,
 *                    GHashTable rehashes the whole table at once
 *   str_insert_<s>   string keys "key<i>", i < strings, into a map with no hint,
 *                    ops/strings rounds.  tricolor copies each key into the map
 *                    (an allocation per insert); Go and GHashTable keep the
 *                    caller's string
 *   str_hit_<s>      lookups of those keys through other copies of the same
 *                    strings (so that no system can compare by pointer), `ops` times
 *
 * Output: "make_map: ..." (parameters and checksums, the same on every
 * system), one "OP name=<measurement> ns=<value> ops=<count>" line per
 * measurement for run.sh (ns per operation, or ns for grow_insert_*), then
 * the BENCH line.
 */
#include "shim.h"

#include <stdbool.h>

#if defined(BENCH_GHASH)
#include <glib.h>
#if !defined(SYS_MALLOC)
#error "the GHashTable build is -DSYS_MALLOC -DBENCH_GHASH"
#endif
typedef GHashTable *u64map;
typedef GHashTable *strmap;
#define U64_NEW() g_hash_table_new(g_direct_hash, g_direct_equal)
#define U64_SET(m, k, v) g_hash_table_insert((m), GUINT_TO_POINTER(k), GUINT_TO_POINTER(v))
static inline bool U64_LOOKUP(GHashTable *m, uint64_t k, uint64_t *v)
{
    gpointer ov;
    if (!g_hash_table_lookup_extended(m, GUINT_TO_POINTER(k), NULL, &ov)) return false;
    *v = (uint64_t)GPOINTER_TO_SIZE(ov);
    return true;
}
#define U64_DEL(m, k) ((void)g_hash_table_remove((m), GUINT_TO_POINTER(k)))
#define U64_LEN(m) ((size_t)g_hash_table_size(m))
#define MAP_FREE(m) g_hash_table_destroy(m)
#define STR_NEW() g_hash_table_new(g_str_hash, g_str_equal)
#define STR_SET(m, k, v) g_hash_table_insert((m), (gpointer)(k), GUINT_TO_POINTER(v))
static inline bool STR_LOOKUP(GHashTable *m, const char *k, uint64_t *v)
{
    gpointer ov;
    if (!g_hash_table_lookup_extended(m, k, NULL, &ov)) return false;
    *v = (uint64_t)GPOINTER_TO_SIZE(ov);
    return true;
}
#define STR_LEN(m) ((size_t)g_hash_table_size(m))
#elif defined(SYS_TRICOLOR)
typedef GC_MAP(uint64_t, uint64_t) u64map;
typedef GC_MAP_STR(uint64_t) strmap;
#define U64_NEW() gc_make_map(u64map, 0)
#define U64_SET(m, k, v) gc_map_set((m), (k), (v))
#define U64_LOOKUP(m, k, vp) gc_map_lookup((m), (k), (vp))
#define U64_DEL(m, k) ((void)gc_map_delete((m), (k)))
#define U64_LEN(m) gc_map_len(m)
#define MAP_FREE(m) ((void)(m)) /* garbage for the collector */
#define STR_NEW() gc_make_map(strmap, 0)
#define STR_SET(m, k, v) gc_map_set((m), (k), (v))
#define STR_LOOKUP(m, k, vp) gc_map_lookup((m), (k), (vp))
#define STR_LEN(m) gc_map_len(m)
#else
#error "make_map: -DSYS_TRICOLOR, or -DSYS_MALLOC -DBENCH_GHASH"
#endif

#define VALXOR 0x5bd1e995u
#define NOINLINE __attribute__((noinline))

static uint64_t checksum;
static volatile uint64_t sink;

static void op_line(const char *name, long n, double ns, double ops)
{
    if (n >= 0)
        printf("OP name=%s_%ld ns=%.3f ops=%.0f\n", name, n, ns, ops);
    else
        printf("OP name=%s ns=%.3f ops=%.0f\n", name, ns, ops);
    fflush(stdout);
}

static uint64_t *make_keys(long n, uint64_t seed)
{
    uint64_t *k = malloc((size_t)n * sizeof *k);
    if (!k) bench_oom((size_t)n * sizeof *k);
    for (long i = 0; i < n; i++) k[i] = rng_next(&seed);
    return k;
}

static NOINLINE u64map u64_build(const uint64_t *keys, long n)
{
    u64map m = U64_NEW();
    for (long i = 0; i < n; i++) U64_SET(m, keys[i], keys[i] ^ VALXOR);
    return m;
}

static NOINLINE uint64_t u64_lookups(u64map m, const uint64_t *keys, long n, long ops)
{
    uint64_t sum = 0, v;
    long done = 0;
    while (done < ops) {
        long k = n < ops - done ? n : ops - done;
        for (long i = 0; i < k; i++)
            if (U64_LOOKUP(m, keys[i], &v)) sum += v + 1;
        done += k;
    }
    return sum;
}

static NOINLINE void u64_deletes(u64map m, const uint64_t *keys, long n)
{
    for (long i = 0; i < n; i++) U64_DEL(m, keys[i]);
}

static void u64_bench(long n, long ops, uint64_t seed)
{
    uint64_t *keys = make_keys(n, seed), *miss = make_keys(n, seed ^ 0xdeadbeefcafef00dull);
    long rounds = ops / n < 1 ? 1 : ops / n;

    /* insert */
    u64map m = u64_build(keys, n); /* untimed warm-up */
    MAP_FREE(m);
    uint64_t t0 = mono_ns();
    for (long r = 0; r < rounds; r++) {
        m = u64_build(keys, n);
        checksum += U64_LEN(m);
        if (r + 1 < rounds) MAP_FREE(m);
    }
    uint64_t t = mono_ns() - t0;
    op_line("u64_insert", n, (double)t / ((double)rounds * n), (double)rounds * n);

    /* lookups, hit and miss, in the last round's map */
    t0 = mono_ns();
    uint64_t hit = u64_lookups(m, keys, n, ops);
    t = mono_ns() - t0;
    op_line("u64_hit", n, (double)t / (double)ops, (double)ops);
    t0 = mono_ns();
    uint64_t missed = u64_lookups(m, miss, n, ops);
    t = mono_ns() - t0;
    op_line("u64_miss", n, (double)t / (double)ops, (double)ops);
    checksum += hit + missed;
    printf("make_map: u64 n=%ld hit_sum=%llu miss_sum=%llu\n", n, (unsigned long long)hit, (unsigned long long)missed);

    /* delete: this map first, then rebuilt ones */
    t = 0;
    for (long r = 0; r < rounds; r++) {
        if (r > 0) m = u64_build(keys, n);
        t0 = mono_ns();
        u64_deletes(m, keys, n);
        t += mono_ns() - t0;
        checksum += U64_LEN(m);
        MAP_FREE(m);
    }
    op_line("u64_delete", n, (double)t / ((double)rounds * n), (double)rounds * n);
    free(keys);
    free(miss);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void grow_bench(long n, uint64_t seed)
{
    uint64_t *keys = make_keys(n, seed);
    uint32_t *lat = malloc((size_t)n * sizeof *lat);
    if (!lat) bench_oom((size_t)n * sizeof *lat);
    u64map m = U64_NEW();
    for (long i = 0; i < n; i++) {
        uint64_t a = mono_ns();
        U64_SET(m, keys[i], keys[i] ^ VALXOR);
        uint64_t d = mono_ns() - a;
        lat[i] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    checksum += U64_LEN(m);
    MAP_FREE(m);
    qsort(lat, (size_t)n, sizeof *lat, cmp_u32);
    op_line("grow_insert_max", -1, lat[n - 1], (double)n);
    op_line("grow_insert_p9999", -1, lat[(long)((double)(n - 1) * 0.9999)], (double)n);
    op_line("grow_insert_p50", -1, lat[(n - 1) / 2], (double)n);
    free(lat);
    free(keys);
}

static char **make_strings(long n)
{
    char **s = malloc((size_t)n * sizeof *s);
    if (!s) bench_oom((size_t)n * sizeof *s);
    for (long i = 0; i < n; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "key%ld", i);
        s[i] = malloc((size_t)len + 1);
        if (!s[i]) bench_oom((size_t)len + 1);
        memcpy(s[i], buf, (size_t)len + 1);
    }
    return s;
}

static NOINLINE strmap str_build(char *const *keys, long n)
{
    strmap m = STR_NEW();
    for (long i = 0; i < n; i++) STR_SET(m, keys[i], (uint64_t)i);
    return m;
}

static NOINLINE uint64_t str_lookups(strmap m, char *const *keys, long n, long ops)
{
    uint64_t sum = 0, v;
    long done = 0;
    while (done < ops) {
        long k = n < ops - done ? n : ops - done;
        for (long i = 0; i < k; i++)
            if (STR_LOOKUP(m, keys[i], &v)) sum += v + 1;
        done += k;
    }
    return sum;
}

static void str_bench(long n, long ops)
{
    char **keys = make_strings(n), **probe = make_strings(n);
    long rounds = ops / n < 1 ? 1 : ops / n;
    strmap m = str_build(keys, n); /* untimed warm-up */
    MAP_FREE(m);
    uint64_t t0 = mono_ns();
    for (long r = 0; r < rounds; r++) {
        m = str_build(keys, n);
        checksum += STR_LEN(m);
        if (r + 1 < rounds) MAP_FREE(m);
    }
    uint64_t t = mono_ns() - t0;
    op_line("str_insert", n, (double)t / ((double)rounds * n), (double)rounds * n);
    t0 = mono_ns();
    uint64_t hit = str_lookups(m, probe, n, ops);
    t = mono_ns() - t0;
    op_line("str_hit", n, (double)t / (double)ops, (double)ops);
    checksum += hit;
    printf("make_map: str n=%ld hit_sum=%llu\n", n, (unsigned long long)hit);
    MAP_FREE(m);
    for (long i = 0; i < n; i++) {
        free(keys[i]);
        free(probe[i]);
    }
    free(keys);
    free(probe);
}

int main(int argc, char **argv)
{
    bench_init();
    long small = argc > 1 ? atol(argv[1]) : 1000;
    long big = argc > 2 ? atol(argv[2]) : 1000000;
    long strings = argc > 3 ? atol(argv[3]) : 100000;
    long ops = argc > 4 ? atol(argv[4]) : 2000000;
    if (small < 1) small = 1;
    if (big < 1) big = 1;
    if (strings < 1) strings = 1;
    if (ops < 1) ops = 1;

    u64_bench(small, ops, 0x9E3779B97F4A7C15ull);
    u64_bench(big, ops, 0x2545F4914F6CDD1Dull);
    grow_bench(big, 0x853c49e6748fea9bull);
    str_bench(strings, ops);

    printf("make_map: small=%ld big=%ld strings=%ld ops=%ld checksum=%llu\n", small, big, strings, ops,
           (unsigned long long)checksum);
    bench_report();
    return 0;
}
