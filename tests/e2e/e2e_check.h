/*
 * e2e_check.h — assertions shared by the end-to-end tests: what the
 * outside world (stripe-sim, the SMTP sink, the ERP sink) saw, checked
 * against the tasks the engine recorded.
 *
 * Invariant checked by every helper: one idempotency key, one effect.
 */
#ifndef E2E_CHECK_H
#define E2E_CHECK_H

#include "e2e_fixture.h"

typedef struct e2e_charges {
    int succeeded;
    int failed;
} e2e_charges_t;

/* Charges of a customer at the sim (GET /v1/charges?customer=). */
e2e_charges_t e2e_customer_charges(e2e_t *e, const char *customer);
/* Charges of a PaymentIntent at the sim (GET /v1/charges?payment_intent=). */
e2e_charges_t e2e_pi_charges(e2e_t *e, const char *pi);
/* Status of a sim object (GET path), in a static buffer. */
const char *e2e_sim_status(e2e_t *e, const char *path);

/*
 * The sim's effects counter: every effect carries the key of a task the
 * engine recorded, and no key has more than one effect. Returns the number
 * of effects; *succeeded gets the sim's charges_succeeded. Effects that no
 * request of ours caused (a charge the customer's 3-D Secure completion
 * made) carry no key: with keyless NULL there must be none, else their ids
 * go into *keyless (caller decrefs).
 */
int e2e_check_effects(e2e_t *e, long long *succeeded, json_t **keyless);

/* Every message the SMTP sink holds is a task's: Message-ID is
 * <key@shop.example>, the key header agrees, each key arrived once.
 * Returns the parsed list (caller decrefs). */
json_t *e2e_check_mail(e2e_t *e);
/* Messages to `to` whose subject contains `subject_part`. */
int e2e_mail_count(json_t *mail, const char *to, const char *subject_part);

/* Every ERP request is a task's (external_id = Idempotency-Key = the task's
 * key) and no key was posted twice. Returns the number of records. */
int e2e_check_erp(e2e_t *e);
/* ERP records under path for reference; the last one into *out when given. */
int e2e_erp_count(e2e_t *e, const char *path, const char *reference, e2e_erp_rec_t *out);

#endif
