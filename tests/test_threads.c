/*
 * test_threads.c - threads allocating, collecting, starting, exiting, forking.
 *
 *   concurrent  8 threads build, verify and drop private lists and trees (each
 *               node carries a checksum of its key) while 2 threads call
 *               gc_collect in a loop, and the builders collect now and then too;
 *               every structure is verified before it is dropped and again after
 *               the next generation is built
 *   churn       about 2000 short-lived threads - allocating ones, detached ones,
 *               ones that only gc_register_thread - start and exit while another
 *               thread collects without pause; each allocating thread verifies
 *               its list
 *   fork        while 4 threads allocate and 1 collects, the program forks 20
 *               times (from main and from another thread); each child checks
 *               a structure built before, builds a new one, collects, checks
 *               both and the exact statistics, and exits 0 within 30 s
 *   start_arg   3000 threads, 50 at a time, each given the only reference to a
 *               checked object as its start argument; each sleeps 5 ms before
 *               it reads the object, while another thread collects and churns
 *               garbage of the object's size: every object arrives intact
 *               (pthread_create registers the child before its start routine,
 *               and the argument is a root until then)
 *
 * TRICOLOR_THREADS_SECONDS sets the length of concurrent and churn (default 4).
 */
#include "common.h"

#include <stdatomic.h>

static double g_seconds = 4;
static atomic_int g_stop;

/* ------------------------------------------------------------------------ */
/* Checked structures                                                        */
/* ------------------------------------------------------------------------ */

struct lnode {
    struct lnode *next;
    uint64_t key, check;
};

struct tnode {
    struct tnode *l, *r;
    uint64_t key, check;
};

static uint64_t chk(uint64_t key) { return tc_mix(key ^ 0x1234567ull); }

static struct lnode *list_build(uint64_t *rng, size_t n, uint64_t *sum)
{
    struct lnode *head = NULL;
    *sum = 0;
    for (size_t i = 0; i < n; i++) {
        struct lnode *x = gc_new(struct lnode);
        TC_CHECK(x != NULL, "gc_new(struct lnode) returned NULL");
        x->key = tc_rand(rng) >> 1;
        x->check = chk(x->key);
        x->next = head;
        head = x;
        *sum += x->key;
    }
    return head;
}

static void list_verify(const struct lnode *head, size_t n, uint64_t sum, const char *who)
{
    size_t count = 0;
    uint64_t s = 0;
    for (const struct lnode *x = head; x; x = x->next, count++) {
        if (count >= n)
            TC_FAIL("%s: list longer than its %zu nodes", who, n);
        if (x->check != chk(x->key))
            TC_FAIL("%s: list node %zu at %p corrupt: key %#llx check %#llx (want %#llx)", who, count, (void *)x,
                    (unsigned long long)x->key, (unsigned long long)x->check, (unsigned long long)chk(x->key));
        s += x->key;
    }
    TC_CHECK(count == n, "%s: list has %zu nodes, want %zu", who, count, n);
    TC_CHECK(s == sum, "%s: list key sum %#llx, want %#llx", who, (unsigned long long)s, (unsigned long long)sum);
}

static struct tnode *tree_insert(struct tnode *root, uint64_t key, int *added)
{
    struct tnode **at = &root;
    while (*at) {
        if (key == (*at)->key)
            return root;
        at = key < (*at)->key ? &(*at)->l : &(*at)->r;
    }
    struct tnode *x = gc_new(struct tnode);
    TC_CHECK(x != NULL, "gc_new(struct tnode) returned NULL");
    x->key = key;
    x->check = chk(key);
    *at = x;
    *added = 1;
    return root;
}

static struct tnode *tree_build(uint64_t *rng, size_t n, size_t *count, uint64_t *sum)
{
    struct tnode *root = NULL;
    *count = 0;
    *sum = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = tc_rand(rng) >> 1;
        int added = 0;
        root = tree_insert(root, key, &added);
        if (added) {
            ++*count;
            *sum += key;
        }
    }
    return root;
}

static void tree_walk(const struct tnode *t, size_t *count, uint64_t *sum, uint64_t *last, int depth, const char *who)
{
    while (t) {
        TC_CHECK(depth < 10000, "%s: tree deeper than 10000: a cycle?", who);
        tree_walk(t->l, count, sum, last, depth + 1, who);
        if (t->check != chk(t->key))
            TC_FAIL("%s: tree node at %p corrupt: key %#llx check %#llx", who, (void *)t, (unsigned long long)t->key,
                    (unsigned long long)t->check);
        if (*count > 0 && t->key <= *last)
            TC_FAIL("%s: tree out of order at %p", who, (void *)t);
        *last = t->key;
        ++*count;
        *sum += t->key;
        t = t->r;
        depth++;
    }
}

