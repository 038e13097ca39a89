/*
 * gc/gc_disclaim.h - a last word before an object is reclaimed.
 *
 * A disclaim procedure runs on each unreachable object of a kind as the
 * sweep is about to free it, in the collector, with no ordering among
 * objects: unlike a finalizer it cannot keep the object for long, and it
 * costs nothing per object to arrange.  Finalized objects are built on it: a
 * closure in the object's first word, called once the object is reclaimed.
 */
#ifndef GC_DISCLAIM_H
#define GC_DISCLAIM_H

#include "gc.h"
#include "gc_config_macros.h" /* GC_API after a tricolor.h */

#ifdef __cplusplus
extern "C" {
#endif

/* Set up GC_finalized_malloc; call it once before the first. */
GC_API void GC_CALL GC_init_finalized_malloc(void);

/* GC_register_disclaim_proc(kind, proc, mark_from_all): proc(obj) runs for
 * each unreachable object of kind before it is freed; a nonzero return
 * keeps the object (and what it points to) for one more collection.  A
 * nonzero mark_from_all marks from every object of the kind, reachable or
 * not, so that what a disclaim procedure reads is still there.  The
 * procedure runs inside the collector: it must not allocate or lock. */
typedef int(GC_CALLBACK *GC_disclaim_proc)(void *);
GC_API void GC_CALL GC_register_disclaim_proc(int, GC_disclaim_proc, int) GC_ATTR_NONNULL(2);

/* What GC_finalized_malloc's objects call: proc(obj, cd). */
struct GC_finalizer_closure {
    GC_finalization_proc proc;
    void *cd;
};

/* GC_finalized_malloc(n, fc): a zeroed object of n bytes that calls
 * fc->proc(obj, fc->cd) when it is reclaimed.  fc must outlive the object
 * (a static, or memory the collector scans).  The word before the pointer
 * returned holds fc: the pointer is inside the object, not its start. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_finalized_malloc(size_t, const struct GC_finalizer_closure *) GC_ATTR_NONNULL(2);

#ifdef __cplusplus
}
#endif

#endif /* GC_DISCLAIM_H */
