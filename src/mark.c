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
 * mark_drain(n) wakes n - 1 helper workers (the helpers are one per further
 * CPU, up to MAX_WORKERS) and drains beside them.  A worker whose buffer is
 * empty takes a full one from the shared list; a worker that sees idle peers
 * while the list is empty splits its buffer and shares half.  Termination is
 * decided under wb_lock: a worker goes idle only when its buffer and the
 * shared list are both empty, and when every worker is idle no one can make
 * new work, so the drain is done.  The helpers are the library's own threads,
 * never stopped, and touch only the heap's bits and the queue.
 *
 * Shadows: while marking runs beside the program, a written page of a big
 * pointer array (a large object, or a tracked global range) is rescanned
 * many times: a program replacing table entries at random rewrites every
 * page of its table in any round.  So the words of such an object are copied
 * into a shadow as they are scanned, and a rescan compares the page with its
 * shadow and marks only the words that changed: a few hundred nanoseconds a
 * page instead of a pointer lookup per word.  This is sound because a shadow
 * word always holds a value that was marked when it was written there (zero,
 * at first, which is no pointer): a word equal to its shadow needs nothing.
 * Shadows exist only while marking runs, up to a cap, and are unmapped after.
 *
 * While the program runs (concurrent marking, mgc.c), the drain may end with
 * work still about: an allocating thread assisting (mark_assist) holds a
 * buffer of its own and returns what it did not scan to the shared list when
 * its bounded assist ends.  That is harmless: mark termination drains again
 * with the world stopped, when no assist is in flight.
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
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WB_PAIRS 511
#define SCAN_CHUNK (128 << 10)
#define SCANNED_FLUSH (256 << 10)

typedef struct workbuf {
    struct workbuf *next;
    size_t n;
    uintptr_t e[2 * WB_PAIRS];
} workbuf_t;

typedef struct gcwork {
    workbuf_t *cur;
    uint64_t marked_bytes;
    uint64_t scanned; /* not yet added to mark_scanned */
} __attribute__((aligned(64))) gcwork_t;

#define MAX_WORKERS 8

/* Queue entries are word-aligned ranges; the low bits tag special ones. */
#define RESCAN_TAG ((uintptr_t)1) /* rescan the marked objects in a written range */
#define SHADOW_TAG ((uintptr_t)2) /* a large object: scan it recording its shadow */
#define KIND_TAG ((uintptr_t)3)   /* a client kind's object: ext_hooks.scan_object (scan_kind) */
#define TAGS ((uintptr_t)3)

_Atomic int gc_phase;
static _Atomic bool shadows_on;
static _Atomic int assists_hungry; /* threads waiting for assist work: workers share theirs */
_Atomic uint64_t mark_scanned;
static _Atomic uint64_t extra_marked; /* assists' marking */
static _Atomic uint64_t black_marked; /* allocate-black */

static pthread_mutex_t wb_lock = PTHREAD_MUTEX_INITIALIZER;
static workbuf_t *wb_full, *wb_empty;
static gcwork_t workers[MAX_WORKERS]; /* [0] is the collector's own */
#define gcw (workers[0])
static int nhelpers;             /* helper threads started */
/* A drain is planned for nplanned workers, but a helper joins it only when
 * it gets a CPU (under wb_lock, while the drain is not over): on a busy
 * machine a helper may not run for milliseconds, and the drain must not
 * wait for one that has not started.  nactive counts the joined. */
static int nplanned = 1;         /* workers this drain may have, under wb_lock */
static int nactive = 1;          /* workers in this drain, under wb_lock */
static int nidle;                /* idle workers, under wb_lock */
static _Atomic bool mark_done;
static _Atomic uint32_t mark_gen;       /* bumped to start helpers */
static _Atomic int helpers_running;
static bool helpers_started;
static _Atomic uint64_t helper_cpu_ns;  /* CPU the helpers spent marking */

uint64_t mark_take_helper_cpu(void) { return atomic_exchange(&helper_cpu_ns, 0); }

/*
 * wb_lock is taken by the collector, helpers and assisting threads while the
 * program runs.  A registered thread must not be stopped holding it (mark
 * termination drains under it with the world stopped): see section_lock.
 */
