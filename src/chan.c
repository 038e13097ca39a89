/*
 * chan.c - Go's channels and select between threads (Go's chan.go and
 * select.go).
 *
 * Owns a channel: one collected object holding a lock, two queues of
 * blocked threads (senders and receivers), and for a buffered channel a ring
 * of cap slots.  The object is noscan when its elements hold no pointers
 * (nothing else in it needs scanning: the queues point into stacks).
 *
 * Two kinds of channel, as two kinds of cost:
 *   - unbuffered: a rendezvous under the lock, as in Go.  A sender finds a
 *     waiting receiver and copies its value straight into the receiver's
 *     variable (or waits to be found); a receiver likewise.
 *   - buffered: the ring is a lock-free bounded queue (Vyukov's, with the
 *     lap-stamped slots of crossbeam's array channel), so a producer and a
 *     consumer running on two CPUs exchange values without a lock.  Go gets
 *     its buffered speed by running both goroutines on one thread in turns;
 *     threads on two CPUs need the lock off the fast path instead.  Only a
 *     thread that finds the ring full (or empty) takes the lock, to queue
 *     itself and sleep; one that then makes room (or fills a slot) wakes one
 *     sleeper, which tries again.  close sets a mark bit in the ring's tail,
 *     so that a send either lands before the close or sees it.
 *
 * A blocked operation is a set of waiters (Go's sudogs), one per channel it
 * waits on, on the blocked thread's own stack, all pointing to one shared
 * wait word.  Whoever completes or wakes it - a thread on the other end,
 * close, or the waiter's own timeout - first claims the wait (a CAS), so
 * exactly one case of a select fires; a completer that loses the claim skips
 * that waiter.  Invariants:
 *   - a waiter is linked in, and unlinked from, its channel's queue only
 *     under that channel's lock;
 *   - everything a completer writes into a waiter (the value, success) is
 *     written before it sets `ready`, and it does not touch the waiter after
 *     that but to futex-wake the word: the owner may return at once;
 *   - a select locks its channels in address order, each once;
 *   - no lost wake-up on the ring: a waiter counts itself in its queue, then
 *     looks at the ring again (both seq_cst), and a thread that changes the
 *     ring (a seq_cst CAS of head or tail) looks at that count afterwards, so
 *     one of the two sees the other.
 *
 * How it meets the rest: a blocked thread sleeps in futex(2) after a short
 * spin; the collector's stop signal interrupts the sleep, and the thread
 * sleeps again.  Its stack is a root as always, so a channel a thread is
 * blocked on stays reachable, through the waiter, and so do the values in
 * transit.  A channel nobody can reach is ordinary garbage, buffer and all;
 * a received slot is zeroed so that the ring keeps nothing alive.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>

typedef struct waiter waiter_t;

/* One blocked operation: a send, a receive, or a whole select. */
typedef struct wait {
    _Atomic uint32_t claimed; /* CLAIM_NONE until a completer (or the timeout) owns the wait */
    _Atomic uint32_t ready;   /* futex word: WAIT_SPINNING, WAIT_SLEEPING, or WAIT_READY */
    waiter_t *winner;         /* the waiter through which it was completed or woken */
} wait_t;

enum { WAIT_SPINNING = 0, WAIT_SLEEPING = 2, WAIT_READY = 1 };
enum { CLAIM_NONE = 0, CLAIM_DONE = 1, CLAIM_TIMEOUT = 2 };

struct waiter {
    waiter_t *next, *prev;
    gc_chan *c;
    void *elem;      /* unbuffered: the value to send, or where the received one goes (may be NULL) */
    wait_t *wait;
    int caseidx;
    bool linked;     /* in c's queue */
    bool success;    /* unbuffered: a value passed (false: woken by close) */
    waiter_t *wnext; /* a completer's list of waiters to wake */
};

typedef struct waitq {
    waiter_t *first, *last;
    _Atomic uint32_t n; /* waiters linked: read without the lock by the ring's side */
} waitq_t;

