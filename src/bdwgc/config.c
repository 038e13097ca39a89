/*
 * config.c - bdwgc's initialisation, settings, statistics and roots.
 *
 * Owns the variables programs read or write directly (GC_all_interior_pointers,
 * GC_no_dls, GC_java_finalization, the plausible heap bounds, ...: exported
 * data, so that a program's copy relocations work) and the hooks installed
 * into the collector (ext_hooks): extra roots, mark termination, the start
 * callback and the heap's bounds.
 *
 * Settings without a meaning in tricolor (the free-space divisor's exact
 * arithmetic, time limits, marker counts) are stored and read back, so that
 * programs that set and check them work.  bdwgc's environment variables are
 * read at GC_init: see README.md for the ones that mean something here.
 */
#include "layer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- variables programs read directly --------------------------------------- */

BDWGC_API int GC_all_interior_pointers = 1;
BDWGC_API int GC_no_dls = 0;
BDWGC_API int GC_java_finalization = 1;
BDWGC_API int GC_dont_gc = 0;
BDWGC_API int GC_dont_expand = 0;
BDWGC_API int GC_dont_precollect = 0;
BDWGC_API int GC_find_leak = 0;
BDWGC_API int GC_finalize_on_demand = 0;
BDWGC_API int GC_full_freq = 19;
BDWGC_API int GC_parallel = 0;
BDWGC_API int GC_use_entire_heap = 0;
BDWGC_API GC_word GC_gc_no = 0;
BDWGC_API GC_word GC_free_space_divisor = 3;
BDWGC_API GC_word GC_max_retries = 0;
BDWGC_API GC_word GC_non_gc_bytes = 0;
BDWGC_API unsigned long GC_time_limit = 999999;
BDWGC_API char *GC_stackbottom = NULL;
static void *default_oom(size_t n)
{
    (void)n;
    return NULL;
}
BDWGC_API GC_oom_func GC_oom_fn = default_oom; /* bdwgc's default returns NULL too: never NULL itself */
BDWGC_API GC_finalizer_notifier_proc GC_finalizer_notifier = NULL;
BDWGC_API GC_on_heap_resize_proc GC_on_heap_resize = NULL;
BDWGC_API GC_push_other_roots_proc GC_push_other_roots = NULL;
BDWGC_API GC_abort_func GC_on_abort = NULL;
BDWGC_API void (*GC_is_visible_print_proc)(void *) = NULL;
BDWGC_API void (*GC_is_valid_displacement_print_proc)(void *) = NULL;
BDWGC_API void (*GC_same_obj_print_proc)(void *, void *) = NULL;
/* Just outside the heap on both sides, so that neither holds an object. */
BDWGC_API void *GC_least_plausible_heap_addr = (void *)~(uintptr_t)0;
BDWGC_API void *GC_greatest_plausible_heap_addr = NULL;

int layer_dont_gc_depth;
int layer_abort_on_leak;

/* ---- warnings and aborts ---------------------------------------------------- */

static void default_warn(char *msg, GC_word arg)
{
    fprintf(stderr, msg, arg);
}

static _Atomic(GC_warn_proc) warn_proc = default_warn;

BDWGC_API void GC_ignore_warn_proc(char *msg, GC_word arg)
{
    (void)msg;
    (void)arg;
}

BDWGC_API void GC_set_warn_proc(GC_warn_proc p) { atomic_store(&warn_proc, p); }
BDWGC_API GC_warn_proc GC_get_warn_proc(void) { return atomic_load(&warn_proc); }

void layer_warn(const char *fmt, GC_word arg) { atomic_load(&warn_proc)((char *)fmt, arg); }

static void default_abort(const char *msg)
{
    if (msg)
        fprintf(stderr, "%s\n", msg);
}

BDWGC_API void GC_set_abort_func(GC_abort_func f) { GC_on_abort = f; }
BDWGC_API GC_abort_func GC_get_abort_func(void) { return GC_on_abort; }

BDWGC_API void GC_abort_on_oom(void)
{
    fprintf(stderr, "tricolor (libgc): out of memory\n");
    abort();
}

/* ---- printing (gctest's private helpers) -------------------------------------- */

BDWGC_API void GC_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fflush(stdout);
}

BDWGC_API void GC_err_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

BDWGC_API void GC_log_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* ---- hooks ---------------------------------------------------------------------- */

