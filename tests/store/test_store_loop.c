/*
 * test_store_loop.c — the store calls the engine's loop relies on: LISTEN
 * through the connection's reconnect rule, the virtual clock, refused
 * signals, the asynchronous control reads, and the connection's rules for
 * an operation that fails while queuing and for a database without the
 * schema.
 */
#include <stdlib.h>
#include <string.h>

#include "store/st_store_int.h"
#include "store_fixture.h"

static fx_t f;

static void setup(void)
{
    fx_open(&f);
}

static void teardown(void)
{
    fx_close(&f);
}

/* Run the loop until *flag is set or timeout_s passes. */
static int run_until(int *flag, double timeout_s)
{
    ev_tstamp end = ev_time() + timeout_s;
    while (!*flag && ev_time() < end)
        ev_run(f.loop, EVRUN_ONCE);
    return *flag;
}

/* ---- a failed send rolls back what the op queued ------------------------------ */

static int half_send(st_store_op_t *op, PGconn *pg, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_text(&p, "half-sent-node");
    st_store_p_i64(&p, 60000);
    int rc = st_store_send(pg, ST_STORE_Q_NODE_REGISTER, &p, err);
    (void)op;
    if (rc < 0)
        return rc;
    /* e.g. building the next statement's parameters ran out of memory */
    return st_err_set(err, ST_NOMEM, "out of memory building the second statement");
}

START_TEST(an_op_whose_send_fails_commits_nothing)
{
    st_err_t err;
    st_store_op_t op = {.send = half_send};
    int rc = st_store_conn_run(f.c, &op, &err);
    ck_assert_int_eq(rc, ST_NOMEM);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM nodes WHERE name = 'half-sent-node'"), 0);
    /* The connection is fine afterwards. */
    int64_t id = 0;
    ck_assert_int_eq(st_store_node_register(f.c, "whole-node", 60000, &id, &err), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM nodes WHERE name = 'whole-node'"), 1);
}
END_TEST

/* ---- the schema hint names the command that applies migrations ------------------ */

START_TEST(a_database_without_the_schema_names_settled_migrate)
{
    char dsn[512], db[128];
    st_test_create_db(dsn, sizeof dsn, db, sizeof db); /* empty: not migrated */
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cc = {.dsn = dsn};
    st_err_t err;
    st_store_conn_t *c = st_store_conn_new(loop, &cc, &err);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err.hint, "settled migrate") != NULL, "hint: %s", err.hint);
    ck_assert_msg(strstr(err.hint, "settlectl") == NULL, "hint: %s", err.hint);
    ck_assert_int_eq(st_store_schema_check_dsn(dsn, &err), ST_SCHEMA);
    ck_assert_msg(strstr(err.hint, "settled migrate") != NULL, "hint: %s", err.hint);
    ck_assert_int_eq(st_store_schema_check_dsn(f.dsn, &err), 0);
    ev_loop_destroy(loop);
}
END_TEST

/* ---- LISTEN follows the reconnect rule ------------------------------------------ */

typedef struct heard {
    int n, rescans;
    char payload[64];
} heard_t;

static void on_heard(const char *channel, const char *payload, void *ud)
{
    heard_t *h = ud;
    if (channel == NULL) {
        h->rescans++;
        return;
    }
    ck_assert_str_eq(channel, "settle_test");
    snprintf(h->payload, sizeof h->payload, "%s", payload);
    h->n++;
}

