/*
 * tricolor.h - Go's memory management for C: the whole public API.
 *
 * tricolor is a garbage-collected heap for C programs, built after Go's runtime:
 * Go's allocator (size classes, per-thread caches, central span lists, a page
 * heap over 64 MiB arenas) and a tri-color mark-and-sweep collector that finds
 * pointers conservatively in thread stacks, registers, __thread variables, the
 * data and bss of every loaded object, and registered root regions.
 *
 * Conservative means that a word that looks like a pointer keeps its object,
 * whether the program still means it or not.  Where such words come from, and
 * what tricolor does about them:
 *   - Dead stack below a returned call (a deep recursion's frames).  A thread
 *     that runs a collection itself zeroes the dead stack just below it
 *     before the collector's frame is pushed there and scanned, as bdwgc's
 *     GC_clear_stack does, so a structure dropped after a deep call chain is
 *     reclaimed by the next gc_collect().  (Frames of the library's own
 *     between an allocation and the collection it starts are not wiped.)
 *   - Slots of the program's own live frames that the compiler left
 *     unwritten (alignment padding, a variable not yet assigned) keep what a
 *     dead frame left there; so does x86-64's red zone, the 128 bytes below a
 *     stopped thread's stack pointer, which a leaf function may be using and
 *     is scanned.  Such a word keeps its object until the thread's frames
 *     overwrite it.
 *   - Registers the program holds, callee-saved ones included: they are the
 *     program's, and always roots.
 *   - Integers and other data that happen to look like heap addresses.  Use
 *     gc_alloc_noscan for memory that holds no pointers.
 * None of these can free a live object; they can only keep a dead one.
 *
 * Marking runs beside the program, as Go's does, with no write barrier to
 * call: the kernel reports which pages the program wrote while marking ran,
 * and the collector rescans them.  The program stops twice per collection,
 * briefly: to start marking (caches flushed, stacks scanned) and to end it
 * (roots and the last written pages rescanned).  How the kernel is asked,
 * chosen at start-up, best first:
 *   uffd      userfaultfd asynchronous write-protect with PAGEMAP_SCAN
 *             (Linux 6.7 or later).  Transparent to the program.
 *   mprotect  page protection and a SIGSEGV handler (older kernels).  A
 *             program's own SIGSEGV handler keeps working for faults that are
 *             not the collector's.  Limitation: while marking runs, a system
 *             call that writes into a heap page that may hold pointers (read(2)
 *             into a gc_alloc'd buffer, say) fails with EFAULT instead of
 *             faulting.  Buffers from gc_alloc_noscan are never protected;
 *             otherwise write one byte to each page of the buffer first, and
 *             retry on EFAULT.
 *   none      marking with the world stopped (the fallback, or on request).
 * GODEBUG=gctrace=1 names the backend and why it was chosen, once.
 *
 * No initialisation call is needed: the first call of any function initialises
 * the library.  Every function is thread-safe.
 *
 * Quick example:
 *
 *     #include <tricolor.h>
 *     struct node { struct node *next; int v; };
 *     struct node *n = gc_new(struct node);   // zeroed, collected when unreachable
 *     n->next = gc_new(struct node);
 *     gc_collect();                           // runtime.GC()
 *
 * Environment (read once, at start-up, with Go's syntax and meaning):
 *   GOGC=100|off              heap growth between collections, in percent (default 100)
 *   GOMEMLIMIT=300MiB|off     soft memory limit (B, KiB, MiB, GiB, TiB suffixes)
 *   GODEBUG=gctrace=1         one line per collection on stderr, in Go's format
 *                             (gctrace=2 adds a line on pre-cleaning and the
 *                             final pause's parts); " (limited)" at the end of
 *                             a line: the GC CPU limiter was on in that cycle
 *   GODEBUG=gcstoptheworld=1  mark with the world stopped, as before Go 1.5
 *   GODEBUG=gcstwbudget=1000  with write tracking, a cycle whose mark is
 *                             predicted (from the last cycle's live heap and
 *                             the measured mark rate) to take under this many
 *                             microseconds marks with the world stopped: a
 *                             small heap's pause is then shorter than a
 *                             concurrent cycle's fixed work.  Default 1000
 *                             (1 ms); 0: every cycle marks concurrently.
 *                             After a concurrent cycle whose pre-cleaning
 *                             rescanned more than the heap it marked (a
 *                             program rewriting a small heap faster than
 *                             the rounds read it back), 4 times the budget
 *                             holds, until a cycle predicted past that
 *                             marks concurrently without that failure
 *   GODEBUG=gccheckmark=1     after each concurrent mark, mark again with the
 *                             world stopped and stop the program, naming the
 *                             object, its span and what refers to it, if the
 *                             concurrent mark missed a reachable object (a
 *                             write the kernel did not report).  Slow: a
 *                             debugging aid, as in Go
 *   GODEBUG=gcwritetrack=uffd|mprotect|none   force a write-tracking backend
 *   GODEBUG=scavtrace=1       one line per collection (and per gc_free_os_memory)
 *                             on the memory returned to the OS, in Go's format:
 *                             "scav # KiB work, # KiB total, #% util"
 *   GODEBUG=madvdontneed=0    return memory with MADV_FREE (the kernel takes it
 *                             back when it needs it; RSS falls only then) instead
 *                             of the default MADV_DONTNEED
 *   GODEBUG=gcthp=1|0         ask for transparent huge pages on the heap
 *                             (MADV_HUGEPAGE), or refuse them (MADV_NOHUGEPAGE);
 *                             default: the system's setting
 *   GODEBUG=memprofilerate=N  the heap profile's sampling rate at start-up
 *                             (gc_set_profile_rate; 0 off, 1 every allocation)
 *   GODEBUG=memprofileseed=N  the profile sampler's random seed: the same
 *                             samples on every run of a deterministic program
 *   TRICOLOR_STOP_SIGNAL=SIG  the signal that stops threads (gc_set_stop_signal)
 *   TRICOLOR_HEAPPROFILE=path write a heap profile to path when the program exits
 *                             (gperftools' HEAPPROFILE); "%p" in path becomes the
 *                             process id, so forked children write their own
 *
 * Memory goes back to the OS in the background (the scavenger, about 1% of a
 * CPU): free heap pages beyond 110% of the heap goal, or beyond 95% of the
 * memory limit, are returned within seconds of a collection that freed them.
 *
 * Threads: a thread registers itself on its first allocation and unregisters when
 * it exits.  A thread that holds collected pointers before its first allocation
 * (one it was passed, or read from a global or another object) must call
 * gc_register_thread() first: until it is registered its stack and registers are
 * not roots, and a collection running meanwhile may free what only it holds.
 * The collector stops threads with a signal (SIGPWR unless gc_set_stop_signal
 * or TRICOLOR_STOP_SIGNAL says otherwise, installed with SA_RESTART); system
 * calls such as nanosleep(2) that the kernel never restarts may return EINTR
 * while a collection runs.  pthread_sigmask and sigprocmask are wrapped so that
 * they never block it; a registered thread that blocks it anyway (a raw
 * rt_sigprocmask) stops the program with a message naming the thread, since
 * the collector can neither stop nor safely skip it.  A thread blocked in a
 * long system call can be left alone: gc_do_blocking.  Coroutines and fibers
 * on stacks of the program's own: gc_set_stack.
 *
 * Platforms: Linux with glibc, x86-64 and aarch64.
 */
#ifndef TRICOLOR_H
#define TRICOLOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TRICOLOR_VERSION_MAJOR 0
#define TRICOLOR_VERSION_MINOR 1
#define TRICOLOR_VERSION_PATCH 0
#define TRICOLOR_VERSION "0.1.0"

/* GC_API may come from tricolor-bdwgc's gc.h (bdwgc's, with extern): the
 * two headers can be included in either order. */
#if defined(__GNUC__)
#ifndef GC_API
#define GC_API __attribute__((visibility("default")))
#endif
#define GC_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#define GC_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define GC_WARN_UNUSED
#ifndef GC_API
#define GC_API
#endif
#define GC_MALLOC_ATTR
#endif

/* ------------------------------------------------------------------------ */
/* Allocation (Go's new)                                                     */
/* ------------------------------------------------------------------------ */

/* Allocate size bytes, zeroed.  The object is scanned conservatively for
 * pointers and lives while any pointer to any byte of it is reachable.
 * Objects are aligned to 16 bytes, or to their size rounded down to a power
 * of two when smaller than 16.  Returns NULL with errno ENOMEM when the size is
 * impossible or memory is exhausted. */
GC_API GC_MALLOC_ATTR void *gc_alloc(size_t size);

/* Like gc_alloc, for pointer-free data: the object is never scanned, so
 * pointers stored in it do not keep anything alive. */
GC_API GC_MALLOC_ATTR void *gc_alloc_noscan(size_t size);

/* gc_alloc(n * size), with the multiplication checked for overflow
 * (NULL, errno ENOMEM). */
