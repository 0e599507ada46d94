/*
 * st_sim_core.c — simulator life cycle: create the store, the idempotency
 * store (24 h of sim time), faults, the webhook thread, the optional
 * start-up endpoint and customer book; free them in reverse.
 */
#include <stdlib.h>
#include <string.h>

#include "st_sim_evlog.h"
#include "st_sim_faults.h"
#include "st_sim_hooks.h"
#include "st_sim_int.h"
#include "st_sim_issuer.h"

#define IDEM_TTL (24 * 3600)

int64_t st_sim_now(st_sim_t *sim)
{
    return st_sim_clock_now(&sim->clock);
}

static int make_store(st_sim_t *sim)
{
    sim->objects = json_object();
    sim->hot = json_array();
    sim->priv = json_object();
    sim->lists = json_object();
    sim->evlog = st_sim_evlog_new(ST_SIM_EVENT_KEEP);
    sim->effects_by_key = json_object();
    sim->pending = json_array();
    sim->idem = st_sim_idem_new(IDEM_TTL);
    return sim->objects && sim->hot && sim->priv && sim->lists && sim->evlog &&
                   sim->effects_by_key && sim->pending && sim->idem
               ? 0
               : ST_NOMEM;
}

/* Register --webhook URL as an endpoint for every event. */
static void add_startup_endpoint(st_sim_t *sim)
{
    char id[64], secret[64];
    st_sim_id_new(sim, "we", id, sizeof(id));
    if (sim->cfg.webhook_secret)
        snprintf(secret, sizeof(secret), "%s", sim->cfg.webhook_secret);
    else
        st_sim_id_new(sim, "whsec", secret, sizeof(secret));
    json_t *we =
        json_pack("{s:s, s:s, s:n, s:n, s:I, s:n, s:[s], s:b, s:{}, s:s, s:s}", "id", id, "object",
                  "webhook_endpoint", "api_version", "application", "created",
                  (json_int_t)st_sim_now(sim), "description", "enabled_events", "*", "livemode", 0,
                  "metadata", "status", "enabled", "url", sim->cfg.webhook_url);
    st_sim_store_put(sim, "webhook_endpoint", id, we);
    json_object_set_new(st_sim_priv(sim, id), "secret", json_string(secret));
}

int st_sim_new(const st_sim_config_t *cfg, st_sim_t **out, st_err_t *err)
{
    *out = NULL;
    st_sim_t *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return st_err_set(err, ST_NOMEM, "out of memory");
    sim->cfg = *cfg;
    sim->seed = cfg->seed;
    sim->rng = cfg->seed ^ 0x5DEECE66Dull;
    pthread_mutex_init(&sim->mu, NULL);
    st_sim_clock_init(&sim->clock, cfg->clock_start, cfg->clock_frozen);
    int rc = make_store(sim);
    if (rc == 0)
        rc = st_sim_faults_new(cfg->seed, &sim->faults);
    if (rc < 0) {
        st_sim_free(sim);
        return st_err_set(err, ST_NOMEM, "out of memory");
    }
    if (cfg->faults && (rc = st_sim_faults_set(sim->faults, cfg->faults, err)) < 0) {
        st_sim_free(sim);
        return rc;
    }
    if ((rc = st_sim_hooks_new(sim, &sim->hooks, err)) < 0) {
        st_sim_free(sim);
        return rc;
    }
    if (cfg->webhook_url)
        add_startup_endpoint(sim);
    if (cfg->book && (rc = st_sim_issuer_load_book(sim, cfg->book, err)) < 0) {
        st_sim_free(sim);
        return rc;
    }
    *out = sim;
    return 0;
}

void st_sim_free(st_sim_t *sim)
{
    if (!sim)
        return;
    st_sim_hooks_free(sim->hooks);
    st_sim_faults_free(sim->faults);
    st_sim_idem_free(sim->idem);
    json_decref(sim->objects);
    json_decref(sim->hot);
    json_decref(sim->priv);
    json_decref(sim->lists);
    st_sim_evlog_free(sim->evlog);
    for (size_t i = 0; i < sim->n_effects; i++)
        free(sim->effects[i]);
    free(sim->effects);
    json_decref(sim->effects_by_key);
    json_decref(sim->pending);
    json_decref(sim->pi_template);
    pthread_mutex_destroy(&sim->mu);
    free(sim);
}
