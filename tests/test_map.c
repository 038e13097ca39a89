/*
 * test_map.c - Go's maps (gc_makemap, gc_mapaccess, gc_mapassign, gc_mapdelete,
 * gc_maplen, gc_mapclear, gc_mapiterinit/next and the GC_MAP macros), tested
 * from tricolor.h's documentation and Go's map semantics.
 *
 *   int_keys       map[uint64]uint64, map[int]int, map[uint8]uint16 through the
 *                  macros: insert, update, get (zero if absent), lookup with ok
 *                  (*vp zeroed if absent), delete (true once), len, clear, reuse;
 *                  a map value copied by assignment is the same map; each macro
 *                  argument evaluated once
 *   raw_api        the untyped core over key sizes 1..130 and value sizes 0..1000,
 *                  scanned and noscan: an absent key gives NULL, mapassign gives a
 *                  zeroed slot for a new key and the old contents for a present
 *                  one; keys that differ only in their first or last bytes;
 *                  delete, reinsert, clear; iteration gives every entry once with
 *                  its bytes; every slot aligned as a C type of its size may need
 *                  (lowest set bit, at most 16); keysize 0 gives NULL with ENOMEM
 *   struct_keys    3-, 12-, 16- and 40-byte struct keys (12 and 40 with padding,
 *                  zeroed with memset) through the typed macros, keys built anew
 *                  for every lookup
 *   value_sizes    map[uint64]struct{} (a set: present means a non-NULL slot),
 *                  1-, 3-, 24-, 200- and 513-byte values, contents intact across
 *                  growth; __int128 keys with long double values (16-aligned)
 *   string_keys    map[string]int: the map copies each key, so the caller's buffer
 *                  may be overwritten and freed; lookups with other buffers of the
 *                  same content; "" and long keys; shared prefixes; iteration gives
 *                  the map's copy (not the caller's pointer) with the right bytes
 *   nil_map        a zeroed map variable (typed, string-keyed, raw NULL): get zero,
 *                  lookup false with *vp zeroed, len 0, delete false, clear a
 *                  no-op, range produces nothing
 *   nil_panic      an insert into a nil map (gc_map_set, gc_mapassign(NULL),
 *                  string-keyed) panics in a child: SIGABRT, stderr exactly
 *                  "panic: assignment to entry in nil map\n"
 *   million        1,000,000 entries: len, every value, absent keys, iteration
 *                  over all, half deleted and checked again (the deleted ones
 *                  and half the others)
 *   tombstones     half of 100,000 deleted and reinserted, all deleted and
 *                  reinserted; a sliding window (1,000 and 5,000 live entries over
 *                  1,000,000 inserts) keeps len and contents right, and the heap
 *                  it leaves after collection stays small (tombstones reclaimed)
 *   hint           a map made with hint n takes n inserts with at most two
 *                  allocations (one without a hint takes many); a huge hint
 *                  gives NULL/ENOMEM or a working empty map
 *   hint_enomem    a hint whose tables do not fit in memory (a child with RLIMIT_AS
 *                  256 MiB above its size): NULL with ENOMEM, and the heap works
 *   iter_once      every entry exactly once with its value, for sizes 0..100,000,
 *                  also after deletions; two loops in a row both complete
 *   iter_order     the order of 8, 100 and 5,000 entries differs between loops
 *                  (at least one of 10 loops differs from the first)
 *   iter_delete    deleting the current entry and random not-yet-produced ones
 *                  during iteration: deleted ones never produced, the others
 *                  exactly once (8, 100, 3,000 entries)
 *   iter_insert    inserting during iteration, enough to grow the map from one
 *                  group to a directory of tables and to split tables: old entries
 *                  exactly once, new ones at most once, values right
 *   iter_mixed     inserts (growth, splits), deletes and updates of entries not yet
 *                  produced, all during one loop: each produced entry present with
 *                  its current value, old ones exactly once, new ones at most once
 *   iter_clear     clear during iteration: no old entry produced afterwards, new
 *                  ones at most once
 *   range_macro    gc_map_range: break, continue, nested loops, writes through
 *                  the value pointer, M evaluated once, string keys and sets
 *   map_ptr        gc_map_ptr and gc_mapassign's slot: writes through it are the
 *                  map's; it stays usable across reads, iteration and collections
 *                  until the next write; NULL when absent
 *   gc_values      objects reachable only as map values, as map keys, and inside
 *                  struct values survive collections with garbage between, also
 *                  when collections run between inserts while the map grows;
 *                  deleted and cleared entries no longer keep their objects, nor
 *                  does a map emptied after growing (pointer keys, iterated once
 *                  while small)
 *   gc_unreachable a dropped map is reclaimed with its tables: weak pointers to
 *                  objects stored only in it (as keys and values) clear, and the
 *                  heap falls back after a dropped 300,000-entry map
 *   gc_noscan      addresses stored as uintptr_t keys or values (gc_make_map), and
 *                  pointers in a gc_make_map_noscan map, do not keep objects
 *   gc_string_keys string-key copies (scanned and noscan values) survive
 *                  collections with string-sized garbage between
 *   concurrent_gc  one thread fills and updates a map of pointers while another
 *                  allocates garbage (collections run beside the writes)
 *   threads        four threads, each with its own map checked against a model,
 *                  collections beside them
 */
#include "common.h"

#include <stdatomic.h>
#include <sys/resource.h>

/* ------------------------------------------------------------------------ */
/* Types and helpers                                                         */
/* ------------------------------------------------------------------------ */

typedef GC_MAP(uint64_t, uint64_t) u64map;
typedef GC_MAP(int, int) intmap;
typedef GC_MAP(uint8_t, uint16_t) u8map;
typedef GC_MAP_STR(int) strmap;
typedef GC_MAP_STR(uint64_t) strmap64;

typedef struct {
} unit; /* struct{}: sizeof 0 in GNU C */
typedef GC_MAP(uint64_t, unit) u64set;

/* A collected object whose words are never addresses (tc_fill). */
#define OBJ_SIZE 48
struct obj {
    uint8_t b[OBJ_SIZE];
};

static struct obj *new_obj(uint32_t seed)
{
    struct obj *o = gc_alloc(sizeof *o);
    TC_CHECK(o != NULL, "gc_alloc(%zu)", sizeof *o);
    tc_fill(o, sizeof *o, seed);
    return o;
}
static bool obj_ok(const struct obj *o, uint32_t seed)
{
    return o && gc_base(o) == o && tc_pattern_diff(o, sizeof *o, seed) < 0;
}

/* A bounded collect_until: wipe the stack, collect, until cond() or rounds. */
#define collect_until(cond, rounds) (tc_clear_stack(), collect_until_(cond, rounds))
static TC_NOINLINE bool collect_until_(bool (*cond)(void), int rounds)
{
    for (int r = 0; r < rounds; r++) {
        if (cond())
            return true;
        tc_collect_clean();
        tc_sleep_ms(1);
    }
    return cond();
}

static uint64_t heap_alloc_now(void)
{
    static gc_memstats ms;
    gc_read_memstats(&ms);
    return ms.heap_alloc;
}
static uint64_t mallocs_now(void)
{
    static gc_memstats ms;
    gc_read_memstats(&ms);
    return ms.mallocs;
}
static uint32_t num_gc_now(void)
{
    static gc_memstats ms;
    gc_read_memstats(&ms);
    return ms.num_gc;
}

static size_t u64_range_count(u64map m)
{
    size_t n = 0;
    gc_map_range(m, k, v)
    {
        (void)k;
        (void)v;
        n++;
    }
    return n;
}

static uint8_t *xcalloc(size_t n)
{
    uint8_t *p = calloc(n ? n : 1, 1);
    TC_CHECK(p != NULL, "calloc(%zu)", n);
    return p;
}

/* ------------------------------------------------------------------------ */
/* int_keys                                                                  */
/* ------------------------------------------------------------------------ */

static u64map *mp_counted(u64map *m, int *calls)
{
    (*calls)++;
    return m;
}

static void test_int_keys(void)
{
    const uint64_t N = 5000;
    u64map m = gc_make_map(u64map, 0);
    TC_CHECK(m.m != NULL, "gc_make_map returned NULL");
    TC_CHECK(gc_map_len(m) == 0, "a new map has len %zu", gc_map_len(m));
    TC_CHECK(gc_map_get(m, 1) == 0, "get on an empty map");
    for (uint64_t i = 0; i < N; i++) {
        gc_map_set(m, i * 7919, i + 1);
        TC_CHECK(gc_map_len(m) == i + 1, "len %zu after %llu inserts", gc_map_len(m), (unsigned long long)i + 1);
    }
    for (uint64_t i = 0; i < N; i++) {
        uint64_t v = 12345;
        TC_CHECK(gc_map_lookup(m, i * 7919, &v) && v == i + 1, "lookup key %llu: v %llu, want %llu",
                 (unsigned long long)(i * 7919), (unsigned long long)v, (unsigned long long)i + 1);
        TC_CHECK(gc_map_get(m, i * 7919) == i + 1, "get key %llu", (unsigned long long)(i * 7919));
        TC_CHECK(gc_map_lookup(m, i * 7919, NULL), "lookup with vp NULL, key %llu", (unsigned long long)(i * 7919));
        /* absent keys: between the multiples */
        v = 777;
        TC_CHECK(!gc_map_lookup(m, i * 7919 + 1, &v) && v == 0, "absent key %llu: ok true or v %llu not zeroed",
                 (unsigned long long)(i * 7919 + 1), (unsigned long long)v);
        TC_CHECK(gc_map_get(m, i * 7919 + 1) == 0, "get of an absent key is not zero");
    }
    /* update: same len, new value */
    for (uint64_t i = 0; i < N; i += 2)
        gc_map_set(m, i * 7919, i + 1000000);
    TC_CHECK(gc_map_len(m) == N, "len %zu after updates, want %llu", gc_map_len(m), (unsigned long long)N);
    for (uint64_t i = 0; i < N; i++)
        TC_CHECK(gc_map_get(m, i * 7919) == (i % 2 ? i + 1 : i + 1000000), "updated value of key %llu",
                 (unsigned long long)(i * 7919));
    /* key 0 and UINT64_MAX are ordinary keys */
    gc_map_set(m, UINT64_MAX, 42);
    TC_CHECK(gc_map_get(m, UINT64_MAX) == 42 && gc_map_get(m, 0) == 1000000, "keys UINT64_MAX / 0");
    TC_CHECK(gc_map_delete(m, UINT64_MAX), "delete UINT64_MAX");
    /* delete */
    for (uint64_t i = 0; i < N; i += 3) {
        TC_CHECK(gc_map_delete(m, i * 7919), "delete of present key %llu returned false",
                 (unsigned long long)(i * 7919));
        TC_CHECK(!gc_map_delete(m, i * 7919), "second delete of key %llu returned true",
                 (unsigned long long)(i * 7919));
    }
    TC_CHECK(!gc_map_delete(m, 3), "delete of a never-present key returned true");
    size_t want = (size_t)(N - (N + 2) / 3);
    TC_CHECK(gc_map_len(m) == want, "len %zu after deletes, want %zu", gc_map_len(m), want);
    for (uint64_t i = 0; i < N; i++)
        TC_CHECK(gc_map_lookup(m, i * 7919, NULL) == (i % 3 != 0), "key %llu present=%d after deletes",
                 (unsigned long long)(i * 7919), (int)gc_map_lookup(m, i * 7919, NULL));
    TC_CHECK(u64_range_count(m) == want, "range gives %zu entries, len %zu", u64_range_count(m), want);

    /* a map value copied by assignment is the same map */
    u64map alias = m;
    gc_map_set(alias, 99999999, 5);
    TC_CHECK(gc_map_get(m, 99999999) == 5 && gc_map_len(m) == want + 1, "a write through a copy is not seen");
    gc_map_delete(alias, 99999999);

    /* clear, then reuse */
    gc_map_clear(m);
    TC_CHECK(gc_map_len(m) == 0, "len %zu after clear", gc_map_len(m));
    TC_CHECK(u64_range_count(m) == 0, "range after clear gives %zu entries", u64_range_count(m));
    for (uint64_t i = 0; i < N; i++)
        TC_CHECK(!gc_map_lookup(m, i * 7919, NULL), "key %llu present after clear", (unsigned long long)(i * 7919));
    for (uint64_t i = 0; i < 100; i++)
        gc_map_set(m, i, i * i);
    TC_CHECK(gc_map_len(m) == 100, "len after reuse %zu", gc_map_len(m));
    for (uint64_t i = 0; i < 100; i++)
        TC_CHECK(gc_map_get(m, i) == i * i, "value after clear and reuse, key %llu", (unsigned long long)i);
    gc_map_clear(m);
    gc_map_clear(m); /* twice: harmless */
    TC_CHECK(gc_map_len(m) == 0, "len after a second clear");

    /* map[int]int with negative keys */
    intmap im = gc_make_map(intmap, 16);
    for (int i = -500; i < 500; i++)
        gc_map_set(im, i, -i);
    TC_CHECK(gc_map_len(im) == 1000, "intmap len %zu", gc_map_len(im));
    for (int i = -500; i < 500; i++)
        TC_CHECK(gc_map_get(im, i) == -i, "intmap key %d", i);
    TC_CHECK(gc_map_get(im, 500) == 0 && !gc_map_lookup(im, -501, NULL), "intmap absent keys");

    /* map[uint8]uint16: every possible key */
    u8map bm = gc_make_map(u8map, 0);
    for (int i = 0; i < 256; i++)
        gc_map_set(bm, (uint8_t)i, (uint16_t)(i * 251));
    TC_CHECK(gc_map_len(bm) == 256, "u8map len %zu", gc_map_len(bm));
    for (int i = 0; i < 256; i++)
        TC_CHECK(gc_map_get(bm, (uint8_t)i) == (uint16_t)(i * 251), "u8map key %d", i);
    for (int i = 0; i < 256; i += 2)
        TC_CHECK(gc_map_delete(bm, (uint8_t)i), "u8map delete %d", i);
    TC_CHECK(gc_map_len(bm) == 128, "u8map len %zu after deletes", gc_map_len(bm));
    unsigned seen[256] = {0};
    gc_map_range(bm, k, v)
    {
        seen[*k]++;
        TC_CHECK(*v == (uint16_t)(*k * 251), "u8map range value of %u", *k);
    }
    for (int i = 0; i < 256; i++)
        TC_CHECK(seen[i] == (unsigned)(i % 2), "u8map range produced key %d %u times", i, seen[i]);

    /* each macro argument is evaluated once */
    u64map em = gc_make_map(u64map, 0);
    uint64_t k = 10, v = 20;
    gc_map_set(em, k++, v++);
    TC_CHECK(k == 11 && v == 21 && gc_map_get(em, 10) == 20, "gc_map_set evaluated k/v more than once");
    TC_CHECK(gc_map_get(em, k--) == 0 && k == 10, "gc_map_get evaluated k more than once");
    uint64_t out[2] = {0, 0}, *op = out;
    TC_CHECK(gc_map_lookup(em, k++, op++) && k == 11 && op == out + 1 && out[0] == 20,
             "gc_map_lookup evaluated an argument more than once");
    k = 10;
    TC_CHECK(gc_map_ptr(em, k++) != NULL && k == 11, "gc_map_ptr evaluated k more than once");
    k = 10;
    TC_CHECK(gc_map_delete(em, k++) && k == 11 && gc_map_len(em) == 0, "gc_map_delete evaluated k more than once");
    int calls = 0;
    gc_map_set(*mp_counted(&em, &calls), 1, 2);
    TC_CHECK(calls == 1, "gc_map_set evaluated M %d times", calls);
    calls = 0;
    TC_CHECK(gc_map_get(*mp_counted(&em, &calls), 1) == 2 && calls == 1, "gc_map_get evaluated M %d times", calls);
}

