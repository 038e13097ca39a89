/*
 * test_roots_dlopen.c - roots in a shared library loaded with dlopen(3) after
 * tricolor started and collected (tcroot.so, built from libroot.c; its path
 * comes from CMake as LIBROOT_PATH).
 *
 *   globals     the library's .data and .bss (and through its setter) hold the
 *               only pointers: objects survive, then die when cleared
 *   tls_main    the library's __thread variables (.tbss, .tdata: dynamic TLS,
 *               allocated by the loader) in the main thread
 *   tls_thread  the same in another thread, blocked while main collects
 *   dlclose     after dlclose the library's memory is gone: collections go on
 *               (no crash), and a reloaded copy is a root again
 */
#include "roots_common.h"

#include <dlfcn.h>

#ifndef LIBROOT_PATH
#error "LIBROOT_PATH must name tcroot.so"
#endif

typedef void *volatile *(*slots_fn)(void);
static void *g_handle;
static slots_fn lib_bss, lib_data, lib_tls, lib_tls_data;
static void (*lib_set)(int, void *);
static void *(*lib_get)(int);
static int (*lib_nslots)(void);

static void *sym(const char *name)
{
    void *p = dlsym(g_handle, name);
    TC_CHECK(p != NULL, "dlsym(%s): %s", name, dlerror());
    return p;
}

static void load(void)
{
    /* tricolor is started and has collected before the library arrives */
    void *warm = gc_alloc(100);
    (void)warm;
    gc_collect();
    g_handle = dlopen(LIBROOT_PATH, RTLD_NOW | RTLD_LOCAL);
    TC_CHECK(g_handle != NULL, "dlopen(%s): %s", LIBROOT_PATH, dlerror());
    lib_bss = (slots_fn)sym("libroot_bss_slots");
    lib_data = (slots_fn)sym("libroot_data_slots");
    lib_tls = (slots_fn)sym("libroot_tls_slots");
    lib_tls_data = (slots_fn)sym("libroot_tls_data_slots");
    lib_set = (void (*)(int, void *))sym("libroot_set");
    lib_get = (void *(*)(int))sym("libroot_get");
    lib_nslots = (int (*)(void))sym("libroot_nslots");
    TC_CHECK(lib_nslots() >= RT_N, "tcroot.so has %d slots", lib_nslots());
}

TC_NOINLINE static void populate_via_setter(rt_set *s)
{
    s->n = RT_N;
    s->size = RT_SIZE;
    s->off = 0;
    s->seed = 720;
    for (int i = 0; i < RT_N; i++) {
        void *p = gc_alloc(RT_SIZE);
        tc_fill(p, RT_SIZE, 720 + (uint32_t)i);
        s->hid[i] = tc_hide(p);
        lib_set(i, p);
    }
}

static void test_globals(void)
{
    load();
    rt_full_check(lib_data(), RT_N, RT_SIZE, 0, 700, "dlopen'd library .data");
    rt_full_check(lib_bss(), RT_N, RT_SIZE, 0, 710, "dlopen'd library .bss");
    static rt_set s;
    populate_via_setter(&s);
    tc_collect_churn(RT_SIZE, 8 * RT_N, 4);
    rt_verify(&s, lib_bss(), "dlopen'd library global set through its setter");
    for (int i = 0; i < RT_N; i++)
        TC_CHECK(lib_get(i) == tc_unhide(s.hid[i]), "libroot_get(%d)", i);
    for (int i = 0; i < RT_N; i++)
        lib_set(i, NULL);
    rt_reclaim_check(&s, NULL, "dlopen'd library global cleared through its setter");
}

static void test_tls_main(void)
{
    load();
    rt_full_check(lib_tls(), RT_N, RT_SIZE, 0, 800, "dlopen'd library .tbss (main thread)");
    rt_full_check(lib_tls_data(), RT_N, RT_SIZE, 0, 810, "dlopen'd library .tdata (main thread)");
}

