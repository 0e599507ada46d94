/*
 * st_sim_auth.h — API key check.
 *
 * Accepted: "Authorization: Bearer sk_test_..." and basic auth with the key
 * as the user name ("Basic base64(sk_test_...:)"), as Stripe accepts. Any
 * other header gets Stripe's 401 invalid_request_error. The key itself is
 * never logged; error messages show it redacted to its last four characters.
 */
#ifndef ST_SIM_AUTH_H
#define ST_SIM_AUTH_H

#include "st_sim_int.h"

/* 0 when the header carries an acceptable test key; else fills call, -1. */
int st_sim_auth_check(st_sim_call_t *call, const char *authorization);

/* Extract the key from a header into out; 0 or -1 when malformed. */
int st_sim_auth_key(const char *authorization, char *out, size_t cap);

#endif
