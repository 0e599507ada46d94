/*
 * flowc_map.c — string-to-index hash table for name resolution.
 *
 * Layer: engine/flowc internals (libc only).
 * Invariants: keys are not copied (they live in the same arena); the table
 * grows at half load, so lookups stay O(1) for 5,000-state flows.
 */
#include "flowc/flowc_int.h"

#include <string.h>

static uint32_t fc_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 16777619u;
    }
    return h;
}

static bool fc_map_grow(fc_arena_t *a, fc_map_t *m)
{
    uint32_t cap = m->cap ? m->cap * 2 : 64;
    const char **keys = fc_alloc(a, cap * sizeof *keys);
    uint32_t *vals = fc_alloc(a, cap * sizeof *vals);
    if (keys == NULL || vals == NULL)
        return false;
    for (uint32_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == NULL)
            continue;
        uint32_t j = fc_hash(m->keys[i]) & (cap - 1);
        while (keys[j] != NULL)
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return true;
}

uint32_t fc_map_put(fc_arena_t *a, fc_map_t *m, const char *key, uint32_t val)
{
    uint32_t old = fc_map_get(m, key);
    if (old != FC_NO_INDEX)
        return old;
    if ((m->n + 1) * 2 > m->cap && !fc_map_grow(a, m))
        return FC_NO_INDEX;
    uint32_t j = fc_hash(key) & (m->cap - 1);
    while (m->keys[j] != NULL)
        j = (j + 1) & (m->cap - 1);
    m->keys[j] = key;
    m->vals[j] = val;
    m->n++;
    return FC_NO_INDEX;
}

uint32_t fc_map_get(const fc_map_t *m, const char *key)
{
    if (m->cap == 0 || key == NULL)
        return FC_NO_INDEX;
    uint32_t j = fc_hash(key) & (m->cap - 1);
    while (m->keys[j] != NULL) {
        if (strcmp(m->keys[j], key) == 0)
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return FC_NO_INDEX;
}
