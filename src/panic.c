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

/* x as Go prints a bound: signed if its type is, else unsigned. */
static void format_bound(char *buf, size_t n, uint64_t x, int x_signed)
{
    if (x_signed)
        snprintf(buf, n, "%" PRId64, (int64_t)x);
    else
        snprintf(buf, n, "%" PRIu64, x);
}

void gc_panic_index(uint64_t i, int i_signed, size_t len)
{
    char x[32];
    format_bound(x, sizeof x, i, i_signed);
    if (i_signed && (int64_t)i < 0)
        gc_panic("runtime error: index out of range [%s]", x);
    gc_panic("runtime error: index out of range [%s] with length %zu", x, len);
}

/* Go's boundsErrorFmt and boundsNegErrorFmts, for the codes tricolor.h uses
 * (a negative x needs no y). */
void gc_panic_slice(int code, uint64_t xv, int x_signed, uint64_t y)
{
    const char *fmt, *neg;
    switch (code) {
    case GC_BOUNDS_SLICE_ACAP:
        fmt = "[:%s] with capacity %" PRIu64, neg = "[:%s]";
        break;
    case GC_BOUNDS_SLICE_B:
        fmt = "[%s:%" PRIu64 "]", neg = "[%s:]";
        break;
    case GC_BOUNDS_SLICE3_ACAP:
        fmt = "[::%s] with capacity %" PRIu64, neg = "[::%s]";
        break;
    case GC_BOUNDS_SLICE3_B:
        fmt = "[:%s:%" PRIu64 "]", neg = "[:%s:]";
        break;
    case GC_BOUNDS_SLICE3_C:
        fmt = "[%s:%" PRIu64 ":]", neg = "[%s::]";
        break;
    default:
        gc_panic("runtime error: slice bounds out of range");
    }
    char x[32], where[96];
    format_bound(x, sizeof x, xv, x_signed);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    if (x_signed && (int64_t)xv < 0)
        snprintf(where, sizeof where, neg, x);
    else
        snprintf(where, sizeof where, fmt, x, y);
#pragma GCC diagnostic pop
    gc_panic("runtime error: slice bounds out of range %s", where);
}
