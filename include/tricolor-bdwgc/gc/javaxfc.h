/*
 * gc/javaxfc.h - what a Java virtual machine needs beyond gc.h.
 */
#ifndef GC_JAVAXFC_H
#define GC_JAVAXFC_H

#include "gc.h"
#include "gc_config_macros.h" /* GC_API after a tricolor.h */

#ifdef __cplusplus
extern "C" {
#endif

/* Run every finalizer registered, reachable objects' too, as Java's
 * Runtime.runFinalizersOnExit did.  For the end of a program: objects stay
 * usable, but their finalizers have run. */
GC_API void GC_CALL GC_finalize_all(void);

/* Stop one registered thread (not the caller) until GC_resume_thread, as
 * Java's Thread.suspend: it is stopped as for a collection, and its stack
 * stays a root.  Suspending twice, or resuming a running thread, does
 * nothing.  GC_is_thread_suspended says whether it is suspended.  The
 * thread is named by its pthread_t when gc_pthread_redirects.h came first
 * (GC_THREADS before gc.h), by a void * holding it otherwise. */
#ifndef GC_SUSPEND_THREAD_ID
#define GC_SUSPEND_THREAD_ID void *
#endif
GC_API void GC_CALL GC_suspend_thread(GC_SUSPEND_THREAD_ID);
GC_API void GC_CALL GC_resume_thread(GC_SUSPEND_THREAD_ID);
GC_API int GC_CALL GC_is_thread_suspended(GC_SUSPEND_THREAD_ID);

#ifdef __cplusplus
}
#endif

#endif /* GC_JAVAXFC_H */
