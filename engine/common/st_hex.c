/*
 * st_hex.c — hexadecimal digits (see st_hex.h).
 *
 * Layer: common (libc only).
 */
#include "common/st_hex.h"

#include "common/st_err.h"

int st_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *st_hex_encode(const void *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *b = bytes;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

int st_hex_decode(const char *text, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = st_hex_digit((unsigned char)text[2 * i]);
        int lo = hi < 0 ? -1 : st_hex_digit((unsigned char)text[2 * i + 1]);
        if (lo < 0)
            return ST_PARSE;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
