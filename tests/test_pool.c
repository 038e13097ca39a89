/*
 * test_pool.c - pools (Go's sync.Pool):
 *   basic     put then get gives the object back on the same thread, last in first
 *             out; NULL puts are ignored; an empty pool gives new_fn() or NULL
 *   victim    objects put before one collection come back after it; after a
 *             second they are gone (new_fn instead) and freed
 *   steal     objects put by one thread are got by another
 *   many      100,000 objects in one pool, beyond the private slot and the
 *             first rings, with no collection between: every one comes back, none twice
 *   threads   8 threads get and put shared objects while collections run: no
 *             object is handed to two threads at once, none is corrupted
 *   many_threads  96 threads at once, twice over (slots reused): no object handed
 *             to two threads
 *   counters  a ring's counters never read as an address: pushes and thefts
 *             aimed at a dropped object's address keep nothing alive
 *   dropped   a pool nothing refers to is collected, with what it held
 *   fork      a child process uses a pool made by its parent
 */
#include "common.h"

#include <stdatomic.h>
#include <stdbool.h>

struct item {
    uint64_t id, check;
    _Atomic int owner; /* 0 in the pool, else the thread that got it */
    char payload[40];
};

static uint64_t chk(uint64_t id) { return tc_mix(id ^ 0x9001); }

static struct item *item_new(uint64_t id)
{
    struct item *it = gc_new(struct item);
    TC_CHECK(it, "gc_new");
    it->id = id;
    it->check = chk(id);
    tc_fill(it->payload, sizeof it->payload, (uint32_t)id);
    return it;
}

static void item_check(const struct item *it)
{
    TC_CHECK(it->check == chk(it->id), "item %llu: check word overwritten", (unsigned long long)it->id);
    TC_CHECK(tc_pattern_diff(it->payload, sizeof it->payload, (uint32_t)it->id) < 0, "item %llu: payload overwritten",
             (unsigned long long)it->id);
}

static _Atomic long news;
static void *make_new(void)
{
    atomic_fetch_add(&news, 1);
    return item_new(1u << 30);
}

/* ------------------------------------------------------------------------ */

static void t_basic(void)
{
    gc_pool *p = gc_pool_new(NULL);
    TC_CHECK(p, "gc_pool_new");
    TC_CHECK(gc_pool_get(p) == NULL, "an empty pool without new_fn gave an object");
    struct item *a = item_new(1), *b = item_new(2), *c = item_new(3);
    gc_pool_put(p, a);
    TC_CHECK(gc_pool_get(p) == a, "put then get: not the same object");
    gc_pool_put(p, NULL);
    TC_CHECK(gc_pool_get(p) == NULL, "a NULL put came back as something");
    gc_pool_put(p, a);
    gc_pool_put(p, b);
    gc_pool_put(p, c);
    void *x = gc_pool_get(p), *y = gc_pool_get(p), *z = gc_pool_get(p);
    TC_CHECK(x == a, "the private slot's object first");
    TC_CHECK(y == c && z == b, "then the newest of the thread's own");
    TC_CHECK(gc_pool_get(p) == NULL, "a fourth get from a pool of three");
    gc_pool *q = gc_pool_new(make_new);
    atomic_store(&news, 0);
    struct item *n = gc_pool_get(q);
    TC_CHECK(n && n->id == 1u << 30 && atomic_load(&news) == 1, "an empty pool did not call new_fn");
    gc_pool_put(q, n);
    TC_CHECK(gc_pool_get(q) == n && atomic_load(&news) == 1, "new_fn called with an object in the pool");
    TC_CHECK(gc_pool_get(NULL) == NULL, "gc_pool_get(NULL)");
    gc_pool_put(NULL, a); /* ignored */
    item_check(a);
    item_check(b);
    item_check(c);
}

/* ------------------------------------------------------------------------ */

#define VN 1000
static gc_pool *vpool;
static gc_weak *vweak[VN];

static TC_NOINLINE void victim_fill(uint64_t base)
{
    for (int i = 0; i < VN; i++) {
        struct item *it = item_new(base + (uint64_t)i);
        vweak[i] = gc_weak_make(it);
        gc_pool_put(vpool, it);
    }
}