/* ------------------------------------------------------------------------ */
/* raw_api                                                                   */
/* ------------------------------------------------------------------------ */

/* Key i of family fam (0: i in the first bytes; 1, keys of 16 bytes or more:
 * i in the last bytes, so that keys differ only at their end). */
static void mkkey(uint8_t *k, size_t ks, uint64_t i, int fam)
{
    memset(k, fam ? 0x55 : 0xAA, ks);
    for (size_t j = 0; j < ks && j < 8; j++)
        k[fam ? ks - 1 - j : j] = (uint8_t)(i >> (8 * j));
}

/* Which (fam, i) key k is, or -1. */
static long unkey(const uint8_t *k, size_t ks, int *fam, uint8_t *tmp)
{
    for (int f = 0; f < (ks >= 16 ? 2 : 1); f++) {
        uint64_t i = 0;
        for (size_t j = 0; j < ks && j < 8; j++)
            i |= (uint64_t)k[f ? ks - 1 - j : j] << (8 * j);
        mkkey(tmp, ks, i, f);
        if (memcmp(tmp, k, ks) == 0) {
            *fam = f;
            return (long)i;
        }
    }
    return -1;
}

/* The alignment a C type of this size may have: its lowest set bit, at most 16. */
static size_t natural_align(size_t size)
{
    size_t a = size & -size;
    return size == 0 ? 1 : a > 16 ? 16 : a;
}

static void raw_case(size_t ks, size_t vs, size_t n, unsigned flags)
{
    errno = 0;
    gc_map *m = gc_makemap(ks, vs, 0, flags);
    TC_CHECK(m != NULL, "gc_makemap(%zu, %zu, 0, %u): NULL, errno %d", ks, vs, flags, errno);
    int fams = ks >= 16 ? 2 : 1;
    uint8_t *key = xcalloc(ks), *tmp = xcalloc(ks);
    int64_t *seed = malloc(sizeof *seed * n * 2); /* expected value seed, -1 absent */
    uint8_t *seen = xcalloc(n * 2);
    TC_CHECK(seed != NULL, "malloc");
    for (size_t i = 0; i < n * 2; i++)
        seed[i] = -1;
    size_t len = 0;
#define RAW_WHAT "keysize %zu valsize %zu flags %u: "
    /* insert */
    for (int f = 0; f < fams; f++)
        for (size_t i = 0; i < n; i++) {
            mkkey(key, ks, i, f);
            TC_CHECK(gc_mapaccess(m, key) == NULL, RAW_WHAT "key %d/%zu present before insert", ks, vs, flags, f, i);
            uint8_t *slot = gc_mapassign(m, key);
            TC_CHECK(slot != NULL, RAW_WHAT "gc_mapassign returned NULL", ks, vs, flags);
            TC_CHECK((uintptr_t)slot % natural_align(vs) == 0, RAW_WHAT "value slot %p not %zu-aligned", ks, vs,
                     flags, (void *)slot, natural_align(vs));
            TC_CHECK(tc_nonzero_at(slot, vs) < 0, RAW_WHAT "new slot of key %d/%zu not zeroed at byte %ld", ks, vs,
                     flags, f, i, tc_nonzero_at(slot, vs));
            seed[f * n + i] = (int64_t)(f * n + i);
            tc_fill(slot, vs, (uint32_t)seed[f * n + i]);
            len++;
            TC_CHECK(gc_maplen(m) == len, RAW_WHAT "len %zu, want %zu", ks, vs, flags, gc_maplen(m), len);
        }
    /* mapassign of a present key keeps its value; update a third */
    for (int f = 0; f < fams; f++)
        for (size_t i = 0; i < n; i += 3) {
            mkkey(key, ks, i, f);
            uint8_t *slot = gc_mapassign(m, key);
            TC_CHECK(slot && tc_pattern_diff(slot, vs, (uint32_t)seed[f * n + i]) < 0,
                     RAW_WHAT "gc_mapassign of present key %d/%zu lost its value", ks, vs, flags, f, i);
            seed[f * n + i] += 1000003;
            tc_fill(slot, vs, (uint32_t)seed[f * n + i]);
        }
    TC_CHECK(gc_maplen(m) == len, RAW_WHAT "len %zu after updates, want %zu", ks, vs, flags, gc_maplen(m), len);
    /* delete every other one */
    for (int f = 0; f < fams; f++)
        for (size_t i = 1; i < n; i += 2) {
            mkkey(key, ks, i, f);
            TC_CHECK(gc_mapdelete(m, key), RAW_WHAT "delete of present key %d/%zu false", ks, vs, flags, f, i);
            TC_CHECK(!gc_mapdelete(m, key), RAW_WHAT "second delete of key %d/%zu true", ks, vs, flags, f, i);
            seed[f * n + i] = -1;
            len--;
        }
    TC_CHECK(gc_maplen(m) == len, RAW_WHAT "len %zu after deletes, want %zu", ks, vs, flags, gc_maplen(m), len);
    /* lookups, present and absent (including never-inserted keys) */
    for (int f = 0; f < fams; f++)
        for (size_t i = 0; i < n + (ks > 1 ? 50 : 0); i++) {
            mkkey(key, ks, i, f);
            uint8_t *slot = gc_mapaccess(m, key);
            if (i >= n || seed[f * n + i] < 0) {
                TC_CHECK(slot == NULL, RAW_WHAT "absent key %d/%zu found", ks, vs, flags, f, i);
            } else {
                TC_CHECK(slot != NULL, RAW_WHAT "present key %d/%zu not found", ks, vs, flags, f, i);
                long d = tc_pattern_diff(slot, vs, (uint32_t)seed[f * n + i]);
                TC_CHECK(d < 0, RAW_WHAT "value of key %d/%zu wrong at byte %ld", ks, vs, flags, f, i, d);
            }
        }
    /* iteration */
    gc_mapiter it;
    size_t count = 0;
    for (gc_mapiterinit(&it, m); gc_mapiternext(&it);) {
        int f;
        TC_CHECK((uintptr_t)it.key % natural_align(ks) == 0 && (uintptr_t)it.val % natural_align(vs) == 0,
                 RAW_WHAT "iteration key %p / value %p not aligned", ks, vs, flags, it.key, it.val);
        long i = unkey(it.key, ks, &f, tmp);
        TC_CHECK(i >= 0 && (size_t)i < n, RAW_WHAT "iteration gave a key that was never inserted", ks, vs, flags);
        size_t idx = (size_t)f * n + (size_t)i;
        TC_CHECK(seed[idx] >= 0, RAW_WHAT "iteration gave deleted key %d/%ld", ks, vs, flags, f, i);
        TC_CHECK(!seen[idx]++, RAW_WHAT "iteration gave key %d/%ld twice", ks, vs, flags, f, i);
        TC_CHECK((it.val != NULL || vs == 0) && tc_pattern_diff(it.val, vs, (uint32_t)seed[idx]) < 0,
                 RAW_WHAT "iteration value of key %d/%ld wrong", ks, vs, flags, f, i);
        count++;
    }
    TC_CHECK(count == len, RAW_WHAT "iteration gave %zu entries, len %zu", ks, vs, flags, count, len);
    /* reinsert the deleted ones */
    for (int f = 0; f < fams; f++)
        for (size_t i = 1; i < n; i += 2) {
            mkkey(key, ks, i, f);
            uint8_t *slot = gc_mapassign(m, key);
            TC_CHECK(slot && tc_nonzero_at(slot, vs) < 0, RAW_WHAT "reinserted key %d/%zu: slot not zeroed", ks, vs,
                     flags, f, i);
            seed[f * n + i] = (int64_t)(f * n + i) + 77;
            tc_fill(slot, vs, (uint32_t)seed[f * n + i]);
            len++;
        }
    TC_CHECK(gc_maplen(m) == len && len == n * (size_t)fams, RAW_WHAT "len %zu after reinserts", ks, vs, flags,
             gc_maplen(m));
    for (int f = 0; f < fams; f++)
        for (size_t i = 0; i < n; i++) {
            mkkey(key, ks, i, f);
            uint8_t *slot = gc_mapaccess(m, key);
            TC_CHECK(slot && tc_pattern_diff(slot, vs, (uint32_t)seed[f * n + i]) < 0,
                     RAW_WHAT "key %d/%zu after reinserts", ks, vs, flags, f, i);
        }
    /* clear */
    gc_mapclear(m);
    TC_CHECK(gc_maplen(m) == 0, RAW_WHAT "len %zu after clear", ks, vs, flags, gc_maplen(m));
    gc_mapiterinit(&it, m);
    TC_CHECK(!gc_mapiternext(&it), RAW_WHAT "iteration after clear gave an entry", ks, vs, flags);
    for (int f = 0; f < fams; f++)
        for (size_t i = 0; i < n; i++) {
            mkkey(key, ks, i, f);
            TC_CHECK(gc_mapaccess(m, key) == NULL, RAW_WHAT "key %d/%zu after clear", ks, vs, flags, f, i);
        }
    mkkey(key, ks, 3, 0);
    uint8_t *slot = gc_mapassign(m, key);
    TC_CHECK(slot && tc_nonzero_at(slot, vs) < 0 && gc_maplen(m) == 1, RAW_WHAT "insert after clear", ks, vs,
             flags);
#undef RAW_WHAT
    free(key);
    free(tmp);
    free(seed);
    free(seen);
}

static void test_raw_api(void)
{
    static const struct {
        size_t ks, vs, n;
    } cases[] = {
        {1, 8, 256},  {2, 4, 3000},  {3, 8, 3000},    {4, 4, 3000},  {7, 1, 3000},
        {8, 0, 3000}, {8, 8, 3000},  {12, 3, 3000},   {16, 16, 3000}, {40, 200, 1500},
        {130, 24, 1500}, {8, 1000, 600}, {5, 0, 2000}, {1, 16, 256}, {3, 32, 1000}, {24, 48, 1000},
        {16, 2, 1000}, {6, 12, 1000},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        raw_case(cases[c].ks, cases[c].vs, cases[c].n, 0);
        raw_case(cases[c].ks, cases[c].vs, cases[c].n, GC_MAP_KEYS_NOSCAN | GC_MAP_VALUES_NOSCAN);
    }
    errno = 0;
    gc_map *z = gc_makemap(0, 8, 0, 0);
    TC_CHECK(z == NULL && errno == ENOMEM, "gc_makemap(0, 8, 0, 0) = %p, errno %d: want NULL, ENOMEM", (void *)z,
             errno);
    /* the same slot for repeated lookups without a write in between */
    gc_map *m = gc_makemap(8, 8, 0, 0);
    uint64_t k = 5;
    void *a = gc_mapassign(m, &k);
    TC_CHECK(a && gc_mapaccess(m, &k) == a && gc_mapassign(m, &k) == a, "slots of one key differ");
    TC_CHECK(gc_maplen(m) == 1, "len %zu", gc_maplen(m));
}

/* ------------------------------------------------------------------------ */
/* struct_keys                                                               */
/* ------------------------------------------------------------------------ */

struct k3 {
    uint8_t b[3];
};
struct k12 {
    uint32_t a;
    uint8_t b; /* 3 bytes of padding */
    uint32_t c;
};
struct k16 {
    uint64_t a, b;
};
struct k40 {
    uint64_t a;
    uint8_t b; /* 7 bytes of padding */
    uint64_t c;
    uint16_t d; /* 6 bytes of padding */
    uint64_t e;
};
_Static_assert(sizeof(struct k3) == 3 && sizeof(struct k12) == 12 && sizeof(struct k16) == 16 &&
                   sizeof(struct k40) == 40,
               "key sizes");

