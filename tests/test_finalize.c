/*
 * test_finalize.c - finalizers, cleanups, weak pointers and gc_keep_alive,
 * with Go's rules:
 *   once         every finalizer of many dropped objects runs exactly once, with
 *                its object and arg; the objects are freed afterwards
 *   reachable    no finalizer runs for an object that is reachable (global,
 *                stack, heap), over many collections with garbage between
 *   referents    what a finalized object points to is intact when its finalizer runs
 *   resurrect    a finalizer that stores its object: the object lives, intact,
 *                the finalizer does not run again, and it dies when dropped again
 *   order        chains of finalized objects: each finalizer runs after that of
 *                the object pointing to it (Go's dependency order)
 *   large        objects past 32 KiB, scanned and noscan: finalized intact, then freed
 *   replace      a second finalizer replaces the first; NULL removes it
 *   einval       interior, global, stack, freed, NULL pointers: EINVAL, nothing done
 *   cycles       a cycle through a finalized object is never collected (Go);
 *                a cycle with cleanups is, and the cleanups run
 *   cleanup      several cleanups per object, each once, never given the object;
 *                the object is freed; a cleanup's arg lives until it ran
 *   cleanup_stop a stopped cleanup never runs; stopping after it ran is harmless
 *   fin_cleanup  a finalizer and cleanups on one object: the finalizer first,
 *                the cleanups when the resurrected object dies again
 *   free         gc_free drops records unrun and clears weak pointers
 *   weak         same object, same handle; get gives the object while it is
 *                reachable, NULL once collected; the handle outlives the object
 *   weak_many    thousands of weak pointers, half the objects kept
 *   weak_marking objects reachable only by weak pointers, got while marking runs
 *                beside the program: they live on, intact (skipped, 77, where
 *                marking stops the world: GODEBUG, or no write-tracking backend)
 *   keep_alive   an object whose only use is a later gc_keep_alive survives
 *                collections until then
 *   thread       finalizers may allocate, collect, and set finalizers
 *   fork         a child process runs its finalizers
 *   concurrent   threads set finalizers, cleanups and weak pointers and use
 *                them while collections run beside them (marking concurrent)
 */
#include "common.h"

#include <stdatomic.h>
#include <stdbool.h>

#define WAIT_S 20.0

/* Collect (wiping the stack first) until cond() holds or WAIT_S pass.
 * The macro wipes the caller's dead frames first: a word of padding in
 * collect_until_'s own frame, never written, kept the pointer that a
 * *_make() call had left there, and with it the object under test. */
#define collect_until(cond) (tc_clear_stack(), collect_until_(cond))
static TC_NOINLINE bool collect_until_(bool (*cond)(void))
{
    double t0 = tc_now();
    while (!cond()) {
        if (tc_now() - t0 > WAIT_S)
            return false;
        tc_collect_clean();
        tc_sleep_ms(5);
    }
    return true;
}

/* Collect a few times, giving the finalizer thread time to run. */
static TC_NOINLINE void settle(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        tc_collect_clean();
        tc_sleep_ms(20);
    }
}

/* ------------------------------------------------------------------------ */
/* once                                                                      */
/* ------------------------------------------------------------------------ */

#define ONCE_N 20000

struct fobj {
    uint64_t id, check;
    struct fobj *child;
};

static _Atomic int once_runs[ONCE_N];
static _Atomic int once_total, once_bad, once_freed;
static uintptr_t once_addr[ONCE_N]; /* hidden */

static uint64_t chk(uint64_t id) { return tc_mix(id ^ 0x5eed); }

static void once_fin(void *obj, void *arg)
{
    struct fobj *o = obj;
    uint64_t id = (uint64_t)(uintptr_t)arg - 1;
    if (id >= ONCE_N || o->id != id || o->check != chk(id) || tc_unhide(once_addr[id]) != obj)
        atomic_fetch_add(&once_bad, 1);
    else
        atomic_fetch_add(&once_runs[id], 1);
    atomic_fetch_add(&once_total, 1);
}

static void count_freed(void *arg)
{
    (void)arg;
    atomic_fetch_add(&once_freed, 1);
}

static TC_NOINLINE void once_make(void)
{
    for (uint64_t i = 0; i < ONCE_N; i++) {
        struct fobj *o = gc_new(struct fobj);
        TC_CHECK(o, "gc_new");
        o->id = i;
        o->check = chk(i);
        once_addr[i] = tc_hide(o);
        errno = 0;
        gc_set_finalizer(o, once_fin, (void *)(uintptr_t)(i + 1));
        TC_CHECK(errno == 0, "gc_set_finalizer set errno %d", errno);
        TC_CHECK(gc_add_cleanup(o, count_freed, NULL), "gc_add_cleanup");
    }
}

static bool once_done(void) { return atomic_load(&once_total) >= ONCE_N - 16; }
static bool once_all_freed(void) { return atomic_load(&once_freed) >= atomic_load(&once_total); }

static void t_once(void)
{
    once_make();
    TC_CHECK(collect_until(once_done), "only %d of %d finalizers ran", atomic_load(&once_total), ONCE_N);
    settle(3);
    int total = atomic_load(&once_total);
    TC_CHECK(atomic_load(&once_bad) == 0, "%d finalizers saw a wrong object or arg", atomic_load(&once_bad));
    for (int i = 0; i < ONCE_N; i++)
        TC_CHECK(atomic_load(&once_runs[i]) <= 1, "finalizer %d ran %d times", i, atomic_load(&once_runs[i]));
    /* Dropped objects stay dropped: the finalized ones are freed at a later
     * collection, which runs their cleanups. */
    TC_CHECK(collect_until(once_all_freed), "%d objects finalized, %d freed", total, atomic_load(&once_freed));
    settle(3);
    TC_CHECK(atomic_load(&once_total) == total, "finalizers ran again: %d then %d", total, atomic_load(&once_total));
    printf("     %d of %d finalized and freed (the rest kept by stale stack words)\n", total, ONCE_N);
}

