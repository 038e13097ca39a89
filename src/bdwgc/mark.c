/*
 * mark.c - bdwgc's marking interface: mark procedures of client kinds,
 * GC_mark_and_push, mark bits, typed and gcj allocation, and the walk over
 * reachable objects.
 *
 * Owns the registry of objects whose kind has a mark procedure (a table of
 * object starts, table.c, under an allocator-section lock).  The collector
 * calls back (ext_hooks, internal.h), always with the world stopped:
 *   - scan_object for a marked object of such a kind: its procedure runs
 *     with a scratch mark stack; GC_mark_and_push and GC_push_all push into
 *     the calling marker's work;
 *   - kind_roots in the first pause (every registered object's procedure,
 *     so what they hold is marked concurrently) and the final one (the
 *     marked objects', for what changed meanwhile: a procedure may read
 *     memory that no write tracking sees, such as a VM's stacks);
 *   - mark termination drops the dead ones (layer_kind_mark_done).
 * Typed objects (GC_make_descriptor) are scanned by their layout (below);
 * gcj objects conservatively whole, a superset of what theirs name.
 */
#include "layer.h"

#include <errno.h>
#include <stdlib.h>

/* ---- the registry ------------------------------------------------------------ */

static struct table kobj = {.lock = PTHREAD_MUTEX_INITIALIZER};

bool layer_kind_register(void *obj)
{
    gc_thread_t *t = section_lock(&kobj.lock);
    bool ok = table_put(&kobj, (uintptr_t)obj, 0);
    section_unlock(&kobj.lock, t);
    return ok;
}

void layer_kind_forget(void *obj)
{
    if (!kobj.live)
        return;
    gc_thread_t *t = section_lock(&kobj.lock);
    long i = table_find(&kobj, (uintptr_t)obj);
    if (i >= 0)
        table_del(&kobj, i);
    section_unlock(&kobj.lock, t);
}

static bool marked(uintptr_t p)
{
    span_t *s = span_of(p);
    return s && mark_object_marked(s, span_obj_index(s, p));
}

void layer_kind_mark_done(void)
{
    if (!kobj.live)
        return;
    pthread_mutex_lock(&kobj.lock);
    for (size_t i = 0; i < kobj.cap; i++)
        if (kobj.keys[i] > 1 && !marked(kobj.keys[i]))
            table_del(&kobj, (long)i);
    pthread_mutex_unlock(&kobj.lock);
}

static void kind_roots(bool final)
{
    if (!kobj.live)
        return;
    pthread_mutex_lock(&kobj.lock);
    for (size_t i = 0; i < kobj.cap; i++)
        if (kobj.keys[i] > 1 && (!final || marked(kobj.keys[i])))
            mark_scan_kind(kobj.keys[i]);
    pthread_mutex_unlock(&kobj.lock);
}

/* ---- running a procedure -------------------------------------------------------- */

struct GC_ms_entry {
    void *start;
    GC_word descr;
};
typedef struct GC_ms_entry *(*GC_mark_proc)(GC_word *addr, struct GC_ms_entry *msp, struct GC_ms_entry *lim,
                                            GC_word env);

#define SCRATCH 256
static __thread struct GC_ms_entry scratch[SCRATCH];