static inline gc_thread_t *wb_lock_take(void) { return section_lock(&wb_lock); }
static inline void wb_lock_give(gc_thread_t *t) { section_unlock(&wb_lock, t); }

/* Tests only (test_memlimit's mark_overflow): refuse a work buffer while
 * this many are out of the free list, as if the OS refused to map one;
 * 0: no cap. */
unsigned mark_debug_wb_cap;
_Atomic unsigned mark_overflow_passes; /* heap rescans after an overflow (overflow_rescan) */
static _Atomic int wb_out;             /* buffers taken from wb_empty less those put back, under a cap */

static workbuf_t *wb_get_empty(void)
{
    if (unlikely(mark_debug_wb_cap) && atomic_fetch_add(&wb_out, 1) >= (int)mark_debug_wb_cap) {
        atomic_fetch_sub(&wb_out, 1);
        return NULL;
    }
    gc_thread_t *t = wb_lock_take();
    workbuf_t *b = wb_empty;
    if (b)
        wb_empty = b->next;
    wb_lock_give(t);
    if (!b && !(b = persistent_alloc(sizeof(workbuf_t), SYS_GC)))
        return NULL; /* out of memory: the caller overflows (see push) */
    b->n = 0;
    b->next = NULL;
    return b;
}

static void wb_put(workbuf_t **list, workbuf_t *b)
{
    /* (Buffers out before the cap was set come back uncounted.) */
    if (unlikely(mark_debug_wb_cap) && list == &wb_empty && atomic_fetch_sub(&wb_out, 1) <= 0)
        atomic_fetch_add(&wb_out, 1);
    gc_thread_t *t = wb_lock_take();
    b->next = *list;
    *list = b;
    wb_lock_give(t);
}

static workbuf_t *wb_get_full(void)
{
    if (!__atomic_load_n(&wb_full, __ATOMIC_RELAXED))
        return NULL;
    gc_thread_t *t = wb_lock_take();
    workbuf_t *b = wb_full;
    if (b)
        wb_full = b->next;
    wb_lock_give(t);
    return b;
}

bool mark_has_work(void) { return __atomic_load_n(&wb_full, __ATOMIC_RELAXED) || gcw.cur->n; }

void mark_init(void)
{
    for (int i = 0; i < MAX_WORKERS; i++)
        if (!(workers[i].cur = wb_get_empty()))
            tc_fatal("out of memory at start-up: cannot map the mark queue");
}

/* Assists' work buffers outlive the threads that used them: a thread's goes
 * back to this list when it exits (its buffer is empty then: an assist
 * returns what it did not scan), for the next thread to assist. */
static pthread_mutex_t gcwork_lock = PTHREAD_MUTEX_INITIALIZER;
static gcwork_t *gcwork_free; /* linked through marked_bytes' slot: see below */

/* (Inside an allocator section: gcwork_lock and the metadata allocator's
 * lock are ones a thread inside a section may wait for: see section_lock.) */
static gcwork_t *new_gcwork(void)
{
    pthread_mutex_lock(&gcwork_lock);
    gcwork_t *w = gcwork_free;
    if (w)
        gcwork_free = (gcwork_t *)(uintptr_t)w->marked_bytes;
    pthread_mutex_unlock(&gcwork_lock);
    if (w) {
        w->marked_bytes = 0;
        return w;
    }
    w = persistent_alloc(sizeof(gcwork_t) + 64, SYS_GC);
    if (!w)
        return NULL;
    w = (gcwork_t *)round_up((uintptr_t)w, 64);
    w->cur = wb_get_empty();
    return w->cur ? w : NULL; /* (the block is lost: the OS is out of memory anyway) */
}

gcwork_t *mark_new_gcwork(void)
{
    gc_thread_t *t = tls_thread;
    if (t)
        enter_alloc(t);
    gcwork_t *w = new_gcwork();
    if (t)
        leave_alloc(t);
    return w;
}

/* (From a thread that is unregistered already: it is never stopped.) */
void mark_free_gcwork(gcwork_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&gcwork_lock);
    w->marked_bytes = (uint64_t)(uintptr_t)gcwork_free;
    gcwork_free = w;
    pthread_mutex_unlock(&gcwork_lock);
}

