/*
 * st_catalog.c — the activity catalog table (see st_catalog.h).
 *
 * Layer: common (libc only). Data and lookups; no state.
 */
#include "common/st_catalog.h"

#include <string.h>

#define T_INT    ST_CATALOG_INT
#define T_STRING ST_CATALOG_STRING
#define T_BOOL   ST_CATALOG_BOOL
#define T_MONEY  ST_CATALOG_MONEY

#define SEC(n) ((int64_t)(n)*1000000)

static const char *const out_payment[] = {"succeeded", "processing", "requires_action",
                                          "declined",  "failed",     NULL};
static const char *const out_invoice[] = {"succeeded", "requires_action", "declined", "failed",
                                          NULL};
static const char *const out_refund[] = {"succeeded", "pending", "failed", NULL};
static const char *const out_simple[] = {"succeeded", "failed", NULL};
static const char *const out_email[] = {"sent", "failed", NULL};
static const char *const out_http[] = {"ok", "rejected", "failed", NULL};
static const char *const out_test[] = {"ok", "failed", NULL};

static const st_catalog_param_t p_create[] = {
    {"customer", T_STRING, 1},       {"amount", T_MONEY, 1},
    {"payment_method", T_STRING, 0}, {"description", T_STRING, 0},
    {"off_session", T_BOOL, 0},      {"three_d_secure", T_STRING, 0},
    {"return_url", T_STRING, 0},     {NULL, 0, 0}};
static const st_catalog_param_t p_confirm[] = {{"payment_intent", T_STRING, 1},
                                               {"payment_method", T_STRING, 0},
                                               {"off_session", T_BOOL, 0},
                                               {"return_url", T_STRING, 0},
                                               {NULL, 0, 0}};
static const st_catalog_param_t p_invoice[] = {
    {"invoice", T_STRING, 1}, {"payment_method", T_STRING, 0}, {NULL, 0, 0}};
static const st_catalog_param_t p_void[] = {{"invoice", T_STRING, 1}, {NULL, 0, 0}};
static const st_catalog_param_t p_cancel[] = {
    {"payment_intent", T_STRING, 1}, {"reason", T_STRING, 0}, {NULL, 0, 0}};
static const st_catalog_param_t p_refund[] = {
    {"payment_intent", T_STRING, 1}, {"amount", T_MONEY, 0}, {"reason", T_STRING, 0}, {NULL, 0, 0}};
static const st_catalog_param_t p_email[] = {
    {"to", T_STRING, 1}, {"template", T_STRING, 1}, {NULL, 0, 0}};
static const st_catalog_param_t p_erp[] = {{"reference", T_STRING, 1},
                                           {"amount", T_MONEY, 1},
                                           {"customer", T_STRING, 0},
                                           {"reason", T_STRING, 0},
                                           {NULL, 0, 0}};
static const st_catalog_param_t p_erp_refund[] = {{"reference", T_STRING, 1},
                                                  {"amount", T_MONEY, 1},
                                                  {"refund", T_STRING, 0},
                                                  {"customer", T_STRING, 0},
                                                  {NULL, 0, 0}};
static const st_catalog_param_t p_retrieve[] = {{"payment_intent", T_STRING, 1}, {NULL, 0, 0}};
static const st_catalog_param_t p_test_fail[] = {{"failures", T_INT, 1}, {NULL, 0, 0}};
static const st_catalog_param_t p_test_sleep[] = {{"ms", T_INT, 1}, {NULL, 0, 0}};
static const st_catalog_param_t p_none[] = {{NULL, 0, 0}};
static const st_catalog_param_t p_http[] = {
    {"url", T_STRING, 1}, {"method", T_STRING, 0}, {"body", T_STRING, 0}, {NULL, 0, 0}};

static const st_catalog_activity_t catalog[] = {
    {"stripe.create_payment", out_payment, p_create, 0, SEC(30), 1},
    {"stripe.confirm_payment", out_payment, p_confirm, 0, SEC(30), 1},
    {"stripe.pay_invoice", out_invoice, p_invoice, 0, SEC(30), 1},
    {"stripe.refund", out_refund, p_refund, 0, SEC(30), 1},
    {"stripe.void_invoice", out_simple, p_void, 0, SEC(30), 1},
    {"stripe.cancel_payment", out_simple, p_cancel, 0, SEC(30), 1},
    {"email.send", out_email, p_email, 1, SEC(60), 1},
    {"erp.post_payment", out_http, p_erp, 0, SEC(30), 1},
    {"erp.post_refund", out_http, p_erp_refund, 0, SEC(30), 1},
    {"erp.write_off", out_http, p_erp, 0, SEC(30), 1},
    {"http.call", out_http, p_http, 0, SEC(30), 1},
    {"stripe.retrieve_payment", out_payment, p_retrieve, 0, SEC(30), 1},
    /* The test family: real asynchronous activities without the network,
     * for engine tests, benchmarks and trying the language out. */
    {"test.echo", out_test, p_none, 1, SEC(10), 1},
    {"test.fail_then_succeed", out_test, p_test_fail, 1, SEC(10), 1},
    {"test.sleep", out_test, p_test_sleep, 1, SEC(60), 1},
    /* Runtime only: their args are JSON objects (fields, tags). */
    {"crm.upsert", out_http, p_none, 1, SEC(30), 0},
    {"support.ticket", out_http, p_none, 1, SEC(30), 0},
};

#define CATALOG_N (sizeof catalog / sizeof catalog[0])

const st_catalog_activity_t *st_catalog_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < CATALOG_N; i++)
        if (strcmp(catalog[i].name, name) == 0)
            return &catalog[i];
    return NULL;
}

const st_catalog_activity_t *st_catalog_at(size_t i)
{
    return i < CATALOG_N ? &catalog[i] : NULL;
}

size_t st_catalog_count(void)
{
    return CATALOG_N;
}

int st_catalog_has_outcome(const st_catalog_activity_t *a, const char *outcome)
{
    for (size_t i = 0; outcome != NULL && a->outcomes[i] != NULL; i++)
        if (strcmp(a->outcomes[i], outcome) == 0)
            return 1;
    return 0;
}

int st_catalog_outcome_has_codes(const char *outcome)
{
    return outcome != NULL && strcmp(outcome, "declined") == 0;
}
