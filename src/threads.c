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
 * the stop signal (gc_stop_sig), and the collector waits until each has acknowledged.  The
 * handler saves the registers (from the signal context) and the stack pointer,
 * acknowledges, and sleeps on a futex until stw_seq changes again.  A thread
 * inside an allocator section (in_alloc) only notes stop_pending and stops at
 * the end of the section, in leave_alloc: so no thread is ever stopped with
 * its cache or an allocator lock mid-update.  The handler is installed with
 * SA_RESTART, and touches nothing but async-signal-safe state.  A thread in
 * a lock's epilogue (the bdwgc layer's) defers a stop the same way, for at
 * most a little of its own CPU time (epilogue_defers).  It stops only
 * when this stop asked it to (stop_req): a stray signal adds no ack.  A thread
 * that keeps the signal blocked is named and the program stopped
 * (check_unstopped); pthread_sigmask and sigprocmask are wrapped so that a
 * program cannot block it by accident.
 *
 * Blocked threads (gc_do_blocking): bstate goes T_RUNNING -> T_BLOCKED with
 * the stack pointer recorded.  A stop takes T_BLOCKED -> T_HELD instead of
 * signalling, and start_the_world gives it back; a thread leaving the
 * blocked state waits while it is T_HELD.  The CAS on one word decides which
 * side won, so a thread is either signalled or held, never both.
 *
 * Stacks (threads_mark_stack): a thread may run on a stack of the program's
 * (a coroutine), declared with gc_set_stack or not; its own stack then holds
 * the frames that switched away, and is scanned too.
 *
 * fork: the atfork handlers take every lock of the library in order (gc_lock,
 * the bdwgc layer's, threads_lock, central, heap, metadata) so the child gets
 * a consistent heap; the child then forgets the other threads, returning
 * their cached spans.
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
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
/* Threads that acknowledged the current stop, and STW_DEFERRED once one has
 * deferred it: one futex word, so that the stopper sleeping on it cannot
 * miss the first deferral. */
static _Atomic uint32_t stw_acks;
#define STW_DEFERRED (1u << 31)

/* The acknowledgements in an stw_acks word. */
static inline uint32_t acks_of(uint32_t word) { return word & ~STW_DEFERRED; }
static _Atomic bool world_stopped; /* every thread acknowledged the stop (threads_world_stopped) */

int gc_stop_sig = SIGPWR;
static int stop_sig_set;       /* by gc_set_stop_signal: the environment does not override it */
static _Atomic bool threads_ready; /* threads_init ran: too late to change the signal */

/* libc's own function name, behind a wrapper here.  RTLD_NEXT finds it when
 * this library comes before libc in the lookup order (a program linked with
 * -ltricolor); libgc.so.1 loaded by a library (Guile's) comes after libc,
 * where RTLD_NEXT finds nothing: then ask libc itself. */
static void *libc_sym(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        if (libc) {
            f = dlsym(libc, name);
            dlclose(libc);
        }
    }
    if (!f)
        tc_fatal("cannot find libc's %s: %s", name, dlerror());
    return f;
}

/* libc's functions behind the wrappers here. */
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);

static sigmask_fn real_sym(_Atomic(sigmask_fn) *cache, const char *name)
{
    sigmask_fn f = atomic_load_explicit(cache, memory_order_acquire);
    if (!f) {
        f = (sigmask_fn)libc_sym(name);
        atomic_store_explicit(cache, f, memory_order_release);
    }
    return f;
}

static _Atomic(sigmask_fn) real_pthread_sigmask, real_sigprocmask;

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

#define ALTSTACK_BYTES (64 << 10) /* the signal stack a thread gets (altstack_give) */

/* The handler runs on an alternate signal stack (sigaltstack): the stack
 * pointer to scan from is the interrupted one.  The signal frame stays on
 * the signal stack, and it holds what the registers saved in t->regs do
 * not: the vector registers (memmove of overlapping pointer arrays carries
 * pointers only there for a moment), and the frames of any handler the
 * stop interrupted.  So the used part of the signal stack is scanned too
 * (sig_lo, sig_hi). */
static bool sp_on_sigaltstack(gc_thread_t *t)
{
    stack_t ss;
    t->sig_lo = t->sig_hi = 0;
    if (sigaltstack(NULL, &ss) != 0 || !(ss.ss_flags & SS_ONSTACK))
        return false;
    t->sig_lo = current_sp() & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    t->sig_hi = ((uintptr_t)ss.ss_sp + ss.ss_size) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    return true;
}