GC_API GC_MALLOC_ATTR void *gc_calloc(size_t n, size_t size);

/* Resize the object p points to (its start).  The contents up to the smaller
 * of the old and new sizes are kept, the rest is zeroed; the object keeps its
 * kind (scanned or noscan).  p NULL behaves as gc_alloc(size).  size 0 frees p
 * and returns NULL.  When the object moves, the old one is freed. */
GC_API GC_WARN_UNUSED void *gc_realloc(void *p, size_t size);

/* A noscan copy of the string s. */
GC_API GC_MALLOC_ATTR char *gc_strdup(const char *s);

/* Optional early release of the whole object starting at p.  NULL is fine.
 * A pointer that is not the start of a live object, or a second free of the
 * same object, stops the program with a message naming the pointer. */
GC_API void gc_free(void *p);

/* The usable size of the object holding p (p may point inside it); 0 when p
 * is not in a live heap object. */
GC_API size_t gc_size(const void *p);

/* The start of the object holding p (interior pointers included); NULL when p
 * is not in a live heap object. */
GC_API void *gc_base(const void *p);

/* gc_new(T): a zeroed T (a typedef for array types: gc_new(int[3]) does not
 * parse as a cast). */
#define gc_new(T) ((T *)gc_alloc(sizeof(T)))
#define gc_new_array(T, n) ((T *)gc_calloc((n), sizeof(T)))

/* ------------------------------------------------------------------------ */
/* Collection and tuning                                                     */
/* ------------------------------------------------------------------------ */

/* runtime.GC(): a full collection.  When it returns, marking is done and every
 * span has been swept, so statistics are exact. */
GC_API void gc_collect(void);

/* debug.SetGCPercent: the heap may grow by percent% of the live heap before
 * the next collection.  Negative turns automatic collection off.  Returns the
 * previous setting (GOGC, or 100). */
GC_API int gc_set_percent(int percent);

/* debug.SetMemoryLimit: a soft limit on the memory tricolor holds from the OS,
 * less what it has returned (Go's Sys - HeapReleased): heap pages, span
 * descriptors, bitmaps, work buffers, everything it maps.  It holds with
 * GOGC=off too: the heap goal is the smaller of GOGC's and the limit's, and
 * the scavenger keeps retained memory under 95% of the limit.  Soft: when
 * the live heap alone needs more, the program goes on and the GC CPU limiter
 * keeps the collector near half the CPU (a limit set too low makes a program
 * slower, never stuck).  The limiter acts only while the limit, not GOGC,
 * sets the heap goal.  Negative only queries.  Returns the previous limit
 * (INT64_MAX = none).  The change takes effect at once. */
GC_API int64_t gc_set_memory_limit(int64_t bytes);

/* debug.FreeOSMemory: collect, then return every free page to the OS at once
 * (heap_released == heap_idle when it returns). */
GC_API void gc_free_os_memory(void);

/* Out of memory: when the OS refuses memory, an allocation first collects and
 * returns free pages, then retries; if that fails too it calls the function
 * set here (bdwgc's GC_set_oom_fn) with the size asked for, and returns what
 * the function returns.  Without one, or when it returns NULL, the allocation
 * returns NULL with errno == ENOMEM.  The function may allocate (an
 * allocation inside it that fails does not call it again).  What it
 * returns must be memory the program holds no other pointer to (a fresh
 * malloc, say): gc_alloc is declared with the malloc attribute, so the
 * compiler assumes its result aliases nothing.  Returns the previous function
 * (NULL = none). */
typedef void *(*gc_oom_fn)(size_t bytes);
GC_API gc_oom_fn gc_set_oom_fn(gc_oom_fn fn);

/* runtime.KeepAlive: p stays reachable at least until this call. */
GC_API void gc_keep_alive(const void *p);

/* ------------------------------------------------------------------------ */
/* Statistics (runtime.MemStats)                                             */
/* ------------------------------------------------------------------------ */

/* The number of small size classes reported in gc_memstats.by_size.  tricolor's
 * classes step by 16 bytes to 256 (every object of 16 bytes or more is 16-byte
 * aligned), so there are fewer than Go's and by_size[] does not line up with
 * Go's BySize index for index: compare by the size field. */
#define GC_NUM_SIZE_CLASSES 57

typedef struct gc_memstats {
    /* General. */
    uint64_t alloc;          /* bytes of allocated heap objects (= heap_alloc) */
    uint64_t total_alloc;    /* cumulative bytes allocated (never decreases) */
    uint64_t sys;            /* bytes obtained from the OS, all kinds */
    uint64_t mallocs;        /* cumulative count of objects allocated */
    uint64_t frees;          /* cumulative count of objects freed */

    /* Heap. */
    uint64_t heap_alloc;     /* bytes of allocated heap objects, unswept garbage included */
    uint64_t heap_sys;       /* bytes of heap address space obtained from the OS */
    uint64_t heap_idle;      /* bytes in spans with no objects */
    uint64_t heap_inuse;     /* bytes in spans with at least one object */
    uint64_t heap_released;  /* bytes of idle spans not backed by physical memory */
    uint64_t heap_objects;   /* objects allocated and not yet freed: mallocs - frees */

    /* Metadata. */
    uint64_t mspan_inuse;    /* bytes of span descriptors in use */
    uint64_t mspan_sys;      /* bytes obtained for span descriptors */
    uint64_t mcache_inuse;   /* bytes of thread caches in use */
    uint64_t mcache_sys;     /* bytes obtained for thread caches */
    uint64_t gc_sys;         /* bytes of collector metadata (mark bits, arena maps, work buffers) */
    uint64_t other_sys;      /* bytes of other runtime memory */

    /* Collector. */
    uint64_t next_gc;        /* heap goal: the next collection starts when heap_alloc reaches it */
    uint64_t last_gc;        /* end of the last collection, nanoseconds since the Unix epoch */
    uint64_t pause_total_ns; /* total stop-the-world time */
    uint64_t pause_ns[256];  /* recent collections' stop-the-world time (as in Go, the sum of the
                                cycle's two pauses); the latest is at [(num_gc + 255) % 256] */
    uint64_t pause_end[256]; /* their end times, nanoseconds since the Unix epoch */
    uint32_t num_gc;         /* completed collections */
    uint32_t num_forced_gc;  /* collections forced by gc_collect and friends */
    double gc_cpu_fraction;  /* share of the program's CPU time used by the collector */
    int enable_gc;           /* always 1, as Go's EnableGC (even with GOGC=off) */

    /* Memory limit and the GC CPU limiter (Go's runtime/metrics). */
    int64_t memory_limit;             /* the limit in force (INT64_MAX = none) */
    uint32_t gc_limiter_enabled;      /* 1 while the GC CPU limiter caps the collector */
    uint32_t gc_limiter_last_enabled; /* /gc/limiter/last-enabled:gc-cycle: the cycle during which
                                         it was last on (num_gc + 1 then); 0 = never */

    /* Per size class (Go's BySize): object size and cumulative counts. */
    struct {
        uint32_t size;
        uint64_t mallocs;
        uint64_t frees;
    } by_size[GC_NUM_SIZE_CLASSES];

    /* Added in 0.1 after by_size, so that the fields before keep their offsets. */
    uint64_t buck_hash_sys;  /* bytes of heap profile buckets and their hash table (Go's BuckHashSys) */
} gc_memstats;

/* runtime.ReadMemStats: a consistent snapshot.  It briefly stops the world. */
GC_API void gc_read_memstats(gc_memstats *out);

/* runtime/metrics' figures, read without stopping the world, for monitors that
 * sample often (libtricolor-debug's dashboard).  `memstats` holds what
 * gc_read_memstats gives, except that small objects allocated from the spans
 * thread caches hold now are not counted yet (as Go counts them: when the span
 * leaves the cache), so mallocs, alloc and heap_objects may lag by a few spans
 * per thread; each field is read on its own, so fields may be from moments a
 * little apart.  The pause ring, num_gc and the collector's CPU time are read
 * together. */
typedef struct gc_metrics {
    gc_memstats memstats;
    uint64_t heap_live;       /* /gc/heap/live:bytes: what the last collection marked */
    uint64_t gc_cpu_ns;       /* the collector's CPU time, all phases, since start-up */
    uint64_t cpu_ns;          /* the process's CPU time since start-up */
    uint64_t uptime_ns;       /* wall-clock time since start-up */
    uint64_t scavenged_bytes; /* bytes the scavenger returned to the OS since start-up */
    int32_t gogc;             /* /gc/gogc:percent; -1 = off */
    uint32_t ncpu;            /* CPUs online at start-up, gc_cpu_fraction's denominator */
    uint64_t reserved[8];     /* zero; room for more without changing the size */
} gc_metrics;
GC_API void gc_read_metrics(gc_metrics *out);

/* ------------------------------------------------------------------------ */
/* Roots and threads                                                         */
/* ------------------------------------------------------------------------ */

