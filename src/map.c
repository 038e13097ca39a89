/*
 * map.c - Go's maps as Swiss tables (Go 1.24's runtime/internal/maps, and
 * Abseil's flat_hash_map).
 *
 * Owns a map's storage.  A map is a directory of 2^global_depth table
 * pointers, indexed by the hash's top bits (extendible hashing); a table
 * with local_depth d fills the 2^(global_depth - d) consecutive directory
 * entries whose top d bits it owns.  A table is an array of groups; a group
 * is 8 control bytes followed by 8 slots (key, then value).  A control byte
 * is EMPTY, DELETED (a tombstone), or the low 7 bits of a full slot's hash
 * (h2); the hash's other bits (h1) pick the group where probing starts, and
 * probing visits groups in triangular steps until a group with an EMPTY
 * byte ends the search.
 *
 * Invariants:
 *   - a table keeps at least capacity/8 bytes EMPTY (growth_left counts the
 *     EMPTY bytes still free to fill), so every probe ends;
 *   - a table holds at most MAX_TABLE slots: when a full one needs room it
 *     splits in two (doubling the directory first if its depth is the
 *     directory's), so no insert moves more than one table's entries;
 *   - a table that has been grown, split or pruned (`replaced`) is not
 *     written again once its entries are copied out: iterators that hold it
 *     read only its keys, and the current values through the map; the
 *     collector frees it when no iterator does;
 *   - a deleted slot's bytes are zeroed, and so are a replaced table's
 *     values (its keys too, if no iteration ever began), so that neither
 *     keeps anything alive.
 *
 * How it meets the rest: tables and directories are ordinary collected
 * objects, noscan when neither keys nor values hold pointers; string keys
 * are noscan copies that the map's slots point to.  Writes while marking
 * runs are stores like any other, tracked by writetrack.c.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

#define GROUP_SLOTS 8
#define MAX_TABLE 1024 /* slots; Go 1.24's maxTableCapacity */
#define CTRL_EMPTY 0x80
#define CTRL_DELETED 0xfe
#define LSB 0x0101010101010101ull
#define MSB 0x8080808080808080ull

typedef struct table {
    uint32_t group_mask;  /* groups - 1 */
    uint16_t capacity;    /* slots: a power of two, GROUP_SLOTS..MAX_TABLE */
    uint16_t used;        /* full slots */
    uint16_t growth_left; /* EMPTY slots that may still fill before it must grow */
    uint8_t local_depth;
    bool replaced;
    size_t index;         /* its first directory entry */
    _Alignas(16) unsigned char groups[];
} table_t;

struct gc_map {
    uint32_t keysize, valsize;
    uint32_t valoff, slotsize; /* a slot: the key at 0, the value at valoff */
    uint32_t slotoff, groupsize; /* a group: control word at 0, slot 0 at slotoff */
    unsigned flags;
    uint8_t kind;              /* KEY_WORD, KEY_BYTES or KEY_STRING */
    uint8_t global_depth;
    bool noscan;               /* tables need not be scanned */
    bool iterated;             /* an iteration has begun: replaced tables keep their keys */
    _Atomic uint32_t writing;  /* a write is in progress (Go's hashWriting) */
    size_t count;
    uint64_t seed;
    table_t **dir;             /* 1 << global_depth entries; &dir0 at depth 0 */
    table_t *dir0;
};

/* ---- hashing ------------------------------------------------------------ */

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define K0 0xa0761d6478bd642full
#define K1 0xe7037ed1a0b428dbull
#define K2 0x8ebc6af09c88c6e3ull

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static inline uint64_t load_tail(const unsigned char *p, size_t n) /* n < 8 */
{
    uint64_t x = 0;
    memcpy(&x, p, n);
    return x;
}

