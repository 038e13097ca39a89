/*
 * mark.c - the gray work queue and the mark loop.
 *
 * The tri-color invariant: white objects are unmarked; gray objects are
 * marked and queued (their contents not yet scanned); black objects are marked
 * and scanned.  No black object may point to a white one.  Marking starts by
 * scanning the roots (which shades what they point to gray) and ends when the
 * queue is empty: then every reachable object is black and every white one is
 * garbage for the sweeper.
 *
 * The queue is explicit, never recursion: a list of a million nodes is a loop,
 * not a million frames.  It is made of work buffers of 511 (start, end) ranges,
 * Go's design: a worker fills and drains its own buffer and exchanges whole
 * buffers with a shared list, so several workers can share the gray set with
 * one lock per 511 objects.  Large objects are scanned in 128 KiB chunks, the
 * rest of the object going back on the queue, so one huge array never starves
 * other workers.
 *
 * Pointers are found conservatively: every aligned word whose value falls in
 * the heap's range is looked up (span_of's few loads) and marks the object
 * holding it, interior pointers included, if that object is allocated and not
 * freed.  Noscan objects are marked but never queued.
 *
 * Mark bits are set with an atomic OR, so several workers may race on one word.
 *
 * Parallel marking: the collector scans the roots into its own buffer, then
 * mark_drain wakes helper workers (one per further CPU, up to MAX_WORKERS) and
 * drains beside them.  A worker whose buffer is empty takes a full one from
 * the shared list; a worker that sees idle peers while the list is empty
 * splits its buffer and shares half.  Termination is decided under wb_lock:
 * a worker goes idle only when its buffer and the shared list are both empty,
 * and when every worker is idle no one can make new work, so marking is done.
 * The helpers are the library's own threads, never stopped, and touch only the
 * heap's bits and the queue.
 */
#include "internal.h"

/* Keep the mark loop's pointers out of vector registers: a (start, end) pair
 * pushed with one SSE store, or copied by memcpy (glibc's uses zmm16-31 on
 * AVX-512 machines), lingers in a vector register after the collection,
 * the kernel saves it in the signal frame when the thread is next stopped,
 * and the next collection finds it there and retains dead objects. */
#pragma GCC optimize("no-tree-slp-vectorize", "no-tree-loop-vectorize", "no-tree-loop-distribute-patterns")

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WB_PAIRS 511
#define SCAN_CHUNK (128 << 10)

typedef struct workbuf {
    struct workbuf *next;
    size_t n;
    uintptr_t e[2 * WB_PAIRS];
} workbuf_t;

typedef struct gcwork {
    workbuf_t *cur;
    uint64_t marked_bytes;
} __attribute__((aligned(64))) gcwork_t;

#define MAX_WORKERS 8

static pthread_mutex_t wb_lock = PTHREAD_MUTEX_INITIALIZER;
static workbuf_t *wb_full, *wb_empty;
static gcwork_t workers[MAX_WORKERS]; /* [0] is the collector's own */
#define gcw (workers[0])
static int nworkers = 1;         /* workers in this mark phase */
static int nidle;                /* idle workers, under wb_lock */
static _Atomic bool mark_done;
static _Atomic uint32_t mark_gen;       /* bumped to start helpers */
static _Atomic int helpers_running;
static bool helpers_started;
static _Atomic uint64_t helper_cpu_ns;  /* CPU the helpers spent marking */

uint64_t mark_take_helper_cpu(void) { return atomic_exchange(&helper_cpu_ns, 0); }

static workbuf_t *wb_get_empty(void)
{
    pthread_mutex_lock(&wb_lock);
    workbuf_t *b = wb_empty;
    if (b)
        wb_empty = b->next;
    pthread_mutex_unlock(&wb_lock);
    if (!b) {
        b = persistent_alloc(sizeof(workbuf_t), SYS_GC);
        if (!b)
            tc_fatal("out of memory for the mark queue");
    }
    b->n = 0;
    b->next = NULL;
    return b;
}

