/*
 * test_http_parse.c — the HTTP side's pure request parsing, as the
 * handlers run it: webhook events and their correlation pairs, the batch
 * statement's array literals, list arguments, instance ids and the
 * bearer check. No server and no database: these are the functions the
 * fuzz targets (tests/fuzz) drive, with exact expected values here.
 */
#include <stdlib.h>
#include <string.h>

#include "http/st_http_int.h"
#include "st_test.h"

/* The error type of resp's JSON body ("" when there is none). */
static const char *error_type(const st_http_resp_t *resp, char *buf, size_t cap)
{
    json_t *j = resp->body ? json_loads(resp->body, 0, NULL) : NULL;
    const char *t = json_string_value(json_object_get(json_object_get(j, "error"), "type"));
    snprintf(buf, cap, "%s", t ? t : "");
    json_decref(j);
    return buf;
}

static int parse(const char *body, json_t **ev, st_http_wh_job_t *job, st_http_resp_t *resp)
{
    memset(job, 0, sizeof *job);
    memset(resp, 0, sizeof *resp);
    *ev = NULL;
    return st_http_wh_event_parse(body, strlen(body), ev, job, resp);
}

START_TEST(event_ids_and_correlation_pairs)
{
    static const char body[] =
        "{\"id\":\"evt_1\",\"type\":\"invoice.payment_failed\",\"data\":{\"object\":"
        "{\"id\":\"in_1\",\"object\":\"invoice\",\"customer\":{\"id\":\"cus_9\"},"
        "\"payment_intent\":\"pi_3\",\"charge\":null,\"invoice\":\"in_1\"}}}";
    json_t *ev;
    st_http_wh_job_t job;
    st_http_resp_t resp;
    ck_assert_int_eq(parse(body, &ev, &job, &resp), 0);
    ck_assert_str_eq(job.event_id, "evt_1");
    ck_assert_str_eq(job.type, "invoice.payment_failed");
    ck_assert_ptr_eq(job.payload, body);
    /* (invoice, in_1) once, though the object names itself twice. */
    ck_assert_uint_eq(job.ncorr, 3);
    const char *want[][2] = {
        {"invoice", "in_1"}, {"payment_intent", "pi_3"}, {"customer", "cus_9"}};
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_str_eq(job.keys[i], want[i][0]);
        ck_assert_str_eq(job.values[i], want[i][1]);
    }
    ck_assert_uint_eq(resp.status, 0);
    json_decref(ev);
}
END_TEST

START_TEST(bad_events_are_400_with_a_json_error)
{
    /* The last one: jansson's message quotes half a UTF-8 character; the
     * error body must still be JSON (found by fuzz_webhook; was a 500). */
    const char *bodies[] = {"", "[1]", "{\"id\":\"evt_1\",\"type\":\"x\"}",
                            "{\"id\":\"\",\"type\":\"x\",\"data\":{\"object\":{}}}",
                            "{\"id\":\"e\",\"type\":\"x\",\"data\":{\"object\":{\"id\":\"cus_\\u15e"
                            "\xc7\xa3\xdd\x8f\x96\"}}}"};
    const char *types[] = {"invalid_json", "invalid_event", "invalid_event", "invalid_event",
                           "invalid_json"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *ev;
        st_http_wh_job_t job;
        st_http_resp_t resp;
        char t[64];
        ck_assert_int_eq(parse(bodies[i], &ev, &job, &resp), ST_PARSE);
        ck_assert_uint_eq(resp.status, 400);
        ck_assert_str_eq(error_type(&resp, t, sizeof t), types[i]);
        free(resp.body);
        json_decref(ev);
    }
}
END_TEST

/* The jobs as the store's events, and the store's array literals of them
 * (st_store_webhooks_params moved from here to engine/store). */
START_TEST(batch_params_quote_and_escape)
{
    st_http_wh_job_t a = {0}, b = {0};
    a.event_id = "evt_\"1";
    a.type = "t\\x";
    a.payload = "{\"k\":\"v\"}";
    a.keys[0] = "customer";
    a.values[0] = "cus_1";
    a.ncorr = 1;
    a.next = &b;
    b.event_id = "evt_2";
    b.type = "y";
    b.payload = "{}";
    st_store_wh_event_t ev[2];
    st_http_wh_batch_events(&a, 2, ev);
    ck_assert_ptr_eq(ev[0].event_id, a.event_id);
    ck_assert_ptr_eq(ev[1].payload_json, b.payload);
    ck_assert_uint_eq(ev[0].npairs, 1);
    ck_assert_uint_eq(ev[1].npairs, 0);
    char *p[6];
    st_err_t err;
    ck_assert_int_eq(st_store_webhooks_params(ev, 2, p, &err), 0);
    ck_assert_str_eq(p[0], "{\"evt_\\\"1\",\"evt_2\"}");
    ck_assert_str_eq(p[1], "{\"t\\\\x\",\"y\"}");
    ck_assert_str_eq(p[2], "{\"{\\\"k\\\":\\\"v\\\"}\",\"{}\"}");
    ck_assert_str_eq(p[3], "{1}");
    ck_assert_str_eq(p[4], "{\"customer\"}");
    ck_assert_str_eq(p[5], "{\"cus_1\"}");
    for (int k = 0; k < 6; k++)
        free(p[k]);
    /* Only the first n events. */
    ck_assert_int_eq(st_store_webhooks_params(ev, 1, p, &err), 0);
    ck_assert_str_eq(p[0], "{\"evt_\\\"1\"}");
    for (int k = 0; k < 6; k++)
        free(p[k]);
}
END_TEST

