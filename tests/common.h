/*
 * common.h - helpers shared by tricolor's tests.
 *
 * Every test is a C program that exits 0 when all its checks hold, and prints
 * "FAIL file:line: what" on stderr and exits 1 at the first one that does not.
 * A test program may hold several subtests: run with no argument it runs them
 * all, with names as arguments only those (CMake registers one ctest test per
 * subtest, so that each runs in a process of its own).
 *
 * Conservative scanning and the tests.  A dropped object may still be kept by
 * a stale copy of its address in a dead stack slot or a register, so:
 *   - objects that must die are allocated in a TC_NOINLINE function that hands
 *     back only a hidden form of their address (tc_hide: XOR with a constant
 *     that makes the value an impossible user-space address), and the stack is
 *     wiped (tc_clear_stack) before collecting;
 *   - reclamation is counted over many objects with a small stated slack;
 *   - objects that must live are filled with a pattern (tc_fill) whose 8-byte
 *     words are never valid user-space addresses, kept only in the root under
 *     test, and checked after several collections separated by allocation of
 *     garbage of the same size (tc_churn), which would reuse - and overwrite -
 *     their memory had they been freed.
 */
#ifndef TC_TEST_COMMON_H
#define TC_TEST_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <tricolor.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__) && !defined(__clang__)
#define TC_NOINLINE __attribute__((noipa))
#else
#define TC_NOINLINE __attribute__((noinline))
#endif
#define TC_UNUSED __attribute__((unused))

#define TC_KiB ((size_t)1 << 10)
#define TC_MiB ((size_t)1 << 20)
#define TC_GiB ((size_t)1 << 30)

extern char **environ;

/* Where a test puts an allocation it does not otherwise use. */
TC_UNUSED static void *volatile tc_sink;

/* ------------------------------------------------------------------------ */
/* Failing                                                                   */
/* ------------------------------------------------------------------------ */

static const char *tc_current = "";

