/*
 * st_sim_issuer.c — issuer model and customer book (see st_sim_issuer.h).
 */
#include "st_sim_issuer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY 86400

static const char *const kinds[] = {"none",         "insufficient_funds", "card_replaced",
                                    "hard_decline", "soft_random",        NULL};

/* Seeded mix for kind=random: cumulative probabilities per kind. */
static void draw_random(st_sim_t *sim, json_t *spec)
{
    double x = st_sim_rand(sim);
    const char *kind = x < 0.40   ? "insufficient_funds"
                       : x < 0.60 ? "card_replaced"
                       : x < 0.75 ? "hard_decline"
                       : x < 0.95 ? "soft_random"
                                  : "none";
    json_object_set_new(spec, "kind", json_string(kind));
    if (!json_object_get(spec, "payday"))
        json_object_set_new(spec, "payday", json_integer(st_sim_rand(sim) < 0.5 ? 1 : 15));
    if (!json_object_get(spec, "days"))
        json_object_set_new(spec, "days", json_integer(3 + (int)(st_sim_rand(sim) * 18)));
    if (!json_object_get(spec, "p"))
        json_object_set_new(spec, "p", json_real(0.15 + st_sim_rand(sim) * 0.35));
}

/* The first payday (day of month, UTC) strictly after t. */
static int64_t next_payday(int64_t t, int payday)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    struct tm p = {0};
    p.tm_year = tm.tm_year;
    p.tm_mon = tm.tm_mon;
    p.tm_mday = payday;
    int64_t cand = (int64_t)timegm(&p);
    if (cand <= t) {
        p.tm_mon += 1;
        cand = (int64_t)timegm(&p);
    }
    return cand;
}

static double num(json_t *v, double dflt)
{
    if (json_is_number(v))
        return json_number_value(v);
    if (json_is_string(v))
        return atof(json_string_value(v));
    return dflt;
}

int st_sim_issuer_assign(st_sim_t *sim, const char *cus, json_t *spec, st_err_t *err)
{
    json_t *c = st_sim_store_get(sim, cus);
    if (!c || strcmp(json_string_value(json_object_get(c, "object")), "customer") != 0)
        return st_err_set(err, ST_NOTFOUND, "no such customer: '%s'", cus);
    json_t *m = json_deep_copy(spec);
    const char *kind = json_string_value(json_object_get(m, "kind"));
    if (kind && strcmp(kind, "random") == 0)
        draw_random(sim, m);
    kind = json_string_value(json_object_get(m, "kind"));
    int ok = 0;
    for (const char *const *k = kinds; kind && *k; k++)
        ok |= strcmp(*k, kind) == 0;
    if (!ok) {
        int rc = st_err_set(err, ST_INVAL, "unknown issuer behaviour '%s'", kind ? kind : "");
        json_decref(m); /* kind points into m */
        return rc;
    }
    int64_t ff = (int64_t)num(json_object_get(m, "first_failure"), (double)st_sim_now(sim));
    json_object_set_new(m, "first_failure", json_integer((json_int_t)ff));
    int payday = (int)num(json_object_get(m, "payday"), 1);
    if (payday < 1 || payday > 28)
        payday = 1;
    json_object_set_new(m, "payday", json_integer(payday));
    json_object_set_new(
        m, "recovers_at",
        json_integer((json_int_t)(strcmp(kind, "insufficient_funds") == 0 ? next_payday(ff, payday)
                                  : strcmp(kind, "card_replaced") == 0
                                      ? ff + (int64_t)num(json_object_get(m, "days"), 7) * DAY
                                      : 0)));
    json_object_set_new(m, "attempts", json_integer(0));
    json_object_set_new(st_sim_priv(sim, cus), "issuer", m);
    return 0;
}

json_t *st_sim_issuer_reveal(st_sim_t *sim, const char *cus)
{
    json_t *m = json_object_get(json_object_get(sim->priv, cus), "issuer");
    return m ? json_deep_copy(m) : NULL;
}

/* card_replaced: the issuer's new card arrives. */
static void replace_card(st_sim_t *sim, st_sim_call_t *call, const char *cus, json_t *m)
{
    json_t *c = st_sim_store_get(sim, cus);
    json_t *settings = json_object_get(c, "invoice_settings");
    json_t *old = json_object_get(settings, "default_payment_method");
    json_object_set(m, "old_pm", old ? old : json_null());
    st_sim_call_t quiet = {.params = NULL, .should_retry = -1};
    json_t *pm = st_sim_pm_resolve(sim, call ? call : &quiet, "pm_card_visa", "payment_method");
    json_decref(quiet.body);
    if (!pm)
        return;
    st_sim_pm_attach_to(sim, call ? call : &quiet, pm, cus);
    json_t *prev = json_pack("{s:{s:O}}", "invoice_settings", "default_payment_method",
                             old ? old : json_null());
    json_object_set(settings, "default_payment_method", json_object_get(pm, "id"));
    json_object_set_new(m, "replaced", json_true());
    st_sim_event_emit(sim, call, "customer.updated", cus, prev);
}

void st_sim_issuer_tick(st_sim_t *sim, st_sim_call_t *call, int64_t now)
{
    const char *id;
    json_t *p;
    json_object_foreach(sim->priv, id, p)
    {
        json_t *m = json_object_get(p, "issuer");
        if (!m || strcmp(json_string_value(json_object_get(m, "kind")), "card_replaced") != 0 ||
            json_is_true(json_object_get(m, "replaced")))
            continue;
        if (json_integer_value(json_object_get(m, "recovers_at")) <= now)
            replace_card(sim, call, id, m);
    }
}

int st_sim_issuer_decide(st_sim_t *sim, st_sim_call_t *call, const char *cus, const char *pm,
                         const char **code, const char **dc)
{
    json_t *m = json_object_get(json_object_get(sim->priv, cus), "issuer");
    int64_t now = st_sim_now(sim);
    if (!m || now < json_integer_value(json_object_get(m, "first_failure")))
        return 0;
    const char *kind = json_string_value(json_object_get(m, "kind"));
    json_object_set_new(m, "attempts",
                        json_integer(json_integer_value(json_object_get(m, "attempts")) + 1));
    int64_t rec = json_integer_value(json_object_get(m, "recovers_at"));
    if (strcmp(kind, "insufficient_funds") == 0 && now < rec) {
        *code = "card_declined";
        *dc = "insufficient_funds";
    } else if (strcmp(kind, "card_replaced") == 0) {
        const char *old = json_string_value(json_object_get(m, "old_pm"));
        int replaced = json_is_true(json_object_get(m, "replaced"));
        if (!replaced || (old && pm && strcmp(old, pm) == 0)) {
            *code = "expired_card";
            *dc = NULL;
        }
    } else if (strcmp(kind, "hard_decline") == 0) {
        const char *c = json_string_value(json_object_get(m, "code"));
        *code = "card_declined";
        *dc = c ? c : "do_not_honor";
    } else if (strcmp(kind, "soft_random") == 0 &&
               st_sim_rand_keyed(sim, cus,
                                 (uint64_t)json_integer_value(json_object_get(m, "attempts"))) >=
                   num(json_object_get(m, "p"), 0.3)) {
        *code = "card_declined";
        *dc = "insufficient_funds";
    }
    (void)call;
    return *code != NULL;
}
