/*
 * test_libgc.c - tricolor's libgc.so.1 (target tricolor_bdwgc) as a program
 * written for bdwgc 8.2.2 uses it: through bdwgc's public API only (gc.h,
 * gc/gc_mark.h, gc/gc_typed.h, gc/gc_inline.h), with bdwgc's documented
 * meanings.  It builds as well against Debian's libgc-dev:
 *
 *     cc -O2 -DGC_THREADS tests/test_libgc.c -lgc -lpthread -o /tmp/t && /tmp/t links
 *
 * which is how its expectations were checked against the real bdwgc.
 *
 *   malloc_many     GC_malloc_many / GC_generic_malloc_many: lists linked through
 *                   GC_NEXT, objects big enough, distinct, zeroed past the link,
 *                   kept by the list
 *   kinds_proc      a client kind whose mark procedure marks objects held only in
 *                   malloc'd memory (a VM's stacks), while another thread allocates
 *                   and rewrites that memory; the objects die with the kind object.
 *                   Kinds with a length or bitmap descriptor keep what they point to
 *   typed           GC_make_descriptor objects: the bitmap's words keep their
 *                   targets, the other words keep nothing (small and large
 *                   objects); zeroed; normal objects in a dead typed object's
 *                   slot are scanned whole
 *   finalizers      old fn/cd returned; NULL unregisters; client data kept; ordered
 *                   chains (A before B, at a later collection); no_order cycles are
 *                   finalized, ordered ones never; ignore_self; contents intact
 *   on_demand       GC_set_finalize_on_demand, the notifier, GC_invoke_finalizers'
 *                   count, GC_should_invoke_finalizers
 *   links           disappearing links: cleared once the object dies, kept while it
 *                   lives; return codes; GC_move_*; long links and finalizers;
 *                   links inside dead objects are forgotten
 *   uncollectable   GC_malloc_uncollectable lives unreferenced and keeps what it
 *                   points to, until GC_free; the atomic kind
 *   debug           GC_debug_malloc: a write past the end is reported with the
 *                   file:line (child process); GC_debug_free, GC_debug_realloc,
 *                   GC_debug_register_finalizer; find-leak mode with threads
 *                   that leak and collect at once (child process)
 *   enable_disable  GC_disable nests; nothing is collected meanwhile
 *   stats           the heap statistics
 *   oom             GC_set_oom_fn and impossible sizes
 *   threads         GC_pthread_create's argument, stack bases, GC_do_blocking,
 *                   GC_call_with_gc_active, thread registration
 *   incremental     GC_enable_incremental is accepted; a list mutated while
 *                   collections run stays intact
 *   variables       bdwgc's variables and their getters and setters; the plausible
 *                   heap bounds hold every object, also after the heap grew 200 MiB
 *   fork            children forked while two threads use every lock of the layer
 *                   collect, allocate, finalize and exit; none hangs
 *   exit_destructor a thread running its pthread key destructors (Guile unmaps
 *                   its VM stack in one) is still stopped by collections: a
 *                   mark procedure never sees it run
 *   epilogue        Guile's VM stack growth: the stack is replaced inside
 *                   GC_call_with_alloc_lock and its stack pointer stored just
 *                   after the call returns, while another thread on the same
 *                   CPU collects (it waits for the lock, and takes the CPU at
 *                   the unlock): the mark procedure never sees the pointer
 *                   outside the stack
 *
 * One subtest per process: `test_libgc <name>` (no name: each in a child).
 * Exits 0 when every check holds; otherwise prints "FAIL file:line: [subtest]
 * ..." on stderr and exits 1.  Unreachable objects are made in NOINLINE
 * functions that keep only hidden forms of their addresses, and the stack is
 * wiped before collecting (as tests/common.h explains); reclamation is counted
 * over many objects with a small stated slack.  Waits are polls with a cap
 * (a hang guard: alarm() kills a stuck subtest), never timing assertions.
 *
 * GODEBUG: unless TRICOLOR_TEST_GODEBUG says otherwise (empty: none), runs with
 * GODEBUG=gcstwbudget=0, so that tricolor marks every cycle beside the program
 * even in these small heaps (bdwgc ignores it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
/* The oom subtest's function returns a static buffer: GC_malloc's result may
 * then alias it, and the compiler must not assume otherwise. */
#define GC_OOM_FUNC_RETURNS_ALIAS 1
#include <gc.h>
#include <gc/gc_mark.h>
#include <gc/gc_typed.h>
#include <gc/gc_inline.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* bdwgc's variables are deprecated in favour of the getters; reading and
 * writing them is what the variables subtest checks. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#if defined(__GNUC__) && !defined(__clang__)
#define NOINLINE __attribute__((noipa))
#else
#define NOINLINE __attribute__((noinline))
#endif
#define UNUSED __attribute__((unused))

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Failing (as tests/common.h, which includes tricolor.h: not used here)     */
/* ------------------------------------------------------------------------ */

static const char *current = "";
static _Atomic int soft_failures;

