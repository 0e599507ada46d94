/*
 * test_http_api.c — the flow API against a real server and database:
 * bearer tokens and roles, start (idempotency, input checks), get, list
 * with filters and cursor pagination, signals, cancel, the error cases
 * (401/403/404/405/409/413/415/422) and their JSON bodies, health,
 * readiness and /metrics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http_fixture.h"
#include "http_flows.h"

static const char START_BODY[] = "{\"flow\":\"wait_invoice\",\"inputs\":{\"invoice\":\"in_7\","
                                 "\"amount\":{\"minor\":4990,\"currency\":\"eur\"}}}";

static void open_deployed(fx_t *f)
{
    fx_open(f, 1);
    fx_deploy(f, "wait_invoice.flow", FLOW_WAIT_INVOICE);
}

/* Start one instance and return its id (static buffer). */
static const char *start_one(fx_t *f, const char *invoice)
{
    static char id[64];
    char body[256];
    snprintf(body, sizeof body,
             "{\"flow\":\"wait_invoice\",\"inputs\":{\"invoice\":\"%s\","
             "\"amount\":{\"minor\":100,\"currency\":\"usd\"}}}",
             invoice);
    fx_resp_t r;
    fx_api(f, "POST", "/v1/instances", FX_TOKEN_WRITE, body, &r);
    ck_assert_msg(r.status == 201, "start: %ld %s", r.status, r.body);
    snprintf(id, sizeof id, "%s", fx_json_str(&r, "id"));
    fx_resp_free(&r);
    return id;
}

START_TEST(tokens_and_roles)
{
    fx_t f;
    open_deployed(&f);
    fx_resp_t r;
    fx_api(&f, "GET", "/v1/instances", NULL, NULL, &r);
    fx_assert_error(&r, 401, "unauthorized");
    ck_assert_ptr_nonnull(strcasestr(r.headers, "WWW-Authenticate: Bearer"));
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances", "not-a-token", NULL, &r);
    fx_assert_error(&r, 401, "unauthorized");
    fx_resp_free(&r);
    const char *basic[] = {"Authorization: Basic dXNlcjpwYXNz", NULL};
    fx_request(&f, "GET", "/v1/instances", basic, NULL, 0, &r);
    fx_assert_error(&r, 401, "unauthorized");
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances", FX_TOKEN_READ, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_READ, START_BODY, &r);
    fx_assert_error(&r, 403, "forbidden");
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 0);
    fx_close(&f);
}
END_TEST

START_TEST(start_get_and_idempotency_key)
{
    fx_t f;
    open_deployed(&f);
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", FX_TOKEN_WRITE);
    const char *h[] = {"Content-Type: application/json", auth, "Idempotency-Key: order-42", NULL};
    fx_resp_t r;
    fx_request(&f, "POST", "/v1/instances", h, START_BODY, strlen(START_BODY), &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    char id[64];
    snprintf(id, sizeof id, "%s", fx_json_str(&r, "id"));
    ck_assert_str_eq(fx_json_str(&r, "status"), "running");
    ck_assert_str_eq(fx_json_str(&r, "state"), "wait");
    ck_assert_str_eq(fx_json_str(&r, "business_key"), "order-42");
    ck_assert_str_eq(fx_json_str(&r, "existing"), "false");
    char loc[128];
    snprintf(loc, sizeof loc, "Location: /v1/instances/%s", id);
    ck_assert_ptr_nonnull(strstr(r.headers, loc));
    fx_resp_free(&r);
    /* Same key, same inputs: the first instance, 200. */
    fx_request(&f, "POST", "/v1/instances", h, START_BODY, strlen(START_BODY), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(fx_json_str(&r, "id"), id);
    ck_assert_str_eq(fx_json_str(&r, "existing"), "true");
    fx_resp_free(&r);
    /* Same key, other inputs: 409. */
    const char other[] = "{\"flow\":\"wait_invoice\",\"inputs\":{\"invoice\":\"in_8\","
                         "\"amount\":{\"minor\":4990,\"currency\":\"eur\"}}}";
    fx_request(&f, "POST", "/v1/instances", h, other, strlen(other), &r);
    fx_assert_error(&r, 409, "conflict");
    ck_assert_ptr_nonnull(strstr(r.body, "invoice"));
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 1);
    /* An explicit business_key wins over the header. */
    const char keyed[] = "{\"flow\":\"wait_invoice\",\"business_key\":\"bk-1\",\"inputs\":"
                         "{\"invoice\":\"in_8\",\"amount\":{\"minor\":1,\"currency\":\"eur\"}}}";
    fx_request(&f, "POST", "/v1/instances", h, keyed, strlen(keyed), &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(fx_json_str(&r, "business_key"), "bk-1");
    fx_resp_free(&r);
    /* GET shows state, status, variables, wake time and pending task. */
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    fx_api(&f, "GET", path, FX_TOKEN_READ, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "vars"), "invoice")),
                     "in_7");
    ck_assert(json_is_null(json_object_get(j, "wake_at")));
    ck_assert(json_is_null(json_object_get(j, "pending_task")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 0);
    json_decref(j);
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT sum(n) FROM flow_counts WHERE flow = 'wait_invoice' AND "
                                   "status = 'running'"),
                     2);
    fx_close(&f);
}
END_TEST

