/*
 * st_act_buf.c — the escaping the drivers need, appended to the common
 * growable buffer (common/st_buf.h).
 *
 * Layer: engine/activity (internal helper). Depends on common only.
 * Invariant: every add returns 0 or ST_NOMEM (the buffer's failure is
 * sticky, see st_buf.h).
 */
#include "activity/act_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int st_act_buf_add_urlenc(st_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        int unreserved = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                         (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.' ||
                         *c == '~';
        char enc[3] = {'%', hex[*c >> 4], hex[*c & 15]};
        int rc = unreserved ? st_buf_add(b, c, 1) : st_buf_add(b, enc, 3);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int st_act_buf_add_html(st_buf_t *b, const char *s)
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
        int rc = ent ? st_buf_adds(b, ent) : st_buf_add(b, c, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int st_act_buf_add_base64(st_buf_t *b, const void *p, size_t n)
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
        if (st_buf_add(b, out, 4) != 0)
            return ST_NOMEM;
    }
    return 0;
}