struct gc_chan {
    /* What a hand-off touches first, together: the lock and the queues. */
    _Atomic uint32_t lock; /* chan_lock: 0 free, 1 held, 2 held with sleepers */
    bool closed;      /* unbuffered only (a ring's is its tail's mark bit); under the lock */
    waitq_t recvq, sendq;
    size_t dataqsiz; /* the buffer's size: cap */
    size_t elemsize;
    /* The ring (buffered only).  A position is lap | index (index < cap,
     * below mark_bit); slot i's stamp says which position it awaits: equal
     * to the tail's, it is free for that send; the head's plus one, it holds
     * that receive's value. */
    uint64_t mark_bit, one_lap;
    size_t slotsize;  /* stamp, then the element */
    /* head and tail on cache lines of their own (padding, not _Alignas:
     * the object is only 16-byte aligned). */
    unsigned char pad0_[64];
    _Atomic uint64_t head;
    unsigned char pad1_[56];
    _Atomic uint64_t tail;
    unsigned char pad2_[56];
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

/* The channel's lock: a futex word (Drepper's mutex), spinning briefly
 * first.  One word, so that it shares a cache line with the queues a
 * hand-off reads next. */
static void chan_lock(gc_chan *c)
{
    uint32_t v = 0;
    if (atomic_compare_exchange_strong_explicit(&c->lock, &v, 1, memory_order_acquire, memory_order_relaxed))
        return;
    for (int i = 0; i < 128; i++) {
        cpu_relax();
        v = 0;
        if (atomic_load_explicit(&c->lock, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&c->lock, &v, 1, memory_order_acquire, memory_order_relaxed))
            return;
    }
    while (atomic_exchange_explicit(&c->lock, 2, memory_order_acquire) != 0)
        tc_futex(&c->lock, FUTEX_WAIT, 2);
}

static void chan_unlock(gc_chan *c)
{
    if (atomic_exchange_explicit(&c->lock, 0, memory_order_release) == 2)
        tc_futex(&c->lock, FUTEX_WAKE, 1);
}

/* A spin of at most SPIN_NS, checked every 64 rounds.  After its first
 * eighth it yields the CPU at each check: the thread it waits for may be
 * waiting for this CPU (two threads on a busy machine). */
typedef struct spin {
    unsigned i;
    uint64_t start;
} spin_t;

static bool spin_more(spin_t *s)
{
    cpu_relax();
    if (++s->i % 64)
        return true;
    uint64_t now = nanotime();
    if (!s->start)
        s->start = now;
    if (now - s->start > SPIN_NS)
        return false;
    if (now - s->start > SPIN_NS / 8)
        sched_yield();
    return true;
}

static bool claim(wait_t *w)
{
    return atomic_load_explicit(&w->claimed, memory_order_relaxed) == CLAIM_NONE &&
           atomic_exchange(&w->claimed, CLAIM_DONE) == CLAIM_NONE;
}

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
    spin_t sp = {0, 0};
    do {
        if (atomic_load_explicit(&w->ready, memory_order_acquire) == WAIT_READY)
            return true;
    } while (spin_more(&sp));
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
static void block_until(const struct timespec *deadline)
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
    atomic_fetch_add(&q->n, 1);
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
    atomic_fetch_sub(&q->n, 1);
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

static inline waitq_t *queue_of(gc_chan *c, int dir) { return dir == GC_SELECT_SEND ? &c->sendq : &c->recvq; }

/* After changing the ring: wake one thread sleeping on its other side, if
 * any.  Not under c's lock. */
static void notify(gc_chan *c, waitq_t *q)
{
    if (atomic_load(&q->n) == 0)
        return;
    chan_lock(c);
    waiter_t *w = dequeue(q);
    chan_unlock(c);
    if (w)
        wake(w->wait);
}

/* Element copies, with the word-sized case inline (no call into libc). */
static inline void copy_elem(gc_chan *c, void *dst, const void *src)
{
    if (!dst)
        return;
    if (c->elemsize == 8)
        memcpy(dst, src, 8);
    else if (c->elemsize)
        memcpy(dst, src, c->elemsize);
}

static inline void zero_elem(gc_chan *c, void *dst)
{
    if (!dst)
        return;
    if (c->elemsize == 8)
        memset(dst, 0, 8);
    else if (c->elemsize)
        memset(dst, 0, c->elemsize);
}

/* ---- the ring ----------------------------------------------------------- */

static inline unsigned char *ring_slot(gc_chan *c, uint64_t pos)
{
    return c->buf + (pos & (c->mark_bit - 1)) * c->slotsize;
}

static inline _Atomic uint64_t *stamp_of(unsigned char *slot) { return (_Atomic uint64_t *)(void *)slot; }

/* The position after pos. */
static inline uint64_t ring_next(gc_chan *c, uint64_t pos)
{
    uint64_t index = pos & (c->mark_bit - 1);
    return index + 1 < c->dataqsiz ? pos + 1 : (pos & ~(c->one_lap - 1)) + c->one_lap;
}

enum { RING_CLOSED = -1, RING_WOULD_BLOCK = 0, RING_DONE = 1 };

static int ring_push(gc_chan *c, const void *elem)
{
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_relaxed);
    for (;;) {
        if (tail & c->mark_bit)
            return RING_CLOSED;
        unsigned char *s = ring_slot(c, tail);
        uint64_t stamp = atomic_load_explicit(stamp_of(s), memory_order_acquire);
        if (stamp == tail) {
            if (atomic_compare_exchange_weak(&c->tail, &tail, ring_next(c, tail))) {
                copy_elem(c, s + 8, elem);
                atomic_store_explicit(stamp_of(s), tail + 1, memory_order_release);
                return RING_DONE;
            }
            continue; /* tail reloaded by the failed CAS */
        }
        if (stamp + c->one_lap == tail + 1) {
            /* The slot holds last lap's value: full, unless a receive is
             * taking it right now. */
            if (atomic_load(&c->head) + c->one_lap == tail)
                return RING_WOULD_BLOCK;
        }
        cpu_relax();
        tail = atomic_load_explicit(&c->tail, memory_order_relaxed);
    }
}