START_TEST(start_errors)
{
    fx_t f;
    open_deployed(&f);
    fx_resp_t r;
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE, "{\"flow\":\"nope\"}", &r);
    fx_assert_error(&r, 404, "not_found");
    ck_assert_ptr_nonnull(strstr(r.body, "nope"));
    fx_resp_free(&r);
    /* Inputs that do not fit: the core's message names the input. */
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE,
           "{\"flow\":\"wait_invoice\",\"inputs\":{\"invoice\":7,"
           "\"amount\":{\"minor\":1,\"currency\":\"eur\"}}}",
           &r);
    fx_assert_error(&r, 422, "invalid_inputs");
    ck_assert_ptr_nonnull(strstr(r.body, "invoice"));
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE,
           "{\"flow\":\"wait_invoice\",\"inputs\":{\"invoice\":\"in_1\"}}", &r);
    fx_assert_error(&r, 422, "invalid_inputs");
    ck_assert_ptr_nonnull(strstr(r.body, "amount"));
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE, "{\"inputs\":{}}", &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE, "{\"flow\":\"wait_invoice\",\"input\":{}}",
           &r);
    fx_assert_error(&r, 422, "invalid_request");
    ck_assert_ptr_nonnull(strstr(r.body, "'input'"));
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE, "{\"flow\":", &r);
    fx_assert_error(&r, 400, "invalid_json");
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE, "[]", &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", FX_TOKEN_WRITE);
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", auth, NULL};
    fx_request(&f, "POST", "/v1/instances", form, "flow=x", 6, &r);
    fx_assert_error(&r, 415, "unsupported_media_type");
    fx_resp_free(&r);
    size_t n = FX_BODY_LIMIT + 1;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE, big, &r);
    fx_assert_error(&r, 413, "payload_too_large");
    fx_resp_free(&r);
    free(big);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 0);
    fx_close(&f);
}
END_TEST

