/*
 * gc/gc.h - bdwgc's API over tricolor.
 *
 * tricolor's libgc.so.1 stands in for the Boehm-Demers-Weiser collector's
 * (bdwgc 8.2.2, Debian 12's libgc1): the same names, types, constants and
 * ABI, so a program built for bdwgc runs on it unchanged, and a program built
 * from source with these headers runs on either library.  Build with
 *
 *     cc app.c $(pkg-config --cflags --libs tricolor-bdwgc)
 *     cc app.c -I PREFIX/include/tricolor-bdwgc -L PREFIX/lib/tricolor-bdwgc -lgc
 *
 * and run with -Wl,-rpath,PREFIX/lib/tricolor-bdwgc or LD_LIBRARY_PATH, so
 * that the loader picks tricolor's libgc.so.1 over the system's.  As with
 * Debian's headers, <gc.h> and <gc/gc.h> are the same header, and the other
 * headers live beside this one: gc/gc_mark.h, gc/gc_typed.h, gc/gc_inline.h,
 * gc/gc_gcj.h, gc/javaxfc.h, gc/leak_detector.h, gc/gc_disclaim.h, ...
 * A file may use tricolor.h too (include it first), but the two libraries
 * are separate: a program links with one of libtricolor and libgc.
 *
 * Where tricolor differs from bdwgc:
 *   - Marking runs beside the program, as Go's does: the world stops twice
 *     per collection, briefly, instead of for the whole mark.  Incremental
 *     mode is therefore always on: GC_enable_incremental is accepted and does
 *     nothing, and no GC_end_stubborn_change or GC_ptr_store_and_dirty call
 *     is needed for correctness (the kernel reports written pages).
 *   - Pacing is Go's: GOGC (heap growth in percent, default 100) and
 *     GOMEMLIMIT (a soft limit) decide when to collect, and
 *     GODEBUG=gctrace=1 prints one line per collection.  bdwgc's own tuning
 *     knobs (free space divisor, full frequency, time limit, ...) are
 *     accepted and read back as set.
 *   - Roots include every registered thread's __thread variables, which
 *     bdwgc does not scan.  A thread that allocates is registered, with or
 *     without GC_pthread_create or GC_register_my_thread.
 *   - Finalizers run on tricolor's finalizer thread, not inside whichever
 *     thread allocates, unless GC_set_finalize_on_demand(1) asks the program
 *     to run them with GC_invoke_finalizers.
 * tricolor.h describes the collector itself: roots, write tracking, threads.
 *
 * The C++ allocators (gc_cpp.h, gc_allocator.h, libgccpp) are not provided.
 */
#ifndef GC_H
#define GC_H

#include "gc_version.h"
#include "gc_config_macros.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

/* A machine word, wide enough for a pointer; and its signed twin. */
typedef unsigned long GC_word;
typedef long GC_signed_word;

/* An old name for void *. */
typedef void *GC_PTR;

/* The release of the ABI the library provides: 0x080202 for 8.2.2. */
GC_API unsigned GC_CALL GC_get_version(void);

/* ------------------------------------------------------------------------ */
/* Start-up                                                                  */
/* ------------------------------------------------------------------------ */

/* Initialise the library.  Optional, as in tricolor (the first call of any
 * function initialises it), and harmless to repeat; any thread may call it.
 * Prefer the GC_INIT() macro at the bottom of this header, which applies
 * the GC_INIT configuration macros too. */
GC_API void GC_CALL GC_init(void);

/* Nonzero once the library is initialised. */
GC_API int GC_CALL GC_is_init_called(void);

/* bdwgc's: release what the library holds, for a program that is done
 * with it.  tricolor keeps its heap until the process exits. */
GC_API void GC_CALL GC_deinit(void);

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */
/* ------------------------------------------------------------------------ */

/* GC_malloc(n): n bytes, zeroed, scanned for pointers, collected once
 * unreachable.  NULL when out of memory (after the oom function, below). */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc(size_t);

/* GC_malloc_atomic(n): n bytes that hold no pointers: never scanned, and
 * by contract not zeroed. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_atomic(size_t);

/* Pointer-free copies of a string, and of at most n of its bytes. */
GC_API GC_ATTR_MALLOC char *GC_CALL GC_strdup(const char *);
GC_API GC_ATTR_MALLOC char *GC_CALL GC_strndup(const char *, size_t) GC_ATTR_NONNULL(1);

/* Memory that is scanned but never collected: it lives until GC_free.  The
 * atomic kind is neither scanned nor collected. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_uncollectable(size_t);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_malloc_atomic_uncollectable(size_t);

/* bdwgc's hint for large objects: while the object is live, the program
 * keeps a pointer into its first 4 KiB.  Otherwise like GC_malloc and
 * GC_malloc_atomic; tricolor recognises every interior pointer anyway. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_ignore_off_page(size_t);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_malloc_atomic_ignore_off_page(size_t);

/* GC_memalign(align, n): a collected object of n bytes whose address is a
 * multiple of align (a power of two).  GC_posix_memalign(&p, align, n) is
 * the same with posix_memalign's contract: 0, EINVAL or ENOMEM. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(2) void *GC_CALL GC_memalign(size_t, size_t);
GC_API int GC_CALL GC_posix_memalign(void **, size_t, size_t) GC_ATTR_NONNULL(1);

/* Free the object that starts at the pointer, at once.  NULL is fine.  The
 * object should have no finalizer and no disappearing link left on it. */
GC_API void GC_CALL GC_free(void *);

/* GC_realloc(p, n): the object resized to n bytes, moved if need be, with
 * the old contents kept; the kind (scanned, atomic, uncollectable) is kept
 * too.  p NULL allocates like GC_malloc; n 0 frees p and returns NULL. */
GC_API void *GC_CALL GC_realloc(void *, size_t) GC_ATTR_ALLOC_SIZE(2);

/* The start of the object a pointer points into, or NULL when it points
 * into no object. */
GC_API void *GC_CALL GC_base(void *);

/* Nonzero when the pointer is inside the collected heap (not necessarily in
 * a live object). */
GC_API int GC_CALL GC_is_heap_ptr(const void *);

/* The usable size of the object that starts at the pointer: at least what
 * was asked for, rounded up to the object's size class. */
GC_API size_t GC_CALL GC_size(const void *) GC_ATTR_NONNULL(1);

/* GC_malloc_many(n): a list of objects of n bytes each, zeroed but for the
 * first word, which links each to the next (GC_NEXT), the last to NULL.
 * Cheaper than one GC_malloc each.  NULL when out of memory. */
GC_API GC_ATTR_MALLOC void *GC_CALL GC_malloc_many(size_t);
#define GC_NEXT(p) (*(void **)(p))

/* "Stubborn" objects are gone from bdwgc too: these remain for old code.
 * GC_end_stubborn_change(p) tells bdwgc's incremental mode that the object
 * at p was written; tricolor sees writes by itself, so it does nothing. */
#define GC_MALLOC_STUBBORN(sz) GC_MALLOC(sz)
#define GC_NEW_STUBBORN(t) GC_NEW(t)
#define GC_CHANGE_STUBBORN(p) GC_change_stubborn(p)
GC_API GC_ATTR_DEPRECATED void *GC_CALL GC_malloc_stubborn(size_t);
GC_API GC_ATTR_DEPRECATED void GC_CALL GC_change_stubborn(const void *);
GC_API void GC_CALL GC_end_stubborn_change(const void *) GC_ATTR_NONNULL(1);

