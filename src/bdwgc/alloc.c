/*
 * alloc.c - bdwgc's allocation calls over tricolor's allocator.
 *
 * Owns the kinds (bdwgc's object types: pointer-free, normal, uncollectable,
 * and the program's own from GC_new_kind) and the uncollectable set.
 *
 * Kinds: pointer-free objects are gc_alloc_noscan's, normal ones gc_alloc's.
 * A client kind's object gets a span of its own (alloc_kind), which carries
 * the kind: the marker scans it by its descriptor (a length, a bitmap) or
 * its mark procedure (mark.c here); a per-object descriptor (gcj's) is
 * scanned conservatively whole, which finds at least what it would.
 *
 * Uncollectable objects are held by a hash set whose table is itself a
 * collected object reached from a global: so they are reachable (and their
 * contents roots) until GC_free takes them out.  Keys are the objects'
 * starts; 0 is empty, 1 a removed key.
 */
#include "layer.h"

#include <errno.h>
#include <stdlib.h>

/* ---- kinds ---------------------------------------------------------------- */


static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
struct layer_kind layer_kinds[MAX_KINDS];
static unsigned nkinds = K_FIRST_CLIENT;
void *layer_procs[MAX_PROCS];
static unsigned nprocs_ = 8; /* bdwgc's first client procedure is 8 */

BDWGC_API void **GC_new_free_list(void)
{
    void **fl = calloc(1, sizeof(void *) * 256);
    if (!fl)
        tc_fatal("GC_new_free_list: out of memory");
    return fl;
}

BDWGC_API void **GC_new_free_list_inner(void) { return GC_new_free_list(); }

BDWGC_API unsigned GC_new_kind(void **free_list, GC_word descr, int adjust, int clear)
{
    (void)free_list;
    pthread_mutex_lock(&kinds_lock);
    if (nkinds == K_TYPED)
        tc_fatal("GC_new_kind: more than %d kinds", K_TYPED);
    unsigned k = nkinds++;
    layer_kinds[k] = (struct layer_kind){descr, adjust, clear};
    pthread_mutex_unlock(&kinds_lock);
    return k;
}

BDWGC_API unsigned GC_new_kind_inner(void **fl, GC_word d, int a, int c) { return GC_new_kind(fl, d, a, c); }

BDWGC_API unsigned GC_new_proc(void *proc)
{
    pthread_mutex_lock(&kinds_lock);
    if (nprocs_ == MAX_PROCS)
        tc_fatal("GC_new_proc: more than %d mark procedures", MAX_PROCS);
    unsigned i = nprocs_++;
    layer_procs[i] = proc;
    pthread_mutex_unlock(&kinds_lock);
    return i;
}

BDWGC_API unsigned GC_new_proc_inner(void *proc) { return GC_new_proc(proc); }

static bool kind_noscan(int k) { return k == K_PTRFREE || k == K_AUNCOLLECTABLE; }

static bool kind_client(int k) { return k >= K_FIRST_CLIENT && (unsigned)k < nkinds && k < K_TYPED; }

static bool kind_has_proc(int k) { return kind_client(k) && (layer_kinds[k].descr & 3) == GC_DS_PROC; }

/* ---- the uncollectable set ------------------------------------------------- */

static pthread_mutex_t unc_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t *unc_table; /* a collected object: what it holds is reachable */
static size_t unc_cap, unc_used, unc_live;
static _Atomic size_t unc_count;

static size_t unc_hash(uintptr_t p, size_t cap) { return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ull) & (cap - 1); }

static bool unc_insert_locked(uintptr_t *tab, size_t cap, uintptr_t p)
{
    for (size_t i = unc_hash(p, cap);; i = (i + 1) & (cap - 1)) {
        if (tab[i] <= 1) {
            tab[i] = p;
            return true;
        }
        if (tab[i] == p)
            return false;
    }
}

/* A bigger table is allocated with unc_lock released: an allocation may wait
 * for a collection, or for a fork (which takes unc_lock after gc_lock). */
static bool unc_add(void *obj)
{
    uintptr_t *fresh = NULL;
    size_t fresh_cap = 0;
    for (;;) {
        pthread_mutex_lock(&unc_lock);
        if ((unc_used + 1) * 2 <= unc_cap)
            break;
        size_t cap = unc_cap ? (unc_live * 4 > unc_cap ? unc_cap * 2 : unc_cap) : 256;
        if (fresh && fresh_cap >= cap) {
            for (size_t i = 0; i < unc_cap; i++)
                if (unc_table[i] > 1)
                    unc_insert_locked(fresh, fresh_cap, unc_table[i]);
            unc_table = fresh;
            unc_cap = fresh_cap;
            unc_used = unc_live;
            break;
        }
        pthread_mutex_unlock(&unc_lock);
        fresh = gc_alloc(cap * sizeof(uintptr_t)); /* zeroed; a power of two */
        fresh_cap = cap;
        if (!fresh)
            return false;
    }
    if (unc_insert_locked(unc_table, unc_cap, (uintptr_t)obj)) {
        unc_used++;
        unc_live++;
        atomic_fetch_add(&unc_count, 1);
    }
    pthread_mutex_unlock(&unc_lock);
    return true;
}

