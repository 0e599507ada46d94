/*
 * st_uuid.c — canonical UUID text (see st_uuid.h).
 *
 * Layer: common (libc only).
 */
#include "common/st_uuid.h"

#include <string.h>

#include "common/st_err.h"
#include "common/st_hex.h"

static int is_dash_at(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

int st_uuid_parse(const char *text, uint8_t out[16])
{
    uint8_t id[16];
    size_t n = 0;
    if (text == NULL || strnlen(text, ST_UUID_TEXT_LEN + 1) != ST_UUID_TEXT_LEN)
        return ST_PARSE;
    for (size_t i = 0; i < ST_UUID_TEXT_LEN; i++) {
        if (is_dash_at(i)) {
            if (text[i] != '-')
                return ST_PARSE;
            continue;
        }
        int hi = st_hex_digit((unsigned char)text[i]);
        int lo = hi < 0 || is_dash_at(i + 1) ? -1 : st_hex_digit((unsigned char)text[i + 1]);
        if (lo < 0)
            return ST_PARSE;
        id[n++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    memcpy(out, id, sizeof id);
    return 0;
}

int st_uuid_text_ok(const char *text)
{
    uint8_t id[16];
    return st_uuid_parse(text, id) == 0;
}

char *st_uuid_format(const uint8_t id[16], char out[37])
{
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        st_hex_encode(id + i, 1, p);
        p += 2;
    }
    *p = '\0';
    return out;
}
