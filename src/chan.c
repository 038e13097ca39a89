/*
 * chan.c - Go's channels and select between threads (Go's chan.go and
 * select.go).
 *
 * Owns a channel: one collected object holding a lock, a ring buffer of cap
 * elements, and two queues of blocked threads, senders and receivers.  The
 * object is noscan when its elements hold no pointers (the header holds none
 * that matter: the queues point into stacks).
 *
 * A blocked operation is a set of waiters (Go's sudogs), one per channel it
 * waits on, on the blocked thread's own stack, all pointing to one shared
 * wait word.  Whoever completes the operation - a thread on the other end,
 * close, or the waiter's own timeout - first claims the wait (a CAS on
 * `claimed`), so exactly one case of a select fires; a completer that loses
 * the claim skips that waiter.  Invariants:
 *   - a waiter is linked in its channel's queue only under that channel's
 *     lock, and unlinked (by the completer or by its owner) under it too;
 *   - everything a completer writes into a waiter (the value, success) is
 *     written before it sets `ready`, and it does not touch the waiter after
 *     that but to futex-wake the word: the owner may return at once;
 *   - a select locks its channels in address order, each once.
 *
 * How it meets the rest: a blocked thread sleeps in futex(2) after a short
 * spin; the collector's stop signal interrupts the sleep, and the thread
 * sleeps again.  Its stack is a root as always, so a channel a thread is
 * blocked on stays reachable, through the waiter, and so do the values in
 * transit.  A channel nobody can reach is ordinary garbage, buffer and all.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>

typedef struct waiter waiter_t;

/* One blocked operation: a send, a receive, or a whole select. */
typedef struct wait {
    _Atomic uint32_t claimed; /* 0 until a completer (or the timeout) owns the wait */
    _Atomic uint32_t ready;   /* futex word: WAIT_SPINNING, WAIT_SLEEPING, or WAIT_READY */
    waiter_t *winner;         /* the waiter whose case proceeded */
} wait_t;

enum { WAIT_SPINNING = 0, WAIT_SLEEPING = 2, WAIT_READY = 1 };
enum { CLAIM_NONE = 0, CLAIM_DONE = 1, CLAIM_TIMEOUT = 2 };

struct waiter {
    waiter_t *next, *prev;
    gc_chan *c;
    void *elem;    /* the value to send, or where the received one goes (may be NULL) */
    wait_t *wait;
    int caseidx;
    bool linked;   /* in c's queue */
    bool success;  /* a value passed (false: woken by close) */
    waiter_t *wnext; /* a completer's list of waiters to wake */
};

typedef struct waitq {
    waiter_t *first, *last;
} waitq_t;

struct gc_chan {
    pthread_mutex_t lock;
    size_t qcount;   /* elements in the buffer (read without the lock by len) */
    size_t dataqsiz; /* the buffer's size: cap */
    size_t elemsize;
    size_t sendx, recvx;
    waitq_t recvq, sendq;
    bool closed;
    _Alignas(16) unsigned char buf[];
};

/* ---- waiting ------------------------------------------------------------ */

/* How long a blocked thread spins before it sleeps: long enough to catch a
 * hand-off from a thread running on another CPU (a round trip takes a few
 * microseconds), short enough to cost little when nobody comes. */
#define SPIN_NS 20000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static bool claim(wait_t *w) { return atomic_load_explicit(&w->claimed, memory_order_relaxed) == CLAIM_NONE &&
                                       atomic_exchange(&w->claimed, CLAIM_DONE) == CLAIM_NONE; }

/* Tell a claimed wait's owner that it is complete.  After this the owner may
 * return; the futex call only uses the word's address. */
static void wake(wait_t *w)
{
    if (atomic_exchange_explicit(&w->ready, WAIT_READY, memory_order_release) == WAIT_SLEEPING)
        tc_futex(&w->ready, FUTEX_WAKE, 1);
}

static void deadline_after(struct timespec *ts, int64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    int64_t s = ns / 1000000000, n = ts->tv_nsec + ns % 1000000000;
    if (n >= 1000000000)
        s++, n -= 1000000000;
    if (ts->tv_sec > (time_t)(INT64_MAX - s)) /* a deadline past the end of time: none */
        ts->tv_sec = (time_t)INT64_MAX, ts->tv_nsec = 0;
    else
        ts->tv_sec += (time_t)s, ts->tv_nsec = n;
}