/*
 * Out of memory for the queue (the OS refused a work buffer: the program is
 * exhausting its memory, and a collection is what might save it): the entry
 * is dropped and mark_overflowed set.  Its object is marked already, so
 * nothing is lost that a pass over the heap cannot find again: when the
 * drain ends, every marked object is rescanned (overflow_rescan), until a
 * pass drops nothing.  Slow, and only ever run in that emergency.
 */
static _Atomic bool mark_overflowed;

static NOINLINE bool push_overflow(gcwork_t *w)
{
    workbuf_t *nb = wb_get_empty();
    if (!nb) {
        atomic_store(&mark_overflowed, true);
        return false;
    }
    wb_put(&wb_full, w->cur);
    w->cur = nb;
    return true;
}

static inline void push(gcwork_t *w, uintptr_t start, uintptr_t end)
{
    workbuf_t *b = w->cur;
    if (unlikely(b->n == WB_PAIRS)) {
        if (!push_overflow(w))
            return;
        b = w->cur;
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
    if (!s || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SPAN_INUSE || v >= s->limit || v < s->base)
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
    uintptr_t base = s->base + idx * s->elemsize;
    if (unlikely(s->kind)) {
        push(w, base | KIND_TAG, base + s->elemsize);
        return;
    }
    if (span_noscan(s))
        return;
    if (unlikely(span_sizeclass(s) == 0) && atomic_load_explicit(&shadows_on, memory_order_relaxed))
        base |= SHADOW_TAG;
    push(w, base, (base & ~TAGS) + s->elemsize);
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
    w->scanned += end - start;
}

void mark_range(uintptr_t start, uintptr_t end)
{
    start = round_up(start, sizeof(uintptr_t));
    end &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (start < end)
        scan_block(&gcw, start, end);
}

/* ---- shadows ----------------------------------------------------------------- */

static pthread_mutex_t shadow_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t shadow_bytes, shadow_cap; /* under shadow_lock */
static span_t **shadowed;                 /* spans given a shadow this cycle */
static size_t nshadowed, shadowed_cap;

void mark_shadows_start(uint64_t cap)
{
    shadow_cap = cap;
    shadow_bytes = 0;
    atomic_store(&shadows_on, true);
}

uintptr_t *mark_shadow_alloc(size_t bytes)
{
    gc_thread_t *t = tls_thread;
    if (t)
        enter_alloc(t);
    pthread_mutex_lock(&shadow_lock);
    void *p = NULL;
    if (atomic_load(&shadows_on) && shadow_bytes + bytes <= shadow_cap) {
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            p = NULL;
        } else {
            shadow_bytes += bytes;
            atomic_fetch_add(&sys_bytes[SYS_GC], bytes); /* mapped memory: the limit counts it */
        }
    }
    pthread_mutex_unlock(&shadow_lock);
    if (t)
        leave_alloc(t);
    return p;
}

/* Unmap in pieces: munmap holds the kernel's mmap lock for writing, and the
 * program's page faults and mappings wait for it meanwhile. */
void mark_shadow_free(uintptr_t *shadow, size_t bytes)
{
    const size_t piece = 2 << 20;
    if (!shadow)
        return;
    for (size_t off = 0; off < bytes; off += piece)
        munmap((char *)shadow + off, bytes - off < piece ? bytes - off : piece);
    atomic_fetch_sub(&sys_bytes[SYS_GC], bytes);
}

/* The shadow of large span s, made on first use; NULL past the cap. */
static uintptr_t *span_shadow(span_t *s)
{
    uintptr_t *sh = atomic_load_explicit(&s->shadow, memory_order_acquire);
    if (sh || !atomic_load_explicit(&shadows_on, memory_order_relaxed))
        return sh;
    gc_thread_t *t = tls_thread;
    if (t)
        enter_alloc(t);
    pthread_mutex_lock(&shadow_lock);
    sh = atomic_load(&s->shadow);
    if (!sh && atomic_load(&shadows_on) && shadow_bytes + s->elemsize <= shadow_cap) {
        if (nshadowed == shadowed_cap) {
            size_t cap = shadowed_cap ? shadowed_cap * 2 : 256;
            span_t **n = sys_map(cap * sizeof(*n), SYS_GC);
            if (n) {
                if (shadowed)
                    memcpy(n, shadowed, nshadowed * sizeof(*n)); /* the old array stays: metadata is never unmapped */
                shadowed = n;
                shadowed_cap = cap;
            }
        }
        if (nshadowed < shadowed_cap) {
            void *p = mmap(NULL, s->elemsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                           -1, 0);
            if (p != MAP_FAILED) {
                sh = p;
                atomic_fetch_add(&sys_bytes[SYS_GC], s->elemsize);
                shadow_bytes += s->elemsize;
                shadowed[nshadowed++] = s;
                atomic_store_explicit(&s->shadow, sh, memory_order_release);
            }
        }
    }
    pthread_mutex_unlock(&shadow_lock);
    if (t)
        leave_alloc(t);
    return sh;
}