/* Park the calling thread until the world restarts. */
static NOINLINE void suspend_self(gc_thread_t *t, const ucontext_t *uc, bool deferred)
{
    uint32_t seq = atomic_load(&stw_seq), want = seq;
    /* One activation of the thread answers a stop: a signal sent again
     * (stop_the_world, for a deferred stop) may come in while a deferred
     * stop is on its way here, and only one of the two may acknowledge. */
    if (!(seq & 1) || !atomic_compare_exchange_strong(&t->stop_req, &want, 0))
        return;
    __builtin_unwind_init(); /* spill callee-saved registers into this frame */
    save_context(t, uc);
    uintptr_t sp = current_sp();
    t->stop_how = deferred ? STOP_DEFERRED : STOP_HANDLER;
    if (sp_on_sigaltstack(t) && uc) {
        sp = context_sp(uc);
        if (!deferred)
            t->stop_how = sp >= t->sig_lo && sp < t->sig_hi ? STOP_NESTED : STOP_ALTSTACK;
    }
    t->stop_sp = sp;
    atomic_fetch_add(&stw_acks, 1);
    tc_futex(&stw_acks, FUTEX_WAKE, 1);
    while (atomic_load(&stw_seq) == seq)
        tc_futex(&stw_seq, FUTEX_WAIT, seq);
}

static void block_leave(gc_thread_t *t);

/* Parked by thread_suspend: blocked (so never signalled for a stop) from the
 * interrupted stack pointer, with the registers saved, until resumed. */
static NOINLINE void suspended_park(gc_thread_t *t, const ucontext_t *uc)
{
    __builtin_unwind_init();
    save_context(t, uc);
    uintptr_t sp = current_sp();
    if (sp_on_sigaltstack(t) && uc)
        sp = context_sp(uc);
    t->block_sp = sp;
    atomic_store(&t->bstate, T_BLOCKED);
    tc_futex(&t->bstate, FUTEX_WAKE, INT32_MAX);
    /* A stop that signalled this thread before it was blocked counts on its
     * acknowledgement, and the signal cannot come in here (the handler
     * blocks it): stop for it first. */
    uint32_t seq = atomic_load(&stw_seq);
    if ((seq & 1) && atomic_load(&t->stop_req) == seq)
        suspend_self(t, uc, false);
    while (atomic_load(&t->suspend_req))
        tc_futex(&t->suspend_req, FUTEX_WAIT, 1);
    block_leave(t);
}

/*
 * A thread in a lock's epilogue (epilogue, set by the bdwgc layer as it
 * releases the allocation lock) may be a few instructions short of making
 * consistent what a mark procedure reads (Guile stores a grown VM stack's
 * new stack pointer just after GC_call_with_alloc_lock returns), and the
 * collector, which was waiting for the lock, stops the world at once.  So
 * such a stop is deferred as one inside an allocator section is, until the
 * thread comes back into the library (thread_epilogue_end), and
 * stop_the_world sends the signal again every EPILOGUE_RESEND_NS meanwhile.
 * The deferral ends by the thread's own progress, not by the clock: once it
 * has run EPILOGUE_CPU_NS since the stop came, or when the signal finds it in
 * a system call, it is past any epilogue and stops.  (A wall-clock bound
 * fails under load: the thread may not run at all for longer.)
 */
#define EPILOGUE_CPU_NS (200 * 1000)
#define EPILOGUE_RESEND_NS (200 * 1000)

/* The signal came in a system call (or just after one): the interrupted
 * instruction is one, or follows one. */
static bool in_syscall(const ucontext_t *uc)
{
#if defined(__x86_64__)
    const uint8_t *ip = (const uint8_t *)uc->uc_mcontext.gregs[REG_RIP];
    if (ip[0] == 0x0f && ip[1] == 0x05) /* syscall, to be restarted */
        return true;
    return ((uintptr_t)ip & 4095) >= 2 && ip[-2] == 0x0f && ip[-1] == 0x05;
#elif defined(__aarch64__)
    const uint32_t *pc = (const uint32_t *)uc->uc_mcontext.pc;
    if (*pc == 0xd4000001) /* svc #0 */
        return true;
    return ((uintptr_t)pc & 4095) >= 4 && pc[-1] == 0xd4000001;
#else
    (void)uc;
    return true;
#endif
}

static bool epilogue_defers(gc_thread_t *t, uint32_t seq, const ucontext_t *uc)
{
    /* (epilogue 2: still inside the unlock, whose futex wake is a system
     * call that does not block) */
    if (!uc || (t->epilogue != 2 && in_syscall(uc)))
        return false;
    uint64_t cpu = thread_cputime();
    bool first = t->defer_seq != seq;
    if (first) {
        t->defer_seq = seq;
        t->defer_cpu0 = cpu;
    }
    if (cpu - t->defer_cpu0 >= EPILOGUE_CPU_NS)
        return false;
    /* The stopper waits 50 ms at a time: from now on it should resend.  Only
     * the stop's first deferral wakes it: a wake on every one would let a
     * stopper on this CPU take it back and resend at once, so that the
     * thread ran nothing but this handler until its CPU bound ran out. */
    if (first && !(atomic_fetch_or(&stw_acks, STW_DEFERRED) & STW_DEFERRED))
        tc_futex(&stw_acks, FUTEX_WAKE, 1);
    return true;
}