static void vreport(const char *file, int line, const char *cond, const char *fmt, va_list ap)
{
    char buf[2048];
    size_t n = 0;
    int k = snprintf(buf, sizeof buf, "FAIL %s:%d: [%s] ", file, line, current);
    if (k > 0)
        n = (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1;
    if (cond) {
        k = snprintf(buf + n, sizeof buf - n, "check `%s` failed: ", cond);
        if (k > 0)
            n += (size_t)k < sizeof buf - n ? (size_t)k : sizeof buf - n - 1;
    }
    vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    size_t len = strlen(buf);
    if (len < sizeof buf - 1)
        buf[len++] = '\n';
    fflush(stdout);
    (void)!write(2, buf, len); /* one write: lines of several threads do not mix */
}

__attribute__((noreturn, format(printf, 4, 5))) static void fail_at(const char *file, int line,
                                                                    const char *cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(file, line, cond, fmt, ap);
    va_end(ap);
    _exit(1);
}

/* A failed check that does not stop the subtest: the rest still runs, and
 * the subtest fails at its end. */
__attribute__((format(printf, 4, 5))) static void soft_fail_at(const char *file, int line, const char *cond,
                                                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(file, line, cond, fmt, ap);
    va_end(ap);
    atomic_fetch_add(&soft_failures, 1);
}

#define TC_FAIL(...) fail_at(__FILE__, __LINE__, NULL, __VA_ARGS__)
#define TC_CHECK(cond, ...)                                   \
    do {                                                      \
        if (!(cond))                                          \
            fail_at(__FILE__, __LINE__, #cond, __VA_ARGS__);  \
    } while (0)
#define TC_SOFT(cond, ...)                                       \
    do {                                                         \
        if (!(cond))                                             \
            soft_fail_at(__FILE__, __LINE__, #cond, __VA_ARGS__); \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Hiding pointers, wiping the stack, patterns (as tests/common.h)          */
/* ------------------------------------------------------------------------ */

/* High bytes 0xa5c3...: a hidden value is never a user-space address. */
#define TC_KEY ((uintptr_t)0xa5c3f00d5a3c0ff5ull)

static inline uintptr_t tc_opaque(uintptr_t x)
{
    __asm__ volatile("" : "+r"(x));
    return x;
}
static inline uintptr_t tc_hide(const void *p) { return tc_opaque((uintptr_t)p ^ TC_KEY); }
static inline void *tc_unhide(uintptr_t h) { return (void *)(tc_opaque(h) ^ TC_KEY); }

/* Wipe 64 KiB of stack below the caller: dead frames of earlier calls. */
NOINLINE static void tc_clear_stack(void)
{
    char buf[64 * 1024];
    memset(buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* Consecutive bytes step by 13: no aligned 8-byte word of a pattern can be a
 * user-space address, so a pattern never keeps anything alive. */
static inline uint8_t tc_pat(uint32_t seed, size_t j) { return (uint8_t)(seed * 7u + j * 13u + 1u); }

static void tc_fill(void *p, size_t n, uint32_t seed)
{
    uint8_t *b = p;
    for (size_t j = 0; j < n; j++)
        b[j] = tc_pat(seed, j);
}

/* Index of the first byte that differs from the pattern, or -1. */
static long tc_pattern_diff(const void *p, size_t n, uint32_t seed)
{
    const uint8_t *b = p;
    for (size_t j = 0; j < n; j++)
        if (b[j] != tc_pat(seed, j))
            return (long)j;
    return -1;
}

/* Index of the first non-zero byte, or -1. */
static long tc_nonzero_at(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t j = 0; j < n; j++)
        if (b[j])
            return (long)j;
    return -1;
}

static inline uint64_t tc_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Sleep, resuming after signals (the collector's stop signal), to an absolute
 * deadline: a relative sleep restarted with its remainder makes no progress
 * while stops keep interrupting it (tests/common.h's tc_sleep_ns says more). */
static void tc_sleep_ms(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* A one-shot event between threads (a pipe: robust against signals). */
typedef struct {
    int fd[2];
} event_t;

static void event_init(event_t *e)
{
    if (pipe(e->fd) != 0)
        TC_FAIL("pipe: %s", strerror(errno));
}
static void event_post(event_t *e)
{
    char c = 1;
    while (write(e->fd[1], &c, 1) != 1)
        if (errno != EINTR)
            TC_FAIL("write: %s", strerror(errno));
}
static void event_wait(event_t *e)
{
    char c;
    for (;;) {
        ssize_t n = read(e->fd[0], &c, 1);
        if (n == 1)
            return;
        if (n < 0 && errno == EINTR)
            continue;
        TC_FAIL("read: %s", n < 0 ? strerror(errno) : "EOF");
    }
}

/* ------------------------------------------------------------------------ */
/* Garbage and collections                                                   */
/* ------------------------------------------------------------------------ */

static void *volatile sink;

/* count objects of size bytes filled with 0xEE and dropped: a freed object
 * of that size is likely to be reused, and so overwritten. */
NOINLINE static void churn(size_t size, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        void *p = GC_malloc(size);
        if (!p)
            TC_FAIL("GC_malloc(%zu) returned NULL while making garbage", size);
        memset(p, 0xEE, size);
        __asm__ volatile("" : : "r"(p) : "memory");
    }
}

NOINLINE static void collect_clean_(void)
{
    tc_clear_stack();
    GC_gcollect();
}

NOINLINE static void collect_churn_(size_t size, size_t count, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        churn(size, count);
        tc_clear_stack();
        GC_gcollect();
    }
}

/* The helpers' own frames may hold a stale word of an earlier call (a
 * *_make function's pointer): wipe the caller's dead frames first. */
#define collect_clean() (tc_clear_stack(), collect_clean_())
#define collect_churn(size, count, rounds) (tc_clear_stack(), collect_churn_(size, count, rounds))

/* Poll until *n reaches want, running ready finalizers here (bdwgc runs them
 * in GC_invoke_finalizers or while allocating; tricolor on its finalizer
 * thread, where GC_invoke_finalizers finds none), and collecting (with
 * garbage of churn_size bytes) every collect_every polls (0: never).  At most
 * polls polls of 5 ms: a guard, not a bound the test asserts. */
NOINLINE static long wait_count_(_Atomic long *n, long want, int collect_every, size_t churn_size, int polls)
{
    for (int i = 0; i < polls && atomic_load(n) < want; i++) {
        GC_invoke_finalizers();
        if (collect_every && i % collect_every == collect_every - 1) {
            if (churn_size)
                collect_churn_(churn_size, 1000, 1);
            else
                collect_clean_();
        }
        tc_sleep_ms(5);
        GC_invoke_finalizers();
    }
    return atomic_load(n);
}
#define wait_count(n, want, every, churn_size, polls) \
    (tc_clear_stack(), wait_count_(n, want, every, churn_size, polls))

/* Give finalizers that should not run a chance to (wrongly) run. */
NOINLINE static void settle_(int rounds, size_t churn_size)
{
    for (int r = 0; r < rounds; r++) {
        if (churn_size)
            collect_churn_(churn_size, 2000, 1);
        else
            collect_clean_();
        for (int i = 0; i < 10; i++) {
            GC_invoke_finalizers();
            tc_sleep_ms(5);
        }
    }
}
#define settle(rounds, churn_size) (tc_clear_stack(), settle_(rounds, churn_size))

/* ------------------------------------------------------------------------ */
/* Watched objects: targets with a disappearing link each                    */
/* ------------------------------------------------------------------------ */

/* n targets of size bytes holding pattern seed+i.  The links are in atomic
 * uncollectable memory (neither scanned nor collected), so they do not keep
 * the targets; a link is NULL once its target was found unreachable. */
typedef struct {
    size_t n, size;
    uint32_t seed;
    void **link;
    uintptr_t *hid; /* the targets' hidden addresses (malloc'd) */
} watch_t;

static void watch_init(watch_t *w, size_t n, size_t size, uint32_t seed)
{
    w->n = n;
    w->size = size;
    w->seed = seed;
    w->link = GC_malloc_atomic_uncollectable(n * sizeof(void *));
    TC_CHECK(w->link != NULL, "GC_malloc_atomic_uncollectable(%zu) returned NULL", n * sizeof(void *));
    memset(w->link, 0, n * sizeof(void *));
    w->hid = calloc(n, sizeof *w->hid);
    TC_CHECK(w->hid != NULL, "calloc failed");
}

/* Target i, for the caller to store where the test keeps it. */
NOINLINE static void *watch_new(watch_t *w, size_t i)
{
    void *o = GC_malloc(w->size);
    TC_CHECK(o != NULL, "GC_malloc(%zu) returned NULL", w->size);
    tc_fill(o, w->size, w->seed + (uint32_t)i);
    w->link[i] = o;
    int r = GC_general_register_disappearing_link(&w->link[i], o);
    TC_CHECK(r == GC_SUCCESS, "GC_general_register_disappearing_link returned %d, not GC_SUCCESS", r);
    w->hid[i] = tc_hide(o);
    return o;
}

static size_t watch_cleared(const watch_t *w, size_t from, size_t to)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        n += w->link[i] == NULL;
    return n;
}

/* Target i is reachable: its link is intact and so are its bytes. */
static void watch_alive(const watch_t *w, size_t i, const char *what)
{
    void *o = tc_unhide(w->hid[i]);
    TC_CHECK(w->link[i] == o, "%s: target %zu (%p) is reachable, but its disappearing link is %p", what, i, o,
             w->link[i]);
    long d = tc_pattern_diff(o, w->size, w->seed + (uint32_t)i);
    TC_CHECK(d < 0, "%s: target %zu (%p, reachable) was overwritten at byte %ld: freed while reachable?", what, i,
             o, d);
}

/* ------------------------------------------------------------------------ */
/* Child processes                                                           */
/* ------------------------------------------------------------------------ */

typedef struct {
    int status;
    char *out, *err;
} child_t;

static void buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
        if (!*buf)
            TC_FAIL("out of memory");
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = 0;
}

static const char *status_str(int status)
{
    static char buf[96];
    if (WIFEXITED(status))
        snprintf(buf, sizeof buf, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "killed by signal %d (%s)%s", WTERMSIG(status), strsignal(WTERMSIG(status)),
                 WTERMSIG(status) == SIGALRM ? ": timed out" : "");
    else
        snprintf(buf, sizeof buf, "status 0x%x", status);
    return buf;
}

/* Run this program again with argv[1] = sub (LIBGC_TEST_CHILD=1 in its
 * environment), killed by SIGALRM after timeout_s; collect its output. */
static void run_self(child_t *c, const char *sub, unsigned timeout_s)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
        TC_FAIL("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        TC_FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        setenv("LIBGC_TEST_CHILD", "1", 1);
        alarm(timeout_s);
        execl("/proc/self/exe", "test_libgc", sub, (char *)NULL);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t olen = 0, ocap = 0, elen = 0, ecap = 0;
    c->out = c->err = NULL;
    buf_append(&c->out, &olen, &ocap, "", 0);
    buf_append(&c->err, &elen, &ecap, "", 0);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        int r = poll(fds, 2, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            TC_FAIL("poll: %s", strerror(errno));
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char buf[4096];
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0)
                buf_append(&c->out, &olen, &ocap, buf, (size_t)n);
            else
                buf_append(&c->err, &elen, &ecap, buf, (size_t)n);
        }
    }
    while (waitpid(pid, &c->status, 0) < 0)
        if (errno != EINTR)
            TC_FAIL("waitpid: %s", strerror(errno));
}

static void child_free(child_t *c)
{
    free(c->out);
    free(c->err);
}

static void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("     [%s] ", current);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* ======================================================================== */
/* malloc_many                                                               */
/* ======================================================================== */

static int cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Walk a list of objects of lb bytes: each an object's start, of at least lb
 * bytes, zeroed past the link (zeroed), and no two overlapping.  Returns the
 * length. */
static size_t mm_check_list(void *l, size_t lb, bool zeroed, const char *what)
{
    TC_CHECK(l != NULL, "%s(%zu) gave an empty list", what, lb);
    size_t n = 0, cap = 256;
    uintptr_t *a = malloc(cap * sizeof *a);
    for (void *p = l; p; p = GC_NEXT(p)) {
        TC_CHECK(n < 1000000, "%s(%zu): the list does not end", what, lb);
        TC_CHECK(GC_base(p) == p, "%s(%zu): element %zu (%p) is not an object's start (GC_base %p)", what, lb, n,
                 p, GC_base(p));
        size_t sz = GC_size(p);
        TC_CHECK(sz >= lb, "%s(%zu): element %zu has GC_size %zu", what, lb, n, sz);
        if (zeroed && lb > sizeof(void *)) {
            long nz = tc_nonzero_at((char *)p + sizeof(void *), lb - sizeof(void *));
            TC_CHECK(nz < 0, "%s(%zu): element %zu is not zeroed past the link: byte %ld", what, lb, n,
                     nz + (long)sizeof(void *));
        }
        if (n == cap) {
            cap *= 2;
            a = realloc(a, cap * sizeof *a);
        }
        a[n++] = (uintptr_t)p;
    }
    qsort(a, n, sizeof *a, cmp_uptr);
    for (size_t i = 1; i < n; i++)
        TC_CHECK(a[i - 1] + lb <= a[i], "%s(%zu): elements at %#lx and %#lx overlap (or repeat)", what, lb,
                 (unsigned long)a[i - 1], (unsigned long)a[i]);
    free(a);
    return n;
}

static void *volatile mm_list; /* the only reference to the list */

/* A list of lb-byte objects of kind k (-1: GC_malloc_many) in mm_list, each
 * filled past its link with a pattern; their hidden addresses in *hid. */
NOINLINE static size_t mm_make(size_t lb, int k, uintptr_t **hid)
{
    void *l = NULL;
    if (k < 0)
        l = GC_malloc_many(lb);
    else
        GC_generic_malloc_many(lb, k, &l);
    size_t n = mm_check_list(l, lb, k != GC_I_PTRFREE, k < 0 ? "GC_malloc_many" : "GC_generic_malloc_many");
    *hid = malloc(n * sizeof **hid);
    size_t i = 0;
    for (void *p = l; p; p = GC_NEXT(p), i++) {
        (*hid)[i] = tc_hide(p);
        tc_fill((char *)p + sizeof(void *), lb - sizeof(void *), (uint32_t)(lb + i));
    }
    mm_list = l;
    return n;
}

static void mm_survive(size_t lb, int k, const char *what)
{
    uintptr_t *hid;
    size_t n = mm_make(lb, k, &hid);
    collect_churn(lb, 4000, 4);
    size_t i = 0;
    for (void *p = mm_list; p; p = GC_NEXT(p), i++) {
        TC_CHECK(i < n, "%s(%zu): the list grew from %zu elements", what, lb, n);
        TC_CHECK(p == tc_unhide(hid[i]), "%s(%zu): element %zu is %p, was %p: the list was changed", what, lb, i,
                 p, tc_unhide(hid[i]));
        long d = tc_pattern_diff((char *)p + sizeof(void *), lb - sizeof(void *), (uint32_t)(lb + i));
        TC_CHECK(d < 0,
                 "%s(%zu): element %zu of %zu, kept only through the list, was overwritten at byte %ld "
                 "(collected while on the list?)",
                 what, lb, i, n, d + (long)sizeof(void *));
    }
    TC_CHECK(i == n, "%s(%zu): the list has %zu elements, had %zu", what, lb, i, n);
    mm_list = NULL;
    free(hid);
}

static void t_malloc_many(void)
{
    static const size_t sizes[] = {8, 16, 24, 48, 100, 256, 1000, 2048, 5000, 20000, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t lb = sizes[s];
        for (int rep = 0; rep < 3; rep++) {
            void *l = GC_malloc_many(lb);
            mm_check_list(l, lb, true, "GC_malloc_many");
            /* GC_generic_malloc_many takes sizes of whole granules (as
             * GC_FAST_MALLOC_GRANS gives it: GC_RAW_BYTES_FROM_INDEX). */
            size_t glb = (lb + GC_GRANULE_BYTES - 1) & ~(size_t)(GC_GRANULE_BYTES - 1);
            l = NULL;
            GC_generic_malloc_many(glb, GC_I_NORMAL, &l);
            mm_check_list(l, glb, true, "GC_generic_malloc_many(NORMAL)");
            l = NULL;
            GC_generic_malloc_many(glb, GC_I_PTRFREE, &l);
            mm_check_list(l, glb, false, "GC_generic_malloc_many(PTRFREE)");
        }
    }
    progress("lists well formed");
    mm_survive(48, -1, "GC_malloc_many");
    mm_survive(1000, -1, "GC_malloc_many");
    mm_survive(48, GC_I_NORMAL, "GC_generic_malloc_many(NORMAL)");
    mm_survive(256, GC_I_NORMAL, "GC_generic_malloc_many(NORMAL)");
    progress("objects kept through the list survive collections");
    /* Taking objects off a list while collections run, as GC_FAST_MALLOC_GRANS does. */
    static void *tiny_lists[GC_TINY_FREELISTS];
    (void)tiny_lists;
    void **keep = GC_malloc(20000 * sizeof(void *));
    TC_CHECK(keep != NULL, "GC_malloc returned NULL");
    for (int i = 0; i < 20000; i++) {
        void *o;
        GC_MALLOC_WORDS(o, 4, tiny_lists);
        TC_CHECK(o != NULL, "GC_MALLOC_WORDS returned NULL");
        TC_CHECK(tc_nonzero_at(o, 4 * sizeof(void *)) < 0, "GC_MALLOC_WORDS: object %d not zeroed", i);
        tc_fill(o, 4 * sizeof(void *), (uint32_t)i);
        keep[i] = o;
        if (i % 2000 == 1999)
            GC_gcollect();
    }
    collect_churn(32, 4000, 2);
    for (int i = 0; i < 20000; i++)
        TC_CHECK(tc_pattern_diff(keep[i], 4 * sizeof(void *), (uint32_t)i) < 0,
                 "GC_MALLOC_WORDS object %d overwritten: an object given out twice?", i);
    progress("GC_MALLOC_WORDS over GC_generic_malloc_many");
}

/* ======================================================================== */
/* kinds_proc                                                                */
/* ======================================================================== */

#define KP_NK 8     /* kind objects */
#define KP_NSLOT 32 /* slots of each one's VM stack */
#define KP_SIZE 64  /* the slots' objects */
#define KP_ENV 5
#define KP_MAGIC ((GC_word)0xa5c3f00d13572468ull)

/* A VM stack: malloc'd, never scanned by the collector; only the mark
 * procedure knows it.  seq[] records what each slot's object holds. */
struct kp_vm {
    void *_Atomic slot[KP_NSLOT];
    unsigned seq[KP_NSLOT];
};
/* The kind object: word 0 is left alone (a free object's first word may be
 * a link), word 1 says whether it is set up. */
struct kp_obj {
    GC_word w0, magic;
    struct kp_vm *vm;
    GC_word idx;
};

static unsigned kp_kind;
static struct kp_vm *volatile kp_vms[KP_NK];
static void *volatile kp_roots[KP_NK];
static _Atomic long kp_calls, kp_bad_env, kp_fins[KP_NK], kp_fins_total;
static atomic_bool kp_done;

static struct GC_ms_entry *kp_mark(GC_word *addr, struct GC_ms_entry *msp, struct GC_ms_entry *lim, GC_word env)
{
    struct kp_obj *o = (struct kp_obj *)addr;
    if (o->magic != KP_MAGIC)
        return msp;
    if (env != KP_ENV)
        atomic_fetch_add(&kp_bad_env, 1);
    atomic_fetch_add_explicit(&kp_calls, 1, memory_order_relaxed);
    struct kp_vm *vm = o->vm;
    for (int i = 0; i < KP_NSLOT; i++) {
        void *p = atomic_load_explicit(&vm->slot[i], memory_order_relaxed);
        msp = GC_MARK_AND_PUSH(p, msp, lim, (void **)&vm->slot[i]);
    }
    return msp;
}

static void kp_fin(void *obj, void *cd)
{
    (void)obj;
    uintptr_t k = (uintptr_t)cd;
    if (k < KP_NK)
        atomic_fetch_add(&kp_fins[k], 1);
    atomic_fetch_add(&kp_fins_total, 1);
}

static int kp_kind_mismatch, kp_kind_got;

NOINLINE static void kp_make(unsigned k)
{
    struct kp_obj *o = GC_generic_malloc(sizeof *o, (int)kp_kind);
    TC_CHECK(o != NULL, "GC_generic_malloc(%zu, kind %u) returned NULL", sizeof *o, kp_kind);
    TC_CHECK(tc_nonzero_at(o, sizeof *o) < 0, "an object of a kind made with clear_new_objects is not zeroed");
    TC_CHECK(GC_size(o) >= sizeof *o, "GC_size %zu", GC_size(o));
    size_t sz = 0;
    int kind = GC_get_kind_and_size(o, &sz);
    if (kind != (int)kp_kind) {
        kp_kind_mismatch = 1;
        kp_kind_got = kind;
    }
    TC_SOFT(sz == GC_size(o), "GC_get_kind_and_size gave size %zu, GC_size %zu", sz, GC_size(o));
    o->vm = kp_vms[k];
    o->idx = k;
    o->magic = KP_MAGIC;
    GC_register_finalizer_no_order(o, kp_fin, (void *)(uintptr_t)k, NULL, NULL);
    kp_roots[k] = o;
}

/* A new object for vm k's slot s: word 0 its sequence number, then a pattern. */
NOINLINE static void kp_store_new(unsigned k, unsigned s, unsigned seq)
{
    GC_word *p = GC_malloc(KP_SIZE);
    TC_CHECK(p != NULL, "GC_malloc(%d) returned NULL", KP_SIZE);
    p[0] = seq;
    tc_fill(p + 1, KP_SIZE - sizeof(GC_word), seq);
    kp_vms[k]->seq[s] = seq;
    atomic_store_explicit(&kp_vms[k]->slot[s], p, memory_order_release);
}

static void kp_verify_slot(unsigned k, unsigned s, const char *when)
{
    GC_word *p = atomic_load_explicit(&kp_vms[k]->slot[s], memory_order_acquire);
    unsigned seq = kp_vms[k]->seq[s];
    TC_CHECK(p != NULL, "%s: slot %u.%u is empty", when, k, s);
    long d = p[0] == seq ? tc_pattern_diff(p + 1, KP_SIZE - sizeof(GC_word), seq) : 0;
    TC_CHECK(p[0] == seq && d < 0,
             "%s: the object in VM slot %u.%u (%p, seq %u), reachable only through the mark procedure, was "
             "overwritten (word 0 %#lx, first bad byte %ld): collected while marked by GC_MARK_AND_PUSH?",
             when, k, s, (void *)p, seq, (unsigned long)p[0], d);
}

static long kp_iters(void)
{
    const char *s = getenv("LIBGC_KINDS_ITERS");
    long n = s ? strtol(s, NULL, 10) : 0;
    return n > 0 ? n : 300000;
}

/* A collected object of KP_NH pointers (reachable from a global) that the
 * mutator swaps objects in and out of the VM slots with: an object moves
 * from memory the collector sees being written into memory it does not. */
#define KP_NH 16
static void **volatile kp_hreg;
static unsigned kp_hseq[KP_NH];

NOINLINE static void kp_hreg_fill(void)
{
    kp_hreg = GC_malloc(KP_NH * sizeof(void *));
    TC_CHECK(kp_hreg != NULL, "GC_malloc returned NULL");
    for (unsigned j = 0; j < KP_NH; j++) {
        GC_word *p = GC_malloc(KP_SIZE);
        p[0] = 500 + j;
        tc_fill(p + 1, KP_SIZE - sizeof(GC_word), 500 + j);
        kp_hseq[j] = 500 + j;
        kp_hreg[j] = p;
    }
}

static void kp_verify_hreg(unsigned j, const char *when)
{
    GC_word *p = kp_hreg[j];
    unsigned seq = kp_hseq[j];
    long d = p && p[0] == seq ? tc_pattern_diff(p + 1, KP_SIZE - sizeof(GC_word), seq) : 0;
    TC_CHECK(p && p[0] == seq && d < 0, "%s: the object in heap register %u (%p, seq %u) was overwritten", when, j,
             (void *)p, seq);
}

NOINLINE static void kp_swap(unsigned k, unsigned s, unsigned j)
{
    struct kp_vm *vm = kp_vms[k];
    void *a = atomic_load_explicit(&vm->slot[s], memory_order_relaxed);
    unsigned as = vm->seq[s];
    vm->seq[s] = kp_hseq[j];
    atomic_store_explicit(&vm->slot[s], kp_hreg[j], memory_order_release);
    kp_hseq[j] = as;
    kp_hreg[j] = a;
}

static void *kp_mutator(void *arg)
{
    (void)arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    unsigned seq = 1000;
    long iters = kp_iters();
    for (long i = 0; i < iters; i++) {
        uint64_t r = tc_rand(&rng);
        if (r >> 60 < 8)
            kp_store_new((unsigned)(r % KP_NK), (unsigned)(r >> 8) % KP_NSLOT, ++seq);
        else
            kp_swap((unsigned)(r % KP_NK), (unsigned)(r >> 8) % KP_NSLOT, (unsigned)(r >> 32) % KP_NH);
        kp_verify_slot((unsigned)(r >> 16) % KP_NK, (unsigned)(r >> 24) % KP_NSLOT, "while allocating");
        kp_verify_hreg((unsigned)(r >> 40) % KP_NH, "while allocating");
        churn(KP_SIZE, 4);
        if (i % 16 == 0)
            churn(4096, 1);
    }
    atomic_store(&kp_done, true);
    return NULL;
}

/* Objects of 64 bytes of a kind with a descriptor (no procedure), holding
 * pointers in words w0 and w1. */
struct kl_case {
    const char *name;
    GC_word descr;
    int adjust;
    unsigned w0, w1;
};

#define KL_N 20
static GC_word *volatile kl_roots[KL_N];

NOINLINE static void kl_make(unsigned kind, const struct kl_case *c, watch_t *w, int *kind_ok, int *kind_got)
{
    for (size_t i = 0; i < KL_N; i++) {
        GC_word *o = GC_generic_malloc(64, (int)kind);
        TC_CHECK(o != NULL, "%s: GC_generic_malloc(64, %u) returned NULL", c->name, kind);
        TC_CHECK(tc_nonzero_at(o, 64) < 0, "%s: object not zeroed (clear_new_objects 1)", c->name);
        int k = GC_get_kind_and_size(o, NULL);
        if (k != (int)kind) {
            *kind_ok = 0;
            *kind_got = k;
        }
        o[c->w0] = (GC_word)watch_new(w, 2 * i);
        o[c->w1] = (GC_word)watch_new(w, 2 * i + 1);
        kl_roots[i] = o;
    }
}

static void t_kinds_proc(void)
{
    /* The kind (bdwgc's GC_new_kind is normally called once, at start-up). */
    void **fl = GC_new_free_list();
    TC_CHECK(fl != NULL, "GC_new_free_list returned NULL");
    unsigned pi = GC_new_proc(kp_mark);
    TC_CHECK(pi >= GC_RESERVED_MARK_PROCS && pi < GC_MAX_MARK_PROCS, "GC_new_proc returned %u", pi);
    kp_kind = GC_new_kind(fl, GC_MAKE_PROC(pi, KP_ENV), 0, 1);
    TC_CHECK(kp_kind > 3, "GC_new_kind returned %u, one of the predefined kinds", kp_kind);
    for (unsigned k = 0; k < KP_NK; k++) {
        kp_vms[k] = calloc(1, sizeof(struct kp_vm));
        kp_make(k);
    }
    TC_SOFT(!kp_kind_mismatch, "GC_get_kind_and_size of a kind-%u object (GC_new_kind) gave kind %d", kp_kind,
            kp_kind_got);
    /* Fill every slot; the objects are reachable only through the procedure. */
    unsigned seq = 1;
    for (unsigned k = 0; k < KP_NK; k++)
        for (unsigned s = 0; s < KP_NSLOT; s++)
            kp_store_new(k, s, seq++);
    collect_churn(KP_SIZE, 5000, 5);
    for (unsigned k = 0; k < KP_NK; k++)
        for (unsigned s = 0; s < KP_NSLOT; s++)
            kp_verify_slot(k, s, "after collections");
    TC_CHECK(atomic_load(&kp_calls) > 0, "the mark procedure was never called");
    TC_CHECK(atomic_load(&kp_bad_env) == 0, "the mark procedure got an env other than GC_MAKE_PROC's %d",
             KP_ENV);
    progress("objects marked only by the procedure survive %d collections", 5);

    /* Another thread rewrites the VM stacks with new objects and allocates
     * heavily (collections start by themselves, marking beside it), while
     * this one collects too. */
    kp_hreg_fill();
    GC_word gc0 = GC_get_gc_no();
    pthread_t t;
    int e = pthread_create(&t, NULL, kp_mutator, NULL);
    TC_CHECK(e == 0, "pthread_create: %s", strerror(e));
    long explicit_gcs = 0;
    while (!atomic_load(&kp_done)) {
        collect_clean();
        explicit_gcs++;
        tc_sleep_ms(1);
    }
    pthread_join(t, NULL);
    for (unsigned k = 0; k < KP_NK; k++)
        for (unsigned s = 0; s < KP_NSLOT; s++)
            kp_verify_slot(k, s, "after the mutator");
    for (unsigned j = 0; j < KP_NH; j++)
        kp_verify_hreg(j, "after the mutator");
    GC_word gcs = GC_get_gc_no() - gc0;
    TC_CHECK(gcs >= 10, "only %lu collections while the mutator ran", (unsigned long)gcs);
    TC_CHECK(atomic_load(&kp_bad_env) == 0, "the mark procedure got a wrong env");
    TC_CHECK(atomic_load(&kp_fins_total) == 0, "a kind object's finalizer ran while it was reachable");
    progress("%ld iterations of the mutator, %lu collections (%ld explicit): VM slots intact", kp_iters(),
             (unsigned long)gcs, explicit_gcs);

    /* Watch each slot's object: then drop half of the kind objects. */
    watch_t w;
    watch_init(&w, KP_NK * KP_NSLOT, KP_SIZE, 7000);
    for (unsigned k = 0; k < KP_NK; k++)
        for (unsigned s = 0; s < KP_NSLOT; s++)
            atomic_store(&kp_vms[k]->slot[s], watch_new(&w, k * KP_NSLOT + s));
    collect_churn(KP_SIZE, 5000, 3);
    for (size_t i = 0; i < w.n; i++)
        watch_alive(&w, i, "VM slot (kind object reachable)");
    for (unsigned k = 0; k < KP_NK / 2; k++)
        kp_roots[k] = NULL;
    size_t half = (KP_NK / 2) * KP_NSLOT, cleared = 0;
    for (int r = 0; r < 12 && cleared < half; r++) {
        collect_churn(KP_SIZE, 2000, 1);
        wait_count(&kp_fins_total, KP_NK / 2, 0, 0, 4);
        cleared = watch_cleared(&w, 0, half);
    }
    for (size_t i = half; i < w.n; i++)
        watch_alive(&w, i, "VM slot of a kind object still reachable");
    for (unsigned k = KP_NK / 2; k < KP_NK; k++)
        TC_CHECK(atomic_load(&kp_fins[k]) == 0, "kind object %u, still reachable, was finalized", k);
    long fins = 0;
    for (unsigned k = 0; k < KP_NK / 2; k++)
        fins += atomic_load(&kp_fins[k]);
    TC_CHECK(fins >= KP_NK / 2 - 1, "only %ld of %d dropped kind objects were finalized", fins, KP_NK / 2);
    TC_CHECK(cleared + 2 >= half,
             "only %zu of the %zu objects held by the %d dropped kind objects were reclaimed (links cleared)",
             cleared, half, KP_NK / 2);
    progress("dropped kind objects: %ld/%d finalized, %zu/%zu of their VM objects reclaimed", fins, KP_NK / 2,
             cleared, half);

    /* Kinds with a descriptor. */
    static const struct kl_case cases[] = {
        {"GC_DS_LENGTH of 16 bytes", 2 * sizeof(GC_word) | GC_DS_LENGTH, 0, 0, 1},
        {"GC_DS_LENGTH 0 + object size (bdwgc's NORMAL kind)", 0 | GC_DS_LENGTH, 1, 0, 7},
        {"GC_DS_BITMAP of words 0 and 3", ((GC_word)1 << 63) | ((GC_word)1 << 60) | GC_DS_BITMAP, 0, 0, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        unsigned kind = GC_new_kind(GC_new_free_list(), cases[c].descr, cases[c].adjust, 1);
        watch_t lw;
        watch_init(&lw, 2 * KL_N, 32, (uint32_t)(9000 + 100 * c));
        int kind_ok = 1, kind_got = 0;
        kl_make(kind, &cases[c], &lw, &kind_ok, &kind_got);
        collect_churn(32, 4000, 4);
        int alive = 1;
        for (size_t i = 0; i < lw.n; i++)
            if (lw.link[i] != tc_unhide(lw.hid[i]) ||
                tc_pattern_diff(tc_unhide(lw.hid[i]), 32, lw.seed + (uint32_t)i) >= 0) {
                TC_SOFT(0,
                        "kind with %s (GC_new_kind(fl, %#lx, %d, 1)): object %zu, pointed to from word %u "
                        "of a reachable object of the kind, was collected",
                        cases[c].name, (unsigned long)cases[c].descr, cases[c].adjust, i,
                        i % 2 ? cases[c].w1 : cases[c].w0);
                alive = 0;
                break;
            }
        TC_SOFT(kind_ok, "kind with %s: GC_get_kind_and_size gave kind %d, not %u", cases[c].name, kind_got,
                kind);
        for (size_t i = 0; i < KL_N; i++)
            kl_roots[i] = NULL;
        size_t cl = 0;
        for (int r = 0; r < 6 && cl < lw.n; r++) {
            collect_churn(32, 1000, 1);
            cl = watch_cleared(&lw, 0, lw.n);
        }
        TC_SOFT(cl + 3 >= lw.n, "kind with %s: only %zu of %zu targets reclaimed after the objects died",
                cases[c].name, cl, lw.n);
        progress("kind with %s: %s; %zu/%zu reclaimed after", cases[c].name,
                 alive ? "pointed-to objects kept" : "POINTED-TO OBJECTS COLLECTED", cl, lw.n);
    }
}

/* ======================================================================== */
/* typed                                                                     */
/* ======================================================================== */

struct ty {
    void *p0;
    GC_word x1;
    void *p2;
    GC_word x3, x4;
    void *p5;
};

#define TY_N 40
#define TY_CALLOC 16
#define TY_BIGW 130
#define TY_BIGN 5000
static struct ty *volatile ty_objs[TY_N];
static struct ty *volatile ty_arr, *volatile ty_bigarr;
static GC_word *volatile ty_big;

NOINLINE static void ty_make(GC_descr d, GC_descr dbig, watch_t *w, watch_t *wx)
{
    size_t t = 0;
    for (size_t i = 0; i < TY_N; i++) {
        struct ty *o = GC_malloc_explicitly_typed(sizeof *o, d);
        TC_CHECK(o != NULL, "GC_malloc_explicitly_typed returned NULL");
        TC_CHECK(GC_size(o) >= sizeof *o, "GC_size %zu", GC_size(o));
        long nz = tc_nonzero_at(o, sizeof *o);
        TC_CHECK(nz < 0, "GC_malloc_explicitly_typed object %zu not zeroed: byte %ld", i, nz);
        o->p0 = watch_new(w, t++);
        o->p2 = watch_new(w, t++);
        o->p5 = watch_new(w, t++);
        o->x1 = i;
        o->x3 = (GC_word)watch_new(wx, i); /* not a pointer word: keeps nothing */
        o->x4 = 4;
        ty_objs[i] = o;
    }
    ty_arr = GC_calloc_explicitly_typed(TY_CALLOC, sizeof(struct ty), d);
    TC_CHECK(ty_arr != NULL, "GC_calloc_explicitly_typed returned NULL");
    long nz = tc_nonzero_at(ty_arr, TY_CALLOC * sizeof(struct ty));
    TC_CHECK(nz < 0, "GC_calloc_explicitly_typed array not zeroed: byte %ld", nz);
    for (size_t j = 0; j < TY_CALLOC; j++) {
        ty_arr[j].p0 = watch_new(w, t++);
        ty_arr[j].p5 = watch_new(w, t++);
        ty_arr[j].x1 = j;
    }
    ty_big = GC_malloc_explicitly_typed(TY_BIGW * sizeof(GC_word), dbig);
    TC_CHECK(ty_big != NULL, "GC_malloc_explicitly_typed(%zu) returned NULL", TY_BIGW * sizeof(GC_word));
    nz = tc_nonzero_at(ty_big, TY_BIGW * sizeof(GC_word));
    TC_CHECK(nz < 0, "a %d-word typed object is not zeroed: byte %ld", TY_BIGW, nz);
    ty_big[0] = (GC_word)watch_new(w, t++);
    ty_big[64] = (GC_word)watch_new(w, t++);
    ty_big[TY_BIGW - 1] = (GC_word)watch_new(w, t++);
    ty_big[1] = (GC_word)watch_new(wx, TY_N);
    ty_bigarr = GC_calloc_explicitly_typed(TY_BIGN, sizeof(struct ty), d);
    TC_CHECK(ty_bigarr != NULL, "GC_calloc_explicitly_typed(%d, %zu) returned NULL", TY_BIGN, sizeof(struct ty));
    nz = tc_nonzero_at(ty_bigarr, TY_BIGN * sizeof(struct ty));
    TC_CHECK(nz < 0, "GC_calloc_explicitly_typed(%d) array not zeroed: byte %ld", TY_BIGN, nz);
    ty_bigarr[0].p0 = watch_new(w, t++);
    ty_bigarr[TY_BIGN / 2].p2 = watch_new(w, t++);
    ty_bigarr[TY_BIGN - 1].p5 = watch_new(w, t++);
    TC_CHECK(t == w->n, "%zu targets made, %zu watched", t, w->n);
}

#define TY_REUSE 400
static struct ty *volatile ty_norm[TY_REUSE];

NOINLINE static void ty_fill(GC_descr d)
{
    for (size_t i = 0; i < TY_REUSE; i++) {
        ty_norm[i] = GC_malloc_explicitly_typed(sizeof(struct ty), d);
        TC_CHECK(ty_norm[i] != NULL, "GC_malloc_explicitly_typed returned NULL");
    }
}

NOINLINE static void ty_reuse(watch_t *w)
{
    for (size_t i = 0; i < TY_REUSE; i++) {
        struct ty *o = GC_malloc(sizeof *o);
        TC_CHECK(o != NULL, "GC_malloc returned NULL");
        o->x1 = (GC_word)watch_new(w, 2 * i);
        o->x4 = (GC_word)watch_new(w, 2 * i + 1);
        ty_norm[i] = o;
    }
}

static void t_typed(void)
{
    GC_word bm[GC_BITMAP_SIZE(struct ty)] = {0};
    GC_set_bit(bm, GC_WORD_OFFSET(struct ty, p0));
    GC_set_bit(bm, GC_WORD_OFFSET(struct ty, p2));
    GC_set_bit(bm, GC_WORD_OFFSET(struct ty, p5));
    GC_descr d = GC_make_descriptor(bm, GC_WORD_LEN(struct ty));
    GC_word bmbig[(TY_BIGW + GC_WORDSZ - 1) / GC_WORDSZ] = {0};
    GC_set_bit(bmbig, 0);
    GC_set_bit(bmbig, 64);
    GC_set_bit(bmbig, TY_BIGW - 1);
    GC_descr dbig = GC_make_descriptor(bmbig, TY_BIGW);

    watch_t w, wx;
    watch_init(&w, TY_N * 3 + TY_CALLOC * 2 + 3 + 3, 40, 3000);
    watch_init(&wx, TY_N + 1, 40, 5000);
    ty_make(d, dbig, &w, &wx);
    collect_churn(40, 4000, 4);
    for (size_t i = 0; i < w.n; i++)
        watch_alive(&w, i, "target of a typed object's pointer word");
    for (size_t i = 0; i < TY_N; i++)
        TC_CHECK(ty_objs[i]->x1 == i && ty_objs[i]->x3 == (GC_word)tc_unhide(wx.hid[i]) && ty_objs[i]->x4 == 4,
                 "typed object %zu's non-pointer words changed", i);
    for (size_t j = 0; j < TY_CALLOC; j++)
        TC_CHECK(ty_arr[j].x1 == j, "typed array element %zu changed", j);
    progress("%zu targets kept by bitmap words", w.n);
    /* What only a word outside the bitmap holds is garbage while its typed
     * object lives (Guile's weak tables are typed objects whose bitmap leaves
     * the key out), for small objects as for large ones. */
    size_t xcl = watch_cleared(&wx, 0, wx.n);
    TC_CHECK(xcl + 3 >= wx.n, "only %zu of %zu objects held by words outside the bitmap reclaimed", xcl, wx.n);
    progress("%zu/%zu held only by non-pointer words reclaimed (the large object's: %s)", xcl, wx.n,
             wx.link[TY_N] ? "kept" : "reclaimed");

    /* Dropped, their targets are reclaimed. */
    for (size_t i = 0; i < TY_N; i++)
        ty_objs[i] = NULL;
    ty_arr = ty_bigarr = NULL;
    ty_big = NULL;
    size_t cl = 0;
    for (int r = 0; r < 6 && cl < w.n; r++) {
        collect_churn(40, 1000, 1);
        cl = watch_cleared(&w, 0, w.n);
    }
    TC_CHECK(cl + 3 >= w.n, "only %zu of %zu targets reclaimed once the typed objects died", cl, w.n);
    progress("%zu/%zu reclaimed after the typed objects died", cl, w.n);

    /* The typed objects' slots, reused by normal objects of their size: every
     * word of those keeps its target (no descriptor of the dead is left). */
    watch_t wn;
    watch_init(&wn, TY_REUSE * 2, 40, 7000);
    ty_fill(d);
    for (size_t i = 0; i < TY_REUSE; i++)
        ty_norm[i] = NULL;
    GC_gcollect();
    GC_gcollect();
    ty_reuse(&wn);
    collect_churn(40, 4000, 4);
    for (size_t i = 0; i < wn.n; i++)
        watch_alive(&wn, i, "target of a normal object's word, in a typed object's old slot");
    progress("%zu targets of normal objects in reused slots kept", wn.n);
    for (size_t i = 0; i < TY_REUSE; i++)
        ty_norm[i] = NULL;

    /* n * size overflows: NULL (bdwgc: what the oom function returns). */
    volatile size_t many = SIZE_MAX / 8;
    void *o = GC_calloc_explicitly_typed(many, 16, d);
    TC_CHECK(o == NULL, "GC_calloc_explicitly_typed(SIZE_MAX / 8, 16) returned %p", o);
}

/* ======================================================================== */
/* finalizers                                                                */
/* ======================================================================== */

static _Atomic long fz_f1_runs, fz_f2_runs;
static char fz_cd1, fz_cd2;

static void fz_f1(void *obj, void *cd)
{
    (void)obj, (void)cd;
    atomic_fetch_add(&fz_f1_runs, 1);
}
static void fz_f2(void *obj, void *cd)
{
    (void)obj, (void)cd;
    atomic_fetch_add(&fz_f2_runs, 1);
}

NOINLINE static void fz_ofn_part(void)
{
    void *o = GC_malloc(32);
    TC_CHECK(o != NULL, "GC_malloc returned NULL");
    GC_finalization_proc ofn = (GC_finalization_proc)(uintptr_t)1;
    void *ocd = (void *)1;
    GC_register_finalizer(o, fz_f1, &fz_cd1, &ofn, &ocd);
    TC_CHECK(ofn == NULL && ocd == NULL, "first registration: old fn %p, cd %p, not NULL", (void *)(uintptr_t)ofn,
             ocd);
    GC_register_finalizer(o, fz_f2, &fz_cd2, &ofn, &ocd);
    TC_CHECK(ofn == fz_f1 && ocd == &fz_cd1, "second registration: old fn/cd not the first's");
    GC_register_finalizer(o, NULL, NULL, &ofn, &ocd);
    TC_CHECK(ofn == fz_f2 && ocd == &fz_cd2, "fn NULL: old fn/cd not the second's");
    GC_register_finalizer(o, NULL, NULL, &ofn, &ocd);
    TC_CHECK(ofn == NULL && ocd == NULL, "after unregistering: old fn %p, cd %p, not NULL",
             (void *)(uintptr_t)ofn, ocd);
    /* The forms share one registration per object. */
    GC_register_finalizer_no_order(o, fz_f1, &fz_cd2, &ofn, &ocd);
    TC_CHECK(ofn == NULL, "no_order after unregistering: old fn not NULL");
    GC_register_finalizer_ignore_self(o, fz_f2, &fz_cd1, &ofn, &ocd);
    TC_CHECK(ofn == fz_f1 && ocd == &fz_cd2, "ignore_self over no_order: old fn/cd not no_order's");
    GC_register_finalizer(o, NULL, NULL, NULL, NULL);
    /* Many objects, registered then unregistered. */
    for (int i = 0; i < 50; i++) {
        void *p = GC_malloc(48);
        GC_register_finalizer(p, fz_f1, NULL, NULL, NULL);
        if (i % 2)
            GC_register_finalizer(p, fz_f2, NULL, NULL, NULL);
        GC_register_finalizer(p, NULL, NULL, NULL, NULL);
    }
}

#define FZ_N 40
struct fz_obj {
    GC_word idx;
    uint8_t pat[56];
};
static struct fz_obj *volatile fz_live[FZ_N];
static _Atomic long fz_cd_runs;

static void fz_cd_fin(void *obj, void *cd)
{
    struct fz_obj *o = obj;
    GC_word i = o->idx;
    TC_CHECK(i < FZ_N, "finalizer: the object's word 0 is %#lx, not its index: contents lost",
             (unsigned long)i);
    long d = tc_pattern_diff(o->pat, sizeof o->pat, (uint32_t)i);
    TC_CHECK(d < 0, "finalizer of object %lu: its contents were overwritten at byte %ld", (unsigned long)i, d + 8);
    TC_CHECK(cd != NULL && GC_base(cd) == cd, "finalizer of object %lu: client data %p is not an object",
             (unsigned long)i, cd);
    d = tc_pattern_diff(cd, 48, (uint32_t)(1000 + i));
    TC_CHECK(d < 0,
             "finalizer of object %lu: its client data (referenced only by the registration) was overwritten "
             "at byte %ld: not kept alive?",
             (unsigned long)i, d);
    atomic_fetch_add(&fz_cd_runs, 1);
}

NOINLINE static void fz_cd_make(void)
{
    for (size_t i = 0; i < FZ_N; i++) {
        struct fz_obj *o = GC_malloc(sizeof *o);
        o->idx = i;
        tc_fill(o->pat, sizeof o->pat, (uint32_t)i);
        void *cd = GC_malloc(48);
        tc_fill(cd, 48, (uint32_t)(1000 + i));
        GC_register_finalizer(o, fz_cd_fin, cd, NULL, NULL);
        fz_live[i] = o;
    }
}

#define FZ_NC 20
struct fz_node {
    GC_word idx;
    struct fz_node *next;
    uint8_t pat[48];
};
static _Atomic long fz_seq, fz_a_runs, fz_b_runs;
static long fz_a_at[FZ_NC], fz_b_at[FZ_NC];

static void fz_fin_a(void *obj, void *cd)
{
    struct fz_node *a = obj;
    uintptr_t i = (uintptr_t)cd;
    TC_CHECK(i < FZ_NC && a->idx == i, "A's finalizer: word 0 %#lx, cd %lu", (unsigned long)a->idx,
             (unsigned long)i);
    TC_CHECK(tc_pattern_diff(a->pat, sizeof a->pat, (uint32_t)(2000 + i)) < 0, "A %lu's contents overwritten",
             (unsigned long)i);
    struct fz_node *b = a->next;
    TC_CHECK(b != NULL && b->idx == 100 + i && tc_pattern_diff(b->pat, sizeof b->pat, (uint32_t)(2100 + i)) < 0,
             "A %lu's finalizer: B, which A points to, is not intact", (unsigned long)i);
    TC_CHECK(fz_b_at[i] == 0, "chain %lu: B's finalizer ran before A's", (unsigned long)i);
    fz_a_at[i] = atomic_fetch_add(&fz_seq, 1) + 1;
    atomic_fetch_add(&fz_a_runs, 1);
}

static void fz_fin_b(void *obj, void *cd)
{
    struct fz_node *b = obj;
    uintptr_t i = (uintptr_t)cd;
    TC_CHECK(i < FZ_NC && b->idx == 100 + i, "B's finalizer: word 0 %#lx, cd %lu", (unsigned long)b->idx,
             (unsigned long)i);
    TC_CHECK(tc_pattern_diff(b->pat, sizeof b->pat, (uint32_t)(2100 + i)) < 0, "B %lu's contents overwritten",
             (unsigned long)i);
    TC_CHECK(fz_a_at[i] != 0, "chain %lu: B's finalizer ran before A's (A points to B: ordered)",
             (unsigned long)i);
    fz_b_at[i] = atomic_fetch_add(&fz_seq, 1) + 1;
    atomic_fetch_add(&fz_b_runs, 1);
}

NOINLINE static void fz_chain_make(void)
{
    for (uintptr_t i = 0; i < FZ_NC; i++) {
        struct fz_node *a = GC_malloc(sizeof *a), *b = GC_malloc(sizeof *b);
        a->idx = i;
        b->idx = 100 + i;
        tc_fill(a->pat, sizeof a->pat, (uint32_t)(2000 + i));
        tc_fill(b->pat, sizeof b->pat, (uint32_t)(2100 + i));
        a->next = b;
        GC_register_finalizer(a, fz_fin_a, (void *)i, NULL, NULL);
        GC_register_finalizer(b, fz_fin_b, (void *)i, NULL, NULL);
    }
}

#define FZ_NP 20
static _Atomic long fz_pair_runs;
static uintptr_t fz_pair_hid[2 * FZ_NP];

static void fz_fin_pair(void *obj, void *cd)
{
    struct fz_node *o = obj;
    uintptr_t j = (uintptr_t)cd;
    TC_CHECK(j < 2 * FZ_NP && o->idx == 500 + j, "no_order finalizer: word 0 %#lx, cd %lu",
             (unsigned long)o->idx, (unsigned long)j);
    TC_CHECK(tc_pattern_diff(o->pat, sizeof o->pat, (uint32_t)(3000 + j)) < 0,
             "no_order cycle member %lu's contents overwritten", (unsigned long)j);
    TC_CHECK(o->next == tc_unhide(fz_pair_hid[j ^ 1]), "no_order cycle member %lu: the pointer to its partner changed",
             (unsigned long)j);
    atomic_fetch_add(&fz_pair_runs, 1);
}

NOINLINE static void fz_pairs_make(void)
{
    for (uintptr_t p = 0; p < FZ_NP; p++) {
        struct fz_node *x = GC_malloc(sizeof *x), *y = GC_malloc(sizeof *y);
        x->idx = 500 + 2 * p;
        y->idx = 500 + 2 * p + 1;
        tc_fill(x->pat, sizeof x->pat, (uint32_t)(3000 + 2 * p));
        tc_fill(y->pat, sizeof y->pat, (uint32_t)(3000 + 2 * p + 1));
        x->next = y;
        y->next = x;
        fz_pair_hid[2 * p] = tc_hide(x);
        fz_pair_hid[2 * p + 1] = tc_hide(y);
        GC_register_finalizer_no_order(x, fz_fin_pair, (void *)(2 * p), NULL, NULL);
        GC_register_finalizer_no_order(y, fz_fin_pair, (void *)(2 * p + 1), NULL, NULL);
    }
}

static _Atomic long fz_cycle_runs, fz_self_runs;
static void fz_fin_cycle(void *obj, void *cd)
{
    (void)obj, (void)cd;
    atomic_fetch_add(&fz_cycle_runs, 1);
}
static void fz_fin_self(void *obj, void *cd)
{
    struct fz_node *o = obj;
    TC_CHECK(o->next == o && o->idx == (GC_word)(uintptr_t)cd, "ignore_self finalizer: contents changed");
    atomic_fetch_add(&fz_self_runs, 1);
}

#define FZ_NO 10
#define FZ_NS 20
NOINLINE static void fz_cycles_make(void)
{
    for (int p = 0; p < FZ_NO; p++) {
        struct fz_node *x = GC_malloc(sizeof *x), *y = GC_malloc(sizeof *y);
        x->next = y;
        y->next = x;
        GC_register_finalizer(x, fz_fin_cycle, NULL, NULL, NULL);
        GC_register_finalizer(y, fz_fin_cycle, NULL, NULL, NULL);
        struct fz_node *s = GC_malloc(sizeof *s); /* a cycle of one, ordered */
        s->next = s;
        GC_register_finalizer(s, fz_fin_cycle, NULL, NULL, NULL);
    }
}
NOINLINE static void fz_selfs_make(void)
{
    for (uintptr_t i = 0; i < FZ_NS; i++) {
        struct fz_node *s = GC_malloc(sizeof *s);
        s->next = s;
        s->idx = 700 + i;
        GC_register_finalizer_ignore_self(s, fz_fin_self, (void *)(700 + i), NULL, NULL);
    }
}

NOINLINE static void fz_unreg_no_order(void)
{
    for (int i = 0; i < 40; i++) {
        void *p = GC_malloc(48);
        if (i % 2)
            GC_register_finalizer_no_order(p, fz_f1, NULL, NULL, NULL);
        else
            GC_register_finalizer_unreachable(p, fz_f2, NULL, NULL, NULL);
        if (i % 4 < 2)
            GC_register_finalizer(p, NULL, NULL, NULL, NULL);
        else
            GC_register_finalizer_no_order(p, NULL, NULL, NULL, NULL);
    }
}

#define FZ_NR 10
static _Atomic long fz_rereg_runs;
static void fz_fin_rereg(void *obj, void *cd)
{
    (void)obj, (void)cd;
    atomic_fetch_add(&fz_rereg_runs, 1);
}
NOINLINE static void fz_rereg_make(void)
{
    for (int p = 0; p < FZ_NR; p++) {
        struct fz_node *x = GC_malloc(sizeof *x), *y = GC_malloc(sizeof *y);
        x->next = y;
        y->next = x;
        GC_register_finalizer(x, fz_fin_cycle, NULL, NULL, NULL);
        GC_register_finalizer(y, fz_fin_cycle, NULL, NULL, NULL);
        GC_finalization_proc ofn = NULL;
        void *ocd = (void *)1;
        GC_register_finalizer_no_order(x, fz_fin_rereg, NULL, &ofn, &ocd);
        TC_CHECK(ofn == fz_fin_cycle && ocd == NULL, "re-registering: old fn/cd not the ordered one's");
        GC_register_finalizer_no_order(y, fz_fin_rereg, NULL, NULL, NULL);
    }
}

static void t_finalizers(void)
{
    fz_ofn_part();
    settle(3, 48);
    TC_CHECK(atomic_load(&fz_f1_runs) == 0 && atomic_load(&fz_f2_runs) == 0,
             "finalizers removed with fn NULL ran (%ld, %ld times)", atomic_load(&fz_f1_runs),
             atomic_load(&fz_f2_runs));
    fz_unreg_no_order();
    settle(3, 48);
    TC_CHECK(atomic_load(&fz_f1_runs) == 0 && atomic_load(&fz_f2_runs) == 0,
             "no_order/unreachable finalizers removed with fn NULL ran (%ld, %ld times)", atomic_load(&fz_f1_runs),
             atomic_load(&fz_f2_runs));
    progress("old fn/cd returned; fn NULL unregisters");

    fz_cd_make();
    collect_churn(48, 4000, 3);
    settle(1, 48);
    TC_CHECK(atomic_load(&fz_cd_runs) == 0, "%ld finalizers ran for reachable objects", atomic_load(&fz_cd_runs));
    for (size_t i = 0; i < FZ_N; i++)
        fz_live[i] = NULL;
    long n = wait_count(&fz_cd_runs, FZ_N, 20, 48, 1000);
    TC_CHECK(n >= FZ_N - 2, "only %ld of %d dropped objects were finalized", n, FZ_N);
    progress("%ld/%d finalized; client data kept alive and intact", n, FZ_N);

    /* Chains A -> B: A's finalizer first; B's only at a later collection. */
    fz_chain_make();
    collect_clean();
    long a = wait_count(&fz_a_runs, FZ_NC, 0, 0, 400);
    TC_CHECK(a >= FZ_NC - 2, "only %ld of %d chain heads (A) finalized after a collection", a, FZ_NC);
    TC_CHECK(atomic_load(&fz_b_runs) == 0,
             "%ld B finalizers ran at the collection that found their A unreachable (A points to B)",
             atomic_load(&fz_b_runs));
    long b = wait_count(&fz_b_runs, a, 10, 0, 1000);
    TC_CHECK(b >= a, "only %ld B's finalized, of %ld chains whose A was", b, a);
    progress("ordered chains: %ld A's, then %ld B's at later collections", a, b);

    /* no_order cycles are finalized, both members. */
    fz_pairs_make();
    long pr = wait_count(&fz_pair_runs, 2 * FZ_NP, 10, 48, 1000);
    TC_CHECK(pr >= 2 * FZ_NP - 4, "only %ld of %d members of no_order 2-cycles were finalized", pr, 2 * FZ_NP);
    progress("no_order 2-cycles: %ld/%d finalized", pr, 2 * FZ_NP);

    /* ignore_self: a pointer to itself does not keep an object from finalization. */
    fz_selfs_make();
    long sr = wait_count(&fz_self_runs, FZ_NS, 10, 48, 1000);
    TC_SOFT(sr >= FZ_NS - 2, "only %ld of %d self-referencing objects registered with "
            "GC_register_finalizer_ignore_self were finalized", sr, FZ_NS);
    progress("ignore_self: %ld/%d finalized", sr, FZ_NS);

    /* Ordered cycles (and ordered cycles of one) are never finalized. */
    fz_cycles_make();
    settle(6, 48);
    TC_CHECK(atomic_load(&fz_cycle_runs) == 0,
             "%ld finalizers ran in cycles of objects with ordered finalizers (documented: never finalized)",
             atomic_load(&fz_cycle_runs));
    progress("ordered cycles: never finalized");

    /* Re-registered no_order, an ordered cycle is an unordered one. */
    fz_rereg_make();
    long rr = wait_count(&fz_rereg_runs, 2 * FZ_NR, 10, 48, 1000);
    TC_SOFT(rr >= 2 * FZ_NR - 4,
            "only %ld of %d members of 2-cycles re-registered from GC_register_finalizer to "
            "GC_register_finalizer_no_order were finalized", rr, 2 * FZ_NR);
    TC_CHECK(atomic_load(&fz_cycle_runs) == 0, "a replaced ordered finalizer ran");
    progress("ordered 2-cycles re-registered no_order: %ld/%d finalized", rr, 2 * FZ_NR);
}

/* ======================================================================== */
/* on_demand                                                                 */
/* ======================================================================== */

#define OD_N 40
static _Atomic long od_notified, od_ran, od_wrong_thread;
static pthread_t od_main;

static void od_notify(void) { atomic_fetch_add(&od_notified, 1); }

static void od_fin(void *obj, void *cd)
{
    uintptr_t i = (uintptr_t)cd;
    TC_CHECK(i < OD_N && tc_pattern_diff(obj, 64, (uint32_t)(4000 + i)) < 0,
             "finalizer %lu: the object was overwritten", (unsigned long)i);
    if (!pthread_equal(pthread_self(), od_main))
        atomic_fetch_add(&od_wrong_thread, 1);
    atomic_fetch_add(&od_ran, 1);
}

NOINLINE static void od_make(void)
{
    for (uintptr_t i = 0; i < OD_N; i++) {
        void *o = GC_malloc(64);
        tc_fill(o, 64, (uint32_t)(4000 + i));
        GC_register_finalizer(o, od_fin, (void *)i, NULL, NULL);
    }
}

static void t_on_demand(void)
{
    od_main = pthread_self();
    GC_set_finalize_on_demand(1);
    TC_CHECK(GC_get_finalize_on_demand() == 1, "GC_get_finalize_on_demand() %d after setting 1",
             GC_get_finalize_on_demand());
    GC_set_finalizer_notifier(od_notify);
    TC_CHECK(GC_get_finalizer_notifier() == od_notify, "GC_get_finalizer_notifier() is not what was set");
    TC_CHECK(GC_should_invoke_finalizers() == 0, "GC_should_invoke_finalizers() %d with none registered",
             GC_should_invoke_finalizers());
    TC_CHECK(GC_invoke_finalizers() == 0, "GC_invoke_finalizers() ran some with none registered");
    od_make();
    for (int i = 0; i < 3; i++)
        collect_churn(64, 2000, 1);
    tc_sleep_ms(200); /* a finalizer thread, were there one running them, would have */
    TC_CHECK(atomic_load(&od_ran) == 0, "%ld finalizers ran before GC_invoke_finalizers (finalize on demand)",
             atomic_load(&od_ran));
    TC_CHECK(GC_should_invoke_finalizers() != 0, "GC_should_invoke_finalizers() 0 with finalizers ready");
    TC_CHECK(atomic_load(&od_notified) >= 1, "the finalizer notifier was not called");
    long total = 0;
    for (int r = 0; r < 10; r++) {
        long before = atomic_load(&od_ran);
        int k = GC_invoke_finalizers();
        TC_CHECK(k == atomic_load(&od_ran) - before, "GC_invoke_finalizers() returned %d, but %ld ran", k,
                 atomic_load(&od_ran) - before);
        total += k;
        if (atomic_load(&od_ran) >= OD_N)
            break;
        collect_clean();
    }
    TC_CHECK(atomic_load(&od_ran) >= OD_N - 2, "only %ld of %d finalized", atomic_load(&od_ran), OD_N);
    TC_CHECK(GC_should_invoke_finalizers() == 0, "GC_should_invoke_finalizers() nonzero after all ran");
    TC_CHECK(GC_invoke_finalizers() == 0, "GC_invoke_finalizers() ran more after all ran");
    TC_CHECK(atomic_load(&od_wrong_thread) == 0, "%ld finalizers ran outside GC_invoke_finalizers' thread",
             atomic_load(&od_wrong_thread));
    progress("%ld finalized by GC_invoke_finalizers (returned %ld in all); notifier called %ld times",
             atomic_load(&od_ran), total, atomic_load(&od_notified));
}

/* ======================================================================== */
/* links                                                                     */
/* ======================================================================== */

#define LK_N 64
static void *volatile lk_keep[LK_N];

NOINLINE static void lk_make(watch_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        void *o = watch_new(w, i);
        if (i % 2 == 0)
            lk_keep[i / 2] = o;
    }
}

static GC_hidden_pointer lk_static; /* a static link: holds a hidden pointer */

NOINLINE static void lk_codes(void **l, watch_t *w)
{
    void *o = watch_new(w, 0); /* w.link[0] is registered already: register more */
    lk_keep[0] = o;
    int r;
    l[0] = o;
    r = GC_general_register_disappearing_link(&l[0], o);
    TC_SOFT(r == GC_SUCCESS, "register: %d, not GC_SUCCESS", r);
    r = GC_general_register_disappearing_link(&l[0], o);
    TC_SOFT(r == GC_DUPLICATE, "registering the same link again: %d, not GC_DUPLICATE", r);
    r = GC_unregister_disappearing_link(&l[0]);
    TC_SOFT(r == 1, "GC_unregister_disappearing_link of a registered link: %d, not 1", r);
    r = GC_unregister_disappearing_link(&l[0]);
    TC_SOFT(r == 0, "GC_unregister_disappearing_link of an unregistered link: %d, not 0", r);
    r = GC_general_register_disappearing_link(&l[0], o);
    TC_SOFT(r == GC_SUCCESS, "registering again after unregistering: %d", r);
    /* Move l[0] to l[1]; l[0] is then unregistered. */
    r = GC_move_disappearing_link(&l[0], &l[1]);
    TC_SOFT(r == GC_SUCCESS, "GC_move_disappearing_link to a free link: %d, not GC_SUCCESS", r);
    l[1] = o;
    l[0] = (void *)tc_hide(o); /* moved away: must not be touched */
    r = GC_move_disappearing_link(&l[0], &l[2]);
    TC_SOFT(r == GC_NOT_FOUND, "GC_move_disappearing_link from an unregistered link: %d, not GC_NOT_FOUND", r);
    l[2] = o;
    r = GC_general_register_disappearing_link(&l[2], o);
    TC_SOFT(r == GC_SUCCESS, "register: %d", r);
    r = GC_move_disappearing_link(&l[1], &l[2]);
    TC_SOFT(r == GC_DUPLICATE, "GC_move_disappearing_link onto a registered link: %d, not GC_DUPLICATE", r);
    r = GC_move_disappearing_link(&l[1], &l[1]);
    TC_SOFT(r == GC_SUCCESS, "GC_move_disappearing_link onto itself: %d, not GC_SUCCESS", r);
    /* An unregistered link keeps its value. */
    l[3] = o;
    r = GC_general_register_disappearing_link(&l[3], o);
    TC_SOFT(r == GC_SUCCESS, "register: %d", r);
    TC_SOFT(GC_unregister_disappearing_link(&l[3]) == 1, "unregister: not 1");
    /* Long links: the same codes. */
    l[4] = o;
    r = GC_register_long_link(&l[4], o);
    TC_SOFT(r == GC_SUCCESS, "GC_register_long_link: %d, not GC_SUCCESS", r);
    r = GC_register_long_link(&l[4], o);
    TC_SOFT(r == GC_DUPLICATE, "GC_register_long_link again: %d, not GC_DUPLICATE", r);
    r = GC_move_long_link(&l[4], &l[5]);
    TC_SOFT(r == GC_SUCCESS, "GC_move_long_link: %d, not GC_SUCCESS", r);
    l[5] = o;
    l[4] = (void *)tc_hide(o);
    r = GC_move_long_link(&l[4], &l[6]);
    TC_SOFT(r == GC_NOT_FOUND, "GC_move_long_link from an unregistered link: %d, not GC_NOT_FOUND", r);
    l[6] = o;
    r = GC_register_long_link(&l[6], o);
    TC_SOFT(r == GC_SUCCESS, "GC_register_long_link: %d", r);
    TC_SOFT(GC_unregister_long_link(&l[6]) == 1, "GC_unregister_long_link of a registered link: not 1");
    TC_SOFT(GC_unregister_long_link(&l[6]) == 0, "GC_unregister_long_link of an unregistered link: not 0");
    /* A static link, holding the hidden pointer as bdwgc's documentation suggests. */
    lk_static = GC_HIDE_POINTER(o);
    r = GC_general_register_disappearing_link((void **)&lk_static, o);
    TC_SOFT(r == GC_SUCCESS, "registering a static link: %d", r);
}

/* Long and short links to objects with a (resurrecting) finalizer. */
#define LF_N 20
static void **lf_short, **lf_long;
static uintptr_t lf_hid[LF_N];
static void *volatile lf_res[LF_N];
static _Atomic long lf_runs, lf_short_set, lf_long_clear;

static void lf_fin(void *obj, void *cd)
{
    uintptr_t i = (uintptr_t)cd;
    TC_CHECK(i < LF_N && obj == tc_unhide(lf_hid[i]), "finalizer %lu: wrong object", (unsigned long)i);
    if (lf_short[i] != NULL)
        atomic_fetch_add(&lf_short_set, 1);
    if (lf_long[i] != obj)
        atomic_fetch_add(&lf_long_clear, 1);
    lf_res[i] = obj; /* resurrect */
    atomic_fetch_add(&lf_runs, 1);
}

NOINLINE static void lf_make(void)
{
    for (uintptr_t i = 0; i < LF_N; i++) {
        void *o = GC_malloc(40);
        tc_fill(o, 40, (uint32_t)(5000 + i));
        lf_hid[i] = tc_hide(o);
        lf_short[i] = lf_long[i] = o;
        TC_CHECK(GC_general_register_disappearing_link(&lf_short[i], o) == GC_SUCCESS, "register failed");
        TC_CHECK(GC_register_long_link(&lf_long[i], o) == GC_SUCCESS, "register long failed");
        GC_register_finalizer(o, lf_fin, (void *)i, NULL, NULL);
    }
}

/* Links in objects that die. */
#define LD_N 2000
static void *volatile ld_target;
static void **volatile ld_churn;

NOINLINE static void ld_make_holders(int with_target)
{
    for (int i = 0; i < LD_N; i++) {
        void **h = GC_malloc_atomic(16);
        void *t = with_target ? ld_target : GC_malloc(16);
        h[0] = t;
        h[1] = NULL;
        TC_CHECK(GC_general_register_disappearing_link(&h[0], t) == GC_SUCCESS, "register failed");
        if (i % 3 == 0)
            TC_CHECK(GC_register_long_link(&h[1], t) == GC_SUCCESS, "register long failed");
    }
}

NOINLINE static void ld_make_target(void)
{
    ld_target = GC_malloc(64);
}

/* GC_register_disappearing_link(link): bdwgc watches GC_base(link), the
 * object the link lives in, not the one *link points to. */
static void **volatile rl_x;
static void *volatile rl_z;
NOINLINE static void rl_make(void)
{
    rl_x = GC_malloc(16);
    rl_z = GC_malloc(16);
    tc_fill(rl_z, 16, 31);
    void *y = GC_malloc(16);
    rl_x[0] = y;
    int r = GC_register_disappearing_link(&rl_x[0]);
    TC_SOFT(r == GC_SUCCESS, "GC_register_disappearing_link: %d", r);
    rl_x[0] = rl_z; /* the field now holds another (reachable) object */
}

/* A link in a scanned object, holding the hidden pointer (Guile's weak
 * tables): cleared when the target dies, while the holder lives. */
#define HL_N 32
static GC_word *volatile hl_holder;
NOINLINE static void hl_make(watch_t *w)
{
    hl_holder = GC_malloc(HL_N * sizeof(GC_word));
    for (size_t i = 0; i < HL_N; i++) {
        void *o = watch_new(w, i);
        hl_holder[i] = GC_HIDE_POINTER(o);
        int r = GC_general_register_disappearing_link((void **)&hl_holder[i], o);
        TC_CHECK(r == GC_SUCCESS, "register: %d", r);
    }
}

static void t_links(void)
{
    /* Half the objects kept: their links stay; the others' are cleared. */
    watch_t w;
    watch_init(&w, 2 * LK_N, 32, 6000);
    lk_make(&w);
    collect_churn(32, 4000, 4);
    for (size_t i = 0; i < w.n; i += 2)
        watch_alive(&w, i, "linked object kept in a global");
    size_t cl = watch_cleared(&w, 0, w.n);
    size_t dropped = w.n / 2;
    TC_CHECK(cl + 2 >= dropped, "only %zu of %zu links to dropped objects cleared", cl, dropped);
    for (size_t i = 0; i < LK_N; i++)
        lk_keep[i] = NULL;
    for (int r = 0; r < 4 && cl < w.n; r++) {
        collect_churn(32, 1000, 1);
        cl = watch_cleared(&w, 0, w.n);
    }
    TC_CHECK(cl + 2 >= w.n, "only %zu of %zu links cleared once all were dropped", cl, w.n);
    progress("links kept while reachable, %zu/%zu cleared after", cl, w.n);

    /* Return codes, moves, a static link. */
    watch_t w1;
    watch_init(&w1, 1, 32, 6500);
    void **l = GC_malloc_atomic_uncollectable(8 * sizeof(void *));
    memset(l, 0, 8 * sizeof(void *));
    lk_codes(l, &w1);
    void *o = lk_keep[0];
    collect_churn(32, 1000, 2);
    TC_CHECK(l[1] == o && l[2] == o && l[5] == o && w1.link[0] == o && GC_REVEAL_POINTER(lk_static) == o,
             "links to a reachable object changed");
    o = NULL;
    lk_keep[0] = NULL;
    for (int r = 0; r < 6 && w1.link[0] != NULL; r++)
        collect_churn(32, 1000, 1);
    TC_CHECK(w1.link[0] == NULL, "the object did not die");
    collect_clean();
    TC_SOFT(l[1] == NULL, "the link moved to l[1] was not cleared (%p)", l[1]);
    TC_SOFT(l[2] == NULL, "a registered link was not cleared (%p)", l[2]);
    TC_SOFT(l[5] == NULL, "the long link moved to l[5] was not cleared (%p)", l[5]);
    TC_SOFT(l[0] != NULL && l[4] != NULL, "a link moved away was still cleared");
    TC_SOFT(l[3] != NULL, "an unregistered link was cleared");
    TC_SOFT(l[6] != NULL, "an unregistered long link was cleared");
    TC_SOFT(lk_static == 0, "the static link was not cleared (%#lx)", (unsigned long)lk_static);
    progress("return codes, moves, a static link");

    /* Short links clear when the object is found unreachable, before its
     * finalizer; long ones only once it is really gone. */
    lf_short = GC_malloc_atomic_uncollectable(LF_N * sizeof(void *));
    lf_long = GC_malloc_atomic_uncollectable(LF_N * sizeof(void *));
    lf_make();
    long runs = wait_count(&lf_runs, LF_N, 10, 40, 1000);
    TC_CHECK(runs >= LF_N - 2, "only %ld of %d finalizers ran", runs, LF_N);
    TC_SOFT(atomic_load(&lf_short_set) == 0,
            "%ld short links were still set when the finalizer ran (bdwgc clears them first)",
            atomic_load(&lf_short_set));
    TC_CHECK(atomic_load(&lf_long_clear) == 0, "%ld long links were cleared before the finalizer ran",
             atomic_load(&lf_long_clear));
    collect_churn(40, 2000, 3);
    for (int i = 0; i < LF_N; i++)
        if (lf_res[i]) {
            TC_CHECK(lf_long[i] == lf_res[i], "long link %d cleared while its object is resurrected (reachable)",
                     i);
            TC_CHECK(tc_pattern_diff(lf_res[i], 40, (uint32_t)(5000 + i)) < 0, "resurrected object %d overwritten",
                     i);
            TC_SOFT(lf_short[i] == NULL, "short link %d not cleared", i);
        }
    for (size_t i = 0; i < LF_N; i++)
        lf_res[i] = NULL;
    size_t lcl = 0;
    for (int r = 0; r < 6 && lcl < (size_t)runs; r++) {
        collect_churn(40, 1000, 1);
        lcl = 0;
        for (int i = 0; i < LF_N; i++)
            lcl += lf_long[i] == NULL;
    }
    TC_CHECK(lcl + 2 >= (size_t)runs, "only %zu of %ld long links cleared once the resurrected objects died", lcl,
             runs);
    TC_CHECK(atomic_load(&lf_runs) == runs || atomic_load(&lf_runs) <= LF_N, "a finalizer ran twice");
    progress("short links cleared before the finalizer, long links after the object really died");

    /* A link inside an object that dies is forgotten: nothing is written
     * into its memory later (filled here with kept objects of its size). */
    ld_make_target();
    ld_make_holders(1);
    ld_churn = GC_malloc_uncollectable(20000 * sizeof(void *));
    collect_clean();
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 20000; i++) {
            if (r == 0 || i % 3 == r) {
                void *p = GC_malloc_atomic(16);
                tc_fill(p, 16, (uint32_t)i);
                ld_churn[i] = p;
            }
        }
        collect_clean();
    }
    ld_target = NULL;
    collect_churn(64, 2000, 4);
    for (int i = 0; i < 20000; i++)
        TC_CHECK(tc_pattern_diff(ld_churn[i], 16, (uint32_t)i) < 0,
                 "an object that took the memory of a dead link holder was overwritten (byte %ld): "
                 "the link was not forgotten",
                 tc_pattern_diff(ld_churn[i], 16, (uint32_t)i));
    GC_free(ld_churn);
    ld_make_holders(0);
    collect_churn(16, 20000, 6);
    progress("links in dead objects forgotten");

    watch_t hw;
    watch_init(&hw, HL_N, 32, 6700);
    hl_make(&hw);
    size_t hcl = 0;
    for (int r = 0; r < 6 && hcl < HL_N; r++) {
        collect_churn(32, 1000, 1);
        hcl = watch_cleared(&hw, 0, HL_N);
    }
    size_t hcl2 = 0;
    for (size_t i = 0; i < HL_N; i++)
        hcl2 += hl_holder[i] == 0;
    TC_CHECK(hcl + 2 >= HL_N && hcl2 == hcl,
             "hidden-pointer links in a live scanned object: %zu of %d cleared (%zu of their targets died)", hcl2,
             HL_N, hcl);
    progress("links holding hidden pointers in a live object: %zu/%d cleared", hcl2, HL_N);

    rl_make();
    collect_churn(16, 2000, 4);
    TC_SOFT(rl_x[0] == rl_z,
            "GC_register_disappearing_link(&x[0]) (bdwgc: the link watches x, the object it is in): x lives, "
            "but x[0] is %p, not the object %p stored there after registering (cleared when the object it "
            "pointed to at registration died?)",
            rl_x[0], rl_z);
    progress("GC_register_disappearing_link watches the object holding the link");
}