/* ------------------------------------------------------------------------ */
/* Debug allocation and the allocation macros                                */
/* ------------------------------------------------------------------------ */

/*
 * The GC_debug_* functions take the caller's file and line as well, and put
 * them in a header before the object (GC_get_debug_header_size bytes, in
 * gc_mark.h) for reports: leaks in find-leak mode, and objects written past
 * their end, which a collection finds.  Objects from them must be freed,
 * resized and given finalizers with the GC_debug_* functions too.  Use the
 * upper-case macros below: they call the GC_debug_* ones when GC_DEBUG is
 * defined before this header, and the plain ones otherwise.
 */
#define GC_EXTRAS __FILE__, __LINE__
#define GC_EXTRA_PARAMS const char *s, int i

GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_malloc(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_malloc_atomic(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC char *GC_CALL GC_debug_strdup(const char *, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC char *GC_CALL GC_debug_strndup(const char *, size_t, GC_EXTRA_PARAMS)
    GC_ATTR_NONNULL(1);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_malloc_uncollectable(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_malloc_atomic_uncollectable(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_malloc_ignore_off_page(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_malloc_atomic_ignore_off_page(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_DEPRECATED void *GC_CALL GC_debug_malloc_stubborn(size_t, GC_EXTRA_PARAMS);
GC_API void GC_CALL GC_debug_free(void *);
GC_API void *GC_CALL GC_debug_realloc(void *, size_t, GC_EXTRA_PARAMS) GC_ATTR_ALLOC_SIZE(2);
GC_API GC_ATTR_DEPRECATED void GC_CALL GC_debug_change_stubborn(const void *);
GC_API void GC_CALL GC_debug_end_stubborn_change(const void *) GC_ATTR_NONNULL(1);

/* malloc- and realloc-shaped debug allocators (no file and line), for a
 * linker to put in malloc's place.  GC_DEBUG_REPLACEMENT makes GC_MALLOC and
 * GC_REALLOC use them. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_debug_malloc_replacement(size_t);
GC_API GC_ATTR_ALLOC_SIZE(2) void *GC_CALL GC_debug_realloc_replacement(void *, size_t);

#if defined(GC_DEBUG_REPLACEMENT)
#define GC_MALLOC(sz) GC_debug_malloc_replacement(sz)
#define GC_REALLOC(old, sz) GC_debug_realloc_replacement(old, sz)
#elif defined(GC_DEBUG)
#define GC_MALLOC(sz) GC_debug_malloc(sz, GC_EXTRAS)
#define GC_REALLOC(old, sz) GC_debug_realloc(old, sz, GC_EXTRAS)
#else
#define GC_MALLOC(sz) GC_malloc(sz)
#define GC_REALLOC(old, sz) GC_realloc(old, sz)
#endif

#ifdef GC_DEBUG
#define GC_MALLOC_ATOMIC(sz) GC_debug_malloc_atomic(sz, GC_EXTRAS)
#define GC_MALLOC_UNCOLLECTABLE(sz) GC_debug_malloc_uncollectable(sz, GC_EXTRAS)
#define GC_MALLOC_ATOMIC_UNCOLLECTABLE(sz) GC_debug_malloc_atomic_uncollectable(sz, GC_EXTRAS)
#define GC_MALLOC_IGNORE_OFF_PAGE(sz) GC_debug_malloc_ignore_off_page(sz, GC_EXTRAS)
#define GC_MALLOC_ATOMIC_IGNORE_OFF_PAGE(sz) GC_debug_malloc_atomic_ignore_off_page(sz, GC_EXTRAS)
#define GC_STRDUP(s) GC_debug_strdup(s, GC_EXTRAS)
#define GC_STRNDUP(s, sz) GC_debug_strndup(s, sz, GC_EXTRAS)
#define GC_FREE(p) GC_debug_free(p)
#define GC_REGISTER_FINALIZER(p, f, d, of, od) GC_debug_register_finalizer(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_IGNORE_SELF(p, f, d, of, od) \
    GC_debug_register_finalizer_ignore_self(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_NO_ORDER(p, f, d, of, od) \
    GC_debug_register_finalizer_no_order(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_UNREACHABLE(p, f, d, of, od) \
    GC_debug_register_finalizer_unreachable(p, f, d, of, od)
#define GC_END_STUBBORN_CHANGE(p) GC_debug_end_stubborn_change(p)
#define GC_PTR_STORE_AND_DIRTY(p, q) GC_debug_ptr_store_and_dirty(p, q)
/* A debug object's user pointer is past its header: links name the base. */
#define GC_GENERAL_REGISTER_DISAPPEARING_LINK(link, obj) \
    GC_general_register_disappearing_link(link, GC_base((void *)(obj)))
#define GC_REGISTER_LONG_LINK(link, obj) GC_register_long_link(link, GC_base((void *)(obj)))
#define GC_REGISTER_DISPLACEMENT(n) GC_debug_register_displacement(n)
#else
#define GC_MALLOC_ATOMIC(sz) GC_malloc_atomic(sz)
#define GC_MALLOC_UNCOLLECTABLE(sz) GC_malloc_uncollectable(sz)
#define GC_MALLOC_ATOMIC_UNCOLLECTABLE(sz) GC_malloc_atomic_uncollectable(sz)
#define GC_MALLOC_IGNORE_OFF_PAGE(sz) GC_malloc_ignore_off_page(sz)
#define GC_MALLOC_ATOMIC_IGNORE_OFF_PAGE(sz) GC_malloc_atomic_ignore_off_page(sz)
#define GC_STRDUP(s) GC_strdup(s)
#define GC_STRNDUP(s, sz) GC_strndup(s, sz)
#define GC_FREE(p) GC_free(p)
#define GC_REGISTER_FINALIZER(p, f, d, of, od) GC_register_finalizer(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_IGNORE_SELF(p, f, d, of, od) \
    GC_register_finalizer_ignore_self(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_NO_ORDER(p, f, d, of, od) \
    GC_register_finalizer_no_order(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_UNREACHABLE(p, f, d, of, od) \
    GC_register_finalizer_unreachable(p, f, d, of, od)
#define GC_END_STUBBORN_CHANGE(p) GC_end_stubborn_change(p)
#define GC_PTR_STORE_AND_DIRTY(p, q) GC_ptr_store_and_dirty(p, q)
#define GC_GENERAL_REGISTER_DISAPPEARING_LINK(link, obj) \
    GC_general_register_disappearing_link(link, obj)
#define GC_REGISTER_LONG_LINK(link, obj) GC_register_long_link(link, obj)
#define GC_REGISTER_DISPLACEMENT(n) GC_register_displacement(n)
#endif

/* A zeroed t (an atomic one is not zeroed; an uncollectable one lives until
 * GC_FREE).  NULL when out of memory. */
#define GC_NEW(t) ((t *)GC_MALLOC(sizeof(t)))
#define GC_NEW_ATOMIC(t) ((t *)GC_MALLOC_ATOMIC(sizeof(t)))
#define GC_NEW_UNCOLLECTABLE(t) ((t *)GC_MALLOC_UNCOLLECTABLE(sizeof(t)))

/* ------------------------------------------------------------------------ */
/* Collection                                                                */
/* ------------------------------------------------------------------------ */

/* A full collection; when it returns, marking and sweeping are done. */
GC_API void GC_CALL GC_gcollect(void);

/* GC_gcollect, then return every free page to the OS (tricolor's
 * gc_free_os_memory). */
GC_API void GC_CALL GC_gcollect_and_unmap(void);

/* bdwgc's collection that stops early when stop_func, asked from time to
 * time, returns nonzero.  Returns 1 if the collection completed, 0 if it
 * was stopped or collection is disabled.  tricolor's collection is not
 * stopped: it completes, as GC_gcollect. */
typedef int(GC_CALLBACK *GC_stop_func)(void);
GC_API int GC_CALL GC_try_to_collect(GC_stop_func) GC_ATTR_NONNULL(1);

/* The stop function of GC_gcollect and of the collections the library
 * starts itself (bdwgc's; the default never stops one).  Kept and read
 * back. */
GC_API void GC_CALL GC_set_stop_func(GC_stop_func) GC_ATTR_NONNULL(1);
GC_API GC_stop_func GC_CALL GC_get_stop_func(void);

/* GC_disable and GC_enable nest: collection is off while more disables than
 * enables were made (explicit collections too).  GC_is_disabled says so. */
GC_API void GC_CALL GC_disable(void);
GC_API int GC_CALL GC_is_disabled(void);
GC_API void GC_CALL GC_enable(void);

/* Turn collections the library starts by itself off (nonzero) or back on;
 * GC_gcollect still collects. */
GC_API void GC_CALL GC_set_disable_automatic_collection(int);
GC_API int GC_CALL GC_get_disable_automatic_collection(void);

/* Incremental mode.  tricolor always marks concurrently, so
 * GC_enable_incremental does nothing and GC_is_incremental_mode reports the
 * mode on.  GC_incremental_protection_needs says what bdwgc's incremental
 * mode protects, which the program must allow for: tricolor answers
 * GC_PROTECTS_NONE (but see tricolor.h on its mprotect backend, where a
 * system call that writes into the heap while marking runs may fail with
 * EFAULT, as under bdwgc's incremental mode). */
GC_API void GC_CALL GC_enable_incremental(void);
GC_API int GC_CALL GC_is_incremental_mode(void);
#define GC_PROTECTS_NONE 0
#define GC_PROTECTS_POINTER_HEAP 1
#define GC_PROTECTS_PTRFREE_HEAP 2
#define GC_PROTECTS_STATIC_DATA 4
#define GC_PROTECTS_STACK 8
GC_API int GC_CALL GC_incremental_protection_needs(void);

/* Whether bdwgc may use a manual write barrier (GC_end_stubborn_change
 * calls) in place of page protection. */
GC_API void GC_CALL GC_set_manual_vdb_allowed(int);
GC_API int GC_CALL GC_get_manual_vdb_allowed(void);

/* bdwgc's: start an incremental collection and return.  tricolor runs a
 * full one, as GC_gcollect. */
GC_API void GC_CALL GC_start_incremental_collection(void);

/* Do a little collection work; nonzero while there is more to do.
 * tricolor's collector works on its own threads: this returns 0. */
GC_API int GC_CALL GC_collect_a_little(void);

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * bdwgc's options, each with a setter and a getter, and for the older ones a
 * variable that holds it (the variables are deprecated: use the functions).
 * Set them before GC_init when they are about start-up.  Below is what each
 * means to bdwgc.  tricolor paces collections as Go does (GOGC,
 * GOMEMLIMIT), grows its heap as it needs and scans the data of every
 * loaded object, so the options about bdwgc's own pacing, heap growth and
 * library scanning are kept and read back but change nothing: no_dls,
 * dont_expand, use_entire_heap, full_freq, non_gc_bytes, max_retries,
 * dont_precollect, the time limit, allocd_bytes_per_finalizer,
 * min_bytes_allocd, rate, max_prior_attempts, manual_vdb_allowed and
 * pages_executable.
 */

/* Nonzero: find-leak mode.  A collection reports the objects from the
 * GC_debug_* allocators it finds unreachable (stderr, with their file and
 * line), then frees them as usual.  Set before GC_init. */
GC_API GC_ATTR_DEPRECATED int GC_find_leak;
GC_API void GC_CALL GC_set_find_leak(int);
GC_API int GC_CALL GC_get_find_leak(void);

/* Whether a pointer into an object, not only to its start, keeps it.  On
 * (1) by default; tricolor always recognises interior pointers, whatever
 * this says.  Set before GC_init. */
GC_API GC_ATTR_DEPRECATED int GC_all_interior_pointers;
GC_API void GC_CALL GC_set_all_interior_pointers(int);
GC_API int GC_CALL GC_get_all_interior_pointers(void);

/* Nonzero: finalizers wait for GC_invoke_finalizers, and the finalizer
 * notifier (below) is called when some are ready. */
GC_API GC_ATTR_DEPRECATED int GC_finalize_on_demand;
GC_API void GC_CALL GC_set_finalize_on_demand(int);
GC_API int GC_CALL GC_get_finalize_on_demand(void);

/* Nonzero (the default): what an object with an unordered finalizer
 * (_no_order, _unreachable) points to is kept until the finalizer ran, so
 * that it finds it intact, as Java's do.  tricolor always keeps it. */
GC_API GC_ATTR_DEPRECATED int GC_java_finalization;
GC_API void GC_CALL GC_set_java_finalization(int);
GC_API int GC_CALL GC_get_java_finalization(void);

/* Called (with no lock held) when finalizers are ready and finalize on
 * demand is set.  NULL: none. */
typedef void(GC_CALLBACK *GC_finalizer_notifier_proc)(void);
GC_API GC_ATTR_DEPRECATED GC_finalizer_notifier_proc GC_finalizer_notifier;
GC_API void GC_CALL GC_set_finalizer_notifier(GC_finalizer_notifier_proc);
GC_API GC_finalizer_notifier_proc GC_CALL GC_get_finalizer_notifier(void);

/* Nonzero: never collect.  A debugging switch; GC_disable is the API. */
GC_API GC_ATTR_DEPRECATED int GC_dont_gc;

/* Nonzero: do not grow the heap, except when a collection did not help. */
GC_API GC_ATTR_DEPRECATED int GC_dont_expand;
GC_API void GC_CALL GC_set_dont_expand(int);
GC_API int GC_CALL GC_get_dont_expand(void);

/* Nonzero: use all of the free heap before growing it. */
GC_API GC_ATTR_DEPRECATED int GC_use_entire_heap;

/* bdwgc's full collection frequency (every n partial ones). */
GC_API GC_ATTR_DEPRECATED int GC_full_freq;
GC_API void GC_CALL GC_set_full_freq(int);
GC_API int GC_CALL GC_get_full_freq(void);

/* Bytes of memory the program allocated outside the collector that should
 * count as heap for pacing (bdwgc's accounting). */
GC_API GC_ATTR_DEPRECATED GC_word GC_non_gc_bytes;
GC_API void GC_CALL GC_set_non_gc_bytes(GC_word);
GC_API GC_word GC_CALL GC_get_non_gc_bytes(void);

/* Nonzero: do not scan the data and bss of shared libraries as roots (the
 * program registers what it needs with GC_add_roots).  Set before GC_init. */
GC_API GC_ATTR_DEPRECATED int GC_no_dls;
GC_API void GC_CALL GC_set_no_dls(int);
GC_API int GC_CALL GC_get_no_dls(void);

/* bdwgc's heap growth knob: larger collects more often (default 3).
 * tricolor turns it into Go's GOGC, 3 being GOGC=100. */
GC_API GC_ATTR_DEPRECATED GC_word GC_free_space_divisor;
GC_API void GC_CALL GC_set_free_space_divisor(GC_word);
GC_API GC_word GC_CALL GC_get_free_space_divisor(void);

/* How many collections an allocation tries before it gives up when the
 * heap may not grow (default 0). */
GC_API GC_ATTR_DEPRECATED GC_word GC_max_retries;
GC_API void GC_CALL GC_set_max_retries(GC_word);
GC_API GC_word GC_CALL GC_get_max_retries(void);

/* The cold end of the main thread's stack (bdwgc's guess, or what the
 * program set before GC_init).  See GC_set_stackbottom. */
GC_API GC_ATTR_DEPRECATED char *GC_stackbottom;

/* Nonzero: do not collect before the first heap growth. */
GC_API GC_ATTR_DEPRECATED int GC_dont_precollect;
GC_API void GC_CALL GC_set_dont_precollect(int);
GC_API int GC_CALL GC_get_dont_precollect(void);

/* bdwgc's pause target for incremental collections, in milliseconds
 * (default GC_TIME_UNLIMITED); GC_set_time_limit_tv adds nanoseconds.
 * tricolor's pauses do not depend on the heap's size. */
#define GC_TIME_UNLIMITED 999999
GC_API GC_ATTR_DEPRECATED unsigned long GC_time_limit;
GC_API void GC_CALL GC_set_time_limit(unsigned long);
GC_API unsigned long GC_CALL GC_get_time_limit(void);
struct GC_timeval_s {
    unsigned long tv_ms;   /* milliseconds */
    unsigned long tv_nsec; /* and nanoseconds, under a million */
};
GC_API void GC_CALL GC_set_time_limit_tv(struct GC_timeval_s);
GC_API struct GC_timeval_s GC_CALL GC_get_time_limit_tv(void);

/* bdwgc's collection triggers and effort: bytes to allocate between
 * finalizer runs, the least bytes allocated between collections, the
 * incremental work rate, and how many collections may run before the heap
 * grows. */
GC_API void GC_CALL GC_set_allocd_bytes_per_finalizer(GC_word);
GC_API GC_word GC_CALL GC_get_allocd_bytes_per_finalizer(void);
GC_API void GC_CALL GC_set_min_bytes_allocd(size_t);
GC_API size_t GC_CALL GC_get_min_bytes_allocd(void);
GC_API void GC_CALL GC_set_rate(int);
GC_API int GC_CALL GC_get_rate(void);
GC_API void GC_CALL GC_set_max_prior_attempts(int);
GC_API int GC_CALL GC_get_max_prior_attempts(void);

/* Nonzero: map the heap executable (tricolor's never is). */
GC_API void GC_CALL GC_set_pages_executable(int);
GC_API int GC_CALL GC_get_pages_executable(void);

/* Nonzero: GC_gcollect also returns free memory to the OS, as
 * GC_gcollect_and_unmap. */
GC_API void GC_CALL GC_set_force_unmap_on_gcollect(int);
GC_API int GC_CALL GC_get_force_unmap_on_gcollect(void);

/* Start measuring the time spent in full collections;
 * GC_get_full_gc_total_time returns it, in milliseconds. */
GC_API void GC_CALL GC_start_performance_measurement(void);
GC_API unsigned long GC_CALL GC_get_full_gc_total_time(void);

/* ------------------------------------------------------------------------ */
/* Heap size and statistics                                                  */
/* ------------------------------------------------------------------------ */

/* Grow the heap by at least n bytes now; nonzero on success.  tricolor
 * grows its heap as allocations need, and the call succeeds. */
GC_API int GC_CALL GC_expand_hp(size_t);

/* A limit on the heap's size, in bytes (0: none).  bdwgc's is hard: an
 * allocation that would pass it fails (through the oom function).
 * tricolor's is GOMEMLIMIT's soft limit, and GOMEMLIMIT, when set, wins. */
GC_API void GC_CALL GC_set_max_heap_size(GC_word);

/* The number of collections so far (the variable is deprecated). */
GC_API GC_ATTR_DEPRECATED GC_word GC_gc_no;
GC_API GC_word GC_CALL GC_get_gc_no(void);

/* Bytes: the heap (mapped, not returned to the OS), its free part, what was
 * returned to the OS, allocated since the last collection, freed with
 * GC_free since then, allocated in all, and obtained from the OS in all. */
GC_API size_t GC_CALL GC_get_heap_size(void);
GC_API size_t GC_CALL GC_get_free_bytes(void);
GC_API size_t GC_CALL GC_get_unmapped_bytes(void);
GC_API size_t GC_CALL GC_get_bytes_since_gc(void);
GC_API size_t GC_CALL GC_get_expl_freed_bytes_since_gc(void);
GC_API size_t GC_CALL GC_get_total_bytes(void);
GC_API size_t GC_CALL GC_get_obtained_from_os_bytes(void);

/* Bytes in allocated objects (the heap less its free part). */
GC_API size_t GC_CALL GC_get_memory_use(void);

/* Heap size, free bytes, unmapped bytes, bytes since the last collection
 * and total bytes allocated, read together; any pointer may be NULL. */
GC_API void GC_CALL GC_get_heap_usage_safe(GC_word *, GC_word *, GC_word *, GC_word *,
                                           GC_word *);

/* All the statistics at once.  Fields are only ever added at the end. */
struct GC_prof_stats_s {
    GC_word heapsize_full;             /* heap size, unmapped part included */
    GC_word free_bytes_full;           /* free bytes, unmapped part included */
    GC_word unmapped_bytes;            /* returned to the OS */
    GC_word bytes_allocd_since_gc;     /* allocated since the last collection */
    GC_word allocd_bytes_before_gc;    /* allocated before it */
    GC_word non_gc_bytes;              /* GC_get_non_gc_bytes() */
    GC_word gc_no;                     /* GC_get_gc_no() */
    GC_word markers_m1;                /* marker threads, less one */
    GC_word bytes_reclaimed_since_gc;  /* reclaimed by the last collection */
    GC_word reclaimed_bytes_before_gc; /* reclaimed before it */
    GC_word expl_freed_bytes_since_gc; /* freed with GC_free since it */
    GC_word obtained_from_os_bytes;    /* obtained from the OS in all */
};

/* Fill *stats, of stats_sz bytes: a smaller struct (an older program's)
 * gets its fields, a larger one all ones past the fields the library knows.
 * Returns the bytes of fields written.  The _unsafe variant takes no lock:
 * call it from GC_call_with_alloc_lock. */
GC_API size_t GC_CALL GC_get_prof_stats(struct GC_prof_stats_s *, size_t);
GC_API size_t GC_CALL GC_get_prof_stats_unsafe(struct GC_prof_stats_s *, size_t);

/* The size an allocation of i bytes really gets, for the small sizes
 * (bdwgc: (size_t)-1 for an i outside them). */
GC_API size_t GC_CALL GC_get_size_map_at(int);

/* Print the state of the heap (its regions, the finalizer tables) on
 * stderr, GC_dump_named under a name.  tricolor prints a summary of its
 * statistics; GC_set_log_fd is accepted, and tricolor writes to stderr. */
GC_API void GC_CALL GC_dump(void);
GC_API void GC_CALL GC_dump_named(const char *);
GC_API void GC_CALL GC_dump_regions(void);
GC_API void GC_CALL GC_dump_finalization(void);
GC_API void GC_CALL GC_set_log_fd(int);

/* ------------------------------------------------------------------------ */
/* Events, warnings, failures                                                */
/* ------------------------------------------------------------------------ */

/* The out-of-memory function: when an allocation of n bytes fails, it
 * returns what this returns (NULL by default).  The variable is deprecated. */
typedef void *(GC_CALLBACK *GC_oom_func)(size_t);
GC_API GC_ATTR_DEPRECATED GC_oom_func GC_oom_fn;
GC_API void GC_CALL GC_set_oom_fn(GC_oom_func) GC_ATTR_NONNULL(1);
GC_API GC_oom_func GC_CALL GC_get_oom_fn(void);

/* Called with the new heap size whenever the heap grows or shrinks. */
typedef void(GC_CALLBACK *GC_on_heap_resize_proc)(GC_word);
GC_API GC_ATTR_DEPRECATED GC_on_heap_resize_proc GC_on_heap_resize;
GC_API void GC_CALL GC_set_on_heap_resize(GC_on_heap_resize_proc);
GC_API GC_on_heap_resize_proc GC_CALL GC_get_on_heap_resize(void);

/* The phases of a collection, and the stop of one thread. */
typedef enum {
    GC_EVENT_START,             /* a collection begins */
    GC_EVENT_MARK_START,
    GC_EVENT_MARK_END,
    GC_EVENT_RECLAIM_START,     /* sweeping */
    GC_EVENT_RECLAIM_END,
    GC_EVENT_END,               /* the collection is over */
    GC_EVENT_PRE_STOP_WORLD,
    GC_EVENT_POST_STOP_WORLD,
    GC_EVENT_PRE_START_WORLD,
    GC_EVENT_POST_START_WORLD,
    GC_EVENT_THREAD_SUSPENDED,  /* for the thread event callback */
    GC_EVENT_THREAD_UNSUSPENDED
} GC_EventType;

/* Called at each collection phase (NULL: none).  It runs inside the
 * collector, perhaps with the world stopped: it must not allocate or
 * take locks the program's threads may hold. */
typedef void(GC_CALLBACK *GC_on_collection_event_proc)(GC_EventType);
GC_API void GC_CALL GC_set_on_collection_event(GC_on_collection_event_proc);
GC_API GC_on_collection_event_proc GC_CALL GC_get_on_collection_event(void);

/* Called as each thread is stopped and restarted, with its pthread_t
 * (cast to a pointer).  The same rules apply. */
typedef void(GC_CALLBACK *GC_on_thread_event_proc)(GC_EventType, void *);
GC_API void GC_CALL GC_set_on_thread_event(GC_on_thread_event_proc);
GC_API GC_on_thread_event_proc GC_CALL GC_get_on_thread_event(void);

/* Warnings: a printf format with one word argument.  The default prints it
 * to stderr; GC_ignore_warn_proc drops it. */
typedef void(GC_CALLBACK *GC_warn_proc)(char *, GC_word);
GC_API void GC_CALL GC_set_warn_proc(GC_warn_proc) GC_ATTR_NONNULL(1);
GC_API GC_warn_proc GC_CALL GC_get_warn_proc(void);
GC_API void GC_CALLBACK GC_ignore_warn_proc(char *, GC_word);

/* Called with a message just before a fatal error stops the program (with
 * NULL before an exit(1)).  The default prints the message. */
typedef void(GC_CALLBACK *GC_abort_func)(const char *);
GC_API void GC_CALL GC_set_abort_func(GC_abort_func) GC_ATTR_NONNULL(1);
GC_API GC_abort_func GC_CALL GC_get_abort_func(void);

/* Report that memory is exhausted and stop the program. */
GC_API void GC_CALL GC_abort_on_oom(void);

/* ------------------------------------------------------------------------ */
/* Roots                                                                     */
/* ------------------------------------------------------------------------ */

/* Scan [low, high) as a root at every collection (memory the collector
 * does not own: a malloc'd table, a mapping).  The data and bss of the
 * program and of every loaded library are roots already. */
GC_API void GC_CALL GC_add_roots(void *, void *);

/* Stop scanning the registered roots within [low, high). */
GC_API void GC_CALL GC_remove_roots(void *, void *);

/* Forget every root registered with GC_add_roots. */
GC_API void GC_CALL GC_clear_roots(void);

/* Leave [low, high) of the static data out of the roots (a large table that
 * holds no pointers); GC_clear_exclusion_table forgets every exclusion.
 * tricolor accepts them and scans the data whole: that keeps more alive,
 * never less. */
GC_API void GC_CALL GC_exclude_static_roots(void *, void *);
GC_API void GC_CALL GC_clear_exclusion_table(void);

/* bdwgc asks this about each writable segment of a loaded library (its file
 * name, the start and size of the segment) before it becomes a root: zero
 * leaves it out.  NULL: no filter.  tricolor accepts the filter and scans
 * every segment. */
typedef int(GC_CALLBACK *GC_has_static_roots_func)(const char *, void *, size_t);
GC_API void GC_CALL GC_register_has_static_roots_callback(GC_has_static_roots_func);

/* Pointers to an object at offset n (and to its start) keep it, when
 * interior pointers are not recognised in general.  tricolor recognises
 * them all; kept for bdwgc's contract. */
GC_API void GC_CALL GC_register_displacement(size_t);
GC_API void GC_CALL GC_debug_register_displacement(size_t);

/* ------------------------------------------------------------------------ */
/* Finalization                                                              */
/* ------------------------------------------------------------------------ */

/*
 * A finalizer fn(obj, cd) runs once, after the collector found obj (the
 * start of a collected object) unreachable; obj and what it points to are
 * kept intact until it ran, and it may make obj reachable again.  One per
 * object: registering another replaces it, and the previous one is stored
 * in *ofn and *ocd when they are not NULL; fn NULL removes it.  The four
 * differ in what counts as reaching obj:
 *   GC_register_finalizer              an object with a finalizer that obj
 *                                      reaches is finalized after obj, at a
 *                                      later collection (tricolor's and Go's
 *                                      order); objects in a cycle of
 *                                      finalizable objects are never finalized
 *   ..._ignore_self                    the same, but pointers from obj to
 *                                      itself do not count (a cycle of one)
 *   ..._no_order                       no order: obj is finalized as soon as it
 *                                      is unreachable from roots (what Guile,
 *                                      ECL and other runtimes use)
 *   ..._unreachable                    bdwgc: obj is finalized only once
 *                                      nothing, not even another finalizable
 *                                      object, reaches it (Java's rule);
 *                                      tricolor runs it as a _no_order one
 * Finalizers run on tricolor's finalizer thread, one at a time, not inside
 * an allocation as with bdwgc; with GC_set_finalize_on_demand(1) they wait
 * for the program to call GC_invoke_finalizers.  Objects from GC_debug_*
 * take the GC_debug_register_finalizer* forms (or the macros above).
 */
typedef void(GC_CALLBACK *GC_finalization_proc)(void *, void *);

GC_API void GC_CALL GC_register_finalizer(void *, GC_finalization_proc, void *,
                                          GC_finalization_proc *, void **) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_debug_register_finalizer(void *, GC_finalization_proc, void *,
                                                GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_register_finalizer_ignore_self(void *, GC_finalization_proc, void *,
                                                      GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_debug_register_finalizer_ignore_self(void *, GC_finalization_proc,
                                                            void *, GC_finalization_proc *,
                                                            void **) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_register_finalizer_no_order(void *, GC_finalization_proc, void *,
                                                   GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_debug_register_finalizer_no_order(void *, GC_finalization_proc, void *,
                                                         GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_register_finalizer_unreachable(void *, GC_finalization_proc, void *,
                                                      GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_debug_register_finalizer_unreachable(void *, GC_finalization_proc,
                                                            void *, GC_finalization_proc *,
                                                            void **) GC_ATTR_NONNULL(1);

/* Nonzero when finalizers are waiting to run. */
GC_API int GC_CALL GC_should_invoke_finalizers(void);

/* Run the finalizers that are ready, in the calling thread; returns how
 * many ran. */
GC_API int GC_CALL GC_invoke_finalizers(void);

/* Called, inside the collector, for each object whose finalizer was just
 * queued.  NULL: none. */
typedef void(GC_CALLBACK *GC_await_finalize_proc)(void *);
GC_API void GC_CALL GC_set_await_finalize_proc(GC_await_finalize_proc);
GC_API GC_await_finalize_proc GC_CALL GC_get_await_finalize_proc(void);

/* Toggle references (Mono's): an object registered with GC_toggleref_add
 * is held strongly or weakly as the callback decides at each collection,
 * until it answers DROP or the object is gone. */
typedef enum { GC_TOGGLE_REF_DROP, GC_TOGGLE_REF_STRONG, GC_TOGGLE_REF_WEAK } GC_ToggleRefStatus;
typedef GC_ToggleRefStatus(GC_CALLBACK *GC_toggleref_func)(void *);
GC_API void GC_CALL GC_set_toggleref_func(GC_toggleref_func);
GC_API GC_toggleref_func GC_CALL GC_get_toggleref_func(void);
/* GC_toggleref_add(obj, is_strong): GC_SUCCESS, or GC_NO_MEMORY. */
GC_API int GC_CALL GC_toggleref_add(void *, int) GC_ATTR_NONNULL(1);

/* ------------------------------------------------------------------------ */
/* Disappearing links (weak pointers)                                        */
/* ------------------------------------------------------------------------ */

/* Status codes of the link and thread functions. */
#define GC_SUCCESS 0
#define GC_DUPLICATE 1     /* already registered */
#define GC_NO_THREADS 2    /* no longer returned */
#define GC_UNIMPLEMENTED 3 /* not available on this platform */
#define GC_NOT_FOUND 4     /* no such link */
#define GC_NO_MEMORY 2     /* out of memory (GC_toggleref_add) */

/*
 * A disappearing link is a pointer *link that does not keep obj: when obj
 * is found unreachable, *link is set to NULL, before obj's finalizer (if
 * any) is queued.  A long link is cleared only once obj is really gone,
 * after a finalizer that might resurrect it.  *link must not itself be
 * scanned as a pointer to obj (hide it: GC_HIDE_POINTER, or keep it in
 * atomic memory), or obj stays reachable.  Register returns GC_SUCCESS, or
 * GC_DUPLICATE when link was registered already (the object is then
 * replaced), or GC_NO_MEMORY.  Move carries a registration from link to
 * new_link: GC_SUCCESS, GC_DUPLICATE (new_link taken) or GC_NOT_FOUND.
 * Unregister returns nonzero when link was registered.
 */
GC_API int GC_CALL GC_general_register_disappearing_link(void **, const void *)
    GC_ATTR_NONNULL(1) GC_ATTR_NONNULL(2);
/* The same with obj = GC_base(link): link lives in the object it watches. */
GC_API int GC_CALL GC_register_disappearing_link(void **) GC_ATTR_NONNULL(1);
GC_API int GC_CALL GC_move_disappearing_link(void **, void **) GC_ATTR_NONNULL(2);
GC_API int GC_CALL GC_unregister_disappearing_link(void **);

GC_API int GC_CALL GC_register_long_link(void **, const void *) GC_ATTR_NONNULL(1)
    GC_ATTR_NONNULL(2);
GC_API int GC_CALL GC_move_long_link(void **, void **) GC_ATTR_NONNULL(2);
GC_API int GC_CALL GC_unregister_long_link(void **);

/* A pointer in a form the collector does not take for one, and back.
 * Reveal only what is known to be alive (a link that is not NULL, read
 * under GC_call_with_alloc_lock). */
typedef GC_word GC_hidden_pointer;
#define GC_HIDE_POINTER(p) (~(GC_hidden_pointer)(p))
#define GC_REVEAL_POINTER(p) ((void *)GC_HIDE_POINTER(p))
#if defined(I_HIDE_POINTERS) || defined(GC_I_HIDE_POINTERS)
#define HIDE_POINTER(p) GC_HIDE_POINTER(p)
#define REVEAL_POINTER(p) GC_REVEAL_POINTER(p)
#endif

/* ------------------------------------------------------------------------ */
/* Keeping objects reachable; pointer checks                                 */
/* ------------------------------------------------------------------------ */

/* Takes a word and does nothing, out of the compiler's sight. */
GC_API void GC_CALL GC_noop1(GC_word);

/* ptr stays reachable at least until here (tricolor's gc_keep_alive, Go's
 * runtime.KeepAlive): its finalizer cannot run, nor its links clear, before. */
#if defined(__GNUC__)
#define GC_reachable_here(ptr) __asm__ __volatile__("" : : "g"(ptr) : "memory")
#else
#define GC_reachable_here(ptr) GC_noop1((GC_word)(ptr))
#endif

/* *p = q, followed by what bdwgc's manual write barrier needs (the store is
 * reported, q kept reachable until done).  tricolor tracks writes itself:
 * a plain store is as good, but these are there for bdwgc's programs. */
GC_API void GC_CALL GC_ptr_store_and_dirty(void *, const void *);
GC_API void GC_CALL GC_debug_ptr_store_and_dirty(void *, const void *);

/*
 * Checks for debugging pointer arithmetic, which call the matching print
 * procedure below when they fail: GC_same_obj(p, q) that p and q point
 * into the same object; GC_pre_incr(&p, n) and GC_post_incr(&p, n) add n
 * bytes to p, check that it stays in its object, and return the new and
 * the old p; GC_is_visible(p) that p lies where the collector scans;
 * GC_is_valid_displacement(p) that p, if it points into the heap, points
 * to a place that keeps its object.  The others return their (first)
 * argument.
 */
GC_API void *GC_CALL GC_same_obj(void *, void *);
GC_API void *GC_CALL GC_pre_incr(void **, ptrdiff_t) GC_ATTR_NONNULL(1);
GC_API void *GC_CALL GC_post_incr(void **, ptrdiff_t) GC_ATTR_NONNULL(1);
GC_API void *GC_CALL GC_is_visible(void *);
GC_API void *GC_CALL GC_is_valid_displacement(void *);
GC_API void(GC_CALLBACK *GC_same_obj_print_proc)(void *, void *);
GC_API void(GC_CALLBACK *GC_is_valid_displacement_print_proc)(void *);
GC_API void(GC_CALLBACK *GC_is_visible_print_proc)(void *);

/* Pointer arithmetic that GC_DEBUG checks (with gcc or clang). */
#if defined(GC_DEBUG) && defined(__GNUC__)
#define GC_PTR_ADD3(x, n, type_of_result) ((type_of_result)GC_same_obj((x) + (n), (x)))
#define GC_PRE_INCR3(x, n, type_of_result) \
    ((type_of_result)GC_pre_incr((void **)(&(x)), (n) * sizeof(*(x))))
#define GC_POST_INCR3(x, n, type_of_result) \
    ((type_of_result)GC_post_incr((void **)(&(x)), (n) * sizeof(*(x))))
#define GC_PTR_ADD(x, n) GC_PTR_ADD3(x, n, __typeof__(x))
#define GC_PRE_INCR(x, n) GC_PRE_INCR3(x, n, __typeof__(x))
#define GC_POST_INCR(x) GC_POST_INCR3(x, 1, __typeof__(x))
#define GC_POST_DECR(x) GC_POST_INCR3(x, -1, __typeof__(x))
#else
#define GC_PTR_ADD(x, n) ((x) + (n))
#define GC_PRE_INCR(x, n) ((x) += (n))
#define GC_POST_INCR(x) ((x)++)
#define GC_POST_DECR(x) ((x)--)
#endif

/* *p = q, for p outside the stack; GC_DEBUG checks both pointers. */
#ifdef GC_DEBUG
#define GC_PTR_STORE(p, q) \
    (*(void **)GC_is_visible((void *)(p)) = GC_is_valid_displacement((void *)(q)))
#else
#define GC_PTR_STORE(p, q) (*(void **)(p) = (void *)(q))
#endif

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * tricolor is always thread-safe, and these are declared whether or not
 * GC_THREADS is defined; GC_THREADS only adds gc_pthread_redirects.h
 * (pthread_create and friends renamed to GC_pthread_*).  A thread is
 * registered when it allocates, or through GC_pthread_create or
 * GC_register_my_thread; its stack, registers and __thread variables are
 * then roots.  Threads are stopped with a signal (GC_get_suspend_signal).
 */

/* The allocator lock: while a thread holds it, no collection runs or
 * starts (with bdwgc no other thread allocates either; tricolor's other
 * threads may go on allocating).  Not reentrant.  bdwgc turns these into
 * no-ops without GC_THREADS; tricolor always has threads of its own. */
GC_API void GC_CALL GC_alloc_lock(void);
GC_API void GC_CALL GC_alloc_unlock(void);

/* fn(client_data) with the allocator lock held; returns what fn returns.
 * fn must not allocate. */
typedef void *(GC_CALLBACK *GC_fn_type)(void *);
GC_API void *GC_CALL GC_call_with_alloc_lock(GC_fn_type, void *) GC_ATTR_NONNULL(1);

/* The cold end of a stack: its highest address, as stacks grow down. */
struct GC_stack_base {
    void *mem_base;
};
typedef void *(GC_CALLBACK *GC_stack_base_func)(struct GC_stack_base *, void *);

/* fn(sb, arg), sb describing a point in this call's frame, so that fn may
 * register the thread with it.  Returns what fn returns. */
GC_API void *GC_CALL GC_call_with_stack_base(GC_stack_base_func, void *) GC_ATTR_NONNULL(1);

/* Fill *sb with the calling thread's stack base: GC_SUCCESS, or
 * GC_UNIMPLEMENTED when it cannot be found. */
GC_API int GC_CALL GC_get_stack_base(struct GC_stack_base *) GC_ATTR_NONNULL(1);

/* Allow GC_register_my_thread (always allowed in tricolor). */
GC_API void GC_CALL GC_allow_register_threads(void);

/* Register the calling thread, whose stack base is *sb (tricolor finds it
 * itself): GC_SUCCESS, or GC_DUPLICATE if it is registered already.  A
 * thread registered so calls GC_unregister_my_thread before it exits
 * (tricolor also unregisters a thread that exits without). */
GC_API int GC_CALL GC_register_my_thread(const struct GC_stack_base *) GC_ATTR_NONNULL(1);
GC_API int GC_CALL GC_unregister_my_thread(void);

/* Nonzero when the calling thread is registered. */
GC_API int GC_CALL GC_thread_is_registered(void);

/* The calling thread's stack [stack_start, +stack_size) and its signal
 * stack [altstack, +altstack_size), so that bdwgc scans the right one when
 * the thread is stopped on its signal stack.  tricolor finds the stack a
 * thread runs on by itself (tricolor.h) and accepts the call. */
GC_API void GC_CALL GC_register_altstack(void *, GC_word, void *, GC_word);

/* fn(client_data) as a blocked thread, for a long system call: the
 * collector does not stop the thread and scans its stack only above this
 * call.  fn must not touch collected memory unless inside
 * GC_call_with_gc_active, which makes the thread an active one again
 * (elsewhere it simply calls fn).  Both return what fn returns. */
GC_API void *GC_CALL GC_do_blocking(GC_fn_type, void *) GC_ATTR_NONNULL(1);
GC_API void *GC_CALL GC_call_with_gc_active(GC_fn_type, void *) GC_ATTR_NONNULL(1);

/* Coroutines and fibers (tricolor's gc_get_stack and gc_set_stack).
 * GC_get_my_stackbottom fills *sb with the stack base the collector uses
 * for the calling thread and returns a handle to the thread;
 * GC_set_stackbottom(handle, sb) changes it (handle NULL: the calling
 * thread), just before or after the thread switches to another stack.
 * The first takes the allocator lock; call the second with it held
 * (GC_call_with_alloc_lock), or before GC_init, where
 * GC_set_stackbottom(NULL, sb) sets the main thread's.  bdwgc also lets a
 * thread set another's; tricolor changes only the calling thread's. */
GC_API void *GC_CALL GC_get_my_stackbottom(struct GC_stack_base *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_set_stackbottom(void *, const struct GC_stack_base *)
    GC_ATTR_NONNULL(2);

/* The signal that stops threads for a collection: SIGPWR unless set before
 * GC_init (or by TRICOLOR_STOP_SIGNAL).  bdwgc restarts them with a second
 * signal; tricolor needs none, so the restart signal is the stop signal,
 * and setting it does nothing. */
GC_API void GC_CALL GC_set_suspend_signal(int);
GC_API void GC_CALL GC_set_thr_restart_signal(int);
GC_API int GC_CALL GC_get_suspend_signal(void);
GC_API int GC_CALL GC_get_thr_restart_signal(void);

/* Marker threads.  GC_parallel (deprecated) and GC_get_parallel give their
 * number less one, 0 when marking is not parallel; GC_set_markers_count
 * asks for a number before GC_init (0: the library chooses);
 * GC_start_mark_threads starts them now (after fork in a child, say).
 * tricolor marks with a quarter of the CPUs, as Go does: the last two are
 * accepted and change nothing. */
GC_API GC_ATTR_DEPRECATED int GC_parallel;
GC_API int GC_CALL GC_get_parallel(void);
GC_API void GC_CALL GC_set_markers_count(unsigned);
GC_API void GC_CALL GC_start_mark_threads(void);

/* Stop every other registered thread, and restart them. */
GC_API void GC_CALL GC_stop_world_external(void);
GC_API void GC_CALL GC_start_world_external(void);

/* fork.  tricolor keeps the child working (collecting, allocating) by
 * itself; GC_set_handle_fork(1) asks for that, -1 says the program calls
 * GC_atfork_prepare, _parent and _child around each fork itself, which is
 * harmless too. */
GC_API void GC_CALL GC_set_handle_fork(int);
GC_API void GC_CALL GC_atfork_prepare(void);
GC_API void GC_CALL GC_atfork_parent(void);
GC_API void GC_CALL GC_atfork_child(void);

#ifdef __cplusplus
}
#endif

/* With GC_THREADS, pthread_create and friends become GC_pthread_* (which
 * register the thread with the collector before it runs). */
#ifdef GC_PTHREADS
#include "gc_pthread_redirects.h"
#endif

/* ------------------------------------------------------------------------ */
/* GC_INIT                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * GC_INIT(): call once from main before anything else (it is harmless to
 * repeat, and optional in tricolor).  Macros defined before this header
 * make it set options first: GC_DONT_EXPAND, GC_FORCE_UNMAP_ON_GCOLLECT,
 * GC_DONT_GC, GC_MAX_RETRIES=n, GC_ALLOCD_BYTES_PER_FINALIZER=n,
 * GC_FREE_SPACE_DIVISOR=n, GC_FULL_FREQ=n, GC_TIME_LIMIT=ms, GC_MARKERS=n,
 * GC_SIG_SUSPEND=sig, GC_SIG_THR_RESTART=sig, GC_MAXIMUM_HEAP_SIZE=bytes;
 * and after GC_init: GC_IGNORE_WARN (drop warnings) and
 * GC_INITIAL_HEAP_SIZE=bytes (grow the heap to that size at once).
 */
#ifdef GC_DONT_EXPAND
#define GC_INIT_OPT_DONT_EXPAND GC_set_dont_expand(1);
#else
#define GC_INIT_OPT_DONT_EXPAND
#endif
#ifdef GC_FORCE_UNMAP_ON_GCOLLECT
#define GC_INIT_OPT_FORCE_UNMAP GC_set_force_unmap_on_gcollect(1);
#else
#define GC_INIT_OPT_FORCE_UNMAP
#endif
#if defined(GC_DONT_GC)
#define GC_INIT_OPT_RETRIES (void)(GC_dont_gc = 1);
#elif defined(GC_MAX_RETRIES)
#define GC_INIT_OPT_RETRIES GC_set_max_retries(GC_MAX_RETRIES);
#else
#define GC_INIT_OPT_RETRIES
#endif
#ifdef GC_ALLOCD_BYTES_PER_FINALIZER
#define GC_INIT_OPT_BYTES_PER_FINALIZER \
    GC_set_allocd_bytes_per_finalizer(GC_ALLOCD_BYTES_PER_FINALIZER);
#else
#define GC_INIT_OPT_BYTES_PER_FINALIZER
#endif
#ifdef GC_FREE_SPACE_DIVISOR
#define GC_INIT_OPT_DIVISOR GC_set_free_space_divisor(GC_FREE_SPACE_DIVISOR);
#else
#define GC_INIT_OPT_DIVISOR
#endif
#ifdef GC_FULL_FREQ
#define GC_INIT_OPT_FULL_FREQ GC_set_full_freq(GC_FULL_FREQ);
#else
#define GC_INIT_OPT_FULL_FREQ
#endif
#ifdef GC_TIME_LIMIT
#define GC_INIT_OPT_TIME_LIMIT GC_set_time_limit(GC_TIME_LIMIT);
#else
#define GC_INIT_OPT_TIME_LIMIT
#endif
#ifdef GC_MARKERS
#define GC_INIT_OPT_MARKERS GC_set_markers_count(GC_MARKERS);
#else
#define GC_INIT_OPT_MARKERS
#endif
#ifdef GC_SIG_SUSPEND
#define GC_INIT_OPT_SUSPEND GC_set_suspend_signal(GC_SIG_SUSPEND);
#else
#define GC_INIT_OPT_SUSPEND
#endif
#ifdef GC_SIG_THR_RESTART
#define GC_INIT_OPT_RESTART GC_set_thr_restart_signal(GC_SIG_THR_RESTART);
#else
#define GC_INIT_OPT_RESTART
#endif
#ifdef GC_MAXIMUM_HEAP_SIZE
#define GC_INIT_OPT_MAX_HEAP GC_set_max_heap_size(GC_MAXIMUM_HEAP_SIZE);
#else
#define GC_INIT_OPT_MAX_HEAP
#endif
#ifdef GC_IGNORE_WARN
#define GC_INIT_OPT_IGNORE_WARN GC_set_warn_proc(GC_ignore_warn_proc);
#else
#define GC_INIT_OPT_IGNORE_WARN
#endif
#ifdef GC_INITIAL_HEAP_SIZE
#define GC_INIT_OPT_INITIAL_HEAP                                       \
    {                                                                  \
        size_t gc_init_heap_now_ = GC_get_heap_size();                 \
        if (gc_init_heap_now_ < (size_t)(GC_INITIAL_HEAP_SIZE))        \
            (void)GC_expand_hp((GC_INITIAL_HEAP_SIZE) - gc_init_heap_now_); \
    }
#else
#define GC_INIT_OPT_INITIAL_HEAP
#endif

/* A block, as bdwgc's, so that `GC_INIT();` and `GC_INIT()` both parse. */
#define GC_INIT()                                                        \
    {                                                                    \
        GC_INIT_OPT_DONT_EXPAND GC_INIT_OPT_FORCE_UNMAP GC_INIT_OPT_RETRIES \
        GC_INIT_OPT_BYTES_PER_FINALIZER GC_INIT_OPT_DIVISOR                 \
        GC_INIT_OPT_FULL_FREQ GC_INIT_OPT_TIME_LIMIT GC_INIT_OPT_MARKERS    \
        GC_INIT_OPT_SUSPEND GC_INIT_OPT_RESTART GC_INIT_OPT_MAX_HEAP        \
        GC_init();                                                       \
        GC_INIT_OPT_IGNORE_WARN GC_INIT_OPT_INITIAL_HEAP                 \
    }

#endif /* GC_H */