static void scan_object(uintptr_t base, size_t size, unsigned kind)
{
    kind &= ~KIND_STOPPED;
    if (kind == K_TYPED_SMALL) {
        layer_typed_small_scan(base, size);
        return;
    }
    if (kind == K_TYPED || kind == K_TYPED_ARRAY) {
        layer_scan_typed(base, size, kind == K_TYPED_ARRAY);
        return;
    }
    if (kind >= MAX_KINDS) {
        mark_kind_range(base, base + size);
        return;
    }
    GC_word d = layer_kinds[kind].descr;
    switch (d & 3) {
    case GC_DS_LENGTH: {
        /* bdwgc's normal kind is a length of 0 with the size added. */
        size_t len = (size_t)d + (layer_kinds[kind].adjust ? size : 0);
        mark_kind_range(base, base + (len < size ? len : size));
        return;
    }
    case GC_DS_BITMAP:
        /* The first word is the highest bit; the low two are the tag. */
        for (unsigned i = 0; i < 8 * sizeof(GC_word) - 2 && (i + 1) * sizeof(GC_word) <= size; i++)
            if ((d >> (8 * sizeof(GC_word) - 1 - i)) & 1)
                mark_kind_ptr(((uintptr_t *)base)[i]);
        return;
    case GC_DS_PER_OBJECT:
        mark_kind_range(base, base + size);
        return;
    default:
        break;
    }
    unsigned pi = (unsigned)(d >> 2) & ((1u << GC_LOG_MAX_MARK_PROCS) - 1);
    GC_mark_proc proc = (GC_mark_proc)layer_procs[pi];
    if (!proc) {
        mark_kind_range(base, base + size);
        return;
    }
    proc((GC_word *)base, scratch, scratch + SCRATCH, d >> (2 + GC_LOG_MAX_MARK_PROCS));
}

void layer_mark_init(void)
{
    ext_hooks.scan_object = scan_object;
    ext_hooks.kind_roots = kind_roots;
}

/* Inside a mark procedure: mark obj (any pointer into an object), and give
 * back the mark stack unchanged (the work goes to tricolor's queue). */
BDWGC_API struct GC_ms_entry *GC_mark_and_push(void *obj, struct GC_ms_entry *msp, struct GC_ms_entry *lim,
                                               void **src)
{
    (void)lim;
    (void)src;
    mark_kind_ptr((uintptr_t)obj);
    return msp;
}

BDWGC_API int GC_is_marked(const void *p) { return marked((uintptr_t)p); }

BDWGC_API void GC_set_mark_bit(const void *p) { mark_set_bit((uintptr_t)p); }

BDWGC_API void GC_clear_mark_bit(const void *p)
{
    span_t *s = span_of((uintptr_t)p);
    if (!s)
        return;
    unsigned idx = span_obj_index(s, (uintptr_t)p);
    __atomic_fetch_and(&s->mark_bits[idx / 64], ~((uint64_t)1 << (idx % 64)), __ATOMIC_RELAXED);
}

/* ---- typed objects (gc_typed.h) ------------------------------------------------------- */

/*
 * A descriptor from GC_make_descriptor: a length when every word may hold a
 * pointer; bdwgc's bitmap (first word in the highest bit) when the layout
 * fits in one; else a procedure descriptor whose environment is an index
 * into typed_layouts (bitmaps kept for the life of the process, as bdwgc's).
 * A typed object of TYPED_MIN_PRECISE bytes or more is a client kind's
 * (K_TYPED, or K_TYPED_ARRAY for GC_calloc_explicitly_typed), alone in its
 * span, with the descriptor (and an array's element size) in the span's last
 * words: scanned by its layout, at once and where written (no world-stopped
 * procedure), so a word left out (Guile's weak table slots) keeps nothing
 * alive.  A smaller one is a normal object, scanned whole: the words its
 * layout leaves out keep what they point to (next: spans per kind and size
 * class, as bdwgc's free lists).
 */
typedef GC_word GC_descr;

#define WORD_BITS (8 * sizeof(GC_word))
#define BITMAP_MAX_WORDS (WORD_BITS - 2) /* the tag takes the low two bits */

struct layout {
    size_t nwords;
    GC_word *bits; /* bit i % WORD_BITS of word i / WORD_BITS: word i may point */
};

static pthread_mutex_t layouts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct layout *typed_layouts;
static size_t nlayouts, layouts_cap;
static unsigned typed_proc = ~0u;

