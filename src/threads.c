/*
 * threads.c - the threads the collector knows, and stopping them.
 *
 * Owns the list of registered threads (threads_lock), their records (stack
 * bounds, thread pointer, saved registers, cache), the stop signal, and fork.
 *
 * Registration: a thread started by pthread_create (wrapped here) registers
 * before its start routine runs; any other thread on its first allocation or
 * by gc_register_thread.  A pthread key's destructor unregisters it when it
 * exits, returning its cache's spans to central.  Until the child has
 * registered, its start argument is a registered root (pthread_create below):
 * it may be the only reference to an object, and the parent may drop it at
 * once.
 *
 * Stopping the world (the caller holds threads_lock, so no thread joins or
 * leaves meanwhile): stw_seq becomes odd, every other registered thread gets
 * GC_STOP_SIGNAL, and the collector waits until each has acknowledged.  The
 * handler saves the registers (from the signal context) and the stack pointer,
 * acknowledges, and sleeps on a futex until stw_seq changes again.  A thread
 * inside an allocator section (in_alloc) only notes stop_pending and stops at
 * the end of the section, in leave_alloc: so no thread is ever stopped with
 * its cache or an allocator lock mid-update.  The handler is installed with
 * SA_RESTART, and touches nothing but async-signal-safe state.
 *
 * fork: the atfork handlers take every lock of the library in order (gc_lock,
 * threads_lock, central, heap, metadata) so the child gets a consistent heap;
 * the child then forgets the other threads, returning their cached spans.
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

__thread gc_thread_t *tls_thread __attribute__((tls_model("initial-exec")));
pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
gc_thread_t *thread_list;
size_t nthreads;

static pthread_key_t thread_key;
static fixalloc_t thread_alloc;
static _Atomic uint32_t stw_seq;
static _Atomic uint32_t stw_acks;

static long futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
    return syscall(SYS_futex, (uint32_t *)addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static long futex_wait_for(_Atomic uint32_t *addr, uint32_t val, long ns)
{
    struct timespec ts = {ns / 1000000000, ns % 1000000000};
    return syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, val, &ts, NULL, 0);
}

uintptr_t thread_pointer(void)
{
    uintptr_t tp;
#if defined(__x86_64__)
    __asm__("mov %%fs:0, %0" : "=r"(tp));
#elif defined(__aarch64__)
    __asm__("mrs %0, tpidr_el0" : "=r"(tp));
#endif
    return tp;
}

/* A conservative scan reads every word of a live frame, written or not: the
 * slots a frame has not written yet still hold what dead frames left there.
 * Zeroing the dead stack below the caller first (bdwgc's GC_clear_stack does
 * the same) means that the frames the caller pushes next start clean.  1 KiB
 * covers the collector's frame that its scan starts in (run(), under 500
 * bytes) and is less than what the collection itself uses below it, so it
 * fits wherever the collection does. */
NOINLINE void stack_wipe(void)
{
    char buf[STACK_WIPE_BYTES];
    memset(buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static void save_context(gc_thread_t *t, const ucontext_t *uc)
{
    if (!uc)
        return;
#if defined(__x86_64__)
    size_t n = sizeof(uc->uc_mcontext.gregs);
    memcpy(t->regs, uc->uc_mcontext.gregs, n < sizeof(t->regs) ? n : sizeof(t->regs));
#elif defined(__aarch64__)
    size_t n = sizeof(uc->uc_mcontext.regs);
    memcpy(t->regs, uc->uc_mcontext.regs, n < sizeof(t->regs) ? n : sizeof(t->regs));
#endif
}

static uintptr_t context_sp(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP] - 128; /* the red zone */
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.sp;
#endif
}

/* Park the calling thread until the world restarts. */
static NOINLINE void suspend_self(gc_thread_t *t, const ucontext_t *uc)
{
    uint32_t seq = atomic_load(&stw_seq);
    __builtin_unwind_init(); /* spill callee-saved registers into this frame */
    save_context(t, uc);
    uintptr_t sp = current_sp();
    if ((sp < t->stack_lo || sp >= t->stack_hi) && uc)
        sp = context_sp(uc); /* on an alternate signal stack */
    t->stop_sp = sp;
    atomic_fetch_add(&stw_acks, 1);
    futex(&stw_acks, FUTEX_WAKE, 1);
    while (atomic_load(&stw_seq) == seq)
        futex(&stw_seq, FUTEX_WAIT, seq);
}

static void stop_handler(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)info;
    int saved = errno;
    gc_thread_t *t = tls_thread;
    if (t && (atomic_load(&stw_seq) & 1)) {
        if (t->in_alloc)
            t->stop_pending = 1;
        else
            suspend_self(t, uc);
    }
    errno = saved;
}

