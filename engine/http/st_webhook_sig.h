/*
 * st_webhook_sig.h — verify Stripe's webhook signatures.
 *
 * Layer: http, pure (no I/O, no clock: the caller passes "now").
 * Dependencies: libc, OpenSSL (HMAC-SHA256, CRYPTO_memcmp).
 *
 * Stripe signs each delivery with
 *     Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...][,v0=...]
 * where the HMAC key is the endpoint secret (whsec_...) and the message is
 * "<t>.<raw body>". Several v1 entries appear while Stripe rotates a
 * secret; several secrets may be configured here while the operator
 * rotates ours. A delivery is genuine when any v1 entry matches any secret
 * and t is within `tolerance_s` of now (either side).
 *
 * Invariants: comparisons are constant-time; no secret and no signature
 * ever appears in an error message; the payload is never modified.
 */
#ifndef ST_WEBHOOK_SIG_H
#define ST_WEBHOOK_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

#define ST_WEBHOOK_SIG_HEADER_MAX        4096 /* longer headers are refused */
#define ST_WEBHOOK_SIG_MAX_V1            8    /* v1 entries considered */
#define ST_WEBHOOK_SIG_TOLERANCE_DEFAULT 300

typedef struct st_webhook_sig_parsed {
    int64_t t;                                   /* timestamp, unix seconds */
    unsigned n_v1;                               /* v1 signatures found */
    unsigned char v1[ST_WEBHOOK_SIG_MAX_V1][32]; /* decoded */
} st_webhook_sig_parsed_t;

/*
 * Parse a Stripe-Signature header. Unknown schemes (v0, future ones) are
 * ignored; malformed hex in a v1 entry is an error. Returns 0 or ST_PARSE.
 */
int st_webhook_sig_parse(const char *header, st_webhook_sig_parsed_t *out, st_err_t *err);

/*
 * Verify `payload` against `header` with any of `secrets` (n_secrets >= 1).
 * Returns 0 when genuine; ST_AUTH (bad/missing signature, no secret matched,
 * timestamp outside tolerance) or ST_PARSE (malformed header), with a message
 * that says which and what to check.
 */
int st_webhook_sig_verify(const char *header, const void *payload, size_t len,
                          const char *const *secrets, unsigned n_secrets, int64_t now_s,
                          int64_t tolerance_s, st_err_t *err);

/*
 * Compute a header value "t=<t>,v1=<hex>" for `payload` (tests, the
 * simulator and tools). `out` must hold at least 96 bytes. Returns 0 or
 * ST_INVAL when the buffer is too small.
 */
int st_webhook_sig_sign(const char *secret, int64_t t, const void *payload, size_t len, char *out,
                        size_t cap);

#endif
