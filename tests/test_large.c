/*
 * test_large.c - objects larger than 32 KiB, up to 1 GiB.
 *
 *   pages        every page count 5..160 (and sizes between): page-aligned, zeroed,
 *                gc_size whole pages, gc_base of interior pointers, contents
 *                survive collections
 *   gib          a 1 GiB noscan object: first and last page zero and writable,
 *                gc_base/gc_size of a pointer near its end; gc_free drops
 *                heap_alloc by 1 GiB; a dropped 1 GiB object is reclaimed by a
 *                collection; three rounds do not grow heap_sys past ~2 GiB
 *   scan_large   a 256 MiB scanned object holding, 200 MiB in, the only pointer
 *                to a small object: the small object survives (large objects are
 *                scanned to their end)
 */
#include "common.h"

static void **g_keep;

static void test_pages(void)
{
    const size_t n = 200;
    g_keep = gc_alloc(n * sizeof(void *));
    size_t *sizes = malloc(n * sizeof *sizes);
    size_t k = 0;
    for (size_t pages = 5; pages <= 160 && k + 2 <= n; pages += 2) {
        sizes[k++] = pages * 8192;
        sizes[k++] = pages * 8192 - 8191 + (pages % 7) * 100;
    }
    for (size_t i = 0; i < k; i++) {
        char *p = gc_alloc(sizes[i]);
        TC_CHECK(p != NULL, "gc_alloc(%zu) returned NULL", sizes[i]);
        TC_CHECK((uintptr_t)p % 8192 == 0, "gc_alloc(%zu) = %p is not page-aligned", sizes[i], p);
        size_t us = gc_size(p);
        TC_CHECK(us >= sizes[i] && us - sizes[i] < 8192 && us % 8192 == 0, "gc_size(gc_alloc(%zu)) = %zu",
                 sizes[i], us);
        TC_CHECK(tc_nonzero_at(p, us) < 0, "gc_alloc(%zu) is not zeroed", sizes[i]);
        TC_CHECK(gc_base(p + us - 1) == p && gc_base(p + us / 2) == p && gc_base(p + 8192) == p,
                 "gc_base of interior pointers of a %zu-byte object", us);
        TC_CHECK(gc_size(p + us - 8) == us, "gc_size of an interior pointer of a %zu-byte object", us);
        tc_fill(p, us, (uint32_t)i);
        g_keep[i] = p;
    }
    for (int r = 0; r < 3; r++) {
        tc_churn(40000, 100);
        tc_churn(300000, 20);
        tc_collect_clean();
    }
    for (size_t i = 0; i < k; i++) {
        char *p = g_keep[i];
        TC_CHECK(gc_base(p) == p, "large object %zu (%zu bytes) at %p lost: gc_base %p", i, sizes[i], p, gc_base(p));
        long d = tc_pattern_diff(p, gc_size(p), (uint32_t)i);
        TC_CHECK(d < 0, "large object %zu (%zu bytes) at %p: byte %ld changed", i, sizes[i], p, d);
    }
    g_keep = NULL;
    free(sizes);
}

/* ------------------------------------------------------------------------ */

static gc_memstats ms;

TC_NOINLINE static uintptr_t alloc_gib_hidden(void)
{
    char *p = gc_alloc_noscan(TC_GiB);
    TC_CHECK(p != NULL, "gc_alloc_noscan(1 GiB) returned NULL (errno %d)", errno);
    TC_CHECK((uintptr_t)p % 8192 == 0, "1 GiB object %p is not page-aligned", p);
    TC_CHECK(gc_size(p) >= TC_GiB && gc_size(p) < TC_GiB + 8192, "gc_size(1 GiB object) = %zu", gc_size(p));
    /* first and last page: zero, writable */
    TC_CHECK(tc_nonzero_at(p, 8192) < 0, "first page of the 1 GiB object is not zero");
    TC_CHECK(tc_nonzero_at(p + TC_GiB - 8192, 8192) < 0, "last page of the 1 GiB object is not zero");
    memset(p, 0x11, 8192);
    memset(p + TC_GiB - 8192, 0x22, 8192);
    TC_CHECK(p[0] == 0x11 && p[TC_GiB - 1] == 0x22, "1 GiB object: writes did not stick");
    char *near_end = p + TC_GiB - 100;
    TC_CHECK(gc_base(near_end) == p, "gc_base(%p, near the end of the 1 GiB object) = %p, want %p", near_end,
             gc_base(near_end), p);
    TC_CHECK(gc_size(near_end) == gc_size(p), "gc_size near the end of the 1 GiB object");
    TC_CHECK(gc_base(p + TC_GiB / 2 + 12345) == p, "gc_base in the middle of the 1 GiB object");
    return tc_hide(p);
}

