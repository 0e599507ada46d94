/*
 * test_store_errors.c — a statement PostgreSQL fails is reported with its
 * prepared statement's name, PostgreSQL's primary message and the
 * SQLSTATE, for the blocking helpers and for a checkpoint batch, whose
 * failure also reaches the batcher's on_batch_error. Provoked with a
 * lock_timeout while the plain connection holds the instance's row.
 */
#include <stdio.h>
#include <string.h>

#include "store_fixture.h"

typedef struct heard {
    int calls;
    size_t n;
    st_err_t err;
} heard_t;

static void on_batch_error(const st_err_t *err, size_t n, int retried_alone, void *ud)
{
    heard_t *h = ud;
    (void)retried_alone;
    h->calls++;
    h->n = n;
    h->err = *err;
}

START_TEST(a_failed_statement_names_itself_with_postgres_message_and_sqlstate)
{
    fx_t f;
    fx_open(&f);
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" SET lock_timeout = '200ms'", f.db);
    PQclear(st_test_exec(f.pg, sql));
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    /* a new connection, with the database's lock_timeout */
    st_err_t err;
    st_store_conn_cfg_t cc = {.dsn = f.dsn};
    st_store_conn_t *c = st_store_conn_new(f.loop, &cc, &err);
    ck_assert_ptr_nonnull(c);
    char idt[37];
    st_store_uuid_format(&id, idt);
    PQclear(st_test_exec(f.pg, "BEGIN"));
    snprintf(sql, sizeof sql, "SELECT 1 FROM instances WHERE id = '%s' FOR NO KEY UPDATE", idt);
    PQclear(st_test_exec(f.pg, sql));

    st_store_tasks_t due;
    ck_assert_int_eq(st_store_tasks_recover(c, f.node, &id, 1, &due, &err), ST_DB);
    ck_assert_str_eq(err.msg, "statement st_TASKS_RECOVER failed: canceling statement due to lock "
                              "timeout (SQLSTATE 55P03)");
    ck_assert_ptr_nonnull(strstr(err.hint, "lock_timeout"));

    heard_t heard = {0};
    st_store_batch_cfg_t bc = {.on_batch_error = on_batch_error, .on_batch_error_ud = &heard};
    st_store_batch_t *b = st_store_batch_new(c, &bc, &err);
    ck_assert_ptr_nonnull(b);
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, ep, 0, ST_STORE_WAITING);
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), ST_DB);
    ck_assert_int_eq(heard.calls, 1);
    ck_assert_uint_eq(heard.n, 1);
    ck_assert_str_eq(heard.err.msg, "statement st_CHECKPOINT failed: canceling statement due to "
                                    "lock timeout (SQLSTATE 55P03)");
    PQclear(st_test_exec(f.pg, "ROLLBACK"));
    /* the row free again: the same checkpoint commits, nothing more heard */
    fx_ckpt(&k, &f, &id, ep, 0, ST_STORE_WAITING);
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    ck_assert_int_eq(heard.calls, 1);
    st_store_batch_free(b);
    st_store_conn_free(c);
    fx_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_errors");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_failed_statement_names_itself_with_postgres_message_and_sqlstate);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
