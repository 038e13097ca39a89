/*
 * test_stacks.c - threads' stacks and signals, from tricolor.h's documentation:
 * coroutines on stacks of the program's own (gc_set_stack, gc_get_stack),
 * threads blocked in system calls (gc_do_blocking, gc_call_active), the
 * wrapped signal masks and the stop signal (gc_set_stop_signal,
 * gc_stop_signal, TRICOLOR_STOP_SIGNAL); and two neighbours: the write
 * tracking backend in a fork child, and dlclose while marking runs.
 *
 * Lists are built of nodes that each carry a key derived from the list's seed
 * and a checksum of the key; a list is checked node by node (every node a live
 * object, in order, with its key and checksum) after several collections with
 * garbage of the nodes' size in between, which would have reused and
 * overwritten the nodes had they been freed.  Each list's only reference is in
 * the place under test: it is built by a function of its own and the stack
 * below is wiped (tc_clear_stack) before anything collects.
 *
 *   coroutine_declared    ucontext coroutines (makecontext/swapcontext) on
 *                         malloc'd stacks, declared with gc_set_stack by the
 *                         resumer just before the switch, by the coroutine
 *                         just after it, or with their top only (lo NULL).
 *                         The coroutine builds two lists held only in its
 *                         locals, collects itself, then lets a collector thread
 *                         complete collections while it runs: both lists are
 *                         intact, and so is a list the resumer held across the
 *                         switch (its own stack, left where it switched away);
 *                         in the main thread and in a second thread.  Then 4
 *                         coroutines switched round-robin, their stacks
 *                         registered with gc_add_roots and their contexts in a
 *                         global, each holding a list while suspended, while
 *                         the main thread and a collector thread collect: every
 *                         list is intact at every resume.  Control: a suspended
 *                         coroutine whose stack and context are unregistered
 *                         malloc memory loses its objects (as the header says),
 *                         so what survives above survived by the registration.
 *   coroutine_registered  round-robin coroutines on malloc'd stacks registered
 *                         with gc_add_stack, no call at the switches, contexts
 *                         in malloc'd memory: each list, held only in a
 *                         suspended coroutine's frame, is intact at every
 *                         resume; control: after gc_remove_stack a suspended
 *                         coroutine's objects are reclaimed.
 *   coroutine_undeclared  the same without gc_set_stack, on a stack from mmap
 *                         (the collector scans the mapping around the stack
 *                         pointer) and on one from gc_alloc (the object around
 *                         it), in the main thread and in a second thread; then
 *                         one suspended coroutine on each kind (the mmap'd
 *                         stack registered with gc_add_roots, the collected one
 *                         reachable from a global) keeps its list.
 *   get_stack             gc_get_stack gives bounds holding a local's address
 *                         on the main thread, on a second thread, and within a
 *                         stack given with pthread_attr_setstack; inside a
 *                         coroutine declared with gc_set_stack(lo, hi) it gives
 *                         exactly [lo, hi), after gc_set_stack(NULL, hi) *lo is
 *                         NULL and *hi is hi, and after gc_set_stack(NULL, NULL)
 *                         the thread's own bounds again; a thread that
 *                         unregistered is registered again by gc_get_stack (its
 *                         stack holds the only pointers to objects, which
 *                         survive collections).
 *   get_stack_undeclared  inside an undeclared coroutine on an mmap'd stack,
 *                         gc_get_stack's bounds hold a local's address (the
 *                         stack the thread runs on "as the collector sees it":
 *                         the mapping around the stack pointer).
 *   blocking              a thread in gc_do_blocking whose fn blocks every
 *                         signal with a raw rt_sigprocmask and blocks in
 *                         read(2), while main runs 20 collections (a hang is a
 *                         failure, by alarm); a list held only in the frame
 *                         above gc_do_blocking survives; inside, after
 *                         unblocking, gc_call_active allocates a list and
 *                         collects, the list is stored in that frame above,
 *                         the thread blocks again for 20 more collections, and
 *                         both lists are intact; gc_do_blocking and
 *                         gc_call_active return their fn's values.  A second
 *                         thread in gc_do_blocking sits in poll(2) with signals
 *                         unblocked: poll never fails with EINTR (the collector
 *                         does not signal a blocked thread).
 *   sigmask               two registered threads block every signal, one with
 *                         pthread_sigmask and one with sigprocmask (SIG_BLOCK,
 *                         then SIG_SETMASK): the stop signal (gc_stop_signal())
 *                         is not blocked, as pthread_sigmask(SIG_SETMASK, NULL,
 *                         &old) and the kernel (a raw rt_sigprocmask) both
 *                         show, while the other signals are; the threads then
 *                         allocate and check lists while a collector thread
 *                         collects (every collection completes), and wait in
 *                         sigwait(SIGUSR1) holding a list while main collects
 *                         and then wakes them: the lists are intact.
 *   raw_block             in a child process, a registered thread named with
 *                         pthread_setname_np blocks the stop signal with a raw
 *                         rt_sigprocmask and spins; main calls gc_collect: the
 *                         child does not hang (alarm), gc_collect does not
 *                         return, the child is killed by SIGABRT, and its
 *                         stderr names the thread by its name and tid, in
 *                         threads.c's words ("tricolor: thread <tid>
 *                         (\"<name>\") blocks SIGPWR, the signal that stops
 *                         threads for a collection, so it can be neither
 *                         stopped nor skipped...").
 *   stop_signal           child processes: with TRICOLOR_STOP_SIGNAL=SIGUSR2 (and
 *                         the same as a number, and SIGRTMIN+3) gc_stop_signal()
 *                         says so, the library's handler is installed on it
 *                         with SA_RESTART, and the program's own SIGPWR handler
 *                         counts every one of 120 SIGPWRs sent one at a time to
 *                         its threads and itself while 3 threads allocate,
 *                         check lists and collect and another collects, and
 *                         pthread_sigmask(SIG_BLOCK, full set) leaves the
 *                         configured signal unblocked but blocks SIGPWR; without
 *                         the variable it is SIGPWR; gc_set_stop_signal before
 *                         first use refuses SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,
 *                         0, -1 and NSIG with EINVAL, takes SIGUSR1 (the
 *                         workload above, SIGPWR being the program's again),
 *                         and after use fails with EBUSY.
 *   fork_backend          the heap used by concurrent collections, then 4 forks;
 *                         in each child, while a collector thread collects,
 *                         1000+ read(2)s from a pipe into gc_alloc'd buffers
 *                         (fresh ones and old ones) that carry pattern words
 *                         and the only pointers to new nodes: read never fails
 *                         with EFAULT (with the mprotect backend, where the
 *                         header documents EFAULT, the documented workaround -
 *                         touch each page, retry - is used and counted), and
 *                         every buffer and node is intact after more
 *                         collections; so is a list built before the fork.
 *   dlclose_marking       main dlopens and dlcloses tcroot.so 660 times (60 of
 *                         them holding 16 objects in the library's .bss and
 *                         .data while 3 collections complete, checked intact;
 *                         pointers are left in the library at half the
 *                         dlcloses) while another thread allocates enough to
 *                         keep collections running (num_gc counted); no crash.
 *
 * Every subtest arms an alarm: a hang fails with a line saying what it was
 * doing.
 */
#include "roots_common.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>

#ifndef LIBROOT_PATH
#error "LIBROOT_PATH must name tcroot.so"
#endif

/* ------------------------------------------------------------------------ */
/* Hang guard                                                                */
/* ------------------------------------------------------------------------ */

static const char *volatile g_doing = "starting";

static void put_err(const char *s) { (void)!write(2, s, strlen(s)); }

static void on_alarm(int sig)
{
    (void)sig;
    put_err("FAIL test_stacks.c: [");
    put_err(tc_current);
    put_err("] hang: the alarm went off while ");
    put_err((const char *)g_doing);
    put_err("\n");
    _exit(1);
}

static void guard(unsigned seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

static void doing(const char *what) { g_doing = what; }

/* The calling thread's signal mask, set or read with the system call itself
 * (not pthread_sigmask or sigprocmask, which tricolor wraps). */
static long raw_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    return syscall(SYS_rt_sigprocmask, how, set, old, (size_t)8);
}

static uint32_t num_gc(void)
{
    gc_memstats m;
    gc_read_memstats(&m);
    return m.num_gc;
}

/* ------------------------------------------------------------------------ */
/* Checked lists                                                             */
/* ------------------------------------------------------------------------ */

struct lnode {
    struct lnode *next;
    uint64_t key, check;
};
#define NODE_SIZE sizeof(struct lnode)

static uint64_t node_key(uint64_t seed, size_t i) { return tc_mix(seed * 0x100000001b3ull + i); }
static uint64_t node_check(uint64_t key) { return tc_mix(key ^ 0x5eed5eed5eedull); }

/* n nodes; the head is node n-1.  Only the returned head refers to them. */
TC_NOINLINE static struct lnode *list_build(uint64_t seed, size_t n)
{
    struct lnode *head = NULL;
    for (size_t i = 0; i < n; i++) {
        struct lnode *x = gc_new(struct lnode);
        TC_CHECK(x != NULL, "gc_new(struct lnode) returned NULL");
        x->key = node_key(seed, i);
        x->check = node_check(x->key);
        x->next = head;
        head = x;
    }
    return head;
}