static void test_gib(void)
{
    tc_collect_clean();
    gc_read_memstats(&ms);
    uint64_t alloc0 = ms.heap_alloc;

    /* 1. gc_free */
    uintptr_t h = alloc_gib_hidden();
    gc_read_memstats(&ms);
    TC_CHECK(ms.heap_alloc >= alloc0 + TC_GiB, "heap_alloc %llu after a 1 GiB allocation (was %llu)",
             (unsigned long long)ms.heap_alloc, (unsigned long long)alloc0);
    TC_CHECK(ms.heap_sys >= TC_GiB, "heap_sys %llu with a 1 GiB object", (unsigned long long)ms.heap_sys);
    gc_free(tc_unhide(h));
    TC_CHECK(gc_base(tc_unhide(h)) == NULL, "gc_base of a gc_free'd 1 GiB object is %p",
             gc_base(tc_unhide(h)));
    tc_collect_clean();
    gc_read_memstats(&ms);
    TC_CHECK(ms.heap_alloc < alloc0 + 16 * TC_MiB, "heap_alloc %llu after gc_free of the 1 GiB object (was %llu)",
             (unsigned long long)ms.heap_alloc, (unsigned long long)alloc0);

    /* 2. dropped and collected, three times over */
    for (int r = 0; r < 3; r++) {
        h = alloc_gib_hidden();
        tc_collect_clean();
        gc_read_memstats(&ms);
        TC_CHECK(gc_base(tc_unhide(h)) == NULL, "round %d: a dropped 1 GiB object survived a collection", r);
        TC_CHECK(ms.heap_alloc < alloc0 + 16 * TC_MiB,
                 "round %d: heap_alloc %llu after the 1 GiB object was dropped (was %llu)", r,
                 (unsigned long long)ms.heap_alloc, (unsigned long long)alloc0);
    }
    /* the freed gigabyte is reused, not mapped anew each time */
    TC_CHECK(ms.heap_sys <= 2 * TC_GiB + 256 * TC_MiB, "heap_sys %llu after 4 x 1 GiB, one at a time",
             (unsigned long long)ms.heap_sys);
    printf("     gib: heap_sys %.0f MiB, heap_released %.0f MiB at the end\n", ms.heap_sys / 1048576.0,
           ms.heap_released / 1048576.0);
}

/* ------------------------------------------------------------------------ */

static char *g_big;

TC_NOINLINE static void make_big_with_small(size_t at)
{
    g_big = gc_alloc(256 * TC_MiB);
    TC_CHECK(g_big != NULL, "gc_alloc(256 MiB) returned NULL");
    void *small = gc_alloc(64);
    tc_fill(small, 64, 77);
    memcpy(g_big + at, &small, sizeof small);
}

static void test_scan_large(void)
{
    size_t at = 200 * TC_MiB + 8;
    make_big_with_small(at);
    tc_collect_churn(64, 100000, 3);
    void *small;
    memcpy(&small, g_big + at, sizeof small);
    TC_CHECK(gc_base(small) == small, "the object held only at offset 200 MiB of a 256 MiB object was freed");
    TC_CHECK(tc_pattern_diff(small, 64, 77) < 0, "the object held only at offset 200 MiB of a 256 MiB object was "
                                                  "overwritten");
    g_big = NULL;
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"pages", test_pages},
        {"gib", test_gib},
        {"scan_large", test_scan_large},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