typedef GC_MAP(struct k3, uint32_t) k3map;
typedef GC_MAP(struct k12, uint64_t) k12map;
typedef GC_MAP(struct k16, uint64_t) k16map;
typedef GC_MAP(struct k40, uint32_t) k40map;

#define SK_N 4000

static void test_struct_keys(void)
{
    k3map m3 = gc_make_map(k3map, 0);
    k12map m12 = gc_make_map(k12map, 0);
    k16map m16 = gc_make_map(k16map, 0);
    k40map m40 = gc_make_map(k40map, 0);
    for (uint32_t i = 0; i < SK_N; i++) {
        struct k3 a;
        memset(&a, 0, sizeof a);
        a.b[0] = (uint8_t)i, a.b[1] = (uint8_t)(i >> 8), a.b[2] = 0x5a;
        gc_map_set(m3, a, i + 1);
        struct k12 b;
        memset(&b, 0, sizeof b);
        b.a = i / 3, b.b = (uint8_t)(i % 3), b.c = 0xdeadbeef;
        gc_map_set(m12, b, (uint64_t)i * 3);
        struct k16 c = {0, 0};
        c.a = 0x1111111111111111ull, c.b = i; /* differ only in the last 8 bytes */
        gc_map_set(m16, c, (uint64_t)i + 7);
        struct k40 d;
        memset(&d, 0, sizeof d);
        d.a = 42, d.b = 1, d.c = 43, d.d = 2, d.e = i; /* differ only in the last word */
        gc_map_set(m40, d, i ^ 0x5555u);
    }
    TC_CHECK(gc_map_len(m3) == SK_N && gc_map_len(m12) == SK_N && gc_map_len(m16) == SK_N &&
                 gc_map_len(m40) == SK_N,
             "lens %zu %zu %zu %zu, want %d each", gc_map_len(m3), gc_map_len(m12), gc_map_len(m16),
             gc_map_len(m40), SK_N);
    for (uint32_t i = 0; i < SK_N + 100; i++) {
        bool in = i < SK_N;
        struct k3 a;
        memset(&a, 0, sizeof a);
        a.b[0] = (uint8_t)i, a.b[1] = (uint8_t)(i >> 8), a.b[2] = 0x5a;
        uint32_t v3 = 1;
        TC_CHECK(gc_map_lookup(m3, a, &v3) == in && v3 == (in ? i + 1 : 0), "k3 key %u: v %u", i, v3);
        struct k12 b;
        memset(&b, 0, sizeof b);
        b.a = i / 3, b.b = (uint8_t)(i % 3), b.c = 0xdeadbeef;
        uint64_t v12 = 1;
        TC_CHECK(gc_map_lookup(m12, b, &v12) == in && v12 == (in ? (uint64_t)i * 3 : 0), "k12 key %u: v %llu", i,
                 (unsigned long long)v12);
        TC_CHECK((gc_mapaccess(m12.m, &b) != NULL) == in, "k12 key %u through gc_mapaccess", i);
        struct k16 c = {0x1111111111111111ull, i};
        TC_CHECK(gc_map_get(m16, c) == (in ? (uint64_t)i + 7 : 0), "k16 key %u", i);
        struct k40 d;
        memset(&d, 0, sizeof d);
        d.a = 42, d.b = 1, d.c = 43, d.d = 2, d.e = i;
        TC_CHECK(gc_map_get(m40, d) == (in ? i ^ 0x5555u : 0), "k40 key %u", i);
        TC_CHECK((gc_mapaccess(m40.m, &d) != NULL) == in, "k40 key %u through gc_mapaccess", i);
        /* a key that differs in its first field only */
        d.a = 41;
        TC_CHECK(!gc_map_lookup(m40, d, NULL), "k40 key %u with a = 41 found", i);
    }
    /* delete half by freshly built keys; iterate */
    for (uint32_t i = 0; i < SK_N; i += 2) {
        struct k12 b;
        memset(&b, 0, sizeof b);
        b.a = i / 3, b.b = (uint8_t)(i % 3), b.c = 0xdeadbeef;
        TC_CHECK(gc_map_delete(m12, b), "k12 delete %u", i);
        struct k40 d;
        memset(&d, 0, sizeof d);
        d.a = 42, d.b = 1, d.c = 43, d.d = 2, d.e = i;
        TC_CHECK(gc_map_delete(m40, d), "k40 delete %u", i);
    }
    uint8_t *seen = xcalloc(SK_N);
    size_t n = 0;
    gc_map_range(m12, k, v)
    {
        uint32_t i = k->a * 3 + k->b;
        TC_CHECK(i < SK_N && i % 2 == 1 && k->c == 0xdeadbeef && *v == (uint64_t)i * 3 && !seen[i]++,
                 "k12 range gave key {%u, %u, %#x} value %llu", k->a, k->b, k->c, (unsigned long long)*v);
        struct k12 z;
        memset(&z, 0, sizeof z);
        z.a = k->a, z.b = k->b, z.c = k->c;
        TC_CHECK(memcmp(&z, k, sizeof z) == 0, "k12 range key's padding is not zero");
        n++;
    }
    TC_CHECK(n == SK_N / 2, "k12 range gave %zu entries", n);
    memset(seen, 0, SK_N);
    n = 0;
    gc_map_range(m40, k, v)
    {
        TC_CHECK(k->a == 42 && k->b == 1 && k->c == 43 && k->d == 2 && k->e < SK_N && k->e % 2 == 1 &&
                     *v == (k->e ^ 0x5555u) && !seen[k->e]++,
                 "k40 range gave a wrong entry (e %llu)", (unsigned long long)k->e);
        n++;
    }
    TC_CHECK(n == SK_N / 2 && gc_map_len(m40) == SK_N / 2, "k40 range gave %zu entries, len %zu", n,
             gc_map_len(m40));
    free(seen);
}

/* ------------------------------------------------------------------------ */
/* value_sizes                                                               */
/* ------------------------------------------------------------------------ */

struct v3 {
    uint8_t b[3];
};
struct v24 {
    uint64_t a, b, c;
};
struct v200 {
    uint8_t b[200];
};
struct v513 {
    uint8_t b[513];
};
typedef GC_MAP(uint64_t, uint8_t) v1map;
typedef GC_MAP(uint64_t, struct v3) v3map;
typedef GC_MAP(uint64_t, struct v24) v24map;
typedef GC_MAP(uint64_t, struct v200) v200map;
typedef GC_MAP(uint32_t, struct v513) v513map;
typedef GC_MAP(unsigned __int128, long double) i128map;

#define VS_N 3000

static void test_value_sizes(void)
{
    /* a set */
    u64set s = gc_make_map(u64set, 0);
    for (uint64_t i = 0; i < VS_N; i++)
        gc_map_set(s, i * 3, (unit){});
    TC_CHECK(gc_map_len(s) == VS_N, "set len %zu", gc_map_len(s));
    for (uint64_t i = 0; i < VS_N * 3; i++) {
        bool in = i % 3 == 0;
        TC_CHECK(gc_map_lookup(s, i, NULL) == in, "set: %llu present=%d", (unsigned long long)i, !in);
        TC_CHECK((gc_map_ptr(s, i) != NULL) == in, "set: gc_map_ptr(%llu)", (unsigned long long)i);
    }
    gc_map *rs = gc_makemap(sizeof(uint64_t), 0, 0, GC_MAP_KEYS_NOSCAN | GC_MAP_VALUES_NOSCAN);
    TC_CHECK(rs != NULL, "gc_makemap(8, 0, ...) NULL");
    for (uint64_t i = 0; i < VS_N; i++) {
        uint64_t k = i * 3;
        TC_CHECK(gc_mapassign(rs, &k) != NULL, "set: gc_mapassign returned NULL");
    }
    for (uint64_t i = 0; i < VS_N * 3; i++)
        TC_CHECK((gc_mapaccess(rs, &i) != NULL) == (i % 3 == 0), "raw set: key %llu", (unsigned long long)i);
    for (uint64_t i = 0; i < VS_N * 3; i += 2)
        TC_CHECK(gc_map_delete(s, i) == (i % 3 == 0), "set delete %llu", (unsigned long long)i);
    size_t n = 0;
    gc_map_range(s, k, v)
    {
        (void)v;
        TC_CHECK(*k % 6 == 3, "set range gave %llu", (unsigned long long)*k);
        n++;
    }
    TC_CHECK(n == gc_map_len(s) && n == VS_N / 2, "set range %zu, len %zu", n, gc_map_len(s));

    v1map m1 = gc_make_map(v1map, 0);
    v3map m3 = gc_make_map(v3map, 0);
    v24map m24 = gc_make_map(v24map, 0);
    v200map m200 = gc_make_map(v200map, 0);
    v513map m513 = gc_make_map(v513map, 0);
    for (uint64_t i = 0; i < VS_N; i++) {
        uint32_t seed = (uint32_t)i;
        gc_map_set(m1, i, (uint8_t)(i * 7));
        struct v3 a;
        tc_fill(&a, sizeof a, seed);
        gc_map_set(m3, i, a);
        struct v24 b = {i, ~i, i * 31};
        gc_map_set(m24, i, b);
        struct v200 c;
        tc_fill(&c, sizeof c, seed);
        gc_map_set(m200, i, c);
        if (i < VS_N / 3) {
            struct v513 d;
            tc_fill(&d, sizeof d, seed);
            gc_map_set(m513, (uint32_t)i, d);
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t i = 0; i < VS_N; i++) {
            uint32_t seed = (uint32_t)i + (pass && i % 2 ? 9999 : 0);
            TC_CHECK(gc_map_get(m1, i) == (uint8_t)(i * 7 + (pass && i % 2)), "1-byte value of %llu",
                     (unsigned long long)i);
            struct v3 a = gc_map_get(m3, i);
            TC_CHECK(tc_pattern_diff(&a, sizeof a, seed) < 0, "3-byte value of %llu", (unsigned long long)i);
            struct v24 b;
            TC_CHECK(gc_map_lookup(m24, i, &b) && b.a == i + (pass && i % 2) && b.b == ~i && b.c == i * 31,
                     "24-byte value of %llu", (unsigned long long)i);
            struct v200 *c = gc_map_ptr(m200, i);
            TC_CHECK(c && tc_pattern_diff(c, sizeof *c, seed) < 0, "200-byte value of %llu",
                     (unsigned long long)i);
            if (i < VS_N / 3) {
                struct v513 d;
                TC_CHECK(gc_map_lookup(m513, (uint32_t)i, &d) && tc_pattern_diff(&d, sizeof d, seed) < 0,
                         "513-byte value of %llu", (unsigned long long)i);
            }
        }
        if (pass)
            break;
        /* update the odd ones */
        for (uint64_t i = 1; i < VS_N; i += 2) {
            uint32_t seed = (uint32_t)i + 9999;
            gc_map_set(m1, i, (uint8_t)(i * 7 + 1));
            struct v3 a;
            tc_fill(&a, sizeof a, seed);
            gc_map_set(m3, i, a);
            gc_map_ptr(m24, i)->a = i + 1;
            struct v200 c;
            tc_fill(&c, sizeof c, seed);
            gc_map_set(m200, i, c);
            if (i < VS_N / 3)
                tc_fill(gc_map_ptr(m513, (uint32_t)i), sizeof(struct v513), seed);
        }
        TC_CHECK(gc_map_len(m1) == VS_N && gc_map_len(m3) == VS_N && gc_map_len(m24) == VS_N &&
                     gc_map_len(m200) == VS_N && gc_map_len(m513) == VS_N / 3,
                 "lens after updates");
    }
    /* 16-byte-aligned keys and values, through the typed macros (UBSan checks the accesses) */
    i128map mi = gc_make_map(i128map, 0);
    for (unsigned i = 0; i < 2000; i++)
        gc_map_set(mi, (unsigned __int128)i << 64 | i, (long double)i / 4);
    for (unsigned i = 0; i < 2000; i++) {
        long double *p = gc_map_ptr(mi, (unsigned __int128)i << 64 | i);
        TC_CHECK(p && (uintptr_t)p % _Alignof(long double) == 0 && *p == (long double)i / 4,
                 "long double value of %u at %p", i, (void *)p);
    }
    n = 0;
    gc_map_range(mi, k, v)
    {
        TC_CHECK((uintptr_t)k % _Alignof(unsigned __int128) == 0, "__int128 key at %p", (const void *)k);
        unsigned i = (unsigned)*k;
        TC_CHECK((*k >> 64) == i && *v == (long double)i / 4, "i128 entry %u", i);
        n++;
    }
    TC_CHECK(n == 2000, "i128 range gave %zu", n);
    struct v200 z = gc_map_get(m200, (uint64_t)VS_N);
    TC_CHECK(tc_nonzero_at(&z, sizeof z) < 0, "get of an absent 200-byte value is not zeroed");
    struct v513 z2;
    memset(&z2, 0xff, sizeof z2);
    TC_CHECK(!gc_map_lookup(m513, (uint32_t)VS_N, &z2) && tc_nonzero_at(&z2, sizeof z2) < 0,
             "lookup of an absent 513-byte value does not zero *vp");
}

/* ------------------------------------------------------------------------ */
/* string_keys                                                               */
/* ------------------------------------------------------------------------ */

#define SK_STR_N 4000

/* Key i: "key-<i>-" then (i % 97) * (i % 5 == 0 ? 30 : 1) letters; i 0 is "". */
static char *strkey(uint64_t i)
{
    if (i == 0)
        return strdup("");
    size_t extra = (i % 97) * (i % 5 == 0 ? 30 : 1);
    char *s = malloc(32 + extra);
    TC_CHECK(s != NULL, "malloc");
    int n = snprintf(s, 32, "key-%llu-", (unsigned long long)i);
    for (size_t j = 0; j < extra; j++)
        s[n + j] = (char)('a' + (i + j) % 26);
    s[n + extra] = 0;
    return s;
}