TC_NOINLINE static void list_verify(const struct lnode *head, uint64_t seed, size_t n, const char *who)
{
    size_t i = n;
    for (const struct lnode *x = head; x; x = x->next) {
        TC_CHECK(i > 0, "%s: the list is longer than its %zu nodes", who, n);
        i--;
        TC_CHECK(gc_base(x) == x, "%s: node %zu of %zu (%p) is not a live object: freed", who, n - 1 - i, n,
                 (const void *)x);
        TC_CHECK(x->key == node_key(seed, i) && x->check == node_check(x->key),
                 "%s: node %zu of %zu (%p) was overwritten: key %#llx check %#llx, want key %#llx", who, n - 1 - i,
                 n, (const void *)x, (unsigned long long)x->key, (unsigned long long)x->check,
                 (unsigned long long)node_key(seed, i));
    }
    TC_CHECK(i == 0, "%s: the list has %zu nodes, want %zu", who, n - i, n);
}

/* ------------------------------------------------------------------------ */
/* A thread that collects without pause                                      */
/* ------------------------------------------------------------------------ */

static atomic_long g_collections;
static atomic_int g_collector_stop;
static pthread_t g_collector;

static void *collector_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_collector_stop)) {
        tc_churn(NODE_SIZE, 2000);
        gc_collect();
        atomic_fetch_add(&g_collections, 1);
    }
    return NULL;
}

static void collector_start(void)
{
    atomic_store(&g_collector_stop, 0);
    g_collector = tc_thread(collector_main, NULL);
}

static void collector_stop(void)
{
    atomic_store(&g_collector_stop, 1);
    tc_join(g_collector);
}

/* Until the collector thread has completed n more collections (the first may
 * have begun before the call), making garbage of the nodes' size meanwhile.
 * No system call writes to memory here (safe on a collected stack). */
TC_NOINLINE static void await_collections(long n)
{
    long target = atomic_load(&g_collections) + n;
    while (atomic_load(&g_collections) < target) {
        tc_churn(NODE_SIZE, 100);
        sched_yield();
    }
}

/* ------------------------------------------------------------------------ */
/* Coroutines                                                                */
/* ------------------------------------------------------------------------ */

enum { BY_NONE, BY_RESUMER, BY_CORO }; /* who calls gc_set_stack */

struct coro {
    ucontext_t ctx;   /* its context while suspended */
    ucontext_t *link; /* the resumer's */
    char *stack;
    size_t size;
    int who;
    bool top_only; /* declare the top only: gc_set_stack(NULL, hi) */
    bool finished;
    void (*body)(struct coro *);
    uint64_t seed;
    size_t n;
    int rounds;
    const char *what;
};

static __thread struct coro *t_entering;

static void coro_declare(struct coro *c) { gc_set_stack(c->top_only ? NULL : c->stack, c->stack + c->size); }

static void coro_entry(void)
{
    struct coro *c = t_entering;
    if (c->who == BY_CORO)
        coro_declare(c); /* just after the switch */
    c->body(c);
    c->finished = true;
    if (c->who == BY_CORO)
        gc_set_stack(NULL, NULL); /* just before the switch back (uc_link) */
}

static void coro_init(struct coro *c, char *stack, size_t size, ucontext_t *link)
{
    TC_CHECK(getcontext(&c->ctx) == 0, "getcontext: %s", strerror(errno));
    c->ctx.uc_stack.ss_sp = stack;
    c->ctx.uc_stack.ss_size = size;
    c->ctx.uc_link = link;
    c->link = link;
    c->stack = stack;
    c->size = size;
    c->finished = false;
    makecontext(&c->ctx, coro_entry, 0);
}

static void coro_resume(struct coro *c)
{
    TC_CHECK(!c->finished, "%s: resumed after it finished", c->what);
    t_entering = c;
    if (c->who == BY_RESUMER)
        coro_declare(c); /* just before the switch */
    TC_CHECK(swapcontext(c->link, &c->ctx) == 0, "swapcontext: %s", strerror(errno));
    if (c->who == BY_RESUMER)
        gc_set_stack(NULL, NULL); /* just after the switch back */
}

static void coro_yield(struct coro *c)
{
    if (c->who == BY_CORO)
        gc_set_stack(NULL, NULL);
    TC_CHECK(swapcontext(&c->ctx, c->link) == 0, "swapcontext: %s", strerror(errno));
    if (c->who == BY_CORO)
        coro_declare(c);
}

#define CO_STACK ((size_t)1 << 20) /* room for gc_collect and tc_clear_stack */
#define RR_STACK ((size_t)256 << 10)
#define CO_N 5000

/* Two lists in the coroutine's locals; collections by the coroutine itself,
 * then by the collector thread while the coroutine runs. */
TC_NOINLINE static void body_collect(struct coro *c)
{
    struct lnode *volatile a = list_build(c->seed, c->n);
    struct lnode *volatile b = list_build(c->seed + 1, c->n);
    tc_clear_stack();
    tc_collect_churn(NODE_SIZE, 4 * c->n, 3);
    list_verify(a, c->seed, c->n, c->what);
    list_verify(b, c->seed + 1, c->n, c->what);
    await_collections(4);
    list_verify(a, c->seed, c->n, c->what);
    list_verify(b, c->seed + 1, c->n, c->what);
}

/* The resumer holds a list of its own across the switch; the coroutine runs
 * body_collect to its end on [stack, stack + size). */
TC_NOINLINE static void run_collect(char *stack, size_t size, int who, bool top_only, uint64_t seed,
                                    const char *what)
{
    ucontext_t home; /* on the resumer's stack, which stays scanned */
    struct coro *c = calloc(1, sizeof *c);
    TC_CHECK(c != NULL, "calloc");
    c->who = who;
    c->top_only = top_only;
    c->body = body_collect;
    c->seed = seed;
    c->n = CO_N;
    c->what = what;
    struct lnode *volatile mine = list_build(seed + 100, CO_N);
    tc_clear_stack();
    coro_init(c, stack, size, &home);
    coro_resume(c);
    TC_CHECK(c->finished, "%s: the coroutine did not finish", what);
    free(c);
    tc_collect_churn(NODE_SIZE, 4 * CO_N, 2);
    char who_s[256];
    snprintf(who_s, sizeof who_s, "%s: the resumer's list, held on its own stack across the switch", what);
    list_verify(mine, seed + 100, CO_N, who_s);
}

/* Round-robin: a list per coroutine, held while it is suspended. */
TC_NOINLINE static void body_rr(struct coro *c)
{
    struct lnode *volatile mine = list_build(c->seed, c->n);
    tc_clear_stack();
    for (int r = 0; r < c->rounds; r++) {
        coro_yield(c);
        list_verify(mine, c->seed, c->n, c->what);
        tc_churn(NODE_SIZE, 1000);
    }
}

/* Resume each unfinished coroutine in turn, collecting between resumes, until
 * all have finished. */
static void round_robin(struct coro *cs, int n, int rounds)
{
    for (int r = 0; r <= rounds; r++)
        for (int i = 0; i < n; i++) {
            if (!cs[i].finished)
                coro_resume(&cs[i]);
            tc_collect_churn(NODE_SIZE, 3000, 1);
        }
    for (int i = 0; i < n; i++)
        TC_CHECK(cs[i].finished, "%s: did not finish after %d rounds", cs[i].what, rounds);
}

/* ------------------------------------------------------------------------ */
/* coroutine_declared                                                        */
/* ------------------------------------------------------------------------ */

static void collect_scenarios(const char *where, uint64_t seed)
{
    static const struct {
        int who;
        bool top_only;
        const char *how;
    } modes[] = {
        {BY_RESUMER, false, "declared by the resumer just before the switch"},
        {BY_CORO, false, "declared by the coroutine just after the switch"},
        {BY_RESUMER, true, "its top only declared (lo NULL)"},
    };
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        char what[200];
        snprintf(what, sizeof what, "coroutine on a malloc'd stack, %s, in %s", modes[m].how, where);
        doing(what);
        char *stack = malloc(CO_STACK);
        TC_CHECK(stack != NULL, "malloc(%zu)", CO_STACK);
        run_collect(stack, CO_STACK, modes[m].who, modes[m].top_only, seed + m * 1000, what);
        free(stack);
    }
}

static void *collect_scenarios_thread(void *arg)
{
    (void)arg;
    collect_scenarios("a second thread", 20000);
    return NULL;
}

#define RR_N 4
#define RR_ROUNDS 6
static struct coro g_rr[RR_N]; /* global: the suspended contexts are scanned */
static rt_set g_ctl;

TC_NOINLINE static void body_control(struct coro *c)
{
    void *volatile slots[RT_N];
    rt_populate(&g_ctl, slots, RT_N, RT_SIZE, 0, 3100);
    tc_clear_stack();
    coro_yield(c); /* never resumed */
    TC_FAIL("the control coroutine was resumed");
}

