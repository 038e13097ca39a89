/*
 * finalize.c - finalizers and cleanups, and the thread that runs them.
 *
 * Owns gc_set_finalizer (runtime.SetFinalizer), gc_add_cleanup and
 * gc_cleanup_stop (runtime.AddCleanup, Cleanup.Stop), the queue of calls the
 * sweeper makes ready, and the finalizer thread.  The records themselves and
 * what the collector does with them are special.c's.
 *
 * The queue: blocks of entries (metadata), FIFO, under fin_lock.  It is a
 * root: an object whose finalizer is queued, and whatever it reaches, lives
 * until the call was made.  Nothing is queued while marking runs (sweeping
 * is over before a cycle starts), and an entry the thread takes is on its
 * stack, which is scanned: so one scan of the queue per cycle suffices.
 *
 * The thread: one, started by the first finalizer or cleanup, registered as a
 * program thread (its stack is scanned, it assists), runs the calls one at a
 * time in the order they were queued, as Go's finalizer goroutine.  It sleeps
 * on a futex word that pushes bump.  fin_lock is held only inside allocator
 * sections (the sweeper pushes from inside one).
 *
 * A cleanup's handle is a small noscan object holding the object's address
 * (hidden from the collector: noscan) and the record's id, so that a handle
 * kept after its cleanup ran stays valid and stop does nothing then.
 */
#include "internal.h"

/* The thread copies entries word by word: a vector register left holding an
 * object's address would keep it alive (see mark.c). */
#pragma GCC optimize("no-tree-slp-vectorize", "no-tree-loop-vectorize", "no-tree-loop-distribute-patterns")

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

struct gc_cleanup {
    uintptr_t obj; /* the object (in a noscan object: no reference) */
    uint64_t id;
};

typedef struct finentry {
    uintptr_t kind;
    void (*fn)(void);
    void *obj; /* a finalizer's object; NULL for a cleanup */
    void *arg;
} finentry_t;

#define FINBLOCK_ENTRIES 127

typedef struct finblock {
    struct finblock *next;
    uint32_t head, tail; /* entries [head, tail) wait */
    finentry_t e[FINBLOCK_ENTRIES];
} finblock_t;

static pthread_mutex_t fin_lock = PTHREAD_MUTEX_INITIALIZER;
static finblock_t *fq_head, *fq_tail; /* pop at the head, push at the tail */
static fixalloc_t finblock_alloc;
static _Atomic uint32_t fin_seq;       /* bumped by each wake: the thread's futex word */
static _Atomic bool fin_used;          /* a finalizer or cleanup was ever set */
static _Atomic bool fin_started;       /* the thread exists */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t cleanup_ids;

void finalize_init(void) { fixalloc_init(&finblock_alloc, sizeof(finblock_t), SYS_OTHER); }


/* (The sweeper pushes with a span's special lock held, so inside an
 * allocator section: the queue's lock is taken inside one too.) */
bool finq_push_locked(bool *locked, int kind, void (*fn)(void), void *obj, void *arg)
{
    if (!*locked) {
        pthread_mutex_lock(&fin_lock);
        *locked = true;
    }
    if (!fq_tail || fq_tail->tail == FINBLOCK_ENTRIES) {
        finblock_t *b = fixalloc_alloc(&finblock_alloc);
        if (!b)
            return false;
        if (fq_tail)
            fq_tail->next = b;
        else
            fq_head = b;
        fq_tail = b;
    }
    finentry_t *e = &fq_tail->e[fq_tail->tail++];
    e->kind = (uintptr_t)kind;
    e->fn = fn;
    e->obj = obj;
    e->arg = arg;
    return true;
}

void finq_unlock(void) { pthread_mutex_unlock(&fin_lock); }

void finq_wake(void)
{
    atomic_fetch_add(&fin_seq, 1);
    tc_futex(&fin_seq, FUTEX_WAKE, 1);
}

