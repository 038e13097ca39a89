/*
 * central.c - the central span lists (Go's mcentral), one per span class.
 *
 * Owns, per span class: spans with free slots (partial) and spans without
 * (full), each in a swept and an unswept list.  Which of the pair is "swept"
 * flips with the heap's sweepgen: index (sweepgen / 2) % 2 is swept, so when a
 * collection adds 2 to sweepgen, every swept list becomes unswept at once and
 * nothing has to be moved.  Large spans (class 0) live on their class's full
 * lists so that the sweeper finds them like any other span.
 *
 * A thread cache takes a span here (central_cache_span): a swept partial span
 * if there is one, else it sweeps unswept spans of the class until one has
 * room, else it asks the page heap for a new span.  A span in a cache is on no
 * list; central_uncache_span puts it back, swept, and counts what the cache
 * allocated from it.
 *
 * Locking: one mutex per class; it is never held while sweeping or while
 * taking the heap lock, so the page heap may sweep other classes freely.
 */
#include "internal.h"

central_t centrals[NUM_SPAN_CLASSES];

void central_init(void)
{
    for (int i = 0; i < NUM_SPAN_CLASSES; i++)
        pthread_mutex_init(&centrals[i].lock, NULL);
}

void list_push(span_list_t *l, span_t *s)
{
    s->prev = NULL;
    s->next = l->head;
    if (l->head)
        l->head->prev = s;
    l->head = s;
    s->list = l;
    l->count++;
}

void list_remove(span_list_t *l, span_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        l->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->list = NULL;
    l->count--;
}

span_t *list_pop(span_list_t *l)
{
    span_t *s = l->head;
    if (s)
        list_remove(l, s);
    return s;
}

static inline unsigned swept_index(uint32_t sg) { return (sg / 2) % 2; }

/* Pop an unswept span from l and claim it for sweeping: lock held. */
static span_t *pop_unswept(span_list_t *l, uint32_t sg)
{
    span_t *s = list_pop(l);
    if (s)
        atomic_store(&s->sweepgen, sg - 1);
    return s;
}

span_t *central_cache_span(unsigned spc)
{
    central_t *c = &centrals[spc];
    uint32_t sg = atomic_load(&heap_sweepgen);
    unsigned sw = swept_index(sg);
    span_t *s;

    pthread_mutex_lock(&c->lock);
    s = list_pop(&c->partial[sw]);
    if (s)
        goto have_locked;
    /* Sweep this class's unswept spans until one has room (Go sweeps up to
     * 100 before growing the heap). */
    for (int tries = 0; tries < 100; tries++) {
        s = pop_unswept(&c->partial[!sw], sg);
        if (!s)
            s = pop_unswept(&c->full[!sw], sg);
        if (!s)
            break;
        pthread_mutex_unlock(&c->lock);
        if (sweep_span(s, true)) {
            if (s->alloc_count < s->nelems)
                goto have;
            central_put_swept(s);
        }
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);

    unsigned cls = spc >> 1;
    s = heap_alloc_span(class_npages[cls], spc);
    if (!s)
        return NULL;
    goto have;

have_locked:
    pthread_mutex_unlock(&c->lock);
have:
    tc_assert(s->state == SPAN_INUSE && !s->list && s->alloc_count < s->nelems);
    tc_assert(atomic_load(&s->sweepgen) == atomic_load(&heap_sweepgen));
    s->incache = 1;
    s->cache_count = s->alloc_count;
    if (gc_marking()) {
        /* Allocate-black: what the cache allocates from here on is marked
         * (span_refill_cache).  And the program's stores into the span must be seen. */
        s->black = 1;
        barrier_fresh_span(s);
    }
    int64_t bytes = (int64_t)(s->nelems - s->alloc_count) * (int64_t)s->elemsize;
    atomic_fetch_add(&heap_live, bytes);
    atomic_fetch_add(&heap_alloc_bytes, bytes);
    return s;
}

/* Place a swept span that is on no list. */
void central_put_swept(span_t *s)
{
    tc_assert(s->state == SPAN_INUSE && !s->list && !s->incache);
    central_t *c = &centrals[s->spanclass];
    unsigned sw = swept_index(atomic_load(&heap_sweepgen));
    pthread_mutex_lock(&c->lock);
    list_push(s->alloc_count < s->nelems ? &c->partial[sw] : &c->full[sw], s);
    pthread_mutex_unlock(&c->lock);
}

void central_uncache_span(span_t *s)
{
    unsigned cls = span_sizeclass(s);
    if (s->black) {
        /* Everything the cache allocated was marked black: its windows were
         * marked whole as they were loaded (span_refill_cache).  Unmark the
         * slots of the last window that were not handed out. */
        if (s->alloc_cache)
            __atomic_fetch_and(&s->mark_bits[s->freeindex / 64], ~(s->alloc_cache << (s->freeindex % 64)),
                               __ATOMIC_RELAXED);
        mark_add_black((uint64_t)(s->alloc_count - s->cache_count) * s->elemsize);
        s->black = 0;
    }
    atomic_fetch_add(&gstats.nmalloc[cls], s->alloc_count - s->cache_count);
    int64_t unused = (int64_t)(s->nelems - s->alloc_count) * (int64_t)s->elemsize;
    atomic_fetch_sub(&heap_live, unused);
    atomic_fetch_sub(&heap_alloc_bytes, unused);
    s->incache = 0;
    central_put_swept(s);
}

void central_lock_all(void)
{
    for (int i = 0; i < NUM_SPAN_CLASSES; i++)
        pthread_mutex_lock(&centrals[i].lock);
}

void central_unlock_all(void)
{
    for (int i = NUM_SPAN_CLASSES - 1; i >= 0; i--)
        pthread_mutex_unlock(&centrals[i].lock);
}
