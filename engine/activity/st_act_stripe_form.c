/*
 * st_act_stripe_form.c — JSON args -> application/x-www-form-urlencoded the
 * way Stripe's API reads it (metadata[order]=42,
 * payment_method_options[card][request_three_d_secure]=any, expand[0]=...).
 *
 * Layer: engine/activity, pure. Depends on jansson and st_act_buf.
 * Invariants: output is deterministic (keys in sorted order) so the same
 * args give the same body on every retry — Stripe compares the parameters
 * of a replayed idempotent request. Floats are refused.
 */
#include "activity/act_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int encode_value(const char *key, const json_t *v, st_buf_t *out, st_err_t *err);

static int add_pair(st_buf_t *out, const char *key, const char *value)
{
    int rc = 0;
    if (out->len > 0)
        rc = st_buf_adds(out, "&");
    /* Brackets stay literal in keys, as Stripe's own clients send them. */
    for (const char *k = key; rc == 0 && *k;) {
        size_t n = strcspn(k, "[]");
        if (n == 0) {
            rc = st_buf_add(out, k++, 1);
            continue;
        }
        for (size_t i = 0; rc == 0 && i < n; i++) {
            char c[2] = {k[i], '\0'};
            rc = st_act_buf_add_urlenc(out, c);
        }
        k += n;
    }
    if (rc == 0)
        rc = st_buf_adds(out, "=");
    if (rc == 0)
        rc = st_act_buf_add_urlenc(out, value);
    return rc;
}

/* key + "[" + sub + "]" into a fresh buffer (caller releases). */
static int sub_key(st_buf_t *k, const char *key, const char *sub)
{
    return key[0] ? st_buf_addf(k, "%s[%s]", key, sub) : st_buf_adds(k, sub);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_money(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) == 2 &&
           json_is_integer(json_object_get(v, "minor")) &&
           json_is_string(json_object_get(v, "currency"));
}

static int encode_object(const char *key, const json_t *obj, const char *const *skip, st_buf_t *out,
                         st_err_t *err)
{
    size_t n = json_object_size(obj);
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    if (keys == NULL)
        return st_err_set(err, ST_NOMEM, "form encoding: out of memory");
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_str);
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        bool skipped = false;
        for (size_t s = 0; skip != NULL && skip[s] != NULL; s++)
            skipped = skipped || strcmp(skip[s], keys[i]) == 0;
        if (skipped)
            continue;
        st_buf_t kb = {0};
        rc = sub_key(&kb, key, keys[i]);
        if (rc == 0)
            rc = encode_value(kb.p, json_object_get(obj, keys[i]), out, err);
        st_buf_release(&kb);
    }
    free(keys);
    return rc;
}

/* A money value: key=minor and, at the top level, currency unless given. */
static int encode_money(const char *key, const json_t *v, st_buf_t *out)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, (int64_t)json_integer_value(json_object_get(v, "minor")));
    return add_pair(out, key, num);
}

static int encode_value(const char *key, const json_t *v, st_buf_t *out, st_err_t *err)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return add_pair(out, key, json_string_value(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" PRId64, (int64_t)json_integer_value(v));
        return add_pair(out, key, num);
    case JSON_TRUE:
        return add_pair(out, key, "true");
    case JSON_FALSE:
        return add_pair(out, key, "false");
    case JSON_NULL:
        return add_pair(out, key, "");
    case JSON_REAL:
        return st_err_set(err, ST_INVAL,
                          "form encoding: '%.100s' is a floating-point number; "
                          "use integer minor units",
                          key);
    case JSON_OBJECT:
        if (is_money(v))
            return encode_money(key, v, out);
        return encode_object(key, v, NULL, out, err);
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(v); i++) {
            st_buf_t kb = {0};
            char idx[24];
            snprintf(idx, sizeof idx, "%zu", i);
            int rc = sub_key(&kb, key, idx);
            if (rc == 0)
                rc = encode_value(kb.p, json_array_get(v, i), out, err);
            st_buf_release(&kb);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    return st_err_set(err, ST_INVAL, "form encoding: unsupported value at '%.100s'", key);
}

/* The currency of the first top-level money value, when none is given. */
static const char *money_currency(const json_t *obj, const char *const *skip)
{
    if (json_object_get(obj, "currency") != NULL)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        bool skipped = false;
        for (size_t s = 0; skip != NULL && skip[s] != NULL; s++)
            skipped = skipped || strcmp(skip[s], k) == 0;
        if (!skipped && is_money(v))
            return json_string_value(json_object_get(v, "currency"));
    }
    return NULL;
}

int st_act_stripe_form(const json_t *obj, const char *const *skip, st_buf_t *out, st_err_t *err)
{
    if (!json_is_object(obj))
        return st_err_set(err, ST_INVAL, "form encoding: args must be an object");
    int rc = encode_object("", obj, skip, out, err);
    const char *cur = rc == 0 ? money_currency(obj, skip) : NULL;
    if (cur != NULL) {
        char low[16];
        size_t i = 0;
        for (; cur[i] && i < sizeof low - 1; i++)
            low[i] = (char)(cur[i] >= 'A' && cur[i] <= 'Z' ? cur[i] + 32 : cur[i]);
        low[i] = '\0';
        rc = add_pair(out, "currency", low);
    }
    if (rc == ST_NOMEM)
        st_err_set(err, ST_NOMEM, "form encoding: out of memory");
    return rc;
}
