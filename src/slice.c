/*
 * slice.c - Go's slices: make and growslice.
 *
 * Owns only the growth rule; a slice itself is a three-word value in the
 * caller's hands (tricolor.h), and its backing array an ordinary collected
 * object, scanned or noscan.  Invariant: a slice's cap never exceeds what
 * its array holds from ptr on, so every index below cap is inside one live
 * object, and the array is kept alive by any slice into it (an interior
 * pointer).
 *
 * The growth rule is Go's runtime.growslice (1.18 and later) with Go's final
 * step: the byte size is rounded up to the size class that will hold it, and
 * the capacity is whatever that size holds, so no appended element wastes
 * the class's tail.  The size classes are tricolor's (sizeclasses.c).
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* The bytes an allocation of size bytes really gets: its size class, or
 * whole pages for a large object (Go's roundupsize). */
static size_t roundupsize(size_t size)
{
    if (size <= MAX_SMALL_SIZE)
        return class_size[size_to_class(size)];
    return (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

/* Go's nextslicecap: the capacity after growing oldcap to hold newlen. */
static size_t nextslicecap(size_t newlen, size_t oldcap)
{
    size_t newcap = oldcap, doublecap = oldcap + oldcap;
    if (newlen > doublecap)
        return newlen;
    const size_t threshold = 256;
    if (oldcap < threshold)
        return doublecap;
    while (newcap < newlen) {
        size_t next = newcap + (newcap + 3 * threshold) / 4;
        if (next < newcap) /* overflow: give the length itself */
            return newlen;
        newcap = next;
    }
    return newcap;
}

/* An empty slice is not nil: its ptr is Go's zerobase, shared by all of
 * them, which holds nothing and is never written (cap 0, or elements of no
 * size).  The noscan one remembers the kind asked for, for growth. */
static _Alignas(16) unsigned char zerobase[16], zerobase_noscan[16];

/* Noscan if the caller asks for it or the array already is. */
static int array_noscan(const void *p, int noscan)
{
    if (noscan || !p)
        return noscan;
    if (p == zerobase_noscan)
        return 1;
    span_t *s = span_of((uintptr_t)p);
    return s && span_noscan(s);
}

gc_slice gc_makeslice(size_t elemsize, size_t len, size_t cap, int noscan)
{
    gc_slice s = {NULL, 0, 0};
    if (len > cap)
        gc_panic("runtime error: makeslice: cap out of range");
    size_t bytes;
    if (__builtin_mul_overflow(elemsize, cap, &bytes) || bytes > (SIZE_MAX >> 1)) {
        errno = ENOMEM;
        return s;
    }
    void *p = !bytes   ? (noscan ? zerobase_noscan : zerobase)
              : alloc_from(bytes, noscan, (uintptr_t)__builtin_return_address(0));
    if (!p)
        return s;
    /* As Go's makeslice, exactly the capacity asked for: only growth
     * rounds up to the size class. */
    s.ptr = p;
    s.len = len;
    s.cap = cap;
    return s;
}

gc_slice gc_growslice(gc_slice s, size_t elemsize, size_t mincap, int noscan)
{
    if (s.cap >= mincap)
        return s;
    if (elemsize == 0) {
        /* Elements of no size: any capacity fits in no storage. */
        s.cap = mincap;
        if (!s.ptr)
            s.ptr = noscan ? zerobase_noscan : zerobase;
        return s;
    }
    size_t newcap = nextslicecap(mincap, s.cap), bytes;
    if (__builtin_mul_overflow(newcap, elemsize, &bytes) || bytes > (SIZE_MAX >> 1))
        gc_panic("runtime error: growslice: len out of range");
    bytes = roundupsize(bytes);
    newcap = bytes / elemsize;
    void *p = alloc_from(bytes, array_noscan(s.ptr, noscan), (uintptr_t)__builtin_return_address(0));
    if (!p)
        gc_panic("runtime: out of memory: cannot allocate %zu-byte block", bytes);
    if (s.len)
        memcpy(p, s.ptr, s.len * elemsize);
    s.ptr = p;
    s.cap = newcap;
    return s;
}