static void test_coroutine_declared(void)
{
    guard(110);
    collector_start();
    collect_scenarios("the main thread", 10000);
    tc_join(tc_thread(collect_scenarios_thread, NULL));

    doing("round-robin coroutines on registered malloc'd stacks");
    ucontext_t home;
    static char what[RR_N][120];
    for (int i = 0; i < RR_N; i++) {
        char *stack = malloc(RR_STACK);
        TC_CHECK(stack != NULL, "malloc(%zu)", RR_STACK);
        gc_add_roots(stack, RR_STACK);
        struct coro *c = &g_rr[i];
        c->who = i % 3 == 1 ? BY_CORO : BY_RESUMER;
        c->top_only = i % 3 == 2;
        c->body = body_rr;
        c->seed = 30000 + (uint64_t)i * 100;
        c->n = 3000;
        c->rounds = RR_ROUNDS;
        snprintf(what[i], sizeof what[i], "round-robin coroutine %d (%s), suspended on a stack under gc_add_roots",
                 i, c->top_only ? "top only declared" : c->who == BY_CORO ? "declared by itself" : "declared by the resumer");
        c->what = what[i];
        coro_init(c, stack, RR_STACK, &home);
    }
    round_robin(g_rr, RR_N, RR_ROUNDS);
    for (int i = 0; i < RR_N; i++) {
        gc_remove_roots(g_rr[i].stack, RR_STACK);
        free(g_rr[i].stack);
    }
    long collections = atomic_load(&g_collections);
    collector_stop();

    /* Control: neither the stack nor the context is scanned memory. */
    doing("the control coroutine");
    struct coro *cc = calloc(1, sizeof *cc);
    char *stack = malloc(RR_STACK);
    TC_CHECK(cc && stack, "malloc");
    cc->who = BY_RESUMER;
    cc->body = body_control;
    cc->what = "the control coroutine";
    coro_init(cc, stack, RR_STACK, &home);
    coro_resume(cc);
    TC_CHECK(!cc->finished, "the control coroutine finished");
    tc_collect_clean();
    tc_collect_clean();
    int dead = rt_count_dead(&g_ctl);
    TC_CHECK(dead >= RT_N - RT_SLACK,
             "control: a suspended coroutine on an unregistered malloc'd stack (context in malloc'd memory too) "
             "held %d objects; only %d were reclaimed, so the survivals above may not be the registration's doing",
             RT_N, dead);
    free(stack);
    free(cc);
    printf("     coroutine_declared: %ld collections by the collector thread; control: %d of %d reclaimed\n",
           collections, dead, RT_N);
}

/* ------------------------------------------------------------------------ */
/* coroutine_registered                                                      */
/* ------------------------------------------------------------------------ */

/* Coroutines on stacks registered with gc_add_stack, with no call at the
 * switches, and their contexts in malloc'd memory (so a suspended one's
 * saved registers are no root): each list is held only in a suspended
 * coroutine's frame, while the main thread and a collector thread collect.
 * Then a control: the same after gc_remove_stack loses its objects. */
static void test_coroutine_registered(void)
{
    guard(110);
    collector_start();
    doing("round-robin coroutines on stacks registered with gc_add_stack");
    ucontext_t home;
    struct coro *cs = calloc(RR_N, sizeof *cs);
    TC_CHECK(cs != NULL, "calloc");
    static char what[RR_N][120];
    for (int i = 0; i < RR_N; i++) {
        char *stack = malloc(RR_STACK);
        TC_CHECK(stack != NULL, "malloc(%zu)", RR_STACK);
        TC_CHECK(gc_add_stack(stack, stack + RR_STACK) == 0, "gc_add_stack: %s", strerror(errno));
        struct coro *c = &cs[i];
        c->who = BY_NONE;
        c->body = body_rr;
        c->seed = 40000 + (uint64_t)i * 100;
        c->n = 3000;
        c->rounds = RR_ROUNDS;
        snprintf(what[i], sizeof what[i], "round-robin coroutine %d, suspended on a stack under gc_add_stack", i);
        c->what = what[i];
        coro_init(c, stack, RR_STACK, &home);
    }
    round_robin(cs, RR_N, RR_ROUNDS);
    for (int i = 0; i < RR_N; i++) {
        gc_remove_stack(cs[i].stack);
        free(cs[i].stack);
    }
    long collections = atomic_load(&g_collections);
    collector_stop();

    TC_CHECK(gc_add_stack(NULL, NULL) == -1 && errno == EINVAL, "gc_add_stack(NULL, NULL) did not fail with EINVAL");

    doing("the control: a coroutine whose stack was removed");
    struct coro *cc = calloc(1, sizeof *cc);
    char *stack = malloc(RR_STACK);
    TC_CHECK(cc && stack, "malloc");
    TC_CHECK(gc_add_stack(stack, stack + RR_STACK) == 0, "gc_add_stack");
    cc->who = BY_NONE;
    cc->body = body_control;
    cc->what = "the control coroutine";
    coro_init(cc, stack, RR_STACK, &home);
    coro_resume(cc);
    gc_remove_stack(stack);
    tc_collect_clean();
    tc_collect_clean();
    int dead = rt_count_dead(&g_ctl);
    TC_CHECK(dead >= RT_N - RT_SLACK, "control: %d of %d objects of a coroutine whose stack was removed were reclaimed",
             dead, RT_N);
    free(stack);
    free(cc);
    free(cs);
    printf("     coroutine_registered: %ld collections by the collector thread; control: %d of %d reclaimed\n",
           collections, dead, RT_N);
}

/* ------------------------------------------------------------------------ */
/* coroutine_undeclared                                                      */
/* ------------------------------------------------------------------------ */

static char *volatile g_gc_stack; /* a collected stack, reachable from here */
static char *volatile g_gc_stack2;

/* An mmap'd stack with a PROT_NONE guard page below it. */
static char *mmap_stack(size_t size)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, size + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    TC_CHECK(m != MAP_FAILED, "mmap(%zu): %s", size + pg, strerror(errno));
    TC_CHECK(mprotect(m, pg, PROT_NONE) == 0, "mprotect: %s", strerror(errno));
    return m + pg;
}

static void munmap_stack(char *s, size_t size)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    munmap(s - pg, size + pg);
}

struct undecl_arg {
    char *stack;
    const char *what;
    uint64_t seed;
};

static void *undeclared_thread(void *arg)
{
    struct undecl_arg *a = arg;
    run_collect(a->stack, CO_STACK, BY_NONE, false, a->seed, a->what);
    return NULL;
}

static struct coro g_ud[2];

static void test_coroutine_undeclared(void)
{
    guard(110);
    collector_start();

    char *m = mmap_stack(CO_STACK);
    doing("an undeclared coroutine on an mmap'd stack, main thread");
    run_collect(m, CO_STACK, BY_NONE, false, 40000, "undeclared coroutine on an mmap'd stack, main thread");
    doing("an undeclared coroutine on an mmap'd stack, second thread");
    struct undecl_arg a1 = {m, "undeclared coroutine on an mmap'd stack, second thread", 41000};
    tc_join(tc_thread(undeclared_thread, &a1));

    g_gc_stack = gc_alloc(CO_STACK);
    TC_CHECK(g_gc_stack != NULL, "gc_alloc(%zu)", CO_STACK);
    doing("an undeclared coroutine on a gc_alloc'd stack, main thread");
    run_collect(g_gc_stack, CO_STACK, BY_NONE, false, 42000, "undeclared coroutine on a gc_alloc'd stack, main thread");
    doing("an undeclared coroutine on a gc_alloc'd stack, second thread");
    struct undecl_arg a2 = {g_gc_stack, "undeclared coroutine on a gc_alloc'd stack, second thread", 43000};
    tc_join(tc_thread(undeclared_thread, &a2));

    /* Suspended: the mmap'd stack registered, the collected one reachable from a global. */
    doing("suspended undeclared coroutines");
    ucontext_t home;
    char *m2 = mmap_stack(RR_STACK);
    gc_add_roots(m2, RR_STACK);
    g_gc_stack2 = gc_alloc(RR_STACK);
    TC_CHECK(g_gc_stack2 != NULL, "gc_alloc(%zu)", RR_STACK);
    char *stacks[2] = {m2, g_gc_stack2};
    static const char *const whats[2] = {"suspended undeclared coroutine on an mmap'd stack under gc_add_roots",
                                         "suspended undeclared coroutine on a gc_alloc'd stack held by a global"};
    for (int i = 0; i < 2; i++) {
        g_ud[i].who = BY_NONE;
        g_ud[i].top_only = false;
        g_ud[i].body = body_rr;
        g_ud[i].seed = 44000 + (uint64_t)i * 100;
        g_ud[i].n = 3000;
        g_ud[i].rounds = RR_ROUNDS;
        g_ud[i].what = whats[i];
        coro_init(&g_ud[i], stacks[i], RR_STACK, &home);
    }
    stacks[0] = stacks[1] = NULL;
    round_robin(g_ud, 2, RR_ROUNDS);
    gc_remove_roots(m2, RR_STACK);
    munmap_stack(m2, RR_STACK);
    munmap_stack(m, CO_STACK);
    g_gc_stack = g_gc_stack2 = NULL;
    collector_stop();
    printf("     coroutine_undeclared: %ld collections by the collector thread\n", (long)atomic_load(&g_collections));
}

