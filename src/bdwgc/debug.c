/*
 * debug.c - bdwgc's GC_debug_* allocators: a header with the caller's file
 * and line, a check pattern after the bytes asked for, and find-leak mode.
 *
 * Owns the registry of debug objects (a table of object starts, table.c,
 * under an allocator-section lock).
 * At mark termination (layer_debug_mark_done, world stopped) every live
 * debug object's pattern is checked and dead ones leave the registry; in
 * find-leak mode a dead one is a leak.  What is found is printed later,
 * outside the pause (stdio's lock may be held by a stopped thread): at the
 * end of GC_gcollect and on the next debug allocation.
 */
#include "layer.h"

#include <stdio.h>
#include <stdlib.h>

#define DBG_MAGIC 0xFEEDC0DEu
#define DBG_HDR 32 /* GC_get_debug_header_size() */
#define DBG_TAIL 8

struct dbg_hdr {
    const char *file;
    int line;
    uint32_t magic;
    size_t size; /* the bytes asked for */
    uintptr_t pad;
};
_Static_assert(sizeof(struct dbg_hdr) == DBG_HDR, "debug header");

static const unsigned char tail_pattern[DBG_TAIL] = {0xde, 0xad, 0xbe, 0xef, 0x5a, 0xa5, 0x0f, 0xf0};

struct found {
    uintptr_t obj, at;
    const char *file;
    int line;
    size_t size;
};

#define MAX_FOUND 64
static struct table reg = {.lock = PTHREAD_MUTEX_INITIALIZER};
static struct found smashed[MAX_FOUND], leaked[MAX_FOUND];
static int nsmashed, nleaked, nleaked_total;

static bool reg_add(uintptr_t obj)
{
    gc_thread_t *t = section_lock(&reg.lock);
    bool ok = table_put(&reg, obj, 0);
    section_unlock(&reg.lock, t);
    return ok;
}

static void reg_remove(uintptr_t obj)
{
    gc_thread_t *t = section_lock(&reg.lock);
    long i = table_find(&reg, obj);
    if (i >= 0)
        table_del(&reg, i);
    section_unlock(&reg.lock, t);
}

/* The pattern starts at the first word boundary after the bytes asked for,
 * as bdwgc's end word: a program may read whole words of its object. */
static size_t tail_at(size_t lb) { return (lb + 7) & ~(size_t)7; }

static bool tail_ok(const struct dbg_hdr *h) { return !memcmp((const char *)(h + 1) + tail_at(h->size), tail_pattern, DBG_TAIL); }

static void note(struct found *f, int *n, uintptr_t obj, uintptr_t at, const struct dbg_hdr *h)
{
    if (*n < MAX_FOUND)
        f[(*n)++] = (struct found){obj, at, h->file, h->line, h->size};
}

void layer_debug_mark_done(void)
{
    if (!reg.live)
        return;
    pthread_mutex_lock(&reg.lock);
    for (size_t i = 0; i < reg.cap; i++) {
        uintptr_t obj = reg.keys[i];
        if (obj <= 1)
            continue;
        span_t *s = span_of(obj);
        const struct dbg_hdr *h = (const struct dbg_hdr *)obj;
        if (!s || !mark_object_marked(s, span_obj_index(s, obj))) {
            if (GC_find_leak) {
                nleaked_total++;
                note(leaked, &nleaked, obj + DBG_HDR, 0, h);
            }
            table_del(&reg, (long)i);
            continue;
        }
        if (h->magic != DBG_MAGIC || !tail_ok(h)) {
            note(smashed, &nsmashed, obj + DBG_HDR, obj + DBG_HDR + (h->magic == DBG_MAGIC ? tail_at(h->size) : 0), h);
            table_del(&reg, (long)i); /* reported once */
        }
    }
    pthread_mutex_unlock(&reg.lock);
}

/* Print what the last collections found (outside any pause).  The lock as an
 * allocator section: a thread stopped while holding it would leave the next
 * mark termination (layer_debug_mark_done) waiting for it for good. */
