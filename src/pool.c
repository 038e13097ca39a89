/*
 * pool.c - pools of reusable objects (Go's sync.Pool).
 *
 * A pool keeps, for each thread, a private slot and a shared chain of rings
 * (Go's poolLocal: private + poolChain).  Threads have small indices
 * (pool_slot), reused when threads exit; a pool's per-thread records sit in
 * an array indexed by them.  put fills the private slot, else pushes on the
 * thread's own chain; get takes the private slot, else pops its own chain's
 * newest, else steals the oldest from another thread's chain, else looks in
 * the victim cache, else calls new_fn.  No path takes a lock but the first
 * put after a collection; the private slot's takes no atomic read-modify-
 * write either: only the owner touches it.
 *
 * A ring is single-producer, multi-consumer: the owner pushes and pops at
 * its head, others pop at its tail, all through one 64-bit word (head << 32 |
 * tail) changed by compare-and-swap.  A slot is free when NULL: a thief
 * clears the slot it took after moving the tail, and the owner does not push
 * into a slot not yet cleared.  When the newest ring is full the owner links
 * a new one twice as big; thieves drop drained rings from the old end.
 *
 * Everything - the pool, its arrays, its rings - is a collected object, so
 * what a pool holds is found by marking like anything else: write tracking
 * sees puts, and an object taken out is on the taker's stack.  The pool
 * itself lives while the program holds it (or it is active, below).
 *
 * Victims: at the first pause of every cycle (pool_cleanup, world stopped)
 * each pool active since the last cycle has its array moved to its victim
 * and the old victim dropped; its array starts empty.  An object put before
 * a collection thus survives it in the victim cache and is dropped at the
 * next, as in Go 1.13+.  A pool is active from its first put after a
 * cleanup until the next; the active pools are listed from a global here
 * (a root), and the previous cycle's too, to drop their victims.
 */
#include "internal.h"

#define RING_FIRST 8
#define RING_MAX (1u << 20)

typedef struct pool_ring {
    _Atomic uint64_t head_tail;     /* HT_TAG | head << 32 | tail (ht_pack); [tail, head) hold objects */
    struct pool_ring *_Atomic next; /* newer: toward the owner's end */
    struct pool_ring *_Atomic prev; /* older */
    uint32_t size;                  /* a power of two */
    void *_Atomic vals[];
} pool_ring_t;

typedef struct pool_local {
    void *private;               /* the owner's alone */
    pool_ring_t *head;           /* the newest ring: the owner's end */
    pool_ring_t *_Atomic tail;   /* the oldest ring: thieves' end */
    char pad[128 - 3 * sizeof(void *)]; /* one owner per cache line pair */
} pool_local_t;

typedef struct pool_locals {
    size_t n;
    size_t pad;
    pool_local_t l[];
} pool_locals_t;

struct gc_pool {
    void *(*new_fn)(void);
    pool_locals_t *_Atomic local;
    pool_locals_t *_Atomic victim;
    struct gc_pool *next;     /* active pools, under pools_lock */
    struct gc_pool *next_old; /* the previous cycle's, set at cleanup */
    bool active;
};

static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static gc_pool *active_pools, *old_pools; /* roots: the library's globals are scanned */

/* ---- thread slots ------------------------------------------------------------- */

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *slots_used; /* bitmap, grown by doubling (metadata) */
static size_t slots_words;

/* Inside an allocator section: persistent_alloc's lock must never be held
 * by a stopped thread (see special_new). */
static bool slot_assign(gc_thread_t *t)
{
    enter_alloc(t);
    pthread_mutex_lock(&slot_lock);
    size_t w = 0;
    while (w < slots_words && slots_used[w] == ~(uint64_t)0)
        w++;
    if (w == slots_words) {
        size_t nw = slots_words ? slots_words * 2 : 4;
        uint64_t *n = persistent_alloc(nw * sizeof(uint64_t), SYS_OTHER);
        if (!n) {
            pthread_mutex_unlock(&slot_lock);
            leave_alloc(t);
            return false;
        }
        if (slots_used)
            memcpy(n, slots_used, slots_words * sizeof(uint64_t)); /* the old bitmap stays: metadata */
        slots_used = n;
        slots_words = nw;
    }
    unsigned b = (unsigned)__builtin_ctzll(~slots_used[w]);
    slots_used[w] |= (uint64_t)1 << b;
    t->pool_slot = (uint32_t)(w * 64 + b) + 1;
    pthread_mutex_unlock(&slot_lock);
    leave_alloc(t);
    return true;
}

