/*
 * test_http_batch.c — starts through the real HTTP stack: POST
 * /v1/instances/batch (a result per item in order, a bad item among good
 * ones, a business key used twice in one batch, the refusals of the whole
 * request: 1001 items, a body over 4 MiB, a read-only token) and
 * concurrent single starts that the start committer groups (one instance
 * per business key, however the requests were batched).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http_fixture.h"
#include "http_flows.h"

#define ITEM(inv, minor)                                                                           \
    "{\"flow\":\"wait_invoice\",\"inputs\":{\"invoice\":\"" inv "\",\"amount\":{\"minor\":" #minor \
    ",\"currency\":\"eur\"}}"

static void open_deployed(fx_t *f)
{
    fx_open(f, 1);
    fx_deploy(f, "wait_invoice.flow", FLOW_WAIT_INVOICE);
}

/* POST body to the batch route; the parsed results array (new reference). */
static json_t *batch(fx_t *f, const char *body, long want_status)
{
    fx_resp_t r;
    fx_api(f, "POST", "/v1/instances/batch", FX_TOKEN_WRITE, body, &r);
    ck_assert_msg(r.status == want_status, "%ld %s", r.status, r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    fx_resp_free(&r);
    ck_assert_ptr_nonnull(j);
    json_t *results = json_incref(json_object_get(j, "results"));
    json_decref(j);
    return results;
}

static long item_status(json_t *results, size_t i)
{
    return (long)json_integer_value(json_object_get(json_array_get(results, i), "status"));
}

static const char *item_str(json_t *results, size_t i, const char *obj, const char *field)
{
    return json_string_value(
        json_object_get(json_object_get(json_array_get(results, i), obj), field));
}

START_TEST(results_in_order_and_a_bad_item_stops_nothing)
{
    fx_t f;
    open_deployed(&f);
    const char body[] = "{\"items\":[" ITEM(
        "in_1", 100) "},"
                     "{\"flow\":\"wait_invoice\",\"inputs\":{\"invoice\":\"in_2\","
                     "\"amount\":\"x\"}},"
                     "{\"flow\":\"nope\",\"inputs\":{}},"
                     "{\"flow\":\"wait_invoice\",\"surprise\":1}," ITEM(
                         "in_3", 300) ",\"business_key\":\"order-3\"}]}";
    json_t *res = batch(&f, body, 200);
    ck_assert_int_eq(json_array_size(res), 5);
    ck_assert_int_eq(item_status(res, 0), 201);
    ck_assert_str_eq(item_str(res, 0, "instance", "state"), "wait");
    ck_assert_str_eq(item_str(res, 0, "instance", "status"), "running");
    ck_assert_int_eq(item_status(res, 1), 422);
    ck_assert_str_eq(item_str(res, 1, "error", "type"), "invalid_inputs");
    ck_assert_ptr_nonnull(strstr(item_str(res, 1, "error", "message"), "amount"));
    ck_assert_int_eq(item_status(res, 2), 404);
    ck_assert_str_eq(item_str(res, 2, "error", "type"), "not_found");
    ck_assert_int_eq(item_status(res, 3), 422);
    ck_assert_str_eq(item_str(res, 3, "error", "type"), "invalid_request");
    ck_assert_ptr_nonnull(item_str(res, 3, "error", "hint"));
    ck_assert_int_eq(item_status(res, 4), 201);
    ck_assert_str_eq(item_str(res, 4, "instance", "business_key"), "order-3");
    /* What the answers say is what was stored: two instances, each with
     * its start history row, counted once, its correlation registered. */
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM instances WHERE id IN ('%s', '%s')",
             item_str(res, 0, "instance", "id"), item_str(res, 4, "instance", "id"));
    ck_assert_int_eq(fx_scalar(&f, q), 2);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 2);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM history WHERE kind = 'start'"), 2);
    ck_assert_int_eq(fx_scalar(&f, "SELECT sum(n) FROM flow_counts WHERE status = 'running'"), 2);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM correlations WHERE value IN "
                                   "('in_1', 'in_3')"),
                     2);
    json_decref(res);
    fx_close(&f);
}
END_TEST

START_TEST(a_key_twice_in_one_batch_is_one_instance)
{
    fx_t f;
    open_deployed(&f);
    const char body[] = "{\"items\":[" ITEM("in_1", 100) ",\"business_key\":\"k\"}," ITEM(
        "in_1", 100) ",\"business_key\":\"k\"}," ITEM("in_9", 100) ",\"business_key\":\"k\"}]}";
    json_t *res = batch(&f, body, 200);
    ck_assert_int_eq(item_status(res, 0), 201);
    ck_assert_int_eq(item_status(res, 1), 200);
    ck_assert_str_eq(item_str(res, 1, "instance", "id"), item_str(res, 0, "instance", "id"));
    ck_assert(json_is_true(
        json_object_get(json_object_get(json_array_get(res, 1), "instance"), "existing")));
    ck_assert_int_eq(item_status(res, 2), 409);
    ck_assert_str_eq(item_str(res, 2, "error", "type"), "conflict");
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 1);
    ck_assert_int_eq(fx_scalar(&f, "SELECT sum(n) FROM flow_counts"), 1);
    json_decref(res);
    /* The same key in a later batch and through the single route: the same instance. */
    json_t *again = batch(&f, "{\"items\":[" ITEM("in_1", 100) ",\"business_key\":\"k\"}]}", 200);
    ck_assert_int_eq(item_status(again, 0), 200);
    json_decref(again);
    fx_resp_t r;
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE,
           ITEM("in_1", 100) ",\"business_key\":\"k\"}", &r);
    ck_assert_int_eq(r.status, 200);
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 1);
    fx_close(&f);
}
END_TEST

