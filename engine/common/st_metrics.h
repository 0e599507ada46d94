/*
 * st_metrics.h — a small metrics registry: counters, gauges and histograms
 * with labels, rendered in Prometheus' text exposition format.
 *
 * Layer: common (used by exec, http, the daemon). Depends on libc and pthreads
 * only; knows nothing of the engine, so the executor, the store batcher and
 * the HTTP side all feed the same registry.
 *
 * Model. A family (st_metrics_family_t) has a name, help text, a kind, a
 * fixed list of label names and, for histograms, fixed upper bucket bounds.
 * A series is one combination of label values inside a family; it is
 * created on first use and lives as long as the registry. Updates to a
 * series are lock-free (C11 atomics); finding or creating a series takes
 * the family's mutex, so hot paths keep the st_metrics_series_t pointer.
 *
 * Threads: every function is safe from any thread. Collect hooks run on the
 * thread that renders, under no registry lock, before the text is produced:
 * the place to copy snapshots (st_exec_get_stats) into gauges or counters.
 *
 * Ownership: st_metrics_new returns a registry freed with st_metrics_free
 * (NULL accepted), which frees every family and series. Family and series
 * pointers are borrowed from the registry. Names, help and label names are
 * copied at definition; label values are copied when a series is created.
 *
 * Invariants: counters never go down (st_metrics_counter_set is for copying
 * a monotonic source and ignores smaller values); a family's name is unique
 * in its registry; histogram bucket bounds are strictly increasing.
 */
#ifndef ST_METRICS_H
#define ST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

#define ST_METRICS_MAX_LABELS  4  /* label names per family */
#define ST_METRICS_MAX_BUCKETS 24 /* histogram bounds per family (+Inf implied) */

typedef enum {
    ST_METRICS_COUNTER,
    ST_METRICS_GAUGE,
    ST_METRICS_HISTOGRAM,
} st_metrics_kind_t;

typedef struct st_metrics st_metrics_t;
typedef struct st_metrics_family st_metrics_family_t;
typedef struct st_metrics_series st_metrics_series_t;

st_metrics_t *st_metrics_new(void);
void st_metrics_free(st_metrics_t *m);

/*
 * Define a family. `labels` holds nlabels label names (may be NULL when 0);
 * `bounds` holds nbounds increasing upper bounds for a histogram (ignored
 * otherwise). Defining an existing name again with the same kind and labels
 * returns the existing family; a different shape is ST_INVAL. Returns NULL
 * and fills err on error (bad name, too many labels or buckets, no memory).
 */
st_metrics_family_t *st_metrics_define(st_metrics_t *m, st_metrics_kind_t kind, const char *name,
                                       const char *help, const char *const *labels,
                                       unsigned nlabels, const double *bounds, unsigned nbounds,
                                       st_err_t *err);

/* The family named `name`, or NULL. */
st_metrics_family_t *st_metrics_find(st_metrics_t *m, const char *name);

/*
 * The series of `fam` with these label values (as many as the family has
 * labels; NULL values count as ""), created on first use. NULL only when
 * memory runs out or fam is NULL.
 */
st_metrics_series_t *st_metrics_series(st_metrics_family_t *fam, const char *const *values);

/* Series updates (lock-free; series may be NULL, then nothing happens). */
void st_metrics_series_add(st_metrics_series_t *s, double v);     /* counter, gauge */
void st_metrics_series_set(st_metrics_series_t *s, double v);     /* gauge; counter: max */
void st_metrics_series_observe(st_metrics_series_t *s, double v); /* histogram */
double st_metrics_series_value(const st_metrics_series_t *s);     /* counter, gauge, hist sum */
uint64_t st_metrics_series_count(const st_metrics_series_t *s);   /* histogram observations */

/* Shorthands: find-or-create the series, then update it. */
void st_metrics_inc(st_metrics_family_t *fam, const char *const *values, double v);
void st_metrics_set(st_metrics_family_t *fam, const char *const *values, double v);
void st_metrics_observe(st_metrics_family_t *fam, const char *const *values, double v);

/* Hook run at the start of every st_metrics_render (at most 8 hooks). */
typedef void (*st_metrics_collect_fn)(st_metrics_t *m, void *ud);
int st_metrics_on_collect(st_metrics_t *m, st_metrics_collect_fn fn, void *ud, st_err_t *err);

/*
 * Render every family in definition order, series in creation order, as
 * Prometheus text format 0.0.4. Returns a malloc'd NUL-terminated text the
 * caller frees, or NULL when memory runs out; *len (may be NULL) gets its
 * length.
 */
char *st_metrics_render(st_metrics_t *m, size_t *len);

/* Fixed bucket sets (seconds, and sizes), shared so dashboards line up. */
extern const double st_metrics_latency_bounds[]; /* 100 us .. 10 s */
extern const unsigned st_metrics_latency_nbounds;
extern const double st_metrics_size_bounds[]; /* 1 .. 4096, powers of two */
extern const unsigned st_metrics_size_nbounds;

/*
 * The engine's standard families, defined together so that every settled
 * exposes the same names. The HTTP side feeds the webhook_* and http_*
 * families, and sets flows_started/completed/failed/cancelled from the
 * database's flow_counts at every scrape (cluster-wide; do not add to them
 * elsewhere). The executor and the store feed the rest: transitions,
 * ckpt_*, activity_*, timers_pending.
 */
typedef struct st_metrics_std {
    st_metrics_family_t *flows_started;   /* counter {flow} */
    st_metrics_family_t *flows_completed; /* counter {flow} */
    st_metrics_family_t *flows_failed;    /* counter {flow} */
    st_metrics_family_t *flows_cancelled; /* counter {flow} */
    st_metrics_family_t *transitions;     /* counter {flow} */
    st_metrics_family_t *ckpt_batch_size; /* histogram: checkpoints per commit */
    st_metrics_family_t *ckpt_commit;     /* histogram: commit latency, seconds */
    st_metrics_family_t *activity_calls;  /* counter {driver, outcome} */
    st_metrics_family_t *activity_time;   /* histogram {driver}: seconds per attempt */
    st_metrics_family_t *timers_pending;  /* gauge: wake-ups in the wheel */
    st_metrics_family_t *webhook_events;  /* counter {result: received|duplicate|rejected} */
    st_metrics_family_t *webhook_signals; /* counter: signals stored for webhooks */
    st_metrics_family_t *webhook_batch;   /* histogram: events per webhook commit */
    st_metrics_family_t *http_requests;   /* counter {route, code} */
    st_metrics_family_t *http_time;       /* histogram {route}: seconds per request */
} st_metrics_std_t;

/* Define (or find) the standard families in m. */
int st_metrics_std_init(st_metrics_t *m, st_metrics_std_t *out, st_err_t *err);

#endif