START_TEST(list_filters_and_pages)
{
    fx_t f;
    open_deployed(&f);
    char ids[5][64];
    for (int i = 0; i < 5; i++) {
        char inv[16];
        snprintf(inv, sizeof inv, "in_%d", i);
        snprintf(ids[i], sizeof ids[i], "%s", start_one(&f, inv));
    }
    PQclear(st_test_exec(f.pg, "UPDATE instances SET status = 'waiting' WHERE vars->>'invoice' "
                               "IN ('in_1', 'in_3')"));
    /* Newest first, two per page, every instance exactly once. */
    char path[256] = "/v1/instances?limit=2&flow=wait_invoice";
    int seen = 0, pages = 0;
    char last[64] = "~";
    for (;;) {
        fx_resp_t r;
        fx_api(&f, "GET", path, FX_TOKEN_READ, NULL, &r);
        ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
        json_t *j = json_loads(r.body, 0, NULL);
        json_t *data = json_object_get(j, "data");
        for (size_t k = 0; k < json_array_size(data); k++) {
            const char *id = json_string_value(json_object_get(json_array_get(data, k), "id"));
            /* Descending ids (UUIDv7: newest first to the millisecond), each once. */
            ck_assert_msg(strcmp(id, last) < 0, "%s after %s", id, last);
            snprintf(last, sizeof last, "%s", id);
            int known = 0;
            for (int i = 0; i < 5; i++)
                known += strcmp(ids[i], id) == 0;
            ck_assert_int_eq(known, 1);
            seen++;
        }
        pages++;
        json_t *next = json_object_get(j, "next_cursor");
        if (json_is_null(next)) {
            json_decref(j);
            fx_resp_free(&r);
            break;
        }
        snprintf(path, sizeof path, "/v1/instances?limit=2&flow=wait_invoice&cursor=%s",
                 json_string_value(next));
        json_decref(j);
        fx_resp_free(&r);
    }
    ck_assert_int_eq(seen, 5);
    ck_assert_int_eq(pages, 3);
    fx_resp_t r;
    fx_api(&f, "GET", "/v1/instances?status=waiting", FX_TOKEN_READ, NULL, &r);
    json_t *j = json_loads(r.body, 0, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(j, "data")), 2);
    json_decref(j);
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances?flow=other", FX_TOKEN_READ, NULL, &r);
    ck_assert_str_eq(r.body, "{\"data\":[],\"next_cursor\":null}");
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances?status=sleeping", FX_TOKEN_READ, NULL, &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances?limit=0", FX_TOKEN_READ, NULL, &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances?limit=10abc", FX_TOKEN_READ, NULL, &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances?cursor=xyz", FX_TOKEN_READ, NULL, &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    /* 32 hex digits with a stray hyphen: PostgreSQL refuses it (fuzz_api_request). */
    fx_api(&f, "GET", "/v1/instances?cursor=0-190f0f000007000800000000000000000", FX_TOKEN_READ,
           NULL, &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    fx_close(&f);
}
END_TEST

START_TEST(signals_and_cancel)
{
    fx_t f;
    open_deployed(&f);
    char id[64], path[160];
    snprintf(id, sizeof id, "%s", start_one(&f, "in_s"));
    snprintf(path, sizeof path, "/v1/instances/%s/signals", id);
    fx_resp_t r;
    fx_api(&f, "POST", path, FX_TOKEN_WRITE,
           "{\"name\":\"invoice.paid\",\"payload\":{\"status\":\"paid\"}}", &r);
    ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
    fx_resp_free(&r);
    ck_assert_str_eq(fx_text(&f, "SELECT name || ' ' || source || ' ' || (payload->>'status') "
                                 "FROM signals"),
                     "invoice.paid api paid");
    fx_api(&f, "POST", path, FX_TOKEN_WRITE, "{\"name\":\"settle.cancel\"}", &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    fx_api(&f, "POST", path, FX_TOKEN_WRITE, "{\"name\":\"has space\"}", &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    fx_api(&f, "POST", path, FX_TOKEN_WRITE, "{\"name\":\"x\",\"payload\":[1]}", &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    fx_api(&f, "POST", path, FX_TOKEN_READ, "{\"name\":\"x\"}", &r);
    fx_assert_error(&r, 403, "forbidden");
    fx_resp_free(&r);
    /* Cancel, with and without a reason. */
    snprintf(path, sizeof path, "/v1/instances/%s/cancel", id);
    fx_api(&f, "POST", path, FX_TOKEN_WRITE, NULL, &r);
    ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
    fx_resp_free(&r);
    fx_api(&f, "POST", path, FX_TOKEN_WRITE, "{\"reason\":\"customer asked\"}", &r);
    ck_assert_int_eq(r.status, 202);
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM signals WHERE name = 'settle.cancel'"), 2);
    fx_api(&f, "POST", path, FX_TOKEN_WRITE, "{\"why\":1}", &r);
    fx_assert_error(&r, 422, "invalid_request");
    fx_resp_free(&r);
    /* Finished: 409; unknown: 404. */
    PQclear(st_test_exec(f.pg, "UPDATE instances SET status = 'completed'"));
    fx_api(&f, "POST", path, FX_TOKEN_WRITE, NULL, &r);
    fx_assert_error(&r, 409, "conflict");
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances/0190f0f0-0000-7000-8000-000000000000/cancel", FX_TOKEN_WRITE,
           NULL, &r);
    fx_assert_error(&r, 404, "not_found");
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances/0190f0f0-0000-7000-8000-000000000000", FX_TOKEN_READ, NULL,
           &r);
    fx_assert_error(&r, 404, "not_found");
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances/not-a-uuid", FX_TOKEN_READ, NULL, &r);
    fx_assert_error(&r, 404, "not_found");
    fx_resp_free(&r);
    /* UUID digits with hyphens where PostgreSQL refuses them: 404, not 503. */
    fx_api(&f, "GET", "/v1/instances/0-190f0f000007000800000000000000000", FX_TOKEN_READ, NULL, &r);
    fx_assert_error(&r, 404, "not_found");
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances/0190f0f0-0000-7000-8000-000000000000-/cancel", FX_TOKEN_WRITE,
           NULL, &r);
    fx_assert_error(&r, 404, "not_found");
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances/0190f0f0000070008000000000000000", FX_TOKEN_READ, NULL, &r);
    fx_assert_error(&r, 404, "not_found"); /* not the canonical 8-4-4-4-12 form */
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM signals"), 3);
    fx_close(&f);
}
END_TEST