static bool unc_remove(const void *obj)
{
    if (!atomic_load_explicit(&unc_count, memory_order_relaxed))
        return false;
    bool found = false;
    pthread_mutex_lock(&unc_lock);
    if (unc_cap) {
        for (size_t i = unc_hash((uintptr_t)obj, unc_cap); unc_table[i]; i = (i + 1) & (unc_cap - 1)) {
            if (unc_table[i] == (uintptr_t)obj) {
                unc_table[i] = 1;
                unc_live--;
                atomic_fetch_sub(&unc_count, 1);
                found = true;
                break;
            }
        }
    }
    pthread_mutex_unlock(&unc_lock);
    return found;
}

bool layer_is_uncollectable(const void *p)
{
    if (!atomic_load_explicit(&unc_count, memory_order_relaxed))
        return false;
    bool found = false;
    pthread_mutex_lock(&unc_lock);
    if (unc_cap)
        for (size_t i = unc_hash((uintptr_t)p, unc_cap); unc_table[i]; i = (i + 1) & (unc_cap - 1))
            if (unc_table[i] == (uintptr_t)p) {
                found = true;
                break;
            }
    pthread_mutex_unlock(&unc_lock);
    return found;
}

/* ---- allocation ------------------------------------------------------------- */

/* bdwgc gives every request at least one granule (16 bytes): GC_size
 * reports 16 for anything smaller, as programs (and gctest) expect. */
static size_t at_least_one(size_t lb) { return lb < 16 ? 16 : lb; }

void *layer_alloc(size_t lb, int kind)
{
    layer_init();
    layer_maybe_finalize();
    if (kind_client(kind)) {
        /* Its own span, which carries the kind for the marker. */
        bool proc = kind_has_proc(kind);
        void *o = alloc_kind(at_least_one(lb), (unsigned)kind | (proc ? KIND_STOPPED : 0));
        if (o && proc && !layer_kind_register(o)) {
            gc_free(o);
            return NULL;
        }
        return o;
    }
    void *p = kind_noscan(kind) ? gc_alloc_noscan(at_least_one(lb)) : gc_alloc(at_least_one(lb));
    if (!p)
        return layer_oom(lb);
    if ((kind == K_UNCOLLECTABLE || kind == K_AUNCOLLECTABLE) && !unc_add(p))
        return NULL;
    return p;
}

int layer_kind_of(const void *p)
{
    span_t *s = span_of((uintptr_t)p);
    if (!s)
        return K_NORMAL;
    if (s->kind && s->kind != K_TYPED_SMALL)
        return s->kind & ~KIND_STOPPED;
    bool unc = layer_is_uncollectable(p);
    if (span_noscan(s))
        return unc ? K_AUNCOLLECTABLE : K_PTRFREE;
    return unc ? K_UNCOLLECTABLE : K_NORMAL;
}

/* The common two straight to the allocator, with the program's call site
 * for the heap profile. */
BDWGC_API void *GC_malloc(size_t lb)
{
    layer_init();
    layer_maybe_finalize();
    void *p = alloc_from(at_least_one(lb), 0, (uintptr_t)__builtin_return_address(0));
    return __builtin_expect(p != NULL, 1) ? p : layer_oom(lb);
}

BDWGC_API void *GC_malloc_atomic(size_t lb)
{
    layer_init();
    layer_maybe_finalize();
    void *p = alloc_from(at_least_one(lb), 1, (uintptr_t)__builtin_return_address(0));
    return __builtin_expect(p != NULL, 1) ? p : layer_oom(lb);
}
BDWGC_API void *GC_malloc_uncollectable(size_t lb) { return layer_alloc(lb, K_UNCOLLECTABLE); }
BDWGC_API void *GC_malloc_atomic_uncollectable(size_t lb) { return layer_alloc(lb, K_AUNCOLLECTABLE); }
/* Interior pointers are always recognised: off-page hints change nothing. */
BDWGC_API void *GC_malloc_ignore_off_page(size_t lb) { return layer_alloc(lb, K_NORMAL); }
BDWGC_API void *GC_malloc_atomic_ignore_off_page(size_t lb) { return layer_alloc(lb, K_PTRFREE); }
BDWGC_API void *GC_generic_malloc(size_t lb, int k) { return layer_alloc(lb, k); }
BDWGC_API void *GC_generic_malloc_ignore_off_page(size_t lb, int k) { return layer_alloc(lb, k); }
BDWGC_API void *GC_generic_malloc_uncollectable(size_t lb, int k)
{
    return layer_alloc(lb, kind_noscan(k) ? K_AUNCOLLECTABLE : K_UNCOLLECTABLE);
}
BDWGC_API void *GC_generic_or_special_malloc(size_t lb, int k) { return layer_alloc(lb, k); }
BDWGC_API void *GC_malloc_kind_global(size_t lb, int k) { return layer_alloc(lb, k); }
BDWGC_API void *GC_malloc_stubborn(size_t lb) { return layer_alloc(lb, K_NORMAL); }