static void stop_handler(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)info;
    int saved = errno;
    gc_thread_t *t = tls_thread;
    /* Only a stop the collector asked of this thread: a stray signal (the
     * program's own, or a late one) must not add an acknowledgement. */
    uint32_t seq = atomic_load(&stw_seq);
    if (t && (seq & 1) && atomic_load(&t->stop_req) == seq) {
        if (t->in_alloc || (t->epilogue && epilogue_defers(t, seq, uc)))
            t->stop_pending = 1;
        else
            suspend_self(t, uc, false);
    }
    if (t && atomic_load(&t->suspend_req) && atomic_load(&t->bstate) == T_RUNNING) {
        if (t->in_alloc)
            t->stop_pending = 1;
        else
            suspended_park(t, uc);
    }
    errno = saved;
}

void thread_suspend_deferred(gc_thread_t *t)
{
    t->stop_pending = 0;
    uint32_t seq = atomic_load(&stw_seq);
    if ((seq & 1) && atomic_load(&t->stop_req) == seq) {
        ucontext_t uc;
        getcontext(&uc);
        suspend_self(t, &uc, true);
    }
    if (atomic_load(&t->suspend_req) && atomic_load(&t->bstate) == T_RUNNING) {
        ucontext_t uc;
        getcontext(&uc);
        suspended_park(t, &uc);
    }
}

static gc_thread_t *thread_find(pthread_t th)
{
    for (gc_thread_t *t = thread_list; t; t = t->next)
        if (pthread_equal(t->self, th) && !t->dead)
            return t;
    return NULL;
}

/* Suspensions of threads not registered (not yet, or no longer): such a
 * thread parks as soon as it registers; one that has exited stays
 * "suspended" until resumed, as bdwgc reports it. */
static pthread_mutex_t susp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t *susp_pending;
static size_t nsusp, susp_cap;

static bool susp_take(pthread_t th, bool remove)
{
    bool found = false;
    pthread_mutex_lock(&susp_lock);
    for (size_t i = 0; i < nsusp; i++)
        if (pthread_equal(susp_pending[i], th)) {
            found = true;
            if (remove)
                susp_pending[i] = susp_pending[--nsusp];
            break;
        }
    pthread_mutex_unlock(&susp_lock);
    return found;
}

static void susp_add(pthread_t th)
{
    if (susp_take(th, false))
        return;
    pthread_mutex_lock(&susp_lock);
    if (nsusp == susp_cap) {
        size_t cap = susp_cap ? susp_cap * 2 : 16;
        pthread_t *n = realloc(susp_pending, cap * sizeof *n);
        if (!n)
            tc_fatal("thread_suspend: out of memory");
        susp_pending = n;
        susp_cap = cap;
    }
    susp_pending[nsusp++] = th;
    pthread_mutex_unlock(&susp_lock);
}

bool thread_suspend(pthread_t th)
{
    gc_thread_t *self = tls_thread;
    if (self && pthread_equal(th, self->self))
        return false;
    pthread_mutex_lock(&threads_lock);
    gc_thread_t *t = thread_find(th);
    if (!t) {
        pthread_mutex_unlock(&threads_lock);
        susp_add(th);
        return true;
    }
    if (t->internal) {
        pthread_mutex_unlock(&threads_lock);
        return false;
    }
    bool already = atomic_exchange(&t->suspend_req, 1);
    if (!already)
        pthread_kill(t->self, gc_stop_sig);
    pthread_mutex_unlock(&threads_lock);
    /* Wait until it parked (it cannot unregister meanwhile: it parks first,
     * at its next signal delivery, or is parked already). */
    while (atomic_load(&t->bstate) == T_RUNNING && atomic_load(&t->suspend_req))
        futex_wait_for(&t->bstate, T_RUNNING, 1000000);
    return true;
}

void thread_resume(pthread_t th)
{
    susp_take(th, true);
    pthread_mutex_lock(&threads_lock);
    gc_thread_t *t = thread_find(th);
    if (t && atomic_exchange(&t->suspend_req, 0))
        tc_futex(&t->suspend_req, FUTEX_WAKE, INT32_MAX);
    pthread_mutex_unlock(&threads_lock);
}

bool thread_is_suspended(pthread_t th)
{
    pthread_mutex_lock(&threads_lock);
    gc_thread_t *t = thread_find(th);
    bool r = t ? atomic_load(&t->suspend_req) != 0 : false;
    pthread_mutex_unlock(&threads_lock);
    return r || susp_take(th, false);
}

/* Does t block the stop signal (its SigBlk line in /proc)?  Read without
 * malloc: a stopped thread may hold its lock. */
static bool blocks_stop_signal(pid_t tid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    char *p = strstr(buf, "SigBlk:");
    if (!p)
        return false;
    unsigned long long mask = strtoull(p + 7, NULL, 16);
    return (mask >> (gc_stop_sig - 1)) & 1;
}

/* A thread that keeps the stop signal blocked can be neither stopped nor
 * skipped (it may be writing pointers): say which, and stop. */
static void check_unstopped(int *strikes)
{
    uint32_t seq = atomic_load(&stw_seq);
    bool any = false;
    for (gc_thread_t *t = thread_list; t; t = t->next) {
        if (atomic_load(&t->stop_req) != seq || !blocks_stop_signal(t->tid))
            continue;
        any = true;
        if (*strikes < 2)
            continue;
        char name[32] = "?";
        pthread_getname_np(t->self, name, sizeof name);
        tc_fatal("thread %d (\"%s\") blocks SIG%s, the signal that stops threads for a collection, "
                 "so it can be neither stopped nor skipped; unblock it (pthread_sigmask never blocks it), "
                 "or run its blocking call through gc_do_blocking",
                 (int)t->tid, name, sigabbrev_np(gc_stop_sig));
    }
    *strikes = any ? *strikes + 1 : 0;
}