static int ring_pop(gc_chan *c, void *elem)
{
    uint64_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
    for (;;) {
        unsigned char *s = ring_slot(c, head);
        uint64_t stamp = atomic_load_explicit(stamp_of(s), memory_order_acquire);
        if (stamp == head + 1) {
            if (atomic_compare_exchange_weak(&c->head, &head, ring_next(c, head))) {
                copy_elem(c, elem, s + 8);
                zero_elem(c, s + 8); /* the ring keeps nothing alive once received */
                atomic_store_explicit(stamp_of(s), head + c->one_lap, memory_order_release);
                return RING_DONE;
            }
            continue;
        }
        if (stamp == head) {
            uint64_t tail = atomic_load(&c->tail);
            if ((tail & ~c->mark_bit) == head) /* empty, unless a send is filling it right now */
                return tail & c->mark_bit ? RING_CLOSED : RING_WOULD_BLOCK;
        }
        cpu_relax();
        head = atomic_load_explicit(&c->head, memory_order_relaxed);
    }
}

/* ---- make, len, cap, close ---------------------------------------------- */

gc_chan *gc_makechan(size_t elemsize, size_t cap, int noscan)
{
    size_t slotsize = 8 + ((elemsize + 7) & ~(size_t)7), bytes;
    if (elemsize > (SIZE_MAX >> 2) || cap > (SIZE_MAX >> 4) || __builtin_mul_overflow(slotsize, cap, &bytes) ||
        bytes > (SIZE_MAX >> 2)) {
        errno = ENOMEM;
        return NULL;
    }
    gc_chan *c = alloc_from(sizeof(gc_chan) + bytes, noscan, (uintptr_t)__builtin_return_address(0));
    if (!c)
        return NULL;
    c->dataqsiz = cap;
    c->elemsize = elemsize;
    if (cap) {
        uint64_t mark = 1;
        while (mark < (uint64_t)cap + 1)
            mark <<= 1;
        c->mark_bit = mark;
        c->one_lap = mark << 1;
        c->slotsize = slotsize;
        for (size_t i = 0; i < cap; i++)
            atomic_init(stamp_of(c->buf + i * slotsize), (uint64_t)i);
    }
    return c;
}

