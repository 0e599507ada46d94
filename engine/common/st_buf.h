/*
 * st_buf.h — the one growable byte buffer of settle.
 *
 * Layer: common (libc only).
 *
 * Model: zero-initialise (st_buf_t b = {0}) and append. Every append either
 * adds all its bytes or none and returns ST_NOMEM; a failure is sticky
 * (b->oom stays set and every later append fails too), so a caller may
 * append a whole text and check once at the end. While b->p is non-NULL
 * the text is NUL-terminated at b->len.
 *
 * Ownership: the buffer owns b->p until st_buf_detach hands it over (the
 * caller then frees it) or st_buf_release frees it. Fields are public for
 * reading and for writers that reserve room first (st_buf_reserve, then
 * write at b->p + b->len and add to b->len, keeping the NUL).
 */
#ifndef ST_BUF_H
#define ST_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct st_buf {
    char *p;    /* bytes, NUL-terminated at len when non-NULL; owned */
    size_t len; /* bytes before the NUL */
    size_t cap; /* bytes allocated */
    int oom;    /* sticky: an allocation failed, the content is incomplete */
} st_buf_t;

/* Room for `more` bytes plus the NUL. 0, or ST_NOMEM (and oom set). */
int st_buf_reserve(st_buf_t *b, size_t more);
int st_buf_add(st_buf_t *b, const void *p, size_t n);
int st_buf_adds(st_buf_t *b, const char *s);
int st_buf_addf(st_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int st_buf_vaddf(st_buf_t *b, const char *fmt, va_list ap);
/* The text so far ("" when empty), or NULL after an allocation failure. */
const char *st_buf_str(st_buf_t *b);
/* Forget the content and the failure, keep the allocation. */
void st_buf_reset(st_buf_t *b);
/* Hand the text over (caller frees; "" when empty), or NULL after a
 * failure. The buffer is empty and reusable afterwards either way. */
char *st_buf_detach(st_buf_t *b);
/* Free the bytes; the buffer is empty and reusable. Accepts NULL. */
void st_buf_release(st_buf_t *b);

#endif
