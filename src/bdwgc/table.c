/*
 * table.c - the layer's tables from an address to a word (finalize.c's
 * finalizers and links, debug.c's and mark.c's registries).
 *
 * Open addressing, keys 0 (empty) and 1 (removed) reserved.  The memory is
 * sys_map'd, never malloc'd: the tables are used under allocator-section
 * locks and with the world stopped, where malloc's lock may be held by a
 * stopped thread.  The caller holds t->lock.
 */
#include "layer.h"

static size_t slot_of(uintptr_t k, size_t cap) { return (size_t)((k >> 3) * 0x9E3779B97F4A7C15ull) & (cap - 1); }

static bool table_grow(struct table *t)
{
    size_t cap = t->cap ? (t->live * 4 > t->cap ? t->cap * 2 : t->cap) : 1024;
    uintptr_t *k = sys_map(cap * sizeof(uintptr_t), SYS_OTHER), *v = sys_map(cap * sizeof(uintptr_t), SYS_OTHER);
    if (!k || !v) {
        if (k)
            sys_unmap(k, cap * sizeof(uintptr_t), SYS_OTHER);
        if (v)
            sys_unmap(v, cap * sizeof(uintptr_t), SYS_OTHER);
        return false;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (t->keys[i] <= 1)
            continue;
        size_t j = slot_of(t->keys[i], cap);
        while (k[j])
            j = (j + 1) & (cap - 1);
        k[j] = t->keys[i];
        v[j] = t->vals[i];
    }
    if (t->cap) {
        sys_unmap(t->keys, t->cap * sizeof(uintptr_t), SYS_OTHER);
        sys_unmap(t->vals, t->cap * sizeof(uintptr_t), SYS_OTHER);
    }
    t->keys = k;
    t->vals = v;
    t->cap = cap;
    t->used = t->live;
    return true;
}

long table_find(struct table *t, uintptr_t key)
{
    if (!t->cap)
        return -1;
    for (size_t i = slot_of(key, t->cap); t->keys[i]; i = (i + 1) & (t->cap - 1))
        if (t->keys[i] == key)
            return (long)i;
    return -1;
}

void table_del(struct table *t, long i)
{
    t->keys[i] = 1;
    t->live--;
}

bool table_put(struct table *t, uintptr_t key, uintptr_t val)
{
    if ((t->used + 1) * 2 > t->cap && !table_grow(t))
        return false;
    size_t i = slot_of(key, t->cap);
    while (t->keys[i] > 1)
        i = (i + 1) & (t->cap - 1);
    if (!t->keys[i])
        t->used++;
    t->keys[i] = key;
    t->vals[i] = val;
    t->live++;
    return true;
}