static void test_string_keys(void)
{
    strmap m = gc_make_map(strmap, 0);
    TC_CHECK(m.m != NULL, "gc_make_map(strmap) NULL");
    uintptr_t *callers = calloc(SK_STR_N, sizeof *callers);
    for (int i = 0; i < SK_STR_N; i++) {
        char *s = strkey((uint64_t)i);
        callers[i] = (uintptr_t)s;
        gc_map_set(m, s, i);
        /* the caller's string is overwritten, then freed */
        memset(s, 'X', strlen(s));
        free(s);
    }
    TC_CHECK(gc_map_len(m) == SK_STR_N, "len %zu", gc_map_len(m));
    tc_churn(64, 1000); /* reuse malloc'd and collected memory */
    for (int i = 0; i < SK_STR_N; i++) {
        char *s = strkey((uint64_t)i);
        int v = -1;
        TC_CHECK(gc_map_lookup(m, s, &v) && v == i, "lookup \"%.40s\": v %d, want %d", s, v, i);
        TC_CHECK(gc_mapaccess(m.m, &(const char *){s}) != NULL, "gc_mapaccess \"%.40s\"", s);
        /* a prefix and an extension of the key are other keys */
        size_t len = strlen(s);
        if (len > 0) {
            s[len - 1] = 0;
            TC_CHECK(!gc_map_lookup(m, s, NULL), "prefix \"%.40s\" of key %d found", s, i);
        }
        free(s);
    }
    TC_CHECK(!gc_map_lookup(m, "XXXX", NULL) && !gc_map_lookup(m, "key-", NULL), "absent strings found");
    TC_CHECK(gc_map_get(m, "") == 0 && gc_map_lookup(m, "", NULL), "the empty string key");
    /* a literal and a stack buffer are keys like any other */
    char buf[64];
    snprintf(buf, sizeof buf, "key-%d-", 97 * 3);
    TC_CHECK(gc_map_get(m, buf) == 97 * 3, "stack-buffer lookup of \"%s\"", buf);
    TC_CHECK(gc_map_get(m, "key-1-b") == 1, "literal lookup of \"key-1-b\" gives %d", gc_map_get(m, "key-1-b"));
    /* update through another buffer: same len, new value */
    for (int i = 0; i < SK_STR_N; i += 2) {
        char *s = strkey((uint64_t)i);
        gc_map_set(m, s, i + 100000);
        free(s);
    }
    TC_CHECK(gc_map_len(m) == SK_STR_N, "len %zu after updates", gc_map_len(m));
    /* iteration: each key once, the map's own copy with the right bytes */
    uint8_t *seen = xcalloc(SK_STR_N);
    size_t n = 0;
    gc_map_range(m, k, v)
    {
        int i = *v >= 100000 ? *v - 100000 : *v;
        TC_CHECK(i >= 0 && i < SK_STR_N && (*v >= 100000) == (i % 2 == 0), "range value %d", *v);
        TC_CHECK(!seen[i]++, "range gave key %d twice", i);
        TC_CHECK(*k != NULL && (uintptr_t)*k != callers[i], "range gave key %d as %p, the caller's pointer", i,
                 (const void *)*k);
        char *want = strkey((uint64_t)i);
        TC_CHECK(strcmp(*k, want) == 0, "range key %d is \"%.40s\", want \"%.40s\"", i, *k, want);
        free(want);
        n++;
    }
    TC_CHECK(n == SK_STR_N, "range gave %zu entries", n);
    /* the value pointer agrees with gc_map_ptr */
    int *p = gc_map_ptr(m, "key-6-ghijkl");
    TC_CHECK(p && *p == 6 + 100000, "gc_map_ptr(\"key-6-ghijkl\") = %p (%d)", (void *)p, p ? *p : -1);
    /* delete through other buffers */
    for (int i = 1; i < SK_STR_N; i += 2) {
        char *s = strkey((uint64_t)i);
        TC_CHECK(gc_map_delete(m, s), "delete \"%.40s\"", s);
        TC_CHECK(!gc_map_delete(m, s), "second delete \"%.40s\"", s);
        free(s);
    }
    TC_CHECK(gc_map_len(m) == SK_STR_N / 2, "len %zu after deletes", gc_map_len(m));
    for (int i = 0; i < SK_STR_N; i++) {
        char *s = strkey((uint64_t)i);
        int v = -7;
        bool ok = gc_map_lookup(m, s, &v);
        TC_CHECK(ok == (i % 2 == 0) && v == (ok ? i + 100000 : 0), "after deletes \"%.40s\": ok %d v %d", s, ok, v);
        free(s);
    }
    /* a long key */
    char *big = malloc(20001);
    memset(big, 'q', 20000);
    big[20000] = 0;
    gc_map_set(m, big, -1);
    big[19999] = 'r';
    TC_CHECK(!gc_map_lookup(m, big, NULL), "long key: a different last byte matches");
    big[19999] = 'q';
    TC_CHECK(gc_map_get(m, big) == -1, "long key lookup");
    free(big);
    gc_map_clear(m);
    TC_CHECK(gc_map_len(m) == 0 && !gc_map_lookup(m, "", NULL), "after clear");
    gc_map_set(m, "again", 3);
    TC_CHECK(gc_map_get(m, "again") == 3 && gc_map_len(m) == 1, "insert after clear");
    free(seen);
    free(callers);
}

/* ------------------------------------------------------------------------ */
/* nil_map, nil_panic                                                        */
/* ------------------------------------------------------------------------ */

static void test_nil_map(void)
{
    u64map m;
    memset(&m, 0, sizeof m);
    TC_CHECK(gc_map_get(m, 1) == 0, "nil map get");
    uint64_t v = 99;
    TC_CHECK(!gc_map_lookup(m, 1, &v) && v == 0, "nil map lookup: ok or v %llu", (unsigned long long)v);
    TC_CHECK(gc_map_ptr(m, 1) == NULL, "nil map gc_map_ptr");
    TC_CHECK(gc_map_len(m) == 0, "nil map len %zu", gc_map_len(m));
    TC_CHECK(!gc_map_delete(m, 1), "nil map delete returned true");
    gc_map_clear(m);
    size_t n = 0;
    gc_map_range(m, k, vp)
    {
        (void)k;
        (void)vp;
        n++;
    }
    TC_CHECK(n == 0, "nil map range gave %zu entries", n);

    strmap s = {0};
    int iv = 5;
    TC_CHECK(gc_map_get(s, "a") == 0 && !gc_map_lookup(s, "a", &iv) && iv == 0, "nil string map lookups");
    TC_CHECK(gc_map_len(s) == 0 && !gc_map_delete(s, "a"), "nil string map len/delete");
    gc_map_clear(s);
    gc_map_range(s, k, vp)
    {
        (void)k;
        (void)vp;
        n++;
    }
    TC_CHECK(n == 0, "nil string map range gave entries");

    uint64_t key = 3;
    TC_CHECK(gc_mapaccess(NULL, &key) == NULL, "gc_mapaccess(NULL)");
    TC_CHECK(gc_maplen(NULL) == 0, "gc_maplen(NULL)");
    TC_CHECK(!gc_mapdelete(NULL, &key), "gc_mapdelete(NULL)");
    gc_mapclear(NULL);
    gc_mapiter it;
    gc_mapiterinit(&it, NULL);
    TC_CHECK(!gc_mapiternext(&it), "iteration over NULL gave an entry");
    TC_CHECK(!gc_mapiternext(&it), "iteration over NULL gave an entry at the second call");
}

/* Out of memory for a hint's tables: the address space is limited to what the
 * process has mapped plus 256 MiB, and the hint needs about 1.6 GiB. */
static int hint_enomem_child(void)
{
    tc_sink = gc_alloc(16); /* the heap and its threads exist */
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long vm_kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %lu kB", &vm_kb) == 1)
            break;
    if (f)
        fclose(f);
    if (!vm_kb) {
        printf("NO VMSIZE\n");
        return 77;
    }
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)vm_kb * 1024 + 256 * TC_MiB;
    if (setrlimit(RLIMIT_AS, &rl) != 0) {
        printf("NO RLIMIT\n");
        return 77;
    }
    errno = 0;
    gc_map *m = gc_makemap(8, 8, 100000000, 0);
    int e = errno;
    printf("MAP %s errno %d\n", m ? "non-NULL" : "NULL", e);
    fflush(stdout);
    /* the heap still works */
    for (int i = 0; i < 1000; i++)
        tc_sink = gc_alloc(64);
    printf("RETURNED\n");
    return 0;
}

static int child_main(const char *mode)
{
    printf("BEFORE\n");
    fflush(stdout);
    if (strcmp(mode, "nil_set") == 0) {
        u64map m = {0};
        gc_map_set(m, 1, 2);
    } else if (strcmp(mode, "nil_assign") == 0) {
        uint64_t k = 1;
        void *p = gc_mapassign(NULL, &k);
        tc_sink = p;
    } else if (strcmp(mode, "nil_set_str") == 0) {
        strmap m = {0};
        gc_map_set(m, "go", 1);
    } else if (strcmp(mode, "hint_enomem") == 0) {
        return hint_enomem_child();
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 3;
    }
    printf("RETURNED\n");
    return 0;
}

static void expect_panic(const char *mode, const char *want)
{
    tc_child c;
    const char *args[] = {"--child", mode, NULL};
    tc_run_self(&c, args, NULL, 30);
    TC_CHECK(strstr(c.out, "BEFORE") != NULL, "%s: the child did not start (stdout \"%s\", stderr \"%s\", %s)", mode,
             c.out, c.err, tc_status_str(c.status));
    TC_CHECK(!strstr(c.out, "RETURNED"), "%s: the insert returned instead of panicking", mode);
    TC_CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT, "%s: the child %s, want killed by SIGABRT",
             mode, tc_status_str(c.status));
    TC_CHECK(strcmp(c.err, want) == 0, "%s: stderr is \"%s\", want \"%s\"", mode, c.err, want);
    tc_child_free(&c);
}

static void test_nil_panic(void)
{
    const char *want = "panic: assignment to entry in nil map\n";
    expect_panic("nil_set", want);
    expect_panic("nil_assign", want);
    expect_panic("nil_set_str", want);
}

/* ------------------------------------------------------------------------ */
/* million                                                                   */
/* ------------------------------------------------------------------------ */

#define MILLION 1000000u

static void test_million(void)
{
    u64map m = gc_make_map(u64map, 0);
    for (uint64_t i = 0; i < MILLION; i++)
        gc_map_set(m, tc_mix(i), i);
    TC_CHECK(gc_map_len(m) == MILLION, "len %zu, want %u", gc_map_len(m), MILLION);
    for (uint64_t i = 0; i < MILLION; i++) {
        uint64_t v = ~0ull;
        TC_CHECK(gc_map_lookup(m, tc_mix(i), &v) && v == i, "key %llu: v %llu", (unsigned long long)i,
                 (unsigned long long)v);
    }
    for (uint64_t i = MILLION; i < MILLION + 20000; i++)
        TC_CHECK(!gc_map_lookup(m, tc_mix(i), NULL), "absent key %llu found", (unsigned long long)i);
    uint8_t *seen = xcalloc(MILLION);
    size_t n = 0;
    gc_map_range(m, k, v)
    {
        TC_CHECK(*v < MILLION && *k == tc_mix(*v) && !seen[*v]++, "range entry %llu -> %llu",
                 (unsigned long long)*k, (unsigned long long)*v);
        n++;
    }
    TC_CHECK(n == MILLION, "range gave %zu entries", n);
    for (uint64_t i = 0; i < MILLION; i += 2)
        TC_CHECK(gc_map_delete(m, tc_mix(i)), "delete %llu", (unsigned long long)i);
    TC_CHECK(gc_map_len(m) == MILLION / 2, "len %zu after deletes", gc_map_len(m));
    for (uint64_t i = 0; i < MILLION; i++) {
        if (i % 4 == 3) /* check the deleted ones (even) and half the others */
            continue;
        uint64_t v = 7;
        TC_CHECK(gc_map_lookup(m, tc_mix(i), &v) == (i % 2 == 1) && v == (i % 2 ? i : 0), "key %llu after deletes",
                 (unsigned long long)i);
    }
    free(seen);
}

/* ------------------------------------------------------------------------ */
/* tombstones                                                                */
/* ------------------------------------------------------------------------ */

static u64map g_window;

static void window(uint64_t w, uint64_t total)
{
    tc_collect_clean();
    tc_collect_clean();
    uint64_t before = heap_alloc_now();
    g_window = gc_make_map(u64map, 0);
    for (uint64_t i = 0; i < total; i++) {
        gc_map_set(g_window, tc_mix(i), i);
        if (i >= w)
            TC_CHECK(gc_map_delete(g_window, tc_mix(i - w)), "window %llu: delete %llu", (unsigned long long)w,
                     (unsigned long long)(i - w));
        if (i % 100000 == 99999) {
            TC_CHECK(gc_map_len(g_window) == w, "window %llu: len %zu at %llu", (unsigned long long)w,
                     gc_map_len(g_window), (unsigned long long)i);
            for (uint64_t j = i + 1 - w; j <= i; j++)
                TC_CHECK(gc_map_get(g_window, tc_mix(j)) == j, "window %llu: key %llu", (unsigned long long)w,
                         (unsigned long long)j);
            for (uint64_t j = i + 1 - w - 100; j < i + 1 - w; j++)
                TC_CHECK(!gc_map_lookup(g_window, tc_mix(j), NULL), "window %llu: deleted key %llu found",
                         (unsigned long long)w, (unsigned long long)j);
        }
    }
    size_t n = u64_range_count(g_window);
    TC_CHECK(n == w, "window %llu: range gave %zu", (unsigned long long)w, n);
    tc_collect_clean();
    tc_collect_clean();
    uint64_t after = heap_alloc_now();
    /* w live 16-byte entries; even at 1/8 load that is 128 w bytes */
    uint64_t bound = 4 * TC_MiB + 128 * w;
    TC_CHECK(after < before + bound,
             "window of %llu live entries after %llu inserts and deletes: the heap grew by %llu bytes (bound %llu): "
             "tombstones are never reclaimed",
             (unsigned long long)w, (unsigned long long)total, (unsigned long long)(after - before),
             (unsigned long long)bound);
    g_window.m = NULL;
}

