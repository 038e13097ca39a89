/*
 * gc/gc_mark.h - object kinds, mark descriptors and mark procedures.
 *
 * For language runtimes (Guile, ECL, gcj) that tell the collector how their
 * objects hold pointers.  A kind is a class of objects with one mark
 * descriptor, which says where an object's pointers are:
 *
 *   GC_DS_LENGTH      the descriptor (tag 0) is a length in bytes: the first
 *                     that many bytes are scanned conservatively; 0 with
 *                     add_size_to_descriptor means the whole object
 *   GC_DS_BITMAP      the bits above the tag are a bitmap of the words that
 *                     may be pointers, the highest bit for word 0
 *   GC_DS_PROC        a mark procedure (GC_MAKE_PROC: its index from
 *                     GC_new_proc and an environment word) pushes the
 *                     object's pointers itself with GC_MARK_AND_PUSH
 *   GC_DS_PER_OBJECT  the real descriptor is in the object, at the byte
 *                     offset the bits above the tag give; or, when the
 *                     descriptor is negative, in the record the object's
 *                     first word points to, at the offset -(descriptor &
 *                     ~GC_DS_TAGS) - GC_INDIR_PER_OBJ_BIAS (signed)
 *
 * tricolor marks beside the program, on collector threads and on program
 * threads that help while they allocate: a mark procedure may run on any
 * thread, at the same time as the program and as other mark procedures, and
 * may be handed a free object (zeroed but for its first word).  It calls
 * GC_MARK_AND_PUSH and nothing else of the library; it must not allocate or
 * take a lock.
 */
#ifndef GC_MARK_H
#define GC_MARK_H

#include "gc.h"
#include "gc_config_macros.h" /* GC_API after a tricolor.h */

