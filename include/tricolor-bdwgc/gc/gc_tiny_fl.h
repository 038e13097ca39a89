/*
 * gc/gc_tiny_fl.h - the granule, and the small sizes that free lists serve.
 *
 * Objects come in multiples of a granule, 16 bytes on the 64-bit platforms
 * tricolor runs on (and tricolor's size classes step by 16 up to 256).  A
 * program that keeps its own free lists (gc_inline.h) has one per granule
 * count below GC_TINY_FREELISTS, indexed by that count.
 */
#ifndef GC_TINY_FL_H
#define GC_TINY_FL_H

#ifndef GC_GRANULE_BYTES
#define GC_GRANULE_BYTES 16
#define GC_GRANULE_WORDS 2
#endif

/* Granules in n words (rounded down), and bytes in i granules. */
#define GC_WORDS_TO_GRANULES(n) ((n) * sizeof(void *) / GC_GRANULE_BYTES)
#define GC_RAW_BYTES_FROM_INDEX(i) ((i) * GC_GRANULE_BYTES)

/* Free lists for 0 to 24 granules (up to 384 bytes). */
#ifndef GC_TINY_FREELISTS
#define GC_TINY_FREELISTS 25
#endif

#endif /* GC_TINY_FL_H */