/* Take the oldest entry, clearing its slot (the queue must not keep it). */
static bool finq_pop(finentry_t *out)
{
    while (fq_head) {
        finblock_t *b = fq_head;
        if (b->head < b->tail) {
            finentry_t *e = &b->e[b->head++];
            out->kind = e->kind;
            out->fn = e->fn;
            out->obj = e->obj;
            out->arg = e->arg;
            e->obj = e->arg = NULL;
            return true;
        }
        if (b->tail < FINBLOCK_ENTRIES)
            return false;
        fq_head = b->next;
        if (!fq_head)
            fq_tail = NULL;
        fixalloc_free(&finblock_alloc, b);
    }
    return false;
}

void finq_mark(void)
{
    gc_thread_t *t = section_lock(&fin_lock);
    for (finblock_t *b = fq_head; b; b = b->next)
        mark_range((uintptr_t)&b->e[b->head], (uintptr_t)&b->e[b->tail]);
    section_unlock(&fin_lock, t);
}

/* ---- the thread --------------------------------------------------------------- */

/* Run a batch of queued calls; false when the queue is empty.  The batch
 * is on this frame's stack, which is scanned: its objects live until their
 * calls.  Its own frame: no object's address is left in the loop's. */
#define RUN_BATCH 64

static NOINLINE bool run_batch(gc_thread_t *t)
{
    finentry_t e[RUN_BATCH];
    int n = 0;
    section_lock(&fin_lock);
    while (n < RUN_BATCH && finq_pop(&e[n]))
        n++;
    section_unlock(&fin_lock, t);
    for (int i = 0; i < n; i++) {
        if (e[i].kind == SPECIAL_FINALIZER)
            ((void (*)(void *, void *))e[i].fn)(e[i].obj, e[i].arg);
        else
            ((void (*)(void *))e[i].fn)(e[i].arg);
        e[i].obj = e[i].arg = NULL; /* done: no longer kept */
    }
    __asm__ volatile("" : : "r"(e) : "memory");
    return n > 0;
}

/* bdwgc's layer: run what is queued now, in the calling thread (bdwgc
 * hands a collection's finalizers over before GC_gcollect returns). */
void finalize_run_queued(void)
{
    gc_thread_t *t = current_thread();
    if (!t || !atomic_load(&fin_used))
        return;
    while (run_batch(t))
        ;
}

/* Wipe the dead stack the calls used: a stale copy of an object's address
 * there would keep it alive while the thread sleeps. */
