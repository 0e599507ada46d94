/*
 * st_core_value.c — tagged values: names, copies, JSON encoding, builtins' types,
 * dotted JSON paths and UTF-8-safe truncation.
 *
 * Layer: core, pure (no I/O, no clock, no globals). Dependencies: libc, jansson.
 *
 * Invariants: a STRING value always has a non-NULL `s`; a MONEY value always
 * carries a valid 3-letter lower-case currency. Values held by an instance
 * own their string; evaluation results borrow it (see st_core.h).
 */
#include "st_core_int.h"

#include <stdlib.h>
#include <string.h>

const char *st_core_type_name(st_core_type_t t)
{
    switch (t) {
    case ST_CORE_T_INT:
        return "int";
    case ST_CORE_T_STRING:
        return "string";
    case ST_CORE_T_BOOL:
        return "bool";
    case ST_CORE_T_DURATION:
        return "duration";
    case ST_CORE_T_TIME:
        return "time";
    case ST_CORE_T_MONEY:
        return "money";
    case ST_CORE_T_NONE:
        break;
    }
    return "none";
}

bool st_core_currency_ok(const char *c)
{
    if (c == NULL)
        return false;
    for (int i = 0; i < 3; i++)
        if (c[i] < 'a' || c[i] > 'z')
            return false;
    return c[3] == '\0';
}

void st_core_value_release(st_core_value_t *v)
{
    if (v == NULL)
        return;
    free(v->s);
    memset(v, 0, sizeof *v);
}

int st_core_value_copy(st_core_value_t *dst, const st_core_value_t *src, st_err_t *err)
{
    *dst = *src;
    dst->s = NULL;
    if (src->type == ST_CORE_T_STRING) {
        dst->s = strdup(src->s ? src->s : "");
        if (dst->s == NULL) {
            dst->type = ST_CORE_T_NONE;
            return st_err_set(err, ST_NOMEM, "out of memory copying a string value");
        }
    }
    return 0;
}

int st_core_value_assign(st_core_value_t *slot, const st_core_value_t *v, st_err_t *err)
{
    st_core_value_t fresh;
    int rc = st_core_value_copy(&fresh, v, err);
    if (rc < 0)
        return rc;
    st_core_value_release(slot); /* after the copy: v may borrow slot's string */
    *slot = fresh;
    return 0;
}