/* ------------------------------------------------------------------------ */
/* get_stack                                                                 */
/* ------------------------------------------------------------------------ */

/* The calling thread's bounds: found, with lo known, holding a local. */
TC_NOINLINE static void own_stack(const char *who, void **lo_out, void **hi_out)
{
    volatile char here = 0;
    void *lo = (void *)1, *hi = (void *)1;
    int r = gc_get_stack(&lo, &hi);
    TC_CHECK(r == 0, "%s: gc_get_stack returned %d", who, r);
    TC_CHECK(lo != NULL, "%s: gc_get_stack gave lo NULL for the thread's own stack (hi %p)", who, hi);
    TC_CHECK((char *)lo <= (char *)&here && (char *)&here < (char *)hi,
             "%s: gc_get_stack gave [%p, %p), which does not hold the local at %p", who, lo, hi, (void *)&here);
    if (lo_out)
        *lo_out = lo;
    if (hi_out)
        *hi_out = hi;
    (void)here;
}

/* Inside a coroutine the resumer declared: exactly the declared bounds; then
 * re-declared with its top only, and back. */
TC_NOINLINE static void body_getstack(struct coro *c)
{
    volatile char here = 0;
    void *lo = (void *)1, *hi = (void *)1;
    char *top = c->stack + c->size;
    TC_CHECK(gc_get_stack(&lo, &hi) == 0, "%s: gc_get_stack failed", c->what);
    if (c->top_only)
        TC_CHECK(lo == NULL && hi == top, "%s: declared [NULL, %p), gc_get_stack gives [%p, %p)", c->what,
                 (void *)top, lo, hi);
    else
        TC_CHECK(lo == c->stack && hi == top, "%s: declared [%p, %p), gc_get_stack gives [%p, %p)", c->what,
                 (void *)c->stack, (void *)top, lo, hi);
    TC_CHECK((char *)&here < (char *)hi, "%s: the local at %p is not below hi %p", c->what, (void *)&here, hi);

    gc_set_stack(NULL, top);
    lo = hi = (void *)1;
    TC_CHECK(gc_get_stack(&lo, &hi) == 0, "%s: gc_get_stack failed after gc_set_stack(NULL, hi)", c->what);
    TC_CHECK(lo == NULL && hi == top, "%s: after gc_set_stack(NULL, %p), gc_get_stack gives [%p, %p)", c->what,
             (void *)top, lo, hi);

    gc_set_stack(c->stack, top);
    lo = hi = (void *)1;
    TC_CHECK(gc_get_stack(&lo, &hi) == 0, "%s: gc_get_stack failed after gc_set_stack(lo, hi)", c->what);
    TC_CHECK(lo == c->stack && hi == top, "%s: after gc_set_stack(%p, %p), gc_get_stack gives [%p, %p)", c->what,
             (void *)c->stack, (void *)top, lo, hi);
    (void)here;
}

/* Inside an undeclared coroutine: the collector scans the mapping around the
 * stack pointer, so the stack it sees holds the local. */
TC_NOINLINE static void body_getstack_undeclared(struct coro *c)
{
    volatile char here = 0;
    void *lo = (void *)1, *hi = (void *)1;
    TC_CHECK(gc_get_stack(&lo, &hi) == 0, "%s: gc_get_stack failed", c->what);
    TC_CHECK((char *)&here < (char *)hi && (lo == NULL || (char *)lo <= (char *)&here),
             "%s (the stack [%p, %p)): gc_get_stack gives [%p, %p), which does not hold the local at %p", c->what,
             (void *)c->stack, (void *)(c->stack + c->size), lo, hi, (void *)&here);
    (void)here;
}

/* In the calling thread: its own bounds, a declared coroutine's (both forms),
 * its own again. */
static void getstack_in_thread(const char *where)
{
    void *lo0, *hi0, *lo1, *hi1;
    own_stack(where, &lo0, &hi0);
    for (int top_only = 0; top_only <= 1; top_only++) {
        ucontext_t home;
        char what[160];
        snprintf(what, sizeof what, "a coroutine declared %s by the resumer, in %s",
                 top_only ? "with its top only" : "with [lo, hi)", where);
        struct coro *c = calloc(1, sizeof *c);
        char *stack = malloc(RR_STACK);
        TC_CHECK(c && stack, "malloc");
        c->who = BY_RESUMER;
        c->top_only = top_only;
        c->body = body_getstack;
        c->what = what;
        coro_init(c, stack, RR_STACK, &home);
        coro_resume(c);
        TC_CHECK(c->finished, "%s: did not finish", what);
        own_stack(where, &lo1, &hi1);
        TC_CHECK(lo1 == lo0 && hi1 == hi0,
                 "%s: after gc_set_stack(NULL, NULL) gc_get_stack gives [%p, %p), not the thread's own [%p, %p)",
                 where, lo1, hi1, lo0, hi0);
        free(stack);
        free(c);
    }
}

static void *getstack_thread(void *arg)
{
    void **main_bounds = arg;
    void *lo, *hi;
    own_stack("a second thread", &lo, &hi);
    TC_CHECK(lo != main_bounds[0] || hi != main_bounds[1],
             "a second thread: gc_get_stack gives the main thread's bounds [%p, %p)", lo, hi);
    getstack_in_thread("a second thread");
    return NULL;
}

static void *userstack_thread(void *arg)
{
    char *stk = arg;
    void *lo, *hi;
    own_stack("a thread on a stack given with pthread_attr_setstack", &lo, &hi);
    TC_CHECK((char *)lo >= stk && (char *)hi <= stk + CO_STACK,
             "a thread on the stack [%p, %p) given with pthread_attr_setstack: gc_get_stack gives [%p, %p)",
             (void *)stk, (void *)(stk + CO_STACK), lo, hi);
    return NULL;
}

static rt_set g_gs_set;
static tc_event g_gs_ready, g_gs_cont;

TC_NOINLINE static void unhide_into(const rt_set *s, void *volatile *slots)
{
    for (int i = 0; i < s->n; i++)
        slots[i] = tc_unhide(s->hid[i]);
}

static void *unregistered_thread(void *arg)
{
    (void)arg;
    void *volatile slots[RT_N];
    gc_unregister_thread();
    own_stack("a thread after gc_unregister_thread (gc_get_stack registers it)", NULL, NULL);
    unhide_into(&g_gs_set, slots);
    tc_clear_stack();
    tc_event_post(&g_gs_ready);
    tc_event_wait(&g_gs_cont); /* main collects */
    rt_verify(&g_gs_set, slots,
              "objects held only on the stack of a thread that gc_get_stack registered again after it unregistered");
    return NULL;
}

static void test_get_stack(void)
{
    guard(60);
    void *bounds[2];
    own_stack("the main thread", &bounds[0], &bounds[1]);
    getstack_in_thread("the main thread");
    tc_join(tc_thread(getstack_thread, bounds));

    char *stk = mmap_stack(CO_STACK);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    TC_CHECK(pthread_attr_setstack(&attr, stk, CO_STACK) == 0, "pthread_attr_setstack");
    pthread_t t;
    int e = pthread_create(&t, &attr, userstack_thread, stk);
    TC_CHECK(e == 0, "pthread_create on a stack of the program's: %s", strerror(e));
    tc_join(t);
    pthread_attr_destroy(&attr);

    doing("a thread registered again by gc_get_stack");
    tc_event_init(&g_gs_ready);
    tc_event_init(&g_gs_cont);
    rt_populate_hidden(&g_gs_set, RT_N, RT_SIZE, 3300);
    t = tc_thread(unregistered_thread, NULL);
    tc_event_wait(&g_gs_ready);
    tc_collect_churn(RT_SIZE, 8 * RT_N, 4);
    tc_event_post(&g_gs_cont);
    tc_join(t);
    munmap_stack(stk, CO_STACK);
}

static void test_get_stack_undeclared(void)
{
    guard(60);
    char *stk = mmap_stack(CO_STACK);
    ucontext_t home;
    static struct coro c;
    c.who = BY_NONE;
    c.body = body_getstack_undeclared;
    c.what = "an undeclared coroutine on an mmap'd stack";
    coro_init(&c, stk, CO_STACK, &home);
    coro_resume(&c);
    TC_CHECK(c.finished, "the undeclared coroutine did not finish");
    munmap_stack(stk, CO_STACK);
}

/* ------------------------------------------------------------------------ */
/* blocking                                                                  */
/* ------------------------------------------------------------------------ */

#define BL_N 5000
#define BL_SEED 50000
#define BL_SEED2 51000
#define BL_SEED3 52000
#define BL_RET ((void *)(uintptr_t)0x5ca1ab1e)

static tc_event g_bl_blocked, g_bl_release, g_po_blocked, g_po_release;

struct bjob {
    struct lnode *volatile from_active; /* in the frame above gc_do_blocking */
    int active_ran;
};