void stop_the_world(void)
{
    gc_thread_t *self = tls_thread;
    atomic_store(&stw_acks, 0);
    uint32_t seq = atomic_fetch_add(&stw_seq, 1) + 1; /* odd: stopping */
    uint32_t n = 0;
    for (gc_thread_t *t = thread_list; t; t = t->next) {
        if (t == self)
            continue;
        /* A thread blocked in gc_do_blocking stays where it is: it is held
         * there (it waits at its exit) until start_the_world. */
        uint32_t b = T_BLOCKED;
        if (atomic_compare_exchange_strong(&t->bstate, &b, T_HELD))
            continue;
        atomic_store(&t->stop_req, seq);
        int err = pthread_kill(t->self, gc_stop_sig);
        if (err == ESRCH) {
            /* Gone without unregistering (it cannot, normally: the key's
             * destructor runs first).  Its stack is gone too: skip it. */
            atomic_store(&t->stop_req, 0);
            t->dead = true;
            continue;
        }
        if (err)
            tc_fatal("cannot stop thread %d: %s", (int)t->tid, strerror(err));
        n++;
    }
    uint64_t start = nanotime(), next_check = start + 200 * 1000 * 1000, sent = start;
    bool warned = false;
    int strikes = 0;
    for (;;) {
        uint32_t word = atomic_load(&stw_acks);
        if (acks_of(word) >= n)
            break;
        /* A deferred thread gets the signal again EPILOGUE_RESEND_NS after
         * the last one, whatever wakes this loop: a resend at every wake
         * could keep the thread in its handler. */
        bool resend = word & STW_DEFERRED;
        uint64_t now = nanotime();
        long wait = 50 * 1000 * 1000;
        if (resend)
            wait = sent + EPILOGUE_RESEND_NS > now ? (long)(sent + EPILOGUE_RESEND_NS - now) : 0;
        if (wait > 0)
            futex_wait_for(&stw_acks, word, wait);
        now = nanotime();
        if (resend && acks_of(atomic_load(&stw_acks)) < n && now >= sent + EPILOGUE_RESEND_NS) {
            for (gc_thread_t *t = thread_list; t; t = t->next)
                if (t != self && atomic_load(&t->stop_req) == seq && t->epilogue)
                    pthread_kill(t->self, gc_stop_sig);
            sent = now;
        }
        if (now >= next_check) {
            /* glibc blocks every signal for moments (pthread_create, say):
             * only a signal blocked at three checks 200 ms apart is a fault. */
            next_check = now + 200 * 1000 * 1000;
            check_unstopped(&strikes);
        }
        if (!warned && now - start > 2000000000u) {
            warned = true;
            tc_print("still waiting after 2 s for %u of %u threads to stop", n - acks_of(atomic_load(&stw_acks)), n);
        }
    }
    atomic_store_explicit(&world_stopped, true, memory_order_release);
}

/* Stopped means every thread has acknowledged: while the stopper waits for
 * them (stw_seq already odd) a thread finishing an allocator section may
 * still assist marking, and must not run a mark procedure that reads
 * another running thread's state (Guile's VM stacks). */
bool threads_world_stopped(void) { return atomic_load_explicit(&world_stopped, memory_order_acquire); }

void (*threads_restart_hook)(void);

uint64_t start_the_world(void)
{
    atomic_store_explicit(&world_stopped, false, memory_order_release);
    atomic_fetch_add(&stw_seq, 1); /* even: running */
    /* The pause ends here.  The wake-up itself may let a woken thread take
     * this CPU for milliseconds before the call returns, while the world
     * runs again: not a pause. */
    uint64_t now = nanotime();
    if (threads_restart_hook)
        threads_restart_hook();
    tc_futex(&stw_seq, FUTEX_WAKE, INT32_MAX);
    for (gc_thread_t *t = thread_list; t; t = t->next) {
        uint32_t h = T_HELD;
        if (atomic_compare_exchange_strong(&t->bstate, &h, T_BLOCKED))
            tc_futex(&t->bstate, FUTEX_WAKE, INT32_MAX);
    }
    return now;
}

/*
 * The key's destructor unregisters an exiting thread, but only in the last
 * round of destructors (it sets its value again until then): other
 * libraries' destructors run in the first round, and may change what a
 * collection reads.  Guile's clears its thread object's handle, then unmaps
 * the VM stack and zeroes the VM: a thread no longer registered is not
 * stopped, and a mark procedure running in a pause would read the stack as
 * it goes away.  (bdwgc keeps such a thread registered until Guile
 * unregisters it.)
 */