static uint64_t hash_bytes(const void *key, size_t n, uint64_t seed)
{
    const unsigned char *p = key;
    uint64_t a = seed ^ K0, b = n ^ K1;
    while (n >= 16) {
        a = mix(load64(p) ^ a, load64(p + 8) ^ K1);
        p += 16, n -= 16;
    }
    if (n >= 8) {
        b ^= load64(p);
        p += 8, n -= 8;
    }
    a ^= load_tail(p, n);
    return mix(mix(a ^ K2, b ^ K0), seed ^ K1);
}

/* How keys hash and compare.  The functions below take the kind as a
 * constant argument, so that each public entry has a copy specialised for
 * 8-byte keys, the common case (Go's mapaccess1_fast64). */
enum { KEY_WORD, KEY_BYTES, KEY_STRING };
#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE uint64_t hash_key(const gc_map *m, const void *key, int kind)
{
    if (kind == KEY_STRING) {
        const char *s = *(const char *const *)key;
        return hash_bytes(s, strlen(s), m->seed);
    }
    if (kind == KEY_WORD)
        return mix(mix(load64(key) ^ m->seed, K1), K2);
    return hash_bytes(key, m->keysize, m->seed);
}

static ALWAYS_INLINE bool key_equal(const gc_map *m, const unsigned char *slotkey, const void *key, int kind)
{
    if (kind == KEY_STRING)
        return strcmp(*(const char *const *)slotkey, *(const char *const *)key) == 0;
    if (kind == KEY_WORD)
        return load64(slotkey) == load64(key);
    return memcmp(slotkey, key, m->keysize) == 0;
}

/* Run body with the map's key kind as a compile-time constant K. */
#define WITH_KIND(m, K, body)                                                                  \
    do {                                                                                       \
        if ((m)->kind == KEY_WORD) {                                                           \
            enum { K = KEY_WORD };                                                             \
            body;                                                                              \
        } else if ((m)->kind == KEY_STRING) {                                                  \
            enum { K = KEY_STRING };                                                           \
            body;                                                                              \
        } else {                                                                               \
            enum { K = KEY_BYTES };                                                            \
            body;                                                                              \
        }                                                                                      \
    } while (0)

static inline unsigned h2_of(uint64_t h) { return (unsigned)(h & 0x7f); }

/* ---- groups ------------------------------------------------------------- */

static inline unsigned char *group_at(const gc_map *m, table_t *t, size_t g) { return t->groups + g * m->groupsize; }
static inline uint64_t ctrl_of(const unsigned char *grp) { return load64(grp); }
static inline unsigned char *slot_at(const gc_map *m, unsigned char *grp, unsigned j)
{
    return grp + m->slotoff + (size_t)j * m->slotsize;
}
static inline void set_ctrl(unsigned char *grp, unsigned j, unsigned char c) { grp[j] = c; }

/* Bytes of the control word equal to h2 (with rare false positives, which
 * the key comparison filters, as in Go's SWAR version). */
static inline uint64_t match_h2(uint64_t ctrl, unsigned h2)
{
    uint64_t v = ctrl ^ (LSB * h2);
    return (v - LSB) & ~v & MSB;
}
static inline uint64_t match_empty(uint64_t ctrl) { return ctrl & ~(ctrl << 6) & MSB; }
static inline uint64_t match_empty_or_deleted(uint64_t ctrl) { return ctrl & MSB; }
static inline uint64_t match_full(uint64_t ctrl) { return ~ctrl & MSB; }
static inline unsigned first_match(uint64_t bits) { return (unsigned)__builtin_ctzll(bits) >> 3; }

/* ---- tables ------------------------------------------------------------- */

static size_t max_load(size_t capacity) { return capacity * 7 / 8; }