static void *active_fn(void *arg)
{
    struct bjob *j = arg;
    j->from_active = list_build(BL_SEED2, BL_N);
    tc_clear_stack();
    gc_collect();
    list_verify(j->from_active, BL_SEED2, BL_N, "a list allocated in gc_call_active, after its own gc_collect");
    j->active_ran++;
    return j;
}

/* Runs blocked: touches no collected memory, allocates only through
 * gc_call_active (with the signal mask restored: a running thread must be
 * stoppable). */
static void *blocked_fn(void *arg)
{
    struct bjob *j = arg;
    sigset_t all, old;
    memset(&all, 0xff, sizeof all);
    memset(&old, 0, sizeof old);
    TC_CHECK(raw_sigmask(SIG_BLOCK, &all, &old) == 0, "rt_sigprocmask: %s", strerror(errno));
    tc_event_post(&g_bl_blocked);
    tc_event_wait(&g_bl_release); /* read(2) with every signal blocked */
    TC_CHECK(raw_sigmask(SIG_SETMASK, &old, NULL) == 0, "rt_sigprocmask: %s", strerror(errno));
    void *r = gc_call_active(active_fn, j);
    TC_CHECK(r == j, "gc_call_active returned %p, not its fn's value %p", r, (void *)j);
    TC_CHECK(raw_sigmask(SIG_BLOCK, &all, NULL) == 0, "rt_sigprocmask: %s", strerror(errno));
    tc_event_post(&g_bl_blocked);
    tc_event_wait(&g_bl_release);
    TC_CHECK(raw_sigmask(SIG_SETMASK, &old, NULL) == 0, "rt_sigprocmask: %s", strerror(errno));
    return BL_RET;
}

static void *blocker_main(void *arg)
{
    (void)arg;
    struct bjob job = {NULL, 0};
    struct lnode *volatile held = list_build(BL_SEED, BL_N);
    tc_clear_stack();
    void *r = gc_do_blocking(blocked_fn, &job);
    TC_CHECK(r == BL_RET, "gc_do_blocking returned %p, not its fn's value %p", r, BL_RET);
    TC_CHECK(job.active_ran == 1, "gc_call_active ran its fn %d times", job.active_ran);
    list_verify(held, BL_SEED, BL_N,
                "a list held only in the frame above gc_do_blocking, after 40 collections while blocked");
    list_verify(job.from_active, BL_SEED2, BL_N,
                "the list gc_call_active allocated, held above gc_do_blocking while the thread blocked again");
    return NULL;
}

/* Blocked in poll(2) with signals unblocked: a signal would make it fail with
 * EINTR (poll is never restarted). */
static atomic_int g_po_eintr;

static void *poll_fn(void *arg)
{
    (void)arg;
    tc_event_post(&g_po_blocked);
    struct pollfd p = {g_po_release.fd[0], POLLIN, 0};
    for (;;) {
        int r = poll(&p, 1, -1);
        if (r == 1)
            break;
        if (r < 0 && errno == EINTR) {
            atomic_fetch_add(&g_po_eintr, 1);
            continue;
        }
        TC_FAIL("poll: %s", r < 0 ? strerror(errno) : "returned 0");
    }
    return BL_RET;
}

static void *poller_main(void *arg)
{
    (void)arg;
    struct lnode *volatile held = list_build(BL_SEED3, BL_N);
    tc_clear_stack();
    void *r = gc_do_blocking(poll_fn, NULL);
    TC_CHECK(r == BL_RET, "gc_do_blocking returned %p, not its fn's value %p", r, BL_RET);
    tc_event_wait(&g_po_release);
    list_verify(held, BL_SEED3, BL_N, "a list held above gc_do_blocking by a thread in poll(2)");
    return NULL;
}

static void *plain_fn(void *arg)
{
    struct lnode *volatile l = list_build(BL_SEED3 + 7, 100);
    list_verify(l, BL_SEED3 + 7, 100, "a list allocated in gc_call_active outside gc_do_blocking");
    return (char *)arg + 1;
}

static void test_blocking(void)
{
    guard(90);
    static char x[2];
    void *r = gc_call_active(plain_fn, x);
    TC_CHECK(r == x + 1, "gc_call_active outside gc_do_blocking returned %p, not its fn's value %p", r,
             (void *)(x + 1));

    tc_event_init(&g_bl_blocked);
    tc_event_init(&g_bl_release);
    tc_event_init(&g_po_blocked);
    tc_event_init(&g_po_release);
    pthread_t tb = tc_thread(blocker_main, NULL);
    pthread_t tp = tc_thread(poller_main, NULL);
    tc_event_wait(&g_bl_blocked);
    tc_event_wait(&g_po_blocked);

    uint32_t gc0 = num_gc();
    doing("collecting while a thread in gc_do_blocking has every signal blocked (raw rt_sigprocmask)");
    tc_collect_churn(NODE_SIZE, 5000, 20);
    tc_event_post(&g_bl_release);
    doing("waiting for the blocked thread to come back from gc_call_active");
    tc_event_wait(&g_bl_blocked);
    doing("collecting while the thread is blocked again");
    tc_collect_churn(NODE_SIZE, 5000, 20);
    uint32_t gcs = num_gc() - gc0;
    tc_event_post(&g_bl_release);
    tc_event_post(&g_po_release);
    tc_join(tb);
    tc_join(tp);
    TC_CHECK(gcs >= 40, "only %u collections completed while the threads were blocked", gcs);
    TC_CHECK(atomic_load(&g_po_eintr) == 0,
             "poll(2) in gc_do_blocking failed with EINTR %d times: the collector signalled a blocked thread",
             (int)atomic_load(&g_po_eintr));
    printf("     blocking: %u collections while the threads were blocked\n", gcs);
}

/* ------------------------------------------------------------------------ */
/* sigmask                                                                   */
/* ------------------------------------------------------------------------ */

static atomic_int g_sm_phase;    /* 0: allocate; 1: sigwait */
static atomic_long g_sm_rounds[2];
static tc_event g_sm_waiting[2];

static void sm_check_mask(const char *how)
{
    int stop = gc_stop_signal();
    sigset_t cur, kern;
    sigemptyset(&cur);
    TC_CHECK(pthread_sigmask(SIG_SETMASK, NULL, &cur) == 0, "%s: pthread_sigmask query failed", how);
    TC_CHECK(!sigismember(&cur, stop),
             "%s: pthread_sigmask(SIG_SETMASK, NULL, &old) shows the stop signal %d (%s) blocked", how, stop,
             strsignal(stop));
    TC_CHECK(sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGINT) && sigismember(&cur, SIGTERM),
             "%s: the other signals are not blocked (SIGUSR1 %d, SIGINT %d, SIGTERM %d)", how,
             sigismember(&cur, SIGUSR1), sigismember(&cur, SIGINT), sigismember(&cur, SIGTERM));
    sigemptyset(&kern);
    TC_CHECK(raw_sigmask(SIG_BLOCK, NULL, &kern) == 0, "rt_sigprocmask query: %s", strerror(errno));
    TC_CHECK(!sigismember(&kern, stop), "%s: the kernel's mask has the stop signal %d (%s) blocked", how, stop,
             strsignal(stop));
    TC_CHECK(sigismember(&kern, SIGUSR1), "%s: the kernel's mask does not have SIGUSR1 blocked", how);
}

