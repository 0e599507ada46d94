/*
 * test_store_start.c — connection, program registry and idempotent start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_fixture.h"

START_TEST(connect_failure_is_an_error)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cfg = {.dsn = "host=/nonexistent port=1 dbname=x connect_timeout=1"};
    st_err_t err;
    st_err_clear(&err);
    ck_assert_ptr_null(st_store_conn_new(loop, &cfg, &err));
    ck_assert_int_eq(err.code, ST_IO);
    ck_assert(err.detail[0] != '\0');
    ev_loop_destroy(loop);
}
END_TEST

START_TEST(unmigrated_database_is_refused)
{
    char dsn[512], db[128];
    st_test_create_db(dsn, sizeof dsn, db, sizeof db);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cfg = {.dsn = dsn};
    st_err_t err;
    ck_assert_ptr_null(st_store_conn_new(loop, &cfg, &err));
    ck_assert(strstr(err.detail, "does not exist") != NULL);
    ev_loop_destroy(loop);
    st_test_drop_db(db);
}
END_TEST

START_TEST(reconnects_after_a_network_fault)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    /* a checkpoint in flight when the socket dies fails with ST_IO once */
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, ep, 0, ST_STORE_RUNNING);
    st_store_conn_break(f.c);
    int rc = fx_ckpt_run(&f, b, &k);
    ck_assert_int_eq(rc, ST_IO);
    /* the loop brings the connection back; work continues */
    for (int i = 0; i < 500 && !st_store_conn_is_up(f.c); i++)
        ev_run(f.loop, EVRUN_ONCE);
    ck_assert(st_store_conn_is_up(f.c));
    ck_assert_uint_eq(st_store_conn_reconnects(f.c), 1);
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    st_store_instance_t in;
    ck_assert_int_eq(st_store_instance_load(f.c, &id, &in, &err), 0);
    ck_assert_int_eq(in.seq, 1);
    st_store_instance_release(&in);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

START_TEST(program_registry)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    st_store_program_rec_t p;
    ck_assert_int_eq(st_store_program_load(f.c, f.hash, &p, &err), 0);
    ck_assert_str_eq(p.name, "demo");
    ck_assert_str_eq(p.source_name, "workflows/demo.flow");
    ck_assert_uint_eq(p.len, 8);
    ck_assert_int_eq(p.bytes[6], 0x00);
    ck_assert_int_eq(p.bytes[7], 0xff);
    /* registering the same program again is a no-op */
    st_store_program_t again = {p.hash, p.name, 1, p.source_name, p.source, p.bytes, p.len};
    int created = -1;
    ck_assert_int_eq(st_store_program_register(f.c, &again, &created, &err), 0);
    ck_assert_int_eq(created, 0);
    st_store_program_rec_release(&p);
    char cur[65];
    ck_assert_int_eq(st_store_flow_current(f.c, "demo", cur, &err), 0);
    ck_assert_str_eq(cur, f.hash);
    ck_assert_int_eq(st_store_flow_current(f.c, "nope", cur, &err), ST_NOTFOUND);
    ck_assert_int_eq(st_store_flow_set_current(f.c, "other", f.hash, &err), ST_NOTFOUND);
    ck_assert_int_eq(st_store_program_load(f.c, "00", &p, &err), ST_NOTFOUND);
    st_store_program_t bad = {"xyz", "demo", 1, "a", "b", (const unsigned char *)"", 0};
    ck_assert_int_eq(st_store_program_register(f.c, &bad, NULL, &err), ST_INVAL);
    fx_close(&f);
}
END_TEST