/* ------------------------------------------------------------------------ */
/* reachable                                                                 */
/* ------------------------------------------------------------------------ */

#define REACH_N 3000
static struct fobj *reach_global[REACH_N / 3];
static _Atomic int reach_runs;

static void reach_fin(void *obj, void *arg)
{
    (void)obj;
    (void)arg;
    atomic_fetch_add(&reach_runs, 1);
}

static struct fobj *reach_new(uint64_t id)
{
    struct fobj *o = gc_new(struct fobj);
    o->id = id;
    o->check = chk(id);
    gc_set_finalizer(o, reach_fin, NULL);
    return o;
}

static void t_reachable(void)
{
    struct fobj *stack[REACH_N / 3];
    struct fobj **heap = gc_new_array(struct fobj *, REACH_N / 3);
    for (int i = 0; i < REACH_N / 3; i++) {
        reach_global[i] = reach_new((uint64_t)i);
        stack[i] = reach_new((uint64_t)i + REACH_N);
        heap[i] = reach_new((uint64_t)i + 2 * REACH_N);
    }
    for (int r = 0; r < 6; r++) {
        tc_collect_churn(sizeof(struct fobj), 20000, 1);
        tc_sleep_ms(10);
    }
    TC_CHECK(atomic_load(&reach_runs) == 0, "%d finalizers ran for reachable objects", atomic_load(&reach_runs));
    for (int i = 0; i < REACH_N / 3; i++) {
        TC_CHECK(reach_global[i]->check == chk((uint64_t)i), "global object %d overwritten", i);
        TC_CHECK(stack[i]->check == chk((uint64_t)i + REACH_N), "stack object %d overwritten", i);
        TC_CHECK(heap[i]->check == chk((uint64_t)i + 2 * REACH_N), "heap object %d overwritten", i);
    }
    gc_keep_alive(heap);
    gc_keep_alive(stack);
}

/* ------------------------------------------------------------------------ */
/* referents                                                                 */
/* ------------------------------------------------------------------------ */

#define REF_N 500
#define REF_CHILD 200
static _Atomic int ref_runs, ref_bad;

static void ref_fin(void *obj, void *arg)
{
    struct fobj *o = obj;
    (void)arg;
    /* The child and its child: patterns intact after all the churn. */
    struct fobj *c = o->child;
    if (!c || tc_pattern_diff(c + 1, REF_CHILD - sizeof *c, (uint32_t)o->id) >= 0 || !c->child ||
        tc_pattern_diff(c->child, REF_CHILD, (uint32_t)o->id + 7) >= 0)
        atomic_fetch_add(&ref_bad, 1);
    atomic_fetch_add(&ref_runs, 1);
}

static TC_NOINLINE void ref_make(void)
{
    for (int i = 0; i < REF_N; i++) {
        struct fobj *o = gc_new(struct fobj);
        o->id = (uint64_t)i;
        struct fobj *c = gc_alloc(REF_CHILD);
        tc_fill(c + 1, REF_CHILD - sizeof *c, (uint32_t)i);
        c->child = gc_alloc(REF_CHILD);
        tc_fill(c->child, REF_CHILD, (uint32_t)i + 7);
        o->child = c;
        gc_set_finalizer(o, ref_fin, NULL);
    }
}

static bool ref_done(void)
{
    tc_churn(REF_CHILD, 5000);
    return atomic_load(&ref_runs) >= REF_N - 8;
}

static void t_referents(void)
{
    ref_make();
    TC_CHECK(collect_until(ref_done), "%d of %d finalizers ran", atomic_load(&ref_runs), REF_N);
    TC_CHECK(atomic_load(&ref_bad) == 0, "%d finalizers found their object's referents overwritten",
             atomic_load(&ref_bad));
}

/* ------------------------------------------------------------------------ */
/* resurrect                                                                 */
/* ------------------------------------------------------------------------ */

static struct fobj *_Atomic saved;
static _Atomic int res_runs, res_freed;

static void res_fin(void *obj, void *arg)
{
    (void)arg;
    atomic_fetch_add(&res_runs, 1);
    atomic_store(&saved, obj); /* resurrected */
}

static void res_cleanup(void *arg)
{
    (void)arg;
    atomic_fetch_add(&res_freed, 1);
}

static TC_NOINLINE void res_make(void)
{
    struct fobj *o = gc_new(struct fobj);
    o->id = 42;
    o->check = chk(42);
    struct fobj *c = gc_alloc(256);
    tc_fill(c, 256, 42);
    o->child = c;
    gc_set_finalizer(o, res_fin, NULL);
}

static bool res_ran(void) { return atomic_load(&res_runs) > 0; }
static bool res_dead(void) { return atomic_load(&res_freed) > 0; }

static TC_NOINLINE void res_drop(void)
{
    struct fobj *o = atomic_exchange(&saved, NULL);
    TC_CHECK(gc_add_cleanup(o, res_cleanup, NULL), "gc_add_cleanup on a resurrected object");
}

static void t_resurrect(void)
{
    res_make();
    TC_CHECK(collect_until(res_ran), "the finalizer never ran");
    for (int r = 0; r < 4; r++)
        tc_collect_churn(256, 20000, 1);
    struct fobj *o = atomic_load(&saved);
    TC_CHECK(o && o->id == 42 && o->check == chk(42), "the resurrected object was overwritten");
    TC_CHECK(tc_pattern_diff(o->child, 256, 42) < 0, "the resurrected object's child was overwritten");
    o = NULL;
    TC_CHECK(atomic_load(&res_runs) == 1, "the finalizer ran %d times", atomic_load(&res_runs));
    res_drop();
    TC_CHECK(collect_until(res_dead), "the resurrected object, dropped again, was never freed");
    settle(2);
    TC_CHECK(atomic_load(&res_runs) == 1, "the finalizer ran again (%d)", atomic_load(&res_runs));
}

/* ------------------------------------------------------------------------ */
/* order                                                                     */
/* ------------------------------------------------------------------------ */