/* Scan [start, start+len) as a root at every collection.  The region belongs
 * to the caller (any memory not allocated by tricolor).  Regions may overlap;
 * there is no limit to how many are registered. */
GC_API void gc_add_roots(void *start, size_t len);

/* Stop scanning the part of registered roots within [start, start+len). */
GC_API void gc_remove_roots(void *start, size_t len);

/* Threads.  tricolor wraps pthread_create (bdwgc's GC_pthread_create): a
 * thread the program starts is registered before its start routine runs,
 * and the start argument is a root until then, so it may be the only
 * reference to an object.  A thread started otherwise (clone, a runtime's
 * own) registers on its first allocation or by gc_register_thread. */

/* Register the calling thread, so that its stack, registers and __thread
 * variables are roots.  Automatic on a thread's first allocation.  Returns 0,
 * or -1 if the thread's stack cannot be found. Registering twice is harmless. */
GC_API int gc_register_thread(void);

/* Unregister the calling thread.  Automatic when a registered thread exits. */
GC_API void gc_unregister_thread(void);

/*
 * Stacks the collector did not create: coroutines and fibers (makecontext /
 * swapcontext, a language runtime's own stacks).  A stopped thread's stack is
 * scanned from its stack pointer up to the top of the stack it runs on:
 *   - the thread's own stack, the one declared by gc_set_stack, or one
 *     registered with gc_add_stack;
 *   - otherwise the memory around the stack pointer: the collected object
 *     holding it, else the mapping holding it, up to its end (at most 64 MiB).
 * While a thread runs elsewhere, its own stack is scanned whole from where it
 * left it (the frames that switched away are live).  A coroutine that is not
 * running is ordinary memory: its stack (and its saved ucontext_t) must be
 * memory the collector scans - a stack registered with gc_add_stack,
 * collected memory (gc_alloc), a registered root (gc_add_roots), a global -
 * or the references held only there are lost.
 */

/* Register [lo, hi) as a coroutine's or fiber's stack, for as long as it
 * exists (remove it before freeing it): a coroutine library's way, with no
 * call at switches.  While a thread runs on it, it is scanned from that
 * thread's stack pointer; while no thread does, it is scanned whole, so a
 * suspended coroutine's locals are roots.  Returns 0, or -1 with errno
 * EINVAL (an empty range) or ENOMEM.  No limit but memory. */
GC_API int gc_add_stack(void *lo, void *hi);

/* Forget the coroutine stack that starts at lo (gc_add_stack). */
GC_API void gc_remove_stack(void *lo);

/* The stack the calling thread runs on, as the collector sees it: [*lo, *hi),
 * hi being the end it grows down from.  That is the stack declared by
 * gc_set_stack, if any (*lo NULL when only its top was given); else the
 * thread's own stack; else, on a stack not declared, the memory the collector
 * scans around the stack pointer (above).  Returns 0, or -1 if the thread's
 * stack cannot be found (it is registered by the call, as gc_register_thread). */
GC_API int gc_get_stack(void **lo, void **hi);

/* The calling thread runs, from now on, on the stack [lo, hi) (lo NULL: only
 * the top is known, bdwgc's GC_set_stackbottom).  Call it just before
 * switching to a coroutine's stack, or just after; gc_set_stack(NULL, NULL)
 * declares the thread back on its own stack.  Between the call and the switch
 * both stacks are scanned, so either order is safe. */
GC_API void gc_set_stack(void *lo, void *hi);

/* Run fn(arg) as a blocked thread (bdwgc's GC_do_blocking), for a long system
 * call: the collector does not signal the thread, and scans its stack above
 * this call and the registers it had.  fn must not allocate or touch collected
 * memory unless through gc_call_active.  Returns fn's value. */
GC_API void *gc_do_blocking(void *(*fn)(void *), void *arg);

/* Inside gc_do_blocking: run fn(arg) as a running thread again (bdwgc's
 * GC_call_with_gc_active).  Elsewhere it simply calls fn. */
GC_API void *gc_call_active(void *(*fn)(void *), void *arg);

/* The signal that stops threads for a collection: SIGPWR by default, or
 * TRICOLOR_STOP_SIGNAL (a number or a name: "SIGUSR1", "SIGRTMIN+3"), or the
 * one given here, which wins over the variable.  Set it before the library's
 * first use (gc_stop_signal is a use; a refused call is not, nor is the
 * pthread_sigmask wrapper); returns 0, or -1 with errno EINVAL (not a usable
 * signal: SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, ...) or EBUSY (too late).  With
 * the mprotect backend the sigmask wrappers keep SIGSEGV and SIGBUS unblocked
 * too, and each registered thread gets a signal stack (64 KiB) if it has none,
 * so that a coroutine may run on a collected stack. */
GC_API int gc_set_stop_signal(int sig);
GC_API int gc_stop_signal(void);

/* ------------------------------------------------------------------------ */
/* Finalizers, cleanups, weak pointers                                       */
/* ------------------------------------------------------------------------ */

/*
 * These follow Go's runtime.SetFinalizer, runtime.AddCleanup and the weak
 * package.  Each takes `obj`, which must be the start of a live collected
 * object (what gc_alloc returned): for anything else (an interior pointer, a
 * global, a freed object, NULL) the call does nothing, sets errno to EINVAL
 * and returns NULL if it returns a pointer.  An object may carry any number
 * of records; there is no limit but memory.
 *
 * Finalizers and cleanups run on one finalizer thread, one at a time, in the
 * order the collector found their objects unreachable, some time after a
 * collection.  The thread is a registered program thread: a call may allocate,
 * collect, set finalizers, block (the others wait).  They may never run: at
 * exit, or while nothing collects.  gc_free(obj) drops obj's finalizer and
 * cleanups without running them, and clears its weak pointers.  gc_realloc
 * that moves an object frees the old one likewise (records do not move).
 */

/* runtime.SetFinalizer.  Once obj is unreachable, fn(obj, arg) runs once.
 * Until then, obj and everything it points to are kept: the finalizer sees
 * them intact, and may make obj reachable again (resurrect it); the object is
 * freed at a later collection that finds it unreachable with no finalizer.
 * One per object: setting another replaces it; fn NULL removes it.  `arg`
 * is kept alive as long as the finalizer is set (so if arg reaches obj, obj
 * is never collected).  Finalizers run in dependency order: if A points to
 * B and both have one, A's runs first and B's at a later collection.
 *
 * As in Go, objects in a cycle that includes an object with a finalizer are
 * never collected (the finalizer keeps what its object points to, which keeps
 * the object): break the cycle, or use a cleanup. */
GC_API void gc_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg);

/* runtime.AddCleanup.  Once obj is unreachable, fn(arg) runs once and obj is
 * freed; the cleanup never sees obj.  Several cleanups may be added to one
 * object; cycles are collected.  `arg` is kept alive until the cleanup ran or
 * was stopped: if arg reaches obj, obj is never collected (arg inside obj
 * itself is refused, EINVAL, as Go panics).  If obj also has a finalizer, the
 * cleanups run after it, when obj is unreachable again.  Returns a handle for
 * gc_cleanup_stop (a collected object: keep it only if you may stop), or
 * NULL (EINVAL, or ENOMEM). */
typedef struct gc_cleanup gc_cleanup;
GC_API gc_cleanup *gc_add_cleanup(void *obj, void (*fn)(void *arg), void *arg);

/* Cleanup.Stop: the cleanup will not run.  Too late once its object was found
 * unreachable (it is queued, and runs).  Stopping twice, or a NULL handle, is
 * harmless. */
GC_API void gc_cleanup_stop(gc_cleanup *c);

/* weak.Make: a weak pointer to obj, which does not keep obj alive.  The same
 * object always gives the same handle (compare handles to compare objects,
 * even after collection).  The handle is a collected object: it lives while
 * obj does or the program holds it. */
typedef struct gc_weak gc_weak;
GC_API gc_weak *gc_weak_make(void *obj);

/* weak.Pointer.Value: obj while it is reachable, NULL once it was found
 * unreachable (or its finalizer was queued, or it was gc_free'd).  The
 * pointer returned is a strong one: obj lives while the program holds it.
 * w NULL gives NULL. */
GC_API void *gc_weak_get(const gc_weak *w);

/* ------------------------------------------------------------------------ */
/* Heap profiles (runtime/pprof)                                             */
/* ------------------------------------------------------------------------ */