void pool_thread_exit(gc_thread_t *t)
{
    if (!t->pool_slot)
        return;
    unsigned i = t->pool_slot - 1;
    pthread_mutex_lock(&slot_lock);
    slots_used[i / 64] &= ~((uint64_t)1 << (i % 64));
    pthread_mutex_unlock(&slot_lock);
    t->pool_slot = 0;
}

/* ---- rings -------------------------------------------------------------------- */

/*
 * The ring is a collected object, scanned for pointers like any other, so
 * its counters must never look like one: head << 32 | tail would be an
 * address in the heap whenever head equals the heap's base >> 32 (192, at
 * 0xc000000000), and keep whatever object lies there alive - a tree, say.
 * So the counters are 31 bits each, counted modulo 2^31, and the word's top
 * bit is set: no user-space address has it.
 */
#define HT_TAG ((uint64_t)1 << 63)
#define HT_MASK 0x7fffffffu

static inline uint64_t ht_pack(uint32_t head, uint32_t tail)
{
    return HT_TAG | (uint64_t)(head & HT_MASK) << 32 | (tail & HT_MASK);
}
static inline uint32_t ht_head(uint64_t ht) { return (uint32_t)(ht >> 32) & HT_MASK; }
static inline uint32_t ht_tail(uint64_t ht) { return (uint32_t)ht & HT_MASK; }

/* Owner only. */
static inline bool ring_push(pool_ring_t *r, void *x)
{
    uint64_t ht = atomic_load_explicit(&r->head_tail, memory_order_relaxed);
    uint32_t head = ht_head(ht);
    if (((head - ht_tail(ht)) & HT_MASK) == r->size)
        return false;
    void *_Atomic *slot = &r->vals[head & (r->size - 1)];
    if (atomic_load_explicit(slot, memory_order_acquire))
        return false; /* a thief has not cleared it yet: full for now */
    atomic_store_explicit(slot, x, memory_order_relaxed);
    /* head + 1, the tail as thieves leave it: the release publishes the slot */
    while (!atomic_compare_exchange_weak_explicit(&r->head_tail, &ht, ht_pack(head + 1, ht_tail(ht)),
                                                  memory_order_release, memory_order_relaxed))
        ;
    return true;
}

/* Owner only: the newest. */
static void *ring_pop_head(pool_ring_t *r)
{
    uint64_t ht = atomic_load_explicit(&r->head_tail, memory_order_acquire);
    for (;;) {
        uint32_t head = ht_head(ht), tail = ht_tail(ht);
        if (head == tail)
            return NULL;
        head--;
        if (atomic_compare_exchange_weak_explicit(&r->head_tail, &ht, ht_pack(head, tail), memory_order_acq_rel,
                                                  memory_order_acquire)) {
            void *_Atomic *slot = &r->vals[head & (r->size - 1)];
            void *x = atomic_load_explicit(slot, memory_order_relaxed);
            atomic_store_explicit(slot, NULL, memory_order_relaxed);
            return x;
        }
    }
}

/* Anyone: the oldest. */
static void *ring_pop_tail(pool_ring_t *r)
{
    uint64_t ht = atomic_load_explicit(&r->head_tail, memory_order_acquire);
    for (;;) {
        uint32_t head = ht_head(ht), tail = ht_tail(ht);
        if (head == tail)
            return NULL;
        if (atomic_compare_exchange_weak_explicit(&r->head_tail, &ht, ht_pack(head, tail + 1), memory_order_acq_rel,
                                                  memory_order_acquire)) {
            void *_Atomic *slot = &r->vals[tail & (r->size - 1)];
            void *x = atomic_load_explicit(slot, memory_order_relaxed);
            atomic_store_explicit(slot, NULL, memory_order_release); /* the owner may push here now */
            return x;
        }
    }
}