void mark_shadows_end(void)
{
    atomic_store(&shadows_on, false);
    for (size_t i = 0; i < nshadowed; i++) {
        span_t *s = shadowed[i];
        mark_shadow_free(atomic_exchange(&s->shadow, NULL), s->elemsize);
    }
    nshadowed = 0;
    shadow_bytes = 0;
}

static void scan_shadow(gcwork_t *w, uintptr_t start, uintptr_t end, uintptr_t *q)
{
    uintptr_t lo = heap_min();
    uintptr_t range = heap_max() - lo;
    const uintptr_t *p = (const uintptr_t *)start, *e = (const uintptr_t *)end;
    for (; p < e; p++, q++) {
        uintptr_t v = *p;
        *q = v;
        if (v - lo < range)
            mark_ptr(w, v);
    }
    w->scanned += end - start;
}

static void scan_diff(gcwork_t *w, uintptr_t start, uintptr_t end, uintptr_t *q)
{
    uintptr_t lo = heap_min();
    uintptr_t range = heap_max() - lo;
    const uintptr_t *p = (const uintptr_t *)start, *e = (const uintptr_t *)end;
    for (; p < e; p++, q++) {
        uintptr_t v = *p;
        if (v == *q)
            continue;
        *q = v;
        if (v - lo < range)
            mark_ptr(w, v);
    }
    w->scanned += (end - start) / 16; /* a compare costs far less than a lookup */
}

void mark_range_shadow(uintptr_t start, uintptr_t end, uintptr_t *shadow)
{
    scan_shadow(&gcw, start, end, shadow);
}

void mark_range_diff(uintptr_t start, uintptr_t end, uintptr_t *shadow)
{
    scan_diff(&gcw, start, end, shadow);
}

/* A popped range of a large object queued with SHADOW_TAG. */
static void scan_large(gcwork_t *w, uintptr_t start, uintptr_t end)
{
    span_t *s = arena_of(start)->spans[(start >> PAGE_SHIFT) % PAGES_PER_ARENA];
    uintptr_t *sh = span_shadow(s);
    if (sh)
        scan_shadow(w, start, end, sh + (start - s->base) / sizeof(uintptr_t));
    else
        scan_block(w, start, end);
}

/*
 * Rescans of written pages travel through the queue as one entry per span's
 * part of a written run, tagged by the low bit of its start (object ranges
 * are word-aligned): compact however many objects the pages hold, and shared
 * by helpers and assists like any gray work.
 */
void mark_push_rescan(uintptr_t lo, uintptr_t hi)
{
    if (lo < hi)
        push(&gcw, lo | RESCAN_TAG, hi);
}

/*
 * Client kinds (the bdwgc layer's descriptors and mark procedures).  A
 * procedure may read memory the program changes or unmaps (Guile's VM
 * stacks), so it runs only with the world stopped (KIND_STOPPED): popped
 * while the world runs, such an object is left to the final pause, which
 * runs every marked one's procedure (kind_roots).  A descriptor's object is
 * scanned by its layout at once, and again where written (rescan_region).
 * kind_w is the work the procedure's pushes go to.
 */
static __thread gcwork_t *kind_w;

static void scan_kind(gcwork_t *w, uintptr_t base)
{
    span_t *s = span_of(base);
    if (!s || !ext_hooks.scan_object || ((s->kind & KIND_STOPPED) && !threads_world_stopped()))
        return;
    gcwork_t *saved = kind_w;
    kind_w = w;
    ext_hooks.scan_object(base, s->elemsize, s->kind);
    kind_w = saved;
}

