/*
 * test_store_leases.c — nodes, claims, renewal, takeover and the epoch check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_fixture.h"

static st_store_uuid_t start_unowned(fx_t *f)
{
    st_store_start_t s = fx_start_spec(f, NULL);
    s.owner_node = 0;
    st_store_started_t out;
    st_err_t err;
    ck_assert_int_eq(st_store_start(f->c, &s, &out, &err), 0);
    ck_assert_int_eq(out.lease_epoch, 0);
    return out.id;
}

/* Child process: its own loop, connection and node; claims until nothing
 * is left and exits with how many it claimed (mod 256 is enough here). */
static int claim_child(const char *dsn)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cfg = {.dsn = dsn};
    st_err_t err;
    st_store_conn_t *c = st_store_conn_new(loop, &cfg, &err);
    if (!c)
        return 255;
    int64_t node;
    if (st_store_node_register(c, "child", 60000, &node, &err) < 0)
        return 254;
    int total = 0, empty = 0;
    while (empty < 3) {
        st_store_instances_t got;
        if (st_store_lease_claim(c, node, 3, &got, &err) < 0)
            return 253;
        for (size_t i = 0; i < got.n; i++)
            if (got.v[i].owner_node != node || got.v[i].lease_epoch != 1)
                return 252;
        total += (int)got.n;
        empty = got.n == 0 ? empty + 1 : 0;
        st_store_instances_free(&got);
    }
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    return total;
}

START_TEST(concurrent_claims_never_share)
{
    fx_t f;
    fx_open(&f);
    enum { M = 120, KIDS = 4 };
    for (int i = 0; i < M; i++)
        start_unowned(&f);
    pid_t pid[KIDS];
    for (int k = 0; k < KIDS; k++) {
        pid[k] = fork();
        ck_assert_int_ge(pid[k], 0);
        if (pid[k] == 0)
            _exit(claim_child(f.dsn));
    }
    int sum = 0;
    for (int k = 0; k < KIDS; k++) {
        int status;
        ck_assert_int_eq(waitpid(pid[k], &status, 0), pid[k]);
        ck_assert(WIFEXITED(status));
        ck_assert_int_lt(WEXITSTATUS(status), 200);
        sum += WEXITSTATUS(status);
    }
    ck_assert_int_eq(sum, M);
    /* every instance claimed exactly once: one owner, epoch 1 */
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances WHERE lease_epoch = 1 AND "
                                "owner_node IS NOT NULL AND owner_node <> " /* not the fixture */
                                "(SELECT min(id) FROM nodes)"),
                     M);
    fx_close(&f);
}
END_TEST

START_TEST(stale_node_cannot_write_after_takeover)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t a, b;
    ck_assert_int_eq(st_store_node_register(f.c, "a", 60000, &a, &err), 0);
    ck_assert_int_eq(st_store_node_register(f.c, "b", 60000, &b, &err), 0);
    st_store_uuid_t id = start_unowned(&f);
    st_store_instances_t got;
    ck_assert_int_eq(st_store_lease_claim(f.c, a, 10, &got, &err), 0);
    ck_assert_uint_eq(got.n, 1);
    int64_t epoch_a = got.v[0].lease_epoch;
    st_store_instances_free(&got);
    /* b finds nothing while a's lease holds */
    ck_assert_int_eq(st_store_lease_claim(f.c, b, 10, &got, &err), 0);
    ck_assert_uint_eq(got.n, 0);
    st_store_instances_free(&got);
    /* a renews cheaply: one statement, instance untouched */
    ck_assert_int_eq(st_store_node_renew(f.c, a, 60000, &err), 0);
    /* a pauses past its lease */
    PQclear(st_test_exec(f.pg, "UPDATE nodes SET lease_until = now() - interval '1 second' WHERE "
                               "name = 'a'"));
    ck_assert_int_eq(st_store_node_renew(f.c, a, 60000, &err), ST_CONFLICT);
    ck_assert_int_eq(st_store_lease_claim(f.c, b, 10, &got, &err), 0);
    ck_assert_uint_eq(got.n, 1);
    ck_assert(st_store_uuid_equal(&got.v[0].id, &id));
    ck_assert_int_eq(got.v[0].owner_node, b);
    ck_assert_int_eq(got.v[0].lease_epoch, epoch_a + 1);
    int64_t epoch_b = got.v[0].lease_epoch;
    st_store_instances_free(&got);
    /* a wakes up and tries to checkpoint: rejected */
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *bt = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, epoch_a, 0, ST_STORE_RUNNING);
    k.node_id = a;
    ck_assert_int_eq(fx_ckpt_run(&f, bt, &k), ST_CONFLICT);
    /* even claiming b's epoch, a is not the owner */
    fx_ckpt(&k, &f, &id, epoch_b, 0, ST_STORE_RUNNING);
    k.node_id = a;
    ck_assert_int_eq(fx_ckpt_run(&f, bt, &k), ST_CONFLICT);
    fx_ckpt(&k, &f, &id, epoch_b, 0, ST_STORE_RUNNING);
    k.node_id = b;
    ck_assert_int_eq(fx_ckpt_run(&f, bt, &k), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT seq FROM instances"), 1);
    st_store_batch_free(bt);
    fx_close(&f);
}
END_TEST

