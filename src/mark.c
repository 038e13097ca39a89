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
 */
#include "internal.h"

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
    uint64_t scanned_bytes;
} gcwork_t;

static pthread_mutex_t wb_lock = PTHREAD_MUTEX_INITIALIZER;
static workbuf_t *wb_full, *wb_empty;
static gcwork_t gcw; /* the collector's own worker */

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

void mark_init(void) { gcw.cur = wb_get_empty(); }

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
    uintptr_t lo = atomic_load_explicit(&heap_lo, memory_order_relaxed);
    uintptr_t range = atomic_load_explicit(&heap_hi, memory_order_relaxed) - lo;
    const uintptr_t *p = (const uintptr_t *)start, *e = (const uintptr_t *)end;
    w->scanned_bytes += end - start;
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

/*
 * Drain the queue.  Popped objects pass through a small FIFO before they are
 * scanned, and are prefetched on the way in: by the time an object leaves the
 * FIFO its first cache line has usually arrived.  Marking is bound by memory
 * latency (a cache miss per object), so this hides most of it.
 */
#define PREFETCH_RING 8

void mark_drain(void)
{
    uintptr_t ring_s[PREFETCH_RING], ring_e[PREFETCH_RING];
    unsigned head = 0, n = 0;
    for (;;) {
        uintptr_t start, end;
        while (n < PREFETCH_RING && pop(&gcw, &start, &end)) {
            if (end - start > SCAN_CHUNK) {
                push(&gcw, start + SCAN_CHUNK, end);
                end = start + SCAN_CHUNK;
            }
            __builtin_prefetch((const void *)start);
            unsigned slot = (head + n) % PREFETCH_RING;
            ring_s[slot] = start;
            ring_e[slot] = end;
            n++;
        }
        if (n == 0)
            break;
        start = ring_s[head];
        end = ring_e[head];
        head = (head + 1) % PREFETCH_RING;
        n--;
        scan_block(&gcw, start, end);
    }
}

uint64_t mark_take_marked_bytes(void)
{
    uint64_t n = gcw.marked_bytes;
    gcw.marked_bytes = 0;
    return n;
}

uint64_t mark_take_scan_bytes(void)
{
    uint64_t n = gcw.scanned_bytes;
    gcw.scanned_bytes = 0;
    return n;
}