static void thread_exit_cb(void *arg)
{
    gc_thread_t *t = arg;
    if (tls_thread != t)
        return;
    if (++t->exit_rounds < PTHREAD_DESTRUCTOR_ITERATIONS && pthread_setspecific(thread_key, t) == 0)
        return;
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
        threads_mark_stack(t, t->stop_sp);
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

/*
 * With the mprotect backend a write fault's handler needs a stack that can
 * take its frame: a coroutine may run on a collected (so write-protected)
 * stack, where the kernel could not push the frame and would kill the
 * process.  A thread without a signal stack of its own gets one.
 */

static void altstack_give(gc_thread_t *t)
{
    stack_t old;
    if (writetrack_backend() != WT_MPROTECT || sigaltstack(NULL, &old) || !(old.ss_flags & SS_DISABLE))
        return;
    void *m = mmap(NULL, ALTSTACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED)
        return;
    stack_t ss = {.ss_sp = m, .ss_size = ALTSTACK_BYTES, .ss_flags = 0};
    if (sigaltstack(&ss, NULL)) {
        munmap(m, ALTSTACK_BYTES);
        return;
    }
    t->altstack = m;
}

static void altstack_take(gc_thread_t *t)
{
    if (!t->altstack)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    if (sigaltstack(&ss, NULL) == 0)
        munmap(t->altstack, ALTSTACK_BYTES);
    t->altstack = NULL;
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
    sigaddset(&stop, gc_stop_sig);
    real_sym(&real_pthread_sigmask, "pthread_sigmask")(SIG_UNBLOCK, &stop, NULL);
    t->self = pthread_self();
    t->tid = (pid_t)syscall(SYS_gettid);
    t->is_main = t->tid == getpid();
    t->stack_lo = (uintptr_t)addr;
    t->stack_hi = register_stack_hi ? register_stack_hi : (uintptr_t)addr + size;
    t->tp = thread_pointer();
    t->internal = internal;
    cache_init_empty(&t->cache);
    altstack_give(t);
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
    if (nsusp && susp_take(t->self, true)) {
        atomic_store(&t->suspend_req, 1);
        ucontext_t uc;
        getcontext(&uc);
        suspended_park(t, &uc);
    }
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
    altstack_take(t);
    mark_free_gcwork(t->gcw);
    pool_thread_exit(t);
    fixalloc_free(&thread_alloc, t);
}

/* ---- stacks ------------------------------------------------------------- */

#define FOREIGN_MAX ((uintptr_t)64 << 20) /* the most scanned of a stack not declared */

static unsigned hexval(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (unsigned)(c - 'a' + 10);
    return 0;
}

/* The readable mapping holding addr, from /proc/self/maps, read without
 * malloc (a stopped thread may hold its lock). */
static bool maps_find(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[4096];
    uintptr_t a = 0, b = 0;
    int field = 0;
    char perm = 0;
    bool found = false;
    ssize_t n;
    while (!found && (n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            if (c == '\n') {
                if (field >= 3 && perm == 'r' && a <= addr && addr < b) {
                    found = true;
                    break;
                }
                a = b = 0;
                field = 0;
                perm = 0;
            } else if (field == 0) {
                if (c == '-')
                    field = 1;
                else
                    a = a * 16 + hexval(c);
            } else if (field == 1) {
                if (c == ' ')
                    field = 2;
                else
                    b = b * 16 + hexval(c);
            } else if (field == 2) {
                perm = c;
                field = 3;
            }
        }
    }
    close(fd);
    if (found) {
        *lo = a;
        *hi = b;
    }
    return found;
}

/* The memory around a stack pointer that is on no stack the collector
 * knows: the collected object holding it (kept, and scanned from sp), or the
 * mapping holding it up to its end, at most FOREIGN_MAX. */
static uintptr_t foreign_top(uintptr_t sp)
{
    span_t *s = span_of(sp);
    if (s) {
        uintptr_t obj = s->base + (sp - s->base) / s->elemsize * s->elemsize;
        uintptr_t hold[1] = {obj}; /* the stack's object itself is live */
        mark_range((uintptr_t)hold, (uintptr_t)(hold + 1));
        return obj + s->elemsize;
    }
    uintptr_t lo, hi;
    if (!maps_find(sp, &lo, &hi))
        return sp;
    return hi - sp > FOREIGN_MAX ? sp + FOREIGN_MAX : hi;
}

/* The lowest address of t's own stack that may be read: the initial
 * thread's stack is mapped only as deep as it has grown. */
static uintptr_t home_floor(gc_thread_t *t)
{
    uintptr_t lo, hi;
    if (t->is_main && maps_find(t->stack_hi - 1, &lo, &hi) && lo > t->stack_lo)
        return lo;
    return t->stack_lo;
}

/*
 * Registered coroutine stacks (gc_add_stack): a growable array under a
 * section lock (no thread is stopped while changing it).  In a pause, a
 * thread whose stack pointer is on one scans it from there (claimed for
 * this pause); every other one is a suspended coroutine's, scanned whole.
 */
typedef struct coro_stack {
    uintptr_t lo, hi;
    uint32_t claimed; /* the stw_seq of the pause in which a thread ran on it */
} coro_stack_t;

static pthread_mutex_t cstacks_lock = PTHREAD_MUTEX_INITIALIZER;
static coro_stack_t *cstacks;
static size_t ncstacks, cstacks_cap;

static coro_stack_t *cstack_find(uintptr_t sp)
{
    for (size_t i = 0; i < ncstacks; i++)
        if (sp >= cstacks[i].lo && sp < cstacks[i].hi)
            return &cstacks[i];
    return NULL;
}

int gc_add_stack(void *lo, void *hi)
{
    uintptr_t l = (uintptr_t)lo, h = (uintptr_t)hi;
    if (!lo || h <= l) {
        errno = EINVAL;
        return -1;
    }
    gc_thread_t *t = section_lock(&cstacks_lock);
    if (ncstacks == cstacks_cap) {
        size_t cap = cstacks_cap ? cstacks_cap * 2 : 64;
        coro_stack_t *n = sys_map(cap * sizeof *n, SYS_OTHER);
        if (!n) {
            section_unlock(&cstacks_lock, t);
            errno = ENOMEM;
            return -1;
        }
        if (cstacks)
            memcpy(n, cstacks, ncstacks * sizeof *n);
        /* The old array is kept (at most the size of the live one): a
         * stopped collector never waits for an unmap. */
        cstacks = n;
        cstacks_cap = cap;
    }
    cstacks[ncstacks++] = (coro_stack_t){l, h, 0};
    section_unlock(&cstacks_lock, t);
    return 0;
}

void gc_remove_stack(void *lo)
{
    gc_thread_t *t = section_lock(&cstacks_lock);
    for (size_t i = 0; i < ncstacks; i++)
        if (cstacks[i].lo == (uintptr_t)lo) {
            cstacks[i] = cstacks[--ncstacks];
            break;
        }
    section_unlock(&cstacks_lock, t);
}

void threads_mark_coroutines(void)
{
    uint32_t seq = atomic_load(&stw_seq);
    pthread_mutex_lock(&cstacks_lock);
    for (size_t i = 0; i < ncstacks; i++)
        if (cstacks[i].claimed != seq)
            mark_range(cstacks[i].lo, cstacks[i].hi);
    pthread_mutex_unlock(&cstacks_lock);
}

uint64_t threads_mark_stack(gc_thread_t *t, uintptr_t sp)
{
    uintptr_t hlo = t->stack_lo, hhi = t->stack_hi, alo = t->alt_lo, ahi = t->alt_hi;
    if (sp >= hlo && sp < hhi) {
        mark_range(sp, hhi);
        uint64_t bytes = hhi - sp;
        if (ahi && alo) {
            /* Declared, and not switched to yet (or no longer on). */
            mark_range(alo, ahi);
            bytes += ahi - alo;
        }
        return bytes;
    }
    uint64_t bytes = 0;
    bool on_alt = ahi && sp < ahi && (alo ? sp >= alo : ahi - sp <= FOREIGN_MAX);
    uintptr_t top;
    coro_stack_t *cs;
    if (on_alt) {
        top = ahi;
    } else if (ncstacks && (cs = cstack_find(sp))) {
        /* A registered coroutine stack: from sp, and not again whole. */
        cs->claimed = atomic_load(&stw_seq);
        top = cs->hi;
    } else {
        top = foreign_top(sp);
    }
    if (sp < top) {
        mark_range(sp, top);
        bytes += top - sp;
    }
    if (!on_alt && ahi && alo) {
        mark_range(alo, ahi);
        bytes += ahi - alo;
    }
    /* Its own stack, left for another: whole from where it was left. */
    uintptr_t from = home_floor(t);
    if (t->home_sp >= hlo && t->home_sp < hhi) {
        uintptr_t near = t->home_sp - STACK_WIPE_BYTES; /* the switching call's frame */
        uintptr_t floor = t->is_main ? t->home_sp & ~(uintptr_t)(getpagesize() - 1) : hlo;
        from = near > floor && near < t->home_sp ? near : floor;
    }
    mark_range(from, hhi);
    return bytes + (hhi - from);
}

int gc_get_stack(void **lo, void **hi)
{
    gc_thread_t *t = current_thread();
    if (!t)
        return -1;
    uintptr_t sp = current_sp(), mlo, mhi;
    bool home = sp >= t->stack_lo && sp < t->stack_hi;
    bool alt = t->alt_hi && sp < t->alt_hi && (t->alt_lo ? sp >= t->alt_lo : t->alt_hi - sp <= FOREIGN_MAX);
    if (!home && !alt) {
        /* On a stack not declared: what the collector would scan. */
        gc_thread_t *self = t;
        enter_alloc(self);
        span_t *s = span_of(sp);
        if (s) {
            uintptr_t obj = s->base + (sp - s->base) / s->elemsize * s->elemsize;
            *lo = (void *)obj;
            *hi = (void *)(obj + s->elemsize);
            leave_alloc(self);
            return 0;
        }
        leave_alloc(self);
        if (maps_find(sp, &mlo, &mhi)) {
            *lo = (void *)mlo;
            *hi = (void *)(mhi - sp > FOREIGN_MAX ? sp + FOREIGN_MAX : mhi);
            return 0;
        }
    }
    if (t->alt_hi) {
        *lo = (void *)t->alt_lo;
        *hi = (void *)t->alt_hi;
    } else {
        *lo = (void *)t->stack_lo;
        *hi = (void *)t->stack_hi;
    }
    return 0;
}

void gc_set_stack(void *lo, void *hi)
{
    gc_thread_t *t = current_thread();
    if (!t)
        return;
    uintptr_t l = (uintptr_t)lo, h = (uintptr_t)hi;
    if (h && l >= h)
        tc_fatal("gc_set_stack(%p, %p): not a stack", lo, hi);
    uintptr_t sp = current_sp();
    enter_alloc(t); /* the three words change together: no stop in between */
    if (!h || (l == t->stack_lo && h == t->stack_hi)) {
        t->alt_lo = t->alt_hi = t->home_sp = 0;
    } else {
        if (sp >= t->stack_lo && sp < t->stack_hi)
            t->home_sp = sp;
        t->alt_lo = l;
        t->alt_hi = h;
    }
    leave_alloc(t);
}

/* ---- blocking ------------------------------------------------------------ */

/* Leave the blocked state: not while the collector holds the thread there. */
static void block_leave(gc_thread_t *t)
{
    for (;;) {
        uint32_t b = T_BLOCKED;
        if (atomic_compare_exchange_strong(&t->bstate, &b, T_RUNNING))
            break;
        tc_futex(&t->bstate, FUTEX_WAIT, T_HELD);
    }
    if (atomic_load(&t->suspend_req)) {
        /* Suspended (thread_suspend) while it was blocked: park now. */
        ucontext_t uc;
        getcontext(&uc);
        suspended_park(t, &uc);
    }
}

NOINLINE void *gc_do_blocking(void *(*fn)(void *), void *arg)
{
    __builtin_unwind_init(); /* the caller's registers, into this frame: scanned above block_sp */
    gc_thread_t *t = current_thread();
    if (!t || atomic_load(&t->bstate) != T_RUNNING || t->in_alloc)
        return fn(arg);
    t->block_sp = current_sp();
    atomic_store(&t->bstate, T_BLOCKED);
    void *r = fn(arg);
    block_leave(t);
    return r;
}

NOINLINE void *gc_call_active(void *(*fn)(void *), void *arg)
{
    __builtin_unwind_init();
    gc_thread_t *t = tls_thread;
    if (!t || atomic_load(&t->bstate) == T_RUNNING)
        return fn(arg);
    uintptr_t sp = t->block_sp;
    block_leave(t);
    void *r = fn(arg);
    /* Blocked again, with this frame's registers scanned too. */
    t->block_sp = current_sp() < sp ? current_sp() : sp;
    atomic_store(&t->bstate, T_BLOCKED);
    return r;
}

/* ---- the stop signal ----------------------------------------------------- */

static bool stop_signal_ok(int sig)
{
    switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGABRT: case SIGTRAP:
        return false;
    default:
        /* 32 and 33 are glibc's own (cancellation, setxid). */
        return sig > 0 && sig < NSIG && (sig < 32 || sig >= SIGRTMIN);
    }
}