void mark_scan_kind(uintptr_t base) { scan_kind(kind_w ? kind_w : &gcw, base); }

void mark_kind_ptr(uintptr_t v)
{
    uintptr_t lo = heap_min();
    if (v - lo < heap_max() - lo)
        mark_ptr(kind_w ? kind_w : &gcw, v);
}

void mark_kind_range(uintptr_t lo, uintptr_t hi)
{
    lo = round_up(lo, sizeof(uintptr_t));
    hi &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (lo < hi)
        scan_block(kind_w ? kind_w : &gcw, lo, hi);
}

bool mark_set_bit(uintptr_t p)
{
    span_t *s = span_of(p);
    if (!s)
        return false;
    unsigned idx = span_obj_index(s, p);
    __atomic_fetch_or(&s->mark_bits[idx / 64], (uint64_t)1 << (idx % 64), __ATOMIC_RELAXED);
    return true;
}

static void scan_except(gcwork_t *w, uintptr_t start, uintptr_t end, uintptr_t xlo, uintptr_t xhi)
{
    uintptr_t lo = heap_min();
    uintptr_t range = heap_max() - lo;
    for (const uintptr_t *p = (const uintptr_t *)start; p < (const uintptr_t *)end; p++) {
        uintptr_t v = *p;
        if (v - lo < range && (v < xlo || v >= xhi))
            mark_ptr(w, v);
    }
    w->scanned += end - start;
}

void mark_range_except(uintptr_t lo, uintptr_t hi, uintptr_t xlo, uintptr_t xhi)
{
    lo = round_up(lo, sizeof(uintptr_t));
    hi &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (lo < hi)
        scan_except(&gcw, lo, hi, xlo, xhi);
}

/*
 * An object with a finalizer is scanned by the specials' root walk whether or
 * not it is marked: what it points to must outlive it until the finalizer ran
 * (special.c).  Written after that scan, it must be rescanned like a marked
 * object, or a pointer stored into it then, while it was still reachable,
 * would be missed if it dies before the cycle ends.
 */
static NOINLINE void rescan_finalized(gcwork_t *w, span_t *s, uintptr_t lo, uintptr_t hi)
{
    unsigned first = span_obj_index(s, lo), last = span_obj_index(s, hi - 1);
    gc_thread_t *t = special_lock_take(s->base);
    for (special_t *sp = atomic_load_explicit(&s->specials, memory_order_relaxed); sp && sp->idx <= last; sp = sp->next) {
        if (sp->idx < first || sp->kind != SPECIAL_FINALIZER || sp->unordered || mark_object_marked(s, sp->idx))
            continue;
        uintptr_t a = s->base + sp->idx * s->elemsize, b = a + s->elemsize;
        if (sp->ignore_self)
            scan_except(w, a < lo ? lo : a, b > hi ? hi : b, a, b);
        else
            scan_block(w, a < lo ? lo : a, b > hi ? hi : b);
    }
    special_lock_give(s->base, t);
}

/* Scan the parts in [lo, hi) of the marked objects of the span holding lo. */
static void rescan_region(gcwork_t *w, uintptr_t lo, uintptr_t hi)
{
    span_t *s = arena_of(lo)->spans[(lo >> PAGE_SHIFT) % PAGES_PER_ARENA];
    if (unlikely(s->kind)) {
        /* A mark procedure's object: the final pause runs it again
         * (kind_roots).  A descriptor's: by its layout, not conservatively
         * (the words it leaves out keep nothing). */
        if (!(s->kind & KIND_STOPPED)) {
            unsigned first = span_obj_index(s, lo), last = span_obj_index(s, hi - 1);
            for (unsigned i = first; i <= last; i++)
                if (mark_object_marked(s, i))
                    scan_kind(w, s->base + i * s->elemsize);
        }
        return;
    }
    if (unlikely(atomic_load_explicit(&s->nfinal, memory_order_relaxed)))
        rescan_finalized(w, s, lo, hi);
    if (span_sizeclass(s) == 0) {
        uintptr_t *sh = atomic_load_explicit(&s->shadow, memory_order_acquire);
        if (sh && mark_object_marked(s, 0)) {
            scan_diff(w, lo, hi, sh + (lo - s->base) / sizeof(uintptr_t));
            return;
        }
    }
    unsigned first = span_obj_index(s, lo), last = span_obj_index(s, hi - 1);
    for (unsigned i = first; i <= last; i++) {
        if (!mark_object_marked(s, i))
            continue;
        uintptr_t a = s->base + i * s->elemsize, b = a + s->elemsize;
        scan_block(w, a < lo ? lo : a, b > hi ? hi : b);
    }
}