/* Go runs finalizers in dependency order: if A points to B and both have
 * finalizers, A's runs first (B is kept for it) and B's at a later cycle. */
#define ORD_CHAINS 50
#define ORD_LEN 4
static _Atomic int ord_next[ORD_CHAINS], ord_bad, ord_runs;

static void ord_fin(void *obj, void *arg)
{
    struct fobj *o = obj;
    int chain = (int)(o->id / ORD_LEN), pos = (int)(o->id % ORD_LEN);
    (void)arg;
    /* Position pos may run only after 0..pos-1 of its chain. */
    if (atomic_fetch_add(&ord_next[chain], 1) != pos)
        atomic_fetch_add(&ord_bad, 1);
    atomic_fetch_add(&ord_runs, 1);
}

static TC_NOINLINE void ord_make(void)
{
    for (int c = 0; c < ORD_CHAINS; c++) {
        struct fobj *next = NULL;
        for (int pos = ORD_LEN - 1; pos >= 0; pos--) { /* built tail first: the head points down the chain */
            struct fobj *o = gc_new(struct fobj);
            o->id = (uint64_t)(c * ORD_LEN + pos);
            o->child = next;
            gc_set_finalizer(o, ord_fin, NULL);
            next = o;
        }
    }
}

static bool ord_done(void) { return atomic_load(&ord_runs) >= ORD_CHAINS * ORD_LEN - 8; }

static void t_order(void)
{
    ord_make();
    TC_CHECK(collect_until(ord_done), "%d of %d finalizers in chains ran", atomic_load(&ord_runs),
             ORD_CHAINS * ORD_LEN);
    TC_CHECK(atomic_load(&ord_bad) == 0, "%d finalizers ran before the finalizer of an object pointing to theirs",
             atomic_load(&ord_bad));
}

/* ------------------------------------------------------------------------ */
/* large                                                                     */
/* ------------------------------------------------------------------------ */

/* Objects past 32 KiB (a span each): finalized with their contents intact,
 * freed afterwards (cleanup), memory given back to the heap. */
#define LG_N 24
#define LG_SIZE (200 << 10)
static _Atomic int lg_fins, lg_bad, lg_freed;

static void lg_fin(void *obj, void *arg)
{
    uint32_t i = (uint32_t)(uintptr_t)arg;
    if (tc_pattern_diff(obj, LG_SIZE, i) >= 0)
        atomic_fetch_add(&lg_bad, 1);
    atomic_fetch_add(&lg_fins, 1);
}

static void lg_cleanup(void *arg)
{
    (void)arg;
    atomic_fetch_add(&lg_freed, 1);
}

static TC_NOINLINE void lg_make(void)
{
    for (uint32_t i = 0; i < LG_N; i++) {
        void *o = i % 2 ? gc_alloc(LG_SIZE) : gc_alloc_noscan(LG_SIZE);
        tc_fill(o, LG_SIZE, i);
        gc_set_finalizer(o, lg_fin, (void *)(uintptr_t)i);
        gc_add_cleanup(o, lg_cleanup, NULL);
    }
}

static bool lg_done(void) { return atomic_load(&lg_freed) >= LG_N - 2; }

static void t_large(void)
{
    /* m0 is read before the objects exist: a cycle may start while
     * lg_make allocates (4.8 MB passes the first heap goal) and free some
     * of them before lg_make returns. */
    gc_memstats m0, m1;
    gc_read_memstats(&m0);
    lg_make();
    TC_CHECK(collect_until(lg_done), "%d of %d large objects finalized, %d freed", atomic_load(&lg_fins), LG_N,
             atomic_load(&lg_freed));
    gc_read_memstats(&m1);
    TC_CHECK(atomic_load(&lg_bad) == 0, "%d finalizers found their large object overwritten", atomic_load(&lg_bad));
    /* At most 2 objects may still be held (by stale words); a third
     * LG_SIZE of slack covers the finalizer and cleanup bookkeeping. */
    TC_CHECK(m1.heap_alloc <= m0.heap_alloc + 3 * (uint64_t)LG_SIZE,
             "heap_alloc %llu before, %llu after: the large objects' memory did not come back",
             (unsigned long long)m0.heap_alloc, (unsigned long long)m1.heap_alloc);
}

/* ------------------------------------------------------------------------ */
/* replace                                                                   */
/* ------------------------------------------------------------------------ */

static _Atomic int rep_first, rep_second, rep_removed;
static void rep_fin1(void *o, void *a) { (void)o, (void)a, atomic_fetch_add(&rep_first, 1); }
static void rep_fin2(void *o, void *a) { (void)o, (void)a, atomic_fetch_add(&rep_second, 1); }
static void rep_fin3(void *o, void *a) { (void)o, (void)a, atomic_fetch_add(&rep_removed, 1); }

#define REP_N 200
static TC_NOINLINE void rep_make(void)
{
    for (int i = 0; i < REP_N; i++) {
        void *a = gc_alloc(48), *b = gc_alloc(48);
        gc_set_finalizer(a, rep_fin1, NULL);
        gc_set_finalizer(a, rep_fin2, NULL);
        gc_set_finalizer(b, rep_fin3, NULL);
        gc_set_finalizer(b, NULL, NULL);
    }
}

static bool rep_done(void) { return atomic_load(&rep_second) >= REP_N - 8; }

static void t_replace(void)
{
    rep_make();
    TC_CHECK(collect_until(rep_done), "%d of %d replacing finalizers ran", atomic_load(&rep_second), REP_N);
    settle(2);
    TC_CHECK(atomic_load(&rep_first) == 0, "%d replaced finalizers ran", atomic_load(&rep_first));
    TC_CHECK(atomic_load(&rep_removed) == 0, "%d removed finalizers ran", atomic_load(&rep_removed));
}

/* ------------------------------------------------------------------------ */
/* einval                                                                    */
/* ------------------------------------------------------------------------ */

