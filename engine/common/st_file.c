/*
 * st_file.c — read a whole file (see st_file.h).
 *
 * Layer: common (libc only).
 * Invariant: the stream is closed on every path; a partial read is an
 * error, never a short result.
 */
#include "common/st_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_buf.h"

static int read_all(FILE *f, const char *path, size_t max, st_buf_t *b, st_err_t *err)
{
    for (;;) {
        if (st_buf_reserve(b, 8192) != 0)
            return st_err_set(err, ST_NOMEM, "out of memory reading %s", path);
        size_t got = fread(b->p + b->len, 1, b->cap - b->len - 1, f);
        b->len += got;
        b->p[b->len] = '\0';
        if (max > 0 && b->len > max)
            return st_err_set(err, ST_LIMIT, "%s is larger than %zu bytes", path, max);
        if (got == 0)
            break;
    }
    if (ferror(f))
        return st_err_set(err, ST_IO, "cannot read %s: %s", path, strerror(errno));
    return 0;
}

int st_file_read(const char *path, size_t max, char **out, size_t *len, st_err_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return st_err_set(err, ST_IO, "cannot open %s: %s", path, strerror(errno));
    st_buf_t b = {0};
    int rc = read_all(f, path, max, &b, err);
    fclose(f);
    if (rc != 0) {
        st_buf_release(&b);
        return rc;
    }
    if (len != NULL)
        *len = b.len;
    *out = st_buf_detach(&b);
    return *out != NULL ? 0 : st_err_set(err, ST_NOMEM, "out of memory reading %s", path);
}