/* The open task (the newest pending or running one) in GET and in the list,
 * exactly as the API has always written it; archived instances are still
 * found by id, listed no more, and take no signals. */
START_TEST(open_task_and_archived_instances)
{
    fx_t f;
    open_deployed(&f);
    char id[64], sql[1024], path[128];
    snprintf(id, sizeof id, "%s", start_one(&f, "in_9"));
    snprintf(sql, sizeof sql,
             "INSERT INTO tasks (instance_id, seq, state_name, activity, args, idempotency_key,"
             " status, attempt, max_attempts, timeout_ms, not_before, last_error, created_at,"
             " updated_at) VALUES"
             " ('%s', 0, 'wait', 'old.act', '{}', 'k0', 'done', 1, 3, 1000, now(), NULL, now(),"
             " now()),"
             " ('%s', 1, 'wait', 'stripe.charge', '{}', 'k1', 'running', 2, 5, 1000,"
             " '2026-01-02 03:04:05.678901+00', 'card \"declined\"', now(), now())",
             id, id);
    PQclear(st_test_exec(f.pg, sql));
    static const char task[] =
        "\"pending_task\":{\"activity\":\"stripe.charge\",\"status\":\"running\","
        "\"attempt\":2,\"max_attempts\":5,\"not_before\":\"2026-01-02T03:04:05.678901Z\","
        "\"last_error\":\"card \\\"declined\\\"\"}";
    fx_resp_t r;
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    fx_api(&f, "GET", path, FX_TOKEN_READ, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, task) != NULL, "%s", r.body);
    ck_assert_ptr_nonnull(strstr(r.body, "\"seq\":0,\"vars\":{"));
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances?flow=wait_invoice", FX_TOKEN_READ, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, task) != NULL, "%s", r.body);
    ck_assert_ptr_nonnull(strstr(r.body, "\"next_cursor\":null"));
    fx_resp_free(&r);
    /* Finished and archived: GET still finds it, the list does not. */
    PQclear(st_test_exec(f.pg, "UPDATE instances SET status = 'completed',"
                               " updated_at = now() - interval '1 day'"));
    ck_assert_int_eq(fx_scalar(&f, "SELECT settle_archive_instances(now(), 10)"), 1);
    fx_api(&f, "GET", path, FX_TOKEN_READ, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(fx_json_str(&r, "status"), "completed");
    ck_assert_ptr_nonnull(strstr(r.body, "\"pending_task\":null"));
    fx_resp_free(&r);
    fx_api(&f, "GET", "/v1/instances", FX_TOKEN_READ, NULL, &r);
    ck_assert_str_eq(r.body, "{\"data\":[],\"next_cursor\":null}");
    fx_resp_free(&r);
    snprintf(path, sizeof path, "/v1/instances/%s/signals", id);
    fx_api(&f, "POST", path, FX_TOKEN_WRITE, "{\"name\":\"invoice.paid\"}", &r);
    fx_assert_error(&r, 409, "conflict");
    ck_assert_ptr_nonnull(strstr(r.body, "already completed"));
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM signals"), 0);
    fx_close(&f);
}
END_TEST