/* ======================================================================== */
/* uncollectable                                                             */
/* ======================================================================== */

#define UC_N 50
static uintptr_t uc_hid[UC_N], uca_hid[UC_N];

NOINLINE static void uc_make(watch_t *w, watch_t *wa)
{
    for (size_t i = 0; i < UC_N; i++) {
        void **u = GC_malloc_uncollectable(64);
        TC_CHECK(u != NULL, "GC_malloc_uncollectable returned NULL");
        TC_CHECK(tc_nonzero_at(u, 64) < 0, "GC_malloc_uncollectable object not zeroed");
        TC_CHECK(GC_size(u) >= 64, "GC_size %zu", GC_size(u));
        tc_fill(u + 1, 56, (uint32_t)(7000 + i));
        u[0] = watch_new(w, i);
        uc_hid[i] = tc_hide(u);
        void **a = GC_malloc_atomic_uncollectable(64);
        TC_CHECK(a != NULL, "GC_malloc_atomic_uncollectable returned NULL");
        tc_fill(a + 1, 56, (uint32_t)(7500 + i));
        a[0] = watch_new(wa, i); /* not scanned: does not keep it */
        uca_hid[i] = tc_hide(a);
    }
}

NOINLINE static void uc_free_all(void)
{
    for (size_t i = 0; i < UC_N; i++)
        GC_free(tc_unhide(uc_hid[i]));
}

