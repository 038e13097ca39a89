/*
 * gc/gc_backptr.h - why an object is reachable.
 *
 * bdwgc answers this only when built with KEEP_BACK_PTRS, which Debian's
 * libgc is not, so these functions are not part of libgc.so.1's ABI: they are
 * declared for code that mentions them, and a program that calls one does
 * not link, against bdwgc's library or tricolor's.  tricolor's way to the
 * same answer is GODEBUG=gccheckmark=1 (see tricolor.h) and its heap
 * profile.
 */
#ifndef GC_BACKPTR_H
#define GC_BACKPTR_H

#include "gc.h"
#include "gc_config_macros.h" /* GC_API after a tricolor.h */

#ifdef __cplusplus
extern "C" {
#endif

/* What refers to an object. */
typedef enum {
    GC_UNREFERENCED,   /* nothing known */
    GC_NO_SPACE,       /* not a debug object: no room to know */
    GC_REFD_FROM_ROOT, /* a root, at *base_p */
    GC_REFD_FROM_REG,  /* a register */
    GC_REFD_FROM_HEAP, /* another object, *base_p, at *offset_p in it */
    GC_FINALIZER_REFD  /* it has a finalizer, which keeps it */
} GC_ref_kind;

/* GC_get_back_ptr_info(dest, &base, &offset): what refers to dest. */
GC_API GC_ref_kind GC_CALL GC_get_back_ptr_info(void *, void **, size_t *) GC_ATTR_NONNULL(1);

/* A random address in the heap, and a random one in a live object. */
GC_API void *GC_CALL GC_generate_random_heap_address(void);
GC_API void *GC_CALL GC_generate_random_valid_address(void);

/* Print a chain of references that reaches a random object, or the given
 * one, from a root. */
GC_API void GC_CALL GC_generate_random_backtrace(void);
GC_API void GC_CALL GC_print_backtrace(void *) GC_ATTR_NONNULL(1);

#ifdef __cplusplus
}
#endif

#endif /* GC_BACKPTR_H */