/* Wait until the wait is ready, or the deadline passes (NULL: never).  False
 * only on timeout, with the wait claimed by the timeout: no completer will
 * touch it. */
static bool sleep_on(wait_t *w, const struct timespec *deadline)
{
    uint64_t start = 0;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&w->ready, memory_order_acquire) == WAIT_READY)
            return true;
        cpu_relax();
        if (i % 64 == 0) {
            uint64_t now = nanotime();
            if (!start)
                start = now;
            else if (now - start > SPIN_NS)
                break;
        }
    }
    for (;;) {
        uint32_t r = WAIT_SPINNING;
        if (!atomic_compare_exchange_strong(&w->ready, &r, WAIT_SLEEPING) && r == WAIT_READY) {
            atomic_thread_fence(memory_order_acquire);
            return true;
        }
        long e = tc_futex_wait_until(&w->ready, WAIT_SLEEPING, deadline);
        if (atomic_load_explicit(&w->ready, memory_order_acquire) == WAIT_READY)
            return true;
        if (e < 0 && errno == ETIMEDOUT) {
            uint32_t none = CLAIM_NONE;
            if (atomic_compare_exchange_strong(&w->claimed, &none, CLAIM_TIMEOUT))
                return false;
            deadline = NULL; /* a completer owns it: it is about to be ready */
        }
    }
}

/* A NULL channel, or a select with nothing to wait for: block forever (or
 * until the deadline), as Go does. */
static void block_forever(const struct timespec *deadline)
{
    _Atomic uint32_t never = 0;
    for (;;) {
        long e = tc_futex_wait_until(&never, 0, deadline);
        if (e < 0 && errno == ETIMEDOUT)
            return;
    }
}

/* ---- queues (under the channel's lock) ---------------------------------- */

static void enqueue(waitq_t *q, waiter_t *w)
{
    w->next = NULL;
    w->prev = q->last;
    if (q->last)
        q->last->next = w;
    else
        q->first = w;
    q->last = w;
    w->linked = true;
}

static void unlink_waiter(waitq_t *q, waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        q->first = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->last = w->prev;
    w->next = w->prev = NULL;
    w->linked = false;
}

/* The first waiter whose wait this call claims, unlinked; waiters of waits
 * already claimed elsewhere (another case of their select) are dropped. */
static waiter_t *dequeue(waitq_t *q)
{
    waiter_t *w;
    while ((w = q->first)) {
        unlink_waiter(q, w);
        if (claim(w->wait)) {
            w->wait->winner = w;
            return w;
        }
    }
    return NULL;
}

/* ---- the buffer --------------------------------------------------------- */

static inline unsigned char *slot(gc_chan *c, size_t i) { return c->buf + i * c->elemsize; }

static inline void copy_elem(gc_chan *c, void *dst, const void *src)
{
    if (dst && c->elemsize)
        memcpy(dst, src, c->elemsize);
}

static inline void zero_elem(gc_chan *c, void *dst)
{
    if (dst && c->elemsize)
        memset(dst, 0, c->elemsize);
}

static inline void set_qcount(gc_chan *c, size_t n) { __atomic_store_n(&c->qcount, n, __ATOMIC_RELAXED); }

/* ---- make, len, cap, close ---------------------------------------------- */

gc_chan *gc_makechan(size_t elemsize, size_t cap, int noscan)
{
    size_t bytes;
    if (__builtin_mul_overflow(elemsize, cap, &bytes) || bytes > (SIZE_MAX >> 2)) {
        errno = ENOMEM;
        return NULL;
    }
    gc_chan *c = alloc_from(sizeof(gc_chan) + bytes, noscan, (uintptr_t)__builtin_return_address(0));
    if (!c)
        return NULL;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&c->lock, &a);
    pthread_mutexattr_destroy(&a);
    c->dataqsiz = cap;
    c->elemsize = elemsize;
    return c;
}

size_t gc_chanlen(gc_chan *c) { return c ? __atomic_load_n(&c->qcount, __ATOMIC_RELAXED) : 0; }

