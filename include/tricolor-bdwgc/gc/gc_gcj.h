/*
 * gc/gc_gcj.h - objects that carry their own type, after gcj (GNU Java).
 *
 * Each such object's first word points to a type record (a vtable) whose
 * second word is the objects' mark descriptor (gc_mark.h): a length, a
 * bitmap, or a mark procedure.  The collector reads it to scan the object.
 * The type record must outlive its objects, and the descriptor must not
 * need the object to be initialised past its first word.
 */
#ifndef GC_GCJ_H
#define GC_GCJ_H

#include "gc.h"
#include "gc_config_macros.h" /* GC_API after a tricolor.h */

#ifdef __cplusplus
extern "C" {
#endif

/* Set up gcj allocation, before the first GC_gcj_malloc: mp (a GC_mark_proc)
 * is the mark procedure descriptors name by index mp_index (in
 * [0, GC_RESERVED_MARK_PROCS)), also called for the free objects of the
 * kind. */
GC_API void GC_CALL GC_init_gcj_malloc(int, void *);

/* GC_gcj_malloc(n, vtable): a zeroed object of n bytes whose first word is
 * vtable.  The debug form adds the caller's file and line; the
 * ignore_off_page form keeps GC_malloc_ignore_off_page's promise too. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_gcj_malloc(size_t, void *);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_gcj_malloc(size_t, void *, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_gcj_malloc_ignore_off_page(size_t, void *);

/* The kinds of gcj objects (for GC_generic_malloc and friends). */
GC_API int GC_gcj_kind;
GC_API int GC_gcj_debug_kind;

#ifdef GC_DEBUG
#define GC_GCJ_MALLOC(s, d) GC_debug_gcj_malloc(s, d, GC_EXTRAS)
#define GC_GCJ_MALLOC_IGNORE_OFF_PAGE(s, d) GC_debug_gcj_malloc(s, d, GC_EXTRAS)
#else
#define GC_GCJ_MALLOC(s, d) GC_gcj_malloc(s, d)
#define GC_GCJ_MALLOC_IGNORE_OFF_PAGE(s, d) GC_gcj_malloc_ignore_off_page(s, d)
#endif

#ifdef __cplusplus
}
#endif

#endif /* GC_GCJ_H */