/* A new empty table; NULL if out of memory and may_fail, else that panics. */
static table_t *new_table_or_null(gc_map *m, size_t capacity, uint8_t depth, uintptr_t ra, bool may_fail)
{
    size_t ngroups = capacity / GROUP_SLOTS;
    table_t *t = alloc_from(sizeof(table_t) + ngroups * m->groupsize, m->noscan, ra);
    if (!t) {
        if (may_fail)
            return NULL;
        gc_panic("runtime: out of memory: map table of %zu slots", capacity);
    }
    t->capacity = (uint16_t)capacity;
    t->group_mask = (uint32_t)(ngroups - 1);
    t->growth_left = (uint16_t)max_load(capacity);
    t->local_depth = depth;
    for (size_t g = 0; g < ngroups; g++)
        memset(group_at(m, t, g), CTRL_EMPTY, GROUP_SLOTS);
    return t;
}

static table_t *new_table(gc_map *m, size_t capacity, uint8_t depth, uintptr_t ra)
{
    return new_table_or_null(m, capacity, depth, ra, false);
}

/* The table for hash h: its top global_depth bits index the directory
 * (shifted in two steps, so that depth 0 needs no branch). */
static inline table_t *table_for(const gc_map *m, uint64_t h)
{
    return m->dir[(h >> 1) >> (63 - m->global_depth)];
}

/* The slot holding key in t, or NULL. */
static ALWAYS_INLINE unsigned char *find_kind(const gc_map *m, table_t *t, uint64_t h, const void *key, int kind)
{
    size_t mask = t->group_mask, g = (h >> 7) & mask;
    unsigned h2 = h2_of(h);
    for (size_t step = 1;; step++) {
        unsigned char *grp = group_at(m, t, g);
        uint64_t ctrl = ctrl_of(grp);
        for (uint64_t bits = match_h2(ctrl, h2); bits; bits &= bits - 1) {
            unsigned char *s = slot_at(m, grp, first_match(bits));
            if (key_equal(m, s, key, kind))
                return s;
        }
        if (match_empty(ctrl))
            return NULL;
        g = (g + step) & mask;
    }
}

static unsigned char *find(const gc_map *m, table_t *t, uint64_t h, const void *key)
{
    WITH_KIND(m, K, return find_kind(m, t, h, key, K));
    return NULL;
}

static uint64_t hash_of(const gc_map *m, const void *key)
{
    WITH_KIND(m, K, return hash_key(m, key, K));
    return 0;
}

/* Put an entry known to be absent into a table with room, without checks:
 * the rehash step.  Returns its slot. */
static inline unsigned char *place(const gc_map *m, table_t *t, uint64_t h)
{
    size_t mask = t->group_mask, g = (h >> 7) & mask;
    for (size_t step = 1;; step++) {
        unsigned char *grp = group_at(m, t, g);
        uint64_t free = match_empty_or_deleted(ctrl_of(grp));
        if (free) {
            unsigned j = first_match(free);
            if (grp[j] == CTRL_EMPTY)
                t->growth_left--;
            set_ctrl(grp, j, (unsigned char)h2_of(h));
            t->used++;
            return slot_at(m, grp, j);
        }
        g = (g + step) & mask;
    }
}

/* Point the directory entries of t's range at t. */
static void install(gc_map *m, table_t *t)
{
    size_t span = (size_t)1 << (m->global_depth - t->local_depth);
    for (size_t i = 0; i < span; i++)
        m->dir[t->index + i] = t;
}

static ALWAYS_INLINE void rehash_kind(gc_map *m, table_t *old, table_t *lo, table_t *hi, unsigned bit, int kind)
{
    size_t ngroups = old->capacity / GROUP_SLOTS, slotsize = m->slotsize;
    for (size_t g = 0; g < ngroups; g++) {
        unsigned char *grp = group_at(m, old, g);
        for (uint64_t bits = match_full(ctrl_of(grp)); bits; bits &= bits - 1) {
            unsigned char *s = slot_at(m, grp, first_match(bits));
            uint64_t h = hash_key(m, s, kind);
            table_t *t = hi && ((h >> bit) & 1) ? hi : lo;
            unsigned char *d = place(m, t, h);
            if (slotsize == 16) /* 8-byte keys and values: no call */
                memcpy(d, s, 16);
            else
                memcpy(d, s, slotsize);
            /* The old copy must keep nothing alive if a stale pointer keeps
             * the old table: an iterator holding it reads only its keys
             * (values come from the map), and needs those only if the map
             * was ever iterated (else the whole table is cleared below). */
            if (m->iterated)
                memset(s + m->keysize, 0, slotsize - m->keysize);
        }
    }
    if (!m->iterated)
        memset(old->groups, 0, ngroups * m->groupsize); /* control bytes too: nothing is full */
    old->replaced = true;
}