static void heap_grown(uintptr_t lo, uintptr_t hi)
{
    GC_least_plausible_heap_addr = (void *)(lo - 1);
    GC_greatest_plausible_heap_addr = (void *)hi;
    GC_on_heap_resize_proc f = GC_on_heap_resize;
    if (f)
        f((GC_word)(hi - lo));
}

static void extra_roots(void)
{
    GC_push_other_roots_proc f = GC_push_other_roots;
    if (f)
        f();
}

static _Atomic(GC_start_callback_proc) start_callback;

__thread bool layer_holds_gc_lock;

static void cycle_start(void)
{
    GC_start_callback_proc f = atomic_load(&start_callback);
    if (f) {
        layer_holds_gc_lock = true;
        f();
        layer_holds_gc_lock = false;
    }
}

static void marked_reachable(void) { layer_links_done(0); }

static pthread_mutex_t disable_lock = PTHREAD_MUTEX_INITIALIZER;

/* fork: with gc_lock held (threads.c), every lock of the layer, so that the
 * child's tables are whole and its locks free.  None of them is held while
 * waiting for gc_lock or allocating, so taking them after it cannot wait
 * forever. */
static void fork_locks(bool take)
{
    if (take) {
        layer_finalize_locks(true);
        layer_debug_locks(true);
        layer_mark_locks(true);
        layer_alloc_locks(true);
        pthread_mutex_lock(&disable_lock);
    } else {
        pthread_mutex_unlock(&disable_lock);
        layer_alloc_locks(false);
        layer_mark_locks(false);
        layer_debug_locks(false);
        layer_finalize_locks(false);
    }
}

static void mark_done(void)
{
    GC_gc_no++;
    layer_links_done(1);
    layer_debug_mark_done();
    layer_kind_mark_done();
    layer_typed_mark_done();
}

/* ---- initialisation -------------------------------------------------------------- */

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    switch (*end) {
    case 'k': case 'K': v <<= 10; break;
    case 'm': case 'M': v <<= 20; break;
    case 'g': case 'G': v <<= 30; break;
    default: break;
    }
    return (size_t)v;
}

static int force_unmap; /* GC_set_force_unmap_on_gcollect: GC_gcollect returns free pages too */
static void *oom_trampoline(size_t n);
BDWGC_API void GC_set_free_space_divisor(GC_word d);

static pthread_once_t layer_once = PTHREAD_ONCE_INIT;

static void layer_init_once(void)
{
    if (!GC_on_abort)
        GC_on_abort = default_abort;
    ext_hooks.heap_grown = heap_grown;
    ext_hooks.extra_roots = extra_roots;
    ext_hooks.cycle_start = cycle_start;
    ext_hooks.mark_done = mark_done;
    ext_hooks.marked_reachable = marked_reachable;
    ext_hooks.fork_locks = fork_locks;
    gc_init_once();
    gc_set_oom_fn(oom_trampoline);
    uintptr_t lo = heap_min(), hi = heap_max();
    if (lo < hi)
        heap_grown(lo, hi);
    layer_finalize_init();
    layer_mark_init();
    const char *s;
    if ((s = getenv("GC_PRINT_STATS")) && !env.gctrace)
        env.gctrace = 1;
    if ((s = getenv("GC_PRINT_VERBOSE_STATS")) && env.gctrace < 2)
        env.gctrace = 2;
    if ((s = getenv("GC_ABORT_ON_LEAK")))
        layer_abort_on_leak = strcmp(s, "0") != 0;
    if ((s = getenv("GC_DONT_GC")))
        GC_dont_gc = 1;
    if ((s = getenv("GC_MAXIMUM_HEAP_SIZE")) && *s && !getenv("GOMEMLIMIT"))
        gc_set_memory_limit((int64_t)parse_size(s));
    if ((s = getenv("GC_FREE_SPACE_DIVISOR"))) {
        long d = strtol(s, NULL, 10);
        if (d > 0)
            GC_set_free_space_divisor((GC_word)d);
    }
    if ((s = getenv("GC_FIND_LEAK")))
        GC_find_leak = 1;
    if ((s = getenv("GC_FORCE_UNMAP_ON_GCOLLECT")))
        force_unmap = strcmp(s, "0") != 0;
}

_Atomic bool layer_ready;

void layer_init_slow(void)
{
    pthread_once(&layer_once, layer_init_once);
    atomic_store_explicit(&layer_ready, true, memory_order_release);
}

BDWGC_API void GC_init(void)
{
    layer_init();
    gc_register_thread();
    /* A heap from the start, as bdwgc's (GC_get_heap_size is not 0). */
    gc_keep_alive(gc_alloc(16));
}

