/*
 * e2e_report.c — figures, percentiles and observations in the database
 * shared by the end-to-end benchmark's phases (see e2e_bench.h).
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_bench.h"
#include "e2e_http.h"

void e2e_figure(const char *name, double value)
{
    if (!isfinite(value) || value < 0) {
        char why[128];
        snprintf(why, sizeof why, "measured %g, which cannot be right", value);
        e2e_die(name, why);
    }
    printf("figure %s %.3f\n", name, value);
    fflush(stdout);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

double e2e_pct(int64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_i64);
    size_t at = (size_t)((double)(n - 1) * p / 100.0 + 0.5);
    return (double)v[at < n ? at : n - 1];
}

double e2e_patience_s;

void e2e_wait_count(e2e_stack_t *st, const char *sql, double want, double limit_s, const char *what)
{
    if (e2e_patience_s > 0)
        limit_s = e2e_patience_s;
    for (double t0 = e2e_mono_s(); e2e_scalar(st, sql) < want; usleep(10000))
        if (e2e_mono_s() - t0 > limit_s)
            e2e_die(what, "did not happen in time (is settled running? see its log)");
}

size_t e2e_updated_at(e2e_stack_t *st, const char *flow, const char *prefix, size_t n, int64_t *at)
{
    char sql[512];
    size_t plen = strlen(prefix);
    snprintf(sql, sizeof sql,
             "SELECT substr(business_key, %zu)::bigint, "
             "(extract(epoch FROM updated_at) * 1e6)::bigint FROM instances "
             "WHERE flow = '%s' AND left(business_key, %zu) = '%s' "
             "AND status NOT IN ('running', 'waiting')",
             plen + 1, flow, plen, prefix);
    PGresult *r = PQexec(st->db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        e2e_die(sql, PQresultErrorMessage(r));
    memset(at, 0, n * sizeof *at);
    size_t found = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        long long k = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (k >= 0 && (size_t)k < n && at[k] == 0) {
            at[k] = strtoll(PQgetvalue(r, i, 1), NULL, 10);
            found++;
        }
    }
    PQclear(r);
    return found;
}
