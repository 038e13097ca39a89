/*
 * layer.h - what the files of the bdwgc layer share (src/bdwgc/, built only
 * into libgc.so.1).
 *
 * The layer gives bdwgc 8.2.2's ABI on top of tricolor: bdwgc's names, types
 * and constants are declared here again (not from bdwgc's headers, and not
 * from include/tricolor-bdwgc/, which programs use), with the same layout.
 * Its state: the configuration variables programs may read directly, the
 * kinds, the uncollectable set, finalizer and link tables (finalize.c), and
 * the hooks it installs into the collector (struct ext_hooks, internal.h).
 */
#ifndef TRICOLOR_BDWGC_LAYER_H
#define TRICOLOR_BDWGC_LAYER_H

#include "../internal.h"

#include <stdint.h>
#include <stddef.h>

#define BDWGC_API __attribute__((visibility("default")))

typedef unsigned long GC_word;
typedef long GC_signed_word;
typedef void *(*GC_fn_type)(void *);
typedef void (*GC_finalization_proc)(void *obj, void *client_data);
typedef void (*GC_warn_proc)(char *msg, GC_word arg);
typedef void *(*GC_oom_func)(size_t);
typedef void (*GC_abort_func)(const char *);
typedef void (*GC_finalizer_notifier_proc)(void);
typedef int (*GC_stop_func)(void);
typedef void (*GC_on_heap_resize_proc)(GC_word);
typedef void (*GC_start_callback_proc)(void);
typedef void (*GC_push_other_roots_proc)(void);

struct GC_stack_base {
    void *mem_base; /* the stack's top: it grows down from here */
};
typedef void *(*GC_stack_base_func)(struct GC_stack_base *, void *);

/* bdwgc's status codes. */
enum { GC_SUCCESS = 0, GC_DUPLICATE = 1, GC_NO_THREADS = 2, GC_UNIMPLEMENTED = 3, GC_NOT_FOUND = 4 };

/* bdwgc's predefined kinds, and the layer's own for typed objects (above
 * any client kind: GC_new_kind stops short of them). */
enum { K_PTRFREE = 0, K_NORMAL = 1, K_UNCOLLECTABLE = 2, K_AUNCOLLECTABLE = 3, K_FIRST_CLIENT = 4,
       K_TYPED_SMALL = 61, K_TYPED = 62, K_TYPED_ARRAY = 63 };

/* bdwgc's descriptor tags (the low two bits of a kind's descriptor). */
enum { GC_DS_LENGTH = 0, GC_DS_BITMAP = 1, GC_DS_PROC = 2, GC_DS_PER_OBJECT = 3 };
#define GC_LOG_MAX_MARK_PROCS 6

#define MAX_KINDS 64
#define MAX_PROCS 64
struct layer_kind {
    GC_word descr;
    int adjust, clear;
};
INTERNAL extern struct layer_kind layer_kinds[MAX_KINDS];
INTERNAL extern void *layer_procs[MAX_PROCS];

/* mark.c: the objects of kinds with a mark procedure. */
INTERNAL bool layer_kind_register(void *obj);
INTERNAL void layer_kind_forget(void *obj);
INTERNAL void layer_kind_mark_done(void);
INTERNAL void layer_mark_init(void);
INTERNAL void layer_scan_typed(uintptr_t base, size_t size, bool array);
INTERNAL void layer_typed_small_scan(uintptr_t base, size_t size);
INTERNAL void layer_typed_forget(void *obj);
INTERNAL void layer_typed_mark_done(void);
/* fork: each file's locks, taken (true) or given back (false) in the order
 * config.c's fork_locks calls them: finalize, debug, mark, alloc. */
INTERNAL void layer_finalize_locks(bool take);
INTERNAL void layer_debug_locks(bool take);
INTERNAL void layer_mark_locks(bool take);
INTERNAL void layer_alloc_locks(bool take);
/* Locks l[0..n) in order (take), or unlocked in the reverse order. */
static inline void layer_lock_list(pthread_mutex_t *const *l, size_t n, bool take)
{
    for (size_t i = 0; i < n; i++) {
        if (take)
            pthread_mutex_lock(l[i]);
        else
            pthread_mutex_unlock(l[n - 1 - i]);
    }
}

/* table.c: address -> word; the caller holds lock.  table_find gives the
 * slot of key or -1; table_put adds an absent key (false without memory). */
struct table {
    pthread_mutex_t lock;
    uintptr_t *keys; /* 0 empty, 1 removed */
    uintptr_t *vals;
    size_t cap, used, live;
};
INTERNAL long table_find(struct table *t, uintptr_t key);
INTERNAL bool table_put(struct table *t, uintptr_t key, uintptr_t val);
INTERNAL void table_del(struct table *t, long i);

/* alloc.c */
INTERNAL void *layer_alloc(size_t lb, int kind);
INTERNAL bool layer_is_uncollectable(const void *p);
INTERNAL int layer_kind_of(const void *p);

/* config.c: layer_init before anything else (cheap once done). */
INTERNAL extern _Atomic bool layer_ready;
INTERNAL void layer_init_slow(void);
INTERNAL extern __thread bool layer_in_epilogue; /* threads.c: this thread released the allocation lock */
INTERNAL void layer_epilogue_end(void);
static inline void layer_init(void)
{
    if (__builtin_expect(!atomic_load_explicit(&layer_ready, memory_order_acquire), 0))
        layer_init_slow();
    if (__builtin_expect(layer_in_epilogue, 0))
        layer_epilogue_end();
}
INTERNAL void layer_warn(const char *fmt, GC_word arg);
INTERNAL void *layer_oom(size_t lb); /* an allocation of lb failed: bdwgc's oom function for an impossible size */
INTERNAL extern int layer_dont_gc_depth;
INTERNAL extern __thread bool layer_holds_gc_lock; /* inside GC_alloc_lock .. GC_alloc_unlock or the start callback */
INTERNAL extern int layer_abort_on_leak; /* GC_ABORT_ON_LEAK: abort once leaks or smashes were reported */

/* finalize.c */
INTERNAL void layer_links_done(int which);
INTERNAL void layer_finalize_init(void);

/* finalize.c */
INTERNAL void layer_free_hook(void *obj);
INTERNAL extern _Atomic long layer_fin_queued; /* finalizers waiting for a program thread */
INTERNAL void layer_run_finalizers(void);
/* On each allocation: run the waiting finalizers (not on demand). */
static inline void layer_maybe_finalize(void)
{
    if (__builtin_expect(atomic_load_explicit(&layer_fin_queued, memory_order_relaxed) != 0, 0))
        layer_run_finalizers();
}

/* debug.c */
INTERNAL void layer_debug_mark_done(void);
INTERNAL void layer_debug_report(void);

/* The exported functions and variables the layer's files use of each other. */
BDWGC_API extern int GC_find_leak, GC_finalize_on_demand, GC_dont_gc;
BDWGC_API extern GC_finalizer_notifier_proc GC_finalizer_notifier;
BDWGC_API void *GC_malloc(size_t lb);
BDWGC_API void *GC_malloc_atomic(size_t lb);
BDWGC_API unsigned GC_new_proc(void *proc);
BDWGC_API void GC_free(void *p);
BDWGC_API void GC_gcollect(void);
BDWGC_API int GC_invoke_finalizers(void);
BDWGC_API void GC_register_finalizer(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                                     void **ocd);

#endif
