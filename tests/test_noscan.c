/*
 * test_noscan.c - noscan objects are never scanned.
 *
 * For each holder kind and size, 64 holders are kept alive in a global array,
 * and each holds the only pointer to a 96-byte target:
 *   noscan holders  gc_alloc_noscan (8 B .. 100 KiB) and gc_strdup: the targets
 *                   are reclaimed, the holders are not
 *   scan holders    gc_alloc, gc_calloc, gc_new_array of the same sizes: the
 *                   targets survive collections with garbage in between
 */
#include "common.h"

#define NH 64
#define TSIZE 96

static void *volatile g_holders[NH];
static uintptr_t g_targets[NH]; /* hidden */

enum kind { K_NOSCAN, K_STRDUP, K_SCAN, K_CALLOC, K_NEW_ARRAY };
static const char *kind_name[] = {"gc_alloc_noscan", "gc_strdup", "gc_alloc", "gc_calloc", "gc_new_array"};

TC_NOINLINE static void make(enum kind k, size_t size, size_t at, uint32_t seed)
{
    for (int i = 0; i < NH; i++) {
        char *h = NULL;
        switch (k) {
        case K_NOSCAN:
            h = gc_alloc_noscan(size);
            break;
        case K_STRDUP: {
            char *s = malloc(size);
            memset(s, 'x', size - 1);
            s[size - 1] = 0;
            h = gc_strdup(s);
            free(s);
            break;
        }
        case K_SCAN:
            h = gc_alloc(size);
            break;
        case K_CALLOC:
            h = gc_calloc(size / 8, 8);
            break;
        case K_NEW_ARRAY:
            h = (char *)gc_new_array(void *, size / 8);
            break;
        }
        TC_CHECK(h != NULL, "%s(%zu) returned NULL", kind_name[k], size);
        void *t = gc_alloc(TSIZE);
        tc_fill(t, TSIZE, seed + (uint32_t)i);
        memcpy(h + at, &t, sizeof t);
        g_holders[i] = h;
        g_targets[i] = tc_hide(t);
    }
}

static void check_holders(enum kind k, size_t size, size_t at)
{
    for (int i = 0; i < NH; i++) {
        char *h = g_holders[i];
        TC_CHECK(gc_base(h) == h, "a %s(%zu) holder rooted in a global was freed", kind_name[k], size);
        void *t;
        memcpy(&t, h + at, sizeof t);
        TC_CHECK(t == tc_unhide(g_targets[i]), "a %s(%zu) holder lost its contents", kind_name[k], size);
    }
}

static void test_noscan(void)
{
    static const size_t sizes[] = {8, 16, 24, 64, 200, 1024, 5000, 32768, 40000, 100 * 1024};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t size = sizes[s];
        size_t at = size - 8; /* the last word */
        for (int k = K_NOSCAN; k <= K_NEW_ARRAY; k++) {
            if (k == K_STRDUP && size < 16)
                continue;
            uint32_t seed = (uint32_t)(s * 1000 + (size_t)k * 100);
            if (k == K_STRDUP)
                at = (size - 9) & ~(size_t)7; /* a word inside the string */
            else
                at = size - 8;
            make((enum kind)k, size, at, seed);
            if (k <= K_STRDUP) {
                tc_collect_clean();
                int dead = 0;
                for (int i = 0; i < NH; i++)
                    dead += tc_reclaimed(g_targets[i], TSIZE, seed + (uint32_t)i);
                TC_CHECK(dead >= NH - 4,
                         "only %d of %d targets held only in %s(%zu) objects were reclaimed: noscan memory was "
                         "scanned",
                         dead, NH, kind_name[k], size);
                check_holders((enum kind)k, size, at);
            } else {
                tc_collect_churn(TSIZE, 8 * NH, 3);
                check_holders((enum kind)k, size, at);
                for (int i = 0; i < NH; i++) {
                    char *t = tc_unhide(g_targets[i]);
                    TC_CHECK(gc_base(t) == t && tc_pattern_diff(t, TSIZE, seed + (uint32_t)i) < 0,
                             "target %d held only in a %s(%zu) object at offset %zu was freed", i, kind_name[k],
                             size, at);
                }
            }
            memset((void *)g_holders, 0, sizeof g_holders);
        }
    }
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"noscan", test_noscan},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
