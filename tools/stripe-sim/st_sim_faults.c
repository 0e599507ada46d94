/*
 * st_sim_faults.c — fault rules and seeded draws (see st_sim_faults.h).
 */
#include "st_sim_faults.h"

#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 32

typedef struct rule {
    char glob[128]; /* path glob, "" = every path */
    int lat_min;    /* latency range, ms */
    int lat_max;
    double lat_exp; /* mean of an added exponential tail, ms (0: none) */
    double p500, p429, pdrop;
} rule_t;

struct st_sim_faults {
    pthread_mutex_t mu;      /* guards everything below */
    rule_t rules[MAX_RULES]; /* in spec order */
    int n;
    st_sim_hook_faults_t hooks;
    uint64_t rng;
    char spec[1024]; /* as given, for describe */
};

int st_sim_faults_new(uint64_t seed, st_sim_faults_t **out)
{
    st_sim_faults_t *f = calloc(1, sizeof(*f));
    if (!f)
        return ST_NOMEM;
    pthread_mutex_init(&f->mu, NULL);
    f->rng = seed * 2654435761u + 1;
    *out = f;
    return 0;
}

void st_sim_faults_free(st_sim_faults_t *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static double next01(st_sim_faults_t *f)
{
    uint64_t x = f->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f->rng = x;
    return (double)(x >> 11) / 9007199254740992.0;
}

static int parse_prob(const char *v, double *out, st_err_t *err, const char *k)
{
    char *end;
    double p = strtod(v, &end);
    if (*end || p < 0 || p > 1)
        return st_err_set(err, ST_PARSE, "fault %s=%s: want a probability in [0,1]", k, v);
    *out = p;
    return 0;
}

static int parse_kv(rule_t *r, st_sim_hook_faults_t *h, char *kv, st_err_t *err)
{
    char *eq = strchr(kv, '=');
    if (!eq)
        return st_err_set(err, ST_PARSE, "fault setting '%s' lacks '='", kv);
    *eq = '\0';
    const char *k = kv, *v = eq + 1;
    if (strcmp(k, "latency_exp") == 0) {
        char *end;
        r->lat_exp = strtod(v, &end);
        if (*end || r->lat_exp < 0 || r->lat_exp > 10000)
            return st_err_set(err, ST_PARSE, "fault latency_exp=%s: want a mean in ms", v);
        return 0;
    }
    if (strcmp(k, "latency") == 0) {
        char *end;
        r->lat_min = (int)strtol(v, &end, 10);
        r->lat_max = *end == '-' ? (int)strtol(end + 1, &end, 10) : r->lat_min;
        if (*end || r->lat_min < 0 || r->lat_max < r->lat_min || r->lat_max > 60000)
            return st_err_set(err, ST_PARSE, "fault latency=%s: want MS or MIN-MAX", v);
        return 0;
    }
    double *slot = strcmp(k, "5xx") == 0               ? &r->p500
                   : strcmp(k, "429") == 0             ? &r->p429
                   : strcmp(k, "drop") == 0            ? &r->pdrop
                   : strcmp(k, "webhook_dup") == 0     ? &h->dup
                   : strcmp(k, "webhook_reorder") == 0 ? &h->reorder
                   : strcmp(k, "webhook_fail") == 0    ? &h->fail
                                                       : NULL;
    if (!slot)
        return st_err_set(err, ST_PARSE, "unknown fault setting '%s'", k);
    return parse_prob(v, slot, err, k);
}

static int parse_rule(char *text, rule_t *r, st_sim_hook_faults_t *h, st_err_t *err)
{
    memset(r, 0, sizeof(*r));
    char *colon = strchr(text, ':');
    if (colon && text[0] == '/') {
        *colon = '\0';
        if (strlen(text) >= sizeof(r->glob))
            return st_err_set(err, ST_PARSE, "fault path glob too long");
        strcpy(r->glob, text);
        text = colon + 1;
    }
    char *save = NULL;
    for (char *kv = strtok_r(text, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        int rc = parse_kv(r, h, kv, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int st_sim_faults_set(st_sim_faults_t *f, const char *spec, st_err_t *err)
{
    rule_t rules[MAX_RULES];
    st_sim_hook_faults_t hooks = {0, 0, 0};
    int n = 0;
    char buf[1024];
    if (!spec)
        spec = "";
    if (strlen(spec) >= sizeof(buf))
        return st_err_set(err, ST_PARSE, "fault spec longer than %zu bytes", sizeof(buf) - 1);
    strcpy(buf, spec);
    char *save = NULL;
    for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        if (n == MAX_RULES)
            return st_err_set(err, ST_PARSE, "more than %d fault rules", MAX_RULES);
        int rc = parse_rule(t, &rules[n++], &hooks, err);
        if (rc < 0)
            return rc;
    }
    pthread_mutex_lock(&f->mu);
    memcpy(f->rules, rules, sizeof(rules[0]) * (size_t)n);
    f->n = n;
    f->hooks = hooks;
    strcpy(f->spec, spec);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

void st_sim_faults_pick(st_sim_faults_t *f, const char *method, const char *path,
                        st_sim_fault_t *out)
{
    out->action = ST_SIM_FAULT_NONE;
    out->latency_ms = 0;
    pthread_mutex_lock(&f->mu);
    const rule_t *r = NULL;
    for (int i = 0; i < f->n; i++)
        if (!f->rules[i].glob[0] || fnmatch(f->rules[i].glob, path, 0) == 0)
            r = &f->rules[i];
    if (r) {
        int span = r->lat_max - r->lat_min;
        out->latency_ms = r->lat_min + (span ? (int)(next01(f) * (span + 1)) : 0);
        if (r->lat_exp > 0) { /* long tail: exponential, capped at a minute */
            double tail = -r->lat_exp * log(1.0 - next01(f));
            out->latency_ms += tail > 60000 ? 60000 : (int)tail;
        }
        double x = next01(f);
        if (x < r->pdrop)
            out->action = ST_SIM_FAULT_DROP;
        else if (x < r->pdrop + r->p500)
            out->action = ST_SIM_FAULT_500;
        else if (x < r->pdrop + r->p500 + r->p429)
            out->action = ST_SIM_FAULT_429;
    }
    pthread_mutex_unlock(&f->mu);
    (void)method;
}

void st_sim_faults_hooks(st_sim_faults_t *f, st_sim_hook_faults_t *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->hooks;
    pthread_mutex_unlock(&f->mu);
}

double st_sim_faults_draw(st_sim_faults_t *f)
{
    pthread_mutex_lock(&f->mu);
    double x = next01(f);
    pthread_mutex_unlock(&f->mu);
    return x;
}

json_t *st_sim_faults_describe(st_sim_faults_t *f)
{
    pthread_mutex_lock(&f->mu);
    json_t *o = json_pack("{s:s, s:i}", "spec", f->spec, "rules", f->n);
    pthread_mutex_unlock(&f->mu);
    return o;
}
