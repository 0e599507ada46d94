/*
 * st_file.h — the one "whole file into memory" reader of settle.
 *
 * Layer: common (libc only).
 *
 * Ownership: on success *out is a malloc'd copy of the file's bytes with a
 * NUL after them (so text may be used as a C string), *len the byte count;
 * the caller frees *out. On failure *out is NULL and nothing is owned.
 */
#ifndef ST_FILE_H
#define ST_FILE_H

#include <stddef.h>

#include "common/st_err.h"

/*
 * Read `path`. `max` bounds the size in bytes (0: no bound). Returns 0, or
 * ST_IO ("cannot open PATH: reason" / "cannot read PATH: reason"), ST_LIMIT
 * (larger than max) or ST_NOMEM. `len` may be NULL.
 */
int st_file_read(const char *path, size_t max, char **out, size_t *len, st_err_t *err);

#endif