#ifdef __cplusplus
extern "C" {
#endif

/* An entry of the collector's mark stack.  A mark procedure receives
 * pointers to them and returns one, and never looks inside. */
#ifdef GC_BUILD
struct GC_ms_entry;
#else
struct GC_ms_entry {
    void *opaque;
};
#endif

/* A mark procedure: addr is the object's start, env the descriptor's
 * environment.  It pushes what the object points to, and returns the new
 * top of the mark stack (mark_stack_ptr if it pushed nothing).  It should
 * do about GC_PROC_BYTES of work per call. */
typedef struct GC_ms_entry *(*GC_mark_proc)(GC_word *, struct GC_ms_entry *,
                                            struct GC_ms_entry *, GC_word);
#define GC_PROC_BYTES 100

/* At most 64 mark procedures; the first 8 indices are reserved for clients
 * that need fixed ones (gcj's is 0). */
#define GC_LOG_MAX_MARK_PROCS 6
#define GC_MAX_MARK_PROCS (1 << GC_LOG_MAX_MARK_PROCS)
#define GC_RESERVED_MARK_PROCS 8
#define GC_GCJ_RESERVED_MARK_PROC_INDEX 0

/* Descriptor tags, in the low two bits. */
#define GC_DS_TAG_BITS 2
#define GC_DS_TAGS ((1 << GC_DS_TAG_BITS) - 1)
#define GC_DS_LENGTH 0
#define GC_DS_BITMAP 1
#define GC_DS_PROC 2
#define GC_DS_PER_OBJECT 3
#define GC_INDIR_PER_OBJ_BIAS 0x10

/* The descriptor that calls mark procedure proc_index with env. */
#define GC_MAKE_PROC(proc_index, env) \
    (((((env) << GC_LOG_MAX_MARK_PROCS) | (proc_index)) << GC_DS_TAG_BITS) | GC_DS_PROC)

/* Bounds of the addresses the heap may ever use: a word outside them is
 * not a heap pointer.  Read them only through GC_MARK_AND_PUSH. */
GC_API void *GC_least_plausible_heap_addr;
GC_API void *GC_greatest_plausible_heap_addr;

/* Inside a mark procedure: if obj is a collected object not yet marked,
 * mark it and push it to be scanned.  src is where the pointer was found
 * (for debugging).  Returns the new top of the mark stack. */
GC_API struct GC_ms_entry *GC_CALL GC_mark_and_push(void *, struct GC_ms_entry *,
                                                    struct GC_ms_entry *, void **);

/* GC_mark_and_push, skipping words that cannot be heap pointers cheaply. */
#define GC_MARK_AND_PUSH(obj, msp, lim, src)                                 \
    ((GC_word)(obj) >= (GC_word)GC_least_plausible_heap_addr                 \
             && (GC_word)(obj) <= (GC_word)GC_greatest_plausible_heap_addr   \
         ? GC_mark_and_push(obj, msp, lim, src)                              \
         : (msp))

/* The bytes GC_debug_* objects carry before the user's part, and the
 * user's pointer from an object's base. */
GC_API GC_ATTR_CONST size_t GC_CALL GC_get_debug_header_size(void);
#define GC_USR_PTR_FROM_BASE(p) ((void *)((char *)(p) + GC_get_debug_header_size()))
#ifdef GC_BUILD
GC_API GC_ATTR_DEPRECATED const size_t GC_debug_header_size;
#else
GC_API GC_ATTR_DEPRECATED size_t GC_debug_header_size;
#endif

/* A new free list, for GC_new_kind.  The _inner forms expect the
 * allocator lock held (GC_call_with_alloc_lock). */
GC_API void **GC_CALL GC_new_free_list(void);
GC_API void **GC_CALL GC_new_free_list_inner(void);

/* GC_new_kind(free_list, descriptor, add_size_to_descriptor,
 * clear_new_objects): a new kind of object, returned as its number for
 * GC_generic_malloc.  With add_size_to_descriptor, each object's size is
 * added to the descriptor (a length descriptor of 0 then scans it whole).
 * With clear_new_objects, objects are zeroed when allocated. */
GC_API unsigned GC_CALL GC_new_kind(void **, GC_word, int, int) GC_ATTR_NONNULL(1);
GC_API unsigned GC_CALL GC_new_kind_inner(void **, GC_word, int, int) GC_ATTR_NONNULL(1);

/* A new mark procedure, returned as its index for GC_MAKE_PROC. */
GC_API unsigned GC_CALL GC_new_proc(GC_mark_proc);
GC_API unsigned GC_CALL GC_new_proc_inner(GC_mark_proc);

/* Allocate n bytes of kind k: 0 pointer-free, 1 normal, 2 uncollectable,
 * 3 atomic uncollectable, or a number from GC_new_kind.  The _or_special
 * forms also treat the uncollectable kinds as GC_malloc_uncollectable
 * does, which GC_generic_malloc does not. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_malloc(size_t, int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_generic_malloc_ignore_off_page(size_t, int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_generic_malloc_uncollectable(size_t, int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_generic_or_special_malloc(size_t, int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_generic_or_special_malloc(size_t, int, GC_EXTRA_PARAMS);
#ifdef GC_DEBUG
#define GC_GENERIC_OR_SPECIAL_MALLOC(sz, knd) \
    GC_debug_generic_or_special_malloc(sz, knd, GC_EXTRAS)
#else
#define GC_GENERIC_OR_SPECIAL_MALLOC(sz, knd) GC_generic_or_special_malloc(sz, knd)
#endif

/* The kind of the object at p, and (psize not NULL) its size, as GC_size. */
GC_API int GC_CALL GC_get_kind_and_size(const void *, size_t *) GC_ATTR_NONNULL(1);

/* For heap dumps: a function that writes a description of an object of a
 * kind into a buffer of GC_TYPE_DESCR_LEN bytes. */
typedef void(GC_CALLBACK *GC_describe_type_fn)(void *, char *);
#define GC_TYPE_DESCR_LEN 40
GC_API void GC_CALL GC_register_describe_type_fn(int, GC_describe_type_fn);

/* Clear the dead part of the stack below the caller, and return the
 * argument (a tail call's value, say).  A thread that runs a collection
 * does this itself first. */
GC_API void *GC_CALL GC_clear_stack(void *);

/* Called as each collection starts, inside the collector: it must not
 * allocate or take a lock.  NULL: none. */
typedef void(GC_CALLBACK *GC_start_callback_proc)(void);
GC_API void GC_CALL GC_set_start_callback(GC_start_callback_proc);
GC_API GC_start_callback_proc GC_CALL GC_get_start_callback(void);

/* The mark bit of the object starting at p: read, clear, set.  Meaningful
 * with the allocator lock held (GC_call_with_alloc_lock). */
GC_API int GC_CALL GC_is_marked(const void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_clear_mark_bit(const void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_set_mark_bit(const void *) GC_ATTR_NONNULL(1);

/* From the push-other-roots callback: scan [bottom, top) as a root now.
 * _eager scans at once rather than later; _conditional with all zero may
 * skip pages not written since the last collection.
 * GC_push_finalizer_structures pushes the finalizer tables. */
GC_API void GC_CALL GC_push_all(void *, void *);
GC_API void GC_CALL GC_push_all_eager(void *, void *);
GC_API void GC_CALL GC_push_conditional(void *, void *, int);
GC_API void GC_CALL GC_push_finalizer_structures(void);

/* Called at each collection, after the usual roots, to push roots only the
 * program knows (with GC_push_all).  The default pushes nothing extra. */
typedef void(GC_CALLBACK *GC_push_other_roots_proc)(void);
GC_API void GC_CALL GC_set_push_other_roots(GC_push_other_roots_proc);
GC_API GC_push_other_roots_proc GC_CALL GC_get_push_other_roots(void);

/* fn(obj, bytes, client_data) for each object marked by the last
 * collection.  Call it with the allocator lock held; fn must not allocate. */
typedef void(GC_CALLBACK *GC_reachable_object_proc)(void *, size_t, void *);
GC_API void GC_CALL GC_enumerate_reachable_objects_inner(GC_reachable_object_proc, void *)
    GC_ATTR_NONNULL(1);

/* Nonzero when p lies in a temporary root: bdwgc's name for the data of a
 * loaded library, which it finds anew at each collection.  tricolor keeps
 * no such roots and answers 0. */
GC_API int GC_CALL GC_is_tmp_root(void *);

#ifdef __cplusplus
}
#endif

#endif /* GC_MARK_H */