static _Atomic int einval_runs;
static void einval_fin(void *o, void *a) { (void)o, (void)a, atomic_fetch_add(&einval_runs, 1); }
static void einval_cleanup(void *a) { (void)a, atomic_fetch_add(&einval_runs, 1); }
static int einval_global[16];

static void expect_einval(void *p, const char *what)
{
    errno = 0;
    gc_set_finalizer(p, einval_fin, NULL);
    TC_CHECK(errno == EINVAL, "gc_set_finalizer(%s): errno %d, not EINVAL", what, errno);
    errno = 0;
    gc_set_finalizer(p, NULL, NULL);
    TC_CHECK(errno == EINVAL, "gc_set_finalizer(%s, NULL): errno %d, not EINVAL", what, errno);
    errno = 0;
    TC_CHECK(gc_add_cleanup(p, einval_cleanup, NULL) == NULL && errno == EINVAL,
             "gc_add_cleanup(%s): not NULL with EINVAL (errno %d)", what, errno);
    errno = 0;
    TC_CHECK(gc_weak_make(p) == NULL && errno == EINVAL, "gc_weak_make(%s): not NULL with EINVAL (errno %d)", what,
             errno);
}

static void t_einval(void)
{
    char *obj = gc_alloc(64);
    int local[4];
    void *m = malloc(64);
    char *freed = gc_alloc(64);
    gc_free(freed);
    char *big = gc_alloc(100000);
    expect_einval(obj + 8, "interior pointer");
    expect_einval(obj + 63, "last byte");
    expect_einval(big + 4096, "interior of a large object");
    expect_einval(einval_global, "global");
    expect_einval(local, "stack");
    expect_einval(m, "malloc");
    expect_einval(freed, "freed object");
    expect_einval(NULL, "NULL");
    errno = 0;
    TC_CHECK(gc_add_cleanup(obj, NULL, NULL) == NULL && errno == EINVAL, "gc_add_cleanup(fn NULL) accepted");
    errno = 0;
    TC_CHECK(gc_add_cleanup(obj, einval_cleanup, obj + 16) == NULL && errno == EINVAL,
             "gc_add_cleanup(arg inside obj) accepted");
    TC_CHECK(gc_weak_get(NULL) == NULL, "gc_weak_get(NULL)");
    gc_cleanup_stop(NULL);
    /* Nothing was set: the objects die without a call. */
    free(m);
    obj = big = NULL;
    settle(3);
    TC_CHECK(atomic_load(&einval_runs) == 0, "%d calls ran for refused records", atomic_load(&einval_runs));
    /* And valid calls still work. */
    void *ok = gc_alloc(64);
    errno = 0;
    gc_set_finalizer(ok, einval_fin, NULL);
    TC_CHECK(errno == 0, "a valid gc_set_finalizer set errno %d", errno);
    gc_keep_alive(ok);
}

/* ------------------------------------------------------------------------ */
/* cycles                                                                    */
/* ------------------------------------------------------------------------ */

#define CYC_N 300
static _Atomic int cyc_fin_runs, cyc_cleanups;
static gc_weak *cyc_weak_fin[CYC_N], *cyc_weak_cl[CYC_N];

static void cyc_fin(void *o, void *a) { (void)o, (void)a, atomic_fetch_add(&cyc_fin_runs, 1); }
static void cyc_cleanup(void *a) { (void)a, atomic_fetch_add(&cyc_cleanups, 1); }

static TC_NOINLINE void cyc_make(void)
{
    for (int i = 0; i < CYC_N; i++) {
        struct fobj *a = gc_new(struct fobj), *b = gc_new(struct fobj);
        a->child = b;
        b->child = a;
        gc_set_finalizer(a, cyc_fin, NULL);
        cyc_weak_fin[i] = gc_weak_make(b);
        struct fobj *c = gc_new(struct fobj), *d = gc_new(struct fobj);
        c->child = d;
        d->child = c;
        gc_add_cleanup(c, cyc_cleanup, NULL);
        gc_add_cleanup(d, cyc_cleanup, NULL);
        cyc_weak_cl[i] = gc_weak_make(d);
    }
}

static bool cyc_done(void) { return atomic_load(&cyc_cleanups) >= 2 * CYC_N - 16; }

static void t_cycles(void)
{
    cyc_make();
    TC_CHECK(collect_until(cyc_done), "%d of %d cleanups in cycles ran", atomic_load(&cyc_cleanups), 2 * CYC_N);
    settle(3);
    int cleared = 0, kept = 0;
    for (int i = 0; i < CYC_N; i++) {
        kept += gc_weak_get(cyc_weak_fin[i]) != NULL;
        cleared += gc_weak_get(cyc_weak_cl[i]) == NULL;
    }
    TC_CHECK(atomic_load(&cyc_fin_runs) == 0, "%d finalizers in cycles ran (Go never runs them)",
             atomic_load(&cyc_fin_runs));
    TC_CHECK(kept == CYC_N, "only %d of %d cycles with a finalizer were kept", kept, CYC_N);
    TC_CHECK(cleared >= CYC_N - 8, "only %d of %d cycles with cleanups were collected", cleared, CYC_N);
}

/* ------------------------------------------------------------------------ */
/* cleanup                                                                   */
/* ------------------------------------------------------------------------ */

#define CL_N 2000
#define CL_PER 3
static _Atomic int cl_runs[CL_N][CL_PER];
static _Atomic int cl_total, cl_bad;
static uintptr_t cl_obj[CL_N]; /* hidden */
static gc_weak *cl_weak[CL_N];

struct cl_arg {
    uint32_t obj, which;
    uint64_t check;
};

static void cl_fn(void *arg)
{
    struct cl_arg *a = arg;
    if (!a || a->obj >= CL_N || a->which >= CL_PER || a->check != chk(a->obj * 8 + a->which) ||
        arg == tc_unhide(cl_obj[a->obj]))
        atomic_fetch_add(&cl_bad, 1);
    else
        atomic_fetch_add(&cl_runs[a->obj][a->which], 1);
    atomic_fetch_add(&cl_total, 1);
}