BDWGC_API int GC_is_init_called(void) { return heap_max() != 0 || ext_hooks.mark_done != NULL; }
BDWGC_API void GC_deinit(void) {}
BDWGC_API unsigned GC_get_version(void) { return (8u << 16) | (2u << 8) | 2u; }

/* ---- collection -------------------------------------------------------------------- */

BDWGC_API void GC_gcollect(void)
{
    layer_init();
    if (GC_dont_gc)
        return;
    if (force_unmap)
        gc_free_os_memory();
    else
        gc_collect();
    layer_debug_report();
    /* The collection's finalizers, handed over before returning (Guile's
     * (gc) drains its guardians right after). */
    finalize_run_queued();
    layer_run_finalizers();
}

BDWGC_API int GC_try_to_collect(GC_stop_func f)
{
    (void)f;
    if (GC_dont_gc)
        return 0;
    GC_gcollect();
    return 1;
}

BDWGC_API void GC_gcollect_and_unmap(void)
{
    layer_init();
    if (GC_dont_gc)
        return;
    gc_free_os_memory();
}

/* tricolor's collections run in the background: a little is nothing. */
BDWGC_API int GC_collect_a_little(void)
{
    layer_init();
    return 0;
}

static int disable_depth, saved_percent;

/* Nest: collections resume at the last GC_enable.  GC_gcollect does
 * nothing meanwhile, as in bdwgc. */
BDWGC_API void GC_disable(void)
{
    layer_init();
    pthread_mutex_lock(&disable_lock);
    if (disable_depth++ == 0) {
        saved_percent = gc_set_percent(-1);
        GC_dont_gc = 1;
        atomic_store(&gc_disabled, true);
    }
    pthread_mutex_unlock(&disable_lock);
    /* As bdwgc's (it takes the lock): no cycle runs once this returns.  Not
     * when this thread holds the lock itself (inside GC_call_with_alloc_lock
     * or the start callback). */
    if (!layer_holds_gc_lock) {
        pthread_mutex_lock(&gc_lock);
        pthread_mutex_unlock(&gc_lock);
    }
}

BDWGC_API void GC_enable(void)
{
    pthread_mutex_lock(&disable_lock);
    if (disable_depth > 0 && --disable_depth == 0) {
        GC_dont_gc = 0;
        atomic_store(&gc_disabled, false);
        gc_set_percent(saved_percent);
    }
    pthread_mutex_unlock(&disable_lock);
}

BDWGC_API int GC_is_disabled(void) { return GC_dont_gc != 0; }

/* Always concurrent: the call is accepted. */
BDWGC_API void GC_enable_incremental(void) { layer_init(); }
BDWGC_API int GC_is_incremental_mode(void) { return 1; }
BDWGC_API int GC_incremental_protection_needs(void) { return 0; }
BDWGC_API void GC_start_incremental_collection(void) { GC_gcollect(); }
BDWGC_API void GC_start_mark_threads(void) {}
BDWGC_API void GC_start_performance_measurement(void) {}

/* ---- statistics --------------------------------------------------------------------- */

static gc_memstats *stats_now(void)
{
    static __thread gc_memstats ms;
    layer_init();
    gc_read_memstats(&ms);
    return &ms;
}

/* The frequent ones read the collector's counters, without stopping the
 * world as gc_read_memstats does.  heap_live is the pacer's count of the
 * bytes allocated (live after the last mark, plus allocated since). */
static uint64_t heap_mapped(void)
{
    uint64_t sys = atomic_load(&sys_bytes[SYS_HEAP]), rel = atomic_load(&heap_released_bytes);
    return sys > rel ? sys - rel : 0;
}

static uint64_t heap_used(void)
{
    int64_t live = atomic_load(&heap_live);
    return live > 0 ? (uint64_t)live : 0;
}

BDWGC_API size_t GC_get_heap_size(void)
{
    layer_init();
    return (size_t)heap_mapped();
}

BDWGC_API size_t GC_get_free_bytes(void)
{
    uint64_t mapped = heap_mapped(), used = heap_used();
    return (size_t)(mapped > used ? mapped - used : 0);
}

