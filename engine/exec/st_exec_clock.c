/*
 * st_exec_clock.c — the virtual clock's durable control channel.
 *
 * With --clock virtual, time moves only when an operator or a test says so:
 * `settled clock advance 3d` (or settlectl) raises settle_clock.target_us and
 * NOTIFYs settle_clock; every virtual node then advances its timer driver to
 * the target, firing everything due in order, and writes the time it reached
 * back to settle_clock.now_us. Virtual time is durable: a node that restarts
 * resumes at now_us instead of jumping back to its start time.
 *
 * Uses its own plain blocking libpq connection (x->ctl): a handful of
 * statements per advance, never on the checkpoint path.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

/* Every statement here may run twice (reads, or monotonic updates), so a
 * connection lost with PostgreSQL (restart, failover) is reset and the
 * statement retried once; while the server is down it fails and the next
 * notification or poll tries again. */
static int ctl_exec(st_exec_t *x, const char *sql, int n, const char *const *params, PGresult **out,
                    st_err_t *err)
{
    PGresult *r = PQexecParams(x->ctl, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && PQstatus(x->ctl) == CONNECTION_BAD) {
        PQclear(r);
        PQreset(x->ctl);
        r = PQexecParams(x->ctl, sql, n, NULL, params, NULL, NULL, 0);
        st = PQresultStatus(r);
    }
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        st_err_set(err, ST_DB, "virtual clock: %s", PQresultErrorMessage(r));
        PQclear(r);
        return ST_DB;
    }
    if (out != NULL)
        *out = r;
    else
        PQclear(r);
    return 0;
}

int exec_clock_init(st_exec_t *x, st_err_t *err)
{
    if (x->clock.kind != ST_CLOCK_VIRTUAL)
        return 0;
    x->ctl = PQconnectdb(x->dsn);
    if (PQstatus(x->ctl) != CONNECTION_OK)
        return st_err_set(err, ST_DB, "cannot open the clock connection: %s",
                          PQerrorMessage(x->ctl));
    char start[32];
    snprintf(start, sizeof start, "%lld", (long long)st_clock_now_us(&x->clock));
    const char *p[1] = {start};
    PGresult *r = NULL;
    int rc = ctl_exec(x,
                      "INSERT INTO settle_clock (now_us, target_us) VALUES ($1, $1) "
                      "ON CONFLICT (id) DO UPDATE SET id = true RETURNING now_us, target_us",
                      1, p, &r, err);
    if (rc != 0)
        return rc;
    int64_t now = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (now > st_clock_now_us(&x->clock))
        st_clock_set(&x->clock, now, NULL); /* resume durable virtual time */
    return 0;
}

/* An advance reached its target: publish the time for `clock show`. */
void exec_clock_reached(void *arg)
{
    st_exec_t *x = arg;
    char now[32];
    st_err_t err;
    snprintf(now, sizeof now, "%lld", (long long)st_clock_now_us(&x->clock));
    const char *p[1] = {now};
    if (ctl_exec(x,
                 "UPDATE settle_clock SET now_us = greatest(now_us, $1::bigint), "
                 "updated_at = now()",
                 1, p, NULL, &err) != 0)
        exec_log(x, "%s", err.msg);
}

/* settle_clock was notified: advance to its target if it is ahead of us. */
void exec_clock_poll(st_exec_t *x)
{
    PGresult *r = NULL;
    st_err_t err;
    if (x->ctl == NULL)
        return;
    if (ctl_exec(x, "SELECT target_us FROM settle_clock", 0, NULL, &r, &err) != 0) {
        exec_log(x, "%s", err.msg);
        return;
    }
    int64_t target = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (target > st_clock_now_us(&x->clock) &&
        st_timer_driver_advance_to(x->driver, target, &err) != 0)
        exec_log(x, "advancing the virtual clock failed: %s", err.msg);
}
