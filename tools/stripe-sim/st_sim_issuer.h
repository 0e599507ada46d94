/*
 * st_sim_issuer.h — the issuer model for dunning research.
 *
 * Each customer may carry a hidden recovery behaviour (kept in priv, never
 * on the wire) that overrides an otherwise successful charge:
 *   none                nothing happens
 *   insufficient_funds  declines insufficient_funds from first_failure until
 *                       the next payday (day of month, param payday=1..28)
 *   card_replaced       the card on file declines expired_card from
 *                       first_failure; days=N later the issuer sends a new
 *                       card: a new PaymentMethod is attached and made the
 *                       default (payment_method.attached, customer.updated);
 *                       the old one keeps declining
 *   hard_decline        declines code=... (default do_not_honor) for ever
 *   soft_random         each attempt after first_failure succeeds with p=P
 * Charges before first_failure succeed. "random" draws a behaviour and its
 * parameters from the seeded mix in docs/stripe-sim.md.
 *
 * Callers hold sim->mu.
 */
#ifndef ST_SIM_ISSUER_H
#define ST_SIM_ISSUER_H

#include "st_sim_int.h"

/*
 * Give customer cus a behaviour. spec is a parameter object:
 * {"kind": ..., "first_failure": unix seconds, "payday", "days", "code", "p"}.
 * Returns 0 or a negative st_code_t with err filled.
 */
int st_sim_issuer_assign(st_sim_t *sim, const char *cus, json_t *spec, st_err_t *err);

/* The hidden behaviour of cus as JSON (new reference) or NULL. */
json_t *st_sim_issuer_reveal(st_sim_t *sim, const char *cus);

/* Load a customer book (TSV, see docs/stripe-sim.md); returns 0 or < 0. */
int st_sim_issuer_load_book(st_sim_t *sim, const char *path, st_err_t *err);
int st_sim_issuer_load_text(st_sim_t *sim, const char *text, json_t *created, st_err_t *err);

#endif