bool mark_object_marked(span_t *s, unsigned idx)
{
    uint64_t bit = (uint64_t)1 << (idx % 64);
    if (!(__atomic_load_n(&s->mark_bits[idx / 64], __ATOMIC_RELAXED) & bit))
        return false;
    /* A black span's cache marks a window of free slots before it hands
     * them out (span_refill_cache): a slot not yet handed out holds no
     * object.  One handed out after this read is written after it, and so
     * rescanned in a later round. */
    if (!span_slot_allocated(s, idx))
        return false;
    uint64_t *fb = atomic_load_explicit(&s->freed_bits, memory_order_relaxed);
    return !fb || !(__atomic_load_n(&fb[idx / 64], __ATOMIC_RELAXED) & bit);
}

void mark_add_black(uint64_t bytes) { atomic_fetch_add_explicit(&black_marked, bytes, memory_order_relaxed); }

/* Hand half of w's buffer to the shared list, for idle peers. */
static void share(gcwork_t *w)
{
    workbuf_t *b = w->cur;
    if (b->n < 2)
        return;
    workbuf_t *nb = wb_get_empty();
    if (!nb)
        return;
    size_t half = b->n / 2;
    const uintptr_t *from = b->e + 2 * (b->n - half);
    for (size_t i = 0; i < 2 * half; i++) /* not memcpy: see the pragma above */
        nb->e[i] = from[i];
    nb->n = half;
    b->n -= half;
    wb_put(&wb_full, nb);
}

/* Go idle: true when the drain is over, false when there is work again. */
static bool go_idle(gcwork_t *w)
{
    gc_thread_t *t = wb_lock_take();
    nidle++;
    if (nidle == nactive && !wb_full)
        atomic_store(&mark_done, true);
    wb_lock_give(t);
    for (;;) {
        if (atomic_load(&mark_done))
            return true;
        if (__atomic_load_n(&wb_full, __ATOMIC_RELAXED)) {
            t = wb_lock_take();
            workbuf_t *f = wb_full;
            if (f) {
                wb_full = f->next;
                nidle--;
                wb_lock_give(t);
                wb_put(&wb_empty, w->cur);
                w->cur = f;
                return false;
            }
            wb_lock_give(t);
        }
        sched_yield();
    }
}

/* Scan work the background workers did, which assists may claim as theirs
 * before doing any (Go's bgScanCredit): a program allocating no faster than
 * the workers mark pays nothing. */
static _Atomic int64_t bg_credit;

static inline void flush_scanned(gcwork_t *w)
{
    atomic_fetch_add_explicit(&mark_scanned, w->scanned, memory_order_relaxed);
    if (w >= workers && w < workers + MAX_WORKERS)
        atomic_fetch_add_explicit(&bg_credit, (int64_t)w->scanned, memory_order_relaxed);
    w->scanned = 0;
}

uint64_t mark_take_credit(uint64_t want)
{
    int64_t have = atomic_load_explicit(&bg_credit, memory_order_relaxed);
    while (have > 0) {
        int64_t take = have < (int64_t)want ? have : (int64_t)want;
        if (atomic_compare_exchange_weak(&bg_credit, &have, have - take))
            return (uint64_t)take;
    }
    return 0;
}

void mark_reset_credit(void) { atomic_store(&bg_credit, 0); }

/*
 * Drain the queue, or scan about `budget` bytes of it.  Popped objects pass
 * through a small FIFO before they are scanned, and are prefetched on the way
 * in: by the time an object leaves the FIFO its first cache line has usually
 * arrived.  Marking is bound by memory latency (a cache miss per object), so
 * this hides most of it.  With `parallel`, the worker is one of nactive
 * sharing the drain, and ends only when all of them run out of work.
 */
