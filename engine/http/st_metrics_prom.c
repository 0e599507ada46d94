/*
 * st_metrics_prom.c — render a metrics registry in Prometheus text format
 * 0.0.4, and define the engine's standard families.
 *
 * Layer: http (metrics family). Depends on libc and st_metrics_int.h.
 *
 * Invariants: every family gets "# HELP" and "# TYPE" lines even before it
 * has a series (so scrapers see the names from the first scrape); label
 * values and help text are escaped as the format requires (\\, \", \n);
 * histogram buckets are rendered cumulatively with a final le="+Inf"
 * bucket equal to _count.
 */
#include "http/st_metrics_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pbuf {
    char *p;    /* text so far, NUL terminated */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    int oom;    /* an allocation failed; the text is incomplete */
} pbuf_t;

static void pb_grow(pbuf_t *b, size_t more)
{
    if (b->oom || b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void pb_put(pbuf_t *b, const char *s, size_t n)
{
    pb_grow(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void pb_str(pbuf_t *b, const char *s)
{
    pb_put(b, s, strlen(s));
}

/* Escape \ and newline (help) or also " (label values). */
static void pb_escaped(pbuf_t *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            pb_str(b, "\\\\");
        else if (*s == '\n')
            pb_str(b, "\\n");
        else if (quote && *s == '"')
            pb_str(b, "\\\"");
        else
            pb_put(b, s, 1);
    }
}

/* Shortest text that reads back as the same double; Prometheus spellings
 * for infinities and NaN. */
static void pb_num(pbuf_t *b, double v)
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
    pb_str(b, t);
}

/* {a="x",b="y"[,le="..."]} or nothing when there are no labels. */
static void pb_labels(pbuf_t *b, const st_metrics_family_t *f, const st_metrics_series_t *s,
                      const char *le)
{
    if (f->nlabels == 0 && le == NULL)
        return;
    pb_str(b, "{");
    for (unsigned i = 0; i < f->nlabels; i++) {
        if (i)
            pb_str(b, ",");
        pb_str(b, f->labels[i]);
        pb_str(b, "=\"");
        pb_escaped(b, s->values[i], 1);
        pb_str(b, "\"");
    }
    if (le != NULL) {
        pb_str(b, f->nlabels ? ",le=\"" : "le=\"");
        pb_str(b, le);
        pb_str(b, "\"");
    }
    pb_str(b, "}");
}

static void render_hist(pbuf_t *b, const st_metrics_family_t *f, const st_metrics_series_t *s)
{
    uint64_t cum = 0;
    char le[40];
    for (unsigned i = 0; i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        if (i < f->nbounds) {
            pbuf_t t = {0};
            pb_num(&t, f->bounds[i]);
            snprintf(le, sizeof le, "%s", t.p ? t.p : "0");
            free(t.p);
        } else
            snprintf(le, sizeof le, "+Inf");
        pb_str(b, f->name);
        pb_str(b, "_bucket");
        pb_labels(b, f, s, le);
        snprintf(le, sizeof le, " %llu\n", (unsigned long long)cum);
        pb_str(b, le);
    }
    pb_str(b, f->name);
    pb_str(b, "_sum");
    pb_labels(b, f, s, NULL);
    pb_str(b, " ");
    pb_num(b, st_metrics_series_value(s));
    pb_str(b, "\n");
    pb_str(b, f->name);
    pb_str(b, "_count");
    pb_labels(b, f, s, NULL);
    /* _count equals the +Inf bucket just rendered, even if an observation
     * lands between the two reads. */
    snprintf(le, sizeof le, " %llu\n", (unsigned long long)cum);
    pb_str(b, le);
}

static void render_family(pbuf_t *b, st_metrics_family_t *f)
{
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    pb_str(b, "# HELP ");
    pb_str(b, f->name);
    pb_str(b, " ");
    pb_escaped(b, f->help, 0);
    pb_str(b, "\n# TYPE ");
    pb_str(b, f->name);
    pb_str(b, " ");
    pb_str(b, kinds[f->kind]);
    pb_str(b, "\n");
    pthread_mutex_lock(&f->mu);
    for (const st_metrics_series_t *s = f->head; s != NULL; s = s->next) {
        if (f->kind == ST_METRICS_HISTOGRAM) {
            render_hist(b, f, s);
            continue;
        }
        pb_str(b, f->name);
        pb_labels(b, f, s, NULL);
        pb_str(b, " ");
        pb_num(b, st_metrics_series_value(s));
        pb_str(b, "\n");
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

    pbuf_t b = {0};
    pb_grow(&b, 0);
    if (b.p != NULL)
        b.p[0] = '\0';
    pthread_mutex_lock(&m->mu);
    for (st_metrics_family_t *f = m->head; f != NULL; f = f->next)
        render_family(&b, f);
    pthread_mutex_unlock(&m->mu);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len != NULL)
        *len = b.len;
    return b.p;
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