static void *sm_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    sigset_t all, old;
    sigfillset(&all);
    if (id == 0) {
        TC_CHECK(pthread_sigmask(SIG_BLOCK, &all, NULL) == 0, "pthread_sigmask(SIG_BLOCK)");
        sm_check_mask("after pthread_sigmask(SIG_BLOCK, full set)");
        sigemptyset(&old);
        TC_CHECK(pthread_sigmask(SIG_SETMASK, &all, &old) == 0, "pthread_sigmask(SIG_SETMASK)");
        TC_CHECK(!sigismember(&old, gc_stop_signal()), "pthread_sigmask(SIG_SETMASK, full, &old): old has the stop "
                                                       "signal blocked");
        sm_check_mask("after pthread_sigmask(SIG_SETMASK, full set)");
    } else {
        TC_CHECK(sigprocmask(SIG_BLOCK, &all, NULL) == 0, "sigprocmask(SIG_BLOCK)");
        sm_check_mask("after sigprocmask(SIG_BLOCK, full set)");
        sigemptyset(&old);
        TC_CHECK(sigprocmask(SIG_SETMASK, &all, &old) == 0, "sigprocmask(SIG_SETMASK)");
        TC_CHECK(!sigismember(&old, gc_stop_signal()), "sigprocmask(SIG_SETMASK, full, &old): old has the stop "
                                                       "signal blocked");
        sm_check_mask("after sigprocmask(SIG_SETMASK, full set)");
    }
    const char *who = id == 0 ? "a thread that blocked every signal with pthread_sigmask"
                              : "a thread that blocked every signal with sigprocmask";
    uint64_t seed = 60000 + (uint64_t)id * 10000;
    struct lnode *volatile prev = NULL;
    uint64_t prev_seed = 0;
    long r = 0;
    for (; atomic_load(&g_sm_phase) == 0; r++) {
        uint64_t s = seed + (uint64_t)r;
        struct lnode *volatile cur = list_build(s, 2000);
        tc_churn(NODE_SIZE, 2000);
        list_verify(cur, s, 2000, who);
        if (prev)
            list_verify(prev, prev_seed, 2000, who);
        prev = cur;
        prev_seed = s;
        atomic_fetch_add(&g_sm_rounds[id], 1);
    }
    /* The sigwait pattern. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    for (int k = 0; k < 3; k++) {
        tc_event_post(&g_sm_waiting[id]);
        int sig = 0;
        int e = sigwait(&usr1, &sig);
        TC_CHECK(e == 0 && sig == SIGUSR1, "sigwait: %s, signal %d", strerror(e), sig);
        list_verify(prev, prev_seed, 2000, who);
    }
    return NULL;
}

static void test_sigmask(void)
{
    guard(90);
    const char *env = getenv("TRICOLOR_STOP_SIGNAL");
    TC_CHECK((env && *env) || gc_stop_signal() == SIGPWR, "gc_stop_signal() = %d, want SIGPWR (%d)",
             gc_stop_signal(), SIGPWR);
    for (int i = 0; i < 2; i++)
        tc_event_init(&g_sm_waiting[i]);
    atomic_store(&g_sm_phase, 0);
    collector_start();
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        t[i] = tc_thread(sm_thread, (void *)(intptr_t)i);
    doing("collecting while threads that blocked every signal allocate");
    long c0 = atomic_load(&g_collections);
    while (atomic_load(&g_collections) - c0 < 30 || atomic_load(&g_sm_rounds[0]) < 10 ||
           atomic_load(&g_sm_rounds[1]) < 10)
        tc_sleep_ms(2);
    atomic_store(&g_sm_phase, 1);
    collector_stop();
    doing("collecting while threads that blocked every signal wait in sigwait");
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 2; i++)
            tc_event_wait(&g_sm_waiting[i]);
        tc_collect_churn(NODE_SIZE, 5000, 5);
        for (int i = 0; i < 2; i++)
            TC_CHECK(pthread_kill(t[i], SIGUSR1) == 0, "pthread_kill");
    }
    for (int i = 0; i < 2; i++)
        tc_join(t[i]);
    printf("     sigmask: %ld + %ld rounds, %ld collections by the collector thread\n",
           (long)atomic_load(&g_sm_rounds[0]), (long)atomic_load(&g_sm_rounds[1]),
           (long)(atomic_load(&g_collections) - c0));
}

/* ------------------------------------------------------------------------ */
/* raw_block                                                                 */
/* ------------------------------------------------------------------------ */

#define RB_NAME "tc-rawblocker"
static atomic_int g_rb_ready;

static void *rb_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), RB_NAME);
    tc_sink = gc_alloc(64);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, gc_stop_signal());
    if (raw_sigmask(SIG_BLOCK, &s, NULL) != 0) {
        perror("rt_sigprocmask");
        _exit(3);
    }
    printf("TID %d\n", (int)gettid());
    fflush(stdout);
    atomic_store(&g_rb_ready, 1);
    for (volatile unsigned long i = 0;; i++)
        ;
    return NULL;
}

static int child_raw_block(void)
{
    tc_sink = gc_alloc(64);
    tc_thread(rb_thread, NULL);
    while (!atomic_load(&g_rb_ready))
        sched_yield();
    printf("COLLECTING\n");
    fflush(stdout);
    gc_collect();
    printf("RETURNED\n");
    fflush(stdout);
    return 0;
}

static void test_raw_block(void)
{
    tc_child c;
    const char *args[] = {"--child", "raw_block", NULL};
    tc_run_self(&c, args, NULL, 30);
    TC_CHECK(strstr(c.out, "COLLECTING") != NULL, "the child did not get to gc_collect (%s); stdout:\n%s\nstderr:\n%s",
             tc_status_str(c.status), c.out, c.err);
    TC_CHECK(!(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGALRM),
             "the child hung in gc_collect (killed after 30 s) with a registered thread blocking the stop signal; "
             "stderr:\n%s",
             c.err);
    TC_CHECK(strstr(c.out, "RETURNED") == NULL,
             "gc_collect returned although a registered thread blocks the stop signal; stderr:\n%s", c.err);
    TC_CHECK(!(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0), "the child exited 0; stderr:\n%s", c.err);
    char tid[32] = "";
    const char *tp = strstr(c.out, "TID ");
    TC_CHECK(tp && sscanf(tp, "TID %31s", tid) == 1, "the child printed no tid; stdout:\n%s", c.out);
    int named = strstr(c.err, RB_NAME) != NULL, by_tid = strstr(c.err, tid) != NULL;
    TC_CHECK(named || by_tid, "stderr names the thread neither by its name \"%s\" nor by its tid %s (%s):\n%s",
             RB_NAME, tid, tc_status_str(c.status), c.err);
    /* The wording (threads.c), with the signal by its usual name. */
    char want[256];
    const char *abbrev = sigabbrev_np(gc_stop_signal());
    snprintf(want, sizeof want,
             "tricolor: thread %s (\"%s\") blocks SIG%s, the signal that stops threads for a collection, so it "
             "can be neither stopped nor skipped",
             tid, RB_NAME, abbrev ? abbrev : "?");
    TC_CHECK(strstr(c.err, want) != NULL, "stderr does not say\n  %s\nbut:\n%s", want, c.err);
    TC_CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT, "the child %s, want killed by SIGABRT",
             tc_status_str(c.status));
    printf("     raw_block: the child %s; stderr names the thread by %s:\n%s", tc_status_str(c.status),
           named && by_tid ? "name and tid" : named ? "name" : "tid", c.err);
    if (c.err[0] && c.err[strlen(c.err) - 1] != '\n')
        printf("\n");
    tc_child_free(&c);
}

/* ------------------------------------------------------------------------ */
/* stop_signal                                                               */
/* ------------------------------------------------------------------------ */

static atomic_long g_pwr_count;
static atomic_int g_pwr_tid;

static void on_pwr(int sig)
{
    (void)sig;
    atomic_store(&g_pwr_tid, (int)gettid());
    atomic_fetch_add(&g_pwr_count, 1);
}

static void install_pwr(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_pwr;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    TC_CHECK(sigaction(SIGPWR, &sa, NULL) == 0, "sigaction(SIGPWR): %s", strerror(errno));
}

#define SW_N 3
struct sw {
    pthread_t th;
    atomic_int tid;
    atomic_long rounds;
    int id;
};
static struct sw g_sw[SW_N];
static atomic_int g_sw_stop;

static void *sw_worker(void *arg)
{
    struct sw *w = arg;
    atomic_store(&w->tid, (int)gettid());
    uint64_t seed = 70000 + (uint64_t)w->id * 10000, prev_seed = 0;
    size_t prev_n = 0;
    struct lnode *volatile prev = NULL;
    for (long r = 0; !atomic_load(&g_sw_stop); r++) {
        uint64_t s = seed + (uint64_t)r;
        size_t n = 500 + (size_t)r % 700;
        struct lnode *volatile cur = list_build(s, n);
        tc_churn(NODE_SIZE, 300);
        if (r % 8 == w->id)
            gc_collect();
        list_verify(cur, s, n, "a worker's list");
        if (prev)
            list_verify(prev, prev_seed, prev_n, "a worker's previous list");
        prev = cur;
        prev_seed = s;
        prev_n = n;
        atomic_fetch_add(&w->rounds, 1);
    }
    return NULL;
}

/* 3 workers and a collector thread; with send_pwr, 120 SIGPWRs one at a time
 * to the workers and to the main thread, each counted by the program's
 * handler on the thread it was sent to.  Returns how many were sent. */
static long sig_workload(bool send_pwr)
{
    atomic_store(&g_sw_stop, 0);
    collector_start();
    for (int i = 0; i < SW_N; i++) {
        g_sw[i].id = i;
        g_sw[i].th = tc_thread(sw_worker, &g_sw[i]);
    }
    for (int i = 0; i < SW_N; i++)
        while (atomic_load(&g_sw[i].tid) == 0)
            sched_yield();
    long c0 = atomic_load(&g_collections), sent = 0;
    for (;;) {
        bool enough = atomic_load(&g_collections) - c0 >= 20;
        for (int i = 0; i < SW_N; i++)
            enough = enough && atomic_load(&g_sw[i].rounds) >= 30;
        if (enough && (!send_pwr || sent >= 120))
            break;
        if (!send_pwr || sent >= 120) {
            tc_sleep_ms(2);
            continue;
        }
        int k = (int)(sent % (SW_N + 1)), want_tid;
        if (k == SW_N) {
            want_tid = (int)gettid();
            TC_CHECK(raise(SIGPWR) == 0, "raise(SIGPWR)");
        } else {
            want_tid = atomic_load(&g_sw[k].tid);
            int e = pthread_kill(g_sw[k].th, SIGPWR);
            TC_CHECK(e == 0, "pthread_kill(SIGPWR): %s", strerror(e));
        }
        sent++;
        while (atomic_load(&g_pwr_count) < sent)
            sched_yield();
        TC_CHECK(atomic_load(&g_pwr_count) == sent, "the program's SIGPWR handler ran %ld times for %ld signals",
                 (long)atomic_load(&g_pwr_count), sent);
        TC_CHECK(atomic_load(&g_pwr_tid) == want_tid, "SIGPWR sent to thread %d was handled on thread %d", want_tid,
                 (int)atomic_load(&g_pwr_tid));
        if (sent % 10 == 0)
            tc_sleep_ms(1);
    }
    atomic_store(&g_sw_stop, 1);
    for (int i = 0; i < SW_N; i++)
        tc_join(g_sw[i].th);
    collector_stop();
    return sent;
}