static void *chain_pop_head(pool_local_t *l)
{
    for (pool_ring_t *r = l->head; r; r = atomic_load_explicit(&r->prev, memory_order_acquire)) {
        void *x = ring_pop_head(r);
        if (x)
            return x;
    }
    return NULL;
}

static void *chain_pop_tail(pool_local_t *l)
{
    pool_ring_t *r = atomic_load_explicit(&l->tail, memory_order_acquire);
    while (r) {
        /* next is read before the pop: if it was set then and the pop
         * fails, r is drained for good (the owner pushes only at the
         * newest ring) and may be dropped. */
        pool_ring_t *next = atomic_load_explicit(&r->next, memory_order_acquire);
        void *x = ring_pop_tail(r);
        if (x)
            return x;
        if (!next)
            return NULL;
        pool_ring_t *expect = r;
        if (atomic_compare_exchange_strong(&l->tail, &expect, next))
            atomic_store_explicit(&next->prev, NULL, memory_order_release);
        r = next;
    }
    return NULL;
}

/* ---- the slow paths --------------------------------------------------------------- */

/* p's array, big enough for slot i, p active: made if need be.  Outside
 * allocator sections (it may allocate).  NULL when out of memory. */
static pool_locals_t *pin(gc_pool *p, gc_thread_t *t, unsigned i)
{
    pool_locals_t *ls = atomic_load_explicit(&p->local, memory_order_acquire);
    if (ls && i < ls->n)
        return ls;
    size_t n = 4;
    while (n <= i || n < nthreads)
        n *= 2;
    pool_locals_t *fresh = gc_alloc(sizeof(pool_locals_t) + n * sizeof(pool_local_t));
    if (!fresh)
        return NULL;
    fresh->n = n;
    enter_alloc(t);
    pthread_mutex_lock(&pools_lock);
    ls = atomic_load_explicit(&p->local, memory_order_acquire);
    if (!ls || i >= ls->n) {
        /* A smaller array is dropped with what it holds: a pool may. */
        atomic_store_explicit(&p->local, fresh, memory_order_release);
        ls = fresh;
        if (!p->active) {
            p->active = true;
            p->next = active_pools;
            active_pools = p;
        }
    }
    pthread_mutex_unlock(&pools_lock);
    leave_alloc(t);
    return ls;
}

static NOINLINE void put_slow(gc_pool *p, void *x)
{
    gc_thread_t *t = current_thread();
    if (!t || (!t->pool_slot && !slot_assign(t)))
        return; /* dropped: a pool may */
    unsigned i = t->pool_slot - 1;
    for (int tries = 0; tries < 4; tries++) {
        pool_locals_t *ls = pin(p, t, i);
        if (!ls)
            return;
        uint32_t size = RING_FIRST;
        enter_alloc(t);
        bool same = atomic_load_explicit(&p->local, memory_order_relaxed) == ls;
        if (same) {
            pool_local_t *l = &ls->l[i];
            if (!l->private) {
                l->private = x;
                leave_alloc(t);
                return;
            }
            if (l->head && ring_push(l->head, x)) {
                leave_alloc(t);
                return;
            }
            if (l->head)
                size = l->head->size < RING_MAX ? l->head->size * 2 : RING_MAX;
        }
        leave_alloc(t);
        if (!same)
            continue; /* a collection or a bigger array came between */
        pool_ring_t *r = gc_alloc(sizeof(pool_ring_t) + size * sizeof(void *));
        if (!r)
            return;
        r->size = size;
        atomic_store_explicit(&r->head_tail, ht_pack(0, 0), memory_order_relaxed);
        enter_alloc(t);
        if (atomic_load_explicit(&p->local, memory_order_relaxed) == ls) {
            pool_local_t *l = &ls->l[i];
            ring_push(r, x);
            atomic_store_explicit(&r->prev, l->head, memory_order_relaxed);
            if (l->head)
                atomic_store_explicit(&l->head->next, r, memory_order_release);
            else
                atomic_store_explicit(&l->tail, r, memory_order_release);
            l->head = r;
            leave_alloc(t);
            return;
        }
        leave_alloc(t);
    }
}