static void t_victim(void)
{
    vpool = gc_pool_new(make_new);
    /* One collection: everything comes back, from the victim cache. */
    victim_fill(0);
    tc_collect_churn(sizeof(struct item), 20000, 1);
    atomic_store(&news, 0);
    static bool seen[VN];
    int got = 0;
    for (int i = 0; i < VN; i++) {
        struct item *it = gc_pool_get(vpool);
        if (it->id >= VN)
            continue; /* from new_fn */
        TC_CHECK(!seen[it->id], "item %llu came back twice", (unsigned long long)it->id);
        seen[it->id] = true;
        item_check(it);
        got++;
    }
    TC_CHECK(got == VN, "only %d of %d objects survived one collection in the victim cache", got, VN);
    TC_CHECK(atomic_load(&news) == 0, "new_fn was called %ld times with objects in the victim cache",
             atomic_load(&news));
    /* Two collections: nothing comes back, and the objects are freed. */
    victim_fill(VN);
    tc_collect_churn(sizeof(struct item), 20000, 2);
    atomic_store(&news, 0);
    for (int i = 0; i < 10; i++) {
        struct item *it = gc_pool_get(vpool);
        TC_CHECK(it && it->id == 1u << 30, "an object put before two collections came back (id %llu)",
                 (unsigned long long)(it ? it->id : 0));
    }
    TC_CHECK(atomic_load(&news) == 10, "new_fn called %ld times for 10 gets", atomic_load(&news));
    int freed = 0;
    for (int i = 0; i < VN; i++)
        freed += gc_weak_get(vweak[i]) == NULL;
    TC_CHECK(freed >= VN - 8, "only %d of %d objects dropped from the pool were freed", freed, VN);
}

/* ------------------------------------------------------------------------ */

#define SN 500
static gc_pool *spool;

static void *steal_producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < SN; i++)
        gc_pool_put(spool, item_new((uint64_t)i));
    return NULL;
}

static void t_steal(void)
{
    spool = gc_pool_new(NULL);
    tc_join(tc_thread(steal_producer, NULL));
    static bool seen[SN];
    int got = 0;
    for (int i = 0; i < SN + 10; i++) {
        struct item *it = gc_pool_get(spool);
        if (!it)
            break;
        TC_CHECK(it->id < SN && !seen[it->id], "bad or repeated item %llu", (unsigned long long)it->id);
        seen[it->id] = true;
        item_check(it);
        got++;
    }
    /* The producer's private slot is its own: all but that one can be stolen. */
    TC_CHECK(got >= SN - 1, "only %d of %d objects put by another thread were got", got, SN);
}

/* ------------------------------------------------------------------------ */

#define MN 100000
static void t_many(void)
{
    /* A collection may empty a pool (and two would drop what it held): none here. */
    gc_set_percent(-1);
    gc_pool *p = gc_pool_new(NULL);
    for (uint64_t i = 0; i < MN; i++)
        gc_pool_put(p, item_new(i));
    bool *seen = calloc(MN, 1);
    for (int i = 0; i < MN; i++) {
        struct item *it = gc_pool_get(p);
        TC_CHECK(it, "the pool ran dry after %d of %d", i, MN);
        TC_CHECK(it->id < MN && !seen[it->id], "bad or repeated item %llu", (unsigned long long)it->id);
        seen[it->id] = true;
        item_check(it);
    }
    TC_CHECK(gc_pool_get(p) == NULL, "more objects than were put");
    free(seen);
    gc_set_percent(100);
}

/* ------------------------------------------------------------------------ */

#define TN 8
#define TSECONDS 4.0
static gc_pool *tpool;
static _Atomic int tstop;
static _Atomic long tgets, tputs, tnews, tdouble;

static void *tnew(void) { return item_new((uint64_t)atomic_fetch_add(&tnews, 1) + 1000000); }

