/*
 * st_sim_form.h — decoder for Stripe's form-encoded request bodies.
 *
 * Layer: stripe-sim, leaf (depends on jansson and st_err only; knows nothing
 * of HTTP or of the simulator state, so it can be unit-tested and fuzzed).
 *
 * Stripe bodies are application/x-www-form-urlencoded with bracketed keys:
 *   metadata[plan]=pro            -> {"metadata": {"plan": "pro"}}
 *   expand[]=customer             -> {"expand": ["customer"]}
 *   items[0][price]=p&items[1]... -> {"items": [{"price": "p"}, ...]}
 *   a[b][c]=v                     -> {"a": {"b": {"c": "v"}}}
 * Every leaf is a JSON string; handlers coerce ("true", "1099") themselves.
 *
 * Invariants: the tree is always well formed; a key that would turn an
 * existing string into a container (or an object into an array) is an
 * error, never a silent overwrite. A repeated scalar key keeps the last
 * value. Numeric indices must be contiguous (0, 1, 2 ...), as every Stripe
 * client sends them. Nesting is limited to ST_SIM_FORM_MAX_DEPTH.
 *
 * Ownership: st_sim_form_decode returns a new reference the caller owns
 * (json_decref). On error nothing is returned and *out is NULL.
 */
#ifndef ST_SIM_FORM_H
#define ST_SIM_FORM_H

#include <jansson.h>
#include <stddef.h>

#include "common/st_err.h"

#define ST_SIM_FORM_MAX_DEPTH 16
#define ST_SIM_FORM_MAX_KEY   1024

/* Decode a whole body (need not be NUL terminated). Returns 0 or ST_PARSE. */
int st_sim_form_decode(const char *buf, size_t len, json_t **out, st_err_t *err);

/*
 * Insert one already percent-decoded pair into root (a JSON object), e.g.
 * from a query string parsed by the HTTP server. Returns 0 or ST_PARSE.
 */
int st_sim_form_put(json_t *root, const char *key, const char *value, st_err_t *err);

#endif
