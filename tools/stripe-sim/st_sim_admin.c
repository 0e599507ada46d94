/*
 * st_sim_admin.c — the simulator's own endpoints under /_sim/ (no API key;
 * the server binds to 127.0.0.1 only):
 *   GET  /_sim/health                       liveness
 *   GET  /_sim/effects[?idempotency_key=K]  money movements and counters
 *   GET  /_sim/clock                        sim time
 *   POST /_sim/clock/advance  seconds=N | hours=N | days=N   move sim time on
 *   POST /_sim/payment_intents/:id/3ds  outcome=succeed|fail  finish 3-D Secure
 *   GET|POST /_sim/faults  spec=...         read / replace fault rules
 *   GET|POST /_sim/customers/:id/issuer     reveal / assign issuer behaviour
 *   POST /_sim/book  tsv=...                load a customer book
 *   GET  /_sim/webhooks                     delivery counters and queue
 */
#include <stdlib.h>
#include <string.h>

#include "st_sim_faults.h"
#include "st_sim_hooks.h"
#include "st_sim_int.h"
#include "st_sim_issuer.h"

static int health(st_sim_t *sim, st_sim_call_t *call)
{
    st_sim_ok(call, json_pack("{s:b, s:I}", "ok", 1, "now", (json_int_t)st_sim_now(sim)));
    return 0;
}

static int effects(st_sim_t *sim, st_sim_call_t *call)
{
    const char *key = st_sim_param_str(call, "idempotency_key");
    int64_t limit = 100;
    if (st_sim_param_int(call, "limit", &limit, 0) < 0)
        return -1;
    json_t *list = json_array();
    size_t n = sim->n_effects;
    for (size_t i = n; i > 0 && (key || (int64_t)json_array_size(list) < limit); i--) {
        const st_sim_effect_t *e = sim->effects[i - 1];
        if (!key || (e->idem_key && strcmp(e->idem_key, key) == 0))
            json_array_insert_new(list, 0, st_sim_effect_json(e));
    }
    json_t *out =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "charges_succeeded",
                  (json_int_t)sim->counts[ST_SIM_N_CHARGE_OK], "charges_failed",
                  (json_int_t)sim->counts[ST_SIM_N_CHARGE_FAILED], "refunds",
                  (json_int_t)sim->counts[ST_SIM_N_REFUND], "total", (json_int_t)n,
                  "idempotency_keys", (json_int_t)st_sim_idem_count(sim->idem), "effects", list);
    if (key)
        json_object_set_new(
            out, "count_for_key",
            json_integer(json_integer_value(json_object_get(sim->effects_by_key, key))));
    st_sim_ok(call, out);
    return 0;
}

static json_t *clock_json(st_sim_t *sim)
{
    return json_pack("{s:I, s:I, s:b}", "now", (json_int_t)st_sim_now(sim), "offset",
                     (json_int_t)atomic_load(&sim->clock.offset), "frozen", sim->clock.frozen);
}

static int clock_get(st_sim_t *sim, st_sim_call_t *call)
{
    st_sim_ok(call, clock_json(sim));
    return 0;
}

static int clock_advance(st_sim_t *sim, st_sim_call_t *call)
{
    int64_t s = 0, h = 0, d = 0;
    if (st_sim_param_int(call, "seconds", &s, 0) < 0 ||
        st_sim_param_int(call, "hours", &h, 0) < 0 || st_sim_param_int(call, "days", &d, 0) < 0)
        return -1;
    int64_t total = s + h * 3600 + d * 86400;
    if (total < 0)
        return st_sim_fail_param(call, "seconds", "sim time only moves forwards");
    st_sim_clock_advance(&sim->clock, total);
    int64_t now = st_sim_now(sim);
    st_sim_refunds_tick(sim, call, now);
    st_sim_issuer_tick(sim, call, now);
    size_t expired = st_sim_idem_expire(sim->idem, now);
    st_sim_hooks_kick(sim->hooks);
    json_t *out = clock_json(sim);
    json_object_set_new(out, "expired_idempotency_keys", json_integer((json_int_t)expired));
    st_sim_ok(call, out);
    return 0;
}

static int three_ds(st_sim_t *sim, st_sim_call_t *call)
{
    const char *outcome = st_sim_param_str(call, "outcome");
    if (!outcome || (strcmp(outcome, "succeed") != 0 && strcmp(outcome, "fail") != 0))
        return st_sim_fail_param(call, "outcome", "outcome must be succeed or fail");
    json_t *pi = st_sim_store_get(sim, call->id);
    if (!pi || strcmp(json_string_value(json_object_get(pi, "object")), "payment_intent") != 0)
        return st_sim_fail_missing(call, "payment_intent", "id", call->id);
    return st_sim_pi_3ds_finish(sim, call, pi, strcmp(outcome, "succeed") == 0);
}

static int faults_get(st_sim_t *sim, st_sim_call_t *call)
{
    st_sim_ok(call, st_sim_faults_describe(sim->faults));
    return 0;
}

static int faults_set(st_sim_t *sim, st_sim_call_t *call)
{
    st_err_t err;
    const char *spec = json_string_value(json_object_get(call->params, "spec"));
    if (st_sim_faults_set(sim->faults, spec ? spec : "", &err) < 0)
        return st_sim_fail_param(call, "spec", "%s", err.msg);
    st_sim_ok(call, st_sim_faults_describe(sim->faults));
    return 0;
}

static int issuer_get(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *m = st_sim_issuer_reveal(sim, call->id);
    st_sim_ok(call, m ? m : json_pack("{s:s}", "kind", "none"));
    return 0;
}

static int issuer_set(st_sim_t *sim, st_sim_call_t *call)
{
    st_err_t err;
    if (st_sim_issuer_assign(sim, call->id, call->params, &err) < 0) {
        if (err.code == ST_NOTFOUND)
            return st_sim_fail_missing(call, "customer", "id", call->id);
        return st_sim_fail_param(call, "kind", "%s", err.msg);
    }
    return issuer_get(sim, call);
}

static int book(st_sim_t *sim, st_sim_call_t *call)
{
    st_err_t err;
    const char *tsv = json_string_value(json_object_get(call->params, "tsv"));
    if (!tsv)
        return st_sim_fail_param(call, "tsv", "Missing required param: tsv.");
    json_t *created = json_array();
    if (st_sim_issuer_load_text(sim, tsv, created, &err) < 0) {
        json_decref(created);
        return st_sim_fail_param(call, "tsv", "%s", err.msg);
    }
    st_sim_ok(call, json_pack("{s:o}", "created", created));
    return 0;
}

static int webhooks(st_sim_t *sim, st_sim_call_t *call)
{
    st_sim_ok(call, st_sim_hooks_describe(sim->hooks));
    return 0;
}

const st_sim_route_t st_sim_routes_admin[] = {
    {"GET", "/_sim/health", health},
    {"GET", "/_sim/effects", effects},
    {"GET", "/_sim/clock", clock_get},
    {"POST", "/_sim/clock/advance", clock_advance},
    {"POST", "/_sim/payment_intents/:id/3ds", three_ds},
    {"GET", "/_sim/faults", faults_get},
    {"POST", "/_sim/faults", faults_set},
    {"GET", "/_sim/customers/:id/issuer", issuer_get},
    {"POST", "/_sim/customers/:id/issuer", issuer_set},
    {"POST", "/_sim/book", book},
    {"GET", "/_sim/webhooks", webhooks},
    {NULL, NULL, NULL},
};
