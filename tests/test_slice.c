/*
 * test_slice.c - Go's slices (tricolor.h, "Go's make"): make, append, growth,
 * sub-slices, bounds panics, copy and clear, pointer-free arrays, liveness.
 *
 *   make       gc_make_slice: exactly the len and cap asked for (as Go; only
 *              growth rounds up), in an object that holds cap elements, zeroed
 *              even where garbage of the same class was freed just before;
 *              cap 0 gives an empty slice with a non-NULL ptr that append
 *              grows; a size that overflows, or is impossible, gives a nil
 *              slice with ENOMEM
 *   append     gc_append of one and of several values (ints, structs), to a
 *              nil slice and to a made one; gc_append_array (n 0 included);
 *              gc_append_slice, also of a slice to itself (with and without
 *              spare capacity); values evaluated once; 200000 values appended
 *              with collections and garbage in between all survive
 *   growth     the capacity after every growth, for element sizes 1 .. 1000,
 *              from nil and from made slices, by one-element appends and by
 *              appends of many elements at once, is Go's rule computed here
 *              (growslice, rounded to tricolor's size classes); a few
 *              sequences are also spelled out by hand; the elements are kept
 *              and the new tail [len, cap) is zero
 *   go_oracle  where go is installed (else skipped, 77): a Go program prints
 *              make's capacity and those after each growth by appends above
 *              32 KiB ([]int64 from make(0, 5000), []byte from make(0, 40000),
 *              a 24-byte struct from make(0, 2048), appends of many at once);
 *              ours are the same
 *   sub        gc_sub and gc_sub3 share the array (writes through one are read
 *              through the other), their len and cap; gc_sub up to cap shows
 *              the elements beyond len; append to a 2-index sub-slice with
 *              spare capacity overwrites the original's next element (Go's
 *              aliasing), append to a 3-index one with max = hi moves it and
 *              leaves the original alone
 *   at         gc_at reads and writes (an lvalue), evaluates its arguments once
 *   panics     each in a child process, stderr compared exactly: gc_at out of
 *              range (above, at len, negative, nil slice), gc_sub and gc_sub3
 *              out of range (every message form, negative ones included),
 *              makeslice len > cap, growslice overflow (also through
 *              gc_append_array), out of memory in append (prefix checked)
 *   copy_clear gc_copy: min of the lengths, overlapping both ways, nil slices;
 *              gc_clear zeroes len elements and not those between len and cap
 *   noscan     by outcome: a slice of pointers (and of structs with a pointer,
 *              and of void *) keeps every pointed-to object alive and intact;
 *              slices of uintptr_t, int64_t, double, uint8_t, int (an
 *              address's bits; a scanned control with the same bytes keeps) and
 *              gc_make_slice_noscan of a struct keep nothing (weak pointers
 *              cleared), also after growing many times by append
 *   liveness   an array reached only by an interior pointer (a sub-slice from
 *              the middle; small and large arrays) stays with all its bytes; a
 *              slice stored only in a collected object stays; the arrays that
 *              append outgrew are reclaimed (counted over many)
 *   concurrent threads append pointers to fresh objects while another
 *              collects in a loop: every object stays alive and intact
 * Not registered, as they fail (bugs reported):
 *   empty_noscan_kind  append to gc_make_slice_noscan(S, 0, 0) keeps noscan
 *   sub_end_kind       append to s[cap:cap] of a noscan struct slice keeps noscan
 */
#include "common.h"

#include <ftw.h>
#include <sys/stat.h>

typedef GC_SLICE(int) ints;
typedef GC_SLICE(int64_t) i64s;
typedef GC_SLICE(uint8_t) u8s;
typedef GC_SLICE(double) dbls;
typedef GC_SLICE(uintptr_t) uptrs;
typedef GC_SLICE(char *) strs;
typedef GC_SLICE(void *) ptrs;

struct rec {
    char *p;
    uint64_t x;
};
typedef GC_SLICE(struct rec) recs;

struct pt {
    int x, y;
};
typedef GC_SLICE(struct pt) pts;

/* tricolor's size classes, copied from src/sizeclasses.c (class_size[], class 0 =
 * large objects left out): an object of up to that many bytes gets that many.
 * Above 32768 bytes an object takes whole 8 KiB pages. */
static const uint16_t class_size[] = {
    8,    16,   32,   48,   64,   80,   96,   112,  128,  144,  160,   176,   192,   208,   224,
    240,  256,  288,  320,  352,  384,  416,  448,  480,  512,  576,   640,   704,   768,   896,
    1024, 1152, 1280, 1408, 1536, 1664, 2048, 2304, 2560, 2816, 3072,  3328,  4096,  4608,  5120,
    6144, 6656, 8192, 9216, 10240, 12288, 13312, 16384, 20480, 24576, 26624, 32768,
};

static size_t roundup_size(size_t bytes)
{
    if (bytes <= 32768) {
        for (size_t i = 0; i < sizeof class_size / sizeof class_size[0]; i++)
            if (class_size[i] >= bytes)
                return class_size[i];
    }
    return (bytes + 8191) & ~(size_t)8191;
}

/* Go's growslice: the capacity before rounding. */
static size_t go_nextcap(size_t newlen, size_t oldcap)
{
    if (newlen > 2 * oldcap)
        return newlen;
    if (oldcap < 256)
        return 2 * oldcap;
    size_t c = oldcap;
    while (c < newlen)
        c += (c + 768) / 4;
    return c;
}

/* The capacity append gives when a slice of capacity oldcap needs newlen. */
static size_t want_grow(size_t oldcap, size_t newlen, size_t es)
{
    return roundup_size(go_nextcap(newlen, oldcap) * es) / es;
}


/* ------------------------------------------------------------------------ */
/* make                                                                      */
/* ------------------------------------------------------------------------ */

