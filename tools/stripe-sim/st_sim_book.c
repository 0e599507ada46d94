/*
 * st_sim_book.c — load a book of customers for dunning research.
 *
 * TSV, one customer per line, '#' comments, header line optional:
 *   email  card  amount  currency  country  first_failure_days  behaviour  params
 * card is a test token (pm_card_visa) or number; first_failure_days is
 * relative to sim time at load (decimals allowed); params are k=v pairs
 * separated by commas (payday=15,days=7,code=stolen_card,p=0.3). Each row
 * creates a customer with the card attached as default, the issuer
 * behaviour, and an open invoice for amount. Callers hold sim->mu.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_issuer.h"

#define MAX_FIELDS 8

static int split_tabs(char *line, char **f)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, "\t", &save); t && n < MAX_FIELDS;
         t = strtok_r(NULL, "\t", &save))
        f[n++] = t;
    return n;
}

static json_t *parse_params(char *text, const char *kind, double ff_days, int64_t now)
{
    json_t *spec = json_pack("{s:s, s:I}", "kind", kind, "first_failure",
                             (json_int_t)(now + (int64_t)(ff_days * 86400)));
    char *save = NULL;
    for (char *kv = text ? strtok_r(text, ",", &save) : NULL; kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = '\0';
        json_object_set_new(spec, kv, json_string(eq + 1));
    }
    return spec;
}

/* One row: customer, card, issuer, invoice. */
static int load_row(st_sim_t *sim, char **f, int n, int lineno, json_t *created, st_err_t *err)
{
    if (n < 7)
        return st_err_set(err, ST_PARSE, "book line %d: want 7 or 8 tab-separated fields", lineno);
    char *end;
    long long amount = strtoll(f[2], &end, 10);
    if (*end || amount < 0)
        return st_err_set(err, ST_PARSE, "book line %d: bad amount '%s'", lineno, f[2]);
    double ff = strtod(f[5], &end);
    if (*end)
        return st_err_set(err, ST_PARSE, "book line %d: bad first_failure_days '%s'", lineno, f[5]);
    st_sim_call_t call = {.params = NULL, .should_retry = -1};
    json_t *cus = st_sim_customer_make(sim, f[0]);
    const char *cus_id = json_string_value(json_object_get(cus, "id"));
    const st_sim_card_t *by_number = st_sim_card_by_number(f[1]);
    json_t *pm = st_sim_pm_resolve(sim, &call, by_number ? by_number->token : f[1], "card");
    json_decref(call.body);
    call.body = NULL;
    if (!pm)
        return st_err_set(err, ST_PARSE, "book line %d: unknown card '%s'", lineno, f[1]);
    json_object_set_new(json_object_get(pm, "card"), "country", json_string(f[4]));
    json_object_set(pm, "customer", json_object_get(cus, "id"));
    json_object_set(json_object_get(cus, "invoice_settings"), "default_payment_method",
                    json_object_get(pm, "id"));
    json_object_set_new(json_object_get(cus, "metadata"), "issuer_country", json_string(f[4]));
    json_t *spec = parse_params(n > 7 ? f[7] : NULL, f[6], ff, st_sim_now(sim));
    int rc = st_sim_issuer_assign(sim, cus_id, spec, err);
    json_decref(spec);
    if (rc < 0)
        return rc;
    json_t *inv = st_sim_invoice_open(sim, &call, cus_id, amount, f[3]);
    json_decref(call.body);
    if (created)
        json_array_append_new(created, json_pack("{s:s, s:O, s:O}", "customer", cus_id,
                                                 "payment_method", json_object_get(pm, "id"),
                                                 "invoice", json_object_get(inv, "id")));
    return 0;
}

int st_sim_issuer_load_text(st_sim_t *sim, const char *text, json_t *created, st_err_t *err)
{
    char *copy = strdup(text);
    if (!copy)
        return st_err_set(err, ST_NOMEM, "out of memory");
    int lineno = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        if (line[0] == '#' || line[0] == '\0' || strncmp(line, "email\t", 6) == 0)
            continue;
        char *f[MAX_FIELDS];
        int n = split_tabs(line, f);
        rc = load_row(sim, f, n, lineno, created, err);
    }
    free(copy);
    return rc;
}

int st_sim_issuer_load_book(st_sim_t *sim, const char *path, st_err_t *err)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return st_err_set(err, ST_IO, "cannot open book %s", path);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    size_t got = buf ? fread(buf, 1, (size_t)size, fp) : 0;
    fclose(fp);
    if (!buf)
        return st_err_set(err, ST_NOMEM, "out of memory");
    buf[got] = '\0';
    pthread_mutex_lock(&sim->mu);
    int rc = st_sim_issuer_load_text(sim, buf, NULL, err);
    pthread_mutex_unlock(&sim->mu);
    free(buf);
    return rc;
}
