/*
 * threads.c - bdwgc's thread, stack and lock calls over tricolor's.
 *
 * tricolor wraps pthread_create, pthread_sigmask and sigprocmask itself
 * (src/threads.c), so the GC_pthread_* redirects are the plain calls.
 * Thread handles (GC_get_my_stackbottom) are tricolor's thread records; a
 * stack bottom set is a stack declared with its top only (gc_set_stack).
 * The allocation lock is the collector's gc_lock: holding it keeps any
 * collection from starting (the callback must not allocate).
 */
#include "layer.h"

#include <dlfcn.h>
#include <signal.h>
#include <time.h>

BDWGC_API int GC_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    layer_init();
    return pthread_create(t, a, fn, arg);
}
BDWGC_API int GC_pthread_join(pthread_t t, void **ret) { return pthread_join(t, ret); }
BDWGC_API int GC_pthread_detach(pthread_t t) { return pthread_detach(t); }
BDWGC_API int GC_pthread_cancel(pthread_t t) { return pthread_cancel(t); }
BDWGC_API __attribute__((noreturn)) void GC_pthread_exit(void *ret) { pthread_exit(ret); }
BDWGC_API int GC_pthread_sigmask(int how, const sigset_t *set, sigset_t *old) { return pthread_sigmask(how, set, old); }

/* Loading and unloading are safe while marking runs (roots.c). */
BDWGC_API void *GC_dlopen(const char *path, int mode)
{
    layer_init();
    return dlopen(path, mode);
}

BDWGC_API void GC_allow_register_threads(void) { layer_init(); }

BDWGC_API int GC_register_my_thread(const struct GC_stack_base *sb)
{
    (void)sb;
    layer_init();
    if (tls_thread)
        return GC_DUPLICATE;
    return gc_register_thread() == 0 ? GC_SUCCESS : GC_UNIMPLEMENTED;
}

BDWGC_API int GC_unregister_my_thread(void)
{
    gc_unregister_thread();
    return GC_SUCCESS;
}

BDWGC_API int GC_thread_is_registered(void) { return tls_thread != NULL; }

BDWGC_API int GC_get_stack_base(struct GC_stack_base *sb)
{
    void *lo, *hi;
    if (gc_get_stack(&lo, &hi) != 0)
        return GC_UNIMPLEMENTED;
    sb->mem_base = hi;
    return GC_SUCCESS;
}

BDWGC_API void *GC_call_with_stack_base(GC_stack_base_func fn, void *arg)
{
    struct GC_stack_base sb = {__builtin_frame_address(0)};
    return fn(&sb, arg);
}

BDWGC_API void *GC_get_my_stackbottom(struct GC_stack_base *sb)
{
    layer_init();
    gc_thread_t *t = current_thread();
    void *lo, *hi;
    gc_get_stack(&lo, &hi);
    sb->mem_base = hi;
    return t;
}

/* Only the calling thread's (bdwgc allows another's while holding the
 * allocation lock; tricolor's records belong to their threads). */
BDWGC_API void GC_set_stackbottom(void *handle, const struct GC_stack_base *sb)
{
    gc_thread_t *t = current_thread();
    if (handle && handle != t)
        return;
    if (!t || (uintptr_t)sb->mem_base == t->stack_hi)
        gc_set_stack(NULL, NULL);
    else
        gc_set_stack(NULL, sb->mem_base);
}

BDWGC_API void *GC_do_blocking(GC_fn_type fn, void *cd)
{
    layer_init();
    return gc_do_blocking(fn, cd);
}
BDWGC_API void *GC_call_with_gc_active(GC_fn_type fn, void *cd) { return gc_call_active(fn, cd); }

BDWGC_API int GC_get_suspend_signal(void) { return gc_stop_signal(); }
BDWGC_API void GC_set_suspend_signal(int sig) { gc_set_stop_signal(sig); }
/* One signal both stops and restarts threads here. */
BDWGC_API int GC_get_thr_restart_signal(void) { return gc_stop_signal(); }
BDWGC_API void GC_set_thr_restart_signal(int sig) { (void)sig; }
BDWGC_API void GC_register_altstack(void *a, GC_word b, void *c, GC_word d)
{
    (void)a, (void)b, (void)c, (void)d;
}

/*
 * The lock's epilogue.  A program may change what its mark procedures read
 * under the lock and finish the change just after releasing it: Guile grows
 * a VM stack inside GC_call_with_alloc_lock and stores the new stack pointer
 * after it returns.  bdwgc collects only when a thread allocates, so nothing
 * stops the world in those few instructions; tricolor's collector, waiting
 * for gc_lock, would stop it at once.  So the releasing thread is in its
 * epilogue until it comes back into the library (any layer call), and a
 * stop meanwhile waits for it (core threads.c: epilogue_defers).
 */
__thread bool layer_in_epilogue;

static void epilogue_begin(gc_thread_t *t)
{
    if (!t)
        return;
    layer_in_epilogue = true;
    t->epilogue = 2; /* releasing: see epilogue_defers */
}

void layer_epilogue_end(void)
{
    layer_in_epilogue = false;
    gc_thread_t *t = tls_thread;
    if (t)
        thread_epilogue_end(t);
}

BDWGC_API void GC_alloc_lock(void)
{
    layer_init();
    pthread_mutex_lock(&gc_lock);
    layer_holds_gc_lock = true;
}

BDWGC_API void GC_alloc_unlock(void)
{
    layer_holds_gc_lock = false;
    gc_thread_t *t = tls_thread;
    epilogue_begin(t);
    pthread_mutex_unlock(&gc_lock);
    if (t && t->epilogue)
        t->epilogue = 1;
}

BDWGC_API void *GC_call_with_alloc_lock(GC_fn_type fn, void *cd)
{
    GC_alloc_lock();
    void *r = fn(cd);
    GC_alloc_unlock();
    return r;
}

/* fork is handled by tricolor's own atfork handlers. */
BDWGC_API void GC_atfork_prepare(void) {}
BDWGC_API void GC_atfork_parent(void) {}
BDWGC_API void GC_atfork_child(void) {}

/* Suspending one thread (javaxfc.h): it is parked in the stop signal's
 * handler, and counts as blocked while there. */
BDWGC_API void GC_suspend_thread(pthread_t t) { thread_suspend(t); }
BDWGC_API void GC_resume_thread(pthread_t t) { thread_resume(t); }
BDWGC_API int GC_is_thread_suspended(pthread_t t) { return thread_is_suspended(t); }
/* Stop every other registered thread until GC_start_world_external (the
 * caller must not allocate meanwhile). */
BDWGC_API void GC_stop_world_external(void)
{
    layer_init();
    pthread_mutex_lock(&gc_lock);
    pthread_mutex_lock(&threads_lock);
    stop_the_world();
}

BDWGC_API void GC_start_world_external(void)
{
    start_the_world();
    pthread_mutex_unlock(&threads_lock);
    pthread_mutex_unlock(&gc_lock);
}
