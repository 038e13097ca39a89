/*
 * panic.c - Go's panics for the make types: gc_panic and the bounds errors.
 *
 * Owns nothing but the messages.  They are Go's, word for word (runtime/
 * error.go), so that a Go programmer recognises them and a test can compare
 * them with Go's own output: "panic: " and the message on stderr, then
 * abort() rather than Go's exit status 2, so that a debugger or a core dump
 * shows where it happened.  The inline checks in tricolor.h call here only
 * when a check fails.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void gc_panic(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        buf[0] = 0;
    fflush(stdout); /* what the program printed before comes first, as in Go */
    tc_trace("panic: %s", buf);
    abort();
}

void gc_panic_index(int64_t i, size_t len)
{
    if (i < 0)
        gc_panic("runtime error: index out of range [%" PRId64 "]", i);
    gc_panic("runtime error: index out of range [%" PRId64 "] with length %zu", i, len);
}

/* Go's boundsErrorFmt and boundsNegErrorFmts, for the codes tricolor.h uses
 * (the x of a negative index needs no y). */
void gc_panic_slice(int code, int64_t x, int64_t y)
{
    const char *fmt, *neg;
    switch (code) {
    case GC_BOUNDS_SLICE_ACAP:
        fmt = "[:%" PRId64 "] with capacity %" PRId64, neg = "[:%" PRId64 "]";
        break;
    case GC_BOUNDS_SLICE_B:
        fmt = "[%" PRId64 ":%" PRId64 "]", neg = "[%" PRId64 ":]";
        break;
    case GC_BOUNDS_SLICE3_ACAP:
        fmt = "[::%" PRId64 "] with capacity %" PRId64, neg = "[::%" PRId64 "]";
        break;
    case GC_BOUNDS_SLICE3_B:
        fmt = "[:%" PRId64 ":%" PRId64 "]", neg = "[:%" PRId64 ":]";
        break;
    case GC_BOUNDS_SLICE3_C:
        fmt = "[%" PRId64 ":%" PRId64 ":]", neg = "[%" PRId64 "::]";
        break;
    default:
        gc_panic("runtime error: slice bounds out of range");
    }
    char where[96];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    if (x < 0)
        snprintf(where, sizeof where, neg, x);
    else
        snprintf(where, sizeof where, fmt, x, y);
#pragma GCC diagnostic pop
    gc_panic("runtime error: slice bounds out of range %s", where);
}
