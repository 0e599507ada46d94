/*
 * st_sim_json.c — fast compact JSON serialiser (see st_sim_json.h).
 */
#include "st_sim_json.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

static const char hexdig[] = "0123456789ABCDEF"; /* as jansson writes them */

/* Quoted, escaped: room for the worst case is made once, then bytes are
 * written straight into the buffer (this is the serialiser's inner loop). */
void st_sim_buf_jstr(st_buf_t *b, const char *s, size_t n)
{
    if (st_buf_reserve(b, 6 * n + 2) != 0)
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_escape(c)) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hexdig[c >> 4];
            *o++ = hexdig[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

static void append_real(st_buf_t *b, double d)
{
    char num[40];
    int n = snprintf(num, sizeof(num), "%.17g", d);
    st_buf_add(b, num, (size_t)n);
    if (!strpbrk(num, ".eEn")) /* keep it a real, as jansson does */
        st_buf_add(b, ".0", 2);
}

void st_sim_buf_int(st_buf_t *b, json_int_t v)
{
    char num[24], *p = num + sizeof(num);
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    st_buf_add(b, p, (size_t)(num + sizeof(num) - p));
}

void st_sim_buf_json(st_buf_t *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        st_buf_add(b, "{", 1);
        json_object_foreach((json_t *)v, k, x)
        {
            if (!first)
                st_buf_add(b, ",", 1);
            first = 0;
            st_sim_buf_jstr(b, k, strlen(k));
            st_buf_add(b, ":", 1);
            st_sim_buf_json(b, x);
        }
        st_buf_add(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        st_buf_add(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                st_buf_add(b, ",", 1);
            st_sim_buf_json(b, json_array_get(v, i));
        }
        st_buf_add(b, "]", 1);
        break;
    case JSON_STRING:
        st_sim_buf_jstr(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        st_sim_buf_int(b, json_integer_value(v));
        break;
    case JSON_REAL:
        append_real(b, json_real_value(v));
        break;
    case JSON_TRUE:
        st_buf_add(b, "true", 4);
        break;
    case JSON_FALSE:
        st_buf_add(b, "false", 5);
        break;
    case JSON_NULL:
        st_buf_add(b, "null", 4);
        break;
    }
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's members in key order (keys sorted on the stack up to 32). */
static void sorted_object(st_buf_t *b, const json_t *v)
{
    size_t n = json_object_size(v), i = 0;
    const char *stack[32], **keys = n <= 32 ? stack : malloc(n * sizeof(*keys));
    const char *k;
    json_t *x;
    if (!keys) {
        b->oom = 1;
        return;
    }
    json_object_foreach((json_t *)v, k, x) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_keys);
    st_buf_add(b, "{", 1);
    for (i = 0; i < n; i++) {
        if (i)
            st_buf_add(b, ",", 1);
        st_sim_buf_jstr(b, keys[i], strlen(keys[i]));
        st_buf_add(b, ":", 1);
        st_sim_buf_json_sorted(b, json_object_get(v, keys[i]));
    }
    st_buf_add(b, "}", 1);
    if (keys != stack)
        free(keys);
}

void st_sim_buf_json_sorted(st_buf_t *b, const json_t *v)
{
    if (json_is_object(v)) {
        sorted_object(b, v);
    } else if (json_is_array(v)) {
        st_buf_add(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                st_buf_add(b, ",", 1);
            st_sim_buf_json_sorted(b, json_array_get(v, i));
        }
        st_buf_add(b, "]", 1);
    } else {
        st_sim_buf_json(b, v);
    }
}

char *st_sim_json_dumps(const json_t *v)
{
    st_buf_t b = {0};
    st_buf_reserve(&b, 2048); /* most objects fit: no realloc chain */
    if (v)
        st_sim_buf_json(&b, v);
    else
        st_buf_add(&b, "null", 4);
    return st_buf_detach(&b);
}

/* One scratch buffer per thread, freed when the thread ends. */
typedef struct scratch {
    st_buf_t b;
    int busy;
} scratch_t;

static _Thread_local scratch_t scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch_t *s = p;
    st_buf_release(&s->b);
}

static void scratch_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

st_buf_t *st_sim_buf_scratch(void)
{
    if (scratch.busy)
        return NULL;
    if (!scratch.b.p) {
        pthread_once(&scratch_once, scratch_init);
        pthread_setspecific(scratch_key, &scratch);
    }
    scratch.busy = 1;
    scratch.b.len = 0;
    scratch.b.oom = 0;
    if (scratch.b.p)
        scratch.b.p[0] = '\0';
    return &scratch.b;
}

void st_sim_buf_scratch_done(st_buf_t *b)
{
    if (b == &scratch.b)
        scratch.busy = 0;
    else
        st_buf_release(b);
}

json_t *st_sim_json_string_of(const json_t *v)
{
    st_buf_t own = {0}, *b = st_sim_buf_scratch();
    if (!b)
        b = &own;
    if (v)
        st_sim_buf_json(b, v);
    else
        st_buf_add(b, "null", 4);
    json_t *s = b->oom ? NULL : json_stringn_nocheck(b->p, b->len);
    st_sim_buf_scratch_done(b);
    return s;
}