static void test_tombstones(void)
{
    const uint64_t N = 100000;
    u64map m = gc_make_map(u64map, 0);
    for (uint64_t i = 0; i < N; i++)
        gc_map_set(m, i, i);
    for (uint64_t i = 0; i < N; i += 2)
        TC_CHECK(gc_map_delete(m, i), "delete %llu", (unsigned long long)i);
    TC_CHECK(gc_map_len(m) == N / 2, "len %zu", gc_map_len(m));
    for (uint64_t i = 0; i < N; i++)
        TC_CHECK(gc_map_lookup(m, i, NULL) == (i % 2 == 1), "key %llu after deleting evens", (unsigned long long)i);
    for (uint64_t i = 0; i < N; i += 2)
        gc_map_set(m, i, i + N);
    TC_CHECK(gc_map_len(m) == N, "len %zu after reinserting", gc_map_len(m));
    for (uint64_t i = 0; i < N; i++)
        TC_CHECK(gc_map_get(m, i) == (i % 2 ? i : i + N), "key %llu after reinserting", (unsigned long long)i);
    for (int round = 0; round < 3; round++) {
        for (uint64_t i = 0; i < N; i++)
            TC_CHECK(gc_map_delete(m, i), "round %d: delete %llu", round, (unsigned long long)i);
        TC_CHECK(gc_map_len(m) == 0 && u64_range_count(m) == 0, "round %d: not empty after deleting all", round);
        for (uint64_t i = 0; i < N; i++)
            TC_CHECK(!gc_map_lookup(m, i, NULL), "round %d: deleted %llu found", round, (unsigned long long)i);
        for (uint64_t i = 0; i < N; i++)
            gc_map_set(m, i, i * 3 + (uint64_t)round);
        TC_CHECK(gc_map_len(m) == N, "round %d: len %zu", round, gc_map_len(m));
        for (uint64_t i = 0; i < N; i++)
            TC_CHECK(gc_map_get(m, i) == i * 3 + (uint64_t)round, "round %d: key %llu", round, (unsigned long long)i);
    }
    /* sliding windows: one table, and a directory of several */
    window(1000, 1000000);
    window(5000, 600000);
}

/* ------------------------------------------------------------------------ */
/* hint                                                                      */
/* ------------------------------------------------------------------------ */

static void hint_case(uint64_t n)
{
    u64map m = gc_make_map(u64map, n);
    TC_CHECK(m.m != NULL, "gc_make_map(hint %llu) NULL", (unsigned long long)n);
    TC_CHECK(gc_map_len(m) == 0, "hint %llu: len %zu", (unsigned long long)n, gc_map_len(m));
    uint64_t a0 = mallocs_now();
    for (uint64_t i = 0; i < n; i++)
        gc_map_set(m, tc_mix(i), i);
    uint64_t a1 = mallocs_now();
    TC_CHECK(a1 - a0 <= 2, "hint %llu: %llu inserts made %llu allocations (want at most 2: room for hint entries)",
             (unsigned long long)n, (unsigned long long)n, (unsigned long long)(a1 - a0));
    TC_CHECK(gc_map_len(m) == n, "hint %llu: len %zu", (unsigned long long)n, gc_map_len(m));
    for (uint64_t i = 0; i < n; i++)
        TC_CHECK(gc_map_get(m, tc_mix(i)) == i, "hint %llu: key %llu", (unsigned long long)n, (unsigned long long)i);
    /* and it still grows beyond the hint */
    for (uint64_t i = n; i < 2 * n + 10; i++)
        gc_map_set(m, tc_mix(i), i);
    TC_CHECK(gc_map_len(m) == 2 * n + 10, "hint %llu: len %zu past the hint", (unsigned long long)n, gc_map_len(m));
    for (uint64_t i = 0; i < 2 * n + 10; i++)
        TC_CHECK(gc_map_get(m, tc_mix(i)) == i, "hint %llu: key %llu past the hint", (unsigned long long)n,
                 (unsigned long long)i);
}

static void test_hint(void)
{
    hint_case(9);
    hint_case(1000);
    hint_case(5000);
    hint_case(100000);
    /* without a hint, the same inserts allocate as the map grows: the count above measures something */
    u64map m = gc_make_map(u64map, 0);
    uint64_t a0 = mallocs_now();
    for (uint64_t i = 0; i < 100000; i++)
        gc_map_set(m, tc_mix(i), i);
    uint64_t a1 = mallocs_now();
    TC_CHECK(a1 - a0 >= 5, "100000 inserts without a hint made only %llu allocations", (unsigned long long)(a1 - a0));
    /* a hint no memory can hold: NULL with ENOMEM, or an empty working map (Go ignores it) */
    uint64_t huge[] = {SIZE_MAX, SIZE_MAX / 2, (uint64_t)1 << 60};
    for (size_t h = 0; h < 3; h++) {
        errno = 0;
        gc_map *g = gc_makemap(8, 8, (size_t)huge[h], 0);
        if (!g) {
            TC_CHECK(errno == ENOMEM, "hint %#llx: NULL with errno %d, want ENOMEM", (unsigned long long)huge[h],
                     errno);
            continue;
        }
        TC_CHECK(gc_maplen(g) == 0, "hint %#llx: len %zu", (unsigned long long)huge[h], gc_maplen(g));
        for (uint64_t i = 0; i < 100; i++)
            *(uint64_t *)gc_mapassign(g, &i) = i + 1;
        for (uint64_t i = 0; i < 100; i++) {
            uint64_t *p = gc_mapaccess(g, &i);
            TC_CHECK(p && *p == i + 1, "hint %#llx: key %llu", (unsigned long long)huge[h], (unsigned long long)i);
        }
    }
}

static void test_hint_enomem(void)
{
    tc_child c;
    const char *args[] = {"--child", "hint_enomem", NULL};
    tc_run_self(&c, args, NULL, 60);
    if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 77) {
        printf("     skipped: %s", c.out);
        tc_child_free(&c);
        exit(77);
    }
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
             "gc_makemap(8, 8, 100000000, 0) with too little memory for its tables: the child %s, want NULL with "
             "ENOMEM (stdout \"%s\", stderr \"%s\")",
             tc_status_str(c.status), c.out, c.err);
    TC_CHECK(strstr(c.out, "MAP NULL errno 12\n") != NULL, "out of memory for a hint: want NULL, ENOMEM; got %s",
             c.out);
    TC_CHECK(strstr(c.out, "RETURNED") != NULL, "the heap after a failed gc_makemap: %s", c.out);
    tc_child_free(&c);
}

/* ------------------------------------------------------------------------ */
/* iter_once, iter_order                                                     */
/* ------------------------------------------------------------------------ */

static void iter_once_case(uint64_t n, uint64_t ndel)
{
    u64map m = gc_make_map(u64map, 0);
    for (uint64_t i = 0; i < n; i++)
        gc_map_set(m, i, i * 3 + 1);
    for (uint64_t i = 0; i < ndel && i < n; i++)
        gc_map_delete(m, i * 7 % n);
    size_t len = gc_map_len(m);
    uint8_t *seen = xcalloc(n);
    for (int loop = 0; loop < 2; loop++) {
        memset(seen, 0, n);
        size_t count = 0;
        gc_mapiter it;
        for (gc_mapiterinit(&it, m.m); gc_mapiternext(&it);) {
            uint64_t k = *(const uint64_t *)it.key, v = *(uint64_t *)it.val;
            TC_CHECK(k < n && gc_map_lookup(m, k, NULL), "n %llu: iteration gave absent key %llu",
                     (unsigned long long)n, (unsigned long long)k);
            TC_CHECK(!seen[k]++, "n %llu: key %llu produced twice", (unsigned long long)n, (unsigned long long)k);
            TC_CHECK(v == k * 3 + 1, "n %llu: key %llu with value %llu", (unsigned long long)n, (unsigned long long)k,
                     (unsigned long long)v);
            count++;
        }
        TC_CHECK(!gc_mapiternext(&it), "n %llu: an exhausted iterator gave another entry", (unsigned long long)n);
        TC_CHECK(count == len, "n %llu (%llu deleted): loop %d gave %zu entries, len %zu", (unsigned long long)n,
                 (unsigned long long)ndel, loop, count, len);
    }
    free(seen);
}

static void test_iter_once(void)
{
    static const uint64_t sizes[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 64, 895, 896, 897, 1000, 1024, 1025, 5000, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        iter_once_case(sizes[i], 0);
        iter_once_case(sizes[i], sizes[i] / 3);
    }
}

/* The order of one loop, as keys. */
static void order_of(u64map m, uint64_t *out, size_t n)
{
    size_t i = 0;
    gc_map_range(m, k, v)
    {
        (void)v;
        TC_CHECK(i < n, "more entries than len");
        out[i++] = *k;
    }
    TC_CHECK(i == n, "a loop gave %zu entries, want %zu", i, n);
}

static void order_case(size_t n)
{
    u64map m = gc_make_map(u64map, 0);
    for (uint64_t i = 0; i < n; i++)
        gc_map_set(m, i * 11, i);
    uint64_t *first = calloc(n, 8), *other = calloc(n, 8);
    order_of(m, first, n);
    int differ = 0;
    for (int loop = 0; loop < 10; loop++) {
        order_of(m, other, n);
        differ += memcmp(first, other, n * 8) != 0;
    }
    TC_CHECK(differ > 0, "%zu entries: 10 loops all gave the order of the first (iteration order is not varied)", n);
    free(first);
    free(other);
}

static void test_iter_order(void)
{
    order_case(8);
    order_case(100);
    order_case(5000);
}

/* ------------------------------------------------------------------------ */
/* iter_delete                                                               */
/* ------------------------------------------------------------------------ */

enum { ST_ABSENT, ST_PENDING, ST_PRODUCED, ST_DELETED };

static void iter_delete_case(uint64_t n, uint64_t seed0, int del_current, int del_others)
{
    u64map m = gc_make_map(u64map, 0);
    uint8_t *st = xcalloc(n);
    uint64_t *pool = calloc(n, 8); /* not yet produced, present */
    size_t *where = calloc(n, sizeof *where);
    size_t npool = n;
    for (uint64_t i = 0; i < n; i++) {
        gc_map_set(m, i, i + 1);
        st[i] = ST_PENDING;
        pool[i] = i;
        where[i] = i;
    }
#define POOL_REMOVE(k)                        \
    do {                                      \
        size_t w_ = where[k];                 \
        pool[w_] = pool[--npool];             \
        where[pool[w_]] = w_;                 \
    } while (0)
    uint64_t rs = seed0 | 1;
    size_t produced = 0, deleted_pending = 0;
    gc_map_range(m, k, v)
    {
        uint64_t key = *k;
        TC_CHECK(key < n, "n %llu: produced key %llu never inserted", (unsigned long long)n, (unsigned long long)key);
        TC_CHECK(st[key] != ST_DELETED, "n %llu: produced key %llu deleted before it was reached",
                 (unsigned long long)n, (unsigned long long)key);
        TC_CHECK(st[key] == ST_PENDING, "n %llu: key %llu produced twice", (unsigned long long)n,
                 (unsigned long long)key);
        TC_CHECK(*v == key + 1, "n %llu: key %llu value %llu", (unsigned long long)n, (unsigned long long)key,
                 (unsigned long long)*v);
        st[key] = ST_PRODUCED;
        POOL_REMOVE(key);
        produced++;
        if (del_current && (del_current == 1 || tc_rand(&rs) % 2)) {
            TC_CHECK(gc_map_delete(m, key), "n %llu: deleting the current key %llu failed", (unsigned long long)n,
                     (unsigned long long)key);
            st[key] = ST_ABSENT;
        }
        for (int d = 0; d < del_others && npool > 0; d++) {
            uint64_t victim = pool[tc_rand(&rs) % npool];
            TC_CHECK(gc_map_delete(m, victim), "n %llu: deleting pending key %llu failed", (unsigned long long)n,
                     (unsigned long long)victim);
            st[victim] = ST_DELETED;
            POOL_REMOVE(victim);
            deleted_pending++;
        }
        /* and sometimes one already produced: harmless */
        if (tc_rand(&rs) % 4 == 0) {
            uint64_t x = tc_rand(&rs) % n;
            if (st[x] == ST_PRODUCED) {
                TC_CHECK(gc_map_delete(m, x), "deleting produced key %llu", (unsigned long long)x);
                st[x] = ST_ABSENT;
            }
        }
    }
#undef POOL_REMOVE
    TC_CHECK(npool == 0, "n %llu: %zu entries never produced (first: key %llu)", (unsigned long long)n, npool,
             (unsigned long long)(npool ? pool[0] : 0));
    TC_CHECK(produced + deleted_pending == n, "n %llu: %zu produced + %zu deleted != n", (unsigned long long)n,
             produced, deleted_pending);
    size_t left = 0;
    for (uint64_t i = 0; i < n; i++) {
        bool in = st[i] == ST_PRODUCED;
        left += in;
        TC_CHECK(gc_map_lookup(m, i, NULL) == in, "n %llu: key %llu present=%d after the loop", (unsigned long long)n,
                 (unsigned long long)i, !in);
    }
    TC_CHECK(gc_map_len(m) == left, "n %llu: len %zu, want %zu", (unsigned long long)n, gc_map_len(m), left);
    free(st);
    free(pool);
    free(where);
}