START_TEST(routes_methods_and_ops)
{
    fx_t f;
    open_deployed(&f);
    fx_resp_t r;
    fx_request(&f, "GET", "/nowhere", NULL, NULL, 0, &r);
    fx_assert_error(&r, 404, "not_found");
    fx_resp_free(&r);
    fx_request(&f, "DELETE", "/v1/instances", NULL, NULL, 0, &r);
    fx_assert_error(&r, 405, "method_not_allowed");
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Allow: "));
    fx_resp_free(&r);
    fx_request(&f, "GET", "/webhooks/stripe", NULL, NULL, 0, &r);
    fx_assert_error(&r, 405, "method_not_allowed");
    fx_resp_free(&r);
    fx_request(&f, "GET", "/healthz", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    fx_resp_free(&r);
    fx_request(&f, "GET", "/readyz", NULL, NULL, 0, &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    fx_resp_free(&r);
    start_one(&f, "in_m");
    start_one(&f, "in_n");
    /* Counts come from flow_counts, as the engine keeps them. */
    PQclear(st_test_exec(f.pg,
                         "UPDATE flow_counts SET n = n - 1 WHERE status = 'running' AND shard ="
                         " (SELECT min(shard) FROM flow_counts WHERE status = 'running');"
                         "INSERT INTO flow_counts VALUES ('wait_invoice', 'completed', 1)"));
    fx_request(&f, "GET", "/metrics", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Content-Type: text/plain; version=0.0.4"));
    static const char *const want[] = {
        "# TYPE settle_flows_started_total counter\n",
        "settle_flows_started_total{flow=\"wait_invoice\"} 2\n",
        "settle_flows_completed_total{flow=\"wait_invoice\"} 1\n",
        "# TYPE settle_flows_completed_total counter\n",
        "# TYPE settle_flows_failed_total counter\n",
        "# TYPE settle_transitions_total counter\n",
        "# TYPE settle_checkpoint_batch_size histogram\n",
        "# TYPE settle_checkpoint_commit_seconds histogram\n",
        "# TYPE settle_activity_calls_total counter\n",
        "# TYPE settle_activity_seconds histogram\n",
        "# TYPE settle_timers_pending gauge\n",
        "# TYPE settle_webhook_events_total counter\n",
        "settle_http_requests_total{route=\"instances.start\",code=\"201\"} 2\n",
        "settle_http_request_seconds_count{route=\"healthz\"} 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(r.body, want[i]) != NULL, "missing %s", want[i]);
    fx_resp_free(&r);
    fx_close(&f);
}
END_TEST

START_TEST(readyz_refuses_an_unmigrated_database)
{
    fx_t f;
    fx_open(&f, 0);
    fx_resp_t r;
    fx_request(&f, "GET", "/readyz", NULL, NULL, 0, &r);
    fx_assert_error(&r, 503, "not_ready");
    ck_assert_ptr_nonnull(strstr(r.body, "migrate"));
    fx_resp_free(&r);
    fx_request(&f, "GET", "/healthz", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    fx_resp_free(&r);
    fx_close(&f);
}
END_TEST

START_TEST(no_tokens_configured_refuses_the_api)
{
    fx_t f;
    static const st_http_token_t none[] = {{"unused", ST_HTTP_ROLE_READ}};
    st_http_cfg_t cfg = {.tokens = none, .n_tokens = 0};
    fx_open_cfg(&f, 1, &cfg);
    fx_resp_t r;
    fx_api(&f, "GET", "/v1/instances", FX_TOKEN_WRITE, NULL, &r);
    fx_assert_error(&r, 401, "unauthorized");
    ck_assert_ptr_nonnull(strstr(r.body, "SETTLE_API_TOKENS"));
    fx_resp_free(&r);
    fx_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tokens_and_roles);
    tcase_add_test(tc, start_get_and_idempotency_key);
    tcase_add_test(tc, start_errors);
    tcase_add_test(tc, list_filters_and_pages);
    tcase_add_test(tc, signals_and_cancel);
    tcase_add_test(tc, open_task_and_archived_instances);
    tcase_add_test(tc, routes_methods_and_ops);
    tcase_add_test(tc, readyz_refuses_an_unmigrated_database);
    tcase_add_test(tc, no_tokens_configured_refuses_the_api);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
