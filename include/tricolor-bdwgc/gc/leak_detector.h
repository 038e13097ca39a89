/*
 * gc/leak_detector.h - find the leaks of a malloc program.
 *
 * Include this (first, or with cc -include) in the sources of a program
 * that uses malloc and free, and call GC_set_find_leak(1) before GC_INIT():
 * malloc, calloc, realloc, free, strdup, strndup, memalign and
 * posix_memalign then go to the collector's debug allocator, and each
 * collection (CHECK_LEAKS(), or one the library starts) reports on stderr
 * the objects no pointer reaches any more, with the file and line that
 * allocated them, and frees them.
 *
 * Only the code compiled with this header is redirected: memory that
 * libraries allocate (and free) stays theirs.  Define GC_DONT_INCLUDE_STDLIB
 * to include <stdlib.h> and <string.h> yourself.
 */
#ifndef GC_LEAK_DETECTOR_H
#define GC_LEAK_DETECTOR_H

#ifndef GC_DEBUG
#define GC_DEBUG
#endif
#include "gc.h"

/* The C library's declarations first, so that they are not renamed. */
#ifndef GC_DONT_INCLUDE_STDLIB
#include <stdlib.h>
#include <string.h>
#endif

#undef malloc
#define malloc(n) GC_MALLOC(n)
#undef calloc
#define calloc(m, n) GC_MALLOC((m) * (n))
#undef realloc
#define realloc(p, n) GC_REALLOC(p, n)
#undef free
#define free(p) GC_FREE(p)
#undef strdup
#define strdup(s) GC_STRDUP(s)
#undef strndup
#define strndup(s, n) GC_STRNDUP(s, n)
#undef memalign
#define memalign(a, n) GC_memalign(a, n)
#undef posix_memalign
#define posix_memalign(p, a, n) GC_posix_memalign(p, a, n)

/* A collection, which reports what leaked since the last. */
#ifndef CHECK_LEAKS
#define CHECK_LEAKS() GC_gcollect()
#endif

#endif /* GC_LEAK_DETECTOR_H */