size_t gc_chanlen(gc_chan *c)
{
    if (!c || !c->dataqsiz)
        return 0;
    for (;;) {
        uint64_t tail = atomic_load(&c->tail), head = atomic_load(&c->head);
        if (atomic_load(&c->tail) != tail)
            continue;
        uint64_t hix = head & (c->mark_bit - 1), tix = tail & (c->mark_bit - 1);
        if (hix < tix)
            return tix - hix;
        if (hix > tix)
            return c->dataqsiz - hix + tix;
        return (tail & ~c->mark_bit) == head ? 0 : c->dataqsiz;
    }
}

size_t gc_chancap(gc_chan *c) { return c ? c->dataqsiz : 0; }

static bool chan_closed(gc_chan *c)
{
    return c->dataqsiz ? (atomic_load(&c->tail) & c->mark_bit) != 0 : __atomic_load_n(&c->closed, __ATOMIC_ACQUIRE);
}

void gc_closechan(gc_chan *c)
{
    if (!c)
        gc_panic("close of nil channel");
    chan_lock(c);
    bool was = c->dataqsiz ? atomic_fetch_or(&c->tail, c->mark_bit) & c->mark_bit : c->closed;
    if (was) {
        chan_unlock(c);
        gc_panic("close of closed channel");
    }
    __atomic_store_n(&c->closed, true, __ATOMIC_RELEASE);
    waiter_t *list = NULL, *w;
    while ((w = dequeue(&c->recvq))) {
        if (!c->dataqsiz)
            zero_elem(c, w->elem);
        w->success = false;
        w->wnext = list, list = w;
    }
    while ((w = dequeue(&c->sendq))) {
        w->success = false;
        w->wnext = list, list = w;
    }
    chan_unlock(c);
    while (list) {
        w = list, list = w->wnext;
        wake(w->wait);
    }
}

/* ---- unbuffered: one case, under its channel's lock ---------------------
 * Each returns true if the case proceeded, and may hand back a waiter to
 * wake once the lock is released. */

static bool handoff_send(gc_chan *c, const void *elem, waiter_t **towake)
{
    if (c->closed) {
        chan_unlock(c);
        gc_panic("send on closed channel");
    }
    waiter_t *w = dequeue(&c->recvq);
    if (!w)
        return false;
    copy_elem(c, w->elem, elem); /* straight into the receiver's variable */
    w->success = true;
    *towake = w;
    return true;
}

