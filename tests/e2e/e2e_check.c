/*
 * e2e_check.c — see e2e_check.h.
 */
#include "e2e_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static e2e_charges_t charges(e2e_t *e, const char *query)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/charges?%s&limit=100", query);
    long st = 0;
    json_t *j = e2e_sim(e, "GET", path, NULL, &st);
    ck_assert_msg(st == 200, "GET %s: %ld", path, st);
    ck_assert_msg(!json_is_true(json_object_get(j, "has_more")), "more than 100 charges");
    e2e_charges_t c = {0, 0};
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(j, "data"), i, ch)
    {
        const char *s = json_string_value(json_object_get(ch, "status"));
        if (s && strcmp(s, "succeeded") == 0)
            c.succeeded++;
        else
            c.failed++;
    }
    json_decref(j);
    return c;
}

e2e_charges_t e2e_customer_charges(e2e_t *e, const char *customer)
{
    char q[160];
    snprintf(q, sizeof q, "customer=%s", customer);
    return charges(e, q);
}

e2e_charges_t e2e_pi_charges(e2e_t *e, const char *pi)
{
    char q[160];
    snprintf(q, sizeof q, "payment_intent=%s", pi);
    return charges(e, q);
}

const char *e2e_sim_status(e2e_t *e, const char *path)
{
    static char buf[64];
    long st = 0;
    json_t *j = e2e_sim(e, "GET", path, NULL, &st);
    ck_assert_msg(st == 200, "GET %s: %ld", path, st);
    const char *s = json_string_value(json_object_get(j, "status"));
    snprintf(buf, sizeof buf, "%s", s ? s : "");
    json_decref(j);
    return buf;
}

int e2e_check_effects(e2e_t *e, long long *succeeded, json_t **keyless)
{
    json_t *nokey = json_array();
    long st = 0;
    json_t *j = e2e_sim(e, "GET", "/_sim/effects?limit=100000", NULL, &st);
    ck_assert_int_eq(st, 200);
    json_t *list = json_object_get(j, "effects");
    ck_assert_int_eq(json_array_size(list), json_integer_value(json_object_get(j, "total")));
    json_t *seen = json_object();
    size_t i;
    json_t *ef;
    json_array_foreach(list, i, ef)
    {
        const char *key = json_string_value(json_object_get(ef, "idempotency_key"));
        if (key == NULL || key[0] == '\0') { /* e.g. a charge after a 3-D Secure challenge */
            json_array_append_new(nokey, json_string(json_string_value(json_object_get(ef, "id"))));
            continue;
        }
        ck_assert_msg(json_object_get(seen, key) == NULL, "double effect under key %s", key);
        json_object_set_new(seen, key, json_true());
        ck_assert_msg(e2e_scalar(e,
                                 "SELECT count(*) FROM tasks WHERE idempotency_key = '%s' "
                                 "AND activity LIKE 'stripe.%%'",
                                 key) == 1,
                      "effect under key %s that no Stripe task has", key);
        char path[256];
        snprintf(path, sizeof path, "/_sim/effects?idempotency_key=%s", key);
        json_t *one = e2e_sim(e, "GET", path, NULL, &st);
        ck_assert_int_eq(json_integer_value(json_object_get(one, "count_for_key")), 1);
        json_decref(one);
    }
    int n = (int)json_array_size(list);
    if (succeeded)
        *succeeded = json_integer_value(json_object_get(j, "charges_succeeded"));
    json_decref(seen);
    json_decref(j);
    if (keyless) {
        *keyless = nokey;
    } else {
        size_t n_nokey = json_array_size(nokey);
        json_decref(nokey);
        ck_assert_msg(n_nokey == 0, "%zu effect(s) without an idempotency key", n_nokey);
    }
    return n;
}

json_t *e2e_check_mail(e2e_t *e)
{
    json_t *mail = e2e_mail(e);
    json_t *seen = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(mail, i, m)
    {
        const char *key = json_string_value(json_object_get(m, "idem_key"));
        const char *mid = json_string_value(json_object_get(m, "message_id"));
        const char *to = json_string_value(json_object_get(m, "to"));
        char want[320];
        snprintf(want, sizeof want, "<%s@shop.example>", key);
        ck_assert_str_eq(mid, want);
        ck_assert_msg(json_object_get(seen, key) == NULL, "mail %s delivered twice", key);
        json_object_set_new(seen, key, json_true());
        ck_assert_msg(e2e_scalar(e,
                                 "SELECT count(*) FROM tasks WHERE idempotency_key = '%s' AND "
                                 "activity = 'email.send' AND args->>'to' = '%s'",
                                 key, to) == 1,
                      "mail %s to %s is no email task's", key, to);
    }
    json_decref(seen);
    return mail;
}

int e2e_mail_count(json_t *mail, const char *to, const char *subject_part)
{
    int n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(mail, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "to")), to) == 0 &&
            strstr(json_string_value(json_object_get(m, "subject")), subject_part) != NULL)
            n++;
    }
    return n;
}

int e2e_check_erp(e2e_t *e)
{
    static e2e_erp_rec_t recs[E2E_ERP_MAX];
    int n = e2e_erp(e, recs, E2E_ERP_MAX);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(recs[i].key, recs[i].external_id);
        for (int k = 0; k < i; k++)
            ck_assert_msg(strcmp(recs[k].key, recs[i].key) != 0, "ERP got %s twice", recs[i].key);
        ck_assert_msg(e2e_scalar(e,
                                 "SELECT count(*) FROM tasks WHERE idempotency_key = '%s' AND "
                                 "activity LIKE 'erp.%%' AND args->>'reference' = '%s'",
                                 recs[i].key, recs[i].reference) == 1,
                      "ERP record %s (%s) is no ERP task's", recs[i].key, recs[i].reference);
    }
    return n;
}

int e2e_erp_count(e2e_t *e, const char *path, const char *reference, e2e_erp_rec_t *out)
{
    static e2e_erp_rec_t recs[E2E_ERP_MAX];
    int n = e2e_erp(e, recs, E2E_ERP_MAX), c = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(recs[i].path, path) == 0 && strcmp(recs[i].reference, reference) == 0) {
            c++;
            if (out)
                *out = recs[i];
        }
    return c;
}
