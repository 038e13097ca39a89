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
 * Typed (GC_make_descriptor) and gcj objects are scanned conservatively
 * whole: a superset of what their descriptors name.
 */
#include "layer.h"

#include <errno.h>

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

/* ---- typed and gcj allocation (conservative) ---------------------------------------- */

typedef GC_word GC_descr;

BDWGC_API GC_descr GC_make_descriptor(const GC_word *bitmap, size_t len)
{
    (void)bitmap;
    return (GC_descr)(len * sizeof(GC_word)) | GC_DS_LENGTH;
}

BDWGC_API void *GC_malloc_explicitly_typed(size_t lb, GC_descr d)
{
    (void)d;
    return GC_malloc(lb);
}

BDWGC_API void *GC_malloc_explicitly_typed_ignore_off_page(size_t lb, GC_descr d)
{
    (void)d;
    return GC_malloc(lb);
}

BDWGC_API void *GC_calloc_explicitly_typed(size_t n, size_t lb, GC_descr d)
{
    (void)d;
    if (lb && n > SIZE_MAX / lb) {
        errno = ENOMEM;
        return NULL;
    }
    return GC_malloc(n * lb);
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