static void uc_check(const char *when)
{
    for (size_t i = 0; i < UC_N; i++) {
        void **u = tc_unhide(uc_hid[i]);
        TC_CHECK(GC_base(u) == u && tc_pattern_diff(u + 1, 56, (uint32_t)(7000 + i)) < 0,
                 "%s: unreferenced uncollectable object %zu overwritten: collected?", when, i);
        void **a = tc_unhide(uca_hid[i]);
        TC_CHECK(GC_base(a) == a && tc_pattern_diff(a + 1, 56, (uint32_t)(7500 + i)) < 0,
                 "%s: unreferenced atomic uncollectable object %zu overwritten: collected?", when, i);
    }
}

static void t_uncollectable(void)
{
    watch_t w, wa;
    watch_init(&w, UC_N, 48, 8000);
    watch_init(&wa, UC_N, 48, 8500);
    uc_make(&w, &wa);
    collect_churn(64, 4000, 4);
    uc_check("after collections");
    for (size_t i = 0; i < UC_N; i++) {
        watch_alive(&w, i, "object referenced only from an uncollectable one");
        void **u = tc_unhide(uc_hid[i]);
        TC_CHECK(u[0] == tc_unhide(w.hid[i]), "uncollectable object %zu's pointer changed", i);
    }
    size_t acl = watch_cleared(&wa, 0, UC_N);
    TC_CHECK(acl + 2 >= UC_N,
             "only %zu of %d objects referenced only from atomic uncollectable memory were reclaimed "
             "(it is not scanned)",
             acl, UC_N);
    progress("uncollectable objects live and keep their targets; atomic ones do not keep theirs (%zu/%d)", acl,
             UC_N);

    /* GC_realloc keeps the kind. */
    void **r = GC_malloc_uncollectable(32);
    tc_fill(r, 32, 77);
    r = GC_realloc(r, 4000);
    TC_CHECK(r != NULL && tc_pattern_diff(r, 32, 77) < 0, "GC_realloc of an uncollectable object lost contents");
    uintptr_t rh = tc_hide(r);
    r = NULL;
    collect_churn(4000, 200, 3);
    r = tc_unhide(rh);
    TC_CHECK(GC_base(r) == r && tc_pattern_diff(r, 32, 77) < 0,
             "an uncollectable object grown with GC_realloc was collected");
    GC_free(r);
    r = NULL;

    /* GC_free releases them; then their targets are reclaimed. */
    uc_free_all();
    size_t cl = 0;
    for (int k = 0; k < 6 && cl < UC_N; k++) {
        collect_churn(64, 1000, 1);
        cl = watch_cleared(&w, 0, UC_N);
    }
    TC_CHECK(cl + 2 >= UC_N, "only %zu of %d targets reclaimed after GC_free of their uncollectable holders", cl,
             UC_N);
    for (size_t i = 0; i < UC_N; i++) {
        void **a = tc_unhide(uca_hid[i]);
        TC_CHECK(GC_base(a) == a && tc_pattern_diff(a + 1, 56, (uint32_t)(7500 + i)) < 0,
                 "atomic uncollectable object %zu overwritten", i);
        GC_free(a);
    }
    progress("GC_free: %zu/%d targets reclaimed after", cl, UC_N);
}