BDWGC_API size_t GC_get_unmapped_bytes(void) { return (size_t)atomic_load(&heap_released_bytes); }
BDWGC_API size_t GC_get_total_bytes(void) { return (size_t)stats_now()->total_alloc; }
BDWGC_API size_t GC_get_memory_use(void) { return (size_t)heap_used(); }
BDWGC_API size_t GC_get_obtained_from_os_bytes(void) { return (size_t)stats_now()->sys; }
BDWGC_API GC_word GC_get_gc_no(void) { return GC_gc_no; }

/* heap_live starts each cycle's aftermath at the bytes it marked. */
BDWGC_API size_t GC_get_bytes_since_gc(void)
{
    int64_t live = atomic_load(&heap_live);
    uint64_t base = atomic_load(&last_marked_bytes);
    return live > (int64_t)base ? (size_t)(live - (int64_t)base) : 0;
}

BDWGC_API size_t GC_get_expl_freed_bytes_since_gc(void) { return 0; }

BDWGC_API void GC_get_heap_usage_safe(GC_word *heap_size, GC_word *free_bytes, GC_word *unmapped,
                                      GC_word *since_gc, GC_word *total)
{
    if (heap_size)
        *heap_size = (GC_word)GC_get_heap_size();
    if (free_bytes)
        *free_bytes = (GC_word)GC_get_free_bytes();
    if (unmapped)
        *unmapped = (GC_word)GC_get_unmapped_bytes();
    if (since_gc)
        *since_gc = (GC_word)GC_get_bytes_since_gc();
    if (total)
        *total = (GC_word)GC_get_total_bytes();
}

struct GC_prof_stats_s {
    GC_word heapsize_full, free_bytes_full, unmapped_bytes, bytes_allocd_since_gc, allocd_bytes_before_gc,
        non_gc_bytes, gc_no, markers_m1, bytes_reclaimed_since_gc, reclaimed_bytes_before_gc,
        expl_freed_bytes_since_gc, obtained_from_os_bytes;
};

BDWGC_API size_t GC_get_prof_stats(struct GC_prof_stats_s *out, size_t sz)
{
    struct GC_prof_stats_s s;
    gc_memstats *m = stats_now();
    uint64_t mapped = m->heap_sys - m->heap_released;
    s.heapsize_full = (GC_word)m->heap_sys;
    s.free_bytes_full = (GC_word)(m->heap_sys > m->heap_alloc ? m->heap_sys - m->heap_alloc : 0);
    s.unmapped_bytes = (GC_word)m->heap_released;
    s.bytes_allocd_since_gc = (GC_word)GC_get_bytes_since_gc();
    s.allocd_bytes_before_gc = (GC_word)(m->total_alloc - s.bytes_allocd_since_gc);
    s.non_gc_bytes = GC_non_gc_bytes;
    s.gc_no = GC_gc_no;
    s.markers_m1 = 0;
    s.bytes_reclaimed_since_gc = 0;
    s.reclaimed_bytes_before_gc = (GC_word)(m->total_alloc > m->heap_alloc ? m->total_alloc - m->heap_alloc : 0);
    s.expl_freed_bytes_since_gc = 0;
    s.obtained_from_os_bytes = (GC_word)m->sys;
    (void)mapped;
    if (sz > sizeof s) {
        memset((char *)out + sizeof s, 0xff, sz - sizeof s);
        sz = sizeof s;
    }
    memcpy(out, &s, sz);
    return sz;
}

BDWGC_API size_t GC_get_prof_stats_unsafe(struct GC_prof_stats_s *out, size_t sz) { return GC_get_prof_stats(out, sz); }

BDWGC_API size_t GC_get_size_map_at(int i)
{
    if (i < 0 || i > (int)MAX_SMALL_SIZE)
        return (size_t)-1;
    if (i == 0)
        return 16;
    return ((size_t)i + 15) & ~(size_t)15;
}

BDWGC_API void GC_dump(void)
{
    gc_memstats *m = stats_now();
    fprintf(stderr,
            "tricolor (libgc): heap %llu bytes (%llu in use, %llu released), %llu objects, %u collections\n",
            (unsigned long long)m->heap_sys, (unsigned long long)m->heap_alloc,
            (unsigned long long)m->heap_released, (unsigned long long)m->heap_objects, m->num_gc);
}

BDWGC_API void GC_dump_named(const char *name)
{
    if (name)
        fprintf(stderr, "%s:\n", name);
    GC_dump();
}

BDWGC_API void GC_dump_regions(void) { GC_dump(); }
BDWGC_API void GC_dump_finalization(void) {}
BDWGC_API void GC_print_free_list(int k, size_t n)
{
    (void)k;
    (void)n;
}