static void wb_put(workbuf_t **list, workbuf_t *b)
{
    pthread_mutex_lock(&wb_lock);
    b->next = *list;
    *list = b;
    pthread_mutex_unlock(&wb_lock);
}

static workbuf_t *wb_get_full(void)
{
    if (!__atomic_load_n(&wb_full, __ATOMIC_RELAXED))
        return NULL;
    pthread_mutex_lock(&wb_lock);
    workbuf_t *b = wb_full;
    if (b)
        wb_full = b->next;
    pthread_mutex_unlock(&wb_lock);
    return b;
}

void mark_init(void)
{
    for (int i = 0; i < MAX_WORKERS; i++)
        workers[i].cur = wb_get_empty();
}

static inline void push(gcwork_t *w, uintptr_t start, uintptr_t end)
{
    workbuf_t *b = w->cur;
    if (unlikely(b->n == WB_PAIRS)) {
        wb_put(&wb_full, b);
        b = w->cur = wb_get_empty();
    }
    b->e[2 * b->n] = start;
    b->e[2 * b->n + 1] = end;
    b->n++;
}

static inline bool pop(gcwork_t *w, uintptr_t *start, uintptr_t *end)
{
    workbuf_t *b = w->cur;
    if (unlikely(b->n == 0)) {
        workbuf_t *f = wb_get_full();
        if (!f)
            return false;
        wb_put(&wb_empty, b);
        b = w->cur = f;
    }
    b->n--;
    *start = b->e[2 * b->n];
    *end = b->e[2 * b->n + 1];
    return true;
}

/* Shade the object holding v, if any. */
static inline void mark_ptr(gcwork_t *w, uintptr_t v)
{
    heap_arena_t *a = arena_of(v);
    if (!a)
        return;
    span_t *s = a->spans[(v >> PAGE_SHIFT) % PAGES_PER_ARENA];
    if (!s || v >= s->limit || v < s->base || s->state != SPAN_INUSE)
        return;
    unsigned idx = span_obj_index(s, v);
    uint64_t bit = (uint64_t)1 << (idx % 64);
    uint64_t *mw = &s->mark_bits[idx / 64];
    if (__atomic_load_n(mw, __ATOMIC_RELAXED) & bit)
        return;
    if (!span_slot_allocated(s, idx))
        return;
    uint64_t *fb = atomic_load_explicit(&s->freed_bits, memory_order_relaxed);
    if (unlikely(fb != NULL) && (__atomic_load_n(&fb[idx / 64], __ATOMIC_RELAXED) & bit))
        return;
    if (__atomic_fetch_or(mw, bit, __ATOMIC_RELAXED) & bit)
        return;
    w->marked_bytes += s->elemsize;
    if (span_noscan(s))
        return;
    uintptr_t base = s->base + idx * s->elemsize;
    push(w, base, base + s->elemsize);
}

static void scan_block(gcwork_t *w, uintptr_t start, uintptr_t end)
{
    uintptr_t lo = heap_min();
    uintptr_t range = heap_max() - lo;
    const uintptr_t *p = (const uintptr_t *)start, *e = (const uintptr_t *)end;
    for (; p < e; p++) {
        uintptr_t v = *p;
        if (v - lo < range)
            mark_ptr(w, v);
    }
}

void mark_range(uintptr_t start, uintptr_t end)
{
    start = round_up(start, sizeof(uintptr_t));
    end &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (start < end)
        scan_block(&gcw, start, end);
}

/* Hand half of w's buffer to the shared list, for idle peers. */
static void share(gcwork_t *w)
{
    workbuf_t *b = w->cur;
    if (b->n < 2)
        return;
    workbuf_t *nb = wb_get_empty();
    size_t half = b->n / 2;
    const uintptr_t *from = b->e + 2 * (b->n - half);
    for (size_t i = 0; i < 2 * half; i++) /* not memcpy: see the pragma above */
        nb->e[i] = from[i];
    nb->n = half;
    b->n -= half;
    wb_put(&wb_full, nb);
}