START_TEST(start_is_idempotent_by_business_key)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    st_store_start_t s = fx_start_spec(&f, "in_123");
    st_store_kv_t corr[] = {{"invoice", "in_123"}};
    s.correlations = corr;
    s.ncorrelations = 1;
    st_store_started_t a, b;
    ck_assert_int_eq(st_store_start(f.c, &s, &a, &err), 0);
    ck_assert_int_eq(a.existing, 0);
    ck_assert_int_eq(a.lease_epoch, 1);
    s.now_us += 1000;
    ck_assert_int_eq(st_store_start(f.c, &s, &b, &err), 0);
    ck_assert_int_eq(b.existing, 1);
    ck_assert(st_store_uuid_equal(&a.id, &b.id));
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances"), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts WHERE status = 'running'"), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history WHERE kind = 'start'"), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM correlations WHERE value = 'in_123'"), 1);
    /* the id is a UUIDv7 carrying the start time */
    ck_assert_int_eq(a.id.b[6] >> 4, 7);
    st_store_instance_t in;
    ck_assert_int_eq(st_store_instance_load(f.c, &a.id, &in, &err), 0);
    ck_assert_str_eq(in.program_hash, f.hash); /* pinned to the current version */
    ck_assert_str_eq(in.business_key, "in_123");
    ck_assert_int_eq(in.seq, 0);
    ck_assert_int_eq(in.owner_node, f.node);
    st_store_instance_release(&in);
    /* many at once, with a repeated key inside the batch and one without a key */
    st_store_start_t many[3] = {fx_start_spec(&f, "in_9"), fx_start_spec(&f, NULL),
                                fx_start_spec(&f, "in_9")};
    st_store_started_t out[3];
    ck_assert_int_eq(st_store_start_many(f.c, many, 3, out, &err), 0);
    ck_assert_int_eq(out[0].existing, 0);
    ck_assert_int_eq(out[1].existing, 0);
    ck_assert_int_eq(out[2].existing, 1);
    ck_assert(st_store_uuid_equal(&out[0].id, &out[2].id));
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts WHERE status = 'running'"), 3);
    /* a start of a flow with no current version fails and writes nothing */
    st_store_start_t none = fx_start_spec(&f, "k");
    none.flow = "unknown";
    ck_assert_int_lt(st_store_start(f.c, &none, &a, &err), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances"), 3);
    fx_close(&f);
}
END_TEST

/* A start checked against a version that is no longer current writes
 * nothing and says so (stale); the others in the same call start. */
START_TEST(checked_start_of_a_replaced_version_is_stale)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    st_store_start_t two[2] = {fx_start_spec(&f, "a"), fx_start_spec(&f, "b")};
    two[0].program_hash = f.hash;
    two[0].check_hash = 1;
    two[1].program_hash = "0000000000000000000000000000000000000000000000000000000000000000";
    two[1].check_hash = 1;
    st_store_started_t out[2];
    ck_assert_int_eq(st_store_start_many(f.c, two, 2, out, &err), 0);
    ck_assert_int_eq(out[0].stale, 0);
    ck_assert_int_eq(out[1].stale, 1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances"), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history"), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts"), 1);
    fx_close(&f);
}
END_TEST

/* Counts are sharded by session: a start is not held up by another
 * session's open transaction that changed the same flow's count (before
 * 0008 it waited on that row's lock until the other committed). */
START_TEST(starts_do_not_queue_on_a_count_row)
{
    fx_t f;
    fx_open(&f);
    /* The store's session; lock_timeout turns a wait into an error. */
    char dsn[600];
    snprintf(dsn, sizeof dsn, "%s options='-c lock_timeout=3000'", f.dsn);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cfg = {.dsn = dsn};
    st_err_t err;
    st_store_conn_t *c = st_store_conn_new(loop, &cfg, &err);
    ck_assert_ptr_nonnull(c);
    st_store_start_t s = fx_start_spec(&f, NULL);
    st_store_started_t out;
    ck_assert_int_eq(st_store_start(c, &s, &out, &err), 0);
    long long mine = fx_int(&f, "SELECT shard FROM flow_counts WHERE status = 'running'");
    /* Another session (with another shard) changes the same count and
     * keeps its transaction open. */
    PGconn *other = NULL;
    for (int tries = 0; tries < 10; tries++) {
        PQfinish(other);
        other = PQconnectdb(f.dsn);
        ck_assert_int_eq(PQstatus(other), CONNECTION_OK);
        PGresult *r = PQexec(other, "SELECT settle_count_shard()");
        long long theirs = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (theirs != mine)
            break;
    }
    PGresult *r = PQexec(other, "BEGIN; INSERT INTO flow_counts (flow, status, shard, n)"
                                " VALUES ('demo', 'running', settle_count_shard(), 1)"
                                " ON CONFLICT (flow, status, shard) DO UPDATE"
                                " SET n = flow_counts.n + 1");
    ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    int rc = st_store_start(c, &s, &out, &err);
    ck_assert_msg(rc == 0, "start waited on another session's count row: %s", err.msg);
    PQclear(PQexec(other, "COMMIT"));
    PQfinish(other);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts WHERE status = 'running'"), 3);
    fx_close(&f);
}
END_TEST

static int child_start(const char *dsn)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cfg = {.dsn = dsn};
    st_err_t err;
    st_store_conn_t *c = st_store_conn_new(loop, &cfg, &err);
    if (!c)
        return 2;
    st_store_start_t s = {.flow = "demo",
                          .business_key = "race",
                          .state_name = "init",
                          .status = ST_STORE_RUNNING,
                          .wake_at_us = ST_STORE_NO_TIME,
                          .now_us = fx_now_us()};
    st_store_started_t out;
    int rc = st_store_start(c, &s, &out, &err);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    return rc == 0 ? 0 : 1;
}