static TC_NOINLINE void cl_make(void)
{
    for (uint32_t i = 0; i < CL_N; i++) {
        void *o = gc_alloc(40);
        cl_obj[i] = tc_hide(o);
        cl_weak[i] = gc_weak_make(o);
        for (uint32_t k = 0; k < CL_PER; k++) {
            /* The arg is a collected object that only the cleanup keeps. */
            struct cl_arg *a = gc_new(struct cl_arg);
            a->obj = i;
            a->which = k;
            a->check = chk(i * 8 + k);
            TC_CHECK(gc_add_cleanup(o, cl_fn, a), "gc_add_cleanup");
        }
    }
}

static bool cl_done(void)
{
    tc_churn(sizeof(struct cl_arg), 20000); /* would reuse a freed arg */
    return atomic_load(&cl_total) >= CL_PER * (CL_N - 16);
}

static void t_cleanup(void)
{
    cl_make();
    TC_CHECK(collect_until(cl_done), "%d of %d cleanups ran", atomic_load(&cl_total), CL_N * CL_PER);
    settle(2);
    TC_CHECK(atomic_load(&cl_bad) == 0, "%d cleanups got a bad arg", atomic_load(&cl_bad));
    int objs = 0;
    for (int i = 0; i < CL_N; i++) {
        int n = 0;
        for (int k = 0; k < CL_PER; k++) {
            int r = atomic_load(&cl_runs[i][k]);
            TC_CHECK(r <= 1, "cleanup %d of object %d ran %d times", k, i, r);
            n += r;
        }
        TC_CHECK(n == 0 || n == CL_PER, "object %d: %d of its %d cleanups ran", i, n, CL_PER);
        if (n) {
            objs++;
            TC_CHECK(gc_weak_get(cl_weak[i]) == NULL, "object %d: cleanups ran, object still there", i);
        }
    }
    printf("     %d of %d objects freed with their cleanups\n", objs, CL_N);
}

/* ------------------------------------------------------------------------ */
/* cleanup_stop                                                              */
/* ------------------------------------------------------------------------ */

#define ST_N 1000
static _Atomic int st_kept, st_stopped;
static void st_keep(void *a) { (void)a, atomic_fetch_add(&st_kept, 1); }
static void st_stop(void *a) { (void)a, atomic_fetch_add(&st_stopped, 1); }
static gc_cleanup *st_handles[ST_N]; /* the kept cleanups' handles, to stop after they ran */

static TC_NOINLINE void st_make(void)
{
    for (int i = 0; i < ST_N; i++) {
        void *o = gc_alloc(24);
        gc_cleanup *a = gc_add_cleanup(o, st_stop, NULL);
        st_handles[i] = gc_add_cleanup(o, st_keep, NULL);
        gc_cleanup *b = gc_add_cleanup(o, st_stop, NULL);
        TC_CHECK(a && b && st_handles[i] && a != b, "gc_add_cleanup handles");
        gc_cleanup_stop(b);
        gc_cleanup_stop(a);
        gc_cleanup_stop(a); /* twice: harmless */
    }
}

static bool st_done(void) { return atomic_load(&st_kept) >= ST_N - 8; }

static void t_cleanup_stop(void)
{
    st_make();
    TC_CHECK(collect_until(st_done), "%d of %d cleanups ran", atomic_load(&st_kept), ST_N);
    for (int i = 0; i < ST_N; i++)
        gc_cleanup_stop(st_handles[i]); /* after they ran: nothing */
    settle(2);
    TC_CHECK(atomic_load(&st_stopped) == 0, "%d stopped cleanups ran", atomic_load(&st_stopped));
    TC_CHECK(atomic_load(&st_kept) <= ST_N, "cleanups ran twice");
}

/* ------------------------------------------------------------------------ */
/* fin_cleanup                                                               */
/* ------------------------------------------------------------------------ */

static _Atomic int fc_order; /* 1: finalizer ran; 2: then the cleanup */
static _Atomic int fc_bad;
static gc_weak *fc_weak;
static void fc_fin(void *o, void *a)
{
    (void)o, (void)a;
    int want = 0;
    if (!atomic_compare_exchange_strong(&fc_order, &want, 1))
        atomic_fetch_add(&fc_bad, 1);
}
static void fc_cleanup(void *a)
{
    (void)a;
    int want = 1;
    if (!atomic_compare_exchange_strong(&fc_order, &want, 2))
        atomic_fetch_add(&fc_bad, 1);
}

static TC_NOINLINE void fc_make(void)
{
    void *o = gc_alloc(64);
    gc_add_cleanup(o, fc_cleanup, NULL);
    gc_set_finalizer(o, fc_fin, NULL);
    fc_weak = gc_weak_make(o);
}

static bool fc_done(void) { return atomic_load(&fc_order) == 2 || atomic_load(&fc_bad); }
static bool fc_fin_ran(void) { return atomic_load(&fc_order) >= 1 || atomic_load(&fc_bad); }

static void t_fin_cleanup(void)
{
    fc_make();
    TC_CHECK(collect_until(fc_fin_ran), "the finalizer never ran");
    /* Go: weak pointers are cleared when the finalizer is queued. */
    TC_CHECK(gc_weak_get(fc_weak) == NULL, "a weak pointer still gives an object whose finalizer was queued");
    TC_CHECK(collect_until(fc_done), "the cleanup never ran after the finalizer");
    TC_CHECK(atomic_load(&fc_bad) == 0, "out of order: the cleanup ran before the finalizer");
}

/* ------------------------------------------------------------------------ */
/* free                                                                      */
/* ------------------------------------------------------------------------ */

static _Atomic int fr_runs;
static void fr_fin(void *o, void *a) { (void)o, (void)a, atomic_fetch_add(&fr_runs, 1); }
static void fr_cleanup(void *a) { (void)a, atomic_fetch_add(&fr_runs, 1); }

