/*
 * test_roots.c - roots of the main thread and the process: every check puts
 * 64 objects whose only pointers are in the root under test, collects several
 * times with garbage in between, checks each object is there with its bytes
 * intact, then clears the root and checks the objects are reclaimed.
 *
 *   control         addresses kept only in hidden form: objects are reclaimed
 *                   (so the test's own leftovers do not keep objects alive)
 *   data            a global in .data of the program
 *   bss             a global in .bss of the program
 *   tls             __thread variables (.tbss and .tdata) of the main thread
 *   add_roots       gc_add_roots on malloc'd and mmap'd memory; gc_remove_roots of
 *                   all, of a middle part, of a range overlapping two regions
 *   add_roots_many  20000 separately registered regions, then all removed
 *   interior        only pointers into the middle / to the last byte of objects,
 *                   small and large (1 MiB)
 *   shlib           .data, .bss and __thread variables of a shared library the
 *                   program is linked with (libtcroot_linked.so)
 */
#include "roots_common.h"

#include <sys/mman.h>

/* from libroot.c */
extern int libroot_nslots(void);
extern void *volatile *libroot_bss_slots(void);
extern void *volatile *libroot_data_slots(void);
extern void *volatile *libroot_tls_slots(void);
extern void *volatile *libroot_tls_data_slots(void);
extern void libroot_set(int i, void *p);
extern void *libroot_get(int i);

void *volatile g_data_slots[RT_N + 1] = {(void *)1}; /* .data */
void *volatile g_bss_slots[RT_N];                    /* .bss */
__thread void *volatile t_bss_slots[RT_N];           /* .tbss */
__thread void *volatile t_data_slots[RT_N + 1] = {(void *)1}; /* .tdata */

static void test_control(void) { rt_control("main thread"); }

static void test_data(void) { rt_full_check(g_data_slots + 1, RT_N, RT_SIZE, 0, 100, "program .data"); }

static void test_bss(void)
{
    rt_full_check(g_bss_slots, RT_N, RT_SIZE, 0, 200, "program .bss");
    rt_full_check(g_bss_slots, 8, 40000, 0, 210, "program .bss, large objects");
}

static void test_tls(void)
{
    rt_full_check(t_bss_slots, RT_N, RT_SIZE, 0, 300, "main thread .tbss");
    rt_full_check(t_data_slots + 1, RT_N, RT_SIZE, 0, 310, "main thread .tdata");
}

static void test_add_roots(void)
{
    static rt_set s;
    size_t len = RT_N * sizeof(void *);

    /* malloc'd: whole region, then removal */
    void *volatile *m = calloc(RT_N, sizeof(void *));
    gc_add_roots((void *)m, len);
    rt_populate(&s, m, RT_N, RT_SIZE, 0, 400);
    rt_survive_check(&s, m, "gc_add_roots(malloc'd)");
    gc_remove_roots((void *)m, len);
    tc_collect_clean();
    int dead = rt_count_dead(&s);
    TC_CHECK(dead >= RT_N - RT_SLACK,
             "after gc_remove_roots, only %d of %d objects held in the malloc'd region were reclaimed", dead, RT_N);

    /* mmap'd */
    void *volatile *mm = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    TC_CHECK(mm != MAP_FAILED, "mmap");
    gc_add_roots((void *)mm, 65536);
    rt_populate(&s, mm + 1000, RT_N, RT_SIZE, 0, 410);
    rt_survive_check(&s, mm + 1000, "gc_add_roots(mmap'd)");
    gc_remove_roots((void *)mm, 65536);
    tc_collect_clean();
    dead = rt_count_dead(&s);
    TC_CHECK(dead >= RT_N - RT_SLACK, "after gc_remove_roots, only %d of %d objects held in the mmap'd region died",
             dead, RT_N);
    munmap((void *)mm, 65536);
    gc_collect(); /* the unmapped region is not scanned any more */

    /* removing the middle part [16, 48) of a region */
    gc_add_roots((void *)m, len);
    rt_populate(&s, m, RT_N, RT_SIZE, 0, 420);
    gc_remove_roots((void *)(m + 16), 32 * sizeof(void *));
    tc_collect_clean();
    dead = 0;
    for (int i = 16; i < 48; i++)
        dead += gc_base(tc_unhide(s.hid[i])) == NULL;
    TC_CHECK(dead >= 32 - RT_SLACK, "only %d of the 32 objects in the removed middle part died", dead);
    tc_collect_churn(RT_SIZE, 8 * RT_N, 3);
    for (int i = 0; i < RT_N; i++) {
        if (i >= 16 && i < 48)
            continue;
        char *p = tc_unhide(s.hid[i]);
        TC_CHECK(gc_base(p) == p && tc_pattern_diff(p, RT_SIZE, 420 + (uint32_t)i) < 0,
                 "object %d, outside the removed middle part, was freed", i);
    }
    gc_remove_roots((void *)m, len);
    memset((void *)m, 0, len);

    /* overlapping regions [0, 96) and [32, 128) of 128 slots; removing
     * [0, 64) stops scanning slots 0..63 of both, 64..127 stay roots */
    void *volatile *o = calloc(128, sizeof(void *));
    gc_add_roots((void *)o, 96 * sizeof(void *));
    gc_add_roots((void *)(o + 32), 96 * sizeof(void *));
    static rt_set lo, hi;
    rt_populate(&lo, o, RT_N, RT_SIZE, 0, 430);
    rt_populate(&hi, o + 64, RT_N, RT_SIZE, 0, 440);
    rt_survive_check(&lo, o, "overlapping gc_add_roots, low half");
    rt_survive_check(&hi, o + 64, "overlapping gc_add_roots, high half");
    gc_remove_roots((void *)o, 64 * sizeof(void *));
    tc_collect_clean();
    dead = rt_count_dead(&lo);
    TC_CHECK(dead >= RT_N - RT_SLACK, "gc_remove_roots([0,64)) over two overlapping regions: only %d of %d died",
             dead, RT_N);
    rt_survive_check(&hi, o + 64, "overlapping gc_add_roots, the part not removed");
    gc_remove_roots((void *)o, 128 * sizeof(void *));
    rt_reclaim_check(&hi, o + 64, "overlapping gc_add_roots, all removed");
    free((void *)o);
    free((void *)m);
}

