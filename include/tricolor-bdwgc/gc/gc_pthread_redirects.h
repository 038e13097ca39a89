/*
 * gc/gc_pthread_redirects.h - pthread_create and friends through libgc.
 *
 * gc.h includes this when GC_THREADS is defined before it.  It declares the
 * GC_pthread_* wrappers and GC_dlopen, then, unless GC_NO_THREAD_REDIRECTS
 * (or GC_USE_LD_WRAP, for linking with --wrap) is defined, renames the
 * pthread calls of the rest of the translation unit to them.
 *
 * GC_pthread_create registers the new thread before its start routine
 * runs, and keeps the start argument alive until then, so that it may be the
 * only pointer to an object.  tricolor does the same for a plain
 * pthread_create too, so the renaming is for bdwgc's contract rather than
 * needed.  GC_dlopen is dlopen made safe against a collection running
 * meanwhile; the others are the pthread calls, with the thread's
 * registration kept in step.
 */
#ifndef GC_PTHREAD_REDIRECTS_H
#define GC_PTHREAD_REDIRECTS_H

#include "gc.h"
#include "gc_config_macros.h" /* GC_API after a tricolor.h */

/* The system's declarations come first, before the names are renamed. */
#include <pthread.h>
#include <signal.h>
#include <dlfcn.h>

#ifdef __cplusplus
extern "C" {
#endif

/* javaxfc.h's thread functions take a pthread_t here. */
#ifndef GC_SUSPEND_THREAD_ID
#define GC_SUSPEND_THREAD_ID pthread_t
#endif

GC_API void *GC_dlopen(const char *, int);
/* sigset_t exists only where POSIX is asked for (not under strict -std=c99,
 * say): GC_pthread_sigmask is declared where it does. */
#if defined(__sigset_t_defined) || defined(_GNU_SOURCE) || defined(_DEFAULT_SOURCE) \
    || (defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 199506L)                    \
    || (defined(_XOPEN_SOURCE) && _XOPEN_SOURCE >= 500) || defined(GC_PTHREAD_SIGMASK_NEEDED)
GC_API int GC_pthread_sigmask(int, const sigset_t *, sigset_t *);
#endif
GC_API int GC_pthread_create(pthread_t *, GC_PTHREAD_CREATE_CONST pthread_attr_t *,
                             void *(*)(void *), void *);
GC_API int GC_pthread_join(pthread_t, void **);
GC_API int GC_pthread_detach(pthread_t);
GC_API int GC_pthread_cancel(pthread_t);
#ifndef GC_PTHREAD_EXIT_DECLARED
#define GC_PTHREAD_EXIT_DECLARED
GC_API void GC_pthread_exit(void *) GC_PTHREAD_EXIT_ATTRIBUTE;
#endif

#ifdef __cplusplus
}
#endif

#if !defined(GC_NO_THREAD_REDIRECTS) && !defined(GC_USE_LD_WRAP)
#undef pthread_create
#define pthread_create GC_pthread_create
#undef pthread_join
#define pthread_join GC_pthread_join
#undef pthread_detach
#define pthread_detach GC_pthread_detach
#undef pthread_sigmask
#define pthread_sigmask GC_pthread_sigmask
#undef pthread_cancel
#define pthread_cancel GC_pthread_cancel
#undef pthread_exit
#define pthread_exit GC_pthread_exit
#undef dlopen
#define dlopen GC_dlopen
#endif

#endif /* GC_PTHREAD_REDIRECTS_H */