/* The library's handler is on sig, with SA_RESTART. */
static void check_stop_handler(int sig)
{
    struct sigaction cur;
    TC_CHECK(sigaction(sig, NULL, &cur) == 0, "sigaction query");
    TC_CHECK(cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN, "no handler is installed on the stop signal %d",
             sig);
    TC_CHECK(cur.sa_flags & SA_RESTART, "the stop signal %d's handler is installed without SA_RESTART", sig);
}

static void check_pwr_still_ours(void)
{
    struct sigaction cur;
    TC_CHECK(sigaction(SIGPWR, NULL, &cur) == 0, "sigaction query");
    TC_CHECK(!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == on_pwr,
             "the program's SIGPWR handler was replaced");
}

/* With TRICOLOR_STOP_SIGNAL in the environment (or not: want SIGPWR). */
static int child_stop_env(int want)
{
    tc_current = "stop_signal child";
    const char *env = getenv("TRICOLOR_STOP_SIGNAL");
    bool pwr_free = want != SIGPWR;
    if (pwr_free)
        install_pwr(); /* before the library's first use */
    int s = gc_stop_signal();
    TC_CHECK(s == want, "gc_stop_signal() = %d, want %d (TRICOLOR_STOP_SIGNAL=%s)", s, want, env ? env : "(unset)");
    tc_sink = gc_alloc(16);
    gc_collect();
    check_stop_handler(want);
    long sent = sig_workload(pwr_free);
    if (pwr_free) {
        check_pwr_still_ours();
        TC_CHECK(atomic_load(&g_pwr_count) == sent, "the program's SIGPWR handler counted %ld of %ld",
                 (long)atomic_load(&g_pwr_count), sent);
    }
    TC_CHECK(gc_stop_signal() == want, "gc_stop_signal() changed to %d", gc_stop_signal());
    /* The wrapped pthread_sigmask keeps this signal unblocked, and SIGPWR no longer. */
    sigset_t all, old, kern;
    sigfillset(&all);
    sigemptyset(&kern);
    TC_CHECK(pthread_sigmask(SIG_BLOCK, &all, &old) == 0, "pthread_sigmask");
    TC_CHECK(raw_sigmask(SIG_BLOCK, NULL, &kern) == 0, "rt_sigprocmask query");
    TC_CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0, "pthread_sigmask");
    TC_CHECK(!sigismember(&kern, want), "pthread_sigmask(SIG_BLOCK, full set) blocked the stop signal %d", want);
    TC_CHECK(want == SIGPWR || sigismember(&kern, SIGPWR),
             "pthread_sigmask(SIG_BLOCK, full set) left SIGPWR unblocked, though the stop signal is %d", want);
    printf("OK stop signal %d (TRICOLOR_STOP_SIGNAL=%s), %ld SIGPWR sent and counted\n", s, env ? env : "(unset)",
           sent);
    return 0;
}

static int child_stop_set(void)
{
    tc_current = "stop_signal child (gc_set_stop_signal)";
    const int bad[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, 0, -1, NSIG, 1000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        int r = gc_set_stop_signal(bad[i]);
        int e = errno;
        TC_CHECK(r == -1 && e == EINVAL, "gc_set_stop_signal(%d) before first use returned %d, errno %s; want -1, EINVAL",
                 bad[i], r, strerror(e));
    }
    errno = 0;
    int r = gc_set_stop_signal(SIGUSR1);
    TC_CHECK(r == 0, "gc_set_stop_signal(SIGUSR1) before first use (after refused calls) returned %d, errno %s", r,
             strerror(errno));
    TC_CHECK(gc_stop_signal() == SIGUSR1, "after gc_set_stop_signal(SIGUSR1), gc_stop_signal() = %d",
             gc_stop_signal());
    install_pwr();
    tc_sink = gc_alloc(16);
    gc_collect();
    check_stop_handler(SIGUSR1);
    long sent = sig_workload(true);
    check_pwr_still_ours();
    errno = 0;
    r = gc_set_stop_signal(SIGUSR2);
    int e = errno;
    TC_CHECK(r == -1 && e == EBUSY, "gc_set_stop_signal(SIGUSR2) after use returned %d, errno %s; want -1, EBUSY", r,
             strerror(e));
    TC_CHECK(gc_stop_signal() == SIGUSR1, "after a refused gc_set_stop_signal, gc_stop_signal() = %d",
             gc_stop_signal());
    printf("OK gc_set_stop_signal(SIGUSR1), %ld SIGPWR sent and counted\n", sent);
    return 0;
}

static void run_stop_child(const char *mode, const char *env, int want)
{
    tc_child c;
    char want_s[16];
    snprintf(want_s, sizeof want_s, "%d", want);
    const char *args[] = {"--child", mode, want_s, NULL};
    const char *envv[] = {env, NULL};
    tc_run_self(&c, args, envv, 60);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 && strstr(c.out, "OK"),
             "the %s child with %s %s; stdout:\n%s\nstderr:\n%s", mode, env, tc_status_str(c.status), c.out, c.err);
    printf("     %s", c.out);
    tc_child_free(&c);
}

static void test_stop_signal(void)
{
    char num[64], rt[64];
    snprintf(num, sizeof num, "TRICOLOR_STOP_SIGNAL=%d", SIGUSR2);
    run_stop_child("stop_env", "TRICOLOR_STOP_SIGNAL=SIGUSR2", SIGUSR2);
    run_stop_child("stop_env", num, SIGUSR2);
    snprintf(rt, sizeof rt, "TRICOLOR_STOP_SIGNAL=SIGRTMIN+3");
    run_stop_child("stop_env", rt, SIGRTMIN + 3);
    run_stop_child("stop_env", "TRICOLOR_STOP_SIGNAL", SIGPWR);
    run_stop_child("stop_set", "TRICOLOR_STOP_SIGNAL", SIGUSR1);
    tc_sink = gc_alloc(16);
    errno = 0;
    int r = gc_set_stop_signal(SIGUSR1), e = errno;
    TC_CHECK(r == -1 && e == EBUSY, "gc_set_stop_signal(SIGUSR1) after use returned %d, errno %s; want -1, EBUSY", r,
             strerror(e));
}

/* ------------------------------------------------------------------------ */
/* fork_backend                                                              */
/* ------------------------------------------------------------------------ */

#define FB_WORDS 4096 /* 32 KiB: a transfer fits in the pipe */
#define FB_RING 64
#define FB_LIST_N 20000
#define FB_SEED 80000

struct fbrec {
    uint64_t *buf;
    size_t cap, words;
    uint64_t seed;
};

static struct lnode *volatile g_fb_list;
static uintptr_t g_fb_src[FB_WORDS]; /* global: scanned while its pointers are in flight */
static struct fbrec g_fb_ring[FB_RING];
static bool g_fb_mprotect;
static long g_fb_efaults;

/* Word j of a transfer: a pointer to a fresh node every 8th word, else a word
 * that is never an address. */
static uint64_t fb_word(uint64_t seed, size_t j) { return tc_mix(seed * 8191 + j) | 0xa000000000000000ull; }
static uint64_t fb_node_seed(uint64_t seed, size_t j) { return seed * 8191 + j; }

TC_NOINLINE static void fb_fill_src(uint64_t seed, size_t words)
{
    for (size_t j = 0; j < words; j++)
        g_fb_src[j] = j % 8 == 0 ? (uintptr_t)list_build(fb_node_seed(seed, j), 1) : fb_word(seed, j);
}

TC_NOINLINE static void fb_clear_src(size_t words)
{
    for (size_t j = 0; j < words; j += 8)
        g_fb_src[j] = 0;
}

static void fb_verify(const struct fbrec *r, const char *when)
{
    for (size_t j = 0; j < r->words; j++) {
        if (j % 8 == 0) {
            const struct lnode *x = (const struct lnode *)(uintptr_t)r->buf[j];
            TC_CHECK(gc_base(x) == x, "%s: word %zu of a buffer read(2) filled is %p, not a live node", when, j,
                     (const void *)x);
            TC_CHECK(x->next == NULL && x->key == node_key(fb_node_seed(r->seed, j), 0) &&
                         x->check == node_check(x->key),
                     "%s: the node at word %zu of a buffer read(2) filled was overwritten", when, j);
        } else {
            TC_CHECK(r->buf[j] == fb_word(r->seed, j), "%s: word %zu of %zu read(2) wrote is %#llx, want %#llx", when,
                     j, r->words, (unsigned long long)r->buf[j], (unsigned long long)fb_word(r->seed, j));
        }
    }
}

