/*
 * test_alloc.c - allocation units: sizes, size classes, zeroing, alignment,
 * gc_size/gc_base, gc_calloc, gc_strdup, gc_new/gc_new_array.
 *
 *   classes     by_size[] lists the classes 8, 16..256 by 16, ... 32768, ascending
 *   sizes       every size 1..1024, then steps of 7 to 4096, of 61 to 33000, every
 *               class boundary (c-1, c, c+1) and large sizes up to 100 MiB, scan and
 *               noscan: zeroed over the whole usable size, aligned (16 for >= 16,
 *               the size rounded down to a power of two below, 8 KiB pages above
 *               32 KiB), gc_size = the class size (whole pages for large objects),
 *               gc_base/gc_size of interior pointers; then every object filled with
 *               its own pattern survives collections with every byte intact (no two
 *               objects overlap)
 *   reuse_zero  memory freed by the collector or by gc_free, filled with 0xff before,
 *               comes back zeroed (and is really reused)
 *   calloc      gc_calloc, gc_strdup, gc_new, gc_new_array
 */
#include "common.h"

static uint32_t classes[GC_NUM_SIZE_CLASSES];
static int nclasses;

static void load_classes(void)
{
    static gc_memstats m;
    if (nclasses)
        return;
    gc_read_memstats(&m);
    for (int i = 0; i < GC_NUM_SIZE_CLASSES; i++)
        classes[nclasses++] = m.by_size[i].size;
}

/* The smallest class holding n bytes, or 0 for a large object. */
static size_t class_of(size_t n)
{
    for (int i = 0; i < nclasses; i++)
        if (classes[i] >= n)
            return classes[i];
    return 0;
}

static void test_classes(void)
{
    load_classes();
    TC_CHECK(classes[0] == 8, "by_size[0].size = %u, want 8", classes[0]);
    for (int i = 1; i < nclasses; i++)
        TC_CHECK(classes[i] > classes[i - 1], "by_size[%d].size = %u after %u: not ascending", i,
                 classes[i], classes[i - 1]);
    TC_CHECK(classes[nclasses - 1] == 32768, "last class %u, want 32768", classes[nclasses - 1]);
    for (uint32_t s = 16; s <= 256; s += 16)
        TC_CHECK(class_of(s) == s, "no class of %u bytes (16-byte steps up to 256)", s);
    TC_CHECK(class_of(9) == 16, "9 bytes go to class %zu, want 16", class_of(9));
    /* About eight classes per doubling above 256: at most 12.5% round-up waste
     * is what Go's table keeps; allow generous 25% for merged neighbours. */
    for (int i = 1; i < nclasses; i++)
        if (classes[i - 1] >= 256)
            TC_CHECK(classes[i] - classes[i - 1] <= classes[i - 1] / 4 + 16,
                     "gap %u -> %u is too wide for ~8 classes per doubling", classes[i - 1], classes[i]);
    for (int i = 0; i < nclasses; i++)
        if (classes[i] >= 16)
            TC_CHECK(classes[i] % 16 == 0, "class %u is not a multiple of 16", classes[i]);
}

/* ------------------------------------------------------------------------ */

static size_t align_of(size_t n)
{
    if (n > 32768)
        return 8192;
    if (n >= 16)
        return 16;
    size_t a = 1;
    while (a * 2 <= n)
        a *= 2;
    return a;
}