/* ------------------------------------------------------------------------ */

#define MANY 20000
static void *volatile *g_many[MANY]; /* the region addresses (malloc'd: not roots themselves) */
static uintptr_t g_many_hid[MANY];

TC_NOINLINE static void many_populate(void)
{
    for (int i = 0; i < MANY; i++) {
        void *p = gc_alloc(32);
        tc_fill(p, 32, (uint32_t)i);
        g_many_hid[i] = tc_hide(p);
        *g_many[i] = p;
    }
}

static void test_add_roots_many(void)
{
    for (int i = 0; i < MANY; i++) {
        g_many[i] = malloc(sizeof(void *) * 2);
        gc_add_roots((void *)g_many[i], sizeof(void *));
    }
    many_populate();
    tc_collect_churn(32, 2 * MANY, 3);
    for (int i = 0; i < MANY; i++) {
        char *p = tc_unhide(g_many_hid[i]);
        TC_CHECK(*g_many[i] == p, "region %d changed", i);
        TC_CHECK(gc_base(p) == p && tc_pattern_diff(p, 32, (uint32_t)i) < 0,
                 "object %d of %d, held by its own registered region, was freed", i, MANY);
    }
    for (int i = 0; i < MANY; i++)
        gc_remove_roots((void *)g_many[i], sizeof(void *));
    tc_collect_clean();
    int dead = 0;
    for (int i = 0; i < MANY; i++)
        dead += gc_base(tc_unhide(g_many_hid[i])) == NULL;
    TC_CHECK(dead >= MANY - 100, "after removing the %d regions only %d objects died", MANY, dead);
    for (int i = 0; i < MANY; i++)
        free((void *)g_many[i]);
}

/* ------------------------------------------------------------------------ */

static void test_interior(void)
{
    rt_full_check(g_bss_slots, RT_N, RT_SIZE, RT_SIZE / 2, 500, "interior pointer (middle)");
    rt_full_check(g_bss_slots, RT_N, RT_SIZE, RT_SIZE - 1, 510, "interior pointer (last byte)");
    rt_full_check(g_bss_slots, RT_N, 3000, 2999, 520, "interior pointer (last byte of 3000)");
    rt_full_check(g_bss_slots, 8, TC_MiB, 700 * TC_KiB + 3, 530, "interior pointer into a 1 MiB object");
    rt_full_check(g_bss_slots, 8, 100 * TC_KiB, 100 * TC_KiB - 1, 540, "interior pointer to the last byte of 100 KiB");
}

/* ------------------------------------------------------------------------ */

static void test_shlib(void)
{
    TC_CHECK(libroot_nslots() >= RT_N, "libroot has %d slots", libroot_nslots());
    rt_full_check(libroot_data_slots(), RT_N, RT_SIZE, 0, 600, "linked shared library .data");
    rt_full_check(libroot_bss_slots(), RT_N, RT_SIZE, 0, 610, "linked shared library .bss");
    rt_full_check(libroot_tls_slots(), RT_N, RT_SIZE, 0, 620, "linked shared library .tbss (main thread)");
    rt_full_check(libroot_tls_data_slots(), RT_N, RT_SIZE, 0, 630, "linked shared library .tdata (main thread)");
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"control", test_control},
        {"data", test_data},
        {"bss", test_bss},
        {"tls", test_tls},
        {"add_roots", test_add_roots},
        {"add_roots_many", test_add_roots_many},
        {"interior", test_interior},
        {"shlib", test_shlib},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