/* Copy every entry of old into the tables its hashes now select (one or, on
 * a split, two), and retire old. */
static void rehash_into(gc_map *m, table_t *old, table_t *lo, table_t *hi, unsigned bit)
{
    WITH_KIND(m, K, rehash_kind(m, old, lo, hi, bit, K));
}

static void double_directory(gc_map *m, uintptr_t ra)
{
    size_t len = (size_t)1 << m->global_depth;
    table_t **nd = alloc_from(2 * len * sizeof(table_t *), 0, ra);
    if (!nd)
        gc_panic("runtime: out of memory: map directory of %zu tables", 2 * len);
    for (size_t i = 0; i < 2 * len; i++)
        nd[i] = m->dir[i >> 1];
    for (size_t i = 0; i < 2 * len; i++)
        if (i == 0 || nd[i - 1] != nd[i])
            nd[i]->index = i;
    m->dir = nd;
    m->global_depth++;
    m->dir0 = NULL; /* the depth-0 directory is gone: it must not keep its table */
}

/* Make room in t, full of used and tombstoned slots: rehash it into a table
 * twice as big, or as big if half of it is tombstones, or split it. */
static void grow_table(gc_map *m, table_t *t, uintptr_t ra)
{
    if (t->used <= max_load(t->capacity) / 2 || t->capacity < MAX_TABLE) {
        size_t cap = t->used <= max_load(t->capacity) / 2 ? t->capacity : 2 * (size_t)t->capacity;
        table_t *n = new_table(m, cap, t->local_depth, ra);
        n->index = t->index;
        rehash_into(m, t, n, NULL, 0);
        install(m, n);
        return;
    }
    if (t->local_depth == m->global_depth) {
        if (m->global_depth >= 63)
            gc_panic("runtime: map directory cannot grow");
        double_directory(m, ra);
    }
    uint8_t d = t->local_depth + 1;
    table_t *lo = new_table(m, MAX_TABLE, d, ra), *hi = new_table(m, MAX_TABLE, d, ra);
    size_t half = (size_t)1 << (m->global_depth - d);
    lo->index = t->index;
    hi->index = t->index + half;
    rehash_into(m, t, lo, hi, 63 - t->local_depth);
    install(m, lo);
    install(m, hi);
}

/* ---- the API ------------------------------------------------------------ */

static size_t align_of_size(size_t n)
{
    size_t a = n & -n;
    return !n ? 1 : a > 16 ? 16 : a;
}

static uint64_t map_seed(void)
{
    static _Atomic uint64_t ctr;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ K2,
               atomic_fetch_add(&ctr, K0) ^ (uint64_t)(uintptr_t)&ts);
}

