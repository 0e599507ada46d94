/*
 * st_sim_sign.h — Stripe webhook signatures.
 *
 * Layer: stripe-sim, leaf (OpenSSL HMAC). Stripe signs the string
 * "<t>.<payload>" with HMAC-SHA256 keyed by the endpoint secret (the whole
 * "whsec_..." string) and sends "Stripe-Signature: t=<t>,v1=<hex>".
 * The secret is never logged or copied anywhere but the HMAC call.
 */
#ifndef ST_SIM_SIGN_H
#define ST_SIM_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

/* Hex HMAC-SHA256 of "<t>.<payload>" into hex (at least 65 bytes). */
int st_sim_sign_v1(const char *secret, int64_t t, const char *payload, size_t len, char *hex,
                   size_t cap, st_err_t *err);

/* Full header value "t=<t>,v1=<hex>" into out. */
int st_sim_sign_header(const char *secret, int64_t t, const char *payload, size_t len, char *out,
                       size_t cap, st_err_t *err);

#endif