/* Check one fresh object of n requested bytes. */
static void check_fresh(void *p, size_t n, int noscan)
{
    const char *kind = noscan ? "gc_alloc_noscan" : "gc_alloc";
    TC_CHECK(p != NULL, "%s(%zu) returned NULL", kind, n);
    uintptr_t a = align_of(n);
    TC_CHECK((uintptr_t)p % a == 0, "%s(%zu) = %p is not aligned to %zu", kind, n, p, (size_t)a);
    size_t us = gc_size(p);
    size_t cls = class_of(n);
    if (cls && !(noscan && n < 16)) {
        TC_CHECK(us == cls, "gc_size(%s(%zu)) = %zu, want the class size %zu", kind, n, us, cls);
    } else if (cls) {
        /* a tiny noscan object may share a 16-byte block */
        TC_CHECK(us >= n && us <= 16, "gc_size(%s(%zu)) = %zu, want %zu..16", kind, n, us, n);
    } else {
        TC_CHECK(us >= n && us - n < 8192 && us % 8192 == 0,
                 "gc_size(%s(%zu)) = %zu, want %zu rounded up to 8 KiB pages", kind, n, us, n);
    }
    long nz = tc_nonzero_at(p, us);
    TC_CHECK(nz < 0, "%s(%zu) = %p: byte %ld of %zu usable is 0x%02x, not zero", kind, n, p, nz, us,
             nz >= 0 ? ((uint8_t *)p)[nz] : 0);
    char *c = p;
    size_t offs[] = {0, 1, n / 2, n - 1, us - 1};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        if (offs[i] >= us)
            continue;
        TC_CHECK(gc_base(c + offs[i]) == p, "gc_base(%p + %zu) = %p, want %p (%s(%zu))", p, offs[i],
                 gc_base(c + offs[i]), p, kind, n);
        TC_CHECK(gc_size(c + offs[i]) == us, "gc_size(%p + %zu) = %zu, want %zu", p, offs[i],
                 gc_size(c + offs[i]), us);
    }
    TC_CHECK(gc_base(c + us) != p, "gc_base(one past the end of %p, %zu bytes) = the object itself", p, us);
}

/* The sizes to try. */
static size_t *make_sizes(size_t *count, int with_large)
{
    static const size_t large[] = {32767,      32768,           32769,           40000,
                                   65535,      65536,           65537,           100000,
                                   262145,     1 << 20,         (1 << 20) + 1,   3 << 20,
                                   (8 << 20) + 5, (size_t)64 << 20, ((size_t)64 << 20) + 1, (size_t)100 << 20};
    size_t cap = 8192, n = 0;
    size_t *s = malloc(cap * sizeof *s);
    for (size_t i = 1; i <= 1024; i++)
        s[n++] = i;
    for (size_t i = 1025; i <= 4096; i += 7)
        s[n++] = i;
    for (size_t i = 4097; i <= 33000; i += 61)
        s[n++] = i;
    for (int i = 0; i < nclasses; i++) {
        s[n++] = classes[i] - 1;
        s[n++] = classes[i];
        s[n++] = classes[i] + 1;
    }
    if (with_large)
        for (size_t i = 0; i < sizeof large / sizeof large[0]; i++)
            s[n++] = large[i];
    *count = n;
    return s;
}

static void **g_objs;  /* the objects of test_sizes: a scanned root array */
static size_t *g_usable;

TC_NOINLINE static void alloc_all(const size_t *sizes, size_t n, int noscan)
{
    for (size_t i = 0; i < n; i++) {
        void *p = noscan ? gc_alloc_noscan(sizes[i]) : gc_alloc(sizes[i]);
        check_fresh(p, sizes[i], noscan);
        g_usable[i] = gc_size(p);
        tc_fill(p, g_usable[i], (uint32_t)i);
        g_objs[i] = p;
    }
}

static void verify_all(size_t n, const size_t *sizes, const char *when)
{
    for (size_t i = 0; i < n; i++) {
        void *p = g_objs[i];
        TC_CHECK(gc_base(p) == p, "%s: object %zu (%zu bytes) at %p: gc_base = %p", when, i, sizes[i], p,
                 gc_base(p));
        TC_CHECK(gc_size(p) == g_usable[i], "%s: object %zu: gc_size %zu, was %zu", when, i, gc_size(p),
                 g_usable[i]);
        long d = tc_pattern_diff(p, g_usable[i], (uint32_t)i);
        TC_CHECK(d < 0, "%s: object %zu (%zu bytes) at %p: byte %ld changed", when, i, sizes[i], p, d);
    }
}

static void sizes_pass(int noscan)
{
    size_t n;
    size_t *sizes = make_sizes(&n, !noscan);
    g_objs = gc_alloc(n * sizeof(void *));
    TC_CHECK(g_objs != NULL, "gc_alloc of the root array");
    g_usable = malloc(n * sizeof *g_usable);
    alloc_all(sizes, n, noscan);
    verify_all(n, sizes, "right after allocation");
    for (int r = 0; r < 3; r++) {
        tc_churn_kind(48, 20000, noscan);
        tc_churn_kind(1000, 2000, noscan);
        tc_churn_kind(20000, 200, noscan);
        tc_collect_clean();
        verify_all(n, sizes, "after collections");
    }
    /* The same sizes once more, while the first set is alive: no overlap. */
    g_objs = NULL;
    free(g_usable);
    free(sizes);
    tc_collect_clean();
}

