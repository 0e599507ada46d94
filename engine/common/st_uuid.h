/*
 * st_uuid.h — the one UUID spelling settle reads and writes.
 *
 * Layer: common (libc only). Pure functions.
 *
 * Invariant: the only accepted text is the canonical 8-4-4-4-12 form, 36
 * bytes, hex digits in either case and hyphens exactly at offsets 8, 13, 18
 * and 23 (what st_uuid_format writes, and a form PostgreSQL's uuid type
 * reads the same way). Anything else — no hyphens, hyphens elsewhere,
 * braces, trailing bytes — is refused, so an id that parses here never
 * surprises the database.
 */
#ifndef ST_UUID_H
#define ST_UUID_H

#include <stdint.h>

#define ST_UUID_TEXT_LEN 36

/* 0 and the 16 bytes in out, or ST_PARSE (out untouched). NULL text is
 * refused. */
int st_uuid_parse(const char *text, uint8_t out[16]);
/* 1 when text is a canonical UUID (st_uuid_parse would succeed). */
int st_uuid_text_ok(const char *text);
/* Lower-case canonical form and a NUL into out[37]. Returns out. */
char *st_uuid_format(const uint8_t id[16], char out[37]);

#endif