gc_map *gc_makemap(size_t keysize, size_t valsize, size_t hint, unsigned flags)
{
    uintptr_t ra = (uintptr_t)__builtin_return_address(0);
    if (flags & GC_MAP_STRING_KEYS)
        keysize = sizeof(const char *);
    if (keysize == 0 || keysize > (1u << 20) || valsize > (1u << 20)) {
        errno = ENOMEM;
        return NULL;
    }
    gc_map *m = alloc_from(sizeof(gc_map), 0, ra);
    if (!m)
        return NULL;
    size_t ka = align_of_size(keysize), va = align_of_size(valsize);
    m->keysize = (uint32_t)keysize;
    m->valsize = (uint32_t)valsize;
    m->valoff = (uint32_t)round_up(keysize, va);
    m->slotsize = (uint32_t)round_up(m->valoff + valsize, ka > va ? ka : va);
    m->slotoff = ka > 8 || va > 8 ? 16 : 8;
    m->groupsize = (uint32_t)round_up(m->slotoff + GROUP_SLOTS * (size_t)m->slotsize, m->slotoff);
    m->flags = flags;
    m->kind = flags & GC_MAP_STRING_KEYS ? KEY_STRING : keysize == 8 ? KEY_WORD : KEY_BYTES;
    m->noscan = (flags & GC_MAP_KEYS_NOSCAN) && (flags & GC_MAP_VALUES_NOSCAN) && !(flags & GC_MAP_STRING_KEYS);
    m->seed = map_seed();
    m->dir = &m->dir0;
    if (hint > max_load(MAX_TABLE)) { /* several full-size tables from the start */
        uint8_t d = 0;
        while (d < 40 && ((size_t)max_load(MAX_TABLE) << d) < hint)
            d++;
        m->dir = alloc_from(((size_t)1 << d) * sizeof(table_t *), 0, ra);
        if (!m->dir) {
            errno = ENOMEM;
            return NULL;
        }
        m->global_depth = d;
        for (size_t i = 0; i < ((size_t)1 << d); i++) {
            if (!(m->dir[i] = new_table_or_null(m, MAX_TABLE, d, ra, true)))
                return NULL; /* errno ENOMEM, from the allocator */
            m->dir[i]->index = i;
        }
    } else if (hint > max_load(GROUP_SLOTS)) {
        size_t cap = GROUP_SLOTS;
        while (max_load(cap) < hint)
            cap *= 2;
        if (!(m->dir0 = new_table_or_null(m, cap, 0, ra, true)))
            return NULL;
    }
    return m;
}

/* Go's fatal errors (not panics: nothing could recover from them). */
static __attribute__((noreturn)) void fatal(const char *msg)
{
    tc_trace("fatal error: %s", msg);
    abort();
}

static void begin_write(gc_map *m)
{
    if (atomic_exchange_explicit(&m->writing, 1, memory_order_relaxed))
        fatal("concurrent map writes");
}

static void end_write(gc_map *m)
{
    if (!atomic_exchange_explicit(&m->writing, 0, memory_order_relaxed))
        fatal("concurrent map writes");
}

static ALWAYS_INLINE void *access_kind(gc_map *m, const void *key, int kind)
{
    uint64_t h = hash_key(m, key, kind);
    unsigned char *s = find_kind(m, table_for(m, h), h, key, kind);
    return s ? s + m->valoff : NULL;
}

/* The other kinds, and the checks' failures, off the word case's path, so
 * that it carries none of their register pressure. */
static __attribute__((noinline)) void *access_other(gc_map *m, const void *key)
{
    if (!m || m->count == 0)
        return NULL;
    if (atomic_load_explicit(&m->writing, memory_order_relaxed))
        fatal("concurrent map read and map write");
    return m->kind == KEY_STRING ? access_kind(m, key, KEY_STRING) : access_kind(m, key, KEY_BYTES);
}

void *gc_mapaccess(gc_map *m, const void *key)
{
    if (__builtin_expect(!m || m->kind != KEY_WORD || m->count == 0 ||
                             atomic_load_explicit(&m->writing, memory_order_relaxed), 0))
        return access_other(m, key);
    return access_kind(m, key, KEY_WORD);
}

static ALWAYS_INLINE void *assign_kind(gc_map *m, const void *key, int kind, uintptr_t ra);

void *gc_mapassign(gc_map *m, const void *key)
{
    if (!m)
        gc_panic("assignment to entry in nil map");
    uintptr_t ra = (uintptr_t)__builtin_return_address(0);
    WITH_KIND(m, K, return assign_kind(m, key, K, ra));
    return NULL;
}