size_t gc_chancap(gc_chan *c) { return c ? c->dataqsiz : 0; }

void gc_closechan(gc_chan *c)
{
    if (!c)
        gc_panic("close of nil channel");
    pthread_mutex_lock(&c->lock);
    if (c->closed) {
        pthread_mutex_unlock(&c->lock);
        gc_panic("close of closed channel");
    }
    c->closed = true;
    waiter_t *list = NULL, *w;
    while ((w = dequeue(&c->recvq))) {
        zero_elem(c, w->elem);
        w->success = false;
        w->wnext = list, list = w;
    }
    while ((w = dequeue(&c->sendq))) {
        w->success = false;
        w->wnext = list, list = w;
    }
    pthread_mutex_unlock(&c->lock);
    while (list) {
        w = list, list = w->wnext;
        wake(w->wait);
    }
}

/* ---- one case, under its channel's lock ---------------------------------
 * Each returns true if the case proceeded, and may hand back a waiter to
 * wake once the lock is released. */

static bool try_send_locked(gc_chan *c, const void *elem, waiter_t **towake)
{
    if (c->closed) {
        pthread_mutex_unlock(&c->lock);
        gc_panic("send on closed channel");
    }
    waiter_t *w = dequeue(&c->recvq);
    if (w) { /* a receiver is waiting: hand the value over directly */
        copy_elem(c, w->elem, elem);
        w->success = true;
        *towake = w;
        return true;
    }
    if (c->qcount < c->dataqsiz) {
        copy_elem(c, slot(c, c->sendx), elem);
        if (++c->sendx == c->dataqsiz)
            c->sendx = 0;
        set_qcount(c, c->qcount + 1);
        return true;
    }
    return false;
}

static bool try_recv_locked(gc_chan *c, void *elem, bool *ok, waiter_t **towake)
{
    waiter_t *w = dequeue(&c->sendq);
    if (w) {
        if (c->dataqsiz == 0) { /* unbuffered: straight from the sender */
            copy_elem(c, elem, w->elem);
        } else { /* full buffer: take its head, and the sender's value goes to its tail */
            copy_elem(c, elem, slot(c, c->recvx));
            copy_elem(c, slot(c, c->recvx), w->elem);
            if (++c->recvx == c->dataqsiz)
                c->recvx = 0;
            c->sendx = c->recvx;
        }
        w->success = true;
        *towake = w;
        *ok = true;
        return true;
    }
    if (c->qcount > 0) {
        unsigned char *s = slot(c, c->recvx);
        copy_elem(c, elem, s);
        zero_elem(c, s); /* the buffer keeps nothing alive once received */
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        set_qcount(c, c->qcount - 1);
        *ok = true;
        return true;
    }
    if (c->closed) {
        zero_elem(c, elem);
        *ok = false;
        return true;
    }
    return false;
}

/* ---- send and receive --------------------------------------------------- */

/* Block on one channel: enqueue a waiter, sleep, and return whether it
 * proceeded in time (its success in *success). */