void thread_suspend_deferred(gc_thread_t *t)
{
    t->stop_pending = 0;
    if (atomic_load(&stw_seq) & 1) {
        ucontext_t uc;
        getcontext(&uc);
        suspend_self(t, &uc);
    }
}

void stop_the_world(void)
{
    gc_thread_t *self = tls_thread;
    atomic_store(&stw_acks, 0);
    atomic_fetch_add(&stw_seq, 1); /* odd: stopping */
    uint32_t n = 0;
    for (gc_thread_t *t = thread_list; t; t = t->next) {
        if (t == self)
            continue;
        int err = pthread_kill(t->self, GC_STOP_SIGNAL);
        if (err == ESRCH) {
            /* Gone without unregistering (it cannot, normally: the key's
             * destructor runs first).  Its stack is gone too: skip it. */
            t->dead = true;
            continue;
        }
        if (err)
            tc_fatal("cannot stop thread %p: %s", (void *)t->self, strerror(err));
        n++;
    }
    uint64_t start = nanotime();
    bool warned = false;
    for (;;) {
        uint32_t acks = atomic_load(&stw_acks);
        if (acks >= n)
            break;
        futex_wait_for(&stw_acks, acks, 100 * 1000 * 1000);
        if (!warned && nanotime() - start > 2000000000u) {
            /* A registered thread that blocks the stop signal never stops. */
            warned = true;
            tc_print("still waiting after 2 s for %u of %u threads to stop; "
                     "a registered thread must not block SIGPWR",
                     n - atomic_load(&stw_acks), n);
        }
    }
}

uint64_t start_the_world(void)
{
    atomic_fetch_add(&stw_seq, 1); /* even: running */
    /* The pause ends here.  The wake-up itself may let a woken thread take
     * this CPU for milliseconds before the call returns, while the world
     * runs again: not a pause. */
    uint64_t now = nanotime();
    futex(&stw_seq, FUTEX_WAKE, INT32_MAX);
    return now;
}

static void thread_exit_cb(void *arg)
{
    gc_thread_t *t = arg;
    if (tls_thread == t)
        gc_unregister_thread();
}

/*
 * Registering threads.  A thread may hold collected pointers before it
 * registers (it read one from a global, then allocates for the first time),
 * and its registration waits for threads_lock, which a collection holds with
 * the world stopped: the collection must see that thread's stack although it
 * is not on the list yet.  So a registering thread first spills its registers
 * into its frame and puts itself on pending_list, with its stack bounds and
 * stack pointer, and the collector scans the pending threads' stacks above
 * that pointer (frames that cannot change until registration returns).
 * pending_lock is held only briefly, and only by threads that are never
 * stopped (not registered yet) or by the collector.
 */
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static gc_thread_t *pending_list;

void threads_mark_pending(void)
{
    pthread_mutex_lock(&pending_lock);
    for (gc_thread_t *t = pending_list; t; t = t->pending_next) {
        mark_range(t->stop_sp, t->stack_hi);
        roots_mark_tls(t->tp);
    }
    pthread_mutex_unlock(&pending_lock);
}

static __thread uintptr_t register_stack_hi; /* thread_register_below's bound */