static void *t_worker(void *arg)
{
    int me = (int)(uintptr_t)arg;
    uint64_t seed = (uint64_t)me * 7777 + 3;
    struct item *held[16];
    int nheld = 0;
    double t0 = tc_now();
    long n = 0;
    while (tc_now() - t0 < TSECONDS) {
        for (int k = 0; k < 256; k++, n++) {
            if (nheld < 16 && (nheld == 0 || tc_rand(&seed) % 2)) {
                struct item *it = gc_pool_get(tpool);
                int zero = 0;
                if (!atomic_compare_exchange_strong(&it->owner, &zero, me))
                    atomic_fetch_add(&tdouble, 1); /* handed to two threads */
                item_check(it);
                held[nheld++] = it;
                atomic_fetch_add_explicit(&tgets, 1, memory_order_relaxed);
            } else {
                struct item *it = held[--nheld];
                item_check(it);
                atomic_store(&it->owner, 0);
                gc_pool_put(tpool, it);
                atomic_fetch_add_explicit(&tputs, 1, memory_order_relaxed);
            }
        }
        if (n % 4096 == 0)
            tc_churn(64, 200);
    }
    while (nheld)
        gc_pool_put(tpool, (atomic_store(&held[nheld - 1]->owner, 0), held[nheld - 1])), nheld--;
    return NULL;
}

static void *t_collector(void *arg)
{
    (void)arg;
    long n = 0;
    while (!atomic_load(&tstop)) {
        gc_collect();
        n++;
        tc_sleep_ms(3);
    }
    return (void *)n;
}

static void t_threads(void)
{
    tpool = gc_pool_new(tnew);
    pthread_t w[TN], c = tc_thread(t_collector, NULL);
    for (int i = 0; i < TN; i++)
        w[i] = tc_thread(t_worker, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < TN; i++)
        tc_join(w[i]);
    atomic_store(&tstop, 1);
    long ncollect = (long)tc_join(c);
    printf("     %ld gets, %ld puts, %ld new objects, %ld collections\n", atomic_load(&tgets), atomic_load(&tputs),
           atomic_load(&tnews), ncollect);
    TC_CHECK(atomic_load(&tdouble) == 0, "%ld objects were handed to two threads at once", atomic_load(&tdouble));
    TC_CHECK(ncollect >= 10, "only %ld collections ran beside the pool", ncollect);
}

/* ------------------------------------------------------------------------ */

/* More threads than the pool's first arrays hold, coming and going: each
 * keeps what it gets to itself, and every object comes back whole. */
#define MT_THREADS 96
#define MT_OPS 20000
static gc_pool *mtpool;
static _Atomic long mt_double;
static pthread_barrier_t mt_start;

static void *mt_worker(void *arg)
{
    int me = (int)(uintptr_t)arg;
    pthread_barrier_wait(&mt_start); /* all at once */
    for (int k = 0; k < MT_OPS; k++) {
        struct item *it = gc_pool_get(mtpool);
        int zero = 0;
        if (!atomic_compare_exchange_strong(&it->owner, &zero, me))
            atomic_fetch_add(&mt_double, 1);
        item_check(it);
        atomic_store(&it->owner, 0);
        gc_pool_put(mtpool, it);
    }
    return NULL;
}

static void t_many_threads(void)
{
    mtpool = gc_pool_new(tnew);
    pthread_t w[MT_THREADS];
    for (int round = 0; round < 2; round++) { /* the second round's threads reuse the first's slots */
        pthread_barrier_init(&mt_start, NULL, MT_THREADS);
        for (int i = 0; i < MT_THREADS; i++)
            w[i] = tc_thread(mt_worker, (void *)(uintptr_t)(i + 1));
        for (int i = 0; i < MT_THREADS; i++)
            tc_join(w[i]);
        pthread_barrier_destroy(&mt_start);
        gc_collect();
    }
    TC_CHECK(atomic_load(&mt_double) == 0, "%ld objects were handed to two of %d threads at once",
             atomic_load(&mt_double), MT_THREADS);
}

/* ------------------------------------------------------------------------ */

/*
 * A pool's rings are collected objects, scanned for pointers like any: their
 * counters must never read as an address.  Here one ring's pushes and
 * thefts are counted so that a plain head << 32 | tail word would equal the
 * address of an object the program dropped: it must be freed all the same.
 */
static gc_pool *cpool;
static _Atomic int csteal; /* 1: the thief should take one; 0: taken */
static _Atomic int cstop;

static void *c_thief(void *arg)
{
    (void)arg;
    while (!atomic_load(&cstop)) {
        if (atomic_load(&csteal)) {
            void *x = gc_pool_get(cpool);
            tc_sink = x;
            atomic_store(&csteal, 0);
        }
    }
    tc_sink = NULL;
    return NULL;
}

