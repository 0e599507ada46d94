/*
 * st_act_buf.c — growable byte buffer and the escaping the drivers need.
 *
 * Layer: engine/activity (internal helper). Depends on libc only.
 * Invariant: a non-empty buffer is always NUL-terminated; every add either
 * appends everything or nothing and returns ST_NOMEM.
 */
#include "activity/act_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void st_act_buf_release(st_act_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *st_act_buf_detach(st_act_buf_t *b)
{
    char *p = b->p;
    if (p == NULL)
        p = calloc(1, 1);
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

static int buf_reserve(st_act_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return ST_NOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int st_act_buf_add(st_act_buf_t *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return ST_NOMEM;
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int st_act_buf_adds(st_act_buf_t *b, const char *s)
{
    return st_act_buf_add(b, s, strlen(s));
}

int st_act_buf_addf(st_act_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0)
        return ST_NOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int st_act_buf_add_urlenc(st_act_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        int unreserved = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                         (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.' ||
                         *c == '~';
        char enc[3] = {'%', hex[*c >> 4], hex[*c & 15]};
        int rc = unreserved ? st_act_buf_add(b, c, 1) : st_act_buf_add(b, enc, 3);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int st_act_buf_add_html(st_act_buf_t *b, const char *s)
{
    for (const char *c = s; *c; c++) {
        const char *ent = NULL;
        switch (*c) {
        case '&':
            ent = "&amp;";
            break;
        case '<':
            ent = "&lt;";
            break;
        case '>':
            ent = "&gt;";
            break;
        case '"':
            ent = "&quot;";
            break;
        case '\'':
            ent = "&#39;";
            break;
        }
        int rc = ent ? st_act_buf_adds(b, ent) : st_act_buf_add(b, c, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int st_act_buf_add_base64(st_act_buf_t *b, const void *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = p;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        char out[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                       i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
        if (st_act_buf_add(b, out, 4) != 0)
            return ST_NOMEM;
    }
    return 0;
}
