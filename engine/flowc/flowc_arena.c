/*
 * flowc_arena.c — the per-compile arena and its small helpers.
 *
 * Layer: engine/flowc internals (libc only).
 * Invariants: memory is zeroed, 16-byte aligned and freed all at once by
 * fc_arena_release; a failed allocation sets arena->failed and returns NULL,
 * so passes can keep going and the driver reports ST_NOMEM once.
 */
#include "flowc/flowc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FC_CHUNK_MIN (64 * 1024)

struct fc_chunk {
    fc_chunk_t *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *fc_alloc(fc_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    fc_chunk_t *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > FC_CHUNK_MIN ? n : FC_CHUNK_MIN;
        c = malloc(sizeof *c + cap);
        if (c == NULL) {
            a->failed = true;
            return NULL;
        }
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *fc_strndup(fc_arena_t *a, const char *s, size_t n)
{
    char *d = fc_alloc(a, n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *fc_strdup(fc_arena_t *a, const char *s)
{
    return fc_strndup(a, s, strlen(s));
}

char *fc_printf(fc_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *d = fc_alloc(a, (size_t)n + 1);
    if (d == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

void fc_arena_release(fc_arena_t *a)
{
    if (a == NULL)
        return;
    fc_chunk_t *c = a->head;
    while (c != NULL) {
        fc_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

void fc_vec_push(fc_arena_t *a, fc_vec_t *vec, void *item)
{
    if (vec->n == vec->cap) {
        uint32_t cap = vec->cap ? vec->cap * 2 : 4;
        void **v = fc_alloc(a, cap * sizeof *v);
        if (v == NULL)
            return;
        if (vec->n)
            memcpy(v, vec->v, vec->n * sizeof *v);
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->n++] = item;
}