static void t_free(void)
{
    gc_weak *w[2];
    for (int i = 0; i < 2; i++) {
        void *o = gc_alloc(i ? 200000 : 64); /* small, large */
        gc_set_finalizer(o, fr_fin, NULL);
        gc_add_cleanup(o, fr_cleanup, NULL);
        w[i] = gc_weak_make(o);
        TC_CHECK(gc_weak_get(w[i]) == o, "weak before free");
        gc_free(o);
        TC_CHECK(gc_weak_get(w[i]) == NULL, "a weak pointer to a freed object still gives it");
    }
    /* realloc that moves frees the old object likewise */
    char *r = gc_alloc(32);
    gc_set_finalizer(r, fr_fin, NULL);
    gc_weak *rw = gc_weak_make(r);
    char *r2 = gc_realloc(r, 4000);
    TC_CHECK(r2 != r, "gc_realloc did not move");
    TC_CHECK(gc_weak_get(rw) == NULL, "weak pointer to a realloc'd-away object");
    settle(3);
    TC_CHECK(atomic_load(&fr_runs) == 0, "%d calls ran for freed objects", atomic_load(&fr_runs));
    gc_keep_alive(r2);
}

/* ------------------------------------------------------------------------ */
/* weak                                                                      */
/* ------------------------------------------------------------------------ */

static struct fobj *weak_kept; /* the reachable one */

static TC_NOINLINE uintptr_t weak_make_dropped(gc_weak **w)
{
    struct fobj *o = gc_new(struct fobj);
    o->id = 2;
    *w = gc_weak_make(o);
    TC_CHECK(*w && gc_weak_make(o) == *w, "gc_weak_make: the same object gives another handle");
    TC_CHECK(gc_weak_get(*w) == o, "gc_weak_get on a live object");
    return tc_hide(o);
}

static gc_weak *weak_dropped;
static bool weak_cleared(void) { return gc_weak_get(weak_dropped) == NULL; }

static void t_weak(void)
{
    weak_kept = gc_new(struct fobj);
    weak_kept->id = 1;
    weak_kept->check = chk(1);
    gc_weak *wk = gc_weak_make(weak_kept);
    TC_CHECK(wk && gc_weak_make(weak_kept) == wk, "same object, same handle");
    uintptr_t h = weak_make_dropped(&weak_dropped);
    TC_CHECK(weak_dropped != wk, "two objects share a handle");
    TC_CHECK(collect_until(weak_cleared), "a dropped object's weak pointer never cleared");
    for (int r = 0; r < 3; r++)
        tc_collect_churn(sizeof(struct fobj), 20000, 1);
    TC_CHECK(gc_weak_get(wk) == weak_kept, "the weak pointer to a reachable object cleared");
    TC_CHECK(weak_kept->check == chk(1), "the reachable object was overwritten");
    /* The handle outlives its object; a new object at the same address gets a
     * new handle (the old one stays NULL). */
    TC_CHECK(gc_weak_get(weak_dropped) == NULL, "cleared handle came back");
    (void)h;
    weak_kept = NULL;
}

/* ------------------------------------------------------------------------ */
/* weak_many                                                                 */
/* ------------------------------------------------------------------------ */

#define WM_N 20000
static gc_weak **wm_handles; /* a collected array: roots via the global */
static struct fobj **wm_keep;

static TC_NOINLINE void wm_make(void)
{
    wm_handles = gc_new_array(gc_weak *, WM_N);
    wm_keep = gc_new_array(struct fobj *, WM_N);
    for (int i = 0; i < WM_N; i++) {
        struct fobj *o = gc_new(struct fobj);
        o->id = (uint64_t)i;
        o->check = chk((uint64_t)i);
        wm_handles[i] = gc_weak_make(o);
        if (i % 2 == 0)
            wm_keep[i] = o;
    }
}

static int wm_cleared(void)
{
    int n = 0;
    for (int i = 1; i < WM_N; i += 2)
        n += gc_weak_get(wm_handles[i]) == NULL;
    return n;
}
static bool wm_done(void) { return wm_cleared() >= WM_N / 2 - 16; }

static void t_weak_many(void)
{
    wm_make();
    TC_CHECK(collect_until(wm_done), "only %d of %d dropped objects' weak pointers cleared", wm_cleared(), WM_N / 2);
    tc_collect_churn(sizeof(struct fobj), 50000, 2);
    for (int i = 0; i < WM_N; i += 2) {
        struct fobj *o = gc_weak_get(wm_handles[i]);
        TC_CHECK(o == wm_keep[i], "weak pointer %d to a kept object gives %p, not %p", i, (void *)o, (void *)wm_keep[i]);
        TC_CHECK(o->check == chk((uint64_t)i), "kept object %d overwritten", i);
    }
    for (int i = 1; i < WM_N; i += 2) {
        struct fobj *o = gc_weak_get(wm_handles[i]);
        TC_CHECK(!o || o->check == chk((uint64_t)i), "weak pointer %d gives a reused object", i);
    }
}

/* ------------------------------------------------------------------------ */
/* weak_marking                                                              */
/* ------------------------------------------------------------------------ */

/*
 * gc_weak_get while marking runs beside the program: objects reachable only
 * through weak pointers are got in the middle of the mark phase (the hidden
 * gc_phase says when) and kept in a global; they must stay alive and intact
 * through that cycle's sweep and the next cycles.
 */
/* The library's hidden internals (a static link resolves them). */
extern _Atomic int gc_phase;        /* 1 while marking runs */
extern int writetrack_backend(void); /* 0: none, marking stops the world */

#define WG_N 2000
#define WG_LIVE 400000
static gc_weak *wg_handles[WG_N];
static struct fobj *wg_kept[WG_N];
static struct fobj *wg_live; /* a long list: marking takes a while */
static _Atomic int wg_collecting;

static TC_NOINLINE void wg_make(uint64_t base)
{
    for (int i = 0; i < WG_N; i++) {
        struct fobj *o = gc_new(struct fobj);
        o->id = base + (uint64_t)i;
        o->check = chk(o->id);
        wg_handles[i] = gc_weak_make(o);
    }
}