/* ======================================================================== */
/* debug                                                                     */
/* ======================================================================== */

static void *volatile dbg_keep;

static void dbg_child_smash(void)
{
    char *p = GC_debug_malloc(40, "smashfile.c", 4242);
    TC_CHECK(p != NULL, "GC_debug_malloc returned NULL");
    TC_CHECK(GC_size(GC_base(p)) >= 40, "GC_size");
    memset(p, 'a', 40);
    dbg_keep = p;
    *((volatile char *)tc_opaque((uintptr_t)p) + 40) = 0x55; /* one byte past the 40 asked for */
    GC_gcollect();
    GC_gcollect();
    char *q = GC_debug_malloc(100, "smashfile.c", 4343); /* bdwgc also reports on allocation */
    dbg_keep = q;
    GC_gcollect();
    printf("child done\n");
}

static _Atomic long dbg_fins;
static uintptr_t dbg_hid[10];
static void dbg_fin(void *obj, void *cd)
{
    uintptr_t i = (uintptr_t)cd;
    TC_CHECK(i < 10 && obj == tc_unhide(dbg_hid[i]),
             "GC_debug_register_finalizer: the finalizer got %p, not the user's pointer %p", obj,
             i < 10 ? tc_unhide(dbg_hid[i]) : NULL);
    TC_CHECK(tc_pattern_diff(obj, 24, (uint32_t)(60 + i)) < 0, "debug object's contents overwritten");
    atomic_fetch_add(&dbg_fins, 1);
}

NOINLINE static void dbg_fin_make(void)
{
    for (uintptr_t i = 0; i < 10; i++) {
        void *p = GC_debug_malloc(24, "cleanfile.c", 300);
        tc_fill(p, 24, (uint32_t)(60 + i));
        dbg_hid[i] = tc_hide(p);
        GC_finalization_proc ofn = NULL;
        void *ocd = NULL;
        GC_debug_register_finalizer(p, fz_f1, &fz_cd1, &ofn, &ocd);
        TC_CHECK(ofn == NULL, "GC_debug_register_finalizer, first: old fn not NULL");
        GC_debug_register_finalizer(p, dbg_fin, (void *)i, &ofn, &ocd);
        if (i == 0) /* reported once */
            TC_SOFT(ofn == fz_f1 && ocd == &fz_cd1,
                    "GC_debug_register_finalizer over another: old fn %p cd %p, not the first's (%p, %p)",
                    (void *)(uintptr_t)ofn, ocd, (void *)(uintptr_t)fz_f1, (void *)&fz_cd1);
    }
}

