/*
 * gc/gc_config_macros.h - the declaration macros of tricolor's bdwgc API.
 *
 * Included by gc/gc.h; a program rarely needs it by itself.  Only what
 * Linux with glibc (x86-64, aarch64) needs is here: bdwgc's Windows, Darwin
 * and DLL machinery has no counterpart, since tricolor runs nowhere else.
 */
#ifndef GC_CONFIG_MACROS_H
#define GC_CONFIG_MACROS_H

#include <stddef.h>   /* size_t, ptrdiff_t */

#if defined(__GNUC__) && defined(__GNUC_MINOR__)
#define GC_GNUC_PREREQ(major, minor) \
    ((__GNUC__ << 16) + __GNUC_MINOR__ >= ((major) << 16) + (minor))
#else
#define GC_GNUC_PREREQ(major, minor) 0
#endif

/* Threads.  tricolor is always thread-safe, with or without these.  Defining
 * GC_THREADS (or bdwgc's older names for it) before including gc.h only
 * brings in gc_pthread_redirects.h, as with bdwgc. */
#if !defined(GC_THREADS) && (defined(GC_LINUX_THREADS) || defined(LINUX_THREADS) \
                             || defined(GC_PTHREADS))
#define GC_THREADS
#endif
#if defined(GC_THREADS) && defined(__linux__)
#ifndef GC_LINUX_THREADS
#define GC_LINUX_THREADS
#endif
#ifndef GC_PTHREADS
#define GC_PTHREADS
#endif
#endif

/* GC_API declares what libgc exports: extern, with default visibility, as
 * bdwgc's does (code that declares libgc's variables with it, as bdwgc's
 * private headers do, gets declarations, not definitions).  tricolor.h's
 * GC_API has no extern; see the end of this file. */
#ifndef GC_API
#if defined(__GNUC__)
#define GC_API extern __attribute__((visibility("default")))
#else
#define GC_API extern
#endif
#endif

/* Calling conventions: empty on every platform tricolor supports. */
#ifndef GC_CALL
#define GC_CALL
#endif
#ifndef GC_CALLBACK
#define GC_CALLBACK GC_CALL
#endif

/* Allocation functions return memory nothing else points to.  A program
 * whose oom function (GC_set_oom_fn) returns memory it still points to
 * defines GC_OOM_FUNC_RETURNS_ALIAS, which drops that promise. */
#ifndef GC_ATTR_MALLOC
#if defined(GC_OOM_FUNC_RETURNS_ALIAS) || !defined(__GNUC__)
#define GC_ATTR_MALLOC
#else
#define GC_ATTR_MALLOC __attribute__((__malloc__))
#endif
#endif

/* The argument (or the product of two) that gives the object's size. */
#ifndef GC_ATTR_ALLOC_SIZE
#if GC_GNUC_PREREQ(4, 3) || (defined(__clang__) && defined(__has_attribute))
#define GC_ATTR_ALLOC_SIZE(argnum) __attribute__((__alloc_size__(argnum)))
#define GC_ATTR_CALLOC_SIZE(n, s) __attribute__((__alloc_size__(n, s)))
#else
#define GC_ATTR_ALLOC_SIZE(argnum)
#endif
#endif
#ifndef GC_ATTR_CALLOC_SIZE
#define GC_ATTR_CALLOC_SIZE(n, s)
#endif

/* Argument argnum must not be NULL. */
#ifndef GC_ATTR_NONNULL
#if defined(__GNUC__)
#define GC_ATTR_NONNULL(argnum) __attribute__((__nonnull__(argnum)))
#else
#define GC_ATTR_NONNULL(argnum)
#endif
#endif

/* The result depends on nothing but the arguments. */
#ifndef GC_ATTR_CONST
#if defined(__GNUC__)
#define GC_ATTR_CONST __attribute__((__const__))
#else
#define GC_ATTR_CONST
#endif
#endif

/* bdwgc's variables, kept for old programs: their setters and getters are
 * the interface.  The library that defines them builds with GC_BUILD. */
#ifndef GC_ATTR_DEPRECATED
#if defined(__GNUC__) && !defined(GC_BUILD)
#define GC_ATTR_DEPRECATED __attribute__((__deprecated__))
#else
#define GC_ATTR_DEPRECATED
#endif
#endif

/* printf-style checking of a format argument. */
#ifndef GC_ATTR_FORMAT_PRINTF
#if defined(__GNUC__)
#define GC_ATTR_FORMAT_PRINTF(fmt, first) __attribute__((__format__(__printf__, fmt, first)))
#else
#define GC_ATTR_FORMAT_PRINTF(fmt, first)
#endif
#endif

/* For gc_pthread_redirects.h: pthread_create's attribute argument is const,
 * and pthread_exit does not return. */
#ifndef GC_PTHREAD_CREATE_CONST
#define GC_PTHREAD_CREATE_CONST const
#endif
#define GC_HAVE_PTHREAD_EXIT
#ifndef GC_PTHREAD_EXIT_ATTRIBUTE
#if defined(__GNUC__)
#define GC_PTHREAD_EXIT_ATTRIBUTE __attribute__((__noreturn__))
#else
#define GC_PTHREAD_EXIT_ATTRIBUTE
#endif
#endif

#endif /* GC_CONFIG_MACROS_H */

/* Outside the guard, so that each header of this set that includes this
 * one runs it: when tricolor.h was included (before, or between two of
 * these headers), its GC_API, without extern, is replaced by the one
 * above, so that the variables declared after stay declarations.  Include
 * tricolor.h first: after gc.h, the compiler warns that it redefines
 * GC_API. */
#ifdef TRICOLOR_H
#undef GC_API
#if defined(__GNUC__)
#define GC_API extern __attribute__((visibility("default")))
#else
#define GC_API extern
#endif
#endif