#define CHECK_MAKE(S, T, len_, cap_)                                                                              \
    do {                                                                                                          \
        size_t l_ = (len_), c_ = (cap_);                                                                          \
        size_t b_ = roundup_size(c_ * sizeof(T));                                                                 \
        tc_churn_kind(b_, b_ > 65536 ? 2 : 64, GC_NOSCAN_OF((T){0}));                                             \
        S s_ = gc_make_slice(S, l_, c_);                                                                          \
        TC_CHECK(s_.ptr != NULL, "make(%s, %zu, %zu): ptr NULL", #S, l_, c_);                                    \
        TC_CHECK(s_.len == l_, "make(%s, %zu, %zu): len %zu", #S, l_, c_, s_.len);                               \
        TC_CHECK(s_.cap == c_, "make(%s, %zu, %zu): cap %zu, want exactly %zu", #S, l_, c_, s_.cap, c_);        \
        TC_CHECK(gc_size(s_.ptr) >= s_.cap * sizeof(T), "make(%s, %zu, %zu): cap %zu does not fit in gc_size %zu", \
                 #S, l_, c_, s_.cap, gc_size(s_.ptr));                                                           \
        long nz_ = tc_nonzero_at(s_.ptr, s_.cap * sizeof(T));                                                     \
        TC_CHECK(nz_ < 0, "make(%s, %zu, %zu): byte %ld of the array is not zero", #S, l_, c_, nz_);             \
        tc_fill(s_.ptr, s_.cap * sizeof(T), 5); /* garbage for the next make to be zeroed over */                 \
    } while (0)

static void test_make(void)
{
    static const size_t caps[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 255, 256, 257, 1000,
                                  1023, 4095, 4097, 8192, 10000, 40000, 100001};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        size_t c = caps[i];
        CHECK_MAKE(u8s, uint8_t, c, c);
        CHECK_MAKE(u8s, uint8_t, c / 2, c);
        CHECK_MAKE(ints, int, c, c);
        CHECK_MAKE(ints, int, 0, c);
        CHECK_MAKE(i64s, int64_t, c - 1, c);
        CHECK_MAKE(dbls, double, c, c);
        CHECK_MAKE(strs, char *, c, c);
        CHECK_MAKE(recs, struct rec, c, c);
        CHECK_MAKE(pts, struct pt, 1, c);
    }
    /* a few spelled out: exact, though the class holds more */
    ints a = gc_make_slice(ints, 3, 5); /* 20 bytes in the 32-byte class */
    TC_CHECK(a.len == 3 && a.cap == 5 && gc_size(a.ptr) >= 20, "make([]int, 3, 5): len %zu cap %zu, want 3 5", a.len,
             a.cap);
    i64s b = gc_make_slice(i64s, 0, 5000); /* 40000 bytes in 5 pages */
    TC_CHECK(b.len == 0 && b.cap == 5000, "make([]int64, 0, 5000): len %zu cap %zu, want 0 5000", b.len, b.cap);
    u8s c = gc_make_slice(u8s, 10, 257);
    TC_CHECK(c.len == 10 && c.cap == 257, "make([]byte, 10, 257): len %zu cap %zu, want 10 257", c.len, c.cap);
    /* and so Go's aliasing: append beyond the exact cap moves, even with room in the class */
    ints a2 = gc_sub(a, 0, 3);
    gc_append(a, 1, 2);
    TC_CHECK(a.ptr == a2.ptr && a.cap == 5, "append up to make's cap moved the slice");
    int *before = a.ptr;
    gc_append(a, 3);
    TC_CHECK(a.ptr != before && a.cap == want_grow(5, 6, sizeof(int)), "append past make's cap 5: ptr %s, cap %zu",
             a.ptr == before ? "kept" : "moved", a.cap);
    struct big { char b[100]; };
    typedef GC_SLICE(struct big) bigs;
    bigs d = gc_make_slice(bigs, 3, 3);
    TC_CHECK(d.len == 3 && d.cap == 3, "make([]struct{[100]byte}, 3, 3): len %zu cap %zu", d.len, d.cap);

    /* cap 0: empty, not nil; append grows it */
    ints z = gc_make_slice(ints, 0, 0);
    TC_CHECK(z.ptr != NULL && z.len == 0 && z.cap == 0, "make([]int, 0, 0): ptr %p len %zu cap %zu", (void *)z.ptr,
             z.len, z.cap);
    ints z2 = z; /* Go: two appends to copies of an empty slice do not share */
    gc_append(z, 1);
    gc_append(z2, 2);
    TC_CHECK(z.len == 1 && z.ptr[0] == 1 && z2.len == 1 && z2.ptr[0] == 2 && z.ptr != z2.ptr,
             "appends to two copies of make([]int, 0): %d %d", z.ptr[0], z2.ptr[0]);
    TC_CHECK(gc_base(z.ptr) == z.ptr, "append to make(0, 0): not a heap array");
    bigs zb = gc_make_slice(bigs, 0, 0);
    TC_CHECK(zb.ptr != NULL && zb.len == 0 && zb.cap == 0, "make([]struct{[100]byte}, 0, 0): ptr %p len %zu cap %zu",
             (void *)zb.ptr, zb.len, zb.cap);
    gc_append(zb, (struct big){{7}});
    TC_CHECK(zb.len == 1 && zb.ptr[0].b[0] == 7 && zb.cap == want_grow(0, 1, 100), "append to make(0, 0): cap %zu",
             zb.cap);
    for (int noscan = 0; noscan < 2; noscan++) {
        gc_slice raw = gc_makeslice(8, 0, 0, noscan);
        TC_CHECK(raw.ptr != NULL && raw.len == 0 && raw.cap == 0, "gc_makeslice(8, 0, 0, %d): ptr %p len %zu cap %zu",
                 noscan, raw.ptr, raw.len, raw.cap);
        i64s e = gc_make_slice(i64s, 0, 0);
        TC_CHECK(gc_copy(e, b) == 0 && gc_sub(e, 0, 0).cap == 0, "copy to, sub of an empty slice");
        gc_clear(e);
    }

    /* sizes that overflow, or that no memory holds: nil with ENOMEM */
    struct {
        size_t es, len, cap;
    } bad[] = {
        {8, 0, SIZE_MAX / 8 + 1}, {8, 0, SIZE_MAX}, {1, 0, SIZE_MAX}, {1, 5, SIZE_MAX / 2 + 2},
        {16, 0, SIZE_MAX / 16 + 1}, {1000, 1, (SIZE_MAX / 1000) + 1}, {3, 0, SIZE_MAX / 3 + 1},
        {1, 0, (size_t)1 << 50}, {8, 0, (size_t)1 << 50}, {1, 0, (size_t)1 << 62},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int noscan = 0; noscan < 2; noscan++) {
            errno = 0;
            gc_slice r = gc_makeslice(bad[i].es, bad[i].len, bad[i].cap, noscan);
            int e = errno;
            TC_CHECK(r.ptr == NULL && r.len == 0 && r.cap == 0 && e == ENOMEM,
                     "gc_makeslice(%zu, %zu, %zu, %d) = {%p, %zu, %zu}, errno %d; want a nil slice, ENOMEM", bad[i].es,
                     bad[i].len, bad[i].cap, noscan, r.ptr, r.len, r.cap, e);
        }
    }
    errno = 0;
    i64s o = gc_make_slice(i64s, 0, SIZE_MAX / 4);
    TC_CHECK(o.ptr == NULL && o.len == 0 && o.cap == 0 && errno == ENOMEM, "gc_make_slice(i64s, 0, SIZE_MAX/4)");
    errno = 0;
    strs o2 = gc_make_slice(strs, 1, (size_t)1 << 58);
    TC_CHECK(o2.ptr == NULL && o2.len == 0 && o2.cap == 0 && errno == ENOMEM, "gc_make_slice(strs, 1, 2^58)");
    /* the heap still works */
    i64s ok = gc_make_slice(i64s, 10, 10);
    TC_CHECK(ok.ptr && ok.len == 10 && tc_nonzero_at(ok.ptr, 80) < 0, "make after the failures");

    /* zeroed after collections freed arrays of the same class full of garbage */
    for (int r = 0; r < 3; r++) {
        tc_churn_kind(4096, 200, 1);
        tc_churn_kind(4096, 200, 0);
        tc_collect_clean();
        for (int k = 0; k < 200; k++) {
            i64s s = gc_make_slice(i64s, 512, 512);
            TC_CHECK(s.cap == 512 && tc_nonzero_at(s.ptr, 4096) < 0, "make([]int64, 512) after garbage: not zero");
            strs t = gc_make_slice(strs, 100, 512);
            TC_CHECK(t.cap == 512 && tc_nonzero_at(t.ptr, 4096) < 0, "make([]*char, 100, 512) after garbage: not zero");
            memset(s.ptr, 0xEE, 4096);
            memset(t.ptr, 0xEE, 4096);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* append                                                                    */
/* ------------------------------------------------------------------------ */

static int g_calls;
static int next_value(void) { return ++g_calls * 10; }

static void test_append(void)
{
    /* one value, several values, to a nil slice */
    ints s = {0};
    gc_append(s, 1);
    TC_CHECK(s.ptr && s.len == 1 && s.ptr[0] == 1, "append(nil, 1): len %zu", s.len);
    gc_append(s, 2, 3, 4);
    TC_CHECK(s.len == 4, "append(s, 2, 3, 4): len %zu", s.len);
    for (int i = 0; i < 4; i++)
        TC_CHECK(s.ptr[i] == i + 1, "s[%d] = %d", i, s.ptr[i]);
    TC_CHECK(s.cap >= 4, "cap %zu < len", s.cap);

    /* values are evaluated once, before s grows: here from s itself */
    g_calls = 0;
    ints t = gc_make_slice(ints, 0, 2);
    gc_append(t, next_value(), next_value());
    TC_CHECK(g_calls == 2 && t.len == 2 && t.ptr[0] + t.ptr[1] == 30, "append(t, f(), f()): %d calls", g_calls);
    size_t cap0 = t.cap;
    while (t.len < cap0)
        gc_append(t, 0);
    gc_append(t, t.ptr[0], t.ptr[1], t.ptr[t.len - 1]); /* grows: the values come from the old array */
    TC_CHECK(t.cap > cap0 && t.ptr[t.len - 3] + t.ptr[t.len - 2] == 30 && t.ptr[t.len - 1] == t.ptr[1],
             "append(t, t[0], t[1], t[len-1]) across a growth");

    /* structs */
    pts p = {0};
    for (int i = 0; i < 1000; i++)
        gc_append(p, (struct pt){i, -i}, (struct pt){.x = 2 * i, .y = 7});
    TC_CHECK(p.len == 2000, "struct appends: len %zu", p.len);
    for (int i = 0; i < 1000; i++)
        TC_CHECK(p.ptr[2 * i].x == i && p.ptr[2 * i].y == -i && p.ptr[2 * i + 1].x == 2 * i && p.ptr[2 * i + 1].y == 7,
                 "struct element %d", i);

    /* gc_append_array */
    static const int src[5] = {10, 20, 30, 40, 50};
    ints a = {0};
    gc_append_array(a, src, 0);
    TC_CHECK(a.ptr == NULL && a.len == 0 && a.cap == 0, "append(nil) of nothing is still nil");
    gc_append_array(a, src, 5);
    gc_append_array(a, src + 1, 2);
    gc_append_array(a, src, 0);
    static const int want_a[7] = {10, 20, 30, 40, 50, 20, 30};
    TC_CHECK(a.len == 7 && memcmp(a.ptr, want_a, sizeof want_a) == 0, "append_array: len %zu", a.len);

    /* gc_append_slice, and a slice appended to itself */
    ints b = gc_make_slice(ints, 0, 3);
    gc_append(b, 1, 2, 3);
    TC_CHECK(b.cap == 3, "make([]int, 0, 3) then 3 appends: cap %zu, want 3", b.cap);
    gc_append_slice(b, a);
    static const int want_b[10] = {1, 2, 3, 10, 20, 30, 40, 50, 20, 30};
    TC_CHECK(b.len == 10 && memcmp(b.ptr, want_b, sizeof want_b) == 0, "append_slice(b, a)");
    gc_append_slice(b, b); /* needs to grow: reads the old array */
    TC_CHECK(b.len == 20 && memcmp(b.ptr, want_b, sizeof want_b) == 0 && memcmp(b.ptr + 10, want_b, sizeof want_b) == 0,
             "append_slice(b, b) growing: len %zu", b.len);
    ints c = gc_make_slice(ints, 0, 64);
    gc_append(c, 5, 6, 7);
    int *c_ptr = c.ptr;
    gc_append_slice(c, c); /* fits: in place */
    gc_append_slice(c, c);
    static const int want_c[12] = {5, 6, 7, 5, 6, 7, 5, 6, 7, 5, 6, 7};
    TC_CHECK(c.ptr == c_ptr && c.len == 12 && memcmp(c.ptr, want_c, sizeof want_c) == 0, "append_slice(c, c) in place");
    gc_append_slice(c, gc_sub(c, 1, 3)); /* a part of itself */
    TC_CHECK(c.len == 14 && c.ptr[12] == 6 && c.ptr[13] == 7, "append_slice(c, c[1:3])");
    ints nil = {0};
    gc_append_slice(c, nil);
    TC_CHECK(c.len == 14, "append of a nil slice");
    gc_append_slice(nil, c);
    TC_CHECK(nil.len == 14 && memcmp(nil.ptr, c.ptr, 14 * sizeof(int)) == 0 && nil.ptr != c.ptr,
             "append_slice(nil, c): a copy in a new array");

    /* many values, with collections and garbage between: they survive */
    i64s big = {0};
    u8s bytes = {0};
    const size_t n = 200000;
    for (size_t i = 0; i < n; i++) {
        size_t oc = big.cap;
        gc_append(big, (int64_t)tc_mix(i));
        gc_append(bytes, tc_pat(1, i));
        if (big.cap != oc && big.cap > 1000) {
            tc_churn_kind(oc * 8, 8, 1);
            gc_collect();
        }
    }
    tc_collect_churn(8192, 200, 2);
    for (size_t i = 0; i < n; i++) {
        TC_CHECK(big.ptr[i] == (int64_t)tc_mix(i), "big[%zu] changed", i);
        TC_CHECK(bytes.ptr[i] == tc_pat(1, i), "bytes[%zu] changed", i);
    }
}

/* ------------------------------------------------------------------------ */
/* growth                                                                    */
/* ------------------------------------------------------------------------ */

static uint64_t g_growths;

/* Element type of size N, element i filled with the pattern of seed i. */
#define GROWTH_TYPE(N)                                                                                          \
    typedef struct {                                                                                            \
        uint8_t b[N];                                                                                           \
    } e##N;                                                                                                     \
    typedef GC_SLICE(e##N) e##N##s;                                                                             \
    static e##N mk##N(size_t i)                                                                                 \
    {                                                                                                           \
        e##N v;                                                                                                 \
        tc_fill(v.b, N, (uint32_t)i);                                                                           \
        return v;                                                                                               \
    }                                                                                                           \
    static void check##N(const e##N##s *s, const char *how)                                                     \
    {                                                                                                           \
        for (size_t k = 0; k < s->len; k++)                                                                     \
            TC_CHECK(tc_pattern_diff(s->ptr[k].b, N, (uint32_t)k) < 0, "%zu-byte elements (%s): element %zu of %zu " \
                     "changed by a growth to cap %zu", (size_t)N, how, k, s->len, s->cap);                      \
        long nz = tc_nonzero_at(s->ptr + s->len, (s->cap - s->len) * N);                                        \
        TC_CHECK(nz < 0, "%zu-byte elements (%s): len %zu cap %zu: byte %ld after len is not zero", (size_t)N, how, \
                 s->len, s->cap, nz);                                                                           \
        TC_CHECK(gc_size(s->ptr) == roundup_size(s->cap * N) && gc_base(s->ptr) == s->ptr,                      \
                 "%zu-byte elements: cap %zu in an object of %zu bytes at %p (base %p)", (size_t)N, s->cap,      \
                 gc_size(s->ptr), (void *)s->ptr, gc_base(s->ptr));                                             \
    }                                                                                                           \
    /* One-element appends from s up to n elements, checking each growth. */                                    \
    static void ones##N(e##N##s s, size_t n, const char *how)                                                   \
    {                                                                                                           \
        for (size_t k = 0; k < s.len; k++)                                                                      \
            s.ptr[k] = mk##N(k);                                                                                \
        for (size_t i = s.len; i < n; i++) {                                                                    \
            size_t oc = s.cap;                                                                                  \
            void *op = s.ptr;                                                                                   \
            gc_append(s, mk##N(i));                                                                             \
            if (oc >= i + 1) {                                                                                  \
                TC_CHECK(s.cap == oc && (void *)s.ptr == op, "%zu-byte elements (%s): append within cap %zu moved " \
                         "the slice", (size_t)N, how, oc);                                                      \
                continue;                                                                                       \
            }                                                                                                   \
            g_growths++;                                                                                        \
            size_t w = want_grow(oc, i + 1, N);                                                                 \
            TC_CHECK(s.cap == w, "%zu-byte elements (%s): append to len %zu cap %zu gave cap %zu, want %zu",    \
                     (size_t)N, how, i, oc, s.cap, w);                                                          \
            TC_CHECK((void *)s.ptr != op, "%zu-byte elements (%s): a growth kept the array", (size_t)N, how);   \
            check##N(&s, how);                                                                                  \
        }                                                                                                       \
    }                                                                                                           \
    /* Appends of k elements at once, k from ks[]. */                                                           \
    static void many##N(e##N##s s, const size_t *ks, size_t nks, const char *how)                              \
    {                                                                                                           \
        size_t room = (4 << 20) / N; /* at most 4 MiB of elements */                                            \
        e##N *src = (e##N *)malloc(sizeof(e##N) * room);                                                        \
        TC_CHECK(src, "malloc");                                                                                \
        for (size_t j = 0; j < nks; j++) {                                                                      \
            size_t k = ks[j], oc = s.cap, ol = s.len;                                                           \
            if (ol + k > room)                                                                                  \
                break;                                                                                          \
            for (size_t q = 0; q < k; q++)                                                                      \
                src[q] = mk##N(ol + q);                                                                         \
            gc_append_array(s, src, k);                                                                         \
            TC_CHECK(s.len == ol + k, "len %zu after appending %zu to %zu", s.len, k, ol);                     \
            size_t w = ol + k <= oc ? oc : want_grow(oc, ol + k, N);                                            \
            TC_CHECK(s.cap == w, "%zu-byte elements (%s): appending %zu to len %zu cap %zu gave cap %zu, want %zu", \
                     (size_t)N, how, k, ol, oc, s.cap, w);                                                      \
            if (w != oc)                                                                                        \
                g_growths++;                                                                                    \
            check##N(&s, how);                                                                                  \
        }                                                                                                       \
        free(src);                                                                                              \
    }                                                                                                           \
    static void run##N(void)                                                                                    \
    {                                                                                                           \
        size_t n = N == 1 ? 300000 : (size_t)(600000 / N) + 600;                                                \
        e##N##s nil = {0};                                                                                      \
        ones##N(nil, n, "from nil");                                                                            \
        size_t n2 = (2 << 20) / N < 5000 ? (2 << 20) / N : 5000;                                                \
        ones##N(gc_make_slice(e##N##s, 0, 3), n2, "from make(0, 3)");                                           \
        ones##N(gc_make_slice(e##N##s, 7, 300), 2000, "from make(7, 300)");                                     \
        e##N##s m = gc_make_slice(e##N##s, 0, 0);                                                               \
        ones##N(m, 100, "from make(0, 0)");                                                                     \
        static const size_t ks[] = {1, 3, 20, 1, 100, 7, 500, 300, 1000, 1, 2600, 4000, 5000, 50, 9000, 30000}; \
        many##N(nil, ks, sizeof ks / sizeof ks[0], "many at once");                                             \
    }

GROWTH_TYPE(1)
GROWTH_TYPE(2)
GROWTH_TYPE(3)
GROWTH_TYPE(4)
GROWTH_TYPE(8)
GROWTH_TYPE(12)
GROWTH_TYPE(16)
GROWTH_TYPE(24)
GROWTH_TYPE(40)
GROWTH_TYPE(100)
GROWTH_TYPE(1000)

/* The capacities after each growth by one-element appends from nil, to len n. */
#define SEQ(S, n, out, nout)                                                                                    \
    do {                                                                                                        \
        S s_ = {0};                                                                                             \
        *(nout) = 0;                                                                                            \
        for (size_t i_ = 0; i_ < (n); i_++) {                                                                   \
            size_t oc_ = s_.cap;                                                                                \
            gc_append(s_, 0);                                                                                   \
            if (s_.cap != oc_)                                                                                  \
                (out)[(*(nout))++] = s_.cap;                                                                    \
        }                                                                                                       \
    } while (0)

static void check_seq(const char *what, const size_t *got, size_t ngot, const size_t *want, size_t nwant)
{
    for (size_t i = 0; i < nwant; i++)
        TC_CHECK(i < ngot && got[i] == want[i], "%s: growth %zu gave cap %zu, want %zu", what, i,
                 i < ngot ? got[i] : 0, want[i]);
}

static void test_growth(void)
{
    run1();
    run2();
    run3();
    run4();
    run8();
    run12();
    run16();
    run24();
    run40();
    run100();
    run1000();
    printf("     %llu growths checked\n", (unsigned long long)g_growths);

    /* By hand, from the size class table: 512 int64s grow to 832 (6656 bytes), ... */
    size_t got[64], n;
    static const size_t w64[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 832, 1280, 2048, 3072, 4096, 6144, 8192, 11264};
    SEQ(i64s, 12000, got, &n);
    check_seq("[]int64", got, n, w64, sizeof w64 / sizeof w64[0]);
    static const size_t w8[] = {8, 16, 32, 64, 128, 256, 512, 896, 1408, 2048, 2816, 4096, 6144, 8192, 12288, 16384, 24576};
    SEQ(u8s, 20000, got, &n);
    check_seq("[]uint8", got, n, w8, sizeof w8 / sizeof w8[0]);
    static const size_t w32[] = {2, 4, 8, 16, 32, 64, 128, 256, 512, 832, 1280, 2048, 3072, 4096, 6144, 8192};
    SEQ(ints, 8000, got, &n);
    check_seq("[]int", got, n, w32, sizeof w32 / sizeof w32[0]);
    /* 12-byte elements: 853 fit in the 10240-byte class */
    static const size_t w12[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 853, 1365, 2048, 3413, 4778, 6826, 8874, 11605};
    typedef GC_SLICE(struct { uint32_t a[3]; }) t12s;
    t12s s12 = {0};
    n = 0;
    for (size_t i = 0; i < 12000; i++) {
        size_t oc = s12.cap;
        gc_append(s12, (__typeof__(*s12.ptr)){{1, 2, 3}});
        if (s12.cap != oc)
            got[n++] = s12.cap;
    }
    check_seq("[]struct{[3]uint32}", got, n, w12, sizeof w12 / sizeof w12[0]);
    /* more than twice the old capacity: that length, rounded */
    i64s j = gc_make_slice(i64s, 0, 4);
    static const int64_t zeros[100] = {0};
    gc_append_array(j, zeros, 9);
    TC_CHECK(j.cap == 10, "append 9 to make([]int64, 0, 4): cap %zu, want 10 (9 rounded to 80 bytes)", j.cap);
    gc_append_array(j, zeros, 11); /* 20 <= 2*10: doubles */
    TC_CHECK(j.cap == 20, "append 11 to len 9 cap 10: cap %zu, want 20 (2*10, 160 bytes)", j.cap);
    gc_append_array(j, zeros, 1);
    TC_CHECK(j.cap == 40, "append 1 to len 20 cap 20: cap %zu, want 40", j.cap);
    gc_append_array(j, zeros, 100); /* 121 > 2*40: 121, 968 bytes -> 1024 */
    TC_CHECK(j.cap == 128, "append 100 to len 21 cap 40: cap %zu, want 128", j.cap);

    /* gc_growslice directly: s itself when it has room; else len kept, the rest zeroed */
    i64s g = gc_make_slice(i64s, 3, 4);
    g.ptr[0] = 7;
    g.ptr[1] = 8;
    g.ptr[2] = 9;
    g.ptr[3] = 10;
    gc_slice r = gc_growslice((gc_slice){g.ptr, g.len, g.cap}, 8, 4, 1);
    TC_CHECK(r.ptr == g.ptr && r.len == 3 && r.cap == 4, "growslice with room changed the slice");
    r = gc_growslice((gc_slice){g.ptr, g.len, g.cap}, 8, 5, 1);
    TC_CHECK(r.ptr != g.ptr && r.len == 3 && r.cap == 8, "growslice(len 3 cap 4, 5): ptr %p len %zu cap %zu", r.ptr,
             r.len, r.cap);
    int64_t *rp = r.ptr;
    TC_CHECK(rp[0] == 7 && rp[1] == 8 && rp[2] == 9 && tc_nonzero_at(rp + 3, 5 * 8) < 0,
             "growslice: the len elements copied, the rest (element 3 included) zero");
    r = gc_growslice((gc_slice){g.ptr, g.len, g.cap}, 8, 1000, 1);
    TC_CHECK(r.cap == 1024 && r.len == 3, "growslice(cap 4, 1000): cap %zu, want 1024", r.cap);
}

/* ------------------------------------------------------------------------ */
/* The Go oracle                                                             */
/* ------------------------------------------------------------------------ */

static const char go_program[] =
    "package main\n"
    "\n"
    "import (\n"
    "\t\"bufio\"\n"
    "\t\"fmt\"\n"
    "\t\"os\"\n"
    ")\n"
    "\n"
    "type triple struct{ a, b, c int64 }\n"
    "\n"
    "func main() {\n"
    "\tw := bufio.NewWriter(os.Stdout)\n"
    "\tdefer w.Flush()\n"
    "\n"
    "\ts := make([]int64, 0, 5000)\n"
    "\tfmt.Fprintf(w, \"int64 make %d\\n\", cap(s))\n"
    "\tfmt.Fprint(w, \"int64 grow\")\n"
    "\tlast := cap(s)\n"
    "\tfor len(s) < 300000 {\n"
    "\t\ts = append(s, int64(len(s)))\n"
    "\t\tif cap(s) != last {\n"
    "\t\t\tlast = cap(s)\n"
    "\t\t\tfmt.Fprintf(w, \" %d\", last)\n"
    "\t\t}\n"
    "\t}\n"
    "\tfmt.Fprintln(w)\n"
    "\n"
    "\tb := make([]byte, 0, 40000)\n"
    "\tfmt.Fprintf(w, \"byte make %d\\n\", cap(b))\n"
    "\tfmt.Fprint(w, \"byte grow\")\n"
    "\tlast = cap(b)\n"
    "\tfor len(b) < 3000000 {\n"
    "\t\tb = append(b, byte(len(b)))\n"
    "\t\tif cap(b) != last {\n"
    "\t\t\tlast = cap(b)\n"
    "\t\t\tfmt.Fprintf(w, \" %d\", last)\n"
    "\t\t}\n"
    "\t}\n"
    "\tfmt.Fprintln(w)\n"
    "\n"
    "\tt := make([]triple, 0, 2048)\n"
    "\tfmt.Fprintf(w, \"triple make %d\\n\", cap(t))\n"
    "\tfmt.Fprint(w, \"triple grow\")\n"
    "\tlast = cap(t)\n"
    "\tfor len(t) < 100000 {\n"
    "\t\tt = append(t, triple{1, 2, 3})\n"
    "\t\tif cap(t) != last {\n"
    "\t\t\tlast = cap(t)\n"
    "\t\t\tfmt.Fprintf(w, \" %d\", last)\n"
    "\t\t}\n"
    "\t}\n"
    "\tfmt.Fprintln(w)\n"
    "\n"
    "\tj := make([]int64, 0, 5000)\n"
    "\tfmt.Fprint(w, \"jump\")\n"
    "\tfor _, k := range []int{100000, 1, 30000, 200000, 7, 1000000} {\n"
    "\t\tj = append(j, make([]int64, k)...)\n"
    "\t\tfmt.Fprintf(w, \" %d\", cap(j))\n"
    "\t}\n"
    "\tfmt.Fprintln(w)\n"
    "}\n";

static char go_tmp[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700); /* the module cache is read-only */
    remove(path);
    return 0;
}

/* Called before any check that may fail (TC_FAIL exits without atexit). */
static void go_tmp_remove(void)
{
    if (go_tmp[0])
        nftw(go_tmp, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
    go_tmp[0] = 0;
}

/* Our own lines for what the Go program prints ("grow" and "jump" lines). */
static void our_lines(char *out, size_t outsz)
{
    size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(out + n, outsz - n, __VA_ARGS__))
    i64s s = gc_make_slice(i64s, 0, 5000);
    PUT("int64 make %zu\nint64 grow", s.cap);
    size_t last = s.cap;
    while (s.len < 300000) {
        gc_append(s, (int64_t)s.len);
        if (s.cap != last)
            PUT(" %zu", last = s.cap);
    }
    PUT("\n");
    u8s b = gc_make_slice(u8s, 0, 40000);
    PUT("byte make %zu\nbyte grow", b.cap);
    last = b.cap;
    while (b.len < 3000000) {
        gc_append(b, (uint8_t)b.len);
        if (b.cap != last)
            PUT(" %zu", last = b.cap);
    }
    PUT("\n");
    struct triple {
        int64_t a, b, c;
    };
    typedef GC_SLICE(struct triple) triples;
    triples t = gc_make_slice_noscan(triples, 0, 2048);
    PUT("triple make %zu\ntriple grow", t.cap);
    last = t.cap;
    while (t.len < 100000) {
        gc_append(t, (struct triple){1, 2, 3});
        if (t.cap != last)
            PUT(" %zu", last = t.cap);
    }
    PUT("\n");
    i64s j = gc_make_slice(i64s, 0, 5000);
    int64_t *zeros = calloc(1000000, sizeof *zeros);
    PUT("jump");
    static const size_t ks[] = {100000, 1, 30000, 200000, 7, 1000000};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        gc_append_array(j, zeros, ks[i]);
        PUT(" %zu", j.cap);
    }
    PUT("\n");
    free(zeros);
#undef PUT
}

/* The line of text starting with prefix, without its newline. */
static const char *find_line(const char *text, const char *prefix, char *line, size_t linesz)
{
    size_t pl = strlen(prefix);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, prefix, pl) == 0) {
            size_t n = strcspn(l, "\n");
            if (n >= linesz)
                n = linesz - 1;
            memcpy(line, l, n);
            line[n] = 0;
            return line;
        }
    }
    return NULL;
}

static void test_go_oracle(void)
{
    const char *go = tc_go_path();
    if (!go) {
        printf("skipped: go not found (Debian: apt-get install golang-go); Go's growth is not compared\n");
        exit(77);
    }
    snprintf(go_tmp, sizeof go_tmp, "%s/tc-slice-go-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    TC_CHECK(mkdtemp(go_tmp) != NULL, "mkdtemp: %s", strerror(errno));
    char src[512], outp[512], errp[512];
    snprintf(src, sizeof src, "%s/growslice.go", go_tmp);
    snprintf(outp, sizeof outp, "%s/out", go_tmp);
    snprintf(errp, sizeof errp, "%s/err", go_tmp);
    FILE *f = fopen(src, "w");
    if (!(f && fputs(go_program, f) >= 0 && fclose(f) == 0)) {
        go_tmp_remove();
        TC_FAIL("writing %s", src);
    }

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        go_tmp_remove();
        TC_FAIL("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        tc_go_child_env(go_tmp);
        setenv("CGO_ENABLED", "0", 1);
        alarm(110);
        execl(go, "go", "run", src, (char *)NULL);
        _exit(127);
    }
    int st = tc_wait(pid);

    static char goout[1 << 16], goerr[4096];
    int fd = open(outp, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, goout, sizeof goout - 1) : -1;
    goout[n > 0 ? n : 0] = 0;
    if (fd >= 0)
        close(fd);
    fd = open(errp, O_RDONLY);
    n = fd >= 0 ? read(fd, goerr, sizeof goerr - 1) : -1;
    goerr[n > 0 ? n : 0] = 0;
    if (fd >= 0)
        close(fd);
    go_tmp_remove();
    TC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "go run growslice.go: %s; stderr:\n%s", tc_status_str(st), goerr);

    static char ours[1 << 16];
    our_lines(ours, sizeof ours);
    static const char *const keys[] = {"int64 make", "int64 grow", "byte make", "byte grow", "triple make", "triple grow",
                                       "jump"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        static char gl[1 << 14], ol[1 << 14];
        TC_CHECK(find_line(goout, keys[i], gl, sizeof gl), "Go printed no \"%s\" line:\n%s", keys[i], goout);
        TC_CHECK(find_line(ours, keys[i], ol, sizeof ol), "no \"%s\" line of ours", keys[i]);
        TC_CHECK(strcmp(gl, ol) == 0, "capacities differ from Go's:\nGo:   %s\nours: %s", gl, ol);
        printf("     %.100s%s\n", ol, strlen(ol) > 100 ? " ..." : "");
    }
}

/* ------------------------------------------------------------------------ */
/* sub-slices                                                                */
/* ------------------------------------------------------------------------ */

static void test_sub(void)
{
    ints s = gc_make_slice(ints, 6, 8);
    TC_CHECK(s.len == 6 && s.cap == 8, "make([]int, 6, 8): len %zu cap %zu", s.len, s.cap);
    for (int i = 0; i < 6; i++)
        s.ptr[i] = i * 10;

    ints t = gc_sub(s, 2, 5); /* s[2:5] */
    TC_CHECK(t.ptr == s.ptr + 2 && t.len == 3 && t.cap == 6, "s[2:5]: ptr +%td len %zu cap %zu", t.ptr - s.ptr, t.len,
             t.cap);
    TC_CHECK(t.ptr[0] == 20 && t.ptr[2] == 40, "s[2:5] elements");
    t.ptr[1] = 333; /* seen through s */
    TC_CHECK(s.ptr[3] == 333, "a write through s[2:5] is not seen through s");
    s.ptr[4] = 444; /* seen through t */
    TC_CHECK(gc_at(t, 2) == 444, "a write through s is not seen through s[2:5]");

    ints whole = gc_sub(s, 0, s.cap); /* s[:cap(s)] shows elements beyond len */
    TC_CHECK(whole.len == 8 && whole.cap == 8 && whole.ptr == s.ptr, "s[:8]: len %zu cap %zu", whole.len, whole.cap);
    whole.ptr[7] = 77;
    ints tail = gc_sub(s, 3, s.len); /* s[3:] */
    TC_CHECK(tail.len == 3 && tail.cap == 5 && tail.ptr[0] == 333, "s[3:]: len %zu cap %zu", tail.len, tail.cap);
    ints tt = gc_sub(tail, 1, 5); /* a sub-slice of a sub-slice, up to its cap */
    TC_CHECK(tt.len == 4 && tt.cap == 4 && tt.ptr == s.ptr + 4 && tt.ptr[3] == 77, "s[3:][1:5]: len %zu cap %zu",
             tt.len, tt.cap);
    ints empty = gc_sub(s, 8, 8);
    TC_CHECK(empty.len == 0 && empty.cap == 0, "s[8:8]: len %zu cap %zu", empty.len, empty.cap);
    ints e2 = gc_sub(s, 2, 2);
    TC_CHECK(e2.len == 0 && e2.cap == 6, "s[2:2]: len %zu cap %zu", e2.len, e2.cap);

    /* three-index */
    ints u = gc_sub3(s, 1, 3, 5); /* s[1:3:5] */
    TC_CHECK(u.ptr == s.ptr + 1 && u.len == 2 && u.cap == 4, "s[1:3:5]: ptr +%td len %zu cap %zu", u.ptr - s.ptr,
             u.len, u.cap);
    u.ptr[0] = 111;
    TC_CHECK(s.ptr[1] == 111, "a write through s[1:3:5] is not seen through s");
    ints u2 = gc_sub3(s, 0, 0, 0);
    TC_CHECK(u2.len == 0 && u2.cap == 0, "s[0:0:0]: len %zu cap %zu", u2.len, u2.cap);
    ints u3 = gc_sub3(s, 2, 8, 8);
    TC_CHECK(u3.len == 6 && u3.cap == 6 && u3.ptr[5] == 77, "s[2:8:8]");

    /* Go's aliasing: append to s[0:2] (cap 8) writes s[2] */
    for (int i = 0; i < 6; i++)
        s.ptr[i] = i + 1;
    ints a = gc_sub(s, 0, 2);
    gc_append(a, 99);
    TC_CHECK(a.ptr == s.ptr && a.len == 3, "append to s[0:2] with spare cap moved it");
    TC_CHECK(s.ptr[2] == 99, "append to s[0:2] did not overwrite s[2] (it is %d)", s.ptr[2]);
    gc_append(a, 98, 97);
    TC_CHECK(s.ptr[3] == 98 && s.ptr[4] == 97 && s.ptr[5] == 6, "append of two to s[0:3]: s[3..5] = %d %d %d",
             s.ptr[3], s.ptr[4], s.ptr[5]);
    /* ... while s[0:2:2] has no room: append moves it and s stays */
    for (int i = 0; i < 6; i++)
        s.ptr[i] = i + 1;
    ints b = gc_sub3(s, 0, 2, 2);
    TC_CHECK(b.cap == 2, "s[0:2:2]: cap %zu", b.cap);
    gc_append(b, 99);
    TC_CHECK(b.ptr != s.ptr && b.len == 3 && b.ptr[0] == 1 && b.ptr[1] == 2 && b.ptr[2] == 99,
             "append to s[0:2:2]: not moved, or wrong elements");
    TC_CHECK(s.ptr[2] == 3, "append to s[0:2:2] overwrote s[2] (it is %d)", s.ptr[2]);
    b.ptr[0] = -1;
    TC_CHECK(s.ptr[0] == 1, "after the move, b still shares s's array");
    ints c = gc_sub3(s, 3, 4, 5); /* room for one: in place, then moves */
    gc_append(c, 50);
    TC_CHECK(c.ptr == s.ptr + 3 && s.ptr[4] == 50, "append to s[3:4:5] within its cap");
    gc_append(c, 60);
    TC_CHECK(c.ptr != s.ptr + 3 && s.ptr[5] == 6 && c.len == 3 && c.ptr[2] == 60, "append to s[3:5:5] beyond its cap");
    /* gc_append_slice through a sub-slice also writes in place */
    for (int i = 0; i < 8; i++)
        whole.ptr[i] = i;
    ints d = gc_sub(s, 0, 1);
    gc_append_slice(d, gc_sub(whole, 5, 8)); /* d = s[0:1] + s[5:8], in s's array */
    TC_CHECK(d.ptr == s.ptr && s.ptr[1] == 5 && s.ptr[2] == 6 && s.ptr[3] == 7 && s.ptr[4] == 4,
             "append_slice to s[0:1]: %d %d %d %d", s.ptr[1], s.ptr[2], s.ptr[3], s.ptr[4]);

    /* sub-slices of a large array, and of a noscan one, keep sharing it */
    i64s big = gc_make_slice(i64s, 100000, 100000);
    i64s mid = gc_sub(big, 50000, 60000);
    mid.ptr[9999] = 12345;
    TC_CHECK(big.ptr[59999] == 12345 && mid.cap == big.cap - 50000, "a sub-slice of a large array");
    tc_collect_churn(800000, 3, 2);
    TC_CHECK(gc_at(big, 59999) == 12345, "after collections");
}

/* ------------------------------------------------------------------------ */
/* gc_at                                                                     */
/* ------------------------------------------------------------------------ */

static int g_evals;
static ints get_slice(ints s)
{
    g_evals++;
    return s;
}

static void test_at(void)
{
    ints s = gc_make_slice(ints, 5, 5);
    for (int i = 0; i < 5; i++)
        gc_at(s, i) = i * i;
    for (size_t i = 0; i < 5; i++)
        TC_CHECK(gc_at(s, i) == (int)(i * i) && s.ptr[i] == (int)(i * i), "gc_at(s, %zu)", i);
    gc_at(s, 2) += 5;
    gc_at(s, (long)3)++;
    TC_CHECK(s.ptr[2] == 9 && s.ptr[3] == 10, "gc_at as an lvalue: %d %d", s.ptr[2], s.ptr[3]);
    int *p = &gc_at(s, 4);
    TC_CHECK(p == s.ptr + 4, "&gc_at(s, 4)");
    int i = 0;
    g_evals = 0;
    int v = gc_at(get_slice(s), i++);
    TC_CHECK(v == 0 && i == 1 && g_evals == 1, "gc_at evaluated its arguments %d, %d times", g_evals, i);
    gc_at(get_slice(s), i++) = 42;
    TC_CHECK(s.ptr[1] == 42 && i == 2 && g_evals == 2, "gc_at as an lvalue evaluated its arguments more than once");
    /* indices of every integer type */
    unsigned char uc = 4;
    short sh = 3;
    uint64_t u64 = 2;
    TC_CHECK(gc_at(s, uc) == 16 && gc_at(s, sh) == 10 && gc_at(s, u64) == 9, "index types");
    strs ss = gc_make_slice(strs, 2, 2);
    gc_at(ss, 1) = "hello";
    TC_CHECK(strcmp(gc_at(ss, 1), "hello") == 0 && gc_at(ss, 0) == NULL, "gc_at of a pointer slice");
}

/* ------------------------------------------------------------------------ */
/* panics, in child processes                                                */
/* ------------------------------------------------------------------------ */

#define PANIC_PREFIX "panic: runtime error: "

static const struct {
    const char *mode;
    const char *err; /* the whole stderr, or (prefix set) its start */
    int prefix;
} panics[] = {
    {"at_5", PANIC_PREFIX "index out of range [5] with length 3\n", 0},
    {"at_len", PANIC_PREFIX "index out of range [3] with length 3\n", 0},
    {"at_neg", PANIC_PREFIX "index out of range [-1]\n", 0},
    {"at_nil", PANIC_PREFIX "index out of range [0] with length 0\n", 0},
    {"at_big", PANIC_PREFIX "index out of range [4294967296] with length 3\n", 0},
    {"at_huge_unsigned", PANIC_PREFIX "index out of range [18446744073709551615] with length 3\n", 0},
    {"sub_huge_unsigned", PANIC_PREFIX "slice bounds out of range [:18446744073709551615] with capacity 4\n", 0},
    {"sub_cap", PANIC_PREFIX "slice bounds out of range [:7] with capacity 4\n", 0},
    {"sub_cap5", PANIC_PREFIX "slice bounds out of range [:5] with capacity 4\n", 0},
    {"sub_b", PANIC_PREFIX "slice bounds out of range [3:2]\n", 0},
    {"sub_neg_hi", PANIC_PREFIX "slice bounds out of range [:-1]\n", 0},
    {"sub_neg_lo", PANIC_PREFIX "slice bounds out of range [-1:]\n", 0},
    {"sub_lo_cap", PANIC_PREFIX "slice bounds out of range [5:4]\n", 0},
    {"sub3_cap", PANIC_PREFIX "slice bounds out of range [::9] with capacity 4\n", 0},
    {"sub3_b", PANIC_PREFIX "slice bounds out of range [:5:4]\n", 0},
    {"sub3_c", PANIC_PREFIX "slice bounds out of range [3:2:]\n", 0},
    {"sub3_neg_max", PANIC_PREFIX "slice bounds out of range [::-1]\n", 0},
    {"sub3_neg_hi", PANIC_PREFIX "slice bounds out of range [:-1:]\n", 0},
    {"sub3_neg_lo", PANIC_PREFIX "slice bounds out of range [-2::]\n", 0},
    {"makeslice", PANIC_PREFIX "makeslice: cap out of range\n", 0},
    {"makeslice_0", PANIC_PREFIX "makeslice: cap out of range\n", 0},
    {"growslice", PANIC_PREFIX "growslice: len out of range\n", 0},
    {"append_overflow", PANIC_PREFIX "growslice: len out of range\n", 0},
    {"append_oom", "panic: runtime: out of memory", 1},
};

static int child_main(const char *mode)
{
    const char *backend = getenv("TRICOLOR_TEST_GODEBUG");
    if (backend && *backend)
        setenv("GODEBUG", backend, 1);
    ints s = gc_make_slice(ints, 3, 4);
    if (s.len != 3 || s.cap != 4) {
        fprintf(stderr, "make([]int, 3, 4): len %zu cap %zu\n", s.len, s.cap);
        return 3;
    }
    s.ptr[0] = 1;
    volatile int64_t five = 5, three = 3, two = 2, neg = -1;
    int64_t v = 0;
    printf("BEFORE\n");
    fflush(stdout);
    if (strcmp(mode, "at_5") == 0)
        v = gc_at(s, five);
    else if (strcmp(mode, "at_len") == 0)
        gc_at(s, three) = 1;
    else if (strcmp(mode, "at_neg") == 0)
        v = gc_at(s, neg);
    else if (strcmp(mode, "at_nil") == 0) {
        ints nil = {0};
        v = gc_at(nil, 0);
    } else if (strcmp(mode, "at_big") == 0)
        v = gc_at(s, (int64_t)1 << 32);
    else if (strcmp(mode, "at_huge_unsigned") == 0) /* an unsigned index prints unsigned, as in Go */
        v = gc_at(s, (size_t)neg);
    else if (strcmp(mode, "sub_huge_unsigned") == 0)
        v = (int64_t)gc_sub(s, 0, (size_t)neg).len;
    else if (strcmp(mode, "sub_cap") == 0)
        v = (int64_t)gc_sub(s, 0, 7).len;
    else if (strcmp(mode, "sub_cap5") == 0)
        v = (int64_t)gc_sub(s, 1, five).len;
    else if (strcmp(mode, "sub_b") == 0)
        v = (int64_t)gc_sub(s, three, two).len;
    else if (strcmp(mode, "sub_neg_hi") == 0)
        v = (int64_t)gc_sub(s, 0, neg).len;
    else if (strcmp(mode, "sub_neg_lo") == 0)
        v = (int64_t)gc_sub(s, neg, 2).len;
    else if (strcmp(mode, "sub_lo_cap") == 0)
        v = (int64_t)gc_sub(s, five, s.cap).len; /* s[5:] with len 3 cap 4 */
    else if (strcmp(mode, "sub3_cap") == 0)
        v = (int64_t)gc_sub3(s, 0, 1, 9).len;
    else if (strcmp(mode, "sub3_b") == 0)
        v = (int64_t)gc_sub3(s, 0, five, 4).len;
    else if (strcmp(mode, "sub3_c") == 0)
        v = (int64_t)gc_sub3(s, three, two, 4).len;
    else if (strcmp(mode, "sub3_neg_max") == 0)
        v = (int64_t)gc_sub3(s, 0, 0, neg).len;
    else if (strcmp(mode, "sub3_neg_hi") == 0)
        v = (int64_t)gc_sub3(s, 0, neg, 4).len;
    else if (strcmp(mode, "sub3_neg_lo") == 0)
        v = (int64_t)gc_sub3(s, neg - 1, 2, 4).len;
    else if (strcmp(mode, "makeslice") == 0)
        v = (int64_t)gc_make_slice(ints, 5, 3).len;
    else if (strcmp(mode, "makeslice_0") == 0)
        v = (int64_t)gc_makeslice(8, 1, 0, 1).len;
    else if (strcmp(mode, "growslice") == 0)
        v = (int64_t)gc_growslice((gc_slice){s.ptr, s.len, s.cap}, 8, SIZE_MAX / 4, 1).cap;
    else if (strcmp(mode, "append_overflow") == 0) {
        i64s t = gc_make_slice(i64s, 2, 2);
        volatile size_t huge = SIZE_MAX / 2; /* not a constant: no warning about the memmove never reached */
        gc_append_array(t, t.ptr, huge);
        v = (int64_t)t.len;
    } else if (strcmp(mode, "append_oom") == 0) {
        u8s t = gc_make_slice(u8s, 2, 2);
        volatile size_t huge = (size_t)1 << 50; /* 1 PiB: more than any address space here */
        gc_append_array(t, t.ptr, huge);
        v = (int64_t)t.len;
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 3;
    }
    printf("RETURNED %lld\n", (long long)v);
    return 0;
}

static void test_panics(void)
{
    for (size_t i = 0; i < sizeof panics / sizeof panics[0]; i++) {
        tc_child c;
        const char *args[] = {"--child", panics[i].mode, NULL};
        tc_run_self(&c, args, NULL, 30);
        TC_CHECK(strcmp(c.out, "BEFORE\n") == 0, "%s: the child's stdout is \"%s\" (%s), want \"BEFORE\\n\"",
                 panics[i].mode, c.out, tc_status_str(c.status));
        TC_CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT, "%s: the child %s, want killed by SIGABRT; stderr:\n%s",
                 panics[i].mode, tc_status_str(c.status), c.err);
        if (panics[i].prefix)
            TC_CHECK(strncmp(c.err, panics[i].err, strlen(panics[i].err)) == 0 && c.err[strlen(c.err) - 1] == '\n' &&
                         strchr(c.err, '\n') == c.err + strlen(c.err) - 1,
                     "%s: stderr is \"%s\", want one line starting \"%s\"", panics[i].mode, c.err, panics[i].err);
        else
            TC_CHECK(strcmp(c.err, panics[i].err) == 0, "%s: stderr is\n\"%s\"\nwant\n\"%s\"", panics[i].mode, c.err,
                     panics[i].err);
        tc_child_free(&c);
    }
}

/* ------------------------------------------------------------------------ */
/* copy and clear                                                            */
/* ------------------------------------------------------------------------ */

static void fill_seq(ints s)
{
    for (size_t i = 0; i < s.len; i++)
        s.ptr[i] = (int)i;
}

static void test_copy_clear(void)
{
    ints s = gc_make_slice(ints, 10, 16);
    TC_CHECK(s.cap == 16, "cap %zu", s.cap);
    /* overlapping, to the right: memmove semantics */
    fill_seq(s);
    size_t n = gc_copy(gc_sub(s, 2, 10), s);
    static const int right[10] = {0, 1, 0, 1, 2, 3, 4, 5, 6, 7};
    TC_CHECK(n == 8 && memcmp(s.ptr, right, sizeof right) == 0, "copy(s[2:], s): n %zu, s = %d %d %d %d ...", n,
             s.ptr[0], s.ptr[1], s.ptr[2], s.ptr[3]);
    /* to the left */
    fill_seq(s);
    n = gc_copy(s, gc_sub(s, 3, 10));
    static const int left[10] = {3, 4, 5, 6, 7, 8, 9, 7, 8, 9};
    TC_CHECK(n == 7 && memcmp(s.ptr, left, sizeof left) == 0, "copy(s, s[3:]): n %zu", n);
    /* min of the lengths; the rest of dst untouched */
    fill_seq(s);
    ints d = gc_make_slice(ints, 3, 3);
    n = gc_copy(d, s);
    TC_CHECK(n == 3 && d.ptr[0] == 0 && d.ptr[2] == 2, "copy(len 3, len 10): n %zu", n);
    d.ptr[0] = 100;
    d.ptr[1] = 101;
    d.ptr[2] = 102;
    n = gc_copy(s, d);
    TC_CHECK(n == 3 && s.ptr[0] == 100 && s.ptr[2] == 102 && s.ptr[3] == 3 && s.ptr[9] == 9, "copy(len 10, len 3): n %zu",
             n);
    TC_CHECK(d.ptr[0] == 100, "copy changed its source");
    ints nil = {0};
    TC_CHECK(gc_copy(nil, s) == 0 && gc_copy(s, nil) == 0 && gc_copy(nil, nil) == 0, "copy with a nil slice");
    TC_CHECK(s.ptr[0] == 100, "copy from nil changed dst");
    /* the same slice: n, nothing changes */
    TC_CHECK(gc_copy(s, s) == 10 && s.ptr[9] == 9, "copy(s, s)");
    /* struct elements */
    pts a = gc_make_slice(pts, 4, 4), b = gc_make_slice(pts, 2, 2);
    b.ptr[0] = (struct pt){1, 2};
    b.ptr[1] = (struct pt){3, 4};
    TC_CHECK(gc_copy(gc_sub(a, 1, 4), b) == 2 && a.ptr[1].x == 1 && a.ptr[2].y == 4 && a.ptr[3].x == 0, "copy of structs");

    /* clear zeroes len elements only */
    ints all = gc_sub(s, 0, 16);
    for (size_t i = 0; i < 16; i++)
        all.ptr[i] = (int)i + 1;
    ints part = gc_sub(s, 2, 7);
    gc_clear(part);
    for (size_t i = 0; i < 16; i++)
        TC_CHECK(all.ptr[i] == (i >= 2 && i < 7 ? 0 : (int)i + 1), "clear(s[2:7]): element %zu is %d", i, all.ptr[i]);
    gc_clear(s); /* len 10 of cap 16 */
    for (size_t i = 0; i < 16; i++)
        TC_CHECK(all.ptr[i] == (i < 10 ? 0 : (int)i + 1), "clear(s) with len 10 cap 16: element %zu is %d", i,
                 all.ptr[i]);
    gc_clear(nil);
    ints e = gc_sub(s, 16, 16);
    gc_clear(e);
    strs ps = gc_make_slice(strs, 3, 3);
    ps.ptr[0] = "a";
    ps.ptr[2] = "c";
    gc_clear(ps);
    TC_CHECK(!ps.ptr[0] && !ps.ptr[1] && !ps.ptr[2], "clear of a pointer slice");
}

/* ------------------------------------------------------------------------ */
/* pointer-free arrays, by outcome                                           */
/* ------------------------------------------------------------------------ */

#define NOBJ 100
#define SLACK 5
#define OBJ_SIZE 48

static gc_weak *g_weak[NOBJ];

/* A fresh object filled with pattern i whose weak pointer is g_weak[i]. */
static char *new_obj(int i)
{
    char *p = gc_alloc_noscan(OBJ_SIZE);
    TC_CHECK(p, "gc_alloc");
    tc_fill(p, OBJ_SIZE, (uint32_t)i + 1000);
    g_weak[i] = gc_weak_make(p);
    TC_CHECK(g_weak[i], "gc_weak_make");
    return p;
}

/* Collections with garbage of the objects' size between; then how many of the
 * objects are still there (and, if they must be, intact). */
TC_NOINLINE static int count_alive(const char *what, int must_be_intact)
{
    tc_collect_churn(OBJ_SIZE, 4000, 3);
    int alive = 0;
    for (int i = 0; i < NOBJ; i++) {
        char *p = gc_weak_get(g_weak[i]);
        if (!p)
            continue;
        alive++;
        if (must_be_intact)
            TC_CHECK(tc_pattern_diff(p, OBJ_SIZE, (uint32_t)i + 1000) < 0, "%s: object %d changed", what, i);
    }
    return alive;
}

TC_NOINLINE static void fill_strs(strs *s)
{
    for (int i = 0; i < NOBJ; i++)
        gc_append(*s, new_obj(i));
}
TC_NOINLINE static void fill_ptrs(ptrs *s)
{
    for (int i = 0; i < NOBJ; i++)
        gc_append(*s, (void *)new_obj(i));
}
TC_NOINLINE static void fill_recs(recs *s)
{
    for (int i = 0; i < NOBJ; i++)
        gc_append(*s, (struct rec){new_obj(i), (uint64_t)i});
}
TC_NOINLINE static void fill_uptrs(uptrs *s)
{
    for (int i = 0; i < NOBJ; i++)
        gc_append(*s, (uintptr_t)new_obj(i));
}
TC_NOINLINE static void fill_i64s(i64s *s)
{
    for (int i = 0; i < NOBJ; i++)
        gc_append(*s, (int64_t)(intptr_t)new_obj(i));
}
/* The address's 8 bytes as 8 elements: an aligned word of a scanned array. */
TC_NOINLINE static void fill_u8s(u8s *s)
{
    for (int i = 0; i < NOBJ; i++) {
        uintptr_t a = (uintptr_t)new_obj(i);
        gc_append_array(*s, (const uint8_t *)&a, sizeof a);
    }
}
TC_NOINLINE static void fill_ints(ints *s)
{
    for (int i = 0; i < NOBJ; i++) {
        uintptr_t a = (uintptr_t)new_obj(i);
        int h[2];
        memcpy(h, &a, sizeof h);
        gc_append(*s, h[0], h[1]);
    }
}
TC_NOINLINE static void fill_dbls(dbls *s)
{
    for (int i = 0; i < NOBJ; i++) {
        uintptr_t a = (uintptr_t)new_obj(i);
        double d;
        memcpy(&d, &a, sizeof d); /* the address's bits, as a double */
        gc_append(*s, d);
    }
}

enum color { RED, GREEN, BLUE };
union word {
    uintptr_t u;
    void *p;
};

static void test_noscan(void)
{
    /* which element types get pointer-free storage */
    enum color ec = GREEN;
    _Bool bo = 0;
    const int ci = 0;
    struct {
        int a, b;
    } st = {0};
    union word un = {0};
    int arr_of[2] = {0};
    TC_CHECK(GC_NOSCAN_OF((char)0) && GC_NOSCAN_OF((signed char)0) && GC_NOSCAN_OF((unsigned char)0) &&
                 GC_NOSCAN_OF((short)0) && GC_NOSCAN_OF((unsigned short)0) && GC_NOSCAN_OF(0) && GC_NOSCAN_OF(0u) &&
                 GC_NOSCAN_OF(0l) && GC_NOSCAN_OF(0ul) && GC_NOSCAN_OF(0ll) && GC_NOSCAN_OF(0ull) &&
                 GC_NOSCAN_OF((int8_t)0) && GC_NOSCAN_OF((uint16_t)0) && GC_NOSCAN_OF((int32_t)0) &&
                 GC_NOSCAN_OF((uint64_t)0) && GC_NOSCAN_OF((uintptr_t)0) && GC_NOSCAN_OF((intptr_t)0) &&
                 GC_NOSCAN_OF((size_t)0) && GC_NOSCAN_OF(0.0f) && GC_NOSCAN_OF(0.0) && GC_NOSCAN_OF(0.0L) &&
                 GC_NOSCAN_OF(bo) && GC_NOSCAN_OF(ec) && GC_NOSCAN_OF(ci),
             "an arithmetic type is not pointer-free");
    TC_CHECK(!GC_NOSCAN_OF((char *)0) && !GC_NOSCAN_OF((void *)0) && !GC_NOSCAN_OF(st) && !GC_NOSCAN_OF(un) &&
                 !GC_NOSCAN_OF(&ci) && !GC_NOSCAN_OF(arr_of) && !GC_NOSCAN_OF((struct rec){0}),
             "a pointer, struct or union type is pointer-free");

    int alive;
    /* scanned: every object kept, intact */
    strs s1 = {0};
    fill_strs(&s1);
    alive = count_alive("[]*char", 1);
    TC_CHECK(alive == NOBJ, "a []*char from nil kept only %d of %d objects", alive, NOBJ);
    for (int i = 0; i < NOBJ; i++)
        TC_CHECK(tc_pattern_diff(s1.ptr[i], OBJ_SIZE, (uint32_t)i + 1000) < 0, "[]*char: element %d's object changed", i);
    s1 = (strs){0};

    strs s2 = gc_make_slice(strs, 0, 1);
    fill_strs(&s2);
    alive = count_alive("[]*char from make", 1);
    TC_CHECK(alive == NOBJ, "a []*char from make kept only %d of %d objects", alive, NOBJ);
    s2 = (strs){0};

    ptrs s3 = gc_make_slice(ptrs, 0, 2);
    fill_ptrs(&s3);
    alive = count_alive("[]void*", 1);
    TC_CHECK(alive == NOBJ, "a []void* kept only %d of %d objects", alive, NOBJ);
    s3 = (ptrs){0};

    recs s4 = {0};
    fill_recs(&s4);
    alive = count_alive("[]struct{p, x}", 1);
    TC_CHECK(alive == NOBJ, "a []struct{char *p; ...} kept only %d of %d objects", alive, NOBJ);
    for (int i = 0; i < NOBJ; i++)
        TC_CHECK(s4.ptr[i].x == (uint64_t)i && tc_pattern_diff(s4.ptr[i].p, OBJ_SIZE, (uint32_t)i + 1000) < 0,
                 "[]struct: element %d", i);
    s4 = (recs){0};
    count_alive("dropping", 0);

    /* pointer-free: the addresses kept as numbers keep nothing */
    uptrs u1 = {0};
    fill_uptrs(&u1);
    alive = count_alive("[]uintptr_t", 0);
    printf("     []uintptr_t from nil: %d of %d objects still there\n", alive, NOBJ);
    TC_CHECK(alive <= SLACK, "a []uintptr_t from nil kept %d of %d objects (slack %d)", alive, NOBJ, SLACK);
    TC_CHECK(u1.len == NOBJ && u1.ptr[0] != 0, "[]uintptr_t lost its values");

    uptrs u2 = gc_make_slice(uptrs, 0, 1);
    fill_uptrs(&u2); /* grown about 7 times */
    alive = count_alive("[]uintptr_t from make", 0);
    TC_CHECK(alive <= SLACK, "a []uintptr_t from make(0, 1) kept %d of %d objects (slack %d)", alive, NOBJ, SLACK);

    i64s u3 = gc_make_slice(i64s, 0, 0);
    fill_i64s(&u3);
    alive = count_alive("[]int64_t", 0);
    TC_CHECK(alive <= SLACK, "a []int64_t kept %d of %d objects (slack %d)", alive, NOBJ, SLACK);

    u8s u5 = {0};
    fill_u8s(&u5);
    alive = count_alive("[]uint8_t", 0);
    TC_CHECK(alive <= SLACK, "a []uint8_t holding addresses' bytes kept %d of %d objects (slack %d)", alive, NOBJ, SLACK);
    TC_CHECK(u5.len == NOBJ * sizeof(uintptr_t), "[]uint8_t: len %zu", u5.len);

    ints u6 = gc_make_slice(ints, 0, 2);
    fill_ints(&u6);
    alive = count_alive("[]int", 0);
    TC_CHECK(alive <= SLACK, "a []int holding addresses' halves kept %d of %d objects (slack %d)", alive, NOBJ, SLACK);

    /* control: the same bytes in a scanned array (a []struct{uint8_t}) are kept */
    typedef GC_SLICE(struct { uint8_t b; }) sbytes;
    sbytes sc = {0};
    for (int i = 0; i < NOBJ; i++) {
        uintptr_t a = (uintptr_t)new_obj(i);
        for (size_t k = 0; k < sizeof a; k++)
            gc_append(sc, (__typeof__(*sc.ptr)){((const uint8_t *)&a)[k]});
    }
    alive = count_alive("[]struct{uint8_t}", 1);
    TC_CHECK(alive == NOBJ, "control: a scanned []struct{uint8_t} holding addresses' bytes kept only %d of %d", alive,
             NOBJ);
    sc = (sbytes){0};

    dbls u4 = {0};
    fill_dbls(&u4);
    alive = count_alive("[]double", 0);
    TC_CHECK(alive <= SLACK, "a []double kept %d of %d objects (slack %d)", alive, NOBJ, SLACK);

    /* a struct with a pointer, noscan on request; grown by append many times, it stays noscan */
    recs n1 = gc_make_slice_noscan(recs, 0, 1);
    fill_recs(&n1);
    alive = count_alive("noscan []struct{p, x}", 0);
    printf("     noscan []struct{p, x}: %d of %d objects still there\n", alive, NOBJ);
    TC_CHECK(alive <= SLACK, "gc_make_slice_noscan of a struct, grown by append, kept %d of %d objects (slack %d)", alive,
             NOBJ, SLACK);
    for (int i = 0; i < NOBJ; i++)
        TC_CHECK(n1.ptr[i].x == (uint64_t)i && n1.ptr[i].p != NULL, "noscan []struct: element %d", i);

    /* an append to a sub-slice of a noscan array keeps the kind too */
    recs n3 = gc_make_slice_noscan(recs, 4, 4);
    recs n3s = gc_sub(n3, 1, 3);
    fill_recs(&n3s);
    alive = count_alive("noscan []struct, a sub-slice grown", 0);
    TC_CHECK(alive <= SLACK, "a sub-slice of a noscan array, grown by append, kept %d of %d objects (slack %d)", alive,
             NOBJ, SLACK);

    /* control: the same objects in a scanned struct slice grown the same way are kept */
    recs c1 = gc_make_slice(recs, 0, 1);
    fill_recs(&c1);
    alive = count_alive("scanned []struct{p, x} from make(0, 1)", 1);
    TC_CHECK(alive == NOBJ, "a scanned []struct from make(0, 1) kept only %d of %d objects", alive, NOBJ);
    gc_keep_alive(c1.ptr);
    gc_keep_alive(u1.ptr);
    gc_keep_alive(u2.ptr);
    gc_keep_alive(u3.ptr);
    gc_keep_alive(u4.ptr);
    gc_keep_alive(u5.ptr);
    gc_keep_alive(u6.ptr);
    gc_keep_alive(n1.ptr);
    gc_keep_alive(n3s.ptr);
}

/* Not registered in CMakeLists.txt: it fails (reported).  An empty slice from
 * gc_make_slice_noscan (cap 0: Go's zerobase, no array) grown by append gets
 * a scanned array, though "a slice keeps its kind when append moves it". */
static void test_empty_noscan_kind(void)
{
    recs n = gc_make_slice_noscan(recs, 0, 0);
    fill_recs(&n);
    int alive = count_alive("noscan []struct{p, x} from make(0, 0)", 0);
    TC_CHECK(alive <= SLACK, "gc_make_slice_noscan(recs, 0, 0), grown by append, kept %d of %d objects (slack %d)",
             alive, NOBJ, SLACK);
    gc_keep_alive(n.ptr);
}

/* Not registered in CMakeLists.txt: it fails (reported).  An empty sub-slice
 * s[cap:cap] of a noscan struct slice whose array ends where a scanned object
 * begins: append gives the new array the neighbour's kind, not s's (the
 * sub-slice's ptr points one past s's array, into the neighbour; Go leaves ptr
 * at the base when the result's cap is 0). */
static void test_sub_end_kind(void)
{
    recs a;
    void *next;
    int tries = 0;
    do { /* until the scanned object comes right after the array */
        a = gc_make_slice_noscan(recs, 2048, 2048); /* 32768 bytes: its span's only object */
        next = gc_alloc(32768);
    } while ((void *)(a.ptr + a.cap) != next && ++tries < 100);
    TC_CHECK((void *)(a.ptr + a.cap) == next, "no scanned object found right after a noscan array");
    printf("     array %p..%p, next object %p\n", (void *)a.ptr, (void *)(a.ptr + a.cap), next);
    recs e = gc_sub(a, a.cap, a.cap);
    fill_recs(&e);
    int alive = count_alive("noscan a[cap:] grown", 0);
    TC_CHECK(alive <= SLACK, "a[cap:cap] of a noscan slice, grown by append, kept %d of %d objects (slack %d)", alive,
             NOBJ, SLACK);
    gc_keep_alive(next);
    gc_keep_alive(e.ptr);
}

/* ------------------------------------------------------------------------ */
/* liveness                                                                  */
/* ------------------------------------------------------------------------ */

/* An array of n int64s filled with pattern seed; returns only s[n/2:] (or
 * s[n-1:] when last is set), the base hidden in *hb. */
TC_NOINLINE static i64s make_tail(size_t n, uint32_t seed, int last, uintptr_t *hb)
{
    i64s s = gc_make_slice(i64s, n, n);
    TC_CHECK(s.ptr, "make");
    tc_fill(s.ptr, s.cap * 8, seed);
    *hb = tc_hide(s.ptr);
    return last ? gc_sub(s, n - 1, n) : gc_sub(s, n / 2, n);
}

struct holder {
    uint64_t id;
    i64s nums;
    strs words;
};

TC_NOINLINE static struct holder *make_holder(uint32_t seed)
{
    struct holder *h = gc_new(struct holder);
    h->id = 0xabcdef0123ull;
    for (size_t i = 0; i < 3000; i++)
        gc_append(h->nums, (int64_t)tc_mix(i + seed));
    for (int i = 0; i < 300; i++) {
        char *w = gc_alloc(40);
        tc_fill(w, 40, seed + (uint32_t)i);
        gc_append(h->words, w);
    }
    return h;
}

#define NGROW 60
static gc_weak *g_arrays[NGROW * 16];
static gc_weak *g_final[NGROW];
static size_t g_narrays;

/* NGROW slices grown from nil to 1500 elements by appends; the weak pointers of
 * the arrays they outgrew in g_arrays, of their last ones in g_final. */
TC_NOINLINE static void grow_many(i64s *keep_n, ptrs *keep_p)
{
    g_narrays = 0;
    for (int k = 0; k < NGROW; k++) {
        if (k % 2 == 0) {
            i64s s = {0};
            void *cur = NULL;
            for (int i = 0; i < 1500; i++) {
                gc_append(s, (int64_t)tc_mix((uint64_t)i));
                if ((void *)s.ptr != cur) {
                    if (cur)
                        g_arrays[g_narrays++] = gc_weak_make(cur);
                    cur = s.ptr;
                }
            }
            g_final[k] = gc_weak_make(s.ptr);
            keep_n[k / 2] = s;
        } else {
            ptrs s = {0};
            void *cur = NULL;
            for (int i = 0; i < 1500; i++) {
                gc_append(s, NULL);
                if ((void *)s.ptr != cur) {
                    if (cur)
                        g_arrays[g_narrays++] = gc_weak_make(cur);
                    cur = s.ptr;
                }
            }
            g_final[k] = gc_weak_make(s.ptr);
            keep_p[k / 2] = s;
        }
    }
}

static void test_liveness(void)
{
    /* interior pointers: the sub-slice alone keeps the whole array, bytes and all */
    static const size_t sizes[] = {4, 10, 33, 500, 4096, 10000, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int last = 0; last < 2; last++) {
            size_t n = sizes[i];
            uintptr_t hb;
            uint32_t seed = (uint32_t)(n + (size_t)last);
            i64s t = make_tail(n, seed, last, &hb);
            size_t bytes = roundup_size(n * 8);
            tc_collect_churn(bytes, bytes > 100000 ? 4 : 300000 / bytes + 8, 3);
            int64_t *base = tc_unhide(hb);
            TC_CHECK(gc_base(t.ptr) == base, "%zu int64s, s[%zu:] alone: the array is gone (gc_base %p, was %p)", n,
                     last ? n - 1 : n / 2, gc_base(t.ptr), (void *)base);
            long d = tc_pattern_diff(base, n * 8, seed);
            TC_CHECK(d < 0, "%zu int64s, s[%zu:] alone: byte %ld of the array changed", n, last ? n - 1 : n / 2, d);
            TC_CHECK(t.len == (last ? 1 : n - n / 2), "len");
        }
    }

    /* a slice stored in a collected object */
    struct holder *h = make_holder(7);
    tc_collect_churn(3000 * 8, 40, 2);
    tc_collect_churn(40, 5000, 2);
    TC_CHECK(h->id == 0xabcdef0123ull && h->nums.len == 3000 && h->words.len == 300, "the holder changed");
    for (size_t i = 0; i < 3000; i++)
        TC_CHECK(h->nums.ptr[i] == (int64_t)tc_mix(i + 7), "holder's nums[%zu] changed", i);
    for (int i = 0; i < 300; i++)
        TC_CHECK(tc_pattern_diff(h->words.ptr[i], 40, 7 + (uint32_t)i) < 0, "holder's words[%d]'s object changed", i);

    /* outgrown arrays are reclaimed; the last ones stay */
    static i64s keep_n[NGROW / 2];
    static ptrs keep_p[NGROW / 2];
    grow_many(keep_n, keep_p);
    tc_collect_clean();
    tc_collect_clean();
    int kept = 0;
    for (size_t i = 0; i < g_narrays; i++)
        kept += gc_weak_get(g_arrays[i]) != NULL;
    size_t slack = 3 + g_narrays / 50;
    printf("     %zu outgrown arrays: %d still there (slack %zu)\n", g_narrays, kept, slack);
    TC_CHECK(g_narrays >= NGROW * 8, "only %zu growths", g_narrays);
    TC_CHECK((size_t)kept <= slack, "%d of %zu outgrown arrays were not reclaimed (slack %zu)", kept, g_narrays, slack);
    for (int k = 0; k < NGROW; k++)
        TC_CHECK(gc_weak_get(g_final[k]) != NULL, "slice %d's current array was reclaimed", k);
    for (int k = 0; k < NGROW / 2; k++)
        for (int i = 0; i < 1500; i++)
            TC_CHECK(keep_n[k].ptr[i] == (int64_t)tc_mix((uint64_t)i) && keep_p[k].ptr[i] == NULL,
                     "slice %d element %d changed", k, i);
}

/* ------------------------------------------------------------------------ */
/* concurrent appends beside collections                                     */
/* ------------------------------------------------------------------------ */

static volatile int g_stop;
static volatile int g_collections;

static void *collector(void *arg)
{
    (void)arg;
    while (!g_stop) {
        gc_collect();
        __atomic_add_fetch(&g_collections, 1, __ATOMIC_RELAXED);
        tc_sleep_ms(1);
    }
    return NULL;
}

static void *appender(void *arg)
{
    uint32_t seed = (uint32_t)(uintptr_t)arg;
    /* at least 3 rounds, and until 20 collections ran beside them */
    for (int round = 0; round < 3 || (__atomic_load_n(&g_collections, __ATOMIC_RELAXED) < 20 && round < 300); round++) {
        strs s = {0};
        recs r = gc_make_slice(recs, 0, 1);
        for (int i = 0; i < 4000; i++) {
            char *p = gc_alloc(32);
            tc_fill(p, 32, seed + (uint32_t)i);
            gc_append(s, p);
            if (i % 3 == 0)
                gc_append(r, (struct rec){p, (uint64_t)i});
            tc_sink = gc_alloc(64); /* garbage */
        }
        for (int i = 0; i < 4000; i++)
            TC_CHECK(tc_pattern_diff(s.ptr[i], 32, seed + (uint32_t)i) < 0, "thread %u round %d: object %d changed",
                     seed, round, i);
        for (size_t i = 0; i < r.len; i++)
            TC_CHECK(r.ptr[i].x == 3 * i && tc_pattern_diff(r.ptr[i].p, 32, seed + (uint32_t)(3 * i)) < 0,
                     "thread %u round %d: struct element %zu changed", seed, round, i);
    }
    return NULL;
}

static void test_concurrent(void)
{
    g_stop = 0;
    g_collections = 0;
    pthread_t c = tc_thread(collector, NULL);
    pthread_t a[3];
    for (int i = 0; i < 3; i++)
        a[i] = tc_thread(appender, (void *)(uintptr_t)(i * 100000 + 1));
    for (int i = 0; i < 3; i++)
        tc_join(a[i]);
    int during = g_collections;
    g_stop = 1;
    tc_join(c);
    printf("     %d collections ran beside the appends\n", during);
    TC_CHECK(during >= 20, "only %d collections ran beside the appends", during);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    static const tc_subtest tests[] = {
        {"make", test_make},         {"append", test_append},         {"growth", test_growth},
        {"go_oracle", test_go_oracle}, {"sub", test_sub},             {"at", test_at},
        {"panics", test_panics},     {"copy_clear", test_copy_clear}, {"noscan", test_noscan},
        {"liveness", test_liveness}, {"concurrent", test_concurrent},
        /* known failures, not registered (see their comments) */
        {"empty_noscan_kind", test_empty_noscan_kind}, {"sub_end_kind", test_sub_end_kind},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