static void test_iter_delete(void)
{
    static const uint64_t sizes[] = {8, 100, 3000};
    for (size_t s = 0; s < 3; s++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            iter_delete_case(sizes[s], seed * 7919, 1, 0); /* delete every entry as it comes */
            iter_delete_case(sizes[s], seed * 7919, 2, 1); /* half the current ones, one pending per step */
            iter_delete_case(sizes[s], seed * 7919, 0, 3); /* three pending per step */
        }
    }
}

/* ------------------------------------------------------------------------ */
/* iter_insert                                                               */
/* ------------------------------------------------------------------------ */

static void iter_insert_case(uint64_t nold, uint64_t per_step, uint64_t first_burst)
{
    u64map m = gc_make_map(u64map, 0);
    uint64_t cap = nold + first_burst + per_step * (nold + 1) + 1;
    uint8_t *seen = xcalloc(cap);
    for (uint64_t i = 0; i < nold; i++)
        gc_map_set(m, tc_mix(i), i);
    uint64_t next = nold;
    size_t steps = 0;
    gc_map_range(m, k, v)
    {
        uint64_t i = *v;
        TC_CHECK(i < next && *k == tc_mix(i), "old %llu: produced a wrong entry %llu -> %llu", (unsigned long long)nold,
                 (unsigned long long)*k, (unsigned long long)*v);
        TC_CHECK(!seen[i]++, "old %llu: entry %llu (%s) produced twice", (unsigned long long)nold,
                 (unsigned long long)i, i < nold ? "old" : "new");
        uint64_t add = steps == 0 ? first_burst : per_step;
        if (steps >= nold) /* only during the first nold steps, so that the loop ends */
            add = 0;
        for (uint64_t a = 0; a < add; a++, next++)
            gc_map_set(m, tc_mix(next), next);
        steps++;
    }
    for (uint64_t i = 0; i < nold; i++)
        TC_CHECK(seen[i] == 1, "old %llu (%llu inserted): old entry %llu produced %u times", (unsigned long long)nold,
                 (unsigned long long)(next - nold), (unsigned long long)i, seen[i]);
    TC_CHECK(gc_map_len(m) == next, "old %llu: len %zu, want %llu", (unsigned long long)nold, gc_map_len(m),
             (unsigned long long)next);
    for (uint64_t i = 0; i < next; i++)
        TC_CHECK(gc_map_get(m, tc_mix(i)) == i && gc_map_lookup(m, tc_mix(i), NULL), "old %llu: entry %llu after",
                 (unsigned long long)nold, (unsigned long long)i);
    free(seen);
}

static void test_iter_insert(void)
{
    iter_insert_case(8, 0, 3000);   /* one group to a directory on the first step */
    iter_insert_case(8, 100, 0);
    iter_insert_case(100, 50, 0);   /* 100 -> 5,100: grows, then tables split */
    iter_insert_case(2000, 20, 0);  /* two or more tables -> 42,000 entries: many splits */
    iter_insert_case(3, 1, 0);
    iter_insert_case(900, 1, 1);
}

/* ------------------------------------------------------------------------ */
/* iter_mixed                                                                */
/* ------------------------------------------------------------------------ */

/* During one loop: inserts (growing the map, splitting tables), deletes and
 * updates of entries not yet produced.  Each produced entry must be present
 * with its current value; old ones never deleted exactly once; new ones at
 * most once. */
/* Key i: (i + 1) * an odd constant, so that the key gives back i. */
#define MIX_MUL 0x9e3779b97f4a7c15ull
static uint64_t mix_key(uint64_t i) { return (i + 1) * MIX_MUL; }
static uint64_t mix_index(uint64_t k)
{
    uint64_t x = MIX_MUL; /* the inverse mod 2^64, by Newton's method */
    for (int r = 0; r < 6; r++)
        x *= 2 - MIX_MUL * x;
    return k * x - 1;
}

static void iter_mixed_case(uint64_t nold, uint64_t ins, uint64_t seed0)
{
    uint64_t cap = nold + ins * nold + 1;
    u64map m = gc_make_map(u64map, 0);
    uint64_t *val = calloc(cap, 8);
    uint8_t *st = xcalloc(cap); /* ST_ABSENT, ST_PENDING (must), ST_PRODUCED, 4: new (may) */
    uint64_t *pool = calloc(cap, 8);
    size_t *where = calloc(cap, sizeof *where), npool = 0;
    for (uint64_t i = 0; i < nold; i++) {
        val[i] = i * 10;
        gc_map_set(m, mix_key(i), val[i]);
        st[i] = ST_PENDING;
        where[i] = npool;
        pool[npool++] = i;
    }
#define MIX_POOL_REMOVE(k)                    \
    do {                                      \
        size_t w_ = where[k];                 \
        pool[w_] = pool[--npool];             \
        where[pool[w_]] = w_;                 \
    } while (0)
    uint64_t rs = seed0 | 1, next = nold, steps = 0, updates = 0;
    gc_map_range(m, k, v)
    {
        uint64_t i = mix_index(*k);
        TC_CHECK(i < next, "produced a key never inserted (%#llx)", (unsigned long long)*k);
        TC_CHECK(st[i] == ST_PENDING || st[i] == 4, "entry %llu produced in state %d (deleted, or twice)",
                 (unsigned long long)i, st[i]);
        TC_CHECK(*v == val[i], "entry %llu produced with value %llu, its current value is %llu", (unsigned long long)i,
                 (unsigned long long)*v, (unsigned long long)val[i]);
        if (st[i] == ST_PENDING)
            MIX_POOL_REMOVE(i);
        st[i] = ST_PRODUCED;
        if (steps++ >= nold)
            continue;
        for (uint64_t a = 0; a < ins; a++, next++) {
            val[next] = next * 10 + 1;
            gc_map_set(m, mix_key(next), val[next]);
            st[next] = 4;
        }
        for (int d = 0; d < 2 && npool > 0; d++) { /* delete a pending old one */
            uint64_t x = pool[tc_rand(&rs) % npool];
            TC_CHECK(gc_map_delete(m, mix_key(x)), "delete pending %llu", (unsigned long long)x);
            MIX_POOL_REMOVE(x);
            st[x] = ST_DELETED;
        }
        for (int u = 0; u < 2 && npool > 0; u++) { /* update a pending old one */
            uint64_t x = pool[tc_rand(&rs) % npool];
            val[x] += 7;
            gc_map_set(m, mix_key(x), val[x]);
            updates++;
        }
        /* and a new one, produced or not: delete it, or update it */
        uint64_t y = nold + tc_rand(&rs) % (next - nold);
        if (st[y] == 4 && tc_rand(&rs) % 2) {
            TC_CHECK(gc_map_delete(m, mix_key(y)), "delete new %llu", (unsigned long long)y);
            st[y] = ST_DELETED;
        } else if (st[y] == 4) {
            val[y] += 3;
            gc_map_set(m, mix_key(y), val[y]);
        }
    }
#undef MIX_POOL_REMOVE
    TC_CHECK(npool == 0, "old %llu, %llu inserted: %zu old entries never produced", (unsigned long long)nold,
             (unsigned long long)(next - nold), npool);
    size_t live = 0;
    for (uint64_t i = 0; i < next; i++) {
        bool in = st[i] != ST_DELETED;
        live += in;
        uint64_t got = 0;
        TC_CHECK(gc_map_lookup(m, mix_key(i), &got) == in && got == (in ? val[i] : 0),
                 "entry %llu after the loop: present %d value %llu", (unsigned long long)i, !in, (unsigned long long)got);
    }
    TC_CHECK(gc_map_len(m) == live, "len %zu, want %zu", gc_map_len(m), live);
    TC_CHECK(updates > 0, "no updates happened");
    free(val);
    free(st);
    free(pool);
    free(where);
}

static void test_iter_mixed(void)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        iter_mixed_case(8, 200, seed);  /* one group to a directory at the first step */
        iter_mixed_case(100, 30, seed); /* grows, then splits */
        iter_mixed_case(900, 4, seed);  /* one full table: splits early in the loop */
    }
}

/* ------------------------------------------------------------------------ */
/* iter_clear                                                                */
/* ------------------------------------------------------------------------ */

static void iter_clear_case(uint64_t n, uint64_t at, uint64_t add_after)
{
    u64map m = gc_make_map(u64map, 0);
    for (uint64_t i = 0; i < n; i++)
        gc_map_set(m, i, i);
    uint64_t produced = 0, after = 0;
    uint8_t seen_new[64] = {0};
    gc_map_range(m, k, v)
    {
        if (produced < at) {
            TC_CHECK(*k < n && *v == *k, "before clear: entry %llu -> %llu", (unsigned long long)*k,
                     (unsigned long long)*v);
            produced++;
            if (produced == at) {
                gc_map_clear(m);
                for (uint64_t a = 0; a < add_after; a++)
                    gc_map_set(m, n + a, n + a);
            }
            continue;
        }
        /* after the clear: only the new ones, each at most once */
        TC_CHECK(*k >= n && *k < n + add_after, "n %llu: key %llu produced after clear", (unsigned long long)n,
                 (unsigned long long)*k);
        TC_CHECK(!seen_new[*k - n]++, "new key %llu produced twice after clear", (unsigned long long)*k);
        TC_CHECK(*v == *k, "new key %llu value %llu", (unsigned long long)*k, (unsigned long long)*v);
        after++;
    }
    TC_CHECK(produced == at, "n %llu: only %llu produced before the clear at %llu", (unsigned long long)n,
             (unsigned long long)produced, (unsigned long long)at);
    TC_CHECK(gc_map_len(m) == add_after, "len %zu after clear + %llu inserts", gc_map_len(m),
             (unsigned long long)add_after);
}

static void test_iter_clear(void)
{
    iter_clear_case(8, 1, 0);
    iter_clear_case(8, 3, 5);
    iter_clear_case(1000, 10, 0);
    iter_clear_case(1000, 500, 40);
    iter_clear_case(5000, 1, 60);
}

/* ------------------------------------------------------------------------ */
/* range_macro                                                               */
/* ------------------------------------------------------------------------ */

static int g_eval_count;
static u64map g_range_map;
static u64map range_source(void)
{
    g_eval_count++;
    return g_range_map;
}

static void test_range_macro(void)
{
    u64map m = gc_make_map(u64map, 0);
    for (uint64_t i = 0; i < 50; i++)
        gc_map_set(m, i, i * 2);
    /* break */
    size_t n = 0;
    gc_map_range(m, k, v)
    {
        (void)k;
        (void)v;
        if (++n == 5)
            break;
    }
    TC_CHECK(n == 5, "break after 5: %zu iterations", n);
    /* continue: every entry still visited, the rest of the body skipped for evens */
    uint64_t visits = 0, oddsum = 0;
    gc_map_range(m, k, v)
    {
        visits++;
        if (*k % 2 == 0)
            continue;
        oddsum += *v;
    }
    uint64_t want = 0;
    for (uint64_t i = 1; i < 50; i += 2)
        want += i * 2;
    TC_CHECK(visits == 50 && oddsum == want, "continue: %llu visits, sum %llu (want 50, %llu)",
             (unsigned long long)visits, (unsigned long long)oddsum, (unsigned long long)want);
    /* nested loops over the same map, break in the inner one only */
    uint64_t pairs = 0, inner_breaks = 0, outer = 0;
    gc_map_range(m, k1, v1)
    {
        (void)v1;
        outer++;
        gc_map_range(m, k2, v2)
        {
            (void)v2;
            if (*k2 == *k1) {
                inner_breaks++;
                break;
            }
            pairs++;
        }
    }
    TC_CHECK(outer == 50 && inner_breaks == 50 && pairs <= 50 * 49, "nested: %llu outer, %llu breaks, %llu pairs",
             (unsigned long long)outer, (unsigned long long)inner_breaks, (unsigned long long)pairs);
    uint64_t full = 0;
    gc_map_range(m, k1, v1)
    {
        (void)k1, (void)v1;
        gc_map_range(m, k2, v2)
        {
            (void)k2, (void)v2;
            full++;
        }
    }
    TC_CHECK(full == 2500, "nested full loops gave %llu pairs, want 2500", (unsigned long long)full);
    /* writes through the value pointer are the map's */
    gc_map_range(m, k, v) *v += *k + 1000;
    for (uint64_t i = 0; i < 50; i++)
        TC_CHECK(gc_map_get(m, i) == i * 3 + 1000, "value of %llu after writing through vp: %llu",
                 (unsigned long long)i, (unsigned long long)gc_map_get(m, i));
    /* M is evaluated once */
    g_range_map = m;
    g_eval_count = 0;
    n = 0;
    gc_map_range(range_source(), k, v)
    {
        (void)k, (void)v;
        n++;
    }
    TC_CHECK(n == 50 && g_eval_count == 1, "range over a call: %zu entries, M evaluated %d times", n, g_eval_count);
    /* a one-statement body, and a single-entry map */
    u64map one = gc_make_map(u64map, 0);
    gc_map_set(one, 7, 8);
    n = 0;
    gc_map_range(one, k, v) n += *k * 10 + *v;
    TC_CHECK(n == 78, "single entry: %zu", n);
    /* string keys: *k is the string */
    strmap sm = gc_make_map(strmap, 0);
    gc_map_set(sm, "alpha", 1);
    gc_map_set(sm, "beta", 2);
    gc_map_set(sm, "gamma", 3);
    int mask = 0;
    gc_map_range(sm, k, v)
    {
        const char *s = *k;
        int want_v = strcmp(s, "alpha") == 0 ? 1 : strcmp(s, "beta") == 0 ? 2 : strcmp(s, "gamma") == 0 ? 3 : -1;
        TC_CHECK(want_v == *v, "string range: \"%s\" -> %d", s, *v);
        TC_CHECK(!(mask & (1 << want_v)), "string range: \"%s\" twice", s);
        mask |= 1 << want_v;
    }
    TC_CHECK(mask == 0xe, "string range gave mask %#x", mask);
    g_range_map.m = NULL;
}