/* ---- settings ------------------------------------------------------------------------- */

/* tricolor calls it for sizes it could allocate (after collecting); the
 * layer for impossible ones (layer_oom), as bdwgc calls it for both. */
static void *oom_trampoline(size_t n)
{
    GC_oom_func f = GC_oom_fn;
    return f ? f(n) : NULL;
}

void *layer_oom(size_t lb) { return lb > MAX_ALLOC_SIZE ? oom_trampoline(lb) : NULL; }

BDWGC_API void GC_set_oom_fn(GC_oom_func f)
{
    layer_init();
    GC_oom_fn = f;
}
BDWGC_API GC_oom_func GC_get_oom_fn(void) { return GC_oom_fn; }

/* bdwgc grows the heap by about a 1/divisor of it between collections:
 * divisor 3, its default, is GOGC's 100. */
BDWGC_API void GC_set_free_space_divisor(GC_word d)
{
    GC_free_space_divisor = d;
    if (d > 0 && !getenv("GOGC"))
        gc_set_percent((int)(300 / d > 0 ? 300 / d : 1));
}
BDWGC_API GC_word GC_get_free_space_divisor(void) { return GC_free_space_divisor; }

/* A soft limit in tricolor (GOMEMLIMIT), not a hard one. */
BDWGC_API void GC_set_max_heap_size(GC_word n)
{
    if (!getenv("GOMEMLIMIT"))
        gc_set_memory_limit(n ? (int64_t)n : INT64_MAX);
}

BDWGC_API int GC_expand_hp(size_t n)
{
    (void)n;
    layer_init();
    return 1;
}

#define FLAG(name, var)                                                                                                \
    BDWGC_API void GC_set_##name(int v) { var = v; }                                                                  \
    BDWGC_API int GC_get_##name(void) { return var; }

FLAG(all_interior_pointers, GC_all_interior_pointers)
FLAG(no_dls, GC_no_dls)
FLAG(java_finalization, GC_java_finalization)
FLAG(dont_expand, GC_dont_expand)
FLAG(dont_precollect, GC_dont_precollect)
FLAG(find_leak, GC_find_leak)
FLAG(finalize_on_demand, GC_finalize_on_demand)
FLAG(full_freq, GC_full_freq)

static int handle_fork = 1, manual_vdb, max_prior = 1, rate = 10, pages_exec, disable_auto;
static size_t min_bytes_allocd = 1;
static GC_word allocd_per_finalizer = 10000;
FLAG(force_unmap_on_gcollect, force_unmap)
FLAG(manual_vdb_allowed, manual_vdb)
FLAG(max_prior_attempts, max_prior)
FLAG(rate, rate)
FLAG(pages_executable, pages_exec)

BDWGC_API void GC_set_disable_automatic_collection(int v)
{
    disable_auto = v;
    gc_set_percent(v ? -1 : 100);
}
BDWGC_API int GC_get_disable_automatic_collection(void) { return disable_auto; }
BDWGC_API void GC_set_handle_fork(int v) { handle_fork = v; }
BDWGC_API void GC_set_min_bytes_allocd(size_t v) { min_bytes_allocd = v; }
BDWGC_API size_t GC_get_min_bytes_allocd(void) { return min_bytes_allocd; }
BDWGC_API void GC_set_max_retries(GC_word v) { GC_max_retries = v; }
BDWGC_API GC_word GC_get_max_retries(void) { return GC_max_retries; }
BDWGC_API void GC_set_non_gc_bytes(GC_word v) { GC_non_gc_bytes = v; }
BDWGC_API GC_word GC_get_non_gc_bytes(void) { return GC_non_gc_bytes; }
BDWGC_API void GC_set_time_limit(unsigned long v) { GC_time_limit = v; }
BDWGC_API unsigned long GC_get_time_limit(void) { return GC_time_limit; }
struct GC_timeval_s {
    unsigned long tv_ms, tv_nsec;
};
static struct GC_timeval_s time_limit_tv = {999999, 0};
BDWGC_API void GC_set_time_limit_tv(struct GC_timeval_s tv) { time_limit_tv = tv; }
BDWGC_API struct GC_timeval_s GC_get_time_limit_tv(void) { return time_limit_tv; }
BDWGC_API void GC_set_allocd_bytes_per_finalizer(GC_word v) { allocd_per_finalizer = v; }
BDWGC_API GC_word GC_get_allocd_bytes_per_finalizer(void) { return allocd_per_finalizer; }
BDWGC_API void GC_set_markers_count(unsigned n) { (void)n; }
BDWGC_API int GC_get_parallel(void) { return GC_parallel; }
BDWGC_API unsigned long GC_get_full_gc_total_time(void)
{
    gc_memstats *m = stats_now();
    return (unsigned long)(m->pause_total_ns / 1000000);
}
BDWGC_API void GC_set_on_heap_resize(GC_on_heap_resize_proc f) { GC_on_heap_resize = f; }
BDWGC_API GC_on_heap_resize_proc GC_get_on_heap_resize(void) { return GC_on_heap_resize; }
BDWGC_API void GC_set_start_callback(GC_start_callback_proc f) { atomic_store(&start_callback, f); }
BDWGC_API GC_start_callback_proc GC_get_start_callback(void) { return atomic_load(&start_callback); }
static GC_stop_func stop_func;
BDWGC_API void GC_set_stop_func(GC_stop_func f) { stop_func = f; }
BDWGC_API GC_stop_func GC_get_stop_func(void) { return stop_func; }
typedef void (*GC_on_collection_event_proc)(int);
typedef void (*GC_on_thread_event_proc)(int, void *);
static _Atomic(GC_on_collection_event_proc) on_collection_event;
static GC_on_thread_event_proc on_thread_event;