int gc_set_stop_signal(int sig)
{
    if (!stop_signal_ok(sig)) {
        errno = EINVAL;
        return -1;
    }
    if (atomic_load(&threads_ready)) {
        if (sig == gc_stop_sig)
            return 0;
        errno = EBUSY;
        return -1;
    }
    gc_stop_sig = sig;
    stop_sig_set = 1;
    return 0;
}

int gc_stop_signal(void)
{
    gc_init_once();
    return gc_stop_sig;
}

/* "SIGUSR1", "USR1", "10", "SIGRTMIN+3", "RTMAX-1"; 0 if none of these. */
static int parse_signal(const char *s)
{
    if (!strncmp(s, "SIG", 3))
        s += 3;
    char *end;
    long v = strtol(s, &end, 10);
    if (end != s && !*end)
        return (int)v;
    for (int base = 0; base < 2; base++) {
        const char *name = base ? "RTMAX" : "RTMIN";
        size_t len = strlen(name);
        if (strncmp(s, name, len))
            continue;
        long off = s[len] ? strtol(s + len, &end, 10) : 0;
        if (s[len] && *end)
            return 0;
        return (int)((base ? SIGRTMAX : SIGRTMIN) + off);
    }
    for (int i = 1; i < NSIG; i++) {
        const char *a = sigabbrev_np(i);
        if (a && !strcmp(a, s))
            return i;
    }
    return 0;
}

