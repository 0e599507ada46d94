/*
 * st_act_template.c — email templates: files in engine/activity/templates
 * (or SETTLE_TEMPLATE_DIR) with {{var}} placeholders filled from a flow's
 * args.
 *
 * Syntax: {{name}} or {{ name }} inserts args[name]; {{name|fallback}}
 * inserts the fallback text when the arg is absent or null. Strings go in
 * as they are, integers in decimal, booleans as true/false, and money
 * values {"minor":N,"currency":"eur"} as "12.34 EUR" (no floating point).
 * In the HTML part every inserted value (fallbacks included) is escaped.
 *
 * Layer: engine/activity. Pure apart from st_act_template_load, which reads
 * one file. Depends on jansson and st_act_buf.
 * Invariant: a template either renders completely or fails naming the
 * variable; a missing variable never renders as an empty hole.
 */
#include "activity/act_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Currencies without minor units (ISO 4217 exponent 0) that Stripe lists. */
static int currency_exponent(const char *cur)
{
    static const char *const zero[] = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
                                       "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"};
    char low[8] = {0};
    for (size_t i = 0; cur[i] && i < sizeof low - 1; i++)
        low[i] = (char)(cur[i] >= 'A' && cur[i] <= 'Z' ? cur[i] + 32 : cur[i]);
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (strcmp(zero[i], low) == 0)
            return 0;
    return 2;
}

/* Text of a value; returns 0, or ST_INVAL for arrays / objects / reals. */
static int value_text(const json_t *v, char *buf, size_t cap)
{
    const json_t *minor = json_object_get(v, "minor");
    const char *cur = json_string_value(json_object_get(v, "currency"));
    if (json_is_string(v)) {
        snprintf(buf, cap, "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(buf, cap, "%" PRId64, (int64_t)json_integer_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_integer(minor) && cur) {
        int64_t m = json_integer_value(minor);
        char sign = m < 0 ? '-' : 0;
        uint64_t a = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
        char up[8] = {0};
        for (size_t i = 0; cur[i] && i < sizeof up - 1; i++)
            up[i] = (char)(cur[i] >= 'a' && cur[i] <= 'z' ? cur[i] - 32 : cur[i]);
        if (currency_exponent(cur) == 0)
            snprintf(buf, cap, "%s%" PRIu64 " %s", sign ? "-" : "", a, up);
        else
            snprintf(buf, cap, "%s%" PRIu64 ".%02" PRIu64 " %s", sign ? "-" : "", a / 100, a % 100,
                     up);
    } else {
        return ST_INVAL;
    }
    return 0;
}

/* Resolve one placeholder body "name" or "name|fallback" and append it. */
static int put_var(const char *inner, size_t n, const json_t *vars, bool html, st_buf_t *out,
                   st_err_t *err)
{
    char spec[256];
    if (n >= sizeof spec)
        return st_err_set(err, ST_PARSE, "template: placeholder too long");
    memcpy(spec, inner, n);
    spec[n] = '\0';
    char *bar = strchr(spec, '|');
    const char *fallback = NULL;
    if (bar) {
        *bar = '\0';
        fallback = bar + 1;
    }
    char *name = spec;
    while (*name == ' ')
        name++;
    size_t nl = strlen(name);
    while (nl > 0 && name[nl - 1] == ' ')
        name[--nl] = '\0';
    if (nl == 0)
        return st_err_set(err, ST_PARSE, "template: empty placeholder {{}}");
    const json_t *v = json_object_get(vars, name);
    char text[1024];
    if (v == NULL || json_is_null(v)) {
        if (fallback == NULL)
            return st_err_set(err, ST_PARSE, "template: no value for {{%s}}", name);
        snprintf(text, sizeof text, "%s", fallback);
    } else if (value_text(v, text, sizeof text) != 0) {
        return st_err_set(err, ST_PARSE,
                          "template: {{%s}} is not a string, number, boolean or "
                          "money",
                          name);
    }
    int rc = html ? st_act_buf_add_html(out, text) : st_buf_adds(out, text);
    return rc == 0 ? 0 : st_err_set(err, ST_NOMEM, "template: out of memory");
}

int st_act_template_render(const char *tmpl, const json_t *vars, bool html, st_buf_t *out,
                           st_err_t *err)
{
    const char *p = tmpl;
    for (;;) {
        const char *open = strstr(p, "{{");
        size_t lit = open ? (size_t)(open - p) : strlen(p);
        if (st_buf_add(out, p, lit) != 0)
            return st_err_set(err, ST_NOMEM, "template: out of memory");
        if (open == NULL)
            return 0;
        const char *close = strstr(open + 2, "}}");
        if (close == NULL)
            return st_err_set(err, ST_PARSE, "template: unterminated {{ at offset %zu",
                              (size_t)(open - tmpl));
        int rc = put_var(open + 2, (size_t)(close - open - 2), vars, html, out, err);
        if (rc != 0)
            return rc;
        p = close + 2;
    }
}

int st_act_template_load(const char *dir, const char *name, const char *ext, st_buf_t *out,
                         st_err_t *err)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > 100 ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
            strlen(name))
        return st_err_set(err, ST_INVAL, "template name must match [A-Za-z0-9_-]+");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return st_err_set(err, ST_NOTFOUND, "template %s.%s not found in %s", name, ext, dir);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = st_buf_add(out, chunk, n);
    fclose(f);
    if (rc == 0 && out->p == NULL)
        rc = st_buf_add(out, "", 0);
    return rc == 0 ? 0 : st_err_set(err, ST_NOMEM, "template: out of memory");
}
