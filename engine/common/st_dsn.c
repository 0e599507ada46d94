/*
 * st_dsn.c — DSN lookup and redaction (see st_dsn.h).
 */
#include "st_dsn.h"

#include <stdlib.h>
#include <string.h>

const char *st_dsn_pick(const char *flag)
{
    if (flag != NULL && flag[0] != '\0')
        return flag;
    const char *env = getenv("SETTLE_DSN");
    return env != NULL && env[0] != '\0' ? env : NULL;
}

/* Append at most n bytes of s, keeping buf NUL-terminated. */
static void put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    while (n-- > 0 && *s != '\0' && *len + 1 < cap)
        buf[(*len)++] = *s++;
    buf[*len] = '\0';
}

const char *st_dsn_redact(const char *dsn, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (dsn == NULL)
        return buf;
    const char *scheme = strstr(dsn, "://");
    if (scheme != NULL) {
        /* URI: postgresql://user:secret@host/db */
        const char *auth = scheme + 3;
        const char *at = strchr(auth, '@');
        const char *colon = strchr(auth, ':');
        if (at != NULL && colon != NULL && colon < at) {
            put(buf, cap, &len, dsn, (size_t)(colon + 1 - dsn));
            put(buf, cap, &len, "***", 3);
            dsn = at;
        }
        /* A password=... query parameter is handled below like key=value. */
    }
    while (*dsn != '\0') {
        const char *p = strstr(dsn, "password=");
        if (p == NULL) {
            put(buf, cap, &len, dsn, strlen(dsn));
            break;
        }
        put(buf, cap, &len, dsn, (size_t)(p - dsn) + 9);
        put(buf, cap, &len, "***", 3);
        dsn = p + 9;
        if (*dsn == '\'') { /* quoted value, may hold spaces */
            dsn++;
            while (*dsn != '\0' && *dsn != '\'')
                dsn += (*dsn == '\\' && dsn[1] != '\0') ? 2 : 1;
            if (*dsn == '\'')
                dsn++;
        } else {
            while (*dsn != '\0' && *dsn != ' ' && *dsn != '&')
                dsn++;
        }
    }
    return buf;
}
