/*
 * st_hex.h — hexadecimal digits: encode bytes, decode text.
 *
 * Layer: common (libc only). Pure functions, no allocation.
 */
#ifndef ST_HEX_H
#define ST_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1 for any other byte. */
int st_hex_digit(int c);
/* 2*n lower-case digits and a NUL into out[2*n + 1]. Returns out. */
char *st_hex_encode(const void *bytes, size_t n, char *out);
/* Exactly 2*n digits of `text` (either case) into out[n]. 0, or ST_PARSE
 * when a byte is not a hex digit (out is then partly written). */
int st_hex_decode(const char *text, uint8_t *out, size_t n);

#endif