static void *wg_collector(void *arg)
{
    (void)arg;
    gc_collect();
    atomic_store(&wg_collecting, 0);
    return NULL;
}

static void t_weak_marking(void)
{
    tc_sink = gc_alloc(16); /* the library starts, and picks its backend */
    if (writetrack_backend() == 0) {
        printf("     marking stops the world here (GODEBUG, or no write tracking): nothing runs beside it (skipped)\n");
        exit(77);
    }
    for (int i = 0; i < WG_LIVE; i++) {
        struct fobj *n = gc_new(struct fobj);
        n->child = wg_live;
        wg_live = n;
    }
    int during = 0;
    for (int round = 0; round < 20 && during < 3 * WG_N; round++) {
        wg_make((uint64_t)round << 20);
        tc_clear_stack();
        atomic_store(&wg_collecting, 1);
        pthread_t c = tc_thread(wg_collector, NULL);
        while (atomic_load(&wg_collecting) && atomic_load(&gc_phase) != 1)
            ;
        int got = 0;
        for (int i = 0; i < WG_N; i++) {
            wg_kept[i] = gc_weak_get(wg_handles[i]);
            got += wg_kept[i] != NULL && atomic_load(&gc_phase) == 1;
        }
        tc_join(c);
        during += got;
        tc_collect_churn(sizeof(struct fobj), 20000, 2);
        for (int i = 0; i < WG_N; i++) {
            struct fobj *o = wg_kept[i];
            if (!o)
                continue;
            TC_CHECK(o->check == chk(o->id) && o->id == ((uint64_t)round << 20) + (uint64_t)i,
                     "round %d: object %d, got while marking ran, was freed and reused", round, i);
            TC_CHECK(gc_weak_get(wg_handles[i]) == o, "round %d: the weak pointer to kept object %d cleared", round, i);
        }
        memset(wg_kept, 0, sizeof wg_kept);
    }
    printf("     %d objects got while marking ran\n", during);
    TC_CHECK(during > 0, "no gc_weak_get ran while marking did");
    wg_live = NULL;
}

/* ------------------------------------------------------------------------ */
/* keep_alive                                                                */
/* ------------------------------------------------------------------------ */

static _Atomic int ka_runs;
static void ka_fin(void *o, void *a) { (void)o, (void)a, atomic_fetch_add(&ka_runs, 1); }

static TC_NOINLINE uintptr_t ka_make(void)
{
    void *o = gc_alloc(64);
    gc_set_finalizer(o, ka_fin, NULL);
    return tc_hide(o);
}

static bool ka_ran(void) { return atomic_load(&ka_runs) > 0; }

static TC_NOINLINE void ka_use(void)
{
    uintptr_t h = ka_make();
    /* p is computed here and used only by gc_keep_alive below: without it the
     * compiler would drop p at once, and the object would be finalized. */
    void *p = tc_unhide(h);
    for (int r = 0; r < 5; r++) {
        tc_collect_clean();
        tc_sleep_ms(10);
        TC_CHECK(atomic_load(&ka_runs) == 0, "finalized before gc_keep_alive (round %d)", r);
    }
    gc_keep_alive(p);
}

static void t_keep_alive(void)
{
    ka_use();
    /* (Here, in another frame: the register that held p holds the caller's value again.) */
    TC_CHECK(collect_until(ka_ran), "never finalized after gc_keep_alive");
}

/* ------------------------------------------------------------------------ */
/* thread                                                                    */
/* ------------------------------------------------------------------------ */

static _Atomic int th_depth_runs, th_bad;
static pthread_t th_main;

static void th_fin(void *obj, void *arg)
{
    int depth = (int)(uintptr_t)arg;
    if (pthread_equal(pthread_self(), th_main))
        atomic_fetch_add(&th_bad, 1); /* must run on the finalizer thread */
    atomic_fetch_add(&th_depth_runs, 1);
    (void)obj;
    /* Allocate, collect, and set the next finalizer from inside one. */
    tc_churn(64, 1000);
    if (depth < 5) {
        void *o = gc_alloc(64);
        gc_set_finalizer(o, th_fin, (void *)(uintptr_t)(depth + 1));
    }
    if (depth == 2)
        gc_collect();
}

static TC_NOINLINE void th_make(void)
{
    void *o = gc_alloc(64);
    gc_set_finalizer(o, th_fin, (void *)(uintptr_t)0);
}

static bool th_done(void) { return atomic_load(&th_depth_runs) >= 6; }

static void t_thread(void)
{
    th_main = pthread_self();
    th_make();
    TC_CHECK(collect_until(th_done), "a chain of 6 finalizers stopped at %d", atomic_load(&th_depth_runs));
    TC_CHECK(atomic_load(&th_bad) == 0, "a finalizer ran on the collecting thread");
}

/* ------------------------------------------------------------------------ */
/* fork                                                                      */
/* ------------------------------------------------------------------------ */

static _Atomic int fk_runs;
static void fk_fin(void *o, void *a) { (void)o, (void)a, atomic_fetch_add(&fk_runs, 1); }

static TC_NOINLINE void fk_make(int n)
{
    for (int i = 0; i < n; i++)
        gc_set_finalizer(gc_alloc(32), fk_fin, NULL);
}

static bool fk_done(void) { return atomic_load(&fk_runs) >= 90; }

static void t_fork(void)
{
    fk_make(100); /* the parent's finalizer thread exists */
    settle(1);
    atomic_store(&fk_runs, 0);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(60);
        fk_make(100);
        if (!collect_until(fk_done)) {
            fprintf(stderr, "child: %d of 100 finalizers ran\n", atomic_load(&fk_runs));
            _exit(1);
        }
        _exit(0);
    }
    int st = tc_wait(pid);
    TC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %s", tc_status_str(st));
}

/* ------------------------------------------------------------------------ */
/* concurrent                                                                */
/* ------------------------------------------------------------------------ */