/* ------------------------------------------------------------------------ */
/* map_ptr                                                                   */
/* ------------------------------------------------------------------------ */

static void test_map_ptr(void)
{
    u64map m = gc_make_map(u64map, 0);
    for (uint64_t i = 0; i < 3000; i++)
        gc_map_set(m, i, i);
    uint64_t *p = gc_map_ptr(m, 1234);
    TC_CHECK(p && *p == 1234, "gc_map_ptr(1234)");
    TC_CHECK(gc_map_ptr(m, 3000) == NULL && gc_map_ptr(m, UINT64_MAX) == NULL, "gc_map_ptr of an absent key");
    *p = 99;
    TC_CHECK(gc_map_get(m, 1234) == 99, "a write through gc_map_ptr is not seen");
    /* reads do not move it */
    for (uint64_t i = 0; i < 3000; i++)
        TC_CHECK(gc_map_get(m, i) == (i == 1234 ? 99 : i), "key %llu", (unsigned long long)i);
    TC_CHECK(u64_range_count(m) == 3000, "range");
    TC_CHECK(gc_map_ptr(m, 1234) == p, "gc_map_ptr moved without a write");
    *p = 100;
    TC_CHECK(gc_map_get(m, 1234) == 100, "a second write through the pointer");
    /* nor do collections */
    tc_collect_churn(64, 20000, 2);
    TC_CHECK(*p == 100 && gc_map_ptr(m, 1234) == p, "the value pointer after collections");
    *p = 101;
    TC_CHECK(gc_map_get(m, 1234) == 101, "a write through the pointer after collections");
    /* gc_mapassign's slot */
    uint64_t k = 5000;
    uint64_t *s = gc_mapassign(m.m, &k);
    TC_CHECK(s && *s == 0, "gc_mapassign of a new key");
    *s = 77;
    TC_CHECK(gc_map_get(m, 5000) == 77 && gc_map_len(m) == 3001, "a write through gc_mapassign's slot");
    /* after a write, ask again: the value is where the map says */
    for (uint64_t i = 10000; i < 20000; i++)
        gc_map_set(m, i, i);
    p = gc_map_ptr(m, 1234);
    TC_CHECK(p && *p == 101, "gc_map_ptr after growth");
    /* a large value through its pointer */
    v200map big = gc_make_map(v200map, 0);
    for (uint64_t i = 0; i < 500; i++) {
        struct v200 c;
        tc_fill(&c, sizeof c, (uint32_t)i);
        gc_map_set(big, i, c);
    }
    struct v200 *bp = gc_map_ptr(big, 77);
    TC_CHECK(bp && tc_pattern_diff(bp, sizeof *bp, 77) < 0, "200-byte value through gc_map_ptr");
    tc_fill(bp, sizeof *bp, 4242);
    struct v200 got = gc_map_get(big, 77);
    TC_CHECK(tc_pattern_diff(&got, sizeof got, 4242) < 0, "write of a 200-byte value through its pointer");
}

/* ------------------------------------------------------------------------ */
/* gc_values                                                                 */
/* ------------------------------------------------------------------------ */

typedef GC_MAP(uint64_t, struct obj *) objmap;
typedef GC_MAP(struct obj *, uint64_t) objkeymap;
struct pv {
    uint64_t x;
    struct obj *p;
};
typedef GC_MAP(uint64_t, struct pv) pvmap;

#define GV_N 20000
static objmap g_vals;
static objkeymap g_keys;
static pvmap g_pvs;
static gc_weak **g_weak; /* a collected array, rooted by this global */

static TC_NOINLINE void gv_build(void)
{
    g_vals = gc_make_map(objmap, 0);
    g_keys = gc_make_map(objkeymap, 0);
    g_pvs = gc_make_map(pvmap, 0);
    g_weak = gc_new_array(gc_weak *, GV_N);
    for (uint32_t i = 0; i < GV_N; i++) {
        struct obj *o = new_obj(i);
        g_weak[i] = gc_weak_make(o);
        gc_map_set(g_vals, (uint64_t)i, o);
        gc_map_set(g_keys, new_obj(i + GV_N), (uint64_t)i);
        struct pv pv = {i, new_obj(i + 2 * GV_N)};
        gc_map_set(g_pvs, (uint64_t)i, pv);
        if (i % 2000 == 1999) /* collections while the maps grow */
            tc_collect_clean();
    }
}

static void gv_check(const char *when)
{
    TC_CHECK(gc_map_len(g_vals) == GV_N && gc_map_len(g_keys) == GV_N && gc_map_len(g_pvs) == GV_N, "%s: lens",
             when);
    for (uint32_t i = 0; i < GV_N; i++) {
        struct obj *o = gc_map_get(g_vals, (uint64_t)i);
        TC_CHECK(obj_ok(o, i), "%s: object stored as the value of %u was freed or overwritten", when, i);
        struct pv pv = gc_map_get(g_pvs, (uint64_t)i);
        TC_CHECK(pv.x == i && obj_ok(pv.p, i + 2 * GV_N), "%s: object inside struct value %u freed or overwritten",
                 when, i);
    }
    uint8_t *seen = xcalloc(GV_N);
    gc_map_range(g_keys, k, v)
    {
        TC_CHECK(*v < GV_N && !seen[*v]++, "%s: key map value %llu", when, (unsigned long long)*v);
        TC_CHECK(obj_ok(*k, (uint32_t)*v + GV_N), "%s: object used as key %llu was freed or overwritten", when,
                 (unsigned long long)*v);
        TC_CHECK(gc_map_get(g_keys, *k) == *v, "%s: lookup by pointer key", when);
    }
    free(seen);
}

static int g_gv_from, g_gv_step;
static int gv_cleared(void)
{
    int n = 0;
    for (int i = g_gv_from; i < GV_N; i += g_gv_step)
        n += gc_weak_get(g_weak[i]) == NULL;
    return n;
}
static bool gv_half_cleared(void) { return gv_cleared() >= GV_N / 2 - 40; }
static bool gv_all_cleared(void) { return gv_cleared() >= GV_N - 40; }

/* Pointer keys of a map iterated while small, then grown past its first
 * split and emptied: nothing the map held may stay alive. */
#define GK_N 4000
static objkeymap g_gk;
static gc_weak **g_gkw;
static TC_NOINLINE void gk_build(void)
{
    g_gk = gc_make_map(objkeymap, 0);
    g_gkw = gc_new_array(gc_weak *, GK_N);
    for (uint32_t i = 0; i < GK_N; i++) {
        struct obj *o = new_obj(i);
        g_gkw[i] = gc_weak_make(o);
        gc_map_set(g_gk, o, (uint64_t)i);
        if (i == 10) { /* one loop while the map is small */
            size_t n = 0;
            gc_map_range(g_gk, k, v)
            {
                (void)k, (void)v;
                n++;
            }
            TC_CHECK(n == 11, "range gave %zu", n);
        }
    }
}
static TC_NOINLINE void gk_empty(void)
{
    for (uint32_t i = 0; i < GK_N; i++) {
        struct obj *o = gc_weak_get(g_gkw[i]);
        TC_CHECK(o && gc_map_delete(g_gk, o), "pointer key %u: weak %p, or delete failed", i, (void *)o);
    }
    TC_CHECK(gc_map_len(g_gk) == 0, "len %zu", gc_map_len(g_gk));
}
static int gk_cleared(void)
{
    int n = 0;
    for (int i = 0; i < GK_N; i++)
        n += gc_weak_get(g_gkw[i]) == NULL;
    return n;
}
static bool gk_done(void) { return gk_cleared() >= GK_N - 40; }

static void test_gc_values(void)
{
    gk_build();
    tc_collect_churn(sizeof(struct obj), 20000, 1);
    TC_CHECK(gk_cleared() == 0, "%d pointer keys collected while in the map", gk_cleared());
    gk_empty();
    TC_CHECK(collect_until(gk_done, 20),
             "a map with pointer keys, iterated once while small, grown to %d entries and emptied: only %d of its "
             "%d former keys were collected (the map still reaches a replaced table)",
             GK_N, gk_cleared(), GK_N);
    g_gk.m = NULL;

    gv_build();
    tc_clear_stack();
    gv_check("after building");
    for (int r = 0; r < 3; r++)
        tc_collect_churn(sizeof(struct obj), 50000, 1);
    gv_check("after collections");
    for (int i = 0; i < GV_N; i++)
        TC_CHECK(gc_weak_get(g_weak[i]) != NULL, "weak pointer %d to a kept value cleared", i);
    /* deleting entries lets their objects go (the slots do not keep them) */
    for (uint64_t i = 1; i < GV_N; i += 2)
        TC_CHECK(gc_map_delete(g_vals, i), "delete %llu", (unsigned long long)i);
    g_gv_from = 1, g_gv_step = 2;
    TC_CHECK(collect_until(gv_half_cleared, 20),
             "after deleting %d entries, only %d of their values were collected (deleted slots keep their pointers)",
             GV_N / 2, gv_cleared());
    for (uint64_t i = 0; i < GV_N; i += 2)
        TC_CHECK(obj_ok(gc_map_get(g_vals, i), (uint32_t)i), "value %llu after deleting the odd ones",
                 (unsigned long long)i);
    /* clear lets all go */
    gc_map_clear(g_vals);
    g_gv_from = 0, g_gv_step = 1;
    TC_CHECK(collect_until(gv_all_cleared, 20), "after clear, only %d of %d values were collected", gv_cleared(),
             GV_N);
    g_vals.m = NULL;
    g_keys.m = NULL;
    g_pvs.m = NULL;
}

/* ------------------------------------------------------------------------ */
/* gc_unreachable                                                            */
/* ------------------------------------------------------------------------ */

#define GU_N 10000
static gc_weak **g_uw;    /* weak pointers to values and keys: 2 * GU_N */
static gc_weak *g_map_weak; /* to the map itself, if it is an object start */

static TC_NOINLINE uintptr_t gu_build(void)
{
    objmap m = gc_make_map(objmap, 0);
    objkeymap mk = gc_make_map(objkeymap, 0);
    g_uw = gc_new_array(gc_weak *, 2 * GU_N);
    for (uint32_t i = 0; i < GU_N; i++) {
        struct obj *o = new_obj(i);
        g_uw[i] = gc_weak_make(o);
        gc_map_set(m, (uint64_t)i, o);
        struct obj *k = new_obj(i + GU_N);
        g_uw[GU_N + i] = gc_weak_make(k);
        gc_map_set(mk, k, (uint64_t)i);
    }
    errno = 0;
    g_map_weak = gc_weak_make(m.m);
    TC_CHECK(g_map_weak != NULL || errno == EINVAL, "gc_weak_make(map)");
    (void)mk;
    return tc_hide(m.m);
}

static int gu_cleared(void)
{
    int n = 0;
    for (int i = 0; i < 2 * GU_N; i++)
        n += gc_weak_get(g_uw[i]) == NULL;
    return n;
}
static bool gu_done(void) { return gu_cleared() >= 2 * GU_N - 32 && gc_weak_get(g_map_weak) == NULL; }

static u64map g_big;
static TC_NOINLINE void gu_big(void)
{
    g_big = gc_make_map(u64map, 0);
    for (uint64_t i = 0; i < 300000; i++)
        gc_map_set(g_big, tc_mix(i), i);
}

static void test_gc_unreachable(void)
{
    uintptr_t h = gu_build();
    (void)h;
    TC_CHECK(collect_until(gu_done, 30),
             "a dropped map: %d of %d objects stored only in it (keys and values) collected; the map itself %s",
             gu_cleared(), 2 * GU_N, gc_weak_get(g_map_weak) ? "still alive" : "collected");
    /* the tables go too */
    tc_collect_clean();
    tc_collect_clean();
    uint64_t before = heap_alloc_now();
    gu_big();
    tc_collect_clean();
    uint64_t held = heap_alloc_now();
    TC_CHECK(gc_map_len(g_big) == 300000 && held >= before + 4 * TC_MiB,
             "a 300,000-entry map raised heap_alloc by only %llu bytes", (unsigned long long)(held - before));
    g_big.m = NULL;
    tc_collect_clean();
    tc_collect_clean();
    tc_collect_clean();
    uint64_t after = heap_alloc_now();
    TC_CHECK(after < before + TC_MiB, "a dropped 300,000-entry map: heap_alloc %llu before, %llu with it, %llu after",
             (unsigned long long)before, (unsigned long long)held, (unsigned long long)after);
}

/* ------------------------------------------------------------------------ */
/* gc_noscan                                                                 */
/* ------------------------------------------------------------------------ */

typedef GC_MAP(uint64_t, uintptr_t) addrmap;
typedef GC_MAP(uintptr_t, uint32_t) addrkeymap;
typedef GC_MAP(uint64_t, struct pv) pvmap_ns;