/* cond: the failed condition's text, or NULL. */
TC_UNUSED __attribute__((noreturn, format(printf, 4, 5))) static void
tc_fail_at(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    char buf[2048];
    size_t n = 0;
    int k = snprintf(buf, sizeof buf, "FAIL %s:%d: [%s] ", file, line, tc_current);
    if (k > 0)
        n = (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1;
    if (cond) {
        k = snprintf(buf + n, sizeof buf - n, "check `%s` failed: ", cond);
        if (k > 0)
            n += (size_t)k < sizeof buf - n ? (size_t)k : sizeof buf - n - 1;
    }
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    va_end(ap);
    fflush(stdout);
    /* One write: lines from several failing threads do not interleave. */
    size_t len = strlen(buf);
    if (len < sizeof buf - 1)
        buf[len++] = '\n';
    (void)!write(2, buf, len);
    _exit(1);
}

#define TC_FAIL(...) tc_fail_at(__FILE__, __LINE__, NULL, __VA_ARGS__)
/* TC_CHECK(cond, "format", args...): the format is required. */
#define TC_CHECK(cond, ...)                                       \
    do {                                                          \
        if (!(cond))                                              \
            tc_fail_at(__FILE__, __LINE__, #cond, __VA_ARGS__);   \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Hiding pointers from the conservative scanner                            */
/* ------------------------------------------------------------------------ */

/* High bytes 0xa5c3...: a hidden value is never a user-space address. */
#define TC_KEY ((uintptr_t)0xa5c3f00d5a3c0ff5ull)

/* The compiler cannot see through this, so it cannot keep the plain value
 * around instead of the hidden one. */
static inline uintptr_t tc_opaque(uintptr_t x)
{
    __asm__ volatile("" : "+r"(x));
    return x;
}
static inline uintptr_t tc_hide(const void *p) { return tc_opaque((uintptr_t)p ^ TC_KEY); }
static inline void *tc_unhide(uintptr_t h) { return (void *)(tc_opaque(h) ^ TC_KEY); }

/* Wipe 64 KiB of stack below the caller: dead frames of earlier calls. */
TC_UNUSED TC_NOINLINE static void tc_clear_stack(void)
{
    char buf[64 * 1024];
    memset(buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* ------------------------------------------------------------------------ */
/* Patterns                                                                  */
/* ------------------------------------------------------------------------ */

/* Byte j of pattern seed: consecutive bytes step by 13, so no aligned 8-byte
 * word of a pattern can have its two top bytes zero (it is never a user-space
 * address, and never keeps anything alive). */
static inline uint8_t tc_pat(uint32_t seed, size_t j) { return (uint8_t)(seed * 7u + j * 13u + 1u); }

TC_UNUSED static void tc_fill(void *p, size_t n, uint32_t seed)
{
    uint8_t *b = p;
    for (size_t j = 0; j < n; j++)
        b[j] = tc_pat(seed, j);
}

/* Index of the first byte that differs from the pattern, or -1. */
TC_UNUSED static long tc_pattern_diff(const void *p, size_t n, uint32_t seed)
{
    const uint8_t *b = p;
    for (size_t j = 0; j < n; j++)
        if (b[j] != tc_pat(seed, j))
            return (long)j;
    return -1;
}

/* Whether the object of n bytes filled with tc_fill(seed) at hidden address h
 * was reclaimed.  Not just gc_base() == NULL: a collection that ran while the
 * test was still allocating may have freed it already, and its memory may now
 * hold a newer object (gc_base then finds that one, or the start of a large
 * object laid over it).  So it lives only if an object still starts there and
 * still holds its bytes. */
TC_UNUSED static bool tc_reclaimed(uintptr_t h, size_t n, uint32_t seed)
{
    void *p = tc_unhide(h);
    return gc_base(p) != p || tc_pattern_diff(p, n, seed) >= 0;
}

/* Index of the first non-zero byte, or -1. */
TC_UNUSED static long tc_nonzero_at(const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        uint64_t w;
        memcpy(&w, b + j, 8);
        if (w)
            break;
    }
    for (; j < n; j++)
        if (b[j])
            return (long)j;
    return -1;
}

/* splitmix64's finaliser: a checksum of a key that never looks like an address
 * often enough to matter. */
static inline uint64_t tc_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* xorshift64* */
static inline uint64_t tc_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* ------------------------------------------------------------------------ */
/* Garbage                                                                   */
/* ------------------------------------------------------------------------ */

/* Allocate count objects of size bytes, fill them with 0xEE and drop them.
 * A freed object of that size class is likely to be reused and overwritten. */
TC_UNUSED TC_NOINLINE static void tc_churn_kind(size_t size, size_t count, int noscan)
{
    for (size_t i = 0; i < count; i++) {
        void *p = noscan ? gc_alloc_noscan(size) : gc_alloc(size);
        if (!p)
            TC_FAIL("gc_alloc(%zu) returned NULL while making garbage", size);
        memset(p, 0xEE, size);
        __asm__ volatile("" : : "r"(p) : "memory");
    }
}
TC_UNUSED static void tc_churn(size_t size, size_t count) { tc_churn_kind(size, count, 0); }

/* Wipe the stack, then collect: the usual way to ask "is it still alive?". */
TC_UNUSED TC_NOINLINE static void tc_collect_clean(void)
{
    tc_clear_stack();
    gc_collect();
}

/* Collect `rounds` times with garbage of `size` bytes in between. */
TC_UNUSED TC_NOINLINE static void tc_collect_churn(size_t size, size_t count, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        tc_churn(size, count);
        tc_clear_stack();
        gc_collect();
    }
}

/* ------------------------------------------------------------------------ */
/* Statistics                                                                */
/* ------------------------------------------------------------------------ */

TC_UNUSED static uint64_t tc_heap_objects(void)
{
    static gc_memstats m;
    gc_read_memstats(&m);
    return m.heap_objects;
}

/* Index in by_size[] of the class holding size, or -1. */
TC_UNUSED static int tc_class_index(const gc_memstats *m, size_t size)
{
    for (int i = 0; i < GC_NUM_SIZE_CLASSES; i++)
        if (m->by_size[i].size >= size)
            return i;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

TC_UNUSED static double tc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleep, resuming after the collector's stop signal interrupts the sleep. */
/* Sleep ms milliseconds, to an absolute deadline: a relative nanosleep restarted
 * with its remainder after each EINTR makes no progress while the collector's
 * stop signal keeps interrupting it before it sleeps at all (a test collecting
 * in a loop stops the world thousands of times a second). */
TC_UNUSED static void tc_sleep_ns(long ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec += ns % 1000000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

TC_UNUSED static void tc_sleep_ms(long ms) { tc_sleep_ns(ms * 1000000L); }

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

TC_UNUSED static pthread_t tc_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int e = pthread_create(&t, NULL, fn, arg);
    if (e)
        TC_FAIL("pthread_create: %s", strerror(e));
    return t;
}

TC_UNUSED static void *tc_join(pthread_t t)
{
    void *r = NULL;
    int e = pthread_join(t, &r);
    if (e)
        TC_FAIL("pthread_join: %s", strerror(e));
    return r;
}

/* A one-shot event between threads (a pipe: robust against signals). */
typedef struct {
    int fd[2];
} tc_event;

TC_UNUSED static void tc_event_init(tc_event *e)
{
    if (pipe(e->fd) != 0)
        TC_FAIL("pipe: %s", strerror(errno));
}
TC_UNUSED static void tc_event_post(tc_event *e)
{
    char c = 1;
    while (write(e->fd[1], &c, 1) != 1)
        if (errno != EINTR)
            TC_FAIL("write: %s", strerror(errno));
}
TC_UNUSED static void tc_event_wait(tc_event *e)
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
TC_UNUSED static void tc_event_destroy(tc_event *e)
{
    close(e->fd[0]);
    close(e->fd[1]);
}

/* ------------------------------------------------------------------------ */
/* Child processes                                                           */
/* ------------------------------------------------------------------------ */

typedef struct {
    int status; /* as from waitpid */
    char *out;  /* the child's stdout, NUL-terminated */
    char *err;  /* the child's stderr, NUL-terminated */
} tc_child;

TC_UNUSED static const char *tc_status_str(int status)
{
    static char buf[96];
    if (WIFEXITED(status))
        snprintf(buf, sizeof buf, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), WTERMSIG(status) == SIGALRM ? ": timed out" : "");
    else
        snprintf(buf, sizeof buf, "status 0x%x", status);
    return buf;
}

static void tc_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
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

/*
 * Run this program again (/proc/self/exe) with the given arguments, in an
 * environment changed by env: "K=V" sets K, "K" removes it.  The child also gets
 * TRICOLOR_TEST_CHILD=1.  It is killed by SIGALRM after timeout_s seconds.
 * Collects its stdout and stderr.
 */
TC_UNUSED static void tc_run_self(tc_child *c, const char *const *args, const char *const *env,
                                  unsigned timeout_s)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = "tricolor-test-child";
    for (; args && *args && argc < 31; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;

    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    size_t nextra = 0;
    while (env && env[nextra])
        nextra++;
    const char **envp = calloc(nenv + nextra + 2, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        const char *e = environ[i];
        size_t klen = strcspn(e, "=");
        int drop = strncmp(e, "TRICOLOR_TEST_CHILD=", 20) == 0;
        for (size_t j = 0; j < nextra && !drop; j++) {
            size_t jlen = strcspn(env[j], "=");
            if (jlen == klen && strncmp(env[j], e, klen) == 0)
                drop = 1;
        }
        if (!drop)
            envp[k++] = e;
    }
    for (size_t j = 0; j < nextra; j++)
        if (strchr(env[j], '='))
            envp[k++] = env[j];
    envp[k++] = "TRICOLOR_TEST_CHILD=1";
    envp[k] = NULL;

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
        alarm(timeout_s);
        execve("/proc/self/exe", (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    free(envp);

    size_t olen = 0, ocap = 0, elen = 0, ecap = 0;
    c->out = NULL;
    c->err = NULL;
    tc_append(&c->out, &olen, &ocap, "", 0);
    tc_append(&c->err, &elen, &ecap, "", 0);
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
                tc_append(&c->out, &olen, &ocap, buf, (size_t)n);
            else
                tc_append(&c->err, &elen, &ecap, buf, (size_t)n);
        }
    }
    while (waitpid(pid, &c->status, 0) < 0)
        if (errno != EINTR)
            TC_FAIL("waitpid: %s", strerror(errno));
}

TC_UNUSED static void tc_child_free(tc_child *c)
{
    free(c->out);
    free(c->err);
}

/* A temporary directory for a test's files, made on first use; tc_tmp_path(name) is a path in
 * it (malloc'd, never freed: a test's few paths), and tc_rm_tmpdir() removes it. */
static char tc_tmpdir[256];

TC_UNUSED static void tc_make_tmpdir(void)
{
    if (tc_tmpdir[0])
        return;
    const char *base = getenv("TMPDIR");
    snprintf(tc_tmpdir, sizeof tc_tmpdir, "%s/tricolor-test.XXXXXX", base && *base ? base : "/tmp");
    TC_CHECK(mkdtemp(tc_tmpdir), "mkdtemp %s: %s", tc_tmpdir, strerror(errno));
}

TC_UNUSED static void tc_rm_tmpdir(void)
{
    if (!tc_tmpdir[0])
        return;
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tc_tmpdir);
    (void)!system(cmd);
}

TC_UNUSED static const char *tc_tmp_path(const char *name)
{
    tc_make_tmpdir();
    char *b = malloc(strlen(tc_tmpdir) + strlen(name) + 2);
    sprintf(b, "%s/%s", tc_tmpdir, name);
    return b;
}

/* In a child about to exec Go's toolchain (go run, go tool pprof): Go's caches and settings in
 * dir (HOME, GOCACHE, GOPATH), no network and no GOENV file, and the variables tricolor shares
 * with Go (GODEBUG, GOGC, GOMEMLIMIT), or reads itself, unset: the test's settings are not Go's. */
TC_UNUSED static void tc_go_child_env(const char *dir)
{
    char p[600];
    setenv("HOME", dir, 1);
    snprintf(p, sizeof p, "%s/gocache", dir);
    setenv("GOCACHE", p, 1);
    snprintf(p, sizeof p, "%s/gopath", dir);
    setenv("GOPATH", p, 1);
    setenv("GOENV", "off", 1);
    setenv("GOTOOLCHAIN", "local", 1);
    setenv("GOPROXY", "off", 1);
    setenv("GOFLAGS", "", 1);
    unsetenv("GODEBUG");
    unsetenv("GOGC");
    unsetenv("GOMEMLIMIT");
    unsetenv("TRICOLOR_HEAPPROFILE");
}

/* Go's `go` command: on PATH or where Debian and go.dev install it; NULL if
 * there is none (the tests that use Go as an oracle then skip, 77). */
TC_UNUSED static const char *tc_go_path(void)
{
    static char path[512];
    const char *env_path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/lib/go/bin:/usr/local/go/bin", env_path ? env_path : "/usr/bin");
    for (char *d = strtok(dirs, ":"); d; d = strtok(NULL, ":")) {
        snprintf(path, sizeof path, "%s/go", d);
        if (access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}

/* waitpid for a forked child, resuming after signals. */
TC_UNUSED static int tc_wait(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            TC_FAIL("waitpid: %s", strerror(errno));
    return status;
}

/* ------------------------------------------------------------------------ */
/* Subtests                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    void (*fn)(void);
} tc_subtest;

/*
 * Start of every test's main.  Unless this is a child the test started itself,
 * a GOGC, GOMEMLIMIT or GODEBUG in the environment would change what the tests
 * measure: re-execute without them.  Then run the subtests named in argv (all
 * when none is named).
 */
TC_UNUSED static int tc_main(int argc, char **argv, const tc_subtest *tests, size_t ntests)
{
    if (!getenv("TRICOLOR_TEST_CHILD") &&
        (getenv("GOGC") || getenv("GOMEMLIMIT") || getenv("GODEBUG"))) {
        unsetenv("GOGC");
        unsetenv("GOMEMLIMIT");
        unsetenv("GODEBUG");
        execv("/proc/self/exe", argv);
        TC_FAIL("re-exec without GOGC/GOMEMLIMIT/GODEBUG: %s", strerror(errno));
    }
    /* The suite runs once per write-tracking backend: ctest sets
     * TRICOLOR_TEST_GODEBUG (gcwritetrack=mprotect, gcstoptheworld=1) for the
     * variants, and children started with tc_run_self inherit it. */
    const char *backend = getenv("TRICOLOR_TEST_GODEBUG");
    if (backend && *backend && !getenv("GODEBUG"))
        setenv("GODEBUG", backend, 1);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int ran = 0;
    for (size_t i = 0; i < ntests; i++) {
        int want = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strcmp(argv[a], tests[i].name) == 0)
                want = 1;
        if (!want)
            continue;
        tc_current = tests[i].name;
        double t0 = tc_now();
        tests[i].fn();
        printf("ok   %-28s %.2fs\n", tests[i].name, tc_now() - t0);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no such subtest; subtests are:");
        for (size_t i = 0; i < ntests; i++)
            fprintf(stderr, " %s", tests[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    return 0;
}

#define TC_NTESTS(a) (sizeof(a) / sizeof((a)[0]))

#endif /* TC_TEST_COMMON_H */