/* ------------------------------------------------------------------------ */

struct tls_job {
    slots_fn which;
    const char *what;
    rt_set set;
    tc_event ready, cont, cleared, leave;
};

TC_NOINLINE static void job_fill(struct tls_job *j)
{
    rt_populate(&j->set, j->which(), RT_N, RT_SIZE, 0, 900);
}

TC_NOINLINE static void job_clear(struct tls_job *j)
{
    void *volatile *slots = j->which();
    for (int i = 0; i < RT_N; i++)
        slots[i] = NULL;
}

static void *tls_thread(void *arg)
{
    struct tls_job *j = arg;
    job_fill(j);
    tc_clear_stack();
    tc_event_post(&j->ready);
    tc_event_wait(&j->cont); /* main collects */
    rt_verify(&j->set, j->which(), j->what);
    job_clear(j);
    tc_clear_stack();
    tc_event_post(&j->cleared);
    tc_event_wait(&j->leave); /* main collects */
    return NULL;
}

static void tls_in_thread(slots_fn which, const char *what)
{
    static struct tls_job j;
    j.which = which;
    j.what = what;
    tc_event_init(&j.ready);
    tc_event_init(&j.cont);
    tc_event_init(&j.cleared);
    tc_event_init(&j.leave);
    pthread_t t = tc_thread(tls_thread, &j);
    tc_event_wait(&j.ready);
    tc_collect_churn(RT_SIZE, 8 * RT_N, 4);
    tc_event_post(&j.cont);
    tc_event_wait(&j.cleared);
    tc_collect_clean();
    int dead = rt_count_dead(&j.set);
    TC_CHECK(dead >= RT_N - RT_SLACK, "%s: after the thread cleared its slots only %d of %d objects died", what,
             dead, RT_N);
    tc_event_post(&j.leave);
    tc_join(t);
    tc_event_destroy(&j.ready);
    tc_event_destroy(&j.cont);
    tc_event_destroy(&j.cleared);
    tc_event_destroy(&j.leave);
}

static void test_tls_thread(void)
{
    load();
    tls_in_thread(lib_tls, "dlopen'd library .tbss in another thread");
    tls_in_thread(lib_tls_data, "dlopen'd library .tdata in another thread");
}

/* ------------------------------------------------------------------------ */

static void test_dlclose(void)
{
    load();
    rt_full_check(lib_bss(), RT_N, RT_SIZE, 0, 1000, "dlopen'd library .bss, before dlclose");
    /* leave pointers in the library: it goes away with them (its TLS too:
     * collections must not trip over a block the loader freed) */
    static rt_set sb, st;
    rt_populate(&sb, lib_bss(), RT_N, RT_SIZE, 0, 1010);
    rt_populate(&st, lib_tls(), RT_N, RT_SIZE, 0, 1020);
    TC_CHECK(dlclose(g_handle) == 0, "dlclose: %s", dlerror());
    g_handle = NULL;
    for (int i = 0; i < 5; i++) {
        tc_churn(RT_SIZE, 10000);
        gc_collect();
    }
    tc_collect_clean();
    int dead = rt_count_dead(&sb);
    TC_CHECK(dead >= RT_N - RT_SLACK, "objects held only by an unloaded library's .bss: %d of %d died", dead, RT_N);
    /* a fresh copy is a root again */
    g_handle = dlopen(LIBROOT_PATH, RTLD_NOW | RTLD_LOCAL);
    TC_CHECK(g_handle != NULL, "dlopen again: %s", dlerror());
    lib_bss = (slots_fn)sym("libroot_bss_slots");
    rt_full_check(lib_bss(), RT_N, RT_SIZE, 0, 1030, "reloaded library .bss");
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"globals", test_globals},
        {"tls_main", test_tls_main},
        {"tls_thread", test_tls_thread},
        {"dlclose", test_dlclose},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