START_TEST(listen_resubscribes_after_a_reconnect_and_says_so)
{
    st_err_t err;
    heard_t h = {0};
    const char *ch[] = {"settle_test"};
    ck_assert_int_eq(st_store_conn_listen(f.c, ch, 1, on_heard, &h, &err), 0);
    const char *bad[] = {"x; DROP TABLE nodes"};
    ck_assert_int_eq(st_store_conn_listen(f.c, bad, 1, on_heard, &h, &err), ST_STATE);
    /* The subscription is pipelined: the flow_count read below runs after it. */
    int64_t n = 0;
    ck_assert_int_eq(st_store_flow_count(f.c, "demo", ST_STORE_RUNNING, &n, &err), 0);
    PQclear(st_test_exec(f.pg, "NOTIFY settle_test, 'one'"));
    ck_assert(run_until(&h.n, 5));
    ck_assert_str_eq(h.payload, "one");
    ck_assert_int_eq(h.rescans, 0);

    st_store_conn_break(f.c);
    int want = 1;
    while (h.rescans < want && run_until(&h.rescans, 10) == 0)
        ;
    ck_assert_int_eq(h.rescans, 1);
    ck_assert_uint_ge(st_store_conn_reconnects(f.c), 1);
    h.n = 0;
    PQclear(st_test_exec(f.pg, "NOTIFY settle_test, 'two'"));
    ck_assert(run_until(&h.n, 5));
    ck_assert_str_eq(h.payload, "two");
}
END_TEST

START_TEST(listen_refuses_a_channel_that_is_not_a_name)
{
    st_err_t err;
    heard_t h = {0};
    const char *bad[] = {"x\"; DROP TABLE nodes; --"};
    ck_assert_int_eq(st_store_conn_listen(f.c, bad, 1, on_heard, &h, &err), ST_INVAL);
}
END_TEST

/* ---- the virtual clock ----------------------------------------------------------- */

static void on_clock(int rc, const st_err_t *err, const st_store_clock_t *clk, void *ud)
{
    st_store_clock_t *out = ud;
    ck_assert_msg(rc == 0, "clock: %s", err ? err->msg : "");
    *out = *clk;
}

static void on_done(int rc, const st_err_t *err, void *ud)
{
    ck_assert_msg(rc == 0, "done: %s", err ? err->msg : "");
    *(int *)ud = 1;
}

START_TEST(the_virtual_clock_opens_advances_and_is_reached)
{
    st_err_t err;
    st_store_clock_t k;
    ck_assert_int_eq(st_store_clock_read(f.c, &k, &err), ST_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "no virtual clock") != NULL, "%s", err.msg);
    ck_assert_int_eq(st_store_clock_advance(f.c, 1000, &k, &err), ST_NOTFOUND);
    ck_assert_int_eq(st_store_clock_open(f.c, 5000000, &k, &err), 0);
    ck_assert_int_eq(k.now_us, 5000000);
    ck_assert_int_eq(st_store_clock_open(f.c, 1000000, &k, &err), 0); /* durable: kept */
    ck_assert_int_eq(k.now_us, 5000000);
    ck_assert_int_eq(st_store_clock_advance(f.c, 0, &k, &err), ST_INVAL);
    ck_assert_int_eq(st_store_clock_advance(f.c, 2000000, &k, &err), 0);
    ck_assert_int_eq(k.target_us, 7000000);
    ck_assert_int_eq(st_store_clock_advance(f.c, 1000000, &k, &err), 0); /* adds up */
    ck_assert_int_eq(k.target_us, 8000000);
    st_store_clock_t got = {0, 0};
    ck_assert_int_eq(st_store_clock_read_async(f.c, on_clock, &got, &err), 0);
    int done = 0;
    ck_assert_int_eq(st_store_clock_reached_async(f.c, 8000000, on_done, &done, &err), 0);
    ck_assert(run_until(&done, 5));
    ck_assert_int_eq(got.target_us, 8000000);
    ck_assert_int_eq(got.now_us, 5000000); /* read before the reached write */
    done = 0;
    ck_assert_int_eq(st_store_clock_reached_async(f.c, 6000000, on_done, &done, &err), 0);
    ck_assert(run_until(&done, 5));
    ck_assert_int_eq(st_store_clock_read(f.c, &k, &err), 0);
    ck_assert_int_eq(k.now_us, 8000000); /* never moves back */
}
END_TEST

/* ---- refused signals and the asynchronous control reads -------------------------- */