static void tree_verify(const struct tnode *root, size_t n, uint64_t sum, const char *who)
{
    size_t count = 0;
    uint64_t s = 0, last = 0;
    tree_walk(root, &count, &s, &last, 0, who);
    TC_CHECK(count == n, "%s: tree has %zu nodes, want %zu", who, count, n);
    TC_CHECK(s == sum, "%s: tree key sum differs", who);
}

/* ------------------------------------------------------------------------ */
/* concurrent                                                                */
/* ------------------------------------------------------------------------ */

static atomic_long g_passes, g_builder_collects;

struct gen {
    struct lnode *list;
    size_t nlist;
    uint64_t lsum;
    struct tnode *tree;
    size_t ntree;
    uint64_t tsum;
};

static void *builder(void *arg)
{
    int id = (int)(intptr_t)arg;
    char who[32];
    snprintf(who, sizeof who, "builder %d", id);
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
    struct gen old = {0}, cur = {0};
    long passes = 0;
    while (!atomic_load(&g_stop)) {
        cur.nlist = 100 + tc_rand(&rng) % 5000;
        cur.list = list_build(&rng, cur.nlist, &cur.lsum);
        cur.tree = tree_build(&rng, 100 + tc_rand(&rng) % 3000, &cur.ntree, &cur.tsum);
        if (tc_rand(&rng) % 8 == 0) {
            gc_collect();
            atomic_fetch_add(&g_builder_collects, 1);
        }
        list_verify(cur.list, cur.nlist, cur.lsum, who);
        tree_verify(cur.tree, cur.ntree, cur.tsum, who);
        if (old.list) {
            list_verify(old.list, old.nlist, old.lsum, who);
            tree_verify(old.tree, old.ntree, old.tsum, who);
        }
        /* garbage */
        for (int i = 0; i < 200; i++) {
            char *g = gc_alloc(16 + tc_rand(&rng) % 2000);
            g[0] = 1;
        }
        old = cur;
        passes++;
    }
    atomic_fetch_add(&g_passes, passes);
    return NULL;
}

static atomic_long g_collects;

static void *collector(void *arg)
{
    uint64_t rng = (uint64_t)(intptr_t)arg + 77;
    while (!atomic_load(&g_stop)) {
        gc_collect();
        atomic_fetch_add(&g_collects, 1);
        tc_sleep_ms((long)(tc_rand(&rng) % 4));
    }
    return NULL;
}

static gc_memstats ms;

static void test_concurrent(void)
{
    atomic_store(&g_stop, 0);
    gc_read_memstats(&ms);
    uint32_t forced0 = ms.num_forced_gc, gc0 = ms.num_gc;
    pthread_t b[8], c[2];
    for (int i = 0; i < 8; i++)
        b[i] = tc_thread(builder, (void *)(intptr_t)i);
    for (int i = 0; i < 2; i++)
        c[i] = tc_thread(collector, (void *)(intptr_t)i);
    tc_sleep_ms((long)(g_seconds * 1000));
    atomic_store(&g_stop, 1);
    for (int i = 0; i < 8; i++)
        tc_join(b[i]);
    for (int i = 0; i < 2; i++)
        tc_join(c[i]);
    gc_collect();
    gc_read_memstats(&ms);
    printf("     concurrent: %ld builder passes, %ld + %ld gc_collect calls, %u collections\n", (long)g_passes,
           (long)g_collects, (long)g_builder_collects, ms.num_gc - gc0);
    TC_CHECK(g_passes >= 16, "only %ld builder passes in %.0f s", (long)g_passes, g_seconds);
    TC_CHECK(g_collects >= 10, "only %ld collections by the collector threads", (long)g_collects);
    TC_CHECK(ms.num_forced_gc - forced0 >= 10, "num_forced_gc advanced by %u", ms.num_forced_gc - forced0);
    TC_CHECK(ms.mallocs - ms.frees == ms.heap_objects, "after the threads: mallocs - frees != heap_objects");
}