/* An object at an address hi << 32 | lo with hi - 8 <= lo <= hi: a ring's
 * tail never passes its head, and the first ring holds 8 (so the thefts
 * keep one ring in use).  One of the heap's first objects, then.  Only its
 * hidden form is kept: the plain address, anywhere, would keep it alive
 * itself. */
static TC_NOINLINE uintptr_t c_victim(gc_weak **w)
{
    for (int i = 0; i < 64; i++) {
        void *x = gc_alloc(64);
        uintptr_t h = tc_hide(x);
        uint32_t hi = (uint32_t)((h >> 32) ^ (TC_KEY >> 32)), lo = (uint32_t)h ^ (uint32_t)TC_KEY;
        if (lo <= hi && lo + 8 >= hi && hi < 100000) {
            *w = gc_weak_make(x);
            return h;
        }
    }
    return 0;
}

static TC_NOINLINE void c_cycle(uint32_t pushes, uint32_t thefts)
{
    gc_pool_put(cpool, item_new(0)); /* the private slot: the rest goes to the ring */
    pthread_t t = tc_thread(c_thief, NULL);
    for (uint32_t k = 0; k < pushes; k++) {
        gc_pool_put(cpool, item_new(k + 1));
        if (k < thefts) {
            atomic_store(&csteal, 1);
            while (atomic_load(&csteal))
                ;
        }
    }
    atomic_store(&cstop, 1);
    tc_join(t);
}

static void t_counters(void)
{
    gc_set_percent(-1); /* the pool must keep its ring until the end */
    gc_weak *w = NULL;
    uintptr_t h = c_victim(&w); /* first: the heap's first objects */
    if (!h) {
        printf("     no object at an address this test can aim at (skipped)\n");
        exit(77);
    }
    uint32_t hi = (uint32_t)((h >> 32) ^ (TC_KEY >> 32)), lo = (uint32_t)h ^ (uint32_t)TC_KEY;
    cpool = gc_pool_new(NULL);
    printf("     aiming at 0x%x%08x: %u pushes, %u thefts\n", hi, lo, hi, lo);
    c_cycle(hi, lo);
    tc_collect_clean();
    TC_CHECK(gc_weak_get(w) == NULL, "the object at 0x%x%08x, dropped, is kept: a ring's counters read as its address",
             hi, lo);
    gc_set_percent(100);
}

/* ------------------------------------------------------------------------ */

static gc_weak *dweak_pool, *dweak_item;

static TC_NOINLINE void dropped_make(void)
{
    gc_pool *p = gc_pool_new(NULL);
    struct item *it = item_new(5);
    gc_pool_put(p, it);
    gc_pool_put(p, item_new(6));
    dweak_pool = gc_weak_make(p);
    dweak_item = gc_weak_make(it);
}

static bool dropped_gone(void) { return gc_weak_get(dweak_pool) == NULL && gc_weak_get(dweak_item) == NULL; }

static void t_dropped(void)
{
    dropped_make();
    for (int i = 0; i < 6 && !dropped_gone(); i++)
        tc_collect_clean();
    TC_CHECK(gc_weak_get(dweak_pool) == NULL, "a pool nothing refers to was never collected");
    TC_CHECK(gc_weak_get(dweak_item) == NULL, "an object in a dropped pool was never freed");
}

/* ------------------------------------------------------------------------ */

static gc_pool *fpool;

static void t_fork(void)
{
    fpool = gc_pool_new(make_new);
    struct item *a = item_new(77);
    gc_pool_put(fpool, a);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(30);
        struct item *it = gc_pool_get(fpool);
        if (it != a || it->check != chk(77))
            _exit(2);
        for (int i = 0; i < 10000; i++)
            gc_pool_put(fpool, item_new((uint64_t)i));
        gc_collect();
        for (int i = 0; i < 10000; i++) {
            struct item *x = gc_pool_get(fpool);
            if (!x || x->check != chk(x->id))
                _exit(3);
        }
        _exit(0);
    }
    int st = tc_wait(pid);
    TC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %s", tc_status_str(st));
    TC_CHECK(gc_pool_get(fpool) == a, "the parent's pool changed");
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"basic", t_basic}, {"victim", t_victim},   {"steal", t_steal}, {"many", t_many},
        {"threads", t_threads}, {"many_threads", t_many_threads}, {"counters", t_counters},
        {"dropped", t_dropped},  {"fork", t_fork},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
