/*
 * fuzz_http_util.h — checks shared by the engine/http fuzz targets
 * (fuzz_webhook, fuzz_api_request).
 *
 * Layer: tests. A failed check prints the property and aborts, which
 * libFuzzer reports as a crash with the input that caused it.
 */
#ifndef FUZZ_HTTP_UTIL_H
#define FUZZ_HTTP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/st_http_int.h"

#define FZ_CHECK(cond)                                                                  \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* A malloc'd NUL-terminated copy of d[0..n) (stops at an embedded NUL
 * when read as a C string, as header values do). */
char *fz_cstr(const uint8_t *d, size_t n);

/* resp is an error as every handler must answer one: `status` (or any
 * 4xx when status is 0), JSON {"error": {"type","message","hint"}} with
 * non-empty strings. */
void fz_check_error(const st_http_resp_t *resp, unsigned status);

/* The batch statement's parameters for the jobs [first, first+n) decode
 * (as PostgreSQL reads array literals) to exactly the jobs' strings, and
 * the pair arrays have one element per pair. */
void fz_check_batch(const st_http_wh_job_t *first, unsigned n);

#endif