/* ------------------------------------------------------------------------ */
/* churn                                                                     */
/* ------------------------------------------------------------------------ */

static atomic_long g_done_alloc, g_done_reg, g_detached_running;

static void *short_alloc(void *arg)
{
    uint64_t rng = (uint64_t)(intptr_t)arg * 31 + 1;
    uint64_t sum;
    size_t n = 100 + tc_rand(&rng) % 1000;
    struct lnode *l = list_build(&rng, n, &sum);
    if (tc_rand(&rng) % 16 == 0)
        gc_collect();
    else
        sched_yield();
    list_verify(l, n, sum, "short-lived thread");
    atomic_fetch_add(&g_done_alloc, 1);
    return NULL;
}

static void *short_detached(void *arg)
{
    short_alloc(arg);
    atomic_fetch_sub(&g_detached_running, 1);
    return NULL;
}

static void *short_register(void *arg)
{
    (void)arg;
    TC_CHECK(gc_register_thread() == 0, "gc_register_thread failed in a short-lived thread");
    sched_yield();
    if ((intptr_t)arg % 2)
        gc_unregister_thread();
    atomic_fetch_add(&g_done_reg, 1);
    return NULL;
}

static void test_churn(void)
{
    atomic_store(&g_stop, 0);
    pthread_t c = tc_thread(collector, (void *)1);
    double t0 = tc_now();
    long started = 0;
    pthread_attr_t det;
    pthread_attr_init(&det);
    pthread_attr_setdetachstate(&det, PTHREAD_CREATE_DETACHED);
    while (started < 2000 && tc_now() - t0 < g_seconds) {
        pthread_t t[8];
        for (int i = 0; i < 8; i++) {
            intptr_t arg = started++;
            if (i == 7) {
                atomic_fetch_add(&g_detached_running, 1);
                pthread_t d;
                int e = pthread_create(&d, &det, short_detached, (void *)arg);
                TC_CHECK(e == 0, "pthread_create (detached): %s", strerror(e));
                t[i] = 0;
            } else {
                t[i] = tc_thread(i % 3 == 2 ? short_register : short_alloc, (void *)arg);
            }
        }
        for (int i = 0; i < 7; i++)
            tc_join(t[i]);
    }
    while (atomic_load(&g_detached_running) > 0)
        tc_sleep_ms(1);
    atomic_store(&g_stop, 1);
    tc_join(c);
    printf("     churn: %ld threads in %.1fs (%ld allocating finished, %ld register-only), %ld collections\n", started,
           tc_now() - t0, (long)g_done_alloc, (long)g_done_reg, (long)g_collects);
    long want_alloc = started - started / 8 * 2; /* i == 2, 5 register only */
    TC_CHECK(g_done_alloc + g_done_reg == started, "%ld of %ld threads finished", (long)(g_done_alloc + g_done_reg),
             started);
    TC_CHECK(g_done_alloc >= want_alloc - 8, "%ld allocating threads finished", (long)g_done_alloc);
    TC_CHECK(started >= 200, "only %ld threads started in %.0f s", started, g_seconds);
    gc_collect();
    gc_read_memstats(&ms);
    TC_CHECK(ms.mallocs - ms.frees == ms.heap_objects, "after the threads: mallocs - frees != heap_objects");
}

/* ------------------------------------------------------------------------ */
/* fork                                                                      */
/* ------------------------------------------------------------------------ */

enum { SA_WORDS = 8, SA_THREADS = 3000, SA_BATCH = 50 };
static atomic_long g_sa_ok, g_sa_bad;

static void *sa_collector(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_stop)) {
        tc_churn(SA_WORDS * sizeof(uint64_t), 2000);
        gc_collect();
        atomic_fetch_add(&g_collects, 1);
    }
    return NULL;
}

static void *sa_child(void *arg)
{
    tc_sleep_ms(5);
    const uint64_t *p = arg;
    int ok = 1;
    for (int i = 1; i < SA_WORDS; i++)
        ok &= p[i] == tc_mix(p[0] + (uint64_t)i);
    atomic_fetch_add(ok ? &g_sa_ok : &g_sa_bad, 1);
    return NULL;
}

/* The object exists only in the argument once this returns. */
TC_NOINLINE static int sa_start(pthread_t *t, uint64_t key)
{
    uint64_t *p = gc_alloc(SA_WORDS * sizeof(uint64_t));
    TC_CHECK(p != NULL, "gc_alloc");
    p[0] = key;
    for (int i = 1; i < SA_WORDS; i++)
        p[i] = tc_mix(key + (uint64_t)i);
    return pthread_create(t, NULL, sa_child, p);
}