static ALWAYS_INLINE void *assign_kind(gc_map *m, const void *key, int kind, uintptr_t ra)
{
    uint64_t h = hash_key(m, key, kind);
    unsigned h2 = h2_of(h);
    begin_write(m);
    if (!m->dir0 && m->global_depth == 0)
        m->dir0 = new_table(m, GROUP_SLOTS, 0, ra);
    for (;;) {
        table_t *t = table_for(m, h);
        size_t mask = t->group_mask, g = (h >> 7) & mask;
        unsigned char *tomb = NULL; /* the first tombstone on the way, to reuse */
        unsigned tombj = 0;
        for (size_t step = 1;; step++) {
            unsigned char *grp = group_at(m, t, g);
            uint64_t ctrl = ctrl_of(grp);
            for (uint64_t bits = match_h2(ctrl, h2); bits; bits &= bits - 1) {
                unsigned char *s = slot_at(m, grp, first_match(bits));
                if (key_equal(m, s, key, kind)) {
                    end_write(m);
                    return s + m->valoff;
                }
            }
            if (!tomb) {
                uint64_t del = match_empty_or_deleted(ctrl) & ~match_empty(ctrl);
                if (del)
                    tomb = grp, tombj = first_match(del);
            }
            uint64_t empty = match_empty(ctrl);
            if (!empty) {
                g = (g + step) & mask;
                continue;
            }
            /* Absent.  Reuse a tombstone, else take an EMPTY slot if the
             * table may still fill one. */
            unsigned char *dst = tomb;
            unsigned j = tombj;
            if (!dst) {
                if (t->growth_left == 0)
                    break; /* full: grow, then probe again */
                dst = grp, j = first_match(empty);
                t->growth_left--;
            }
            unsigned char *s = slot_at(m, dst, j);
            if (kind == KEY_STRING) {
                const char *src = *(const char *const *)key;
                size_t n = strlen(src);
                char *copy = alloc_from(n + 1, 1, ra);
                if (!copy)
                    gc_panic("runtime: out of memory: map key of %zu bytes", n + 1);
                memcpy(copy, src, n);
                memcpy(s, &copy, sizeof copy);
            } else {
                memcpy(s, key, m->keysize);
            }
            memset(s + m->keysize, 0, m->slotsize - m->keysize);
            set_ctrl(dst, j, (unsigned char)h2);
            t->used++;
            m->count++;
            end_write(m);
            return s + m->valoff;
        }
        grow_table(m, t, ra);
    }
}

bool gc_mapdelete(gc_map *m, const void *key)
{
    if (!m || m->count == 0)
        return false;
    uint64_t h;
    unsigned char *s;
    table_t *t;
    begin_write(m);
    if (m->kind == KEY_WORD) { /* the inlined fast path, as lookups have */
        h = hash_key(m, key, KEY_WORD);
        t = table_for(m, h);
        s = find_kind(m, t, h, key, KEY_WORD);
    } else {
        h = hash_of(m, key);
        t = table_for(m, h);
        s = find(m, t, h, key);
    }
    if (s) {
        size_t off = (size_t)(s - t->groups) % m->groupsize;
        unsigned char *grp = s - off;
        unsigned j = (unsigned)((off - m->slotoff) / m->slotsize);
        memset(s, 0, m->slotsize);
        /* A group with an EMPTY byte ends every probe that reaches it, so no
         * probe needs this slot to stay a tombstone. */
        if (match_empty(ctrl_of(grp))) {
            set_ctrl(grp, j, CTRL_EMPTY);
            t->growth_left++;
        } else {
            set_ctrl(grp, j, CTRL_DELETED);
        }
        t->used--;
        m->count--;
    }
    end_write(m);
    return s != NULL;
}

size_t gc_maplen(const gc_map *m) { return m ? m->count : 0; }