static bool handoff_recv(gc_chan *c, void *elem, bool *ok, waiter_t **towake)
{
    waiter_t *w = dequeue(&c->sendq);
    if (w) {
        copy_elem(c, elem, w->elem);
        w->success = true;
        *towake = w;
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

/* Block on one unbuffered channel, whose lock the caller holds: enqueue a
 * waiter, sleep, and return whether it proceeded in time (its success in
 * *success). */
static bool handoff_block(gc_chan *c, waitq_t *q, void *elem, const struct timespec *deadline, bool *success)
{
    wait_t wt = {CLAIM_NONE, WAIT_SPINNING, NULL};
    waiter_t w = {.c = c, .elem = elem, .wait = &wt};
    enqueue(q, &w);
    chan_unlock(c);
    if (!sleep_on(&wt, deadline)) {
        chan_lock(c);
        if (w.linked)
            unlink_waiter(q, &w);
        chan_unlock(c);
        return false;
    }
    *success = w.success;
    return true;
}

/* ---- buffered: the ring, then sleep ------------------------------------- */

/* What a waiting sender (free slots) or receiver (values) has in the ring. */
static size_t ring_ready(gc_chan *c, int dir)
{
    size_t n = gc_chanlen(c);
    return dir == GC_SELECT_SEND ? c->dataqsiz - n : n;
}

#define RING_BATCH 8   /* slots: two cache lines of 8-byte elements */
#define BATCH_NS 2000

/* A ring operation that waits while the ring is full (a send) or empty (a
 * receive), until the deadline (NULL: forever).  Returns RING_DONE,
 * RING_CLOSED, or RING_WOULD_BLOCK on timeout. */
static int ring_wait(gc_chan *c, int dir, void *elem, const struct timespec *deadline)
{
    waitq_t *mine = queue_of(c, dir), *other = queue_of(c, dir == GC_SELECT_SEND ? GC_SELECT_RECV : GC_SELECT_SEND);
    for (;;) {
        int r;
        /* Spin, waiting for a batch: a sender that found the ring full
         * waits until a cache line's worth of slots is free (a receiver,
         * for as many values), for at most BATCH_NS, before it tries
         * again.  Taking each slot the moment the other side frees it
         * would keep both threads on the same cache line, which then
         * moves between their CPUs at every element. */
        spin_t sp = {0, 0};
        uint64_t batch_start = 0;
        size_t want = c->dataqsiz >= 4 * RING_BATCH ? RING_BATCH : 1;
        for (;;) {
            r = dir == GC_SELECT_SEND ? ring_push(c, elem) : ring_pop(c, elem);
            if (r == RING_DONE)
                notify(c, other);
            if (r != RING_WOULD_BLOCK)
                return r;
            bool more;
            while ((more = spin_more(&sp)) && ring_ready(c, dir) < want) {
                if (sp.i % 64 == 0 && want > 1) {
                    uint64_t now = nanotime();
                    if (!batch_start)
                        batch_start = now;
                    else if (now - batch_start > BATCH_NS)
                        want = 1;
                }
            }
            if (!more)
                break;
        }

        wait_t wt = {CLAIM_NONE, WAIT_SPINNING, NULL};
        waiter_t w = {.c = c, .wait = &wt};
        chan_lock(c);
        enqueue(mine, &w);
        r = dir == GC_SELECT_SEND ? ring_push(c, elem) : ring_pop(c, elem);
        if (r != RING_WOULD_BLOCK) {
            unlink_waiter(mine, &w);
            chan_unlock(c);
            if (r == RING_DONE)
                notify(c, other);
            return r;
        }
        chan_unlock(c);
        if (!sleep_on(&wt, deadline)) {
            chan_lock(c);
            if (w.linked)
                unlink_waiter(mine, &w);
            chan_unlock(c);
            return RING_WOULD_BLOCK;
        }
        /* Woken: the ring changed, or the channel closed.  Try again. */
    }
}

/* ---- send and receive --------------------------------------------------- */

void gc_chansend(gc_chan *c, const void *elem)
{
    (void)current_thread(); /* a blocked thread's stack must be a root */
    if (!c)
        block_until(NULL);
    if (c->dataqsiz) {
        if (ring_wait(c, GC_SELECT_SEND, (void *)elem, NULL) == RING_CLOSED)
            gc_panic("send on closed channel");
        return;
    }
    waiter_t *w = NULL;
    chan_lock(c);
    if (handoff_send(c, elem, &w)) {
        chan_unlock(c);
        wake(w->wait);
        return;
    }
    bool success = false;
    handoff_block(c, &c->sendq, (void *)elem, NULL, &success);
    if (!success)
        gc_panic("send on closed channel");
}

bool gc_chansend_nb(gc_chan *c, const void *elem)
{
    if (!c)
        return false;
    if (c->dataqsiz) {
        int r = ring_push(c, elem);
        if (r == RING_CLOSED)
            gc_panic("send on closed channel");
        if (r == RING_DONE)
            notify(c, &c->recvq);
        return r == RING_DONE;
    }
    /* Go's fast path: an open channel with no receiver fails without the
     * lock.  (A stale read can only make this path miss.) */
    if (!chan_closed(c) && atomic_load(&c->recvq.n) == 0)
        return false;
    waiter_t *w = NULL;
    chan_lock(c);
    bool done = handoff_send(c, elem, &w);
    chan_unlock(c);
    if (w)
        wake(w->wait);
    return done;
}

/* A receive waiting until the deadline (NULL: forever), or not at all (nb).
 * False if it did not proceed. */
static bool recv_until(gc_chan *c, void *elem, bool *okp, const struct timespec *deadline, bool nb)
{
    bool ok = false;
    (void)current_thread();
    if (!c) {
        if (!nb)
            block_until(deadline);
        return false;
    }
    if (c->dataqsiz) {
        int r;
        if (nb) {
            r = ring_pop(c, elem);
            if (r == RING_DONE)
                notify(c, &c->sendq);
        } else {
            r = ring_wait(c, GC_SELECT_RECV, elem, deadline);
        }
        if (r == RING_WOULD_BLOCK)
            return false;
        if (r == RING_CLOSED)
            zero_elem(c, elem);
        if (okp)
            *okp = r == RING_DONE;
        return true;
    }
    if (nb && atomic_load(&c->sendq.n) == 0 && !chan_closed(c))
        return false;
    waiter_t *w = NULL;
    chan_lock(c);
    if (handoff_recv(c, elem, &ok, &w)) {
        chan_unlock(c);
        if (w)
            wake(w->wait);
        if (okp)
            *okp = ok;
        return true;
    }
    if (nb) {
        chan_unlock(c);
        return false;
    }
    if (!handoff_block(c, &c->recvq, elem, deadline, &ok))
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

typedef struct selstate {
    gc_select_case *cases;
    uint16_t *pollorder, *lockorder;
    waiter_t *ws;
    size_t np; /* cases with a channel */
} selstate_t;

static void sellock(const selstate_t *st)
{
    gc_chan *last = NULL;
    for (size_t i = 0; i < st->np; i++) {
        gc_chan *c = st->cases[st->lockorder[i]].chan;
        if (c != last)
            chan_lock(c);
        last = c;
    }
}

static void selunlock(const selstate_t *st)
{
    for (size_t i = st->np; i-- > 0;) {
        gc_chan *c = st->cases[st->lockorder[i]].chan;
        if (i == 0 || st->cases[st->lockorder[i - 1]].chan != c)
            chan_unlock(c);
    }
}

/* Leave every queue a waiter of this select is still in (under the locks). */
static void selunlink(const selstate_t *st)
{
    for (size_t k = 0; k < st->np; k++) {
        waiter_t *w = &st->ws[k];
        if (w->linked)
            unlink_waiter(queue_of(w->c, st->cases[w->caseidx].dir), w);
    }
}

/* One case on a buffered channel, under the select's locks: RING_DONE if it
 * proceeded (a closed channel's receive included), else RING_WOULD_BLOCK.
 * The thread to notify on the other side is left for after the unlock. */
static int ring_case(const selstate_t *st, gc_select_case *cs, waitq_t **tonotify)
{
    gc_chan *c = cs->chan;
    if (cs->dir == GC_SELECT_SEND) {
        int r = ring_push(c, cs->elem);
        if (r == RING_CLOSED) {
            selunlink(st);
            selunlock(st);
            gc_panic("send on closed channel");
        }
        if (r == RING_DONE)
            *tonotify = &c->recvq;
        return r;
    }
    int r = ring_pop(c, cs->elem);
    if (r == RING_WOULD_BLOCK)
        return r;
    if (r == RING_DONE)
        *tonotify = &c->sendq;
    else
        zero_elem(c, cs->elem);
    cs->ok = r == RING_DONE;
    return RING_DONE;
}

/* The cases a select may use at once (Go's limit is 65536 too). */
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
    selstate_t st = {cases, pollbuf, lockbuf, wbuf, 0};
    if (n > STACK_SELECT_CASES) {
        /* Collected and scanned: the waiters hold the channels, as stack
         * waiters would; the pointer on this stack keeps it alive. */
        char *mem = gc_alloc(n * (2 * sizeof(uint16_t) + sizeof(waiter_t)) + 16);
        if (!mem)
            gc_panic("runtime: out of memory: select of %zu cases", n);
        st.ws = (waiter_t *)mem;
        st.pollorder = (uint16_t *)(st.ws + n);
        st.lockorder = st.pollorder + n;
    }

    /* The poll order: a random permutation of the cases with a channel. */
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cases[i].chan)
            continue;
        size_t j = fastrand() % (np + 1);
        st.pollorder[np] = st.pollorder[j];
        st.pollorder[j] = (uint16_t)i;
        np++;
    }
    st.np = np;
    /* The lock order: by channel address (insertion sort: selects are
     * small). */
    for (size_t i = 0; i < np; i++) {
        uint16_t x = st.pollorder[i];
        size_t j = i;
        while (j > 0 && (uintptr_t)cases[st.lockorder[j - 1]].chan > (uintptr_t)cases[x].chan) {
            st.lockorder[j] = st.lockorder[j - 1];
            j--;
        }
        st.lockorder[j] = x;
    }

    struct timespec deadline, *dl = NULL;
    if (timeout_ns > 0) {
        deadline_after(&deadline, timeout_ns);
        dl = &deadline;
    }
    if (np == 0) { /* only nil channels: nothing can ever be ready */
        if (timeout_ns != 0)
            block_until(dl);
        return -1;
    }

    /* A wake-up from a ring that this select then did not use (it took
     * another ready case) is passed on to the next waiter there: a thread
     * queued behind the select must not sleep through what woke it. */
    gc_chan *woke_c = NULL;
    int woke_dir = 0;
    for (;;) {
        waitq_t *tonotify = NULL;
        waiter_t *towake = NULL;
        for (size_t k = 0; k < np; k++)
            st.ws[k].linked = false;
        sellock(&st);
        /* Pass 1: the first ready case in poll order proceeds. */
        for (size_t k = 0; k < np; k++) {
            int i = st.pollorder[k];
            gc_select_case *cs = &cases[i];
            bool done;
            if (cs->chan->dataqsiz)
                done = ring_case(&st, cs, &tonotify) == RING_DONE;
            else if (cs->dir == GC_SELECT_SEND)
                done = handoff_send(cs->chan, cs->elem, &towake);
            else
                done = handoff_recv(cs->chan, cs->elem, &cs->ok, &towake);
            if (done) {
                selunlock(&st);
                if (towake)
                    wake(towake->wait);
                if (tonotify)
                    notify(cs->chan, tonotify);
                if (woke_c && (woke_c != cs->chan || woke_dir != cs->dir))
                    notify(woke_c, queue_of(woke_c, woke_dir));
                return i;
            }
        }
        if (timeout_ns == 0) {
            selunlock(&st);
            return -1;
        }

        /* Pass 2: wait on every case, in lock order, as Go enqueues; then
         * look at the rings once more (see the lost wake-up invariant). */
        wait_t wt = {CLAIM_NONE, WAIT_SPINNING, NULL};
        woke_c = NULL; /* nothing was ready: whatever woke it is used up */
        for (size_t k = 0; k < np; k++) {
            int i = st.lockorder[k];
            gc_select_case *cs = &cases[i];
            st.ws[k] = (waiter_t){.c = cs->chan, .elem = cs->elem, .wait = &wt, .caseidx = i};
            enqueue(queue_of(cs->chan, cs->dir), &st.ws[k]);
        }
        for (size_t k = 0; k < np; k++) {
            int i = st.pollorder[k];
            gc_select_case *cs = &cases[i];
            if (cs->chan->dataqsiz && ring_case(&st, cs, &tonotify) == RING_DONE) {
                selunlink(&st); /* nobody could claim wt: claimers need the locks held here */
                selunlock(&st);
                if (tonotify)
                    notify(cs->chan, tonotify);
                return i;
            }
        }
        selunlock(&st);
        bool fired = sleep_on(&wt, dl);

        /* Pass 3: leave every queue the winner did not leave already. */
        sellock(&st);
        selunlink(&st);
        selunlock(&st);
        if (!fired)
            return -1;
        waiter_t *win = wt.winner;
        gc_select_case *cs = &cases[win->caseidx];
        if (cs->chan->dataqsiz) { /* a ring changed or closed: poll again */
            woke_c = cs->chan;
            woke_dir = cs->dir;
            continue;
        }
        if (cs->dir == GC_SELECT_SEND) {
            if (!win->success)
                gc_panic("send on closed channel");
        } else {
            cs->ok = win->success;
        }
        return win->caseidx;
    }
}