static void test_sizes(void)
{
    load_classes();
    sizes_pass(0);
    sizes_pass(1);
}

/* ------------------------------------------------------------------------ */

static int cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Allocate count objects of size, fill every usable byte with 0xff, and keep
 * only their hidden addresses. With do_free they are gc_free'd. */
TC_NOINLINE static void dirty_and_drop(size_t size, size_t count, int noscan, uintptr_t *hidden, int do_free)
{
    for (size_t i = 0; i < count; i++) {
        char *p = noscan ? gc_alloc_noscan(size) : gc_alloc(size);
        TC_CHECK(p != NULL, "gc_alloc(%zu)", size);
        memset(p, 0xff, gc_size(p));
        hidden[i] = tc_hide(p);
        if (do_free)
            gc_free(p);
    }
}

static void **g_keep;

/* Returns how many of the new objects landed on an old address. */
TC_NOINLINE static size_t realloc_and_check(size_t size, size_t count, int noscan, uintptr_t *hidden)
{
    uintptr_t *old = malloc(count * sizeof *old);
    for (size_t i = 0; i < count; i++)
        old[i] = (uintptr_t)tc_unhide(hidden[i]);
    qsort(old, count, sizeof *old, cmp_uptr);
    size_t reused = 0;
    g_keep = gc_alloc(count * sizeof(void *));
    for (size_t i = 0; i < count; i++) {
        char *p = noscan ? gc_alloc_noscan(size) : gc_alloc(size);
        TC_CHECK(p != NULL, "gc_alloc(%zu)", size);
        g_keep[i] = p;
        long nz = tc_nonzero_at(p, gc_size(p));
        TC_CHECK(nz < 0, "reallocated %s(%zu) = %p: byte %ld of %zu is 0x%02x, not zero",
                 noscan ? "gc_alloc_noscan" : "gc_alloc", size, p, nz, gc_size(p), (uint8_t)p[nz]);
        uintptr_t key = (uintptr_t)p;
        if (bsearch(&key, old, count, sizeof *old, cmp_uptr))
            reused++;
    }
    free(old);
    g_keep = NULL;
    return reused;
}

static void test_reuse_zero(void)
{
    static const size_t sizes[] = {8, 16, 48, 112, 256, 1024, 4000, 8192, 32768, 40000, 100000, 1 << 20};
    size_t total = 0, total_reused = 0;
    for (int do_free = 0; do_free <= 1; do_free++) {
        for (int noscan = 0; noscan <= 1; noscan++) {
            for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
                size_t size = sizes[k];
                size_t count = size <= 4096 ? 4000 : size <= 40000 ? 200 : 8;
                uintptr_t *hidden = malloc(count * sizeof *hidden);
                dirty_and_drop(size, count, noscan, hidden, do_free);
                tc_collect_clean();
                size_t dead = 0, first = count;
                for (size_t i = 0; i < count; i++) {
                    int d = gc_base(tc_unhide(hidden[i])) == NULL;
                    dead += d;
                    if (!d && first == count)
                        first = i;
                }
                if (do_free && dead != count) {
                    unsigned char *p = tc_unhide(hidden[first]);
                    size_t same = 0;
                    for (size_t i = 0; i < count; i++)
                        same += hidden[i] == hidden[first];
                    TC_FAIL("%s: %zu of %zu gc_free'd objects of %zu bytes still have a base after gc_collect; "
                            "the first, #%zu at %p (handed out %zu times), has gc_size %zu and first byte 0x%02x",
                            noscan ? "noscan" : "scan", count - dead, count, size, first, (void *)p, same,
                            gc_size(p), p[0]);
                }
                else
                    TC_CHECK(dead + count / 50 + 2 >= count,
                             "only %zu of %zu dropped objects of %zu bytes were reclaimed", dead, count, size);
                size_t reused = realloc_and_check(size, count, noscan, hidden);
                total += count;
                total_reused += reused;
                free(hidden);
                tc_collect_clean();
            }
        }
    }
    printf("     reuse_zero: %zu of %zu reallocated objects reused freed memory\n", total_reused, total);
    /* Otherwise the zeroing of reused memory was never tested. */
    TC_CHECK(total_reused * 4 >= total, "only %zu of %zu new objects reused freed memory", total_reused, total);
}