void layer_debug_report(void)
{
    if (!nsmashed && !nleaked)
        return;
    gc_thread_t *t = section_lock(&reg.lock);
    struct found s[MAX_FOUND], l[MAX_FOUND];
    int ns = nsmashed, nl = nleaked, total = nleaked_total;
    memcpy(s, smashed, sizeof(struct found) * (size_t)ns);
    memcpy(l, leaked, sizeof(struct found) * (size_t)nl);
    nsmashed = nleaked = nleaked_total = 0;
    section_unlock(&reg.lock, t);
    if (ns) {
        fprintf(stderr, "GC_check_heap_block: found %d smashed heap objects:\n", ns);
        for (int i = 0; i < ns; i++)
            fprintf(stderr, "%p in or near object at %p (%s:%d, sz= %zu)\n", (void *)s[i].at, (void *)s[i].obj,
                    s[i].file ? s[i].file : "?", s[i].line, s[i].size);
    }
    if (nl) {
        fprintf(stderr, "Found %d leaked objects:\n", total);
        for (int i = 0; i < nl; i++)
            fprintf(stderr, "%p (%s:%d, sz= %zu, NORMAL)\n", (void *)l[i].obj, l[i].file ? l[i].file : "?", l[i].line,
                    l[i].size);
    }
    if (layer_abort_on_leak) {
        fprintf(stderr, "tricolor (libgc): GC_ABORT_ON_LEAK is set: aborting\n");
        abort();
    }
}

static void *debug_alloc(size_t lb, int kind, const char *file, int line)
{
    layer_debug_report();
    if (lb > SIZE_MAX - DBG_HDR - DBG_TAIL - 8)
        return NULL;
    char *b = layer_alloc(DBG_HDR + tail_at(lb) + DBG_TAIL, kind);
    if (!b)
        return NULL;
    struct dbg_hdr *h = (struct dbg_hdr *)b;
    h->file = file;
    h->line = line;
    h->magic = DBG_MAGIC;
    h->size = lb;
    memcpy(b + DBG_HDR + tail_at(lb), tail_pattern, DBG_TAIL);
    reg_add((uintptr_t)b);
    return b + DBG_HDR;
}

/* The header of a debug object, or NULL (with a message) if p is not one. */
static struct dbg_hdr *header_of(void *p, const char *who)
{
    char *b = gc_base(p);
    if (!b || (char *)p != b + DBG_HDR || ((struct dbg_hdr *)b)->magic != DBG_MAGIC) {
        fprintf(stderr, "%s called with %p: not the start of an object from a GC_debug_ allocator\n", who, p);
        return NULL;
    }
    return (struct dbg_hdr *)b;
}

BDWGC_API void *GC_debug_malloc(size_t lb, const char *s, int i) { return debug_alloc(lb, K_NORMAL, s, i); }
BDWGC_API void *GC_debug_malloc_atomic(size_t lb, const char *s, int i) { return debug_alloc(lb, K_PTRFREE, s, i); }
BDWGC_API void *GC_debug_malloc_uncollectable(size_t lb, const char *s, int i)
{
    return debug_alloc(lb, K_UNCOLLECTABLE, s, i);
}
BDWGC_API void *GC_debug_malloc_atomic_uncollectable(size_t lb, const char *s, int i)
{
    return debug_alloc(lb, K_AUNCOLLECTABLE, s, i);
}
BDWGC_API void *GC_debug_malloc_ignore_off_page(size_t lb, const char *s, int i) { return debug_alloc(lb, K_NORMAL, s, i); }
BDWGC_API void *GC_debug_malloc_atomic_ignore_off_page(size_t lb, const char *s, int i)
{
    return debug_alloc(lb, K_PTRFREE, s, i);
}
BDWGC_API void *GC_debug_malloc_stubborn(size_t lb, const char *s, int i) { return debug_alloc(lb, K_NORMAL, s, i); }
BDWGC_API void *GC_debug_generic_malloc(size_t lb, int k, const char *s, int i) { return debug_alloc(lb, k, s, i); }
BDWGC_API void *GC_debug_generic_or_special_malloc(size_t lb, int k, const char *s, int i)
{
    return debug_alloc(lb, k, s, i);
}
BDWGC_API void *GC_debug_malloc_replacement(size_t lb) { return debug_alloc(lb, K_NORMAL, "(malloc)", 0); }

BDWGC_API void GC_debug_free(void *p)
{
    if (!p)
        return;
    struct dbg_hdr *h = header_of(p, "GC_debug_free");
    if (!h)
        return;
    if (!tail_ok(h))
        fprintf(stderr, "GC_debug_free: object at %p (%s:%d, sz= %zu) was written past its end\n", p,
                h->file ? h->file : "?", h->line, h->size);
    reg_remove((uintptr_t)h);
    h->magic = 0;
    GC_free(h);
}