#define NS_N 6000
static addrmap g_addr;
static addrkeymap g_addrk;
static pvmap_ns g_pvns;
static objmap g_ctl; /* control: a scanned map of the same objects' kind */
static gc_weak **g_nsw; /* 4 * NS_N: values, keys, noscan struct values, control */

static TC_NOINLINE void ns_build(void)
{
    g_addr = gc_make_map(addrmap, 0);
    g_addrk = gc_make_map(addrkeymap, 0);
    g_pvns = gc_make_map_noscan(pvmap_ns, 0);
    g_ctl = gc_make_map(objmap, 0);
    g_nsw = gc_new_array(gc_weak *, 4 * NS_N);
    for (uint32_t i = 0; i < NS_N; i++) {
        struct obj *a = new_obj(i);
        g_nsw[i] = gc_weak_make(a);
        gc_map_set(g_addr, (uint64_t)i, (uintptr_t)a);
        struct obj *b = new_obj(i + NS_N);
        g_nsw[NS_N + i] = gc_weak_make(b);
        gc_map_set(g_addrk, (uintptr_t)b, i);
        struct obj *c = new_obj(i + 2 * NS_N);
        g_nsw[2 * NS_N + i] = gc_weak_make(c);
        struct pv pv = {i, c};
        gc_map_set(g_pvns, (uint64_t)i, pv);
        struct obj *d = new_obj(i + 3 * NS_N);
        g_nsw[3 * NS_N + i] = gc_weak_make(d);
        gc_map_set(g_ctl, (uint64_t)i, d);
    }
}

static int ns_cleared(int part)
{
    int n = 0;
    for (int i = part * NS_N; i < (part + 1) * NS_N; i++)
        n += gc_weak_get(g_nsw[i]) == NULL;
    return n;
}
static bool ns_done(void)
{
    return ns_cleared(0) >= NS_N - 20 && ns_cleared(1) >= NS_N - 20 && ns_cleared(2) >= NS_N - 20;
}

static void test_gc_noscan(void)
{
    ns_build();
    TC_CHECK(collect_until(ns_done, 30),
             "objects whose addresses only noscan maps hold were kept: %d of %d (uintptr_t values), %d of %d "
             "(uintptr_t keys), %d of %d (pointers in gc_make_map_noscan values) collected",
             ns_cleared(0), NS_N, ns_cleared(1), NS_N, ns_cleared(2), NS_N);
    TC_CHECK(ns_cleared(3) == 0, "%d objects held by a scanned map (the control) were collected", ns_cleared(3));
    for (uint32_t i = 0; i < NS_N; i++)
        TC_CHECK(obj_ok(gc_map_get(g_ctl, (uint64_t)i), i + 3 * NS_N), "control object %u", i);
    /* the noscan maps themselves are intact */
    TC_CHECK(gc_map_len(g_addr) == NS_N && gc_map_len(g_addrk) == NS_N && gc_map_len(g_pvns) == NS_N, "lens");
    for (uint32_t i = 0; i < NS_N; i++) {
        TC_CHECK(gc_map_get(g_addr, (uint64_t)i) != 0, "uintptr_t value %u", i);
        struct pv pv = gc_map_get(g_pvns, (uint64_t)i);
        TC_CHECK(pv.x == i, "noscan struct value %u", i);
    }
    g_addr.m = NULL;
    g_addrk.m = NULL;
    g_pvns.m = NULL;
    g_ctl.m = NULL;
}

/* ------------------------------------------------------------------------ */
/* gc_string_keys                                                            */
/* ------------------------------------------------------------------------ */

#define GS_N 20000
static strmap g_sm;     /* int values: noscan values, scanned key copies */
static strmap64 g_sm2;

static TC_NOINLINE void gs_build(void)
{
    g_sm = gc_make_map(strmap, 0);
    g_sm2 = gc_make_map(strmap64, 0);
    char buf[128];
    for (int i = 0; i < GS_N; i++) {
        size_t len = (size_t)snprintf(buf, sizeof buf, "string-key-%d/", i);
        /* pad to 16..100 bytes with letters */
        size_t want = 16 + (size_t)(i % 85);
        while (len < want)
            buf[len] = (char)('A' + (len + (size_t)i) % 26), len++;
        buf[len] = 0;
        gc_map_set(g_sm, buf, i);
        gc_map_set(g_sm2, buf, (uint64_t)i * 5);
        memset(buf, 0, sizeof buf);
    }
}

static void gs_key(char *buf, int i)
{
    size_t len = (size_t)snprintf(buf, 128, "string-key-%d/", i);
    size_t want = 16 + (size_t)(i % 85);
    while (len < want)
        buf[len] = (char)('A' + (len + (size_t)i) % 26), len++;
    buf[len] = 0;
}

static void gs_check(const char *when)
{
    char buf[128];
    TC_CHECK(gc_map_len(g_sm) == GS_N && gc_map_len(g_sm2) == GS_N, "%s: lens", when);
    uint8_t *seen = xcalloc(GS_N);
    gc_map_range(g_sm, k, v)
    {
        TC_CHECK(*v >= 0 && *v < GS_N && !seen[*v]++, "%s: value %d", when, *v);
        gs_key(buf, *v);
        TC_CHECK(strcmp(*k, buf) == 0, "%s: key copy of %d is \"%.60s\", want \"%s\" (freed or overwritten)", when,
                 *v, *k, buf);
    }
    memset(seen, 0, GS_N);
    gc_map_range(g_sm2, k, v)
    {
        int i = (int)(*v / 5);
        TC_CHECK(*v % 5 == 0 && i < GS_N && !seen[i]++, "%s: value %llu", when, (unsigned long long)*v);
        gs_key(buf, i);
        TC_CHECK(strcmp(*k, buf) == 0, "%s: key copy of %d is \"%.60s\" (freed or overwritten)", when, i, *k);
    }
    for (int i = 0; i < GS_N; i++) {
        gs_key(buf, i);
        TC_CHECK(gc_map_get(g_sm, buf) == i && gc_map_get(g_sm2, buf) == (uint64_t)i * 5, "%s: lookup \"%s\"", when,
                 buf);
    }
    free(seen);
}

static void test_gc_string_keys(void)
{
    gs_build();
    gs_check("after building");
    for (int r = 0; r < 3; r++) {
        tc_churn_kind(48, 30000, 1);
        tc_churn_kind(96, 20000, 1);
        tc_churn_kind(64, 20000, 0);
        tc_collect_clean();
    }
    gs_check("after collections");
    /* deletes and reinserts with collections between */
    char buf[128];
    for (int i = 0; i < GS_N; i += 3) {
        gs_key(buf, i);
        TC_CHECK(gc_map_delete(g_sm, buf), "delete \"%s\"", buf);
    }
    tc_collect_churn(64, 20000, 1);
    for (int i = 0; i < GS_N; i += 3) {
        gs_key(buf, i);
        TC_CHECK(!gc_map_lookup(g_sm, buf, NULL), "deleted \"%s\" found", buf);
        gc_map_set(g_sm, buf, i);
    }
    tc_collect_churn(64, 20000, 2);
    gs_check("after deletes and reinserts");
    g_sm.m = NULL;
    g_sm2.m = NULL;
}

/* ------------------------------------------------------------------------ */
/* concurrent_gc                                                             */
/* ------------------------------------------------------------------------ */

#define CG_N 80000
static atomic_int g_cg_done;
static atomic_ulong g_cg_garbage;

static void *cg_garbage(void *arg)
{
    (void)arg;
    uint64_t rs = 12345;
    while (!atomic_load(&g_cg_done)) {
        size_t sz = 16 + (size_t)(tc_rand(&rs) % 2000);
        tc_churn_kind(sz, 64, (int)(tc_rand(&rs) & 1));
        atomic_fetch_add(&g_cg_garbage, sz * 64);
    }
    return NULL;
}

static objmap g_cg;

static void test_concurrent_gc(void)
{
    atomic_store(&g_cg_done, 0);
    pthread_t t = tc_thread(cg_garbage, NULL);
    uint32_t gc0 = num_gc_now();
    g_cg = gc_make_map(objmap, 0);
    /* key i holds an object with seed i + round, for i in the live range */
    for (uint32_t i = 0; i < CG_N; i++)
        gc_map_set(g_cg, (uint64_t)i, new_obj(i));
    uint32_t gc_fill = num_gc_now() - gc0;
    /* update and delete while the garbage thread goes on */
    for (int round = 1; round <= 3; round++) {
        for (uint32_t i = 0; i < CG_N; i += 2)
            gc_map_set(g_cg, (uint64_t)i, new_obj(i + (uint32_t)round * CG_N));
        for (uint32_t i = 1; i < CG_N; i += 4)
            gc_map_delete(g_cg, (uint64_t)i);
        for (uint32_t i = 1; i < CG_N; i += 4)
            gc_map_set(g_cg, (uint64_t)i, new_obj(i));
    }
    uint32_t gcs = num_gc_now() - gc0;
    atomic_store(&g_cg_done, 1);
    tc_join(t);
    TC_CHECK(gcs >= 1, "no collection ran while the map was written (test ineffective; %lu bytes of garbage)",
             (unsigned long)atomic_load(&g_cg_garbage));
    TC_CHECK(gc_map_len(g_cg) == CG_N, "len %zu", gc_map_len(g_cg));
    tc_collect_churn(sizeof(struct obj), 20000, 1);
    for (uint32_t i = 0; i < CG_N; i++) {
        uint32_t seed = i % 2 == 0 ? i + 3 * CG_N : i;
        TC_CHECK(obj_ok(gc_map_get(g_cg, (uint64_t)i), seed), "entry %u: object freed or overwritten", i);
    }
    printf("     %u collections during the fill, %u in all\n", gc_fill, gcs);
    g_cg.m = NULL;
}

/* ------------------------------------------------------------------------ */
/* threads                                                                   */
/* ------------------------------------------------------------------------ */

#define TH_N 4
#define TH_KEYS 20000
#define TH_OPS 150000

struct th_arg {
    int id;
    atomic_int *bad;
};

static void *th_run(void *argp)
{
    struct th_arg *a = argp;
    objmap m = gc_make_map(objmap, 0);
    uint32_t *model = calloc(TH_KEYS, sizeof *model); /* 0 absent, else seed + 1 */
    uint64_t rs = (uint64_t)a->id * 0x9e3779b97f4a7c15ull + 1;
    size_t len = 0;
    for (uint32_t op = 0; op < TH_OPS; op++) {
        uint64_t r = tc_rand(&rs);
        uint32_t k = (uint32_t)(r % TH_KEYS);
        uint64_t key = ((uint64_t)a->id << 40) | k;
        switch ((r >> 32) % 8) {
        case 0:
        case 1:
        case 2: {
            uint32_t seed = op * TH_N + (uint32_t)a->id;
            gc_map_set(m, key, new_obj(seed));
            len += model[k] == 0;
            model[k] = seed + 1;
            break;
        }
        case 3:
        case 4: {
            bool was = gc_map_delete(m, key);
            if (was != (model[k] != 0)) {
                atomic_fetch_add(a->bad, 1);
                TC_FAIL("thread %d: delete of %u returned %d", a->id, k, was);
            }
            len -= model[k] != 0;
            model[k] = 0;
            break;
        }
        default: {
            struct obj *o = NULL;
            bool ok = gc_map_lookup(m, key, &o);
            if (ok != (model[k] != 0) || (ok && !obj_ok(o, model[k] - 1)))
                TC_FAIL("thread %d: lookup of %u: ok %d, object %s", a->id, k, ok,
                        ok ? (obj_ok(o, model[k] - 1) ? "right" : "wrong or overwritten") : "-");
        }
        }
        if (gc_map_len(m) != len)
            TC_FAIL("thread %d: len %zu, model %zu", a->id, gc_map_len(m), len);
        if (a->id == 0 && op % 30000 == 29999)
            gc_collect();
    }
    for (uint32_t k = 0; k < TH_KEYS; k++) {
        struct obj *o = gc_map_get(m, ((uint64_t)a->id << 40) | k);
        if ((o != NULL) != (model[k] != 0) || (o && !obj_ok(o, model[k] - 1)))
            TC_FAIL("thread %d: final check of %u", a->id, k);
    }
    free(model);
    return NULL;
}

static void test_threads(void)
{
    atomic_int bad = 0;
    struct th_arg args[TH_N];
    pthread_t t[TH_N];
    for (int i = 0; i < TH_N; i++) {
        args[i] = (struct th_arg){i, &bad};
        t[i] = tc_thread(th_run, &args[i]);
    }
    for (int i = 0; i < TH_N; i++)
        tc_join(t[i]);
    TC_CHECK(atomic_load(&bad) == 0, "%d bad results", atomic_load(&bad));
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    static const tc_subtest tests[] = {
        {"int_keys", test_int_keys},
        {"raw_api", test_raw_api},
        {"struct_keys", test_struct_keys},
        {"value_sizes", test_value_sizes},
        {"string_keys", test_string_keys},
        {"nil_map", test_nil_map},
        {"nil_panic", test_nil_panic},
        {"million", test_million},
        {"tombstones", test_tombstones},
        {"hint", test_hint},
        {"hint_enomem", test_hint_enomem},
        {"iter_once", test_iter_once},
        {"iter_order", test_iter_order},
        {"iter_delete", test_iter_delete},
        {"iter_insert", test_iter_insert},
        {"iter_mixed", test_iter_mixed},
        {"iter_clear", test_iter_clear},
        {"range_macro", test_range_macro},
        {"map_ptr", test_map_ptr},
        {"gc_values", test_gc_values},
        {"gc_unreachable", test_gc_unreachable},
        {"gc_noscan", test_gc_noscan},
        {"gc_string_keys", test_gc_string_keys},
        {"concurrent_gc", test_concurrent_gc},
        {"threads", test_threads},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