/*
 * Workers keep a window of objects, each with a finalizer, a cleanup and a
 * weak pointer, and drop the oldest as they go; a dropped object is marked
 * dropped first.  A finalizer or cleanup of an object not dropped, a second
 * run, a weak pointer to a kept object reading NULL, or one to any object
 * reading a wrong object fails.  A collector thread collects meanwhile, and
 * the workers make garbage, so the pacer runs cycles beside them.
 */
#define CC_WORKERS 3
#define CC_WINDOW 512
#define CC_ROUNDS 150000 /* TRICOLOR_FINALIZE_ROUNDS overrides */
static long cc_rounds = CC_ROUNDS;

struct cobj {
    uint64_t id, check;
    _Atomic int dropped, fin_runs;
    struct cobj *buddy; /* points to the next object: referents must survive */
};

static _Atomic int cc_stop, cc_bad_fin, cc_bad_cleanup, cc_bad_weak;
static _Atomic long cc_fins, cc_cleanups;

static void cc_fin(void *obj, void *arg)
{
    struct cobj *o = obj;
    if (!atomic_load(&o->dropped) || (uint64_t)(uintptr_t)arg != o->id || o->check != chk(o->id) ||
        atomic_fetch_add(&o->fin_runs, 1) != 0)
        atomic_fetch_add(&cc_bad_fin, 1);
    if (o->buddy && o->buddy->check != chk(o->buddy->id))
        atomic_fetch_add(&cc_bad_fin, 1);
    atomic_fetch_add(&cc_fins, 1);
}

static void cc_cleanup(void *arg)
{
    uint64_t *id = arg;
    if (*id != tc_mix(*(id + 1)))
        atomic_fetch_add(&cc_bad_cleanup, 1);
    atomic_fetch_add(&cc_cleanups, 1);
}

static void *cc_worker(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg * 7919 + 1;
    struct cobj **win = gc_new_array(struct cobj *, CC_WINDOW);
    gc_weak **wk = gc_new_array(gc_weak *, CC_WINDOW);
    uint64_t next_id = (uint64_t)(uintptr_t)arg << 40;
    for (long r = 0; r < cc_rounds && !atomic_load(&cc_stop); r++) {
        unsigned i = (unsigned)(tc_rand(&seed) % CC_WINDOW);
        if (win[i]) {
            struct cobj *o = win[i];
            if (gc_weak_get(wk[i]) != o)
                atomic_fetch_add(&cc_bad_weak, 1);
            if (o->check != chk(o->id))
                atomic_fetch_add(&cc_bad_weak, 1);
            atomic_store(&o->dropped, 1); /* (a newer object may still point to it) */
        }
        struct cobj *o = gc_new(struct cobj);
        o->id = next_id++;
        o->check = chk(o->id);
        o->buddy = win[(i + 1) % CC_WINDOW];
        gc_set_finalizer(o, cc_fin, (void *)(uintptr_t)o->id);
        uint64_t *carg = gc_alloc(16);
        carg[1] = o->id;
        carg[0] = tc_mix(o->id);
        gc_add_cleanup(o, cc_cleanup, carg);
        win[i] = o;
        wk[i] = gc_weak_make(o);
        if (r % 64 == 0)
            tc_churn(128, 64);
    }
    /* The window, all kept: every weak pointer must still give its object. */
    for (int i = 0; i < CC_WINDOW; i++)
        if (win[i] && gc_weak_get(wk[i]) != win[i])
            atomic_fetch_add(&cc_bad_weak, 1);
    /* The thread ends: the window is dropped too. */
    for (int i = 0; i < CC_WINDOW; i++)
        if (win[i])
            atomic_store(&win[i]->dropped, 1);
    gc_keep_alive(win);
    gc_keep_alive(wk);
    return NULL;
}

static void *cc_collector(void *arg)
{
    (void)arg;
    while (!atomic_load(&cc_stop)) {
        gc_collect();
        tc_sleep_ms(2);
    }
    return NULL;
}

static void t_concurrent(void)
{
    const char *e = getenv("TRICOLOR_FINALIZE_ROUNDS");
    if (e && atol(e) > 0)
        cc_rounds = atol(e);
    pthread_t w[CC_WORKERS], c = tc_thread(cc_collector, NULL);
    for (int i = 0; i < CC_WORKERS; i++)
        w[i] = tc_thread(cc_worker, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < CC_WORKERS; i++)
        tc_join(w[i]);
    atomic_store(&cc_stop, 1);
    tc_join(c);
    settle(4);
    printf("     %ld finalizers, %ld cleanups ran\n", atomic_load(&cc_fins), atomic_load(&cc_cleanups));
    TC_CHECK(atomic_load(&cc_bad_fin) == 0, "%d finalizers ran wrongly (object not dropped, twice, or corrupt)",
             atomic_load(&cc_bad_fin));
    TC_CHECK(atomic_load(&cc_bad_cleanup) == 0, "%d cleanups got a corrupt arg", atomic_load(&cc_bad_cleanup));
    TC_CHECK(atomic_load(&cc_bad_weak) == 0, "%d weak pointers to kept objects did not give them",
             atomic_load(&cc_bad_weak));
    TC_CHECK(atomic_load(&cc_fins) > CC_WORKERS * cc_rounds / 4, "too few finalizers ran: %ld",
             atomic_load(&cc_fins));
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"once", t_once},
        {"reachable", t_reachable},
        {"referents", t_referents},
        {"resurrect", t_resurrect},
        {"order", t_order},
        {"large", t_large},
        {"replace", t_replace},
        {"einval", t_einval},
        {"cycles", t_cycles},
        {"cleanup", t_cleanup},
        {"cleanup_stop", t_cleanup_stop},
        {"fin_cleanup", t_fin_cleanup},
        {"free", t_free},
        {"weak", t_weak},
        {"weak_many", t_weak_many},
        {"weak_marking", t_weak_marking},
        {"keep_alive", t_keep_alive},
        {"thread", t_thread},
        {"fork", t_fork},
        {"concurrent", t_concurrent},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