BDWGC_API void *GC_debug_realloc(void *p, size_t lb, const char *s, int i)
{
    if (!p)
        return GC_debug_malloc(lb, s, i);
    if (lb == 0) {
        GC_debug_free(p);
        return NULL;
    }
    struct dbg_hdr *h = header_of(p, "GC_debug_realloc");
    if (!h)
        return NULL;
    int kind = layer_kind_of(h);
    void *q = debug_alloc(lb, kind, s, i);
    if (!q)
        return NULL;
    memcpy(q, p, h->size < lb ? h->size : lb);
    GC_debug_free(p);
    return q;
}

BDWGC_API void *GC_debug_realloc_replacement(void *p, size_t lb) { return GC_debug_realloc(p, lb, "(realloc)", 0); }

BDWGC_API char *GC_debug_strdup(const char *str, const char *s, int i)
{
    if (!str)
        return NULL;
    size_t n = strlen(str) + 1;
    char *d = debug_alloc(n, K_PTRFREE, s, i);
    if (d)
        memcpy(d, str, n);
    return d;
}

BDWGC_API char *GC_debug_strndup(const char *str, size_t n, const char *s, int i)
{
    size_t len = strnlen(str, n);
    char *d = debug_alloc(len + 1, K_PTRFREE, s, i);
    if (d) {
        memcpy(d, str, len);
        d[len] = 0;
    }
    return d;
}

BDWGC_API void GC_debug_end_stubborn_change(const void *p) { (void)p; }
BDWGC_API void GC_debug_change_stubborn(const void *p) { (void)p; }
BDWGC_API void GC_debug_ptr_store_and_dirty(void *p, const void *q) { *(const void **)p = q; }
BDWGC_API size_t GC_get_debug_header_size(void) { return DBG_HDR; }
BDWGC_API const size_t GC_debug_header_size = DBG_HDR;

/* The finalizer sees the object as the program knows it (past the header). */
struct dbg_fin {
    GC_finalization_proc fn;
    void *cd;
};

static void dbg_fin_run(void *obj, void *cd)
{
    struct dbg_fin *f = cd;
    f->fn((char *)obj + DBG_HDR, f->cd);
}

/* The previous finalizer, as the program gave it (unwrapped). */
static void debug_old(GC_finalization_proc of, void *oc, GC_finalization_proc *ofn, void **ocd)
{
    if (of == dbg_fin_run) {
        struct dbg_fin *f = oc;
        of = f->fn;
        oc = f->cd;
    }
    if (ofn)
        *ofn = of;
    if (ocd)
        *ocd = oc;
}

static void debug_register(void *p, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn, void **ocd)
{
    if (ofn)
        *ofn = NULL;
    if (ocd)
        *ocd = NULL;
    struct dbg_hdr *h = header_of(p, "GC_debug_register_finalizer");
    if (!h)
        return;
    GC_finalization_proc of;
    void *oc;
    if (!fn) {
        GC_register_finalizer(h, NULL, NULL, &of, &oc);
        debug_old(of, oc, ofn, ocd);
        return;
    }
    struct dbg_fin *f = GC_malloc(sizeof *f);
    if (!f)
        return;
    f->fn = fn;
    f->cd = cd;
    GC_register_finalizer(h, dbg_fin_run, f, &of, &oc);
    debug_old(of, oc, ofn, ocd);
}

BDWGC_API void GC_debug_register_finalizer(void *p, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                                           void **ocd)
{
    debug_register(p, fn, cd, ofn, ocd);
}
BDWGC_API void GC_debug_register_finalizer_no_order(void *p, GC_finalization_proc fn, void *cd,
                                                    GC_finalization_proc *ofn, void **ocd)
{
    debug_register(p, fn, cd, ofn, ocd);
}
BDWGC_API void GC_debug_register_finalizer_ignore_self(void *p, GC_finalization_proc fn, void *cd,
                                                       GC_finalization_proc *ofn, void **ocd)
{
    debug_register(p, fn, cd, ofn, ocd);
}
BDWGC_API void GC_debug_register_finalizer_unreachable(void *p, GC_finalization_proc fn, void *cd,
                                                       GC_finalization_proc *ofn, void **ocd)
{
    debug_register(p, fn, cd, ofn, ocd);
}

void layer_debug_locks(bool take)
{
    if (take)
        pthread_mutex_lock(&reg.lock);
    else
        pthread_mutex_unlock(&reg.lock);
}
