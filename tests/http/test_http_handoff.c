/*
 * test_http_handoff.c — a start made through a node's own API is owned by
 * that node at once (lease epoch 1) and handed to its executor in-process:
 * the flow runs to completion without the node claiming anything. A start
 * made elsewhere (st_start with no owner, as `settled start` does) still
 * reaches the node by the claim path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <jansson.h>

#include "exec/st_exec.h"
#include "http_fixture.h"
#include "start/st_start.h"

static const char FLOW_QUICK[] = "flow quick\n"
                                 "input n: int\n"
                                 "var i: int = 0\n"
                                 "state count {\n"
                                 "  set i = i + n\n"
                                 "  if i >= 2 -> done\n"
                                 "  else -> small\n"
                                 "}\n"
                                 "final done\n"
                                 "final small\n";

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Turn the executor's loop until sql returns want (up to 30 s). */
static int until(fx_t *f, struct ev_loop *loop, const char *sql, long long want)
{
    for (int i = 0; i < 3000; i++) {
        if (fx_scalar(f, sql) == want)
            return 1;
        ev_run(loop, EVRUN_ONCE);
    }
    return 0;
}

static int64_t owner(void *x)
{
    return st_exec_owner(x);
}

static void adopt(void *x, const char (*ids)[37], size_t n)
{
    st_exec_adopt(x, ids, n);
}

START_TEST(api_starts_run_without_a_claim)
{
    fx_t f;
    fx_open(&f, 1);
    fx_deploy(&f, "quick.flow", FLOW_QUICK);
    struct ev_loop *loop = ev_loop_new(0);
    ev_timer t;
    ev_timer_init(&t, tick, 0.01, 0.01);
    ev_timer_start(loop, &t);
    static st_act_config_t act;
    st_act_config_defaults(&act);
    /* Claims only when told (NOTIFY) or once a minute. */
    st_exec_cfg_t cfg = {
        .dsn = f.dsn, .node_name = "handoff", .claim_interval_ms = 60000, .act = &act};
    st_exec_t *x = NULL;
    st_err_t err;
    ck_assert_msg(st_exec_new(loop, &cfg, &x, &err) == 0, "exec: %s", err.msg);
    ck_assert_msg(st_exec_start(x, &err) == 0, "exec start: %s", err.msg);
    ck_assert_int_ne(st_exec_owner(x), 0);
    st_http_handoff_t h = {.owner = owner, .adopt = adopt, .ctx = x};
    ck_assert_int_eq(st_http_server_set_handoff(f.srv, &h, &err), 0);
    ck_assert_int_eq(st_http_server_set_handoff(f.srv, &h, &err), ST_STATE);

    fx_resp_t r;
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE, "{\"flow\":\"quick\",\"inputs\":{\"n\":3}}",
           &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances/batch", FX_TOKEN_WRITE,
           "{\"items\":[{\"flow\":\"quick\",\"inputs\":{\"n\":2}},"
           "{\"flow\":\"quick\",\"inputs\":{\"n\":1}}]}",
           &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    fx_resp_free(&r);
    /* Owned by this node from the start, never claimed (epoch still 1). */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE owner_node = %lld AND lease_epoch = 1",
             (long long)st_exec_owner(x));
    ck_assert_int_eq(fx_scalar(&f, sql), 3);
    ck_assert_msg(until(&f, loop, "SELECT count(*) FROM instances WHERE status = 'completed'", 3),
                  "API starts did not complete");
    st_exec_stats_t st;
    st_exec_get_stats(x, &st);
    ck_assert_int_eq(st.claimed, 0);
    ck_assert_int_eq(st.adopted, 3);
    ck_assert_int_eq(fx_scalar(&f, sql), 3);

    /* A start made elsewhere (no owner: `settled start`) still runs here,
     * through the claim. */
    st_store_conn_cfg_t cc = {.dsn = f.dsn};
    struct ev_loop *own = ev_loop_new(0);
    st_store_conn_t *c = st_store_conn_new(own, &cc, &err);
    ck_assert_ptr_nonnull(c);
    json_t *in = json_pack("{s:i}", "n", 2);
    st_start_req_t req = {.flow = "quick", .inputs = in};
    st_start_out_t out;
    ck_assert_int_eq(st_start(c, NULL, &req, &out, &err), 0);
    ck_assert_int_eq(out.owned, 0);
    json_decref(in);
    st_store_conn_free(c);
    ev_loop_destroy(own);
    ck_assert_msg(until(&f, loop, "SELECT count(*) FROM instances WHERE status = 'completed'", 4),
                  "the unowned start did not complete");
    st_exec_get_stats(x, &st);
    ck_assert_int_eq(st.claimed, 1);
    ck_assert_int_eq(st.adopted, 3);

    st_exec_shutdown(x);
    ck_assert_int_eq(st_exec_owner(x), 0); /* starts from now on stay unowned */
    for (int i = 0; i < 2000 && !st_exec_stopped(x); i++)
        ev_run(loop, EVRUN_ONCE);
    fx_close(&f); /* the server (and its hand-off) before the executor */
    st_exec_free(x);
    ev_timer_stop(loop, &t);
    ev_loop_destroy(loop);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_handoff");
    TCase *tc = tcase_create("handoff");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, api_starts_run_without_a_claim);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
