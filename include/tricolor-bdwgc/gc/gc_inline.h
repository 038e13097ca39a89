/*
 * gc/gc_inline.h - allocation from the program's own free lists.
 *
 * A program that allocates many small objects of a few sizes may keep free
 * lists itself, one per size, refilled in bulk with GC_generic_malloc_many,
 * and take objects off them with no call at all:
 *
 *     static __thread void *my_lists[GC_TINY_FREELISTS];   (zeroed)
 *     void *cell, *obj;
 *     GC_CONS(cell, car, cdr, my_lists);                   (2 words)
 *     GC_MALLOC_WORDS(obj, 5, my_lists);                   (5 words, zeroed)
 *
 * The lists must stay where the collector scans (a stack, a global, a
 * __thread variable, a collected object), or the objects on them are
 * collected; each list belongs to one thread at a time.  Objects on a list
 * are linked through their first word (GC_NEXT).
 */
#ifndef GC_INLINE_H
#define GC_INLINE_H

#include "gc.h"
#include "gc_config_macros.h" /* GC_API after a tricolor.h */
#include "gc_tiny_fl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The two kinds the macros below allocate: pointer-free and normal. */
#define GC_I_PTRFREE 0
#define GC_I_NORMAL 1

/* GC_generic_malloc_many(n, k, &list): a list of objects of n bytes of kind
 * k into list (NULL when out of memory).  Normal objects are zeroed but for
 * the link. */
GC_API void GC_CALL GC_generic_malloc_many(size_t, int, void **);

/* One object of n bytes of kind k.  GC_malloc_kind may use the calling
 * thread's cache; the _global form does not. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_kind(size_t, int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_kind_global(size_t, int);

/* Print the library's free list of kind k for objects of n granules. */
GC_API void GC_CALL GC_print_free_list(int, size_t);

/* A branch hint. */
#if defined(__GNUC__)
#define GC_EXPECT(expr, outcome) __builtin_expect(expr, outcome)
#else
#define GC_EXPECT(expr, outcome) (expr)
#endif

/*
 * GC_FAST_MALLOC_GRANS(result, granules, tiny_fl, num_direct, kind,
 * default_expr, init): result = an object of `granules` granules of `kind`,
 * taken off tiny_fl[granules] (refilled with GC_generic_malloc_many when
 * empty), then `init` runs on it; sizes with no list (granules >=
 * GC_TINY_FREELISTS) use default_expr.  When memory is exhausted, result is
 * what the oom function returns.  num_direct is bdwgc's count of first
 * allocations to make without a list; here every allocation uses one.
 */
#define GC_FAST_MALLOC_GRANS(result, granules, tiny_fl, num_direct, kind, default_expr, init) \
    do {                                                                          \
        size_t gc_fm_grans_ = (granules);                                         \
        if (GC_EXPECT(gc_fm_grans_ >= GC_TINY_FREELISTS, 0)) {                    \
            (result) = (default_expr);                                            \
        } else {                                                                  \
            void **gc_fm_list_ = (tiny_fl) + gc_fm_grans_;                        \
            size_t gc_fm_bytes_ =                                                 \
                gc_fm_grans_ == 0 ? GC_GRANULE_BYTES : GC_RAW_BYTES_FROM_INDEX(gc_fm_grans_); \
            if (GC_EXPECT(*gc_fm_list_ == 0, 0))                                  \
                GC_generic_malloc_many(gc_fm_bytes_, (kind), gc_fm_list_);        \
            if (GC_EXPECT(*gc_fm_list_ == 0, 0)) {                                \
                (result) = (*GC_get_oom_fn())(gc_fm_bytes_);                      \
            } else {                                                              \
                (result) = *gc_fm_list_;                                          \
                *gc_fm_list_ = GC_NEXT(result);                                   \
                init;                                                             \
            }                                                                     \
        }                                                                         \
    } while (0)

/* result = an object of at least n words of kind k from tiny_fl, then init. */
#define GC_WORDS_TO_WHOLE_GRANULES(n) GC_WORDS_TO_GRANULES((n) + GC_GRANULE_WORDS - 1)
#define GC_MALLOC_WORDS_KIND(result, n, tiny_fl, kind, init)                            \
    do {                                                                                \
        size_t gc_mw_grans_ = GC_WORDS_TO_WHOLE_GRANULES(n);                            \
        GC_FAST_MALLOC_GRANS(result, gc_mw_grans_, tiny_fl, 0, kind,                    \
                             GC_malloc_kind(gc_mw_grans_ * GC_GRANULE_BYTES, kind), init); \
    } while (0)

/* A zeroed object of n words that may hold pointers, and a pointer-free
 * one of n words (not zeroed). */
#define GC_MALLOC_WORDS(result, n, tiny_fl) \
    GC_MALLOC_WORDS_KIND(result, n, tiny_fl, GC_I_NORMAL, *(void **)(result) = 0)
#define GC_MALLOC_ATOMIC_WORDS(result, n, tiny_fl) \
    GC_MALLOC_WORDS_KIND(result, n, tiny_fl, GC_I_PTRFREE, (void)0)

/* result = a two-word cell { first, second } (NULL when out of memory). */
#define GC_CONS(result, first, second, tiny_fl)                                \
    do {                                                                       \
        void *gc_cons_first_ = (void *)(first);                                \
        void *gc_cons_second_ = (void *)(second);                              \
        GC_MALLOC_WORDS_KIND(result, 2, tiny_fl, GC_I_NORMAL, (void)0);        \
        if ((result) != 0) {                                                   \
            *(void **)(result) = gc_cons_first_;                               \
            GC_ptr_store_and_dirty((void **)(result) + 1, gc_cons_second_);    \
            GC_reachable_here(gc_cons_first_);                                 \
        }                                                                      \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* GC_INLINE_H */