json_t *st_core_value_to_json(const st_core_value_t *v)
{
    switch (v->type) {
    case ST_CORE_T_INT:
    case ST_CORE_T_DURATION:
    case ST_CORE_T_TIME:
        return json_integer((json_int_t)v->i);
    case ST_CORE_T_STRING:
        return json_string(v->s ? v->s : "");
    case ST_CORE_T_BOOL:
        return json_boolean(v->b);
    case ST_CORE_T_MONEY:
        return json_pack("{s:I,s:s}", "minor", (json_int_t)v->i, "currency", v->currency);
    case ST_CORE_T_NONE:
        break;
    }
    return json_null();
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static int wrong_type(const json_t *j, st_core_type_t t, const char *what, st_err_t *err)
{
    const char *want = t == ST_CORE_T_MONEY    ? "an object {\"minor\":N,\"currency\":\"eur\"}"
                       : t == ST_CORE_T_STRING ? "a string"
                       : t == ST_CORE_T_BOOL   ? "a boolean"
                       : t == ST_CORE_T_TIME
                           ? "integer microseconds since the epoch or an RFC 3339 string"
                           : "an integer";
    st_err_set(err, ST_INVAL, "%s: expected %s for type %s, got %s", what, want,
               st_core_type_name(t), j ? json_kind(j) : "nothing");
    return ST_INVAL;
}

static int money_from_json(const json_t *j, const char *what, st_core_value_t *out, st_err_t *err)
{
    const json_t *minor = json_object_get(j, "minor");
    const json_t *cur = json_object_get(j, "currency");
    if (!json_is_object(j) || !json_is_integer(minor) || !json_is_string(cur) ||
        json_object_size(j) != 2)
        return wrong_type(j, ST_CORE_T_MONEY, what, err);
    if (!st_core_currency_ok(json_string_value(cur)))
        return st_err_set(err, ST_INVAL, "%s: currency \"%s\" is not a 3-letter lower-case code",
                          what, json_string_value(cur));
    out->type = ST_CORE_T_MONEY;
    out->i = (int64_t)json_integer_value(minor);
    memcpy(out->currency, json_string_value(cur), 4);
    return 0;
}

int st_core_value_from_json(st_core_type_t t, const json_t *j, const char *what,
                            st_core_value_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (j == NULL)
        return wrong_type(j, t, what, err);
    switch (t) {
    case ST_CORE_T_TIME: /* integer microseconds or RFC 3339 text, as a user writes it */
        if (json_is_string(j)) {
            int rc = st_core_time_parse(json_string_value(j), what, &out->i, err);
            if (rc != 0)
                return rc;
        } else if (json_is_integer(j)) {
            out->i = (int64_t)json_integer_value(j);
        } else {
            return wrong_type(j, t, what, err);
        }
        break;
    case ST_CORE_T_INT:
    case ST_CORE_T_DURATION:
        if (!json_is_integer(j))
            return wrong_type(j, t, what, err);
        out->i = (int64_t)json_integer_value(j);
        break;
    case ST_CORE_T_STRING:
        if (!json_is_string(j))
            return wrong_type(j, t, what, err);
        out->s = strdup(json_string_value(j));
        if (out->s == NULL)
            return st_err_set(err, ST_NOMEM, "%s: out of memory", what);
        break;
    case ST_CORE_T_BOOL:
        if (!json_is_boolean(j))
            return wrong_type(j, t, what, err);
        out->b = json_is_true(j);
        break;
    case ST_CORE_T_MONEY:
        return money_from_json(j, what, out, err);
    case ST_CORE_T_NONE:
        return st_err_set(err, ST_INTERNAL, "%s: no type", what);
    }
    out->type = t;
    return 0;
}

const json_t *st_core_json_path(const json_t *root, const char *path)
{
    const json_t *cur = root;
    const char *p = path;
    while (cur != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(cur) || n == 0)
            return NULL;
        cur = json_object_getn(cur, p, n);
        p += n;
        if (*p == '.')
            p++;
    }
    return cur;
}

static bool orderable(st_core_type_t t)
{
    return t == ST_CORE_T_INT || t == ST_CORE_T_DURATION || t == ST_CORE_T_TIME ||
           t == ST_CORE_T_MONEY;
}

/*
 * The fixed list of builtins:
 *   now() -> time                       the event's time
 *   min(a, b), max(a, b) -> T           T in int, duration, time, money
 *   abs(a) -> T                         T in int, duration, money
 *   minor(m: money) -> int              the minor units of m
 */
int st_core_builtin_type(const char *fn, size_t n_args, const st_core_type_t *args,
                         st_core_type_t *ret)
{
    if (strcmp(fn, "now") == 0 && n_args == 0) {
        *ret = ST_CORE_T_TIME;
        return 0;
    }
    if ((strcmp(fn, "min") == 0 || strcmp(fn, "max") == 0) && n_args == 2 && args[0] == args[1] &&
        orderable(args[0])) {
        *ret = args[0];
        return 0;
    }
    if (strcmp(fn, "abs") == 0 && n_args == 1 && orderable(args[0]) && args[0] != ST_CORE_T_TIME) {
        *ret = args[0];
        return 0;
    }
    if (strcmp(fn, "minor") == 0 && n_args == 1 && args[0] == ST_CORE_T_MONEY) {
        *ret = ST_CORE_T_INT;
        return 0;
    }
    return -1;
}

void st_core_utf8_trim(char *s)
{
    size_t n = strlen(s), j = n, cont = 0;
    while (j > 0 && cont < 4 && ((unsigned char)s[j - 1] & 0xc0) == 0x80) {
        j--;
        cont++;
    }
    if (j == 0)
        return;
    unsigned char lead = (unsigned char)s[j - 1];
    size_t want = lead < 0x80 ? 0 : (lead & 0xe0) == 0xc0 ? 1 : (lead & 0xf0) == 0xe0 ? 2 : 3;
    if (lead >= 0x80 && want != cont)
        s[j - 1] = '\0'; /* a sequence cut short by a fixed-size buffer */
}