/* Steal from the others, then the victim cache. */
static NOINLINE void *get_slow(gc_pool *p, pool_locals_t *ls, unsigned i)
{
    if (ls)
        for (size_t k = 1; k < ls->n; k++) {
            void *x = chain_pop_tail(&ls->l[(i + k) % ls->n]);
            if (x)
                return x;
        }
    pool_locals_t *vs = atomic_load_explicit(&p->victim, memory_order_acquire);
    if (!vs)
        return NULL;
    if (i < vs->n && vs->l[i].private) {
        void *x = vs->l[i].private;
        vs->l[i].private = NULL;
        return x;
    }
    for (size_t k = 0; k < vs->n; k++) {
        void *x = chain_pop_tail(&vs->l[(i + k) % vs->n]);
        if (x)
            return x;
    }
    /* Empty (but for other threads' private slots): not worth looking again. */
    atomic_compare_exchange_strong(&p->victim, &vs, NULL);
    return NULL;
}

/* ---- the API -------------------------------------------------------------------------- */

gc_pool *gc_pool_new(void *(*new_fn)(void))
{
    gc_pool *p = gc_alloc(sizeof *p);
    if (p)
        p->new_fn = new_fn;
    return p;
}

/*
 * The fast paths run outside allocator sections: a collection may start in
 * the middle of one.  That is harmless: the cleanup only moves the array to
 * the victim slot, so an operation under way finishes on the victim array
 * (an object put there survives one cycle less; one taken from it is the
 * owner's as before), and the array lives while the thread's registers hold
 * it, even past the cycle that drops it.
 */
void gc_pool_put(gc_pool *p, void *x)
{
    if (!p || !x)
        return;
    gc_thread_t *t = tls_thread;
    if (likely(t && t->pool_slot)) {
        pool_locals_t *ls = atomic_load_explicit(&p->local, memory_order_acquire);
        unsigned i = t->pool_slot - 1;
        if (likely(ls && i < ls->n)) {
            pool_local_t *l = &ls->l[i];
            if (!l->private) {
                l->private = x;
                return;
            }
            if (l->head && ring_push(l->head, x))
                return;
        }
    }
    put_slow(p, x);
}

void *gc_pool_get(gc_pool *p)
{
    if (!p)
        return NULL;
    gc_thread_t *t = tls_thread;
    if (unlikely(!t || !t->pool_slot)) {
        t = current_thread();
        if (!t || (!t->pool_slot && !slot_assign(t)))
            return p->new_fn ? p->new_fn() : NULL;
    }
    pool_locals_t *ls = atomic_load_explicit(&p->local, memory_order_acquire);
    unsigned i = t->pool_slot - 1;
    void *x = NULL;
    if (likely(ls && i < ls->n)) {
        pool_local_t *l = &ls->l[i];
        x = l->private;
        if (x) {
            l->private = NULL;
            return x;
        }
        x = chain_pop_head(l);
    }
    if (!x)
        x = get_slow(p, ls, i);
    if (x)
        return x;
    return p->new_fn ? p->new_fn() : NULL;
}

/* World stopped, before marking: Go's poolCleanup. */
void pool_cleanup(void)
{
    for (gc_pool *p = old_pools; p; p = p->next_old)
        atomic_store_explicit(&p->victim, NULL, memory_order_relaxed);
    for (gc_pool *p = active_pools; p; p = p->next) {
        atomic_store_explicit(&p->victim, atomic_load_explicit(&p->local, memory_order_relaxed), memory_order_relaxed);
        atomic_store_explicit(&p->local, NULL, memory_order_relaxed);
        p->active = false;
        p->next_old = p->next;
    }
    old_pools = active_pools;
    active_pools = NULL;
}

void pool_lock_all(void)
{
    pthread_mutex_lock(&pools_lock);
    pthread_mutex_lock(&slot_lock);
}

void pool_unlock_all(void)
{
    pthread_mutex_unlock(&slot_lock);
    pthread_mutex_unlock(&pools_lock);
}