NOINLINE gc_thread_t *thread_register_below(uintptr_t hi)
{
    register_stack_hi = hi;
    gc_thread_t *t = thread_register_self(false);
    register_stack_hi = 0;
    return t;
}

NOINLINE gc_thread_t *thread_register_self(bool internal)
{
    __builtin_unwind_init(); /* the caller's registers, into this frame: see above */
    gc_init_once();
    if (tls_thread)
        return tls_thread;
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
    }
    if (!addr)
        return NULL;
    gc_thread_t *t = fixalloc_alloc(&thread_alloc);
    if (!t)
        return NULL;
    /* A thread that blocks the stop signal could never be stopped. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, GC_STOP_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
    t->self = pthread_self();
    t->stack_lo = (uintptr_t)addr;
    t->stack_hi = register_stack_hi ? register_stack_hi : (uintptr_t)addr + size;
    t->tp = thread_pointer();
    t->internal = internal;
    cache_init_empty(&t->cache);
    tls_thread = t;
    pthread_setspecific(thread_key, t);
    t->stop_sp = current_sp();
    pthread_mutex_lock(&pending_lock);
    t->pending_next = pending_list;
    pending_list = t;
    pthread_mutex_unlock(&pending_lock);
    pthread_mutex_lock(&threads_lock);
    pthread_mutex_lock(&pending_lock);
    for (gc_thread_t **pp = &pending_list; *pp; pp = &(*pp)->pending_next)
        if (*pp == t) {
            *pp = t->pending_next;
            break;
        }
    pthread_mutex_unlock(&pending_lock);
    /* Under threads_lock: gc_set_profile_rate resets the listed.  The
     * finalizer thread (registered below a bound) is the library's too. */
    profile_thread_init(t, internal || register_stack_hi != 0);
    t->next = thread_list;
    if (thread_list)
        thread_list->prev = t;
    thread_list = t;
    nthreads++;
    pthread_mutex_unlock(&threads_lock);
    return t;
}

static void unlink_thread(gc_thread_t *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        thread_list = t->next;
    if (t->next)
        t->next->prev = t->prev;
    nthreads--;
}

int gc_register_thread(void) { return thread_register_self(false) ? 0 : -1; }

void gc_unregister_thread(void)
{
    gc_thread_t *t = tls_thread;
    if (!t)
        return;
    pthread_mutex_lock(&threads_lock);
    cache_flush(&t->cache);
    unlink_thread(t);
    tls_thread = NULL;
    pthread_mutex_unlock(&threads_lock);
    pthread_setspecific(thread_key, NULL);
    mark_free_gcwork(t->gcw);
    pool_thread_exit(t);
    fixalloc_free(&thread_alloc, t);
}

/* ---- pthread_create ------------------------------------------------------ */

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* libc's pthread_create, behind the wrapper below. */
static pthread_create_fn real_pthread_create(void)
{
    static _Atomic(pthread_create_fn) real;
    pthread_create_fn f = atomic_load_explicit(&real, memory_order_acquire);
    if (!f) {
        f = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
        if (!f)
            tc_fatal("cannot find libc's pthread_create: %s", dlerror());
        atomic_store_explicit(&real, f, memory_order_release);
    }
    return f;
}

/* What a child needs before its start routine runs.  Not collected memory:
 * its arg is a registered root from before the child exists until the child
 * has registered (and so holds arg on its own stack). */
struct thread_start {
    void *(*fn)(void *);
    void *arg;
};

static void *thread_trampoline(void *p)
{
    struct thread_start *st = p;
    void *(*fn)(void *) = st->fn;
    void *arg = st->arg;
    thread_register_self(false);
    gc_remove_roots(&st->arg, sizeof st->arg);
    free(st);
    return fn(arg);
}

/* Every thread the program starts registers before its start routine runs,
 * and the argument stays reachable until then (bdwgc's GC_pthread_create). */