/* A node that outlived its own lease claims nothing — neither new work nor
 * its own rows as "orphaned" (that re-claimed them under a dead lease with
 * a new epoch on every round, so its checkpoints always conflicted) —
 * until it registers again. */
START_TEST(lapsed_node_claims_nothing_not_even_its_own)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t a;
    ck_assert_int_eq(st_store_node_register(f.c, "a", 60000, &a, &err), 0);
    start_unowned(&f);
    st_store_instances_t got;
    ck_assert_int_eq(st_store_lease_claim(f.c, a, 10, &got, &err), 0);
    ck_assert_uint_eq(got.n, 1);
    st_store_instances_free(&got);
    start_unowned(&f);
    PQclear(st_test_exec(f.pg, "UPDATE nodes SET lease_until = now() - interval '1 second' WHERE "
                               "name = 'a'"));
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(st_store_lease_claim(f.c, a, 10, &got, &err), 0);
        ck_assert_uint_eq(got.n, 0);
        st_store_instances_free(&got);
    }
    ck_assert_int_eq(fx_int(&f, "SELECT max(lease_epoch) FROM instances"), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances WHERE owner_node IS NULL"), 1);
    /* registered again under a new id, it takes both */
    int64_t a2;
    ck_assert_int_eq(st_store_node_register(f.c, "a", 60000, &a2, &err), 0);
    ck_assert_int_eq(st_store_lease_claim(f.c, a2, 10, &got, &err), 0);
    ck_assert_uint_eq(got.n, 2);
    st_store_instances_free(&got);
    fx_close(&f);
}
END_TEST

START_TEST(release_and_owned_listing)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    for (int i = 0; i < 5; i++)
        fx_start(&f, NULL, NULL); /* owned by f.node */
    st_store_instances_t got;
    ck_assert_int_eq(st_store_instances_owned(f.c, f.node, NULL, 3, &got, &err), 0);
    ck_assert_uint_eq(got.n, 3);
    st_store_uuid_t last = got.v[2].id;
    st_store_instances_free(&got);
    ck_assert_int_eq(st_store_instances_owned(f.c, f.node, &last, 3, &got, &err), 0);
    ck_assert_uint_eq(got.n, 2);
    st_store_instances_free(&got);
    ck_assert_int_eq(st_store_node_release(f.c, f.node, &err), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances WHERE owner_node IS NULL"), 5);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM nodes WHERE stopped_at IS NOT NULL"), 1);
    ck_assert_int_eq(st_store_node_renew(f.c, f.node, 1000, &err), ST_CONFLICT);
    int64_t other;
    ck_assert_int_eq(st_store_node_register(f.c, "other", 60000, &other, &err), 0);
    ck_assert_int_eq(st_store_lease_claim(f.c, other, 100, &got, &err), 0);
    ck_assert_uint_eq(got.n, 5);
    for (size_t i = 0; i < got.n; i++)
        ck_assert_int_eq(got.v[i].lease_epoch, 2);
    st_store_instances_free(&got);
    fx_close(&f);
}
END_TEST

/* Two nodes work the same instances for a while; each pauses now and then
 * past its lease, so the other takes its instances over while the paused
 * one still believes it owns them and keeps writing. No instance may be
 * advanced twice from the same seq, and nothing committed may be lost. */
enum { WORK_INSTANCES = 40, WORK_MS = 2500, LEASE_MS = 150 };

typedef struct held {
    st_store_uuid_t id;
    int64_t node, epoch, seq;
    int live;
    st_store_ckpt_t ck;
    st_store_hist_t h;
    char detail[64]; /* the epoch the node wrote under */
    int fired, rc;
} held_t;