START_TEST(concurrent_starts_with_one_key)
{
    fx_t f;
    fx_open(&f);
    enum { KIDS = 6 };
    pid_t pid[KIDS];
    for (int k = 0; k < KIDS; k++)
        if ((pid[k] = fork()) == 0)
            _exit(child_start(f.dsn));
    for (int k = 0; k < KIDS; k++) {
        int status;
        ck_assert_int_eq(waitpid(pid[k], &status, 0), pid[k]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances"), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts"), 1);
    fx_close(&f);
}
END_TEST

/* The server ends the session (restart, pg_terminate_backend): the op in
 * flight fails once with ST_IO and the connection comes back by itself. */
START_TEST(reconnects_after_the_backend_dies)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    PQclear(st_test_exec(f.pg, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()"));
    int64_t n = 0;
    int rc = st_store_flow_count(f.c, "demo", ST_STORE_RUNNING, &n, &err);
    if (rc == 0) /* the loss was noticed before sending: the op waited */
        ck_assert_uint_ge(st_store_conn_reconnects(f.c), 1);
    else
        ck_assert_int_eq(rc, ST_IO);
    for (int i = 0; i < 500 && !st_store_conn_is_up(f.c); i++)
        ev_run(f.loop, EVRUN_ONCE);
    ck_assert(st_store_conn_is_up(f.c));
    ck_assert_int_eq(st_store_flow_count(f.c, "demo", ST_STORE_RUNNING, &n, &err), 0);
    ck_assert_uint_eq(st_store_conn_reconnects(f.c), 1);
    fx_start(&f, "after", NULL); /* prepared statements are back too */
    fx_close(&f);
}
END_TEST

/* Notifications of new work seen on pg by now (consumed). */
static int work_notices(PGconn *pg)
{
    PQclear(st_test_exec(pg, "SELECT 1")); /* reads what arrived meanwhile */
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(pg)) != NULL) {
        n += strcmp(note->relname, "settle_work") == 0;
        PQfreemem(note);
    }
    return n;
}

/* Wait until at least one settle_work notice arrived; how many did. */
static int await_work_notices(PGconn *pg)
{
    int seen = 0;
    for (int i = 0; i < 250 && seen == 0; i++) {
        seen = work_notices(pg);
        if (seen == 0)
            usleep(20000);
    }
    return seen;
}

static void start_unowned(fx_t *f)
{
    st_store_start_t s = fx_start_spec(f, NULL);
    s.owner_node = 0;
    st_store_started_t out;
    st_err_t err;
    ck_assert_int_eq(st_store_start(f->c, &s, &out, &err), 0);
}

/* A start owned by a serving node is handed to it in-process: telling
 * every node about it would only cost claim rounds that find nothing.
 * An unowned start must still wake the nodes. Notifications arrive in
 * commit order, so once the last unowned start's notice is in, an owned
 * start's notice committed before it would have been counted too. */
START_TEST(only_unowned_starts_notify_the_nodes)
{
    fx_t f;
    fx_open(&f);
    PGconn *listener = PQconnectdb(f.dsn);
    ck_assert_int_eq(PQstatus(listener), CONNECTION_OK);
    PQclear(st_test_exec(listener, "LISTEN settle_work"));
    start_unowned(&f);
    ck_assert_int_eq(await_work_notices(listener), 1);
    int64_t ep;
    fx_start(&f, NULL, &ep); /* owned by the fixture's node */
    ck_assert_int_eq(ep, 1);
    start_unowned(&f);
    ck_assert_int_eq(await_work_notices(listener), 1);
    PQfinish(listener);
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_start");
    TCase *tc = tcase_create("start");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, connect_failure_is_an_error);
    tcase_add_test(tc, unmigrated_database_is_refused);
    tcase_add_test(tc, reconnects_after_a_network_fault);
    tcase_add_test(tc, reconnects_after_the_backend_dies);
    tcase_add_test(tc, program_registry);
    tcase_add_test(tc, start_is_idempotent_by_business_key);
    tcase_add_test(tc, concurrent_starts_with_one_key);
    tcase_add_test(tc, checked_start_of_a_replaced_version_is_stale);
    tcase_add_test(tc, starts_do_not_queue_on_a_count_row);
    tcase_add_test(tc, only_unowned_starts_notify_the_nodes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