GC_API int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    pthread_create_fn create = real_pthread_create();
    struct thread_start *st = malloc(sizeof *st);
    if (!st)
        return EAGAIN;
    st->fn = fn;
    st->arg = arg;
    gc_add_roots(&st->arg, sizeof st->arg);
    int e = create(th, attr, thread_trampoline, st);
    if (e != 0) {
        gc_remove_roots(&st->arg, sizeof st->arg);
        free(st);
    }
    return e;
}

/* Start one of the library's own threads, detached, with the program's
 * signals blocked (they are not its business) except the faults the mprotect
 * backend handles and, if stoppable (registered), the stop signal. */
bool thread_start_internal_arg(void *(*fn)(void *), void *arg, bool stoppable)
{
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    if (stoppable)
        sigdelset(&all, GC_STOP_SIGNAL);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    bool ok = real_pthread_create()(&th, &attr, fn, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return ok;
}

bool thread_start_internal(void *(*fn)(void *), bool stoppable) { return thread_start_internal_arg(fn, NULL, stoppable); }

/* ---- fork ---------------------------------------------------------------- */

_Atomic int fork_barrier, slow_active;

/* A slow path met a fork in progress: step back until it is over. */
void slow_wait_fork(void)
{
    while (atomic_load(&fork_barrier)) {
        atomic_fetch_sub(&slow_active, 1);
        while (atomic_load(&fork_barrier))
            sched_yield();
        atomic_fetch_add(&slow_active, 1);
    }
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&gc_lock);
    profile_lock_all();
    atomic_store(&fork_barrier, 1);
    while (atomic_load(&slow_active) > 0)
        sched_yield();
    pthread_mutex_lock(&threads_lock);
    roots_lock();
    central_lock_all();
    heap_lock_all();
    pool_lock_all();
    special_lock_all();
    finalize_lock_all();
    pthread_mutex_lock(&thread_alloc.lock);
    arena_lock_all();
}

static void fork_parent(void)
{
    arena_unlock_all();
    pthread_mutex_unlock(&thread_alloc.lock);
    finalize_unlock_all();
    special_unlock_all();
    pool_unlock_all();
    heap_unlock_all();
    central_unlock_all();
    roots_unlock();
    pthread_mutex_unlock(&threads_lock);
    atomic_store(&fork_barrier, 0);
    profile_unlock_all();
    pthread_mutex_unlock(&gc_lock);
}

static void fork_child(void)
{
    fork_parent();
    sweep_fork_child();
    mark_fork_child();
    finalize_fork_child();
    gc_fork_child();
    profile_fork_child();
    /* Only the forking thread exists now: forget the others, keeping what
     * their caches allocated. */
    gc_thread_t *self = tls_thread;
    pthread_mutex_lock(&threads_lock);
    for (gc_thread_t *t = thread_list, *next; t; t = next) {
        next = t->next;
        if (t == self)
            continue;
        cache_flush_forked(&t->cache);
        unlink_thread(t);
        mark_free_gcwork(t->gcw);
        pool_thread_exit(t);
        fixalloc_free(&thread_alloc, t);
    }
    if (self)
        self->self = pthread_self();
    pthread_mutex_unlock(&threads_lock);
    atomic_store(&stw_acks, 0);
    atomic_store(&slow_active, 0);
    pthread_mutex_init(&pending_lock, NULL);
    pending_list = NULL; /* threads of the parent's, registering at fork: gone */
    if (self)
        self->slow_depth = 0;
}

void threads_init(void)
{
    fixalloc_init(&thread_alloc, sizeof(gc_thread_t), SYS_CACHE);
    if (pthread_key_create(&thread_key, thread_exit_cb))
        tc_fatal("pthread_key_create failed");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = stop_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigdelset(&sa.sa_mask, SIGSEGV);
    sigdelset(&sa.sa_mask, SIGBUS);
    sigdelset(&sa.sa_mask, SIGILL);
    sigdelset(&sa.sa_mask, SIGFPE);
    if (sigaction(GC_STOP_SIGNAL, &sa, NULL))
        tc_fatal("cannot install the stop signal handler: %s", strerror(errno));
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