static void dbg_child_clean(void)
{
    /* GC_debug_free of a debug object. */
    for (int i = 0; i < 100; i++) {
        char *p = GC_debug_malloc(100 + i, "cleanfile.c", 100);
        TC_CHECK(p != NULL, "GC_debug_malloc returned NULL");
        TC_CHECK(tc_nonzero_at(p, 100 + (size_t)i) < 0, "GC_debug_malloc object not zeroed");
        memset(p, 'x', 100 + (size_t)i);
        GC_debug_free(p);
    }
    /* GC_debug_realloc keeps the contents. */
    char *q = GC_debug_malloc(100, "cleanfile.c", 200);
    tc_fill(q, 100, 11);
    q = GC_debug_realloc(q, 1000, "cleanfile.c", 201);
    TC_CHECK(q != NULL && tc_pattern_diff(q, 100, 11) < 0, "GC_debug_realloc to 1000 lost the contents");
    memset(q + 100, 'y', 900);
    q = GC_debug_realloc(q, 50, "cleanfile.c", 202);
    TC_CHECK(q != NULL && tc_pattern_diff(q, 50, 11) < 0, "GC_debug_realloc to 50 lost the contents");
    memset(q, 'z', 50);
    dbg_keep = q;
    /* Kinds, and surviving collections. */
    char *s = GC_debug_strdup("hello, debug", "cleanfile.c", 203);
    char *u = GC_debug_malloc_uncollectable(64, "cleanfile.c", 204);
    char *a = GC_debug_malloc_atomic(64, "cleanfile.c", 205);
    memset(u, 'u', 64);
    memset(a, 'a', 64);
    uintptr_t hs = tc_hide(s), hu = tc_hide(u), ha = tc_hide(a);
    void **keep = GC_malloc(2 * sizeof(void *));
    keep[0] = s;
    keep[1] = a;
    s = u = a = NULL;
    collect_churn(64, 3000, 3);
    s = tc_unhide(hs), u = tc_unhide(hu), a = tc_unhide(ha);
    TC_CHECK(strcmp(s, "hello, debug") == 0, "GC_debug_strdup's copy changed");
    for (int i = 0; i < 64; i++)
        TC_CHECK(u[i] == 'u' && a[i] == 'a', "debug objects' contents changed");
    GC_debug_free(u);
    GC_debug_free(q);
    dbg_keep = NULL;
    /* Finalizers of debug objects get the user's pointer. */
    dbg_fin_make();
    long n = wait_count(&dbg_fins, 10, 10, 64, 1000);
    TC_CHECK(n >= 8, "only %ld of 10 debug objects finalized", n);
    TC_CHECK(atomic_load(&fz_f1_runs) == 0, "a replaced debug finalizer ran");
    GC_gcollect();
    printf("child done\n");
}

/* Find-leak mode, bdwgc's thread_leak_test harder: threads leak debug
 * objects and collect at once, each collection's report printed while other
 * threads' collections stop the world. */
#define LK_THREADS 4
#define LK_ROUNDS 150

static void *dbg_leaker(void *arg)
{
    int line = 300 + (int)(intptr_t)arg;
    for (int r = 0; r < LK_ROUNDS; r++) {
        void *p[8];
        for (int i = 0; i < 8; i++) {
            p[i] = GC_debug_malloc(16 + (size_t)i, "leakfile.c", line);
            TC_CHECK(p[i] != NULL, "GC_debug_malloc returned NULL");
        }
        for (int i = 0; i < 8; i += 2)
            GC_debug_free(p[i]);
        GC_gcollect();
    }
    return NULL;
}

static void dbg_child_leaks(void)
{
    GC_set_find_leak(1);
    pthread_t th[LK_THREADS];
    for (int i = 0; i < LK_THREADS; i++) {
        int e = GC_pthread_create(&th[i], NULL, dbg_leaker, (void *)(intptr_t)i);
        TC_CHECK(e == 0, "GC_pthread_create: %s", strerror(e));
    }
    for (int i = 0; i < LK_THREADS; i++)
        pthread_join(th[i], NULL);
    GC_gcollect();
    GC_gcollect();
    printf("child done\n");
}

static void t_debug(void)
{
    child_t c;
    run_self(&c, "debug_child_smash", 60);
    TC_SOFT(strstr(c.err, "smashfile.c:4242") != NULL,
            "a write past a GC_debug_malloc object was not reported with its file:line; the child %s, stderr:\n%s",
            status_str(c.status), c.err);
    TC_CHECK(!WIFSIGNALED(c.status) || WTERMSIG(c.status) == SIGABRT, "the smashing child %s; stderr:\n%s",
             status_str(c.status), c.err);
    TC_SOFT(strstr(c.err, "smashfile.c:4343") == NULL, "an intact debug object was reported; stderr:\n%s", c.err);
    progress("smashed object reported: %s", strstr(c.err, "smashfile.c:4242") ? "yes" : "NO");
    child_free(&c);
    run_self(&c, "debug_child_clean", 60);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "the clean child %s; stderr:\n%s",
             status_str(c.status), c.err);
    TC_CHECK(strstr(c.err, "cleanfile.c") == NULL, "intact debug objects were reported; stderr:\n%s", c.err);
    progress("GC_debug_free, GC_debug_realloc, finalizers: no reports");
    child_free(&c);
    run_self(&c, "debug_child_leaks", 60);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 && strstr(c.out, "child done"),
             "the find-leak child with %d collecting threads %s (a report and a pause waiting for each "
             "other?); stderr:\n%.2000s", LK_THREADS, status_str(c.status), c.err);
    TC_CHECK(strstr(c.err, "Found ") && strstr(c.err, "leakfile.c:30"),
             "the find-leak child reported no leaked object of leakfile.c; stderr:\n%.2000s", c.err);
    progress("%d threads leaking and collecting at once: leaks reported, no hang", LK_THREADS);
    child_free(&c);
}

/* ======================================================================== */
/* enable_disable                                                            */
/* ======================================================================== */

static void t_enable_disable(void)
{
    GC_gcollect();
    TC_CHECK(GC_is_disabled() == 0, "GC_is_disabled() nonzero at start");
    GC_disable();
    GC_disable();
    TC_CHECK(GC_is_disabled() != 0, "GC_is_disabled() 0 after GC_disable");
    GC_word g0 = GC_get_gc_no();
    size_t hs0 = GC_get_heap_size();
    churn(1024, 100000); /* 100 MB of garbage */
    GC_gcollect();
    TC_CHECK(GC_get_gc_no() == g0, "%lu collections while disabled (twice)", (unsigned long)(GC_get_gc_no() - g0));
    GC_enable();
    TC_CHECK(GC_is_disabled() != 0, "one GC_enable after two GC_disable re-enabled collection");
    churn(1024, 50000);
    GC_gcollect();
    TC_CHECK(GC_get_gc_no() == g0, "%lu collections while still disabled once",
             (unsigned long)(GC_get_gc_no() - g0));
    TC_CHECK(GC_get_heap_size() > hs0 + 100 * MiB, "the heap did not grow (%zu -> %zu) without collections", hs0,
             GC_get_heap_size());
    GC_enable();
    TC_CHECK(GC_is_disabled() == 0, "still disabled after the last GC_enable");
    GC_gcollect();
    TC_CHECK(GC_get_gc_no() >= g0 + 1, "GC_gcollect after the last GC_enable did not collect");
    GC_word g1 = GC_get_gc_no();
    churn(1024, 300000); /* 300 MB: collections start by themselves again */
    TC_CHECK(GC_get_gc_no() > g1, "no collection by itself over 300 MB of garbage after GC_enable");
    progress("%lu automatic collections after re-enabling", (unsigned long)(GC_get_gc_no() - g1));
}

/* ======================================================================== */
/* stats                                                                     */
/* ======================================================================== */

static void *volatile st_keep[64];

NOINLINE static void st_alloc(size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        void *p = GC_malloc(size);
        TC_CHECK(p != NULL, "GC_malloc returned NULL");
        st_keep[i % 64] = p;
    }
}

static void in_range(const char *what, GC_word v, size_t a, size_t b)
{
    size_t lo = a < b ? a : b, hi = a < b ? b : a;
    TC_SOFT(v >= lo && v <= hi, "GC_get_heap_usage_safe's %s %lu, but the getter gave %zu and %zu around it", what,
            (unsigned long)v, a, b);
}

static void t_stats(void)
{
    /* bdwgc maps an initial heap in GC_init (64 KiB at least): programs
     * divide by GC_get_heap_size() right away. */
    TC_SOFT(GC_get_heap_size() > 0, "GC_get_heap_size() 0 after GC_INIT, before any allocation");
    sink = GC_malloc(100);
    GC_gcollect();
    size_t hs = GC_get_heap_size(), fb = GC_get_free_bytes(), mu = GC_get_memory_use();
    TC_CHECK(hs > 0, "GC_get_heap_size() 0");
    TC_CHECK(fb <= hs, "GC_get_free_bytes() %zu > GC_get_heap_size() %zu", fb, hs);
    TC_CHECK(mu <= hs, "GC_get_memory_use() %zu > GC_get_heap_size() %zu", mu, hs);
    TC_SOFT(GC_get_obtained_from_os_bytes() >= hs, "GC_get_obtained_from_os_bytes() %zu < heap size %zu",
            GC_get_obtained_from_os_bytes(), hs);

    /* Each GC_gcollect is one collection. */
    for (int i = 0; i < 5; i++) {
        GC_word g0 = GC_get_gc_no();
        GC_gcollect();
        GC_word g1 = GC_get_gc_no();
        TC_CHECK(g1 == g0 + 1, "GC_gcollect moved GC_get_gc_no() from %lu to %lu", (unsigned long)g0,
                 (unsigned long)g1);
    }

    /* Total bytes grow by at least what was allocated. */
    size_t t0 = GC_get_total_bytes();
    st_alloc(2000, 1000);
    size_t t1 = GC_get_total_bytes();
    TC_CHECK(t1 >= t0 + 2000 * 1000, "GC_get_total_bytes() grew by %zu over 2,000,000 bytes allocated", t1 - t0);
    st_alloc(1, 10 * MiB);
    size_t t2 = GC_get_total_bytes();
    TC_CHECK(t2 >= t1 + 10 * MiB, "GC_get_total_bytes() grew by %zu over a 10 MiB object", t2 - t1);

    /* Bytes since the collection: small right after it, then growing. */
    int tries = 0;
    for (;; tries++) {
        TC_CHECK(tries < 10, "a collection started by itself in each of 10 tries");
        GC_gcollect();
        GC_word g = GC_get_gc_no();
        size_t s0 = GC_get_bytes_since_gc();
        TC_CHECK(s0 <= 1 * MiB, "GC_get_bytes_since_gc() %zu right after GC_gcollect", s0);
        st_alloc(4096, 256); /* 1 MiB */
        size_t s1 = GC_get_bytes_since_gc();
        if (GC_get_gc_no() != g)
            continue;
        TC_CHECK(s1 >= s0 + 1 * MiB - 64 * KiB, "GC_get_bytes_since_gc() grew from %zu to %zu over 1 MiB allocated",
                 s0, s1);
        break;
    }

    /* GC_get_heap_usage_safe agrees with the getters. */
    GC_gcollect();
    size_t b_hs = GC_get_heap_size(), b_fb = GC_get_free_bytes(), b_um = GC_get_unmapped_bytes(),
           b_sg = GC_get_bytes_since_gc(), b_tb = GC_get_total_bytes();
    GC_word u_hs = 1, u_fb = 1, u_um = 1, u_sg = 1, u_tb = 1;
    GC_get_heap_usage_safe(&u_hs, &u_fb, &u_um, &u_sg, &u_tb);
    size_t a_hs = GC_get_heap_size(), a_fb = GC_get_free_bytes(), a_um = GC_get_unmapped_bytes(),
           a_sg = GC_get_bytes_since_gc(), a_tb = GC_get_total_bytes();
    in_range("heap size", u_hs, b_hs, a_hs);
    in_range("free bytes", u_fb, b_fb, a_fb);
    in_range("unmapped bytes", u_um, b_um, a_um);
    in_range("bytes since gc", u_sg, b_sg, a_sg);
    in_range("total bytes", u_tb, b_tb, a_tb);
    GC_get_heap_usage_safe(NULL, NULL, NULL, NULL, NULL); /* any may be NULL */

    /* GC_get_prof_stats: the struct's size; older and newer callers. */
    struct GC_prof_stats_s s;
    memset(&s, 0x5a, sizeof s);
    size_t r = GC_get_prof_stats(&s, sizeof s);
    TC_CHECK(r == sizeof s, "GC_get_prof_stats returned %zu, not sizeof (%zu)", r, sizeof s);
    TC_SOFT(s.gc_no == GC_get_gc_no(), "prof stats gc_no %lu, GC_get_gc_no() %lu", (unsigned long)s.gc_no,
            (unsigned long)GC_get_gc_no());
    TC_SOFT(s.heapsize_full >= GC_get_heap_size(), "prof stats heapsize_full %lu < GC_get_heap_size() %zu",
            (unsigned long)s.heapsize_full, GC_get_heap_size());
    TC_SOFT(s.free_bytes_full <= s.heapsize_full && s.unmapped_bytes <= s.heapsize_full,
            "prof stats free %lu / unmapped %lu over the heap %lu", (unsigned long)s.free_bytes_full,
            (unsigned long)s.unmapped_bytes, (unsigned long)s.heapsize_full);
    TC_SOFT(s.allocd_bytes_before_gc + s.bytes_allocd_since_gc <= GC_get_total_bytes() + 64 * KiB &&
                s.allocd_bytes_before_gc + s.bytes_allocd_since_gc + 64 * KiB >= t2,
            "prof stats: allocated before %lu + since %lu, total bytes %zu", (unsigned long)s.allocd_bytes_before_gc,
            (unsigned long)s.bytes_allocd_since_gc, GC_get_total_bytes());
    TC_SOFT(s.markers_m1 < 1024, "markers_m1 %lu", (unsigned long)s.markers_m1);
    memset(&s, 0x5a, sizeof s);
    size_t part = offsetof(struct GC_prof_stats_s, gc_no);
    r = GC_get_prof_stats(&s, part);
    TC_CHECK(r == part, "GC_get_prof_stats(%zu bytes) returned %zu", part, r);
    TC_CHECK(s.gc_no == (GC_word)0x5a5a5a5a5a5a5a5aull, "GC_get_prof_stats wrote past the size it was given");
    unsigned char big[sizeof s + 16];
    memset(big, 0, sizeof big);
    r = GC_get_prof_stats((struct GC_prof_stats_s *)(void *)big, sizeof big);
    TC_CHECK(r == sizeof s, "GC_get_prof_stats(%zu bytes) returned %zu, not %zu", sizeof big, r, sizeof s);
    for (size_t i = sizeof s; i < sizeof big; i++)
        TC_SOFT(big[i] == 0xff, "GC_get_prof_stats: byte %zu past the struct is %#x, not 0xff", i, big[i]);

    /* The heap grows as objects are kept. */
    size_t h0 = GC_get_heap_size();
    void **hold = GC_malloc(64 * sizeof(void *));
    for (int i = 0; i < 64; i++)
        hold[i] = GC_malloc_atomic(1 * MiB);
    size_t h1 = GC_get_heap_size();
    TC_CHECK(h1 >= 64 * MiB && h1 > h0, "GC_get_heap_size() %zu -> %zu with 64 MiB more kept", h0, h1);
    GC_gcollect();
    TC_CHECK(GC_get_memory_use() >= 64 * MiB, "GC_get_memory_use() %zu with 64 MiB kept", GC_get_memory_use());
    TC_CHECK(GC_get_free_bytes() <= GC_get_heap_size(), "free bytes over the heap size");
    progress("heap %zu -> %zu bytes, total %zu", hs, GC_get_heap_size(), GC_get_total_bytes());
    sink = hold;
}

/* ======================================================================== */
/* oom                                                                       */
/* ======================================================================== */

static char oom_sentinel[64];
static _Atomic long oom_calls;
static size_t oom_last;

static void *my_oom(size_t n)
{
    atomic_fetch_add(&oom_calls, 1);
    oom_last = n;
    return oom_sentinel;
}
static void *null_oom(size_t n)
{
    (void)n;
    atomic_fetch_add(&oom_calls, 1);
    return NULL;
}

static void t_oom(void)
{
    static const size_t huge[] = {(size_t)-1 / 2, (size_t)-1, (size_t)-1 - 4096, (size_t)1 << 50};
    /* The default: NULL, no crash; bdwgc's default function is a real one that
     * returns NULL, which programs chaining to it call. */
    GC_oom_func def = GC_get_oom_fn();
    TC_SOFT(def != NULL, "GC_get_oom_fn() is NULL by default (bdwgc's is a function returning NULL; a program "
            "that chains to the old one crashes)");
    if (def)
        TC_CHECK(def(100) == NULL, "the default oom function did not return NULL");
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        TC_CHECK(GC_malloc(huge[i]) == NULL, "GC_malloc(%#zx) did not fail", huge[i]);
        TC_CHECK(GC_malloc_atomic(huge[i]) == NULL, "GC_malloc_atomic(%#zx) did not fail", huge[i]);
        TC_CHECK(GC_malloc_uncollectable(huge[i]) == NULL, "GC_malloc_uncollectable(%#zx) did not fail", huge[i]);
        TC_CHECK(GC_debug_malloc(huge[i], "oom.c", 1) == NULL, "GC_debug_malloc(%#zx) did not fail", huge[i]);
    }
    void *p = GC_malloc(100);
    tc_fill(p, 100, 5);
    TC_CHECK(GC_realloc(p, (size_t)-1 / 2) == NULL, "GC_realloc to a huge size did not fail");
    TC_CHECK(tc_pattern_diff(p, 100, 5) < 0, "a failed GC_realloc changed the object");
    progress("huge sizes fail with NULL");

    /* A program's function: what it returns is the allocation's result. */
    GC_set_oom_fn(my_oom);
    TC_CHECK(GC_get_oom_fn() == my_oom, "GC_get_oom_fn() is not what was set");
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        long c0 = atomic_load(&oom_calls);
        void *q = GC_malloc(huge[i]);
        TC_SOFT(q == oom_sentinel,
                "GC_malloc(%#zx) returned %p, not the oom function's %p (the function was called %ld times)",
                huge[i], q, (void *)oom_sentinel, atomic_load(&oom_calls) - c0);
        if (atomic_load(&oom_calls) > c0)
            TC_SOFT(oom_last == huge[i], "the oom function got %#zx, not the size asked for %#zx", oom_last,
                    huge[i]);
        q = GC_malloc_atomic(huge[i]);
        TC_SOFT(q == oom_sentinel, "GC_malloc_atomic(%#zx) returned %p, not the oom function's", huge[i], q);
    }
    GC_set_oom_fn(null_oom);
    TC_CHECK(GC_malloc((size_t)-1 / 2) == NULL, "GC_malloc: the oom function returned NULL, but not the call");
    /* Still working afterwards. */
    GC_set_oom_fn(my_oom);
    for (int i = 0; i < 1000; i++) {
        void *q = GC_malloc(1000);
        TC_CHECK(q != NULL && q != oom_sentinel, "GC_malloc(1000) failed after out-of-memory");
    }
    GC_gcollect();
    TC_CHECK(tc_pattern_diff(p, 100, 5) < 0, "object changed");
    progress("the oom function was called %ld times", atomic_load(&oom_calls));
}