START_TEST(list_arguments_and_ids)
{
    const char *q[ST_HTTP_LIST_NQ] = {
        "dunning", "waiting", NULL, NULL, "0190F0F0-0000-7000-8000-000000000000", "25"};
    const char *params[6];
    char limit[16], t[64];
    st_http_resp_t resp = {0};
    ck_assert_int_eq(st_http_list_args(q, params, limit, &resp), 0);
    ck_assert_str_eq(params[0], "dunning");
    ck_assert_ptr_null(params[2]);
    ck_assert_str_eq(params[5], "26"); /* one more row tells whether a next page exists */
    const char *bad_limits[] = {"0", "501", "", "10abc", "-1"};
    for (size_t i = 0; i < 5; i++) {
        q[5] = bad_limits[i];
        ck_assert_int_eq(st_http_list_args(q, params, limit, &resp), ST_INVAL);
        ck_assert_str_eq(error_type(&resp, t, sizeof t), "invalid_request");
    }
    q[5] = NULL;
    q[4] = "0-190f0f000007000800000000000000000"; /* PostgreSQL refuses it */
    ck_assert_int_eq(st_http_list_args(q, params, limit, &resp), ST_INVAL);
    ck_assert_uint_eq(resp.status, 422);
    free(resp.body);
    resp.body = NULL;
    ck_assert_int_eq(st_http_check_id("0190f0f0-0000-7000-8000-000000000000", &resp), 0);
    ck_assert_int_eq(st_http_check_id("0190F0F0-0000-7000-8000-00000000000A", &resp), 0);
    /* Only the canonical 8-4-4-4-12 spelling is an id (common/st_uuid.h). */
    ck_assert_int_eq(st_http_check_id("0190f0f0000070008000000000000000", &resp), ST_NOTFOUND);
    ck_assert_uint_eq(resp.status, 404);
    free(resp.body);
    resp.body = NULL;
    ck_assert_int_eq(st_http_check_id("0190f0f0-0000-7000-8000-00000000000-", &resp), ST_NOTFOUND);
    ck_assert_uint_eq(resp.status, 404);
    free(resp.body);
}
END_TEST

START_TEST(bearer_tokens_and_roles)
{
    st_http_server_t srv;
    memset(&srv, 0, sizeof srv);
    st_http_token_t tokens[] = {{"reader-secret-1", ST_HTTP_ROLE_READ},
                                {"writer-secret-2", ST_HTTP_ROLE_WRITE}};
    ck_assert_int_eq(st_http_auth_init(&srv, tokens, 2, NULL), 0);
    struct {
        const char *h;
        int need;
        unsigned status; /* 0: allowed */
    } cases[] = {
        {"Bearer writer-secret-2", ST_HTTP_ROLE_WRITE, 0},
        {"bearer   reader-secret-1", ST_HTTP_ROLE_READ, 0},
        {"Bearer reader-secret-1", ST_HTTP_ROLE_WRITE, 403},
        {"Bearer reader-secret-1x", ST_HTTP_ROLE_READ, 401},
        {"Bearer ", ST_HTTP_ROLE_READ, 401},
        {"Basic reader-secret-1", ST_HTTP_ROLE_READ, 401},
        {NULL, ST_HTTP_ROLE_READ, 401},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_http_resp_t resp = {0};
        int rc =
            st_http_auth_header(&srv, cases[i].h, cases[i].need, "POST", "/v1/instances", &resp);
        ck_assert_int_eq(rc, cases[i].status ? ST_AUTH : 0);
        ck_assert_uint_eq(resp.status, cases[i].status);
        ck_assert(resp.body == NULL || strstr(resp.body, "secret") == NULL);
        free(resp.body);
    }
    free(srv.token_hash);
    free(srv.token_role);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_parse");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, event_ids_and_correlation_pairs);
    tcase_add_test(tc, bad_events_are_400_with_a_json_error);
    tcase_add_test(tc, batch_params_quote_and_escape);
    tcase_add_test(tc, list_arguments_and_ids);
    tcase_add_test(tc, bearer_tokens_and_roles);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
