/*
 * test_exec_alloc.c — the executor checks its allocations: a DSN copy that
 * fails is ST_NOMEM, never a NULL DSN (which libpq would read as "connect
 * with the environment's defaults").
 *
 * This binary defines strdup, so every strdup linked into it (the executor
 * is a static library) can be made to fail on demand.
 */
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "exec/st_exec.h"
#include "st_test.h"

static int fail_strdup;

char *strdup(const char *s)
{
    if (fail_strdup)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

START_TEST(a_failed_dsn_copy_is_out_of_memory)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static st_act_config_t act;
    st_act_config_defaults(&act);
    st_exec_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dsn = "host=/nonexistent dbname=settle";
    cfg.node_name = "alloc-node";
    cfg.act = &act;
    st_exec_t *x = NULL;
    st_err_t err;
    fail_strdup = 1;
    int rc = st_exec_new(loop, &cfg, &x, &err);
    fail_strdup = 0;
    ck_assert_int_eq(rc, ST_NOMEM);
    ck_assert_ptr_null(x);
    ck_assert_msg(strstr(err.msg, "DSN") != NULL, "%s", err.msg);
    /* And with memory it works. */
    ck_assert_int_eq(st_exec_new(loop, &cfg, &x, &err), 0);
    st_exec_free(x);
    ev_loop_destroy(loop);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("exec_alloc");
    TCase *tc = tcase_create("exec_alloc");
    tcase_add_test(tc, a_failed_dsn_copy_is_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