/*
 * Go's heap profiler: "who allocated the memory that is in use?"  A sample of
 * allocations records its call stack; per stack (and object size) the profile
 * counts objects and bytes allocated and, of those, still in use.  Read it
 * with Go's tools:
 *
 *     int fd = open("heap.pb.gz", O_WRONLY | O_CREAT | O_TRUNC, 0644);
 *     gc_collect();                    // in-use figures are as of the last collection
 *     gc_write_heap_profile(fd);
 *     $ go tool pprof -top ./program heap.pb.gz
 *
 * Sampling, as Go's: sample points are a Poisson process over the bytes each
 * thread allocates, one per `rate` bytes on average, so an object of s bytes
 * is sampled with probability 1 - e^(-s/rate); the profile scales each count
 * by the inverse, so that its totals estimate the true ones (at rate 1 they are
 * exact).  The standard error of a site's estimate is sqrt((1 - p) / (N p))
 * for N objects each sampled with probability p, about one over the square
 * root of its samples: for B bytes of small objects, sqrt(rate / B), 9% for
 * 64 MiB at the default rate.  Sizes are the objects' usable sizes (gc_size:
 * the size class), as Go counts them.  An object's death counts when a
 * collection finds it unreachable; gc_free, and gc_realloc when it moves an
 * object, count as frees.  Stacks are walked with the unwind tables (no
 * frame pointers needed), up to 64 frames, and begin at the function that
 * called the allocation (gc_alloc and the library's own frames are left
 * out).
 *
 * As in Go, the figures are as of the last completed collection: allocations
 * since it are not counted yet, and nothing it found unreachable is shown in
 * use.  (Before any collection, a profile shows every allocation so far.)
 */

/* runtime.MemProfileRate: sample one allocation per `bytes` bytes on average;
 * 1 samples every allocation, 0 turns sampling off.  Default 512 KiB (or
 * GODEBUG=memprofilerate).  Takes effect at once in every thread (a sample
 * being taken at that moment is still recorded).  Negative
 * only asks.  Returns the previous rate.
 *
 * As Go advises, set it once, as early as possible: a profile scales all its
 * samples by the rate in force when it is written, so samples taken at
 * another rate are estimated wrongly (at rate 0 they are written unscaled). */
GC_API int64_t gc_set_profile_rate(int64_t bytes);

/* pprof.WriteHeapProfile: the heap profile, in pprof's protobuf format
 * (profile.proto), gzipped, to fd.  Sample types alloc_objects/count,
 * alloc_space/bytes, inuse_objects/count, inuse_space/bytes (the default
 * view); period space/bytes, the rate.  Mappings name every loaded object with
 * its build ID; locations carry addresses and the functions the process's
 * symbol tables name, so the profile reads without the binaries, and pprof
 * adds file:line from a binary's debug info when it finds one.  Returns 0, or
 * -1 with errno (EBADF, ENOMEM, or what write(2) said). */
GC_API int gc_write_heap_profile(int fd);

/* pprof.Lookup(name).WriteTo(fd, debug): name "heap" (the default view
 * inuse_space) or "allocs" (the same data, viewed as alloc_space), as
 * net/http/pprof serves them.  debug 0: gzipped protobuf, as
 * gc_write_heap_profile; debug >= 1: Go's legacy text form
 * (/debug/pprof/heap?debug=1): "heap profile: N: B [N: B] @ heap/2*rate",
 * one record per stack with sampled (unscaled) counts, biggest in use first,
 * each followed by its frames, then "# runtime.MemStats", then the process's
 * memory map after "MAPPED_LIBRARIES:" (as gperftools writes it), so that
 * pprof reads the text form too.  -1 with errno EINVAL for another name. */
GC_API int gc_write_profile(const char *name, int fd, int debug);

/* ------------------------------------------------------------------------ */
/* The debug endpoint (net/http/pprof, expvar, a live dashboard)             */
/* ------------------------------------------------------------------------ */

/*
 * In a library of its own, libtricolor-debug (pkg-config tricolor-debug; it
 * needs libmicrohttpd), so that the core keeps no HTTP dependency.  Link it,
 * or preload it, and set TRICOLOR_DEBUG_ADDR=127.0.0.1:6060 to start it with no
 * code change; that works for bdwgc programs on tricolor's libgc.so.1 too:
 *
 *     $ TRICOLOR_DEBUG_ADDR=127.0.0.1:6060 \
 *       LD_PRELOAD=/usr/local/lib/libtricolor-debug.so ./program
 *     $ go tool pprof http://127.0.0.1:6060/debug/pprof/heap
 *     open http://127.0.0.1:6060/debug/dashboard
 *
 * A variable that cannot be served (a bad address, a port in use) is reported
 * on stderr, once, and the program runs on without the endpoint.  A process
 * without tricolor that inherits the variable and the preload (a shell the
 * program starts) ignores both, silently; a bdwgc program on bdwgc's own libgc
 * says that it is.
 *
 * What it serves (GET and HEAD), as Go's net/http/pprof and expvar do:
 *   /debug/pprof/           an index of the profiles, like Go's
 *   /debug/pprof/heap       the heap profile (gc_write_profile "heap"); ?gc=1
 *                           collects first, ?debug=1 gives Go's text form
 *   /debug/pprof/allocs     the same samples, viewed as alloc_space (Go's delta
 *                           profiles, ?seconds=N, are refused with 400)
 *   /debug/pprof/cmdline    the command line, arguments separated by NUL bytes
 *   /debug/vars             expvar's JSON: "cmdline" and "memstats" with Go's
 *                           runtime.MemStats field names (gc_read_memstats)
 *   /debug/memstats         JSON: every gc_memstats field under its name here,
 *                           the gc_metrics extras, and "recent_pauses", the
 *                           last collections' pauses, newest first
 *   /debug/dashboard        a live page (uPlot, served from the library, no
 *                           internet needed): heap in use, live heap, goal,
 *                           limit and RSS; allocation rate; every pause; the
 *                           GC CPU fraction; collections per second; memory
 *                           returned by the scavenger; objects per size class
 *   /debug/dashboard/samples?since=N   the dashboard's data, as JSON
 * Other paths get 404, other methods 405 (with Allow: GET, HEAD), malformed
 * requests 400, and the server keeps serving.  Bounds: a request line and
 * headers within 32 KiB (else 414 or 431); no request bodies; 64
 * connections at a time (more wait in the kernel's queue); connections are
 * kept alive, and closed after 30 idle seconds.  (A connection's first request
 * line is checked before libmicrohttpd sees it; on a kept-alive connection a
 * later line it cannot split at all closes the connection, unanswered.)  No heap contents are ever served: figures, stacks and the map
 * of loaded objects only.
 *
 * Cost: nothing while no one asks.  The dashboard samples when its page asks
 * (every second by default; at most 10 times a second however many pages are
 * open), with gc_read_metrics, which does not stop the world; /debug/vars and
 * /debug/memstats stop it for a moment (gc_read_memstats), as Go's expvar does.
 * The server's one thread waits for requests as a blocked thread
 * (gc_do_blocking), so collections neither stop nor wake it while it waits.
 */

/* Serve on addr, "host:port": "127.0.0.1:6060", "[::1]:6060", "localhost:0";
 * no host (":6060", "6060", NULL or "" for an ephemeral port) means 127.0.0.1,
 * so any other interface must be named ("0.0.0.0:6060").  Port 0 picks a free
 * one.  Returns the port bound, or -1 with errno: EINVAL (not an address),
 * EBUSY (already serving: stop first), or what getaddrinfo, socket, bind or
 * listen said (EADDRINUSE).  Serves from a thread of its own until
 * gc_debug_stop. */
GC_API int gc_debug_serve(const char *addr);

/* Stop serving: close the socket and every connection, join the thread, free
 * what the server holds.  Harmless when not serving.  The port may be served
 * again at once. */
GC_API void gc_debug_stop(void);

/* ------------------------------------------------------------------------ */
/* Pools (sync.Pool)                                                         */
/* ------------------------------------------------------------------------ */

/*
 * A pool of objects to reuse, Go's sync.Pool: a cache that the collector may
 * empty.  Each thread has a private slot and a shared list that others steal
 * from, so get and put take no lock.  An object put before a collection
 * survives it in a victim cache and is dropped at the next one (then it is
 * garbage like any other, if nothing else holds it).  A pool promises nothing
 * about which object get returns or whether a put one comes back.  Any
 * pointer may be put (NULL is ignored); the pool holds its objects as roots
 * would, so collected objects in it stay alive while it holds them.
 *
 * The pool is itself a collected object: keep a pointer to it (a global, a
 * local, a collected object) as long as it is used.
 */
typedef struct gc_pool gc_pool;

/* A pool whose gets call new_fn when empty (new_fn may be NULL).  NULL with
 * ENOMEM when out of memory. */
GC_API gc_pool *gc_pool_new(void *(*new_fn)(void));

/* A put object (this thread's latest first, then others'), else new_fn(),
 * else NULL. */
GC_API void *gc_pool_get(gc_pool *p);

/* Offer x for reuse.  The caller must not use x afterwards. */
GC_API void gc_pool_put(gc_pool *p, void *x);

/* ------------------------------------------------------------------------ */
/* Go's make: slices, maps, channels, and bytes.Buffer                       */
/* ------------------------------------------------------------------------ */

