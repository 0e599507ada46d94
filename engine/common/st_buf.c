/*
 * st_buf.c — the growable byte buffer (see st_buf.h).
 *
 * Layer: common (libc only).
 * Invariant: cap == 0 exactly when p == NULL; otherwise p[len] == '\0' and
 * len < cap. Growth doubles, from at least 256 bytes.
 */
#include "common/st_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_err.h"

int st_buf_reserve(st_buf_t *b, size_t more)
{
    if (b->oom)
        return ST_NOMEM;
    if (more >= (size_t)-1 / 2 - b->len) {
        b->oom = 1;
        return ST_NOMEM;
    }
    size_t need = b->len + more + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return ST_NOMEM;
    }
    if (b->p == NULL)
        p[0] = '\0';
    b->p = p;
    b->cap = cap;
    return 0;
}

int st_buf_add(st_buf_t *b, const void *p, size_t n)
{
    if (st_buf_reserve(b, n) != 0)
        return ST_NOMEM;
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int st_buf_adds(st_buf_t *b, const char *s)
{
    return st_buf_add(b, s, strlen(s));
}

int st_buf_vaddf(st_buf_t *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n < 0 || st_buf_reserve(b, (size_t)n) != 0) {
        va_end(again);
        b->oom = 1;
        return ST_NOMEM;
    }
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
    va_end(again);
    b->len += (size_t)n;
    return 0;
}

int st_buf_addf(st_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = st_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *st_buf_str(st_buf_t *b)
{
    if (st_buf_reserve(b, 0) != 0)
        return NULL;
    b->p[b->len] = '\0'; /* for writers that filled reserved room */
    return b->p;
}

void st_buf_reset(st_buf_t *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

char *st_buf_detach(st_buf_t *b)
{
    char *p = st_buf_str(b) != NULL ? b->p : NULL;
    if (p == NULL)
        free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    return p;
}

void st_buf_release(st_buf_t *b)
{
    if (b == NULL)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
