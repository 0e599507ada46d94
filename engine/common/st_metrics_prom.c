/*
 * st_metrics_prom.c — render a metrics registry in Prometheus text format
 * 0.0.4, and define the engine's standard families.
 *
 * Layer: common (metrics family). Depends on libc, st_metrics_int.h and the
 * growable buffer.
 *
 * Invariants: every family gets "# HELP" and "# TYPE" lines even before it
 * has a series (so scrapers see the names from the first scrape); label
 * values and help text are escaped as the format requires (\\, \", \n);
 * histogram buckets are rendered cumulatively with a final le="+Inf"
 * bucket equal to _count.
 */
#include "common/st_metrics_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_buf.h"

/* Escape \ and newline (help) or also " (label values). */
static void pb_escaped(st_buf_t *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            st_buf_adds(b, "\\\\");
        else if (*s == '\n')
            st_buf_adds(b, "\\n");
        else if (quote && *s == '"')
            st_buf_adds(b, "\\\"");
        else
            st_buf_add(b, s, 1);
    }
}

/* Shortest text that reads back as the same double; Prometheus spellings
 * for infinities and NaN. */
static void pb_num(st_buf_t *b, double v)
{
    char t[40];
    if (isnan(v))
        snprintf(t, sizeof t, "NaN");
    else if (isinf(v))
        snprintf(t, sizeof t, "%s", v > 0 ? "+Inf" : "-Inf");
    else {
        snprintf(t, sizeof t, "%.15g", v);
        if (strtod(t, NULL) != v)
            snprintf(t, sizeof t, "%.17g", v);
    }
    st_buf_adds(b, t);
}

/* {a="x",b="y"[,le="..."]} or nothing when there are no labels. */
static void pb_labels(st_buf_t *b, const st_metrics_family_t *f, const st_metrics_series_t *s,
                      const char *le)
{
    if (f->nlabels == 0 && le == NULL)
        return;
    st_buf_adds(b, "{");
    for (unsigned i = 0; i < f->nlabels; i++) {
        if (i)
            st_buf_adds(b, ",");
        st_buf_adds(b, f->labels[i]);
        st_buf_adds(b, "=\"");
        pb_escaped(b, s->values[i], 1);
        st_buf_adds(b, "\"");
    }
    if (le != NULL) {
        st_buf_adds(b, f->nlabels ? ",le=\"" : "le=\"");
        st_buf_adds(b, le);
        st_buf_adds(b, "\"");
    }
    st_buf_adds(b, "}");
}

static void render_hist(st_buf_t *b, const st_metrics_family_t *f, const st_metrics_series_t *s)
{
    uint64_t cum = 0;
    char le[40];
    for (unsigned i = 0; i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        if (i < f->nbounds) {
            st_buf_t t = {0};
            pb_num(&t, f->bounds[i]);
            snprintf(le, sizeof le, "%s", t.p ? t.p : "0");
            free(t.p);
        } else
            snprintf(le, sizeof le, "+Inf");
        st_buf_adds(b, f->name);
        st_buf_adds(b, "_bucket");
        pb_labels(b, f, s, le);
        snprintf(le, sizeof le, " %llu\n", (unsigned long long)cum);
        st_buf_adds(b, le);
    }
    st_buf_adds(b, f->name);
    st_buf_adds(b, "_sum");
    pb_labels(b, f, s, NULL);
    st_buf_adds(b, " ");
    pb_num(b, st_metrics_series_value(s));
    st_buf_adds(b, "\n");
    st_buf_adds(b, f->name);
    st_buf_adds(b, "_count");
    pb_labels(b, f, s, NULL);
    /* _count equals the +Inf bucket just rendered, even if an observation
     * lands between the two reads. */
    snprintf(le, sizeof le, " %llu\n", (unsigned long long)cum);
    st_buf_adds(b, le);
}

static void render_family(st_buf_t *b, st_metrics_family_t *f)
{
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    st_buf_adds(b, "# HELP ");
    st_buf_adds(b, f->name);
    st_buf_adds(b, " ");
    pb_escaped(b, f->help, 0);
    st_buf_adds(b, "\n# TYPE ");
    st_buf_adds(b, f->name);
    st_buf_adds(b, " ");
    st_buf_adds(b, kinds[f->kind]);
    st_buf_adds(b, "\n");
    pthread_mutex_lock(&f->mu);
    for (const st_metrics_series_t *s = f->head; s != NULL; s = s->next) {
        if (f->kind == ST_METRICS_HISTOGRAM) {
            render_hist(b, f, s);
            continue;
        }
        st_buf_adds(b, f->name);
        pb_labels(b, f, s, NULL);
        st_buf_adds(b, " ");
        pb_num(b, st_metrics_series_value(s));
        st_buf_adds(b, "\n");
    }
    pthread_mutex_unlock(&f->mu);
}