START_TEST(a_refused_signal_is_set_aside_with_a_history_note)
{
    st_err_t err;
    int64_t epoch = 0, s1 = 0, s2 = 0;
    st_store_uuid_t id = fx_start(&f, NULL, &epoch);
    ck_assert_int_eq(st_store_signal_send(f.c, &id, "paid", "[1]", "test", &s1, &err), 0);
    ck_assert_int_eq(st_store_signal_send(f.c, &id, "paid", "{}", "test", &s2, &err), 0);
    int done = 0;
    ck_assert_int_eq(st_store_signal_refuse_async(f.c, s1, &id, 0, fx_now_us(),
                                                  "signal payload must be a JSON object", on_done,
                                                  &done, &err),
                     0);
    ck_assert(run_until(&done, 5));
    st_store_signals_t list = {0};
    ck_assert_int_eq(st_store_signals_pending(f.c, &id, &list, &err), 0);
    ck_assert_uint_eq(list.n, 1);
    ck_assert_int_eq(list.v[0].id, s2);
    st_store_signals_free(&list);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history WHERE kind = 'signal_refused'"
                                " AND detail->>'reason' = 'signal payload must be a JSON object'"
                                " AND detail->>'signal' = 'paid'"),
                     1);
    /* Twice changes nothing. */
    done = 0;
    ck_assert_int_eq(
        st_store_signal_refuse_async(f.c, s1, &id, 0, fx_now_us(), "again", on_done, &done, &err),
        0);
    ck_assert(run_until(&done, 5));
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history WHERE kind = 'signal_refused'"), 1);
}
END_TEST

typedef struct got_rows {
    int done;
    int rc;
    size_t n;
    int64_t owner;
    st_store_program_rec_t prog;
} got_rows_t;

static void on_instance(int rc, const st_err_t *err, st_store_instances_t *rows, void *ud)
{
    got_rows_t *g = ud;
    (void)err;
    g->rc = rc;
    g->n = rows->n;
    g->owner = rows->n ? rows->v[0].owner_node : 0;
    g->done = 1;
}

static void on_program(int rc, const st_err_t *err, st_store_program_rec_t *rec, void *ud)
{
    got_rows_t *g = ud;
    (void)err;
    g->rc = rc;
    g->prog = *rec; /* taken */
    memset(rec, 0, sizeof *rec);
    g->done = 1;
}

START_TEST(instances_and_programs_load_asynchronously)
{
    st_err_t err;
    int64_t epoch = 0;
    st_store_uuid_t id = fx_start(&f, NULL, &epoch);
    got_rows_t g = {0};
    ck_assert_int_eq(st_store_instance_load_async(f.c, &id, on_instance, &g, &err), 0);
    ck_assert(run_until(&g.done, 5));
    ck_assert_int_eq(g.rc, 0);
    ck_assert_uint_eq(g.n, 1);
    ck_assert_int_eq(g.owner, f.node);
    st_store_uuid_t none = id;
    none.b[15] ^= 0xff;
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(st_store_instance_load_async(f.c, &none, on_instance, &g, &err), 0);
    ck_assert(run_until(&g.done, 5));
    ck_assert_int_eq(g.rc, 0);
    ck_assert_uint_eq(g.n, 0);

    memset(&g, 0, sizeof g);
    ck_assert_int_eq(st_store_program_load_async(f.c, f.hash, on_program, &g, &err), 0);
    ck_assert(run_until(&g.done, 5));
    ck_assert_int_eq(g.rc, 0);
    ck_assert_str_eq(g.prog.hash, f.hash);
    ck_assert_uint_gt(g.prog.len, 0);
    st_store_program_rec_release(&g.prog);
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(st_store_program_load_async(f.c, "00", on_program, &g, &err), 0);
    ck_assert(run_until(&g.done, 5));
    ck_assert_int_eq(g.rc, ST_NOTFOUND);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_loop");
    TCase *tc = tcase_create("store_loop");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, an_op_whose_send_fails_commits_nothing);
    tcase_add_test(tc, a_database_without_the_schema_names_settled_migrate);
    tcase_add_test(tc, listen_resubscribes_after_a_reconnect_and_says_so);
    tcase_add_test(tc, listen_refuses_a_channel_that_is_not_a_name);
    tcase_add_test(tc, the_virtual_clock_opens_advances_and_is_reached);
    tcase_add_test(tc, a_refused_signal_is_set_aside_with_a_history_note);
    tcase_add_test(tc, instances_and_programs_load_asynchronously);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
