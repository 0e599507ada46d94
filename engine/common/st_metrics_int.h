/*
 * st_metrics_int.h — the registry's private structures, shared by
 * st_metrics.c (definition, updates) and st_metrics_prom.c (rendering).
 *
 * Layer: common (metrics family). Depends on libc, pthreads, C11 atomics.
 *
 * Invariants: lists only grow (families and series are never removed
 * before st_metrics_free), so a pointer handed out stays valid; list links
 * are written under the owning mutex and read under it; series values are
 * atomics read and written without locks. Doubles live in atomics as their
 * IEEE-754 bits.
 */
#ifndef ST_METRICS_INT_H
#define ST_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/st_metrics.h"

#define ST_METRICS_MAX_HOOKS 8

struct st_metrics_series {
    st_metrics_series_t *next; /* creation order, under family mu */
    st_metrics_family_t *fam;  /* owning family */
    char **values;             /* fam->nlabels copied label values */
    _Atomic uint64_t bits;     /* counter/gauge value; histogram sum */
    _Atomic uint64_t count;    /* histogram: observations */
    _Atomic uint64_t *buckets; /* histogram: nbounds + 1 per-bucket counts */
};

struct st_metrics_family {
    st_metrics_family_t *next;           /* definition order, under registry mu */
    st_metrics_kind_t kind;              /* counter, gauge, histogram */
    char *name;                          /* metric name (histograms add suffixes) */
    char *help;                          /* HELP text */
    char *labels[ST_METRICS_MAX_LABELS]; /* label names */
    unsigned nlabels;
    double bounds[ST_METRICS_MAX_BUCKETS]; /* histogram upper bounds */
    unsigned nbounds;
    pthread_mutex_t mu; /* guards the series list */
    st_metrics_series_t *head, *tail;
};

struct st_metrics {
    pthread_mutex_t mu; /* guards the family list and the hooks */
    st_metrics_family_t *head, *tail;
    st_metrics_collect_fn hooks[ST_METRICS_MAX_HOOKS];
    void *hook_ud[ST_METRICS_MAX_HOOKS];
    unsigned nhooks;
};

double st_metrics_bits_to_double(uint64_t bits);

#endif