/* Called by the collector holding gc_lock (the allocation lock here). */
static void collection_event(int ev)
{
    GC_on_collection_event_proc f = atomic_load(&on_collection_event);
    if (f)
        f(ev);
}

BDWGC_API void GC_set_on_collection_event(GC_on_collection_event_proc f)
{
    atomic_store(&on_collection_event, f);
    ext_hooks.event = f ? collection_event : NULL;
}
BDWGC_API GC_on_collection_event_proc GC_get_on_collection_event(void) { return atomic_load(&on_collection_event); }
BDWGC_API void GC_set_on_thread_event(GC_on_thread_event_proc f) { on_thread_event = f; }
BDWGC_API GC_on_thread_event_proc GC_get_on_thread_event(void) { return on_thread_event; }
BDWGC_API void GC_set_log_fd(int fd) { (void)fd; }
BDWGC_API void GC_noop1(GC_word x) { __asm__ volatile("" : : "r"(x) : "memory"); }
BDWGC_API void *GC_clear_stack(void *p) { return p; }
BDWGC_API int GC_get_handle_fork(void) { return handle_fork; }

/* ---- roots ----------------------------------------------------------------------------- */

BDWGC_API void GC_add_roots(void *lo, void *hi)
{
    layer_init();
    if ((uintptr_t)hi > (uintptr_t)lo)
        gc_add_roots(lo, (size_t)((uintptr_t)hi - (uintptr_t)lo));
}

BDWGC_API void GC_remove_roots(void *lo, void *hi)
{
    if ((uintptr_t)hi > (uintptr_t)lo)
        gc_remove_roots(lo, (size_t)((uintptr_t)hi - (uintptr_t)lo));
}

BDWGC_API void GC_clear_roots(void) { gc_remove_roots(NULL, SIZE_MAX); }

/* Static data is scanned whole: an exclusion keeps more alive, never less. */
BDWGC_API void GC_exclude_static_roots(void *lo, void *hi)
{
    (void)lo;
    (void)hi;
}
BDWGC_API void GC_clear_exclusion_table(void) {}
BDWGC_API void GC_register_has_static_roots_callback(void *cb) { (void)cb; }
BDWGC_API int GC_is_tmp_root(void *p)
{
    (void)p;
    return 0;
}

BDWGC_API void GC_set_push_other_roots(GC_push_other_roots_proc f) { GC_push_other_roots = f; }
BDWGC_API GC_push_other_roots_proc GC_get_push_other_roots(void) { return GC_push_other_roots; }

/* Inside GC_push_other_roots (world stopped) or a mark procedure. */
BDWGC_API void GC_push_all(void *lo, void *hi) { mark_range((uintptr_t)lo, (uintptr_t)hi); }
BDWGC_API void GC_push_all_eager(void *lo, void *hi) { mark_range((uintptr_t)lo, (uintptr_t)hi); }
BDWGC_API void GC_push_conditional(void *lo, void *hi, int all)
{
    (void)all;
    mark_range((uintptr_t)lo, (uintptr_t)hi);
}
BDWGC_API void GC_push_finalizer_structures(void) {}