/* ======================================================================== */
/* threads                                                                   */
/* ======================================================================== */

#define TH_N 8
struct th_arg {
    GC_word idx;
    uint8_t pat[120];
};
static event_t th_go;
static char th_err[TH_N][256];

static void *th_start(void *arg)
{
    struct th_arg *a = arg;
    int local;
    event_wait(&th_go);
    GC_word i = a->idx;
    char *err = th_err[i < TH_N ? i : 0];
    if (i >= TH_N || tc_pattern_diff(a->pat, sizeof a->pat, (uint32_t)(500 + i)) >= 0) {
        snprintf(err, 256, "the start argument (the only reference to its object) was overwritten: collected "
                 "before the thread ran?");
        return NULL;
    }
    if (!GC_thread_is_registered()) {
        snprintf(err, 256, "GC_thread_is_registered() 0 in a GC_pthread_create'd thread");
        return NULL;
    }
    struct GC_stack_base sb;
    int r = GC_get_stack_base(&sb);
    if (r != GC_SUCCESS || (uintptr_t)sb.mem_base <= (uintptr_t)&local) {
        snprintf(err, 256, "GC_get_stack_base: %d, mem_base %p, a local at %p", r, sb.mem_base, (void *)&local);
        return NULL;
    }
    r = GC_register_my_thread(&sb);
    if (r != GC_DUPLICATE) {
        snprintf(err, 256, "GC_register_my_thread in a registered thread: %d, not GC_DUPLICATE", r);
        return NULL;
    }
    return arg;
}

NOINLINE static void th_spawn(pthread_t *t, size_t i)
{
    struct th_arg *a = GC_malloc(sizeof *a);
    TC_CHECK(a != NULL, "GC_malloc returned NULL");
    a->idx = i;
    tc_fill(a->pat, sizeof a->pat, (uint32_t)(500 + i));
    int e = GC_pthread_create(t, NULL, th_start, a);
    TC_CHECK(e == 0, "GC_pthread_create: %s", strerror(e));
}

static void *sb_fn(struct GC_stack_base *sb, void *arg)
{
    int local;
    TC_CHECK(sb != NULL && (uintptr_t)sb->mem_base > (uintptr_t)&local,
             "GC_call_with_stack_base: mem_base %p not above a local of fn (%p)", sb ? sb->mem_base : NULL,
             (void *)&local);
    return (char *)arg + 1;
}

static void *sb_locked(void *arg) { return (char *)arg + 2; }

/* GC_do_blocking, and GC_call_with_gc_active inside it. */
static event_t blk_entered, blk_go1, blk_go2;
static void *blk_active_res;

static void *blk_active(void *cd)
{
    (void)cd;
    void **list = NULL;
    for (int i = 0; i < 1000; i++) {
        void **n = GC_malloc(64);
        tc_fill(n + 1, 56, (uint32_t)i);
        n[0] = list;
        list = n;
    }
    GC_gcollect();
    churn(64, 2000);
    GC_gcollect();
    int i = 999;
    for (void **n = list; n; n = n[0], i--)
        TC_CHECK(tc_pattern_diff(n + 1, 56, (uint32_t)i) < 0,
                 "an object allocated inside GC_call_with_gc_active was overwritten");
    TC_CHECK(i == -1, "list length");
    return (void *)0x777;
}

static void *blk_fn(void *cd)
{
    (void)cd;
    event_post(&blk_entered);
    event_wait(&blk_go1);
    blk_active_res = GC_call_with_gc_active(blk_active, NULL);
    event_post(&blk_entered);
    event_wait(&blk_go2);
    return (void *)0x1234;
}

NOINLINE static void *blk_make(void)
{
    void *o = GC_malloc(256);
    tc_fill(o, 256, 99);
    return o;
}

static void *blk_thread(void *arg)
{
    (void)arg;
    void *volatile obj = blk_make(); /* in this frame, above GC_do_blocking's */
    void *r = GC_do_blocking(blk_fn, NULL);
    TC_CHECK(r == (void *)0x1234, "GC_do_blocking returned %p, not fn's", r);
    TC_CHECK(blk_active_res == (void *)0x777, "GC_call_with_gc_active returned %p, not fn's", blk_active_res);
    TC_CHECK(tc_pattern_diff(obj, 256, 99) < 0,
             "an object referenced from the frame calling GC_do_blocking was collected meanwhile");
    return NULL;
}

static void th_raw(void); /* at the end: a thread from the real pthread_create */

static void t_threads(void)
{
    GC_allow_register_threads(); /* bdwgc: before any GC_register_my_thread */
    TC_CHECK(GC_thread_is_registered(), "GC_thread_is_registered() 0 in the main thread after GC_INIT");
    struct GC_stack_base sb;
    int local;
    int r = GC_get_stack_base(&sb);
    TC_CHECK(r == GC_SUCCESS, "GC_get_stack_base: %d", r);
    TC_CHECK((uintptr_t)sb.mem_base > (uintptr_t)&local, "GC_get_stack_base: mem_base %p not above a local (%p)",
             sb.mem_base, (void *)&local);
    TC_CHECK((uintptr_t)sb.mem_base - (uintptr_t)&local < 1024 * MiB, "GC_get_stack_base: mem_base %p far above %p",
             sb.mem_base, (void *)&local);
    r = GC_register_my_thread(&sb);
    TC_CHECK(r == GC_DUPLICATE, "GC_register_my_thread in the main thread: %d, not GC_DUPLICATE", r);
    void *v = GC_call_with_stack_base(sb_fn, (char *)&local);
    TC_CHECK(v == (char *)&local + 1, "GC_call_with_stack_base did not return fn's value");
    struct GC_stack_base sb2 = {NULL};
    void *h = GC_get_my_stackbottom(&sb2);
    TC_CHECK(h != NULL, "GC_get_my_stackbottom returned NULL");
    TC_CHECK((uintptr_t)sb2.mem_base > (uintptr_t)&local, "GC_get_my_stackbottom: mem_base %p not above %p",
             sb2.mem_base, (void *)&local);
    TC_CHECK(GC_call_with_alloc_lock(sb_locked, &local) == (char *)&local + 2,
             "GC_call_with_alloc_lock did not return fn's value");
    progress("stack bases");

    /* The start argument is the only reference to its object. */
    event_init(&th_go);
    pthread_t t[TH_N];
    for (size_t i = 0; i < TH_N; i++)
        th_spawn(&t[i], i);
    collect_churn(128, 3000, 4);
    for (size_t i = 0; i < TH_N; i++)
        event_post(&th_go);
    for (size_t i = 0; i < TH_N; i++) {
        void *ret = (void *)1;
        int e = GC_pthread_join(t[i], &ret);
        TC_CHECK(e == 0, "GC_pthread_join: %s", strerror(e));
        TC_CHECK(th_err[i][0] == 0, "thread %zu: %s", i, th_err[i]);
        TC_CHECK(ret != NULL, "thread %zu failed", i);
    }
    progress("start arguments kept until the threads ran");

    /* Many short threads while collecting. */
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < TH_N; i++)
            th_spawn(&t[i], i);
        for (size_t i = 0; i < TH_N; i++)
            event_post(&th_go);
        collect_churn(128, 500, 1);
        for (size_t i = 0; i < TH_N; i++) {
            void *ret;
            GC_pthread_join(t[i], &ret);
            TC_CHECK(th_err[i][0] == 0, "round %d, thread %zu: %s", round, i, th_err[i]);
        }
    }

    /* A blocked thread does not stop collections, and its frames above
     * GC_do_blocking are still roots. */
    event_init(&blk_entered);
    event_init(&blk_go1);
    event_init(&blk_go2);
    pthread_t bt;
    int e = GC_pthread_create(&bt, NULL, blk_thread, NULL);
    TC_CHECK(e == 0, "GC_pthread_create: %s", strerror(e));
    event_wait(&blk_entered);
    collect_churn(256, 3000, 3);
    event_post(&blk_go1);
    event_wait(&blk_entered);
    collect_churn(256, 3000, 3);
    event_post(&blk_go2);
    GC_pthread_join(bt, NULL);
    progress("GC_do_blocking, GC_call_with_gc_active");

    th_raw();
    progress("GC_register_my_thread from a thread of the real pthread_create");
}

/* ======================================================================== */
/* incremental                                                               */
/* ======================================================================== */

struct in_node {
    struct in_node *next;
    GC_word idx;
    uint8_t pat[32];
};
#define IN_N 20000
static struct in_node *volatile in_head;

NOINLINE static void in_build(void)
{
    struct in_node *head = NULL;
    for (int i = 0; i < IN_N; i++) {
        struct in_node *n = GC_malloc(sizeof *n);
        TC_CHECK(n != NULL, "GC_malloc returned NULL");
        n->idx = (GC_word)i;
        tc_fill(n->pat, sizeof n->pat, (uint32_t)i);
        n->next = head;
        head = n;
        churn(64, 2);
        if (i % 100 == 0)
            GC_collect_a_little();
    }
    in_head = head;
}

/* Reverse the list in place, one pointer store per node, with garbage
 * between (collections run meanwhile). */
NOINLINE static void in_reverse(void)
{
    struct in_node *prev = NULL, *n = in_head;
    in_head = NULL;
    while (n) {
        struct in_node *next = n->next;
        n->next = prev;
        prev = n;
        n = next;
        churn(64, 1);
    }
    in_head = prev;
}

static void in_verify(const char *when)
{
    static uint8_t seen[IN_N];
    memset(seen, 0, sizeof seen);
    size_t count = 0;
    for (struct in_node *n = in_head; n; n = n->next) {
        TC_CHECK(count < IN_N, "%s: the list has more than %d nodes", when, IN_N);
        TC_CHECK(n->idx < IN_N && !seen[n->idx], "%s: node %zu has index %lu (repeated or bad)", when, count,
                 (unsigned long)n->idx);
        seen[n->idx] = 1;
        TC_CHECK(tc_pattern_diff(n->pat, sizeof n->pat, (uint32_t)n->idx) < 0, "%s: node %lu overwritten", when,
                 (unsigned long)n->idx);
        count++;
    }
    TC_CHECK(count == IN_N, "%s: the list has %zu nodes, not %d", when, count, IN_N);
}

static void t_incremental(void)
{
    GC_enable_incremental();
    TC_CHECK(GC_is_incremental_mode() != 0, "GC_is_incremental_mode() 0 after GC_enable_incremental");
    int need = GC_incremental_protection_needs();
    TC_CHECK(need >= 0 && need <= (GC_PROTECTS_POINTER_HEAP | GC_PROTECTS_PTRFREE_HEAP | GC_PROTECTS_STATIC_DATA |
                                   GC_PROTECTS_STACK),
             "GC_incremental_protection_needs() %d", need);
    GC_word g0 = GC_get_gc_no();
    in_build();
    in_verify("built");
    for (int r = 0; r < 20; r++) {
        in_reverse();
        GC_collect_a_little();
        if (r % 5 == 4) {
            GC_start_incremental_collection();
            in_verify("while collecting");
        }
    }
    collect_clean();
    collect_clean();
    in_verify("after collections");
    progress("list intact over %lu collections (protection needs %d)", (unsigned long)(GC_get_gc_no() - g0), need);
}

/* ======================================================================== */
/* variables                                                                 */
/* ======================================================================== */

static void in_bounds(const void *p, const char *what)
{
    uintptr_t lo = (uintptr_t)GC_least_plausible_heap_addr, hi = (uintptr_t)GC_greatest_plausible_heap_addr;
    uintptr_t a = (uintptr_t)p, e = a + GC_size(p);
    TC_CHECK(lo <= a && a < hi && e <= hi,
             "%s [%#lx, %#lx) is outside [GC_least_plausible_heap_addr %#lx, GC_greatest_plausible_heap_addr "
             "%#lx]",
             what, (unsigned long)a, (unsigned long)e, (unsigned long)lo, (unsigned long)hi);
}

#define VB_N 200
static void *volatile vb_big[VB_N];
static void *volatile vb_small[8];

static void t_variables(void)
{
    TC_CHECK(GC_get_all_interior_pointers() == GC_all_interior_pointers, "all_interior_pointers: %d vs %d",
             GC_get_all_interior_pointers(), GC_all_interior_pointers);
    TC_CHECK(GC_all_interior_pointers == 1, "GC_all_interior_pointers %d, bdwgc's default is 1",
             GC_all_interior_pointers);
    GC_set_all_interior_pointers(GC_all_interior_pointers); /* after GC_init, only the same value */
    TC_CHECK(GC_get_no_dls() == GC_no_dls, "no_dls: getter %d, variable %d", GC_get_no_dls(), GC_no_dls);
    TC_CHECK(GC_get_find_leak() == GC_find_leak && GC_find_leak == 0, "find_leak %d / %d", GC_get_find_leak(),
             GC_find_leak);
    TC_CHECK(GC_get_gc_no() == GC_gc_no, "GC_gc_no %lu, GC_get_gc_no() %lu", (unsigned long)GC_gc_no,
             (unsigned long)GC_get_gc_no());
    TC_CHECK(GC_dont_gc == 0, "GC_dont_gc %d", GC_dont_gc);

    /* Writing the variable shows in the getter, and the setter in the variable. */
    GC_java_finalization = 0;
    TC_CHECK(GC_get_java_finalization() == 0, "GC_java_finalization = 0: getter %d", GC_get_java_finalization());
    GC_set_java_finalization(1);
    TC_CHECK(GC_java_finalization == 1, "GC_set_java_finalization(1): variable %d", GC_java_finalization);
    GC_finalize_on_demand = 1;
    TC_CHECK(GC_get_finalize_on_demand() == 1, "GC_finalize_on_demand = 1: getter %d", GC_get_finalize_on_demand());
    GC_set_finalize_on_demand(0);
    TC_CHECK(GC_finalize_on_demand == 0, "GC_set_finalize_on_demand(0): variable %d", GC_finalize_on_demand);
    GC_dont_expand = 1;
    TC_CHECK(GC_get_dont_expand() == 1, "GC_dont_expand = 1: getter %d", GC_get_dont_expand());
    GC_set_dont_expand(0);
    TC_CHECK(GC_dont_expand == 0, "GC_set_dont_expand(0): variable %d", GC_dont_expand);
    GC_full_freq = 7;
    TC_CHECK(GC_get_full_freq() == 7, "GC_full_freq = 7: getter %d", GC_get_full_freq());
    GC_set_full_freq(19);
    TC_CHECK(GC_full_freq == 19, "GC_set_full_freq(19): variable %d", GC_full_freq);
    GC_word fsd = GC_get_free_space_divisor();
    TC_CHECK(fsd == GC_free_space_divisor, "free_space_divisor %lu / %lu", (unsigned long)fsd,
             (unsigned long)GC_free_space_divisor);
    GC_set_free_space_divisor(4);
    TC_CHECK(GC_free_space_divisor == 4 && GC_get_free_space_divisor() == 4, "GC_set_free_space_divisor(4)");
    GC_set_free_space_divisor(fsd);
    GC_max_retries = 3;
    TC_CHECK(GC_get_max_retries() == 3, "GC_max_retries = 3: getter %lu", (unsigned long)GC_get_max_retries());
    GC_set_max_retries(0);
    TC_CHECK(GC_max_retries == 0, "GC_set_max_retries(0)");
    GC_set_non_gc_bytes(12345);
    TC_CHECK(GC_non_gc_bytes == 12345 && GC_get_non_gc_bytes() == 12345, "GC_set_non_gc_bytes");
    GC_set_non_gc_bytes(0);
    GC_set_time_limit(50);
    TC_CHECK(GC_time_limit == 50 && GC_get_time_limit() == 50, "GC_set_time_limit(50): %lu / %lu", GC_time_limit,
             GC_get_time_limit());
    GC_set_time_limit(GC_TIME_UNLIMITED);
    GC_set_dont_precollect(1);
    TC_CHECK(GC_dont_precollect == 1 && GC_get_dont_precollect() == 1, "GC_set_dont_precollect");
    GC_set_dont_precollect(0);
    TC_CHECK(GC_get_parallel() == GC_parallel, "parallel %d / %d", GC_get_parallel(), GC_parallel);
    GC_warn_proc wp = GC_get_warn_proc();
    GC_set_warn_proc(GC_ignore_warn_proc);
    TC_CHECK(GC_get_warn_proc() == GC_ignore_warn_proc, "GC_set_warn_proc");
    GC_set_warn_proc(wp);
    progress("variables and getters agree");

    /* The plausible heap bounds hold every object. */
    static const size_t sizes[] = {16, 100, 1000, 5000, 40000, 300000, 4 * MiB};
    void *objs[3 * (sizeof sizes / sizeof *sizes)];
    size_t no = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        objs[no++] = GC_malloc(sizes[i]);
        objs[no++] = GC_malloc_atomic(sizes[i]);
        objs[no++] = GC_malloc_uncollectable(sizes[i]);
    }
    for (size_t i = 0; i < no; i++)
        in_bounds(objs[i], "an object");
    for (int i = 0; i < 8; i++)
        vb_small[i] = GC_malloc(24);
    size_t h0 = GC_get_heap_size();
    for (int i = 0; i < VB_N; i++) {
        vb_big[i] = GC_malloc_atomic(1 * MiB);
        TC_CHECK(vb_big[i] != NULL, "GC_malloc_atomic(1 MiB) returned NULL");
    }
    void *huge = GC_malloc(64 * MiB);
    TC_CHECK(huge != NULL, "GC_malloc(64 MiB) returned NULL");
    TC_CHECK(GC_get_heap_size() >= h0 + 200 * MiB, "the heap grew from %zu to only %zu", h0, GC_get_heap_size());
    GC_gcollect();
    for (int i = 0; i < VB_N; i++)
        in_bounds(vb_big[i], "a 1 MiB object allocated as the heap grew");
    in_bounds(huge, "a 64 MiB object");
    for (size_t i = 0; i < no; i++)
        in_bounds(objs[i], "an object allocated before the heap grew");
    for (int i = 0; i < 8; i++) {
        void *p = GC_malloc(24);
        in_bounds(p, "a small object allocated after the heap grew");
        in_bounds(vb_small[i], "a small object");
    }
    /* GC_MARK_AND_PUSH's filter lets every heap pointer through. */
    TC_CHECK((GC_word)huge >= (GC_word)GC_least_plausible_heap_addr &&
                 (GC_word)huge + 64 * MiB - 1 <= (GC_word)GC_greatest_plausible_heap_addr,
             "an interior pointer of the 64 MiB object is outside the plausible bounds");
    progress("bounds [%p, %p] hold every object; heap %zu bytes", GC_least_plausible_heap_addr,
             GC_greatest_plausible_heap_addr, GC_get_heap_size());
    for (size_t i = 2; i < no; i += 3)
        GC_free(objs[i]);
    sink = huge;
}