static bool block_on(gc_chan *c, waitq_t *q, void *elem, const struct timespec *deadline, bool *success)
{
    wait_t wt = {CLAIM_NONE, WAIT_SPINNING, NULL};
    waiter_t w = {.c = c, .elem = elem, .wait = &wt};
    enqueue(q, &w);
    pthread_mutex_unlock(&c->lock);
    if (!sleep_on(&wt, deadline)) {
        pthread_mutex_lock(&c->lock);
        if (w.linked)
            unlink_waiter(q, &w);
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    *success = w.success;
    return true;
}

void gc_chansend(gc_chan *c, const void *elem)
{
    (void)current_thread(); /* a blocked thread's stack must be a root */
    if (!c)
        block_forever(NULL);
    waiter_t *w = NULL;
    pthread_mutex_lock(&c->lock);
    if (try_send_locked(c, elem, &w)) {
        pthread_mutex_unlock(&c->lock);
        if (w)
            wake(w->wait);
        return;
    }
    bool success = false;
    block_on(c, &c->sendq, (void *)elem, NULL, &success);
    if (!success)
        gc_panic("send on closed channel");
}

bool gc_chansend_nb(gc_chan *c, const void *elem)
{
    if (!c)
        return false;
    /* Go's fast path: an open channel with no room and no receiver fails
     * without the lock.  (A stale read can only make this path miss.) */
    if (!__atomic_load_n(&c->closed, __ATOMIC_RELAXED) &&
        (c->dataqsiz == 0 ? __atomic_load_n(&c->recvq.first, __ATOMIC_RELAXED) == NULL
                          : gc_chanlen(c) == c->dataqsiz))
        return false;
    waiter_t *w = NULL;
    pthread_mutex_lock(&c->lock);
    bool done = try_send_locked(c, elem, &w);
    pthread_mutex_unlock(&c->lock);
    if (w)
        wake(w->wait);
    return done;
}

/* A receive waiting until the deadline (NULL: forever; a past one: not at
 * all).  False if it timed out. */
static bool recv_until(gc_chan *c, void *elem, bool *okp, const struct timespec *deadline, bool nb)
{
    bool ok = false;
    (void)current_thread();
    if (!c) {
        if (nb)
            return false;
        block_forever(deadline);
        return false;
    }
    if (nb && __atomic_load_n(&c->qcount, __ATOMIC_RELAXED) == 0 &&
        __atomic_load_n(&c->sendq.first, __ATOMIC_RELAXED) == NULL && !__atomic_load_n(&c->closed, __ATOMIC_RELAXED))
        return false;
    waiter_t *w = NULL;
    pthread_mutex_lock(&c->lock);
    if (try_recv_locked(c, elem, &ok, &w)) {
        pthread_mutex_unlock(&c->lock);
        if (w)
            wake(w->wait);
        if (okp)
            *okp = ok;
        return true;
    }
    if (nb) {
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    if (!block_on(c, &c->recvq, elem, deadline, &ok))
        return false;
    if (okp)
        *okp = ok;
    return true;
}

bool gc_chanrecv(gc_chan *c, void *elem)
{
    bool ok = false;
    recv_until(c, elem, &ok, NULL, false);
    return ok;
}

bool gc_chanrecv_nb(gc_chan *c, void *elem, bool *ok) { return recv_until(c, elem, ok, NULL, true); }

bool gc_chanrecv_timeout(gc_chan *c, void *elem, bool *ok, int64_t timeout_ns)
{
    if (timeout_ns <= 0)
        return recv_until(c, elem, ok, NULL, true);
    struct timespec deadline;
    deadline_after(&deadline, timeout_ns);
    return recv_until(c, elem, ok, &deadline, false);
}

/* ---- select ------------------------------------------------------------- */

static __thread uint64_t rand_state;

/* A thread's own xorshift generator, seeded from its stack address and the
 * clock: uniform enough for picking among ready cases. */
static uint32_t fastrand(void)
{
    uint64_t x = rand_state;
    if (!x) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = ((uint64_t)(uintptr_t)&ts * 0x9e3779b97f4a7c15ull) ^ (uint64_t)ts.tv_nsec ^ 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rand_state = x;
    return (uint32_t)(x >> 32);
}

static void sellock(gc_select_case *cases, const uint16_t *lockorder, size_t n)
{
    gc_chan *last = NULL;
    for (size_t i = 0; i < n; i++) {
        gc_chan *c = cases[lockorder[i]].chan;
        if (c != last)
            pthread_mutex_lock(&c->lock);
        last = c;
    }
}

static void selunlock(gc_select_case *cases, const uint16_t *lockorder, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        gc_chan *c = cases[lockorder[i]].chan;
        if (i == 0 || cases[lockorder[i - 1]].chan != c)
            pthread_mutex_unlock(&c->lock);
    }
}

/* The cases a select may use at once: more would not fit the stack arrays
 * (Go's limit is 65536 too). */
#define MAX_SELECT_CASES 65536
#define STACK_SELECT_CASES 16

int gc_selectgo(gc_select_case *cases, size_t n, int64_t timeout_ns)
{
    (void)current_thread();
    if (n > MAX_SELECT_CASES)
        gc_panic("select: too many cases (%zu)", n);
    for (size_t i = 0; i < n; i++)
        if (cases[i].dir != GC_SELECT_SEND && cases[i].dir != GC_SELECT_RECV)
            gc_panic("select: case %zu: direction %d is neither GC_SELECT_SEND nor GC_SELECT_RECV", i, cases[i].dir);
    uint16_t pollbuf[STACK_SELECT_CASES], lockbuf[STACK_SELECT_CASES];
    waiter_t wbuf[STACK_SELECT_CASES];
    uint16_t *pollorder = pollbuf, *lockorder = lockbuf;
    waiter_t *ws = wbuf;
    if (n > STACK_SELECT_CASES) {
        /* Collected and scanned: the waiters hold the channels, as stack
         * waiters would; the pointer on this stack keeps it alive. */
        char *mem = gc_alloc(n * (2 * sizeof(uint16_t) + sizeof(waiter_t)) + 16);
        if (!mem)
            gc_panic("runtime: out of memory: select of %zu cases", n);
        ws = (waiter_t *)mem;
        pollorder = (uint16_t *)(ws + n);
        lockorder = pollorder + n;
    }

    /* The poll order: a random permutation of the cases with a channel. */
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cases[i].chan)
            continue;
        size_t j = fastrand() % (np + 1);
        pollorder[np] = pollorder[j];
        pollorder[j] = (uint16_t)i;
        np++;
    }
    /* The lock order: by channel address (insertion sort: selects are small;
     * a large one sorts once per call, still cheap beside its locking). */
    for (size_t i = 0; i < np; i++) {
        uint16_t x = pollorder[i];
        size_t j = i;
        while (j > 0 && (uintptr_t)cases[lockorder[j - 1]].chan > (uintptr_t)cases[x].chan) {
            lockorder[j] = lockorder[j - 1];
            j--;
        }
        lockorder[j] = x;
    }

    struct timespec deadline, *dl = NULL;
    if (timeout_ns > 0) {
        deadline_after(&deadline, timeout_ns);
        dl = &deadline;
    }
    if (np == 0) { /* only nil channels: nothing can ever be ready */
        if (timeout_ns == 0)
            return -1;
        block_forever(dl);
        return -1;
    }

    sellock(cases, lockorder, np);
    /* Pass 1: the first ready case in poll order proceeds. */
    for (size_t k = 0; k < np; k++) {
        int i = pollorder[k];
        gc_select_case *cs = &cases[i];
        waiter_t *w = NULL;
        bool done;
        if (cs->dir == GC_SELECT_SEND) {
            if (cs->chan->closed) {
                selunlock(cases, lockorder, np);
                gc_panic("send on closed channel");
            }
            done = try_send_locked(cs->chan, cs->elem, &w);
        } else {
            done = try_recv_locked(cs->chan, cs->elem, &cs->ok, &w);
        }
        if (done) {
            selunlock(cases, lockorder, np);
            if (w)
                wake(w->wait);
            return i;
        }
    }
    if (timeout_ns == 0) {
        selunlock(cases, lockorder, np);
        return -1;
    }

    /* Pass 2: wait on every case, in lock order, as Go enqueues. */
    wait_t wt = {CLAIM_NONE, WAIT_SPINNING, NULL};
    for (size_t k = 0; k < np; k++) {
        int i = lockorder[k];
        gc_select_case *cs = &cases[i];
        waiter_t *w = &ws[k];
        *w = (waiter_t){.c = cs->chan, .elem = cs->elem, .wait = &wt, .caseidx = i};
        enqueue(cs->dir == GC_SELECT_SEND ? &cs->chan->sendq : &cs->chan->recvq, w);
    }
    selunlock(cases, lockorder, np);
    bool fired = sleep_on(&wt, dl);

    /* Pass 3: leave every queue the winner did not leave already. */
    sellock(cases, lockorder, np);
    for (size_t k = 0; k < np; k++) {
        waiter_t *w = &ws[k];
        if (w->linked)
            unlink_waiter(cases[w->caseidx].dir == GC_SELECT_SEND ? &w->c->sendq : &w->c->recvq, w);
    }
    selunlock(cases, lockorder, np);
    if (!fired)
        return -1;
    waiter_t *win = wt.winner;
    gc_select_case *cs = &cases[win->caseidx];
    if (cs->dir == GC_SELECT_SEND) {
        if (!win->success)
            gc_panic("send on closed channel");
    } else {
        cs->ok = win->success;
    }
    return win->caseidx;
}
