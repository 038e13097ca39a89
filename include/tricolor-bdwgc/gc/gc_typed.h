/*
 * gc/gc_typed.h - objects whose pointer fields are known.
 *
 * A bitmap marks the words of a type that may hold pointers; the others are
 * never scanned, so integers in them keep nothing alive.  Build a bitmap
 * with GC_set_bit and GC_WORD_OFFSET, turn it into a descriptor once with
 * GC_make_descriptor, and allocate with it:
 *
 *     struct node { struct node *next; long key; char *name; };
 *     GC_word bm[GC_BITMAP_SIZE(struct node)] = { 0 };
 *     GC_set_bit(bm, GC_WORD_OFFSET(struct node, next));
 *     GC_set_bit(bm, GC_WORD_OFFSET(struct node, name));
 *     GC_descr d = GC_make_descriptor(bm, GC_WORD_LEN(struct node));
 *     struct node *n = GC_malloc_explicitly_typed(sizeof *n, d);
 */
#ifndef GC_TYPED_H
#define GC_TYPED_H

#include "gc.h"
#include "gc_config_macros.h" /* GC_API after a tricolor.h */

#ifdef __cplusplus
extern "C" {
#endif

/* A bitmap: bit i of the array (word i / GC_WORDSZ, bit i % GC_WORDSZ) is
 * set when word i of the type may be a pointer. */
typedef GC_word *GC_bitmap;
#define GC_WORDSZ (8 * sizeof(GC_word))
#define GC_get_bit(bm, index) (((bm)[(index) / GC_WORDSZ] >> ((index) % GC_WORDSZ)) & 1)
#define GC_set_bit(bm, index) ((bm)[(index) / GC_WORDSZ] |= (GC_word)1 << ((index) % GC_WORDSZ))

/* The word index of field f of type t, the words of t, and the GC_words a
 * bitmap for t needs. */
#define GC_WORD_OFFSET(t, f) (offsetof(t, f) / sizeof(GC_word))
#define GC_WORD_LEN(t) (sizeof(t) / sizeof(GC_word))
#define GC_BITMAP_SIZE(t) ((GC_WORD_LEN(t) + GC_WORDSZ - 1) / GC_WORDSZ)

/* A type descriptor. */
typedef GC_word GC_descr;

/* GC_make_descriptor(bm, len): the descriptor of a type of len words whose
 * pointer words bm marks.  Make it once per type: it may allocate. */
GC_API GC_descr GC_CALL GC_make_descriptor(const GC_word *, size_t);

/* GC_malloc_explicitly_typed(n, d): a zeroed object of n bytes laid out as
 * d says (words past the type's length are taken as pointer-free).  The
 * ignore_off_page form keeps GC_malloc_ignore_off_page's promise too. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_malloc_explicitly_typed(size_t, GC_descr);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_malloc_explicitly_typed_ignore_off_page(size_t, GC_descr);

/* GC_calloc_explicitly_typed(n, size, d): a zeroed array of n elements of
 * size bytes, each laid out as d says.  NULL when n * size overflows. */
GC_API GC_ATTR_MALLOC GC_ATTR_CALLOC_SIZE(1, 2) void *GC_CALL
GC_calloc_explicitly_typed(size_t, size_t, GC_descr);

/* GC_DEBUG objects carry a header, which typed objects cannot: there these
 * allocate plain (conservatively scanned) debug objects instead. */
#ifdef GC_DEBUG
#define GC_MALLOC_EXPLICITLY_TYPED(bytes, d) ((void)(d), GC_MALLOC(bytes))
#define GC_CALLOC_EXPLICITLY_TYPED(n, bytes, d) ((void)(d), GC_MALLOC((n) * (bytes)))
#else
#define GC_MALLOC_EXPLICITLY_TYPED(bytes, d) GC_malloc_explicitly_typed(bytes, d)
#define GC_CALLOC_EXPLICITLY_TYPED(n, bytes, d) GC_calloc_explicitly_typed(n, bytes, d)
#endif

#ifdef __cplusplus
}
#endif

#endif /* GC_TYPED_H */
