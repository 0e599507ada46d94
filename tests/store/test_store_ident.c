/*
 * test_store_ident.c — registration under a node identity: the earlier
 * rows of that identity are stopped in the same statement, their instances
 * are claimable at once under a new epoch, and nothing of another identity
 * (or of none) is touched.
 */
#include <stdio.h>
#include <unistd.h>

#include "store_fixture.h"

static st_store_uuid_t claim_one(fx_t *f, int64_t node)
{
    st_store_start_t s = fx_start_spec(f, NULL);
    s.owner_node = 0;
    st_store_started_t out;
    st_err_t err;
    ck_assert_int_eq(st_store_start(f->c, &s, &out, &err), 0);
    st_store_instances_t got;
    ck_assert_int_eq(st_store_lease_claim(f->c, node, 1, &got, &err), 0);
    ck_assert_uint_eq(got.n, 1);
    ck_assert(st_store_uuid_equal(&got.v[0].id, &out.id));
    ck_assert_int_eq(got.v[0].lease_epoch, 1);
    st_store_instances_free(&got);
    return out.id;
}

static int64_t stopped(fx_t *f, int64_t node)
{
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM nodes WHERE id = %lld AND stopped_at IS NOT NULL",
             (long long)node);
    return fx_int(f, sql);
}

START_TEST(restart_takes_its_own_work_at_once)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t a, plain, other, fenced = -1;
    ck_assert_int_eq(st_store_node_register_fenced(f.c, "x", "h/x", NULL, 60000, &a, &fenced, &err),
                     0);
    ck_assert_int_eq(fenced, 0);
    ck_assert_int_eq(st_store_node_register(f.c, "x", 60000, &plain, &err), 0);
    ck_assert_int_eq(
        st_store_node_register_fenced(f.c, "x", "other/x", NULL, 60000, &other, &fenced, &err), 0);
    st_store_uuid_t mine = claim_one(&f, a);
    claim_one(&f, plain);
    claim_one(&f, other);

    /* a dies (its lease still runs for a minute); its successor under the
     * same identity stops a's row, and only a's */
    int64_t a2;
    ck_assert_int_eq(
        st_store_node_register_fenced(f.c, "x", "h/x", NULL, 60000, &a2, &fenced, &err), 0);
    ck_assert_int_eq(fenced, 1);
    ck_assert_int_eq(stopped(&f, a), 1);
    ck_assert_int_eq(stopped(&f, plain), 0);
    ck_assert_int_eq(stopped(&f, other), 0);
    ck_assert_int_eq(stopped(&f, a2), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM nodes WHERE identity = 'h/x'"), 2);

    /* a's instance is claimable now, under a new epoch; nobody else's */
    st_store_instances_t got;
    ck_assert_int_eq(st_store_lease_claim(f.c, a2, 10, &got, &err), 0);
    ck_assert_uint_eq(got.n, 1);
    ck_assert(st_store_uuid_equal(&got.v[0].id, &mine));
    ck_assert_int_eq(got.v[0].owner_node, a2);
    ck_assert_int_eq(got.v[0].lease_epoch, 2);
    st_store_instances_free(&got);

    /* a checkpoint the dead process left in flight cannot apply */
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *bt = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &mine, 1, 0, ST_STORE_RUNNING);
    k.node_id = a;
    ck_assert_int_eq(fx_ckpt_run(&f, bt, &k), ST_CONFLICT);
    fx_ckpt(&k, &f, &mine, 2, 0, ST_STORE_RUNNING);
    k.node_id = a2;
    ck_assert_int_eq(fx_ckpt_run(&f, bt, &k), 0);
    st_store_batch_free(bt);

    /* a renewal of the stopped row fails: it must never act again */
    ck_assert_int_eq(st_store_node_renew(f.c, a, 60000, &err), ST_CONFLICT);
    fx_close(&f);
}
END_TEST

static PGconn *tagged_session(const fx_t *f, const char *tag)
{
    char dsn[1024];
    snprintf(dsn, sizeof dsn, "%s application_name=%s", f->dsn, tag);
    PGconn *pg = PQconnectdb(dsn);
    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
    return pg;
}

static int session_alive(PGconn *pg)
{
    PGresult *r = PQexec(pg, "SELECT 1");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok;
}

/* The killed process's sessions (a statement left running, its locks
 * held) end at the successor's registration; other tags are untouched. */
START_TEST(successor_ends_the_dead_sessions)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t a, a2, fenced;
    ck_assert_int_eq(
        st_store_node_register_fenced(f.c, "x", "h/x", "settled-t1", 60000, &a, &fenced, &err), 0);
    st_store_uuid_t id = claim_one(&f, a);
    PGconn *dead = tagged_session(&f, "settled-t1");
    PGconn *other = tagged_session(&f, "settled-t2");
    PQclear(st_test_exec(dead, "BEGIN"));
    PQclear(st_test_exec(dead, "SELECT 1 FROM instances FOR UPDATE"));
    ck_assert_int_eq(
        st_store_node_register_fenced(f.c, "x", "h/x", "settled-t1", 60000, &a2, &fenced, &err), 0);
    ck_assert_int_eq(fenced, 1);
    ck_assert(!session_alive(dead));
    ck_assert(session_alive(other));
    /* the row lock went with the session: the claim takes the instance */
    st_store_instances_t got;
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(st_store_lease_claim(f.c, a2, 10, &got, &err), 0);
        if (got.n > 0)
            break;
        st_store_instances_free(&got);
        usleep(20000); /* the backend exits right after the signal */
    }
    ck_assert_uint_eq(got.n, 1);
    ck_assert(st_store_uuid_equal(&got.v[0].id, &id));
    st_store_instances_free(&got);
    PQfinish(dead);
    PQfinish(other);
    fx_close(&f);
}
END_TEST

START_TEST(identity_is_required)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t id = 0;
    ck_assert_int_eq(st_store_node_register_fenced(f.c, "x", "", NULL, 60000, &id, NULL, &err),
                     ST_INVAL);
    ck_assert_int_eq(st_store_node_register_fenced(f.c, "x", NULL, NULL, 60000, &id, NULL, &err),
                     ST_INVAL);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM nodes WHERE name = 'x'"), 0);
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_ident");
    TCase *tc = tcase_create("ident");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, restart_takes_its_own_work_at_once);
    tcase_add_test(tc, successor_ends_the_dead_sessions);
    tcase_add_test(tc, identity_is_required);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
