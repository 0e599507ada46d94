/*
 * st_err.c — error record helpers (see st_err.h).
 */
#include "st_err.h"

#include <stdio.h>
#include <string.h>

const char *st_code_name(int code)
{
    switch (code) {
#define ST_ERR_NAME(name, value, msg) \
    case value:                       \
        return "ST_" #name;
        ST_ERR_MAP(ST_ERR_NAME)
#undef ST_ERR_NAME
    default:
        return "ST_UNKNOWN";
    }
}

const char *st_code_message(int code)
{
    switch (code) {
#define ST_ERR_TEXT(name, value, msg) \
    case value:                       \
        return msg;
        ST_ERR_MAP(ST_ERR_TEXT)
#undef ST_ERR_TEXT
    default:
        return "unknown error";
    }
}

void st_err_clear(st_err_t *err)
{
    if (err == NULL)
        return;
    err->code = ST_OK;
    err->msg[0] = '\0';
    err->detail[0] = '\0';
    err->hint[0] = '\0';
}

int st_err_vset(st_err_t *err, int code, const char *fmt, va_list ap)
{
    if (err == NULL)
        return code;
    st_err_clear(err);
    err->code = code;
    if (fmt == NULL || fmt[0] == '\0')
        snprintf(err->msg, sizeof err->msg, "%s", st_code_message(code));
    else
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

int st_err_set(st_err_t *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void st_err_detail(st_err_t *err, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
}

void st_err_hint(st_err_t *err, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof err->hint, fmt, ap);
    va_end(ap);
}

void st_err_prefix(st_err_t *err, const char *fmt, ...)
{
    char pre[ST_ERR_MSG_MAX];
    char old[ST_ERR_MSG_MAX];
    va_list ap;
    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", pre, old);
}

const char *st_err_format(const st_err_t *err, char *buf, unsigned long cap)
{
    size_t n = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (err == NULL)
        return buf;
    n += (size_t)snprintf(buf, cap, "error: %s\n",
                          err->msg[0] ? err->msg : st_code_message(err->code));
    if (err->detail[0] && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "  detail: %s\n", err->detail);
    if (err->hint[0] && n < cap)
        snprintf(buf + n, cap - n, "  hint: %s\n", err->hint);
    return buf;
}