/*
 * Go's new gives one zeroed object (gc_new here); make builds the three
 * types whose values are small headers over collected storage: slices, maps
 * and channels.  tricolor's versions are collected like any other object and
 * follow Go's semantics, panics included: a panic prints Go's message on
 * stderr as "panic: <message>" (bounds errors as "panic: runtime error:
 * <message>") and aborts the process.
 *
 * Each type has a small untyped core, named after Go's runtime functions
 * (gc_makeslice, gc_growslice, gc_makemap, gc_mapaccess, gc_mapassign,
 * gc_makechan, gc_chansend, gc_chanrecv, gc_selectgo...), and typed macros
 * over it for C programs (GNU C: statement expressions, __typeof__ and
 * _Generic; GCC and Clang).  Declare each slice, map or channel type once
 * with a typedef, then use its values as Go does:
 *
 *     typedef GC_SLICE(int) ints;               // []int
 *     typedef GC_MAP_STR(int) counts;           // map[string]int
 *     typedef GC_CHAN(int) int_chan;            // chan int
 *
 *     ints s = gc_make_slice(ints, 0, 10);      // make([]int, 0, 10)
 *     gc_append(s, 1, 2, 3);                    // s = append(s, 1, 2, 3)
 *     gc_at(s, 1) = 20;                         // s[1] = 20, bounds-checked
 *     counts m = gc_make_map(counts, 0);        // make(map[string]int)
 *     gc_map_set(m, "go", gc_map_get(m, "go") + 1);   // m["go"]++
 *     int_chan c = gc_make_chan(int_chan, 8);   // make(chan int, 8)
 *     gc_send(c, 42);                           // c <- 42
 *     int v = gc_recv(c);                       // v := <-c
 *
 * The macros evaluate each argument once, except where a comment says
 * otherwise; an argument named s, m or c that the macro updates (gc_append)
 * must be an lvalue.
 *
 * Pointer-free storage.  Backing arrays, map tables and channel buffers whose
 * elements are of an arithmetic type (integers of every width, floating
 * point, _Bool, enums) are allocated with gc_alloc_noscan, so their contents
 * are never mistaken for pointers, as in Go, where an integer is never a
 * pointer: an address kept only as an intptr_t or uintptr_t element does not
 * keep its object.  Elements of every other type (pointers, structs, unions)
 * are scanned; for a struct without pointers, ask for noscan storage
 * explicitly (gc_make_slice_noscan, gc_make_map_noscan, gc_make_chan_noscan).
 * A slice keeps its kind when append moves it.
 */

/* 1 if the type of expression x is arithmetic (pointer-free storage), else 0;
 * GC_SIGNED_OF(x): 1 if it is a signed integer type (how a bounds panic
 * prints it).  x is not evaluated. */
#ifndef __cplusplus
#ifdef __SIZEOF_INT128__
#define GC_INT128_NOSCAN__ __int128: 1, unsigned __int128: 1,
#define GC_INT128_SIGNED__ __int128: 1, unsigned __int128: 0,
#else
#define GC_INT128_NOSCAN__
#define GC_INT128_SIGNED__
#endif
#define GC_NOSCAN_OF(x)                                                                        \
    _Generic((x), _Bool: 1, char: 1, signed char: 1, unsigned char: 1, short: 1,             \
             unsigned short: 1, int: 1, unsigned: 1, long: 1, unsigned long: 1, long long: 1, \
             unsigned long long: 1, GC_INT128_NOSCAN__ float: 1, double: 1, long double: 1, \
             _Complex float: 1, _Complex double: 1, _Complex long double: 1, default: 0)
#ifdef __CHAR_UNSIGNED__
#define GC_CHAR_SIGNED__ 0
#else
#define GC_CHAR_SIGNED__ 1
#endif
#define GC_SIGNED_OF(x)                                                                        \
    _Generic((x), signed char: 1, short: 1, int: 1, long: 1, long long: 1,                    \
             char: GC_CHAR_SIGNED__, GC_INT128_SIGNED__ default: 0)
#endif

/* Stop the program with Go's panic output: "panic: " and the message on
 * stderr, then abort(). */
GC_API __attribute__((noreturn, format(printf, 1, 2))) void gc_panic(const char *fmt, ...);

/* ---- Slices --------------------------------------------------------------
 *
 * A slice is a value of three words, passed and assigned by value as in Go:
 * ptr points to its first element in a collected backing array, len elements
 * are in use, cap elements fit before the array ends.  A zeroed slice is Go's
 * nil slice: len 0, cap 0, and append works on it.  Sub-slices share the
 * backing array, so a write through one is seen through the others, until
 * append outgrows the capacity and moves one of them to a new array.
 *
 * Growth is Go's (1.18 and later, runtime.growslice): the new capacity is the
 * needed length if that is more than twice the old capacity; else twice the
 * old capacity below 256 elements; else the old capacity grown by
 * (cap + 3*256) / 4 until it is enough, which goes smoothly from 2x toward
 * 1.25x.  The array's size is then rounded up to tricolor's size class (to
 * 8 KiB pages above 32 KiB), and the capacity is what that size holds.
 * tricolor's size classes are not Go's below 32 KiB, so small capacities
 * after rounding can differ from Go's; above 32 KiB they are the same.
 */
typedef struct gc_slice {
    void *ptr;
    size_t len, cap;
} gc_slice;

/* The slice type of element type T: typedef GC_SLICE(T) name; */
#define GC_SLICE(T)       \
    struct {              \
        T *ptr;           \
        size_t len, cap;  \
    }

/* make([]T, len, cap) for elemsize-byte elements, zeroed, with exactly cap
 * elements of capacity, as in Go (only growth rounds up).  len > cap panics
 * with "makeslice: cap out of range"; a size that overflows, or memory
 * exhausted, gives a nil slice with errno ENOMEM.  cap 0 gives an empty
 * slice whose ptr is not NULL (Go's zerobase: no allocation). */
GC_API gc_slice gc_makeslice(size_t elemsize, size_t len, size_t cap, int noscan);

/* s with room for at least mincap elements: s itself if s.cap >= mincap,
 * else s's len elements copied to a new array of Go's grown capacity (the
 * rest zeroed), with len unchanged.  The new array is noscan if noscan is set
 * or s's array is noscan.  A size that overflows panics with "growslice: len
 * out of range"; memory exhausted panics with a message that begins
 * "runtime: out of memory". */
GC_API gc_slice gc_growslice(gc_slice s, size_t elemsize, size_t mincap, int noscan);

/* The panics of a failed bounds check, with Go's messages: an index, or a
 * slice expression's bound x (against y), printed as a signed number if
 * x_signed is set and its top bit is, else as an unsigned one. */
GC_API __attribute__((noreturn)) void gc_panic_index(uint64_t i, int i_signed, size_t len);
enum { GC_BOUNDS_SLICE_ACAP = 2, GC_BOUNDS_SLICE_B = 3, GC_BOUNDS_SLICE3_ACAP = 5,
       GC_BOUNDS_SLICE3_B = 6, GC_BOUNDS_SLICE3_C = 7 };
GC_API __attribute__((noreturn)) void gc_panic_slice(int code, uint64_t x, int x_signed, uint64_t y);

#ifndef __cplusplus
/* A negative bound, converted to uint64_t, is above every capacity. */
static inline void gc_check_slice__(uint64_t lo, int lo_s, uint64_t hi, int hi_s, size_t cap)
{
    if (hi > cap)
        gc_panic_slice(GC_BOUNDS_SLICE_ACAP, hi, hi_s, cap);
    if (lo > hi)
        gc_panic_slice(GC_BOUNDS_SLICE_B, lo, lo_s, hi);
}
static inline void gc_check_slice3__(uint64_t lo, int lo_s, uint64_t hi, int hi_s, uint64_t max, int max_s,
                                     size_t cap)
{
    if (max > cap)
        gc_panic_slice(GC_BOUNDS_SLICE3_ACAP, max, max_s, cap);
    if (hi > max)
        gc_panic_slice(GC_BOUNDS_SLICE3_B, hi, hi_s, max);
    if (lo > hi)
        gc_panic_slice(GC_BOUNDS_SLICE3_C, lo, lo_s, hi);
}

/* make(S, len, cap), S a GC_SLICE type: a slice of len zeroed elements and
 * room for cap.  The _noscan form gives pointer-free storage whatever the
 * element type. */
#define gc_make_slice(S, len, cap) gc_make_slice__(S, len, cap, GC_NOSCAN_OF(*_gc_s.ptr))
#define gc_make_slice_noscan(S, len, cap) gc_make_slice__(S, len, cap, 1)
#define gc_make_slice__(S, len_, cap_, noscan_)                                               \
    __extension__({                                                                            \
        S _gc_s;                                                                               \
        gc_slice _gc_r = gc_makeslice(sizeof *_gc_s.ptr, (len_), (cap_), noscan_);             \
        _gc_s.ptr = (__typeof__(_gc_s.ptr))_gc_r.ptr;                                          \
        _gc_s.len = _gc_r.len;                                                                 \
        _gc_s.cap = _gc_r.cap;                                                                 \
        _gc_s;                                                                                 \
    })