BDWGC_API GC_descr GC_make_descriptor(const GC_word *bitmap, size_t len)
{
    layer_init();
    size_t last = len;
    while (last > 0 && !((bitmap[(last - 1) / WORD_BITS] >> ((last - 1) % WORD_BITS)) & 1))
        last--;
    if (last == 0)
        return 0 | GC_DS_LENGTH; /* no pointers */
    bool all = true;
    for (size_t i = 0; i < last && all; i++)
        all = (bitmap[i / WORD_BITS] >> (i % WORD_BITS)) & 1;
    if (all)
        return (GC_descr)(last * sizeof(GC_word)) | GC_DS_LENGTH;
    if (last <= BITMAP_MAX_WORDS) {
        GC_descr d = GC_DS_BITMAP;
        for (size_t i = 0; i < last; i++)
            if ((bitmap[i / WORD_BITS] >> (i % WORD_BITS)) & 1)
                d |= (GC_word)1 << (WORD_BITS - 1 - i);
        return d;
    }
    size_t nw = (last + WORD_BITS - 1) / WORD_BITS;
    GC_word *bits = malloc(nw * sizeof(GC_word));
    if (!bits)
        return (GC_descr)(last * sizeof(GC_word)) | GC_DS_LENGTH; /* conservative */
    memcpy(bits, bitmap, nw * sizeof(GC_word));
    pthread_mutex_lock(&layouts_lock);
    if (nlayouts == layouts_cap) {
        size_t cap = layouts_cap ? layouts_cap * 2 : 16;
        struct layout *n = realloc(typed_layouts, cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&layouts_lock);
            free(bits);
            return (GC_descr)(last * sizeof(GC_word)) | GC_DS_LENGTH;
        }
        typed_layouts = n;
        layouts_cap = cap;
    }
    if (typed_proc == ~0u)
        typed_proc = GC_new_proc(NULL); /* a number of its own, taken on first need */
    size_t idx = nlayouts;
    typed_layouts[idx] = (struct layout){last, bits};
    /* Published with the count: a marker reads layouts below nlayouts only. */
    atomic_store_explicit((_Atomic size_t *)&nlayouts, idx + 1, memory_order_release);
    pthread_mutex_unlock(&layouts_lock);
    return ((GC_descr)idx << (2 + GC_LOG_MAX_MARK_PROCS) | typed_proc) << 2 | GC_DS_PROC;
}

/* Mark the words of [base, base + size) that descriptor d names. */
static void scan_typed(uintptr_t base, size_t size, GC_descr d)
{
    const uintptr_t *w = (const uintptr_t *)base;
    size_t nw = size / sizeof(GC_word);
    switch (d & 3) {
    case GC_DS_LENGTH:
        mark_kind_range(base, base + ((size_t)d < size ? (size_t)d : size));
        return;
    case GC_DS_BITMAP:
        for (size_t i = 0; i < BITMAP_MAX_WORDS && i < nw; i++)
            if ((d >> (WORD_BITS - 1 - i)) & 1)
                mark_kind_ptr(w[i]);
        return;
    case GC_DS_PROC: {
        size_t idx = (size_t)(d >> (2 + 2 + GC_LOG_MAX_MARK_PROCS));
        if (((d >> 2) & ((1u << GC_LOG_MAX_MARK_PROCS) - 1)) == typed_proc &&
            idx < atomic_load_explicit((_Atomic size_t *)&nlayouts, memory_order_acquire)) {
            const struct layout *l = &typed_layouts[idx];
            for (size_t i = 0; i < l->nwords && i < nw; i++)
                if ((l->bits[i / WORD_BITS] >> (i % WORD_BITS)) & 1)
                    mark_kind_ptr(w[i]);
            return;
        }
        break;
    }
    default:
        break;
    }
    mark_kind_range(base, base + size); /* anything else: conservatively */
}

/* The words after the program's: the descriptor, and an array's element size. */
static GC_word *typed_tail(uintptr_t base, size_t size) { return (GC_word *)(base + size) - 2; }

void layer_scan_typed(uintptr_t base, size_t size, bool array)
{
    GC_word *tail = typed_tail(base, size);
    GC_descr d = tail[0];
    size_t body = size - 2 * sizeof(GC_word);
    if (!array) {
        scan_typed(base, body, d);
        return;
    }
    size_t esize = tail[1];
    if (!esize)
        return;
    for (size_t off = 0; off + esize <= body; off += esize)
        scan_typed(base + off, esize, d);
}

