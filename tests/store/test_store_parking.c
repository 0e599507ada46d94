/*
 * test_store_parking.c — signals for an object no instance knows yet are
 * parked and taken over by the first instance that learns its key.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_fixture.h"

static size_t pending(fx_t *f, const st_store_uuid_t *id)
{
    st_store_signals_t list;
    st_err_t err;
    ck_assert_int_eq(st_store_signals_pending(f->c, id, &list, &err), 0);
    size_t n = list.n;
    st_store_signals_free(&list);
    return n;
}

START_TEST(parked_until_a_key_is_learnt)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    size_t n = 9;
    /* the webhook arrives before any instance knows pi_9 */
    ck_assert_int_eq(st_store_signal_send_correlated(f.c, "payment_intent", "pi_9", "succeeded",
                                                     "{\"id\": \"evt_9\"}", "webhook:evt_9", &n,
                                                     &err),
                     0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM signals WHERE instance_id IS NULL"), 1);
    /* the checkpoint that learns pi_9 takes it over, atomically */
    int64_t ep;
    st_store_uuid_t a = fx_start(&f, NULL, &ep), b = fx_start(&f, NULL, NULL);
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *bt = st_store_batch_new(f.c, &cfg, &err);
    st_store_kv_t kv[] = {{"payment_intent", "pi_9"}};
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &a, ep, 0, ST_STORE_WAITING);
    k.correlations = kv;
    k.ncorrelations = 1;
    ck_assert_int_eq(fx_ckpt_run(&f, bt, &k), 0);
    ck_assert_uint_eq(pending(&f, &a), 1);
    /* a later instance learning the same key does not get it again */
    ck_assert_int_eq(st_store_correlate(f.c, &b, "payment_intent", "pi_9", &err), 0);
    ck_assert_uint_eq(pending(&f, &b), 0);
    /* st_store_correlate and start take over parked signals too */
    ck_assert_int_eq(
        st_store_signal_send_correlated(f.c, "invoice", "in_7", "paid", NULL, "api", &n, &err), 0);
    ck_assert_int_eq(st_store_correlate(f.c, &b, "invoice", "in_7", &err), 0);
    ck_assert_uint_eq(pending(&f, &b), 1);
    ck_assert_int_eq(
        st_store_signal_send_correlated(f.c, "customer", "cus_5", "updated", NULL, "api", &n, &err),
        0);
    st_store_start_t s = fx_start_spec(&f, NULL);
    st_store_kv_t ckv[] = {{"customer", "cus_5"}, {"invoice", "in_8"}};
    s.correlations = ckv;
    s.ncorrelations = 2;
    st_store_started_t out;
    ck_assert_int_eq(st_store_start(f.c, &s, &out, &err), 0);
    ck_assert_uint_eq(pending(&f, &out.id), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM signals WHERE instance_id IS NULL"), 0);
    st_store_batch_free(bt);
    fx_close(&f);
}
END_TEST

enum { RACE_KEYS = 150 };

static int race_child(const char *dsn, int role, const st_store_uuid_t *id)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cfg = {.dsn = dsn};
    st_err_t err;
    st_store_conn_t *c = st_store_conn_new(loop, &cfg, &err);
    if (!c)
        return 2;
    for (int i = 0; i < RACE_KEYS; i++) {
        char value[32];
        snprintf(value, sizeof value, "pi_%d", i);
        size_t n;
        int rc = role == 0 ? st_store_signal_send_correlated(c, "payment_intent", value, "s", NULL,
                                                             "api", &n, &err)
                           : st_store_correlate(c, id, "payment_intent", value, &err);
        if (rc < 0)
            return 3;
    }
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    return 0;
}

/* Signals and correlations for the same keys race; none stays parked. */
START_TEST(race_leaves_nothing_parked)
{
    fx_t f;
    fx_open(&f);
    st_store_uuid_t id = fx_start(&f, NULL, NULL);
    pid_t pid[2];
    for (int role = 0; role < 2; role++)
        if ((pid[role] = fork()) == 0)
            _exit(race_child(f.dsn, role, &id));
    for (int role = 0; role < 2; role++) {
        int status;
        ck_assert_int_eq(waitpid(pid[role], &status, 0), pid[role]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM signals"), RACE_KEYS);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM signals WHERE instance_id IS NULL"), 0);
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_parking");
    TCase *tc = tcase_create("parking");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parked_until_a_key_is_learnt);
    tcase_add_test(tc, race_leaves_nothing_parked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