/* s = append(s, v...): one value or several (gc_append(s, 1, 2, 3)).  s must
 * be an lvalue; the values are evaluated before s grows. */
#define gc_append(s, ...)                                                                      \
    ((void)__extension__({                                                                     \
        __typeof__(&(s)) _gc_p = &(s);                                                         \
        __typeof__(*_gc_p->ptr) _gc_v[] = {__VA_ARGS__};                                       \
        size_t _gc_n = sizeof _gc_v / sizeof _gc_v[0];                                         \
        if (_gc_p->cap - _gc_p->len < _gc_n)                                                   \
            gc_grow__(_gc_p, _gc_p->len + _gc_n);                                              \
        for (size_t _gc_k = 0; _gc_k < _gc_n; _gc_k++)                                         \
            _gc_p->ptr[_gc_p->len + _gc_k] = _gc_v[_gc_k];                                     \
        _gc_p->len += _gc_n;                                                                   \
    }))

/* s = append(s, t...): t a slice of the same element type (it may share s's
 * array). */
#define gc_append_slice(s, t)                                                                  \
    ((void)__extension__({                                                                     \
        __typeof__(t) _gc_t = (t);                                                             \
        gc_append_array(s, _gc_t.ptr, _gc_t.len);                                              \
    }))

/* s = append(s, p[0], ..., p[n-1]): n elements from a C array. */
#define gc_append_array(s, p, n)                                                               \
    ((void)__extension__({                                                                     \
        __typeof__(&(s)) _gc_p = &(s);                                                         \
        const __typeof__(*_gc_p->ptr) *_gc_src = (p);                                          \
        size_t _gc_n = (n);                                                                    \
        if (_gc_p->cap - _gc_p->len < _gc_n)                                                   \
            gc_grow__(_gc_p, _gc_p->len + _gc_n);                                              \
        if (_gc_n)                                                                             \
            __builtin_memmove(_gc_p->ptr + _gc_p->len, _gc_src, _gc_n * sizeof *_gc_src);      \
        _gc_p->len += _gc_n;                                                                   \
    }))

#define gc_grow__(p, mincap)                                                                   \
    do {                                                                                       \
        gc_slice _gc_r = gc_growslice((gc_slice){(void *)(p)->ptr, (p)->len, (p)->cap},        \
                                      sizeof *(p)->ptr, (mincap), GC_NOSCAN_OF(*(p)->ptr));    \
        (p)->ptr = (__typeof__((p)->ptr))_gc_r.ptr;                                            \
        (p)->cap = _gc_r.cap;                                                                  \
    } while (0)

/* s[i], bounds-checked: an lvalue.  i outside [0, len) panics with Go's
 * "index out of range [5] with length 3". */
#define gc_at(s, i)                                                                            \
    (*__extension__({                                                                          \
        __typeof__(s) _gc_a = (s);                                                             \
        uint64_t _gc_i = (uint64_t)(i);                                                        \
        if (_gc_i >= _gc_a.len)                                                                \
            gc_panic_index(_gc_i, GC_SIGNED_OF(i), _gc_a.len);                                 \
        _gc_a.ptr + _gc_i;                                                                     \
    }))

/* s[lo:hi] (0 <= lo <= hi <= cap(s)): shares s's array, capacity cap(s)-lo.
 * Out of bounds panics with Go's "slice bounds out of range [:7] with
 * capacity 4" or "slice bounds out of range [3:2]".  Go's s[lo:] is
 * gc_sub(s, lo, s.len). */
#define gc_sub(s, lo, hi)                                                                      \
    __extension__({                                                                            \
        __typeof__(s) _gc_a = (s);                                                             \
        uint64_t _gc_lo = (uint64_t)(lo), _gc_hi = (uint64_t)(hi);                             \
        gc_check_slice__(_gc_lo, GC_SIGNED_OF(lo), _gc_hi, GC_SIGNED_OF(hi), _gc_a.cap);       \
        /* As Go, a result of capacity 0 keeps ptr: one past the end would */                \
        /* point into the next object. */                                                     \
        if (_gc_lo && _gc_lo < _gc_a.cap)                                                      \
            _gc_a.ptr += _gc_lo;                                                               \
        _gc_a.len = (size_t)(_gc_hi - _gc_lo);                                                 \
        _gc_a.cap -= (size_t)_gc_lo;                                                           \
        _gc_a;                                                                                 \
    })

/* s[lo:hi:max] (0 <= lo <= hi <= max <= cap(s)): capacity max-lo, so that an
 * append to the result moves it rather than overwrite s[hi:].  (A result of
 * capacity 0 keeps s's ptr, in gc_sub too: see Go's spec.) */
#define gc_sub3(s, lo, hi, max)                                                                \
    __extension__({                                                                            \
        __typeof__(s) _gc_a = (s);                                                             \
        uint64_t _gc_lo = (uint64_t)(lo), _gc_hi = (uint64_t)(hi), _gc_max = (uint64_t)(max);  \
        gc_check_slice3__(_gc_lo, GC_SIGNED_OF(lo), _gc_hi, GC_SIGNED_OF(hi), _gc_max,         \
                          GC_SIGNED_OF(max), _gc_a.cap);                                       \
        if (_gc_lo && _gc_lo < _gc_max)                                                        \
            _gc_a.ptr += _gc_lo;                                                               \
        _gc_a.len = (size_t)(_gc_hi - _gc_lo);                                                 \
        _gc_a.cap = (size_t)(_gc_max - _gc_lo);                                                \
        _gc_a;                                                                                 \
    })

/* copy(dst, src): min(len(dst), len(src)) elements, which may overlap;
 * returns that count. */
#define gc_copy(dst, src)                                                                      \
    __extension__({                                                                            \
        __typeof__(dst) _gc_d = (dst);                                                         \
        __typeof__(src) _gc_s2 = (src);                                                        \
        (void)(_gc_d.ptr == _gc_s2.ptr); /* same element type */                               \
        size_t _gc_n = _gc_d.len < _gc_s2.len ? _gc_d.len : _gc_s2.len;                        \
        if (_gc_n)                                                                             \
            __builtin_memmove(_gc_d.ptr, _gc_s2.ptr, _gc_n * sizeof *_gc_d.ptr);               \
        _gc_n;                                                                                 \
    })

/* clear(s): zero s's len elements. */
#define gc_clear(s)                                                                            \
    ((void)__extension__({                                                                     \
        __typeof__(s) _gc_a = (s);                                                             \
        if (_gc_a.len)                                                                         \
            __builtin_memset(_gc_a.ptr, 0, _gc_a.len * sizeof *_gc_a.ptr);                     \
    }))
#endif /* !__cplusplus */

/* ---- Maps ----------------------------------------------------------------
 *
 * Go's map, built as Go 1.24's Swiss tables: slots in groups of 8, each group
 * with a control word of 7-bit hash tags matched 8 at a time; a table holds
 * at most 1024 slots, and a bigger map is a directory of tables (extendible
 * hashing) that splits one table at a time, so no insert copies more than
 * one table.
 *
 * Keys are of a fixed size and compared as bytes (a struct key's padding
 * must be zeroed: build keys with memset or a zero initializer first; the
 * typed macros copy the key by assignment, which keeps the padding with GCC
 * and Clang though C does not promise it - gc_mapaccess and gc_mapassign
 * take the caller's bytes as they are), or C
 * strings (GC_MAP_STR), compared by content: the map keeps its own copy of
 * each string key, so the caller's string may change or go afterwards.
 * Values are of a fixed size (0 is allowed: a set).
 *
 * A zeroed map variable is Go's nil map: lookups find nothing, len is 0,
 * delete does nothing, and an insert panics with "assignment to entry in nil
 * map".  Maps are not safe for concurrent use, as in Go: a write while another
 * thread reads or writes stops with "fatal error: concurrent map writes" (or
 * "concurrent map read and map write") when it is caught.
 *
 * Iteration order is unspecified and differs from one loop to the next.  An
 * entry deleted during iteration and not yet reached is not produced; one
 * inserted during iteration may or may not be; every other entry is produced
 * exactly once.
 *
 * A value pointer (gc_mapaccess, gc_mapassign, gc_map_ptr, an iterator's
 * val) stays valid until the map is next written (insert, delete, clear).
 */
typedef struct gc_map gc_map;

enum {
    GC_MAP_STRING_KEYS = 1,   /* the key is a const char *, compared by content */
    GC_MAP_KEYS_NOSCAN = 2,   /* keys hold no pointers */
    GC_MAP_VALUES_NOSCAN = 4, /* values hold no pointers */
};

/* make(map[K]V, hint): keysize-byte keys (sizeof(const char *) with
 * GC_MAP_STRING_KEYS), valsize-byte values, room for hint entries without
 * growing.  NULL with errno ENOMEM if out of memory, or keysize is 0, or
 * keysize or valsize is above 1 MiB. */