static NOINLINE void scrub_stack(void)
{
    char buf[16 << 10];
    memset(buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/*
 * The thread starts at fin_thread_entry.  clone gives a new thread the
 * creating thread's callee-saved registers, and the one creating this thread
 * is in gc_set_finalizer, likely holding the object's address in one; glibc's
 * start_thread then saves them at the top of the new stack, where they would
 * keep that object alive for good.  So the entry zeroes them before the
 * thread's code runs, and the thread's stack is scanned only below that code's
 * first frame.  The frame pointer is zeroed only if it does not point just
 * above the stack pointer: when it does, it is start_thread's own frame (a
 * glibc built with frame pointers), which the unwind tables find by it (a heap
 * profile sample's walk goes through it); otherwise it is the creator's value.
 */
INTERNAL void *fin_thread_main(void *arg);
__asm__(".text\n"
        ".p2align 4\n"
        ".type fin_thread_entry, @function\n"
        "fin_thread_entry:\n"
#if defined(__x86_64__)
        "endbr64\n"
        "xor %ebx, %ebx\n"
        "mov %rbp, %rax\n"
        "sub %rsp, %rax\n"
        "cmp $0x100000, %rax\n" /* 0 <= rbp - rsp < 1 MiB: a frame of this stack */
        "jb 1f\n"
        "xor %ebp, %ebp\n"
        "1:\n"
        "xor %r12d, %r12d\n"
        "xor %r13d, %r13d\n"
        "xor %r14d, %r14d\n"
        "xor %r15d, %r15d\n"
        "jmp fin_thread_main\n"
#elif defined(__aarch64__)
        "mov x19, xzr\n"
        "mov x20, xzr\n"
        "mov x21, xzr\n"
        "mov x22, xzr\n"
        "mov x23, xzr\n"
        "mov x24, xzr\n"
        "mov x25, xzr\n"
        "mov x26, xzr\n"
        "mov x27, xzr\n"
        "mov x28, xzr\n"
        "mov x10, sp\n"
        "sub x9, x29, x10\n"
        "mov x11, #0x100000\n"
        "cmp x9, x11\n" /* 0 <= x29 - sp < 1 MiB: a frame of this stack */
        "b.lo 1f\n"
        "mov x29, xzr\n"
        "1:\n"
        "b fin_thread_main\n"
#else
#error "tricolor: fin_thread_entry needs this architecture's callee-saved registers"
#endif
        ".size fin_thread_entry, .-fin_thread_entry\n");
void *fin_thread_entry(void *arg);

__attribute__((used)) void *fin_thread_main(void *arg)
{
    (void)arg;
    gc_thread_t *t = thread_register_below((uintptr_t)__builtin_frame_address(0));
    if (!t) {
        atomic_store(&fin_started, false);
        return NULL;
    }
    for (;;) {
        uint32_t seq = atomic_load(&fin_seq);
        if (run_batch(t))
            continue;
        scrub_stack();
        tc_futex(&fin_seq, FUTEX_WAIT, seq);
    }
    return NULL;
}

/* Outside allocator sections. */
static void start_thread(void)
{
    if (atomic_load(&fin_started))
        return;
    pthread_mutex_lock(&start_lock);
    if (!atomic_load(&fin_started))
        atomic_store(&fin_started, thread_start_internal(fin_thread_entry, true));
    pthread_mutex_unlock(&start_lock);
}

void finalize_after_gc(void)
{
    if (!atomic_load(&fin_used))
        return;
    if (!atomic_load(&fin_started) && __atomic_load_n(&fq_head, __ATOMIC_RELAXED))
        start_thread();
    finq_wake();
}

static void use(void)
{
    atomic_store(&fin_used, true);
    start_thread();
}

void finalize_lock_all(void)
{
    pthread_mutex_lock(&start_lock);
    pthread_mutex_lock(&fin_lock);
    pthread_mutex_lock(&finblock_alloc.lock);
}

void finalize_unlock_all(void)
{
    pthread_mutex_unlock(&finblock_alloc.lock);
    pthread_mutex_unlock(&fin_lock);
    pthread_mutex_unlock(&start_lock);
}

/* The thread is not the child's: the next collection (or finalizer) starts
 * another if calls wait. */
void finalize_fork_child(void) { atomic_store(&fin_started, false); }

/* ---- the API --------------------------------------------------------------------- */

void gc_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg) { finalizer_set(obj, fn, arg, 0); }

void finalizer_set(void *obj, void (*fn)(void *obj, void *arg), void *arg, int flags)
{
    bool unordered = flags & FIN_UNORDERED;
    gc_thread_t *t = current_thread();
    if (!t) {
        errno = ENOMEM;
        return;
    }
    special_t *fresh = NULL;
    if (fn) {
        use();
        if (!(fresh = special_new())) {
            errno = ENOMEM;
            return;
        }
    }
    enter_alloc(t);
    unsigned idx;
    span_t *s = object_at(t, (uintptr_t)obj, &idx);
    if (!s) {
        leave_alloc(t);
        if (fresh)
            special_free(fresh);
        errno = EINVAL;
        return;
    }
    special_t *gone = NULL;
    gc_thread_t *lt = special_lock_take(s->base);
    special_t *old = special_find(s, idx, SPECIAL_FINALIZER);
    if (fn && old) { /* a second one replaces the first */
        old->fn = (void (*)(void))fn;
        old->arg = arg;
        if (unordered && !old->unordered)
            atomic_fetch_add(&unordered_finalizers, 1);
        else if (!unordered && old->unordered)
            atomic_fetch_sub(&unordered_finalizers, 1);
        old->unordered = unordered;
        old->ignore_self = (flags & FIN_IGNORE_SELF) != 0;
    } else if (fn) {
        fresh->idx = idx;
        fresh->kind = SPECIAL_FINALIZER;
        fresh->unordered = unordered;
        fresh->ignore_self = (flags & FIN_IGNORE_SELF) != 0;
        if (unordered)
            atomic_fetch_add(&unordered_finalizers, 1);
        fresh->fn = (void (*)(void))fn;
        fresh->arg = arg;
        special_insert(s, fresh);
        fresh = NULL;
    } else if (old) {
        special_unlink(s, old);
        if (old->unordered)
            atomic_fetch_sub(&unordered_finalizers, 1);
        gone = old;
    }
    bool shade = fn && special_shade_now();
    special_lock_give(s->base, lt);
    /* The root walk has passed: what the record keeps must be shaded here.
     * The object itself is shaded (it is reachable: the caller holds it), so
     * it and what it points to live through this cycle; the next cycle's
     * walk keeps its referents as the finalizer needs.  An object allocated
     * while marking runs is black already: then nothing is queued. */
    if (shade) {
        void *keep[2] = {obj, arg};
        mark_shade(t, (uintptr_t)keep, (uintptr_t)(keep + 2));
    }
    leave_alloc(t);
    if (fresh)
        special_free(fresh);
    if (gone)
        special_free(gone);
}

gc_cleanup *gc_add_cleanup(void *obj, void (*fn)(void *arg), void *arg)
{
    gc_thread_t *t = current_thread();
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    use();
    gc_cleanup *c = gc_alloc_noscan(sizeof *c);
    special_t *sp = c ? special_new() : NULL;
    if (!sp) {
        errno = ENOMEM;
        return NULL;
    }
    enter_alloc(t);
    unsigned idx;
    span_t *s = object_at(t, (uintptr_t)obj, &idx);
    /* An arg inside the object would keep it alive forever: Go panics. */
    if (!s || ((uintptr_t)arg >= (uintptr_t)obj && (uintptr_t)arg < (uintptr_t)obj + s->elemsize)) {
        leave_alloc(t);
        special_free(sp);
        errno = EINVAL;
        return NULL;
    }
    sp->idx = idx;
    sp->kind = SPECIAL_CLEANUP;
    sp->fn = (void (*)(void))fn;
    sp->arg = arg;
    sp->id = atomic_fetch_add(&cleanup_ids, 1) + 1;
    c->obj = (uintptr_t)obj;
    c->id = sp->id;
    gc_thread_t *lt = special_lock_take(s->base);
    special_insert(s, sp);
    bool shade = special_shade_now();
    special_lock_give(s->base, lt);
    if (shade)
        mark_shade(t, (uintptr_t)&arg, (uintptr_t)(&arg + 1));
    leave_alloc(t);
    return c;
}

void gc_cleanup_stop(gc_cleanup *c)
{
    if (!c)
        return;
    gc_thread_t *t = current_thread();
    if (!t)
        return;
    enter_alloc(t);
    /* Swept first: if the object died, its sweep queues the cleanup (stop
     * comes too late then, as in Go). */
    uintptr_t obj = c->obj;
    span_t *s = swept_span_of(t, obj);
    special_t *gone = NULL;
    if (s) {
        unsigned idx = span_obj_index(s, obj);
        gc_thread_t *lt = special_lock_take(s->base);
        for (special_t *sp = special_find(s, idx, SPECIAL_CLEANUP); sp && sp->idx == idx; sp = sp->next)
            if (sp->kind == SPECIAL_CLEANUP && sp->id == c->id) {
                special_unlink(s, sp);
                gone = sp;
                break;
            }
        special_lock_give(s->base, lt);
    }
    leave_alloc(t);
    if (gone)
        special_free(gone);
}
