/*
 * gc/gc_version.h - the bdwgc release whose API and ABI these headers give.
 *
 * tricolor's libgc.so.1 stands in for bdwgc 8.2.2, so these say 8.2.2, and
 * GC_get_version() returns the same number at run time: 0x080202 (major in
 * bits 16-23, minor in 8-15, micro in 0-7).  tricolor's own version is
 * TRICOLOR_VERSION in tricolor.h.
 */
#ifndef GC_VERSION_H
#define GC_VERSION_H

#ifndef GC_VERSION_MAJOR
#define GC_VERSION_MAJOR 8
#define GC_VERSION_MINOR 2
#define GC_VERSION_MICRO 2
#endif

#endif /* GC_VERSION_H */