static void stop_signal_from_env(void)
{
    const char *s = getenv("TRICOLOR_STOP_SIGNAL");
    if (stop_sig_set || !s || !*s)
        return;
    int sig = parse_signal(s);
    if (stop_signal_ok(sig))
        gc_stop_sig = sig;
    else
        tc_print("TRICOLOR_STOP_SIGNAL=%s is not a signal the collector can use; using SIG%s", s,
                 sigabbrev_np(gc_stop_sig));
}

/* ---- pthread_sigmask, sigprocmask ---------------------------------------- */


/* Never block the stop signal (bdwgc's GC_pthread_sigmask): a thread that
 * cannot be stopped stops every collection. */
static int sigmask_call(sigmask_fn f, int how, const sigset_t *set, sigset_t *old)
{
    /* The mprotect backend's write faults must reach their handler too: a
     * blocked SIGSEGV on a fault kills the process. */
    bool faults = writetrack_backend() == WT_MPROTECT;
    if (set && how != SIG_UNBLOCK &&
        (sigismember(set, gc_stop_sig) == 1 || (faults && (sigismember(set, SIGSEGV) == 1 || sigismember(set, SIGBUS) == 1)))) {
        sigset_t s = *set;
        sigdelset(&s, gc_stop_sig);
        if (faults) {
            sigdelset(&s, SIGSEGV);
            sigdelset(&s, SIGBUS);
        }
        return f(how, &s, old);
    }
    return f(how, set, old);
}