/* Go idle: true when marking is over, false when there is work again. */
static bool go_idle(gcwork_t *w)
{
    pthread_mutex_lock(&wb_lock);
    nidle++;
    if (nidle == nworkers && !wb_full)
        atomic_store(&mark_done, true);
    pthread_mutex_unlock(&wb_lock);
    for (;;) {
        if (atomic_load(&mark_done))
            return true;
        if (__atomic_load_n(&wb_full, __ATOMIC_RELAXED)) {
            pthread_mutex_lock(&wb_lock);
            workbuf_t *f = wb_full;
            if (f) {
                wb_full = f->next;
                nidle--;
                pthread_mutex_unlock(&wb_lock);
                wb_put(&wb_empty, w->cur);
                w->cur = f;
                return false;
            }
            pthread_mutex_unlock(&wb_lock);
        }
        sched_yield();
    }
}

/*
 * Drain the queue.  Popped objects pass through a small FIFO before they are
 * scanned, and are prefetched on the way in: by the time an object leaves the
 * FIFO its first cache line has usually arrived.  Marking is bound by memory
 * latency (a cache miss per object), so this hides most of it.
 */
#define PREFETCH_RING 8

static void drain(gcwork_t *w)
{
    uintptr_t ring_s[PREFETCH_RING], ring_e[PREFETCH_RING];
    unsigned head = 0, n = 0;
    for (;;) {
        uintptr_t start, end;
        while (n < PREFETCH_RING && pop(w, &start, &end)) {
            if (end - start > SCAN_CHUNK) {
                push(w, start + SCAN_CHUNK, end);
                end = start + SCAN_CHUNK;
            }
            __builtin_prefetch((const void *)start);
            unsigned slot = (head + n) % PREFETCH_RING;
            ring_s[slot] = start;
            ring_e[slot] = end;
            n++;
        }
        if (n == 0) {
            if (nworkers == 1 || go_idle(w))
                break;
            continue;
        }
        start = ring_s[head];
        end = ring_e[head];
        head = (head + 1) % PREFETCH_RING;
        n--;
        scan_block(w, start, end);
        if (unlikely(__atomic_load_n(&nidle, __ATOMIC_RELAXED) > 0) && !__atomic_load_n(&wb_full, __ATOMIC_RELAXED))
            share(w);
    }
}

static long futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
    return syscall(SYS_futex, (uint32_t *)addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static void *mark_helper(void *arg)
{
    gcwork_t *w = arg;
    uint32_t seen = 0;
    for (;;) {
        uint32_t g;
        while ((g = atomic_load(&mark_gen)) == seen)
            futex(&mark_gen, FUTEX_WAIT, seen);
        seen = g;
        uint64_t c0 = thread_cputime();
        drain(w);
        atomic_fetch_add(&helper_cpu_ns, thread_cputime() - c0);
        atomic_fetch_sub(&helpers_running, 1);
    }
    return NULL;
}

/* Start the helper workers; called outside stop-the-world (pthread_create
 * may allocate). */
void mark_start_helpers(void)
{
    if (helpers_started)
        return;
    helpers_started = true;
    long np = sysconf(_SC_NPROCESSORS_ONLN);
    int want = np > MAX_WORKERS ? MAX_WORKERS : (np < 1 ? 1 : (int)np);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 1; i < want; i++) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, mark_helper, &workers[i]) == 0)
            nworkers = i + 1;
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void mark_fork_child(void)
{
    helpers_started = false;
    nworkers = 1;
    pthread_mutex_init(&wb_lock, NULL);
}

void mark_drain(void)
{
    nidle = 0;
    atomic_store(&mark_done, false);
    if (nworkers > 1) {
        atomic_store(&helpers_running, nworkers - 1);
        atomic_fetch_add(&mark_gen, 1);
        futex(&mark_gen, FUTEX_WAKE, INT32_MAX);
    }
    drain(&gcw);
    while (atomic_load(&helpers_running) > 0)
        sched_yield();
}

uint64_t mark_take_marked_bytes(void)
{
    uint64_t n = 0;
    for (int i = 0; i < MAX_WORKERS; i++) {
        n += workers[i].marked_bytes;
        workers[i].marked_bytes = 0;
    }
    return n;
}