/* ======================================================================== */
/* fork                                                                      */
/* ======================================================================== */

/* Threads that keep every lock of the layer busy while the main thread
 * forks: debug objects, finalizers, links, typed and uncollectable objects,
 * GC_disable.  A child that inherited one of those locks held would hang at
 * its first collection. */
#define FK_FORKS 40
static atomic_bool fk_stop;
static _Atomic long fk_rounds;
static GC_descr fk_descr;

static void fk_fin(void *obj, void *cd)
{
    (void)obj;
    (void)cd;
}

static void fk_layer_work(void)
{
    void *d = GC_debug_malloc(40, GC_EXTRAS);
    TC_CHECK(d != NULL, "GC_debug_malloc returned NULL");
    GC_debug_register_finalizer(d, fk_fin, NULL, NULL, NULL);
    void **o = GC_malloc(2 * sizeof(void *));
    TC_CHECK(o != NULL, "GC_malloc returned NULL");
    o[0] = GC_malloc(16);
    GC_general_register_disappearing_link(&o[1], o[0]);
    GC_register_long_link(&o[0], o[0]);
    void *t = GC_malloc_explicitly_typed(32, fk_descr);
    TC_CHECK(t != NULL, "GC_malloc_explicitly_typed returned NULL");
    void *u = GC_malloc_uncollectable(24);
    TC_CHECK(u != NULL, "GC_malloc_uncollectable returned NULL");
    GC_free(u);
    GC_disable();
    GC_enable();
    sink = t;
}

static void *fk_worker(void *arg)
{
    (void)arg;
    while (!atomic_load(&fk_stop)) {
        fk_layer_work();
        atomic_fetch_add(&fk_rounds, 1);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define EP_WORDS (32 * 1024) /* each stack: 256 KiB, copied under the lock */
#define EP_ITERS 2000        /* stack moves at least, */
#define EP_COLLECTIONS 300   /* until this many collections ran, */
#define EP_ITERS_MAX 200000  /* or this many moves (or 20 s) */
struct ep_vm {
    GC_word *_Atomic bottom, *_Atomic top, *_Atomic sp;
};
static struct ep_vm ep_vm;
static GC_word *ep_stacks[2];
static void *volatile ep_root; /* the kind object: its procedure reads ep_vm */
static _Atomic long ep_calls, ep_bad, ep_grows;
static _Atomic bool ep_stop;

static struct GC_ms_entry *ep_mark(GC_word *addr, struct GC_ms_entry *msp, struct GC_ms_entry *lim, GC_word env)
{
    (void)addr, (void)lim, (void)env;
    GC_word *sp = atomic_load(&ep_vm.sp), *lo = atomic_load(&ep_vm.bottom), *hi = atomic_load(&ep_vm.top);
    atomic_fetch_add(&ep_calls, 1);
    if (sp < lo || sp > hi)
        atomic_fetch_add(&ep_bad, 1);
    return msp;
}

/* Under the lock, as vm_expand_stack_inner: copy the stack to the other
 * buffer and move bottom and top there; the new sp goes back to the caller. */
static void *ep_grow(void *arg)
{
    GC_word **new_sp = arg;
    GC_word *from = atomic_load(&ep_vm.bottom), *to = from == ep_stacks[0] ? ep_stacks[1] : ep_stacks[0];
    memcpy(to, from, EP_WORDS * sizeof(GC_word));
    *new_sp = to + (atomic_load(&ep_vm.sp) - from);
    atomic_store(&ep_vm.bottom, to);
    atomic_store(&ep_vm.top, to + EP_WORDS);
    return to;
}

static void ep_pin(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set); /* best effort: the race is likelier on one CPU */
}

static void *ep_collector(void *arg)
{
    (void)arg;
    ep_pin();
    while (!atomic_load(&ep_stop))
        GC_gcollect();
    return NULL;
}

static void t_epilogue(void)
{
    unsigned pi = GC_new_proc(ep_mark);
    unsigned kind = GC_new_kind(GC_new_free_list(), GC_MAKE_PROC(pi, 0), 0, 1);
    ep_root = GC_generic_malloc(64, (int)kind);
    TC_CHECK(ep_root != NULL, "GC_generic_malloc of the VM kind returned NULL");
    for (int i = 0; i < 2; i++) {
        ep_stacks[i] = calloc(EP_WORDS, sizeof(GC_word));
        TC_CHECK(ep_stacks[i] != NULL, "calloc");
    }
    atomic_store(&ep_vm.bottom, ep_stacks[0]);
    atomic_store(&ep_vm.top, ep_stacks[0] + EP_WORDS);
    atomic_store(&ep_vm.sp, ep_stacks[0] + EP_WORDS / 2);
    ep_pin();
    pthread_t c;
    int e = pthread_create(&c, NULL, ep_collector, NULL);
    TC_CHECK(e == 0, "pthread_create: %s", strerror(e));
    GC_word gc0 = GC_get_gc_no();
    double t0 = now_s();
    for (int i = 0; i < EP_ITERS_MAX && (GC_get_gc_no() - gc0 < EP_COLLECTIONS || i < EP_ITERS) && now_s() - t0 < 20;
         i++) {
        GC_word *new_sp;
        GC_call_with_alloc_lock(ep_grow, &new_sp);
        atomic_store(&ep_vm.sp, new_sp); /* Guile's vp->sp = new_sp, after the lock */
        atomic_fetch_add(&ep_grows, 1);
        for (volatile int k = 0; k < 20000; k++) /* Scheme code: the collector gets the lock meanwhile */
            ;
        if (i % 16 == 0)
            (void)GC_malloc(32); /* back into the library now and then, as Guile does */
    }
    atomic_store(&ep_stop, true);
    pthread_join(c, NULL);
    long collections = (long)(GC_get_gc_no() - gc0);
    printf("     %ld stack moves, %ld collections, %ld mark procedure calls\n", atomic_load(&ep_grows), collections,
           atomic_load(&ep_calls));
    TC_CHECK(collections >= 50, "only %ld collections ran beside the stack moves", collections);
    TC_CHECK(atomic_load(&ep_bad) == 0,
             "%ld of %ld mark procedure calls saw the VM's stack pointer outside its stack: a collection stopped "
             "the thread between GC_call_with_alloc_lock's return and its store",
             atomic_load(&ep_bad), atomic_load(&ep_calls));
    ep_root = NULL;
}

/* ------------------------------------------------------------------------ */

static _Atomic long xd_counter, xd_calls, xd_bad;
static _Atomic bool xd_in_destructor, xd_done;
static void *volatile xd_root;

static struct GC_ms_entry *xd_mark(GC_word *addr, struct GC_ms_entry *msp, struct GC_ms_entry *lim, GC_word env)
{
    (void)addr, (void)lim, (void)env;
    if (!atomic_load(&xd_in_destructor))
        return msp;
    long c0 = atomic_load(&xd_counter);
    double t0 = now_s();
    while (now_s() - t0 < 200e-6)
        ;
    atomic_fetch_add(&xd_calls, 1);
    if (atomic_load(&xd_counter) != c0)
        atomic_fetch_add(&xd_bad, 1);
    return msp;
}

static void xd_destructor(void *v)
{
    (void)v;
    atomic_store(&xd_in_destructor, true);
    double t0 = now_s();
    while (!atomic_load(&xd_done) && now_s() - t0 < 10)
        atomic_fetch_add(&xd_counter, 1);
}

static void *xd_thread(void *key)
{
    pthread_setspecific(*(pthread_key_t *)key, (void *)1);
    (void)GC_malloc(16); /* registered and allocating, as a Guile thread */
    return NULL;
}

static void t_exit_destructor(void)
{
    static pthread_key_t key;
    TC_CHECK(pthread_key_create(&key, xd_destructor) == 0, "pthread_key_create");
    unsigned pi = GC_new_proc(xd_mark);
    unsigned kind = GC_new_kind(GC_new_free_list(), GC_MAKE_PROC(pi, 0), 0, 1);
    xd_root = GC_generic_malloc(64, (int)kind);
    TC_CHECK(xd_root != NULL, "GC_generic_malloc of the kind returned NULL");
    pthread_t t;
    int e = pthread_create(&t, NULL, xd_thread, &key);
    TC_CHECK(e == 0, "pthread_create: %s", strerror(e));
    while (!atomic_load(&xd_in_destructor))
        sched_yield();
    for (int i = 0; i < 20; i++)
        GC_gcollect();
    atomic_store(&xd_done, true);
    pthread_join(t, NULL);
    printf("     %ld mark procedure calls while the thread ran its destructor\n", atomic_load(&xd_calls));
    TC_CHECK(atomic_load(&xd_calls) >= 20, "the mark procedure ran only %ld times in 20 collections",
             atomic_load(&xd_calls));
    TC_CHECK(atomic_load(&xd_bad) == 0,
             "in %ld of %ld mark procedure calls the thread running its key destructor ran on: not stopped",
             atomic_load(&xd_bad), atomic_load(&xd_calls));
    xd_root = NULL;
}

static void t_fork(void)
{
    GC_word bm[1] = {0};
    GC_set_bit(bm, 0);
    fk_descr = GC_make_descriptor(bm, 4);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        int e = GC_pthread_create(&th[i], NULL, fk_worker, NULL);
        TC_CHECK(e == 0, "GC_pthread_create: %s", strerror(e));
    }
    int hung = 0;
    for (int f = 0; f < FK_FORKS; f++) {
        long before = atomic_load(&fk_rounds);
        for (int w = 0; w < 2000 && atomic_load(&fk_rounds) < before + 20; w++)
            usleep(500);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            /* Only this thread exists here: every lock the workers held at
             * the fork must be free. */
            for (int i = 0; i < 50; i++)
                fk_layer_work();
            GC_gcollect();
            fk_layer_work();
            GC_gcollect();
            GC_invoke_finalizers();
            _exit(0);
        }
        int status = 0;
        pid_t r = 0;
        for (int w = 0; w < 400 && (r = waitpid(pid, &status, WNOHANG)) == 0; w++)
            usleep(50000);
        if (r == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            hung = f + 1;
            break;
        }
        TC_CHECK(r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                 "fork child %d: %s", f, status_str(status));
    }
    atomic_store(&fk_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    TC_CHECK(hung == 0, "fork child %d of %d still running after 20 s: a lock of the library held by "
             "another thread at the fork", hung, FK_FORKS);
    progress("%d children forked while 2 threads used the layer (%ld rounds) collected and exited",
             FK_FORKS, atomic_load(&fk_rounds));
}

/* ======================================================================== */
/* main                                                                      */
/* ======================================================================== */

typedef struct {
    const char *name;
    void (*fn)(void);
} subtest_t;

static const subtest_t tests[] = {
    {"malloc_many", t_malloc_many},
    {"kinds_proc", t_kinds_proc},
    {"typed", t_typed},
    {"finalizers", t_finalizers},
    {"on_demand", t_on_demand},
    {"links", t_links},
    {"uncollectable", t_uncollectable},
    {"debug", t_debug},
    {"enable_disable", t_enable_disable},
    {"stats", t_stats},
    {"oom", t_oom},
    {"threads", t_threads},
    {"incremental", t_incremental},
    {"variables", t_variables},
    {"fork", t_fork},
    {"epilogue", t_epilogue},
    {"exit_destructor", t_exit_destructor},
};
#define NTESTS (sizeof tests / sizeof *tests)

static const subtest_t children[] = {
    {"debug_child_smash", dbg_child_smash},
    {"debug_child_clean", dbg_child_clean},
    {"debug_child_leaks", dbg_child_leaks},
};

int main(int argc, char **argv)
{
    /* Before the library starts: it reads GODEBUG once. */
    const char *dbg = getenv("TRICOLOR_TEST_GODEBUG");
    if (dbg) {
        if (*dbg)
            setenv("GODEBUG", dbg, 1);
        else
            unsetenv("GODEBUG");
    } else if (!getenv("GODEBUG")) {
        setenv("GODEBUG", "gcstwbudget=0", 1);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    GC_INIT();

    if (argc < 2) {
        /* All, each in a process of its own. */
        int failed = 0;
        for (size_t i = 0; i < NTESTS; i++) {
            child_t c;
            run_self(&c, tests[i].name, 300);
            fputs(c.out, stdout);
            fputs(c.err, stderr);
            if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0) {
                printf("FAIL %s: %s\n", tests[i].name, status_str(c.status));
                failed++;
            }
            child_free(&c);
        }
        return failed ? 1 : 0;
    }
    for (size_t i = 0; i < sizeof children / sizeof *children; i++)
        if (strcmp(argv[1], children[i].name) == 0) {
            current = children[i].name;
            children[i].fn();
            return atomic_load(&soft_failures) ? 1 : 0;
        }
    for (size_t i = 0; i < NTESTS; i++) {
        if (strcmp(argv[1], tests[i].name) != 0)
            continue;
        current = tests[i].name;
        alarm(110); /* a hang guard: ctest's TIMEOUT is 120 */
        double t0 = now_s();
        tests[i].fn();
        if (atomic_load(&soft_failures)) {
            printf("FAIL %-20s %d failed checks\n", tests[i].name, atomic_load(&soft_failures));
            return 1;
        }
        printf("ok   %-20s %.2fs\n", tests[i].name, now_s() - t0);
        return 0;
    }
    fprintf(stderr, "no such subtest %s; subtests are:", argv[1]);
    for (size_t i = 0; i < NTESTS; i++)
        fprintf(stderr, " %s", tests[i].name);
    fprintf(stderr, "\n");
    return 2;
}

/* ------------------------------------------------------------------------ */
/* A thread from the real pthread_create (not GC_pthread_create): it
 * registers itself with GC_register_my_thread, as bdwgc requires.  tricolor
 * registers every thread by itself (GC_DUPLICATE then); bdwgc does not.     */
/* ------------------------------------------------------------------------ */

#undef pthread_create
#undef pthread_join

static char raw_err[256];

NOINLINE static void *raw_make(void)
{
    void *o = GC_malloc(200);
    tc_fill(o, 200, 123);
    return o;
}

static void *raw_thread(void *arg)
{
    (void)arg;
    int before = GC_thread_is_registered();
    struct GC_stack_base sb;
    int r = GC_get_stack_base(&sb);
    if (r != GC_SUCCESS) {
        snprintf(raw_err, sizeof raw_err, "GC_get_stack_base: %d", r);
        return NULL;
    }
    r = GC_register_my_thread(&sb);
    if (before ? r != GC_DUPLICATE : r != GC_SUCCESS) {
        snprintf(raw_err, sizeof raw_err, "GC_register_my_thread: %d, registered before: %d", r, before);
        return NULL;
    }
    if (!GC_thread_is_registered()) {
        snprintf(raw_err, sizeof raw_err, "GC_thread_is_registered() 0 after GC_register_my_thread");
        return NULL;
    }
    void *volatile obj = raw_make();
    collect_churn(200, 2000, 3);
    if (tc_pattern_diff(obj, 200, 123) >= 0) {
        snprintf(raw_err, sizeof raw_err, "an object on a registered thread's stack was collected");
        return NULL;
    }
    if (r == GC_SUCCESS && GC_unregister_my_thread() != GC_SUCCESS)
        snprintf(raw_err, sizeof raw_err, "GC_unregister_my_thread failed");
    return NULL;
}

static void th_raw(void)
{
    pthread_t t;
    int e = pthread_create(&t, NULL, raw_thread, NULL);
    TC_CHECK(e == 0, "pthread_create: %s", strerror(e));
    pthread_join(t, NULL);
    TC_CHECK(raw_err[0] == 0, "%s", raw_err);
}