GC_API gc_map *gc_makemap(size_t keysize, size_t valsize, size_t hint, unsigned flags);

/* The value slot of *key, or NULL if absent (m may be NULL).  With string
 * keys, key points to a const char *. */
GC_API void *gc_mapaccess(gc_map *m, const void *key);

/* The value slot of *key, inserted zeroed if absent. */
GC_API void *gc_mapassign(gc_map *m, const void *key);

/* delete(m, key); true if it was present. */
GC_API bool gc_mapdelete(gc_map *m, const void *key);

/* len(m) and clear(m) (m may be NULL). */
GC_API size_t gc_maplen(const gc_map *m);
GC_API void gc_mapclear(gc_map *m);

/* An iteration over a map: for (gc_mapiterinit(&it, m); gc_mapiternext(&it);)
 * gives each entry in it.key and it.val. */
typedef struct gc_mapiter {
    const void *key; /* the current entry's key (a const char ** with string keys) */
    void *val;       /* and its value slot */
    void *priv_[4];
    uint64_t state_[4];
} gc_mapiter;
GC_API void gc_mapiterinit(gc_mapiter *it, gc_map *m);
GC_API bool gc_mapiternext(gc_mapiter *it);

#ifndef __cplusplus
/* The map type map[K]V, and map[string]V with C-string keys:
 *     typedef GC_MAP(uint64_t, double) id_weights;
 * A map value is one pointer, copied by assignment as Go copies a map. */
#define GC_MAP(K, V)          \
    union {                   \
        gc_map *m;            \
        K *key_type_;         \
        V *val_type_;         \
        char (*kind_)[1];     \
    }
#define GC_MAP_STR(V)                \
    union {                          \
        gc_map *m;                   \
        const char **key_type_;      \
        V *val_type_;                \
        char (*kind_)[2];            \
    }

/* make(M, hint), M a GC_MAP type; _noscan: neither keys nor values hold
 * pointers, whatever their types. */
#define gc_make_map(M, hint)                                                                   \
    gc_make_map__(M, hint,                                                                     \
                  (GC_NOSCAN_OF(*_gc_m.key_type_) ? GC_MAP_KEYS_NOSCAN : 0) |                  \
                      (GC_NOSCAN_OF(*_gc_m.val_type_) ? GC_MAP_VALUES_NOSCAN : 0))
#define gc_make_map_noscan(M, hint) gc_make_map__(M, hint, GC_MAP_KEYS_NOSCAN | GC_MAP_VALUES_NOSCAN)
#define gc_make_map__(M, hint, flags_)                                                         \
    __extension__({                                                                            \
        M _gc_m;                                                                               \
        unsigned _gc_f = (flags_);                                                             \
        if (sizeof *_gc_m.kind_ == 2)                                                          \
            _gc_f = GC_MAP_STRING_KEYS | (_gc_f & GC_MAP_VALUES_NOSCAN);                       \
        _gc_m.m = gc_makemap(sizeof *_gc_m.key_type_, sizeof *_gc_m.val_type_, (hint), _gc_f); \
        _gc_m;                                                                                 \
    })

/* m[k] = v */
#define gc_map_set(M, k, v)                                                                    \
    ((void)__extension__({                                                                     \
        __typeof__(M) _gc_m = (M);                                                             \
        __typeof__(*_gc_m.key_type_) _gc_k = (k);                                              \
        __typeof__(*_gc_m.val_type_) _gc_v = (v);                                              \
        *(__typeof__(_gc_m.val_type_))gc_mapassign(_gc_m.m, &_gc_k) = _gc_v;                   \
    }))

/* v := m[k]: the value, or a zeroed one if k is absent. */
#define gc_map_get(M, k)                                                                       \
    __extension__({                                                                            \
        __typeof__(M) _gc_m = (M);                                                             \
        __typeof__(*_gc_m.key_type_) _gc_k = (k);                                              \
        __typeof__(_gc_m.val_type_) _gc_p = (__typeof__(_gc_p))gc_mapaccess(_gc_m.m, &_gc_k);  \
        __typeof__(*_gc_p) _gc_z;                                                              \
        if (_gc_p)                                                                             \
            _gc_z = *_gc_p;                                                                    \
        else                                                                                   \
            __builtin_memset(&_gc_z, 0, sizeof _gc_z);                                         \
        _gc_z;                                                                                 \
    })

/* v, ok := m[k]: true if k is present; *vp (vp may be NULL) gets the value,
 * or is zeroed. */
#define gc_map_lookup(M, k, vp)                                                                \
    __extension__({                                                                            \
        __typeof__(M) _gc_m = (M);                                                             \
        __typeof__(*_gc_m.key_type_) _gc_k = (k);                                              \
        __typeof__(_gc_m.val_type_) _gc_o = (vp);                                              \
        __typeof__(_gc_o) _gc_p = (__typeof__(_gc_p))gc_mapaccess(_gc_m.m, &_gc_k);            \
        if (_gc_o && _gc_p)                                                                    \
            *_gc_o = *_gc_p;                                                                   \
        else if (_gc_o)                                                                        \
            __builtin_memset(_gc_o, 0, sizeof *_gc_o);                                         \
        _gc_p != 0;                                                                            \
    })

/* &m[k] if k is present, else NULL (valid until the map is next written). */
#define gc_map_ptr(M, k)                                                                       \
    __extension__({                                                                            \
        __typeof__(M) _gc_m = (M);                                                             \
        __typeof__(*_gc_m.key_type_) _gc_k = (k);                                              \
        (__typeof__(_gc_m.val_type_))gc_mapaccess(_gc_m.m, &_gc_k);                            \
    })

/* delete(m, k); true if k was present. */
#define gc_map_delete(M, k)                                                                    \
    __extension__({                                                                            \
        __typeof__(M) _gc_m = (M);                                                             \
        __typeof__(*_gc_m.key_type_) _gc_k = (k);                                              \
        gc_mapdelete(_gc_m.m, &_gc_k);                                                         \
    })

/* len(m), clear(m) */
#define gc_map_len(M) gc_maplen((M).m)
#define gc_map_clear(M) gc_mapclear((M).m)

/* for k, v := range m { ... }: declares kp (const K *) and vp (V *) for the
 * body; break and continue work as in any loop.  M is evaluated once.
 *     gc_map_range(m, k, v) printf("%s: %d\n", *k, *v);
 */
#define gc_map_range(M, kp, vp)                                                                \
    for (gc_mapiter _gc_it = gc_map_iter__((M).m); !_gc_it.state_[3] && gc_mapiternext(&_gc_it);) \
        for (const __typeof__(*(M).key_type_) *kp = (__typeof__(kp))_gc_it.key; kp; kp = 0)   \
            for (__typeof__((M).val_type_) vp = (_gc_it.state_[3] = 1,                         \
                                                 (__typeof__(vp))_gc_it.val);                  \
                 _gc_it.state_[3]; _gc_it.state_[3] = 0)
static inline gc_mapiter gc_map_iter__(gc_map *m)
{
    gc_mapiter it;
    gc_mapiterinit(&it, m);
    return it;
}
#endif /* !__cplusplus */

/* ---- Channels ------------------------------------------------------------
 *
 * Go's channels between threads: a buffered channel's send blocks only when
 * its buffer is full and a receive only when it is empty; an unbuffered
 * channel hands each value from a sender to a receiver directly.  Blocked
 * threads sleep in the kernel after a short spin, and a collection can run
 * while they are blocked.  Values are copied in and out (elemsize bytes).
 *
 * close(c) wakes every blocked thread: receivers drain what is buffered, then
 * get a zeroed value and ok = false; a blocked sender panics.  A send on a
 * closed channel panics with "send on closed channel"; closing a closed
 * channel with "close of closed channel", a NULL one with "close of nil
 * channel".  A NULL channel (Go's nil channel) blocks forever in send and
 * receive, and never proceeds in a select.
 *
 * A channel is a collected object: one that no thread can reach is collected
 * with what is buffered in it, even if values remain (a thread blocked on a
 * channel reaches it).
 */
typedef struct gc_chan gc_chan;

/* make(chan T, cap) for elemsize-byte elements (elemsize may be 0: a channel
 * of signals).  NULL with errno ENOMEM when the size is impossible or memory
 * is exhausted. */
GC_API gc_chan *gc_makechan(size_t elemsize, size_t cap, int noscan);

/* c <- *elem, blocking until it proceeds.  (elem may be NULL when elemsize
 * is 0.) */
GC_API void gc_chansend(gc_chan *c, const void *elem);

/* *elem = <-c (elem may be NULL), blocking until it proceeds; returns ok:
 * false when the value is the zero value of a closed, drained channel. */
GC_API bool gc_chanrecv(gc_chan *c, void *elem);

/* Non-blocking send (select with default): true if it sent.  On a closed
 * channel it panics, as any send does. */