#define PREFETCH_RING 8

static uint64_t drain(gcwork_t *w, uint64_t budget, bool parallel)
{
    uintptr_t ring_s[PREFETCH_RING], ring_e[PREFETCH_RING];
    unsigned head = 0, n = 0;
    uint64_t done = 0, queued = 0; /* queued: bytes in the ring */
    /* With a budget (an assist: the length of its allocator section is a
     * stop's latency), no piece is larger than what is left of it. */
    uint64_t chunk = budget < SCAN_CHUNK ? (budget < 4096 ? 4096 : budget & ~(uint64_t)4095) : SCAN_CHUNK;
    for (;;) {
        uintptr_t start, end;
        while (n < PREFETCH_RING && done + queued < budget && pop(w, &start, &end)) {
            if (start & TAGS) {
                uintptr_t tag = start & TAGS, a = start & ~TAGS;
                if (tag == KIND_TAG) {
                    scan_kind(w, a);
                    done += end - a;
                    continue;
                }
                if (end - a > chunk) {
                    push(w, (a + chunk) | tag, end);
                    end = a + chunk;
                }
                if (tag == RESCAN_TAG)
                    rescan_region(w, a, end);
                else
                    scan_large(w, a, end);
                done += end - a;
                continue;
            }
            if (end - start > chunk) {
                push(w, start + chunk, end);
                end = start + chunk;
            }
            __builtin_prefetch((const void *)start);
            unsigned slot = (head + n) % PREFETCH_RING;
            ring_s[slot] = start;
            ring_e[slot] = end;
            queued += end - start;
            n++;
        }
        if (n == 0) {
            if (parallel && done < budget && !go_idle(w))
                continue;
            break;
        }
        start = ring_s[head];
        end = ring_e[head];
        head = (head + 1) % PREFETCH_RING;
        n--;
        queued -= end - start;
        scan_block(w, start, end);
        done += end - start;
        if (w->scanned >= SCANNED_FLUSH)
            flush_scanned(w);
        if (unlikely(__atomic_load_n(&nidle, __ATOMIC_RELAXED) > 0 || atomic_load_explicit(&assists_hungry, memory_order_relaxed)) &&
            !__atomic_load_n(&wb_full, __ATOMIC_RELAXED))
            share(w);
    }
    flush_scanned(w);
    return done;
}

static _Atomic int assists_in_flight;

void mark_push_range(uintptr_t lo, uintptr_t hi)
{
    lo = round_up(lo, sizeof(uintptr_t));
    hi &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (lo < hi)
        push(&gcw, lo, hi);
}

void mark_want_work(bool want) { atomic_fetch_add(&assists_hungry, want ? 1 : -1); }

bool mark_quiet(void) { return !atomic_load(&assists_in_flight) && !mark_has_work(); }

uint64_t mark_assist(gcwork_t *w, uint64_t budget)
{
    atomic_fetch_add(&assists_in_flight, 1);
    uint64_t done = drain(w, budget, false);
    if (w->cur->n) {
        workbuf_t *nb = wb_get_empty();
        if (nb) {
            wb_put(&wb_full, w->cur);
            w->cur = nb;
        } else { /* the entries' objects are marked: the overflow pass finds them */
            atomic_store(&mark_overflowed, true);
            w->cur->n = 0;
        }
    }
    atomic_fetch_add_explicit(&extra_marked, w->marked_bytes, memory_order_relaxed);
    w->marked_bytes = 0;
    atomic_fetch_sub(&assists_in_flight, 1);
    return done;
}