static void fb_transfer(int fd[2], uint64_t *dst, size_t words)
{
    size_t bytes = words * 8, put = 0, got = 0;
    while (put < bytes) {
        ssize_t w = write(fd[1], (const char *)g_fb_src + put, bytes - put);
        if (w < 0 && errno == EINTR)
            continue;
        TC_CHECK(w > 0, "write to the pipe: %s", w < 0 ? strerror(errno) : "0");
        put += (size_t)w;
    }
    while (got < bytes) {
        ssize_t r = read(fd[0], (char *)dst + got, bytes - got);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EFAULT && g_fb_mprotect) {
            /* tricolor.h's workaround for the mprotect backend */
            g_fb_efaults++;
            size_t pg = (size_t)sysconf(_SC_PAGESIZE);
            for (uintptr_t p = (uintptr_t)dst + got; p < (uintptr_t)dst + bytes; p = (p | (pg - 1)) + 1)
                *(volatile char *)p = *(volatile char *)p;
            continue;
        }
        TC_FAIL("read(2) of %zu bytes into a gc_alloc'd buffer in a fork child failed after %zu: %s", bytes, got,
                r < 0 ? strerror(errno) : "EOF");
    }
}

static void fb_child(void)
{
    alarm(60);
    tc_current = "fork_backend child";
    doing("the fork child's reads");
    list_verify(g_fb_list, FB_SEED, FB_LIST_N, "fork child: a list built before the fork");
    int fd[2];
    TC_CHECK(pipe(fd) == 0, "pipe: %s", strerror(errno));
    uint64_t rng = (uint64_t)getpid() * 2654435761u + 1;
    g_fb_efaults = 0;
    memset(g_fb_ring, 0, sizeof g_fb_ring);
    collector_start();
    long c0 = atomic_load(&g_collections), i;
    for (i = 0; i < 200000; i++) {
        if (i >= 1000 && atomic_load(&g_collections) - c0 >= 20)
            break;
        struct fbrec *r = &g_fb_ring[i % FB_RING];
        size_t words = 8 + (size_t)(tc_rand(&rng) % (FB_WORDS - 8));
        if (!r->buf || r->cap < words || tc_rand(&rng) % 2) {
            r->buf = gc_alloc(words * 8);
            TC_CHECK(r->buf != NULL, "gc_alloc(%zu)", words * 8);
            r->cap = words;
        }
        r->words = words;
        r->seed = ((uint64_t)getpid() << 24) + (uint64_t)i;
        fb_fill_src(r->seed, words);
        fb_transfer(fd, r->buf, words);
        fb_clear_src(words);
        fb_verify(r, "fork child, right after the read");
    }
    long collections = atomic_load(&g_collections) - c0;
    collector_stop();
    TC_CHECK(collections >= 20, "only %ld collections ran during %ld reads", collections, i);
    tc_collect_churn(NODE_SIZE, 20000, 3);
    for (int k = 0; k < FB_RING; k++)
        if (g_fb_ring[k].buf)
            fb_verify(&g_fb_ring[k], "fork child, after more collections");
    list_verify(g_fb_list, FB_SEED, FB_LIST_N, "fork child: a list built before the fork, at the end");
    printf("     fork child %d: %ld reads, %ld collections meanwhile, %ld EFAULT retries\n", (int)getpid(), i,
           collections, g_fb_efaults);
    fflush(stdout);
    _exit(0);
}

static void test_fork_backend(void)
{
    guard(110);
    const char *gd = getenv("GODEBUG");
    g_fb_mprotect = gd && strstr(gd, "gcwritetrack=mprotect");
    g_fb_list = list_build(FB_SEED, FB_LIST_N);
    tc_clear_stack();
    collector_start();
    for (int f = 0; f < 4; f++) {
        doing("using the heap with concurrent collections before a fork");
        await_collections(3);
        fflush(stdout);
        pid_t pid = fork();
        TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0)
            fb_child();
        doing("waiting for a fork child");
        int status = tc_wait(pid);
        TC_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork child %d %s", f, tc_status_str(status));
    }
    collector_stop();
    list_verify(g_fb_list, FB_SEED, FB_LIST_N, "the parent's list after the forks");
}

/* ------------------------------------------------------------------------ */
/* dlclose_marking                                                           */
/* ------------------------------------------------------------------------ */

typedef void *volatile *(*slots_fn)(void);
#define DL_ITERS 60
#define DL_QUICK 10
#define DL_OBJS 8

static atomic_int g_dl_stop;
static atomic_long g_dl_rounds;

static void *dl_allocator(void *arg)
{
    (void)arg;
    struct lnode *volatile prev = NULL;
    uint64_t prev_seed = 0;
    for (uint64_t r = 0; !atomic_load(&g_dl_stop); r++) {
        uint64_t s = 90000 + r;
        struct lnode *volatile cur = list_build(s, 2000);
        tc_churn(64, 4000);
        list_verify(cur, s, 2000, "the allocating thread's list");
        if (prev)
            list_verify(prev, prev_seed, 2000, "the allocating thread's previous list");
        prev = cur;
        prev_seed = s;
        atomic_fetch_add(&g_dl_rounds, 1);
    }
    return NULL;
}

static void *dl_load(slots_fn *bss, slots_fn *data)
{
    void *h = dlopen(LIBROOT_PATH, RTLD_NOW | RTLD_LOCAL);
    TC_CHECK(h != NULL, "dlopen(%s): %s", LIBROOT_PATH, dlerror());
    *bss = (slots_fn)dlsym(h, "libroot_bss_slots");
    *data = (slots_fn)dlsym(h, "libroot_data_slots");
    TC_CHECK(*bss && *data, "dlsym: %s", dlerror());
    return h;
}

/* Until n more collections have completed, making garbage of size bytes. */
TC_NOINLINE static void await_gcs(uint32_t n, size_t size)
{
    uint32_t target = num_gc() + n;
    while (num_gc() < target)
        tc_churn(size, 200);
}

static void test_dlclose_marking(void)
{
    guard(110);
    static rt_set sb, sd;
    uint32_t gc0 = num_gc();
    pthread_t a = tc_thread(dl_allocator, NULL);
    for (int it = 0; it < DL_ITERS; it++) {
        slots_fn bss, data;
        doing("dlopen and dlclose while another thread allocates");
        for (int q = 0; q < DL_QUICK; q++) {
            void *h = dl_load(&bss, &data);
            rt_populate(&sb, bss(), DL_OBJS, RT_SIZE, 0, 4000);
            TC_CHECK(dlclose(h) == 0, "dlclose: %s", dlerror());
        }
        doing("waiting for collections with roots in a dlopen'd library");
        void *h = dl_load(&bss, &data);
        rt_populate(&sb, bss(), DL_OBJS, RT_SIZE, 0, 4100 + (uint32_t)it * 16);
        rt_populate(&sd, data(), DL_OBJS, RT_SIZE, 8, 4600 + (uint32_t)it * 16);
        await_gcs(3, RT_SIZE);
        rt_verify(&sb, bss(), "objects held only in a dlopen'd library's .bss");
        rt_verify(&sd, data(), "objects held only in a dlopen'd library's .data (interior pointers)");
        if (it % 2 == 0)
            for (int i = 0; i < DL_OBJS; i++)
                bss()[i] = data()[i] = NULL;
        doing("dlclose while another thread allocates");
        TC_CHECK(dlclose(h) == 0, "dlclose: %s", dlerror());
    }
    atomic_store(&g_dl_stop, 1);
    tc_join(a);
    uint32_t gcs = num_gc() - gc0;
    TC_CHECK(gcs >= 3 * DL_ITERS, "only %u collections ran during %d dlopen/dlclose pairs", gcs,
             DL_ITERS * (DL_QUICK + 1));
    printf("     dlclose_marking: %d dlopen/dlclose pairs, %u collections, %ld allocator rounds\n",
           DL_ITERS * (DL_QUICK + 1), gcs, (long)atomic_load(&g_dl_rounds));
}

/* ------------------------------------------------------------------------ */

static int child_main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 1 && strcmp(argv[0], "raw_block") == 0)
        return child_raw_block();
    if (argc >= 2 && strcmp(argv[0], "stop_env") == 0)
        return child_stop_env(atoi(argv[1]));
    if (argc >= 1 && strcmp(argv[0], "stop_set") == 0)
        return child_stop_set();
    fprintf(stderr, "unknown child mode\n");
    return 3;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argc - 2, argv + 2);
    static const tc_subtest tests[] = {
        {"coroutine_declared", test_coroutine_declared},
        {"coroutine_registered", test_coroutine_registered},
        {"coroutine_undeclared", test_coroutine_undeclared},
        {"get_stack", test_get_stack},
        {"get_stack_undeclared", test_get_stack_undeclared},
        {"blocking", test_blocking},
        {"sigmask", test_sigmask},
        {"raw_block", test_raw_block},
        {"stop_signal", test_stop_signal},
        {"fork_backend", test_fork_backend},
        {"dlclose_marking", test_dlclose_marking},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