static void test_start_arg(void)
{
    atomic_store(&g_stop, 0);
    atomic_store(&g_collects, 0);
    pthread_t c = tc_thread(sa_collector, NULL);
    for (int done = 0; done < SA_THREADS; done += SA_BATCH) {
        pthread_t t[SA_BATCH];
        for (int i = 0; i < SA_BATCH; i++) {
            int e = sa_start(&t[i], (uint64_t)(done + i) * 1000003u);
            TC_CHECK(e == 0, "pthread_create: %s", strerror(e));
        }
        tc_clear_stack();
        for (int i = 0; i < SA_BATCH; i++)
            tc_join(t[i]);
    }
    atomic_store(&g_stop, 1);
    tc_join(c);
    printf("     start_arg: %ld of %d arrived intact, %ld damaged, %ld collections meanwhile\n", (long)g_sa_ok,
           SA_THREADS, (long)g_sa_bad, (long)g_collects);
    TC_CHECK(g_sa_bad == 0 && g_sa_ok == SA_THREADS,
             "%ld of %d start arguments arrived damaged (freed while the thread started)", (long)g_sa_bad, SA_THREADS);
    TC_CHECK(g_collects >= 3, "only %ld collections ran while the threads started", (long)g_collects);
}

/* ------------------------------------------------------------------------ */

static struct lnode *volatile g_static;
static size_t g_static_n = 100000;
static uint64_t g_static_sum;

static void child_work(void)
{
    alarm(30);
    list_verify(g_static, g_static_n, g_static_sum, "child: the list built before fork");
    uint64_t rng = (uint64_t)getpid(), sum;
    struct lnode *volatile l = list_build(&rng, 200000, &sum);
    gc_collect();
    for (int i = 0; i < 10000; i++) {
        char *g = gc_alloc(100);
        g[0] = 1;
    }
    gc_collect();
    list_verify(l, 200000, sum, "child: its own list");
    list_verify(g_static, g_static_n, g_static_sum, "child: the list built before fork, after collections");
    gc_read_memstats(&ms);
    TC_CHECK(ms.mallocs - ms.frees == ms.heap_objects, "child: mallocs - frees != heap_objects");
    exit(0);
}

static atomic_int g_forks_ok;

static void do_fork(const char *from)
{
    fflush(stdout);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        child_work();
    int status = tc_wait(pid);
    TC_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child forked from %s %s", from, tc_status_str(status));
    atomic_fetch_add(&g_forks_ok, 1);
}

static void *forker_thread(void *arg)
{
    (void)arg;
    tc_sink = gc_alloc(10);
    for (int i = 0; i < 5; i++) {
        do_fork("a second thread");
        tc_sleep_ms(50);
    }
    return NULL;
}

static void test_fork(void)
{
    uint64_t rng = 5;
    g_static = list_build(&rng, g_static_n, &g_static_sum);
    atomic_store(&g_stop, 0);
    pthread_t b[4], c;
    for (int i = 0; i < 4; i++)
        b[i] = tc_thread(builder, (void *)(intptr_t)(i + 100));
    c = tc_thread(collector, (void *)3);
    pthread_t f = tc_thread(forker_thread, NULL);
    for (int i = 0; i < 15; i++) {
        tc_sleep_ms(60);
        do_fork("main");
    }
    tc_join(f);
    atomic_store(&g_stop, 1);
    for (int i = 0; i < 4; i++)
        tc_join(b[i]);
    tc_join(c);
    TC_CHECK(g_forks_ok == 20, "%d of 20 forks succeeded", (int)g_forks_ok);
    list_verify(g_static, g_static_n, g_static_sum, "parent: the list after the forks");
    gc_collect();
    gc_read_memstats(&ms);
    TC_CHECK(ms.mallocs - ms.frees == ms.heap_objects, "parent: mallocs - frees != heap_objects");
}

int main(int argc, char **argv)
{
    const char *e = getenv("TRICOLOR_THREADS_SECONDS");
    if (e)
        g_seconds = atof(e);
    static const tc_subtest tests[] = {
        {"concurrent", test_concurrent},
        {"churn", test_churn},
        {"fork", test_fork},
        {"start_arg", test_start_arg},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