char *st_metrics_render(st_metrics_t *m, size_t *len)
{
    st_metrics_collect_fn hooks[ST_METRICS_MAX_HOOKS];
    void *ud[ST_METRICS_MAX_HOOKS];
    pthread_mutex_lock(&m->mu);
    unsigned n = m->nhooks;
    memcpy(hooks, m->hooks, sizeof hooks);
    memcpy(ud, m->hook_ud, sizeof ud);
    pthread_mutex_unlock(&m->mu);
    for (unsigned i = 0; i < n; i++)
        hooks[i](m, ud[i]);

    st_buf_t b = {0};
    pthread_mutex_lock(&m->mu);
    for (st_metrics_family_t *f = m->head; f != NULL; f = f->next)
        render_family(&b, f);
    pthread_mutex_unlock(&m->mu);
    if (len != NULL)
        *len = b.len;
    return st_buf_detach(&b); /* NULL when memory ran out */
}

/* ---- the standard families ------------------------------------------------ */

typedef struct std_def {
    size_t off; /* offset of the field in st_metrics_std_t */
    st_metrics_kind_t kind;
    const char *name, *help;
    const char *labels[2];
    unsigned nlabels;
    int size_buckets; /* histogram: size bounds instead of latency bounds */
} std_def_t;

#define STD(field) offsetof(st_metrics_std_t, field)
static const std_def_t std_defs[] = {
    {STD(flows_started),
     ST_METRICS_COUNTER,
     "settle_flows_started_total",
     "Flow instances started.",
     {"flow"},
     1,
     0},
    {STD(flows_completed),
     ST_METRICS_COUNTER,
     "settle_flows_completed_total",
     "Flow instances that reached a final state.",
     {"flow"},
     1,
     0},
    {STD(flows_failed),
     ST_METRICS_COUNTER,
     "settle_flows_failed_total",
     "Flow instances that reached a fail state or a runtime error.",
     {"flow"},
     1,
     0},
    {STD(flows_cancelled),
     ST_METRICS_COUNTER,
     "settle_flows_cancelled_total",
     "Flow instances cancelled.",
     {"flow"},
     1,
     0},
    {STD(transitions),
     ST_METRICS_COUNTER,
     "settle_transitions_total",
     "Transitions committed (one checkpoint each).",
     {"flow"},
     1,
     0},
    {STD(ckpt_batch_size),
     ST_METRICS_HISTOGRAM,
     "settle_checkpoint_batch_size",
     "Checkpoints committed per transaction (group commit).",
     {NULL},
     0,
     1},
    {STD(ckpt_commit),
     ST_METRICS_HISTOGRAM,
     "settle_checkpoint_commit_seconds",
     "Latency of one checkpoint batch commit.",
     {NULL},
     0,
     0},
    {STD(activity_calls),
     ST_METRICS_COUNTER,
     "settle_activity_calls_total",
     "Activity attempts by driver and outcome.",
     {"driver", "outcome"},
     2,
     0},
    {STD(activity_time),
     ST_METRICS_HISTOGRAM,
     "settle_activity_seconds",
     "Latency of one activity attempt.",
     {"driver"},
     1,
     0},
    {STD(timers_pending),
     ST_METRICS_GAUGE,
     "settle_timers_pending",
     "Wake-ups held in the timer wheel.",
     {NULL},
     0,
     0},
    {STD(webhook_events),
     ST_METRICS_COUNTER,
     "settle_webhook_events_total",
     "Stripe webhook deliveries by result: received (new), duplicate, rejected.",
     {"result"},
     1,
     0},
    {STD(webhook_signals),
     ST_METRICS_COUNTER,
     "settle_webhook_signals_total",
     "Signals stored for correlated flows by webhook deliveries.",
     {NULL},
     0,
     0},
    {STD(webhook_batch),
     ST_METRICS_HISTOGRAM,
     "settle_webhook_batch_size",
     "Webhook events committed per transaction (group commit).",
     {NULL},
     0,
     1},
    {STD(http_requests),
     ST_METRICS_COUNTER,
     "settle_http_requests_total",
     "HTTP requests served, by route and status code.",
     {"route", "code"},
     2,
     0},
    {STD(http_time),
     ST_METRICS_HISTOGRAM,
     "settle_http_request_seconds",
     "Time to answer an HTTP request, by route.",
     {"route"},
     1,
     0},
};

int st_metrics_std_init(st_metrics_t *m, st_metrics_std_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof std_defs / sizeof std_defs[0]; i++) {
        const std_def_t *d = &std_defs[i];
        const double *bounds = d->size_buckets ? st_metrics_size_bounds : st_metrics_latency_bounds;
        unsigned nb = d->size_buckets ? st_metrics_size_nbounds : st_metrics_latency_nbounds;
        st_metrics_family_t *f =
            st_metrics_define(m, d->kind, d->name, d->help, d->labels, d->nlabels, bounds, nb, err);
        if (f == NULL)
            return err ? err->code : ST_INVAL;
        memcpy((char *)out + d->off, &f, sizeof f);
    }
    /* The webhook results exist from the first scrape, at zero. */
    static const char *const results[] = {"received", "duplicate", "rejected"};
    for (unsigned i = 0; i < 3; i++)
        st_metrics_inc(out->webhook_events, &results[i], 0);
    st_metrics_inc(out->webhook_signals, NULL, 0);
    st_metrics_set(out->timers_pending, NULL, 0);
    return 0;
}