static void *mark_helper(void *arg)
{
    gcwork_t *w = arg;
    int index = (int)(w - workers);
    uint32_t seen = 0;
    limiter_watch_self();
    for (;;) {
        uint32_t g;
        while ((g = atomic_load(&mark_gen)) == seen)
            tc_futex(&mark_gen, FUTEX_WAIT, seen);
        seen = g;
        gc_thread_t *t = wb_lock_take();
        bool join = index < nplanned && !atomic_load(&mark_done);
        if (join) {
            nactive++;
            atomic_fetch_add(&helpers_running, 1);
        }
        wb_lock_give(t);
        if (!join)
            continue; /* not needed in this drain, or it is over */
        uint64_t c0 = thread_cputime();
        drain(w, UINT64_MAX, true);
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
    for (int i = 1; i < want; i++)
        if (thread_start_internal_arg(mark_helper, &workers[i], false))
            nhelpers = i;
}

int mark_max_workers(void) { return nhelpers + 1; }

void mark_fork_child(void)
{
    pthread_mutex_init(&gcwork_lock, NULL);
    helpers_started = false;
    nhelpers = 0;
    pthread_mutex_init(&wb_lock, NULL);
}

/* Rescan every marked object of the heap, draining as it goes, until a pass
 * drops no queue entry.  Spans in use now stay in use while marking runs
 * (nothing is swept), so walking the span map beside the program is safe. */
static NOINLINE void overflow_rescan(void)
{
    while (atomic_exchange(&mark_overflowed, false)) {
        atomic_fetch_add(&mark_overflow_passes, 1);
        for (heap_arena_t *a = arena_first(); a; a = a->next) {
            size_t used = __atomic_load_n(&a->zeroed_base, __ATOMIC_ACQUIRE) / PAGE_SIZE;
            for (size_t i = 0; i < used;) {
                span_t *s = a->spans[i];
                uintptr_t p = a->base + i * PAGE_SIZE;
                if (!s || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SPAN_INUSE || s->base != p) {
                    i++;
                    continue;
                }
                if (!span_noscan(s))
                    rescan_region(&gcw, s->base, s->limit);
                drain(&gcw, UINT64_MAX, false);
                i += s->npages;
            }
        }
    }
}

void mark_drain(int n)
{
    if (n > nhelpers + 1)
        n = nhelpers + 1;
    if (n < 1)
        n = 1;
    gc_thread_t *t = wb_lock_take();
    nidle = 0;
    nactive = 1;
    nplanned = n;
    atomic_store(&mark_done, false);
    wb_lock_give(t);
    if (n > 1) {
        atomic_fetch_add(&mark_gen, 1);
        tc_futex(&mark_gen, FUTEX_WAKE, INT32_MAX);
    }
    drain(&gcw, UINT64_MAX, n > 1);
    /* The drain is over (mark_done): no helper joins it now.  Wait for
     * those that did to leave it. */
    while (atomic_load(&helpers_running) > 0)
        sched_yield();
    if (unlikely(atomic_load(&mark_overflowed)))
        overflow_rescan();
}

/* Give back what mark_take_marked_bytes took (checkmark.c: the counts of the
 * concurrent mark, which its own marking must not change). */
void mark_put_marked_bytes(uint64_t marked, uint64_t black)
{
    atomic_fetch_add(&black_marked, black);
    atomic_fetch_add(&extra_marked, marked - black);
}

uint64_t mark_take_marked_bytes(uint64_t *black)
{
    *black = atomic_exchange(&black_marked, 0);
    uint64_t n = atomic_exchange(&extra_marked, 0) + *black;
    for (int i = 0; i < MAX_WORKERS; i++) {
        n += workers[i].marked_bytes;
        workers[i].marked_bytes = 0;
    }
    return n;
}

/* (gcw names the collector's worker above; here, the thread's.) */
#undef gcw

void mark_shade(gc_thread_t *t, uintptr_t lo, uintptr_t hi)
{
    if (!t->gcw && !(t->gcw = mark_new_gcwork())) {
        atomic_store(&mark_overflowed, true); /* out of memory: see push_overflow */
        return;
    }
    gcwork_t *w = t->gcw;
    atomic_fetch_add(&assists_in_flight, 1);
    lo = round_up(lo, sizeof(uintptr_t));
    hi &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (lo < hi)
        scan_block(w, lo, hi);
    if (w->cur->n) { /* gray objects: to the shared list, where the collector drains them */
        workbuf_t *nb = wb_get_empty();
        if (nb) {
            wb_put(&wb_full, w->cur);
            w->cur = nb;
        } else {
            atomic_store(&mark_overflowed, true);
            w->cur->n = 0;
        }
    }
    flush_scanned(w);
    atomic_fetch_add_explicit(&extra_marked, w->marked_bytes, memory_order_relaxed);
    w->marked_bytes = 0;
    atomic_fetch_sub(&assists_in_flight, 1);
}