GC_API int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    return sigmask_call(real_sym(&real_pthread_sigmask, "pthread_sigmask"), how, set, old);
}

GC_API int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    return sigmask_call(real_sym(&real_sigprocmask, "sigprocmask"), how, set, old);
}

/* ---- pthread_create ------------------------------------------------------ */

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* libc's pthread_create, behind the wrapper below. */
static pthread_create_fn real_pthread_create(void)
{
    static _Atomic(pthread_create_fn) real;
    pthread_create_fn f = atomic_load_explicit(&real, memory_order_acquire);
    if (!f) {
        f = (pthread_create_fn)libc_sym("pthread_create");
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
        sigdelset(&all, gc_stop_sig);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigmask_fn mask = real_sym(&real_pthread_sigmask, "pthread_sigmask");
    mask(SIG_BLOCK, &all, &old);
    bool ok = real_pthread_create()(&th, &attr, fn, arg) == 0;
    mask(SIG_SETMASK, &old, NULL);
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
    if (ext_hooks.fork_locks)
        ext_hooks.fork_locks(true);
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
    if (ext_hooks.fork_locks)
        ext_hooks.fork_locks(false);
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
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK; /* (on a signal stack, if the thread has one) */
    sigfillset(&sa.sa_mask);
    sigdelset(&sa.sa_mask, SIGSEGV);
    sigdelset(&sa.sa_mask, SIGBUS);
    sigdelset(&sa.sa_mask, SIGILL);
    sigdelset(&sa.sa_mask, SIGFPE);
    stop_signal_from_env();
    if (sigaction(gc_stop_sig, &sa, NULL))
        tc_fatal("cannot install the stop signal handler: %s", strerror(errno));
    atomic_store(&threads_ready, true);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static bool find_in(uintptr_t from, uintptr_t to, uintptr_t lo, uintptr_t hi, uintptr_t *at)
{
    for (const uintptr_t *q = (const uintptr_t *)from; (uintptr_t)q < to; q++)
        if (*q >= lo && *q < hi) {
            *at = (uintptr_t)q;
            return true;
        }
    return false;
}

bool threads_find_root(uintptr_t lo, uintptr_t hi, char *buf, size_t n)
{
    static const char *how[] = {"?", "in its handler", "in its handler on the signal stack",
                                "in its handler nested in another on the signal stack", "at the end of an allocator section"};
    for (gc_thread_t *t = thread_list; t; t = t->next) {
        if (t->dead || t->internal)
            continue;
        uintptr_t at, from = t == tls_thread ? gc_run_sp() : home_floor(t);
        const char *h = t == tls_thread ? "(the collecting thread)" : how[t->stop_how < 5 ? t->stop_how : 0];
        if (from >= t->stack_lo && from < t->stack_hi && find_in(from, t->stack_hi, lo, hi, &at)) {
            snprintf(buf, n, "thread %d's stack %p-%p holds it at %p; stopped %s, scanned from %p", (int)t->tid,
                     (void *)t->stack_lo, (void *)t->stack_hi, (void *)at, h, (void *)t->stop_sp);
            return true;
        }
        if (find_in((uintptr_t)t->regs, (uintptr_t)(t->regs + 64), lo, hi, &at)) {
            snprintf(buf, n, "thread %d's saved registers hold it; stopped %s", (int)t->tid, h);
            return true;
        }
        if (t->sig_hi && find_in(t->sig_lo, t->sig_hi, lo, hi, &at)) {
            snprintf(buf, n, "thread %d's signal stack holds it at %p (used part %p-%p); stopped %s", (int)t->tid,
                     (void *)at, (void *)t->sig_lo, (void *)t->sig_hi, h);
            return true;
        }
        if (t->altstack && find_in((uintptr_t)t->altstack, (uintptr_t)t->altstack + ALTSTACK_BYTES, lo, hi, &at)) {
            snprintf(buf, n, "thread %d's signal stack %p-%p holds it at %p; stopped %s, scanned from %p", (int)t->tid,
                     t->altstack, (void *)((uintptr_t)t->altstack + ALTSTACK_BYTES), (void *)at, h,
                     (void *)t->stop_sp);
            return true;
        }
    }
    return false;
}