/* A body of n copies of one item. */
static char *items_body(size_t n, const char *item)
{
    size_t len = strlen(item);
    char *b = malloc(n * (len + 1) + 32);
    size_t k = (size_t)sprintf(b, "{\"items\":[");
    for (size_t i = 0; i < n; i++) {
        memcpy(b + k, item, len);
        k += len;
        b[k++] = i + 1 < n ? ',' : ']';
    }
    strcpy(b + k, "}");
    return b;
}

START_TEST(whole_request_refusals)
{
    fx_t f;
    open_deployed(&f);
    fx_resp_t r;
    char *big = items_body(1001, ITEM("in_1", 1) "}");
    fx_api(&f, "POST", "/v1/instances/batch", FX_TOKEN_WRITE, big, &r);
    fx_assert_error(&r, 422, "invalid_request");
    ck_assert_ptr_nonnull(strstr(r.body, "1001"));
    fx_resp_free(&r);
    free(big);
    fx_api(&f, "POST", "/v1/instances/batch", FX_TOKEN_WRITE, "{\"items\":[]}", &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances/batch", FX_TOKEN_WRITE, "{\"flow\":\"wait_invoice\"}", &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances/batch", FX_TOKEN_WRITE, "{\"items\":[", &r);
    ck_assert_int_eq(r.status, 400);
    fx_resp_free(&r);
    /* Over 4 MiB: 413 before anything is parsed (the route's own limit,
     * above the server's 64 KiB one, which a 1000-item batch fits). */
    char pad[4096 + 1];
    memset(pad, 'x', 4096);
    pad[4096] = '\0';
    char item[4300];
    snprintf(item, sizeof item, ITEM("%s", 1) "}", pad);
    char *huge = items_body(1030, item);
    fx_api(&f, "POST", "/v1/instances/batch", FX_TOKEN_WRITE, huge, &r);
    fx_assert_error(&r, 413, "payload_too_large");
    fx_resp_free(&r);
    free(huge);
    char *full = items_body(1000, ITEM("in_1", 1) "}");
    json_t *res = batch(&f, full, 200);
    ck_assert_int_eq(json_array_size(res), 1000);
    json_decref(res);
    free(full);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 1000);
    fx_api(&f, "POST", "/v1/instances/batch", FX_TOKEN_READ, "{\"items\":[" ITEM("a", 1) "}]}", &r);
    fx_assert_error(&r, 403, "forbidden");
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances/batch", NULL, "{\"items\":[" ITEM("a", 1) "}]}", &r);
    fx_assert_error(&r, 401, "unauthorized");
    fx_resp_free(&r);
    const char *plain[] = {"Content-Type: text/plain", "Authorization: Bearer " FX_TOKEN_WRITE,
                           NULL};
    const char b1[] = "{\"items\":[" ITEM("a", 1) "}]}";
    fx_request(&f, "POST", "/v1/instances/batch", plain, b1, strlen(b1), &r);
    fx_assert_error(&r, 415, "unsupported_media_type");
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 1000);
    fx_close(&f);
}
END_TEST

#define RACERS 12

typedef struct racer {
    fx_t *f;
    int i;
    long status;
    char id[64];
} racer_t;

static void *race(void *ud)
{
    racer_t *r = ud;
    char body[256];
    /* Half the racers share one key; the others start their own. */
    snprintf(body, sizeof body, ITEM("in_r", 5) ",\"business_key\":\"%s\"}",
             r->i % 2 ? "shared"
                      : (r->i == 0   ? "own-0"
                         : r->i == 2 ? "own-2"
                                     : "own-n"));
    fx_resp_t resp;
    fx_api(r->f, "POST", "/v1/instances", FX_TOKEN_WRITE, body, &resp);
    r->status = resp.status;
    snprintf(r->id, sizeof r->id, "%s", fx_json_str(&resp, "id"));
    fx_resp_free(&resp);
    return NULL;
}

START_TEST(concurrent_single_starts_keep_keys_unique)
{
    fx_t f;
    open_deployed(&f);
    pthread_t t[RACERS];
    racer_t r[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (racer_t){.f = &f, .i = i};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    int created = 0;
    for (int i = 0; i < RACERS; i++) {
        ck_assert_msg(r[i].status == 201 || r[i].status == 200, "racer %d: %ld", i, r[i].status);
        created += r[i].status == 201;
        if (i % 2)
            ck_assert_str_eq(r[i].id, r[1].id);
    }
    /* keys: shared, own-0, own-2, own-n */
    ck_assert_int_eq(created, 4);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 4);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM history"), 4);
    ck_assert_int_eq(fx_scalar(&f, "SELECT sum(n) FROM flow_counts"), 4);
    fx_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_batch");
    TCase *tc = tcase_create("batch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, results_in_order_and_a_bad_item_stops_nothing);
    tcase_add_test(tc, a_key_twice_in_one_batch_is_one_instance);
    tcase_add_test(tc, whole_request_refusals);
    tcase_add_test(tc, concurrent_single_starts_keep_keys_unique);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