/* ------------------------------------------------------------------------ */

struct thing {
    double d;
    void *p;
    char name[7];
    short s;
};

static void test_calloc(void)
{
    load_classes();
    /* gc_calloc */
    for (size_t n = 1; n < 3000; n = n * 3 + 1) {
        for (size_t sz = 1; sz <= 200; sz = sz * 2 + 3) {
            char *p = gc_calloc(n, sz);
            TC_CHECK(p != NULL, "gc_calloc(%zu, %zu) returned NULL", n, sz);
            TC_CHECK(gc_size(p) >= n * sz, "gc_size(gc_calloc(%zu, %zu)) = %zu", n, sz, gc_size(p));
            TC_CHECK(tc_nonzero_at(p, gc_size(p)) < 0, "gc_calloc(%zu, %zu) not zeroed", n, sz);
            TC_CHECK(gc_base(p + n * sz - 1) == p, "gc_base of the last byte of gc_calloc(%zu, %zu)", n, sz);
            memset(p, 0xff, n * sz);
        }
    }
    /* gc_strdup */
    const char *strs[] = {"", "a", "hello, world", "0123456789abcdef0123456789abcdef-crossing-a-class"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        char *s = gc_strdup(strs[i]);
        TC_CHECK(s != NULL, "gc_strdup(\"%s\") returned NULL", strs[i]);
        TC_CHECK(s != strs[i], "gc_strdup returned its argument");
        TC_CHECK(strcmp(s, strs[i]) == 0, "gc_strdup(\"%s\") = \"%s\"", strs[i], s);
        TC_CHECK(gc_base(s) == s, "gc_strdup's result %p is not a heap object start (%p)", s, gc_base(s));
        TC_CHECK(gc_size(s) >= strlen(strs[i]) + 1, "gc_size(gc_strdup(\"%s\")) = %zu", strs[i], gc_size(s));
    }
    size_t biglen = 100000;
    char *big = malloc(biglen + 1);
    for (size_t i = 0; i < biglen; i++)
        big[i] = (char)('a' + i % 26);
    big[biglen] = 0;
    char *s = gc_strdup(big);
    TC_CHECK(s && strcmp(s, big) == 0, "gc_strdup of a 100000-byte string");
    TC_CHECK(gc_size(s) >= biglen + 1, "gc_size of a 100000-byte gc_strdup: %zu", gc_size(s));
    free(big);
    /* gc_new, gc_new_array */
    struct thing *t = gc_new(struct thing);
    TC_CHECK(t != NULL, "gc_new(struct thing) returned NULL");
    TC_CHECK(gc_size(t) == class_of(sizeof(struct thing)), "gc_size(gc_new(struct thing)) = %zu, want %zu",
             gc_size(t), class_of(sizeof(struct thing)));
    TC_CHECK((uintptr_t)t % 16 == 0, "gc_new(struct thing) = %p not 16-aligned", (void *)t);
    TC_CHECK(t->d == 0 && t->p == NULL && t->name[0] == 0 && t->s == 0, "gc_new(struct thing) not zeroed");
    struct thing *arr = gc_new_array(struct thing, 1000);
    TC_CHECK(arr != NULL, "gc_new_array(struct thing, 1000) returned NULL");
    TC_CHECK(gc_size(arr) >= 1000 * sizeof(struct thing), "gc_size(gc_new_array(struct thing, 1000)) = %zu",
             gc_size(arr));
    TC_CHECK(tc_nonzero_at(arr, 1000 * sizeof(struct thing)) < 0, "gc_new_array not zeroed");
    TC_CHECK(gc_base(&arr[999].s) == arr, "gc_base(&arr[999].s) = %p, want %p", gc_base(&arr[999].s), (void *)arr);
    uint64_t *one = gc_new(uint64_t);
    TC_CHECK(one && gc_size(one) == 8 && *one == 0, "gc_new(uint64_t): size %zu", one ? gc_size(one) : 0);
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"classes", test_classes},
        {"sizes", test_sizes},
        {"reuse_zero", test_reuse_zero},
        {"calloc", test_calloc},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