void gc_mapclear(gc_map *m)
{
    if (!m || m->count == 0)
        return;
    begin_write(m);
    size_t len = (size_t)1 << m->global_depth;
    for (size_t i = 0; i < len; i++) {
        table_t *t = m->dir[i];
        if (!t || t->index != i)
            continue;
        size_t ngroups = t->capacity / GROUP_SLOTS;
        for (size_t g = 0; g < ngroups; g++) {
            unsigned char *grp = group_at(m, t, g);
            memset(grp + m->slotoff, 0, m->groupsize - m->slotoff);
            memset(grp, CTRL_EMPTY, GROUP_SLOTS);
        }
        t->used = 0;
        t->growth_left = (uint16_t)max_load(t->capacity);
    }
    m->count = 0;
    end_write(m);
}

/* ---- iteration ----------------------------------------------------------
 * An iterator walks the directory from a random table, one table's range
 * at a time, and each table's slots from a random offset.  Positions are in
 * units of the directory as it was at `depth`; when the directory doubles
 * they are rescaled. */

typedef struct iter {
    const void *key;
    void *val;
    gc_map *m;
    table_t *tab;
    void *unused_[2];
    uint64_t pos;     /* the directory entry of tab's range (or the next range) */
    uint64_t left;    /* directory entries still to cover */
    uint32_t entry;   /* slots of tab visited */
    uint16_t entry_off;
    uint8_t depth;
    uint8_t unused2_;
    uint64_t brk_;    /* gc_map_range's break flag */
} iter_t;

_Static_assert(sizeof(iter_t) == sizeof(gc_mapiter), "gc_mapiter and iter_t differ");
_Static_assert(offsetof(iter_t, brk_) == offsetof(gc_mapiter, state_[3]), "gc_map_range's flag moved");

static __thread uint64_t iter_rand;

static uint64_t next_rand(void)
{
    if (!iter_rand)
        iter_rand = map_seed() | 1;
    iter_rand ^= iter_rand << 13;
    iter_rand ^= iter_rand >> 7;
    iter_rand ^= iter_rand << 17;
    return iter_rand;
}

void gc_mapiterinit(gc_mapiter *pub, gc_map *m)
{
    iter_t *it = (iter_t *)pub;
    memset(it, 0, sizeof *it);
    it->m = m;
    if (!m || m->count == 0)
        return;
    m->iterated = true;
    uint64_t r = next_rand();
    size_t len = (size_t)1 << m->global_depth;
    it->depth = m->global_depth;
    it->pos = m->dir[(r >> 16) & (len - 1)]->index;
    it->left = len;
    it->entry_off = (uint16_t)r;
}

static void rescale(iter_t *it)
{
    uint8_t d = it->m->global_depth;
    if (d != it->depth) {
        it->pos <<= d - it->depth;
        it->left <<= d - it->depth;
        it->depth = d;
    }
}

bool gc_mapiternext(gc_mapiter *pub)
{
    iter_t *it = (iter_t *)pub;
    gc_map *m = it->m;
    for (;;) {
        if (!it->tab) {
            if (it->left == 0)
                return false;
            rescale(it);
            it->tab = m->dir[it->pos];
            it->entry = 0;
        }
        table_t *t = it->tab;
        while (it->entry < t->capacity) {
            unsigned k = (it->entry++ + it->entry_off) & (t->capacity - 1u);
            unsigned char *grp = group_at(m, t, k / GROUP_SLOTS);
            if (grp[k % GROUP_SLOTS] & CTRL_EMPTY) /* EMPTY or DELETED */
                continue;
            unsigned char *s = slot_at(m, grp, k % GROUP_SLOTS);
            if (t->replaced) {
                /* Moved since: the entry counts only if the map still has
                 * it, with its current value. */
                uint64_t h = hash_of(m, s);
                s = find(m, table_for(m, h), h, s);
                if (!s)
                    continue;
            }
            it->key = s;
            it->val = s + m->valoff;
            return true;
        }
        rescale(it);
        size_t span = (size_t)1 << (it->depth - t->local_depth);
        it->pos = (it->pos + span) & (((size_t)1 << it->depth) - 1);
        it->left -= span;
        it->tab = NULL;
    }
}