static void held_cb(st_store_ckpt_t *ck, int rc, const st_err_t *err, void *ud)
{
    held_t *h = ud;
    h->fired++;
    h->rc = rc;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One round of checkpoints for every instance this node believes it holds. */
static int work_round(struct ev_loop *loop, st_store_batch_t *b, held_t *hs, size_t n)
{
    st_err_t err;
    for (size_t i = 0; i < n; i++) {
        held_t *h = &hs[i];
        if (!h->live)
            continue;
        memset(&h->ck, 0, sizeof h->ck);
        h->ck.instance = h->id;
        h->ck.node_id = h->node;
        h->ck.lease_epoch = h->epoch;
        h->ck.expected_seq = h->seq;
        h->ck.state = (int32_t)(h->seq + 1);
        h->ck.state_name = "step";
        h->ck.status = ST_STORE_RUNNING;
        h->ck.vars_json = "{}";
        h->ck.wake_at_us = ST_STORE_NO_TIME;
        h->ck.at_us = fx_now_us();
        snprintf(h->detail, sizeof h->detail, "{\"epoch\": %lld}", (long long)h->epoch);
        h->h = (st_store_hist_t){"transition", "step", "step", h->detail};
        h->ck.hist = &h->h;
        h->ck.nhist = 1;
        h->fired = 0;
        if (st_store_batch_submit(b, &h->ck, held_cb, h, &err) < 0)
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        while (hs[i].live && !hs[i].fired)
            ev_run(loop, EVRUN_ONCE);
        if (!hs[i].live)
            continue;
        if (hs[i].rc == 0)
            hs[i].seq++;
        else if (hs[i].rc == ST_CONFLICT)
            hs[i].live = 0; /* lost it: forget it */
        else
            return -1;
    }
    return 0;
}

static int worker(const char *dsn, unsigned seed)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cfg = {.dsn = dsn};
    st_err_t err;
    st_store_conn_t *c = st_store_conn_new(loop, &cfg, &err);
    st_store_batch_cfg_t bc = {.linger_us = 200};
    st_store_batch_t *b = c ? st_store_batch_new(c, &bc, &err) : NULL;
    int64_t node;
    if (!b || st_store_node_register(c, "worker", LEASE_MS, &node, &err) < 0)
        return 2;
    static held_t hs[WORK_INSTANCES];
    size_t n = 0;
    int64_t end = mono_ms() + WORK_MS;
    while (mono_ms() < end) {
        if (work_round(loop, b, hs, n) < 0)
            return 3;
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 5 == 0)
            usleep((LEASE_MS + 100) * 1000); /* paused past the lease */
        int rc = st_store_node_renew(c, node, LEASE_MS, &err);
        if (rc == ST_CONFLICT) { /* keep writing the old ones, as a stale node would */
            if (work_round(loop, b, hs, n) < 0)
                return 4;
            if (st_store_node_register(c, "worker", LEASE_MS, &node, &err) < 0)
                return 5;
        } else if (rc < 0) {
            return 6;
        }
        st_store_instances_t got;
        if (st_store_lease_claim(c, node, 5, &got, &err) < 0)
            return 7;
        for (size_t i = 0; i < got.n; i++) {
            size_t slot = n;
            for (size_t j = 0; j < n; j++)
                if (!hs[j].live) {
                    slot = j;
                    break;
                }
            if (slot == n && n < WORK_INSTANCES)
                n++;
            if (slot >= WORK_INSTANCES)
                break;
            hs[slot] = (held_t){.id = got.v[i].id,
                                .node = node,
                                .epoch = got.v[i].lease_epoch,
                                .seq = got.v[i].seq,
                                .live = 1};
        }
        st_store_instances_free(&got);
    }
    st_store_batch_free(b);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    return 0;
}

START_TEST(two_nodes_never_both_advance)
{
    fx_t f;
    fx_open(&f);
    for (int i = 0; i < WORK_INSTANCES; i++)
        start_unowned(&f);
    pid_t pid[2];
    for (int k = 0; k < 2; k++)
        if ((pid[k] = fork()) == 0)
            _exit(worker(f.dsn, 7u + (unsigned)k * 31u));
    for (int k = 0; k < 2; k++) {
        int status;
        ck_assert_int_eq(waitpid(pid[k], &status, 0), pid[k]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d failed: %d", k,
                      WEXITSTATUS(status));
    }
    /* work happened, and on more than one node */
    ck_assert_int_gt(fx_int(&f, "SELECT sum(seq) FROM instances"), 2 * WORK_INSTANCES);
    ck_assert_int_gt(fx_int(&f, "SELECT count(*) FROM nodes"), 2); /* leases lapsed */
    ck_assert_int_gt(fx_int(&f, "SELECT count(*) FROM instances WHERE lease_epoch > 1"),
                     0); /* and instances were taken over */
    /* one transition row per seq per instance, and as many as the seq says */
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM (SELECT instance_id, seq FROM history "
                                "WHERE kind = 'transition' GROUP BY 1, 2 HAVING count(*) > 1) d"),
                     0);
    /* and no write under an epoch older than one already written: a stale
     * node never wrote after a takeover */
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM (SELECT (detail->>'epoch')::int AS e,"
                                " lag((detail->>'epoch')::int) OVER (PARTITION BY instance_id"
                                " ORDER BY seq) AS prev FROM history WHERE kind = 'transition') x"
                                " WHERE e < prev"),
                     0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances i WHERE seq <> (SELECT count(*) "
                                "FROM history h WHERE h.instance_id = i.id AND kind = "
                                "'transition')"),
                     0);
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_leases");
    TCase *tc = tcase_create("leases");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, concurrent_claims_never_share);
    tcase_add_test(tc, stale_node_cannot_write_after_takeover);
    tcase_add_test(tc, lapsed_node_claims_nothing_not_even_its_own);
    tcase_add_test(tc, release_and_owned_listing);
    tcase_add_test(tc, two_nodes_never_both_advance);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