BDWGC_API void GC_free(void *p)
{
    if (!p)
        return;
    unc_remove(p);
    layer_free_hook(p);
    layer_kind_forget(p);
    layer_typed_forget(p);
    gc_free(p);
}

BDWGC_API void *GC_realloc(void *p, size_t lb)
{
    if (p && layer_is_uncollectable(p)) {
        if (lb == 0) {
            GC_free(p);
            return NULL;
        }
        int k = layer_kind_of(p);
        void *q = layer_alloc(lb, k);
        if (!q)
            return NULL;
        size_t old = gc_size(p);
        memcpy(q, p, old < lb ? old : lb);
        GC_free(p);
        return q;
    }
    layer_init();
    return gc_realloc(p, lb);
}

BDWGC_API char *GC_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = layer_alloc(n, K_PTRFREE);
    if (d)
        memcpy(d, s, n);
    return d;
}

BDWGC_API char *GC_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = layer_alloc(len + 1, K_PTRFREE);
    if (d) {
        memcpy(d, s, len);
        d[len] = 0;
    }
    return d;
}

/* Aligned: an object of a power-of-two size class at least `align` is
 * aligned to it up to a page; beyond, ask for room and hand out an interior
 * pointer, which keeps the object alive as any pointer into it does. */
BDWGC_API void *GC_memalign(size_t align, size_t lb)
{
    if (align <= 16)
        return GC_malloc(lb);
    if (align & (align - 1)) {
        errno = EINVAL;
        return NULL;
    }
    if (lb > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    char *p = GC_malloc(lb + align);
    if (!p)
        return NULL;
    uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    return (void *)a;
}

BDWGC_API int GC_posix_memalign(void **out, size_t align, size_t lb)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = GC_memalign(align, lb);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

/* A list of objects of lb bytes linked through their first word. */
BDWGC_API void GC_generic_malloc_many(size_t lb, int k, void **result)
{
    size_t n = lb >= 4096 ? 1 : 4096 / (lb ? lb : 1);
    if (n > 256)
        n = 256;
    void *head = NULL;
    for (size_t i = 0; i < n; i++) {
        void **o = layer_alloc(lb < sizeof(void *) ? sizeof(void *) : lb, k == K_PTRFREE ? K_NORMAL : k);
        if (!o)
            break;
        *o = head;
        head = o;
    }
    *result = head;
}

BDWGC_API void *GC_malloc_many(size_t lb)
{
    void *r;
    GC_generic_malloc_many(lb, K_NORMAL, &r);
    return r;
}

/* ---- objects ------------------------------------------------------------------ */

BDWGC_API void *GC_base(void *p) { return gc_base(p); }
BDWGC_API size_t GC_size(const void *p) { return gc_size(p); }
BDWGC_API int GC_is_heap_ptr(const void *p) { return gc_base(p) != NULL; }
BDWGC_API void *GC_same_obj(void *p, void *q)
{
    (void)q;
    return p;
}
BDWGC_API void *GC_is_visible(void *p) { return p; }
BDWGC_API void *GC_is_valid_displacement(void *p) { return p; }
BDWGC_API void *GC_pre_incr(void **p, ptrdiff_t n) { return *p = (char *)*p + n; }
BDWGC_API void *GC_post_incr(void **p, ptrdiff_t n)
{
    void *old = *p;
    *p = (char *)old + n;
    return old;
}
/* tricolor tracks writes itself: nothing to tell it. */
BDWGC_API void GC_ptr_store_and_dirty(void *p, const void *q) { *(const void **)p = q; }
BDWGC_API void GC_end_stubborn_change(const void *p) { (void)p; }
BDWGC_API void GC_change_stubborn(const void *p) { (void)p; }

BDWGC_API int GC_get_kind_and_size(const void *p, size_t *psize)
{
    if (psize)
        *psize = gc_size(p);
    return layer_kind_of(p);
}

BDWGC_API void GC_register_displacement(size_t n) { (void)n; }
BDWGC_API void GC_debug_register_displacement(size_t n) { (void)n; }

/* fork (config.c): after mark.c's, whose layouts_lock is held around
 * GC_new_proc. */
void layer_alloc_locks(bool take)
{
    if (take) {
        pthread_mutex_lock(&kinds_lock);
        pthread_mutex_lock(&unc_lock);
    } else {
        pthread_mutex_unlock(&unc_lock);
        pthread_mutex_unlock(&kinds_lock);
    }
}