/*
 * Typed objects this small share scanned spans (of their size class) with
 * normal ones, a span each would waste most of a page.  Such a span is
 * marked K_TYPED_SMALL, so the marker hands each of its marked objects to
 * layer_typed_small_scan, and its ext array has a byte per slot: 0 for a
 * normal object (scanned whole), else k, the object's descriptor being
 * typed_descs[k - 1].  Scanned spans, so that writes while marking runs are
 * tracked.  The arrays are pointer-free collected objects, kept by
 * typed_spans (a scanned object: static roots keep it); a dead object's
 * byte is cleared at mark termination, before its slot can be reused, and a
 * span made anew (its ext reset by the heap) drops out of typed_spans then.
 * Programs use a few descriptors: past 255 an object is scanned whole.
 */
#define TYPED_MIN_PRECISE 512
#define TYPED_DESCS 255

static pthread_mutex_t typed_lock = PTHREAD_MUTEX_INITIALIZER; /* an allocator section's */
static GC_descr typed_descs[TYPED_DESCS];
static _Atomic unsigned typed_ndescs;
struct typed_span {
    span_t *s;
    uint8_t *ext;
};
static struct typed_span *typed_spans;
static size_t typed_nspans, typed_cap;

/* k for d (1..255), or 0: scanned whole.  Under typed_lock. */
static unsigned typed_desc_index(GC_descr d)
{
    unsigned n = atomic_load_explicit(&typed_ndescs, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        if (typed_descs[i] == d)
            return i + 1;
    if (n == TYPED_DESCS)
        return 0;
    typed_descs[n] = d;
    atomic_store_explicit(&typed_ndescs, n + 1, memory_order_release);
    return n + 1;
}

/* Gives s its ext array (on first use), then slot idx the number k.  The
 * collected memory is allocated with the lock released: an allocation may
 * wait for a collection, whose mark termination takes the lock. */
static void typed_set(span_t *s, unsigned idx, GC_descr d)
{
    uint8_t *fresh = NULL;
    struct typed_span *grown = NULL;
    size_t grown_cap = 0;
    for (;;) {
        gc_thread_t *t = section_lock(&typed_lock);
        uint8_t *ext = atomic_load_explicit(&s->ext, memory_order_relaxed);
        if (!ext && fresh && typed_nspans < typed_cap) {
            typed_spans[typed_nspans++] = (struct typed_span){s, fresh};
            ext = fresh;
            atomic_store_explicit(&s->ext, ext, memory_order_release);
            s->kind = K_TYPED_SMALL; /* the span keeps it until made anew */
        }
        if (ext) {
            /* Release: a marker that sees k finds typed_descs[k - 1]. */
            __atomic_store_n(&ext[idx], (uint8_t)typed_desc_index(d), __ATOMIC_RELEASE);
            section_unlock(&typed_lock, t);
            return;
        }
        if (grown && grown_cap > typed_cap) {
            if (typed_nspans)
                memcpy(grown, typed_spans, typed_nspans * sizeof *grown);
            typed_spans = grown;
            typed_cap = grown_cap;
            grown = NULL;
        }
        bool need_fresh = !fresh, need_grown = typed_nspans == typed_cap;
        size_t cap = typed_cap ? typed_cap * 2 : 64;
        section_unlock(&typed_lock, t);
        if (need_fresh && !(fresh = gc_alloc_noscan(s->nelems)))
            return; /* no memory: the object stays a normal one, scanned whole */
        if (need_grown) {
            if (!(grown = gc_alloc(cap * sizeof *grown)))
                return;
            grown_cap = cap;
        }
    }
}

/* Guile's weak tables need this: each entry is a small typed object whose
 * descriptor leaves the weak slot out. */
static void *typed_small(size_t lb, GC_descr d)
{
    void *p = GC_malloc(lb); /* a scanned span: written pages are tracked */
    span_t *s = p ? span_of((uintptr_t)p) : NULL;
    if (s)
        typed_set(s, span_obj_index(s, (uintptr_t)p), d);
    return p;
}

/* By a marker.  Lock-free: the ext array lives while its span does, and a
 * byte read before its store is 0, a whole scan. */
void layer_typed_small_scan(uintptr_t base, size_t size)
{
    span_t *s = span_of(base);
    uint8_t *ext = s ? atomic_load_explicit(&s->ext, memory_order_acquire) : NULL;
    unsigned k = ext ? __atomic_load_n(&ext[span_obj_index(s, base)], __ATOMIC_ACQUIRE) : 0;
    if (k)
        scan_typed(base, size, typed_descs[k - 1]);
    else
        mark_kind_range(base, base + size); /* a normal object of the same span */
}

void layer_typed_forget(void *obj)
{
    span_t *s = span_of((uintptr_t)obj);
    if (!s || !atomic_load_explicit(&s->ext, memory_order_relaxed))
        return;
    gc_thread_t *t = section_lock(&typed_lock);
    uint8_t *ext = atomic_load_explicit(&s->ext, memory_order_relaxed);
    if (ext)
        ext[span_obj_index(s, (uintptr_t)obj)] = 0;
    section_unlock(&typed_lock, t);
}

/* Mark termination, world stopped. */
void layer_typed_mark_done(void)
{
    pthread_mutex_lock(&typed_lock);
    size_t n = 0;
    for (size_t i = 0; i < typed_nspans; i++) {
        struct typed_span e = typed_spans[i];
        if (atomic_load_explicit(&e.s->ext, memory_order_relaxed) != e.ext)
            continue; /* the span was made anew: its array is garbage now */
        for (unsigned j = 0; j < e.s->nelems; j++)
            if (e.ext[j] && !mark_object_marked(e.s, j))
                e.ext[j] = 0;
        typed_spans[n++] = e;
    }
    for (size_t i = n; i < typed_nspans; i++)
        typed_spans[i] = (struct typed_span){0};
    typed_nspans = n;
    pthread_mutex_unlock(&typed_lock);
}

static void *typed_alloc(size_t lb, GC_descr d, size_t esize, bool array)
{
    layer_init();
    if ((d & 3) == GC_DS_LENGTH && (size_t)d == 0)
        return GC_malloc_atomic(lb); /* no pointers */
    if (lb < TYPED_MIN_PRECISE)
        return typed_small(lb, d);
    if (lb > SIZE_MAX - 2 * sizeof(GC_word)) {
        errno = ENOMEM;
        return layer_oom(lb);
    }
    uintptr_t p = (uintptr_t)alloc_kind(lb + 2 * sizeof(GC_word), array ? K_TYPED_ARRAY : K_TYPED);
    if (!p)
        return layer_oom(lb);
    /* The descriptor goes in before any marker can find the object: it is
     * not reachable until this returns. */
    span_t *s = span_of(p);
    GC_word *tail = typed_tail(p, s->elemsize);
    tail[0] = d;
    tail[1] = esize;
    return (void *)p;
}

BDWGC_API void *GC_malloc_explicitly_typed(size_t lb, GC_descr d) { return typed_alloc(lb, d, 0, false); }

BDWGC_API void *GC_malloc_explicitly_typed_ignore_off_page(size_t lb, GC_descr d) { return typed_alloc(lb, d, 0, false); }

BDWGC_API void *GC_calloc_explicitly_typed(size_t n, size_t lb, GC_descr d)
{
    if (lb && n > SIZE_MAX / lb) {
        errno = ENOMEM;
        return layer_oom(SIZE_MAX);
    }
    return typed_alloc(n * lb, d, lb, true);
}


BDWGC_API int GC_gcj_kind = K_NORMAL;
BDWGC_API int GC_gcj_debug_kind = K_NORMAL;

BDWGC_API void GC_init_gcj_malloc(int mp_index, void *mp)
{
    (void)mp_index;
    (void)mp;
    layer_init();
}

BDWGC_API void *GC_gcj_malloc(size_t lb, void *vtable)
{
    void **o = GC_malloc(lb < sizeof(void *) ? sizeof(void *) : lb);
    if (o)
        *o = vtable;
    return o;
}

BDWGC_API void *GC_gcj_malloc_ignore_off_page(size_t lb, void *vtable) { return GC_gcj_malloc(lb, vtable); }

BDWGC_API void *GC_debug_malloc(size_t lb, const char *s, int i);
BDWGC_API void *GC_debug_gcj_malloc(size_t lb, void *vtable, const char *s, int i)
{
    void **o = GC_debug_malloc(lb < sizeof(void *) ? sizeof(void *) : lb, s, i);
    if (o)
        *o = vtable;
    return o;
}

/* ---- the reachable objects ---------------------------------------------------------- */

typedef void (*GC_reachable_object_proc)(void *obj, size_t bytes, void *cd);

/* Every allocated object, after a collection (the caller holds the
 * allocation lock, so no collection runs meanwhile). */
BDWGC_API void GC_enumerate_reachable_objects_inner(GC_reachable_object_proc proc, void *cd)
{
    uintptr_t lo = heap_min(), hi = heap_max();
    for (uintptr_t a = lo & ~(ARENA_SIZE - 1); a < hi; a += ARENA_SIZE) {
        heap_arena_t *ar = arena_of(a);
        if (!ar)
            continue;
        for (size_t pg = 0; pg < PAGES_PER_ARENA; pg++) {
            span_t *s = ar->spans[pg];
            uintptr_t page = a + pg * PAGE_SIZE;
            if (!s || s->base != page || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SPAN_INUSE)
                continue;
            uint64_t *fb = atomic_load_explicit(&s->freed_bits, memory_order_relaxed);
            for (unsigned i = 0; i < s->nelems; i++) {
                if (!span_slot_allocated(s, i) || (fb && (fb[i / 64] >> (i % 64) & 1)))
                    continue;
                proc((void *)(s->base + i * s->elemsize), s->elemsize, cd);
            }
        }
    }
}

/* ---- odds and ends ---------------------------------------------------------------- */

BDWGC_API void GC_incr_bytes_allocd(size_t n) { (void)n; }
BDWGC_API void GC_incr_bytes_freed(size_t n) { (void)n; }
BDWGC_API void GC_register_describe_type_fn(int k, void *fn)
{
    (void)k;
    (void)fn;
}
BDWGC_API void *GC_malloc_kind(size_t lb, int k) { return layer_alloc(lb, k); }

/* bdwgc's global free lists, which its inline allocation macros can use:
 * always empty here, so those macros take the slow path (a call). */
static void *no_free_lists[MAX_KINDS][1];
BDWGC_API void **GC_objfreelist_ptr = no_free_lists[0];
BDWGC_API void **GC_aobjfreelist_ptr = no_free_lists[1];
BDWGC_API void **GC_uobjfreelist_ptr = no_free_lists[2];
BDWGC_API void **GC_auobjfreelist_ptr = no_free_lists[3];

/* Disclaim procedures (gc_disclaim.h): a finalized_malloc object's closure
 * runs as its finalizer.  bdwgc's "reclaim notification" is approximated by
 * that finalizer. */
struct GC_finalizer_closure {
    void (*proc)(void *obj, void *cd);
    void *cd;
};

BDWGC_API void GC_init_finalized_malloc(void) { layer_init(); }
BDWGC_API void GC_register_disclaim_proc(int k, int (*proc)(void *), int mark_unconditionally)
{
    (void)k;
    (void)proc;
    (void)mark_unconditionally;
}

static void finalized_run(void *obj, void *cd)
{
    const struct GC_finalizer_closure *fc = cd;
    fc->proc((char *)obj + sizeof(void *), fc->cd);
}

BDWGC_API void *GC_finalized_malloc(size_t lb, const struct GC_finalizer_closure *fc)
{
    void **o = GC_malloc(lb + sizeof(void *));
    if (!o)
        return NULL;
    o[0] = (void *)fc;
    GC_register_finalizer(o, finalized_run, (void *)fc, NULL, NULL);
    return o + 1;
}

/* fork (config.c). */
void layer_mark_locks(bool take)
{
    pthread_mutex_t *const l[] = {&kobj.lock, &typed_lock, &layouts_lock};
    layer_lock_list(l, sizeof l / sizeof l[0], take);
}