GC_API bool gc_chansend_nb(gc_chan *c, const void *elem);

/* Non-blocking receive: true if it received (a value, or a closed channel's
 * zero value with *ok false); false, with *elem and *ok untouched, if it
 * would block.  ok may be NULL. */
GC_API bool gc_chanrecv_nb(gc_chan *c, void *elem, bool *ok);

/* Receive waiting at most timeout_ns nanoseconds: false on timeout, else as
 * gc_chanrecv_nb. */
GC_API bool gc_chanrecv_timeout(gc_chan *c, void *elem, bool *ok, int64_t timeout_ns);

/* close(c) */
GC_API void gc_closechan(gc_chan *c);

/* len(c): values buffered; cap(c): the buffer's size (0 for NULL). */
GC_API size_t gc_chanlen(gc_chan *c);
GC_API size_t gc_chancap(gc_chan *c);

/* One case of a select. */
enum { GC_SELECT_SEND = 1, GC_SELECT_RECV = 2 };
typedef struct gc_select_case {
    gc_chan *chan; /* NULL: a nil channel, never ready */
    void *elem;    /* send: the value to send; receive: where the value goes (may be NULL) */
    int dir;       /* GC_SELECT_SEND or GC_SELECT_RECV */
    bool ok;       /* set for the chosen receive: false if the channel was closed and drained */
} gc_select_case;

/* select { case ...: } over n cases: proceeds with one of them and returns
 * its index.  When several are ready it picks one uniformly at random, as
 * Go does.  timeout_ns < 0 waits until one is ready; 0 is Go's default case
 * (returns -1 at once if none is ready); > 0 returns -1 if none became ready
 * in that many nanoseconds.  A chosen send on a closed channel panics. */
GC_API int gc_selectgo(gc_select_case *cases, size_t n, int64_t timeout_ns);

#ifndef __cplusplus
/* The channel type chan T: typedef GC_CHAN(T) name; a channel value is one
 * pointer, copied by assignment as Go copies a channel. */
#define GC_CHAN(T)           \
    union {                  \
        gc_chan *c;          \
        T *elem_type_;       \
    }

/* make(C, cap); _noscan: pointer-free buffer, whatever the element type. */
#define gc_make_chan(C, cap) gc_make_chan__(C, cap, GC_NOSCAN_OF(*_gc_c.elem_type_))
#define gc_make_chan_noscan(C, cap) gc_make_chan__(C, cap, 1)
#define gc_make_chan__(C, cap_, noscan_)                                                       \
    __extension__({                                                                            \
        C _gc_c;                                                                               \
        _gc_c.c = gc_makechan(sizeof *_gc_c.elem_type_, (cap_), noscan_);                      \
        _gc_c;                                                                                 \
    })

/* c <- v */
#define gc_send(C, v)                                                                          \
    ((void)__extension__({                                                                     \
        __typeof__(C) _gc_c = (C);                                                             \
        __typeof__(*_gc_c.elem_type_) _gc_v = (v);                                             \
        gc_chansend(_gc_c.c, &_gc_v);                                                          \
    }))

/* v := <-c (a zeroed value once c is closed and drained) */
#define gc_recv(C)                                                                             \
    __extension__({                                                                            \
        __typeof__(C) _gc_c = (C);                                                             \
        __typeof__(*_gc_c.elem_type_) _gc_v;                                                   \
        gc_chanrecv(_gc_c.c, &_gc_v);                                                          \
        _gc_v;                                                                                 \
    })

/* v, ok := <-c: *vp (vp may be NULL) gets the value; returns ok. */
#define gc_recv_ok(C, vp)                                                                      \
    __extension__({                                                                            \
        __typeof__(C) _gc_c = (C);                                                             \
        __typeof__(_gc_c.elem_type_) _gc_o = (vp);                                             \
        gc_chanrecv(_gc_c.c, _gc_o);                                                           \
    })

/* select { case c <- v: true; default: false } */
#define gc_try_send(C, v)                                                                      \
    __extension__({                                                                            \
        __typeof__(C) _gc_c = (C);                                                             \
        __typeof__(*_gc_c.elem_type_) _gc_v = (v);                                             \
        gc_chansend_nb(_gc_c.c, &_gc_v);                                                       \
    })

/* select { case v, ok := <-c: true; default: false }; okp may be NULL. */
#define gc_try_recv(C, vp, okp)                                                                \
    __extension__({                                                                            \
        __typeof__(C) _gc_c = (C);                                                             \
        __typeof__(_gc_c.elem_type_) _gc_o = (vp);                                             \
        gc_chanrecv_nb(_gc_c.c, _gc_o, (okp));                                                 \
    })

/* A receive that gives up after timeout_ns nanoseconds: false on timeout. */
#define gc_recv_timeout(C, vp, okp, timeout_ns)                                                \
    __extension__({                                                                            \
        __typeof__(C) _gc_c = (C);                                                             \
        __typeof__(_gc_c.elem_type_) _gc_o = (vp);                                             \
        gc_chanrecv_timeout(_gc_c.c, _gc_o, (okp), (timeout_ns));                              \
    })

/* close(c), len(c), cap(c) */
#define gc_close(C) gc_closechan((C).c)
#define gc_chan_len(C) gc_chanlen((C).c)
#define gc_chan_cap(C) gc_chancap((C).c)

/* Cases for gc_selectgo: "case c <- *vp:" and "case *vp, ok = <-c:"
 * (vp may be NULL in a receive).  C is evaluated twice.
 *     int v = 0, out = 7;
 *     gc_select_case cs[] = { GC_RECV_CASE(in, &v), GC_SEND_CASE(done, &out) };
 *     switch (gc_selectgo(cs, 2, -1)) { case 0: ...; case 1: ...; }
 */
#define GC_SEND_CASE(C, vp) \
    ((gc_select_case){(C).c, (void *)(1 ? (vp) : (C).elem_type_), GC_SELECT_SEND, 0})
#define GC_RECV_CASE(C, vp) \
    ((gc_select_case){(C).c, (void *)(1 ? (vp) : (C).elem_type_), GC_SELECT_RECV, 0})
#endif /* !__cplusplus */

/* ---- bytes.Buffer --------------------------------------------------------
 *
 * A growable byte buffer, Go's bytes.Buffer: writes append at the end, reads
 * consume from the front.  A zeroed gc_buffer is an empty buffer, ready to
 * use, wherever it lives (a local, a global, a collected object; memory from
 * malloc is not scanned, so a gc_buffer there would lose its bytes).  Its
 * storage is collected and pointer-free.  With gc_pool it gives the seed's
 * buffer pool: get a buffer, gc_buffer_reset it, use it, put it back.
 */
typedef struct gc_buffer {
    unsigned char *buf; /* storage: buf[off, len) are the unread bytes */
    size_t off, len, cap;
} gc_buffer;

/* new(bytes.Buffer): a collected, empty buffer (NULL with ENOMEM). */
GC_API gc_buffer *gc_buffer_new(void);

/* Append n bytes, a C string, one byte, or printf's output; each returns
 * the bytes written, or 0 with errno ENOMEM (the buffer unchanged) if it
 * cannot grow. */
GC_API size_t gc_buffer_write(gc_buffer *b, const void *p, size_t n);
GC_API size_t gc_buffer_write_string(gc_buffer *b, const char *s);
GC_API size_t gc_buffer_write_byte(gc_buffer *b, unsigned char c);
GC_API __attribute__((format(printf, 2, 3))) size_t gc_buffer_printf(gc_buffer *b, const char *fmt, ...);

/* Read up to n bytes into p; returns how many (0: the buffer is empty, Go's
 * io.EOF).  A read that empties the buffer resets it, as in Go. */
GC_API size_t gc_buffer_read(gc_buffer *b, void *p, size_t n);

/* The next byte, or -1 if the buffer is empty. */
GC_API int gc_buffer_read_byte(gc_buffer *b);

/* The unread bytes (gc_buffer_len of them), valid until the buffer is next
 * written or reset; and a collected, NUL-terminated copy of them. */
GC_API unsigned char *gc_buffer_bytes(const gc_buffer *b);
GC_API char *gc_buffer_string(const gc_buffer *b);

/* Unread bytes; bytes the storage holds. */
GC_API size_t gc_buffer_len(const gc_buffer *b);
GC_API size_t gc_buffer_cap(const gc_buffer *b);

/* Make room for n more bytes without another allocation: 0, or -1 with
 * errno ENOMEM. */
GC_API int gc_buffer_grow(gc_buffer *b, size_t n);

/* Keep only the first n unread bytes (n > len panics with Go's "bytes.Buffer:
 * truncation out of range"); reset: empty the buffer, keeping its storage
 * for reuse. */
GC_API void gc_buffer_truncate(gc_buffer *b, size_t n);
GC_API void gc_buffer_reset(gc_buffer *b);

#ifdef __cplusplus
}
#endif

#endif /* TRICOLOR_H */
