/*
 * st_metrics.c — the metrics registry: families, series, lock-free updates
 * (see st_metrics.h). Rendering lives in st_metrics_prom.c.
 *
 * Layer: common (metrics family). Depends on libc, pthreads, C11 atomics.
 * Invariants: see st_metrics_int.h.
 */
#include "common/st_metrics_int.h"

#include <stdlib.h>
#include <string.h>

const double st_metrics_latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                            1,      2.5,     5,      10};
const unsigned st_metrics_latency_nbounds =
    sizeof st_metrics_latency_bounds / sizeof st_metrics_latency_bounds[0];
const double st_metrics_size_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
const unsigned st_metrics_size_nbounds =
    sizeof st_metrics_size_bounds / sizeof st_metrics_size_bounds[0];

double st_metrics_bits_to_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static uint64_t dbl_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

st_metrics_t *st_metrics_new(void)
{
    st_metrics_t *m = calloc(1, sizeof *m);
    if (m != NULL)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

static void series_free(st_metrics_series_t *s, unsigned nlabels)
{
    for (unsigned i = 0; s->values != NULL && i < nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->buckets);
    free(s);
}

static void family_free(st_metrics_family_t *f)
{
    st_metrics_series_t *s = f->head;
    while (s != NULL) {
        st_metrics_series_t *next = s->next;
        series_free(s, f->nlabels);
        s = next;
    }
    for (unsigned i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void st_metrics_free(st_metrics_t *m)
{
    if (m == NULL)
        return;
    st_metrics_family_t *f = m->head;
    while (f != NULL) {
        st_metrics_family_t *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names have no ':'. */
static int name_ok(const char *s, int colon)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (colon && c == ':');
        if (!ok)
            return 0;
    }
    return 1;
}

static int shape_check(st_metrics_kind_t kind, const char *name, const char *const *labels,
                       unsigned nlabels, const double *bounds, unsigned nbounds, st_err_t *err)
{
    if (!name_ok(name, 1))
        return st_err_set(err, ST_INVAL, "metric name '%s' is not a Prometheus name",
                          name ? name : "(null)");
    if (nlabels > ST_METRICS_MAX_LABELS)
        return st_err_set(err, ST_INVAL, "metric %s has %u labels; at most %d", name, nlabels,
                          ST_METRICS_MAX_LABELS);
    for (unsigned i = 0; i < nlabels; i++) {
        if (!name_ok(labels[i], 0) || strncmp(labels[i], "__", 2) == 0 ||
            (kind == ST_METRICS_HISTOGRAM && strcmp(labels[i], "le") == 0))
            return st_err_set(err, ST_INVAL, "metric %s: label name '%s' is not allowed", name,
                              labels[i] ? labels[i] : "(null)");
    }
    if (kind != ST_METRICS_HISTOGRAM)
        return 0;
    if (nbounds == 0 || nbounds > ST_METRICS_MAX_BUCKETS)
        return st_err_set(err, ST_INVAL, "histogram %s needs 1 to %d bucket bounds", name,
                          ST_METRICS_MAX_BUCKETS);
    for (unsigned i = 1; i < nbounds; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return st_err_set(err, ST_INVAL, "histogram %s: bounds must increase", name);
    return 0;
}

static int same_shape(const st_metrics_family_t *f, st_metrics_kind_t kind,
                      const char *const *labels, unsigned nlabels)
{
    if (f->kind != kind || f->nlabels != nlabels)
        return 0;
    for (unsigned i = 0; i < nlabels; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return 0;
    return 1;
}

static st_metrics_family_t *family_new(st_metrics_kind_t kind, const char *name, const char *help,
                                       const char *const *labels, unsigned nlabels,
                                       const double *bounds, unsigned nbounds)
{
    st_metrics_family_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    f->kind = kind;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    int ok = f->name != NULL && f->help != NULL;
    for (unsigned i = 0; i < nlabels; i++) {
        f->labels[i] = strdup(labels[i]);
        f->nlabels = i + 1;
        ok = ok && f->labels[i] != NULL;
    }
    if (kind == ST_METRICS_HISTOGRAM) {
        memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
        f->nbounds = nbounds;
    }
    if (!ok) {
        family_free(f);
        return NULL;
    }
    return f;
}

st_metrics_family_t *st_metrics_find(st_metrics_t *m, const char *name)
{
    st_metrics_family_t *f;
    pthread_mutex_lock(&m->mu);
    for (f = m->head; f != NULL && strcmp(f->name, name) != 0; f = f->next)
        ;
    pthread_mutex_unlock(&m->mu);
    return f;
}

st_metrics_family_t *st_metrics_define(st_metrics_t *m, st_metrics_kind_t kind, const char *name,
                                       const char *help, const char *const *labels,
                                       unsigned nlabels, const double *bounds, unsigned nbounds,
                                       st_err_t *err)
{
    if (shape_check(kind, name, labels, nlabels, bounds, nbounds, err) != 0)
        return NULL;
    pthread_mutex_lock(&m->mu);
    st_metrics_family_t *f;
    for (f = m->head; f != NULL && strcmp(f->name, name) != 0; f = f->next)
        ;
    if (f != NULL) {
        int same = same_shape(f, kind, labels, nlabels);
        pthread_mutex_unlock(&m->mu);
        if (!same)
            st_err_set(err, ST_INVAL, "metric %s is already defined with another shape", name);
        return same ? f : NULL;
    }
    f = family_new(kind, name, help, labels, nlabels, bounds, nbounds);
    if (f != NULL) {
        if (m->tail != NULL)
            m->tail->next = f;
        else
            m->head = f;
        m->tail = f;
    }
    pthread_mutex_unlock(&m->mu);
    if (f == NULL)
        st_err_set(err, ST_NOMEM, "no memory for metric %s", name);
    return f;
}

static int values_match(const st_metrics_series_t *s, const char *const *values, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
            return 0;
    return 1;
}

static st_metrics_series_t *series_new(st_metrics_family_t *fam, const char *const *values)
{
    st_metrics_series_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->fam = fam;
    int ok = 1;
    if (fam->nlabels > 0) {
        s->values = calloc(fam->nlabels, sizeof *s->values);
        ok = s->values != NULL;
        for (unsigned i = 0; ok && i < fam->nlabels; i++) {
            s->values[i] = strdup(values[i] ? values[i] : "");
            ok = s->values[i] != NULL;
        }
    }
    if (ok && fam->kind == ST_METRICS_HISTOGRAM) {
        s->buckets = calloc(fam->nbounds + 1, sizeof *s->buckets);
        ok = s->buckets != NULL;
    }
    if (!ok) {
        series_free(s, fam->nlabels);
        return NULL;
    }
    return s;
}

st_metrics_series_t *st_metrics_series(st_metrics_family_t *fam, const char *const *values)
{
    if (fam == NULL)
        return NULL;
    pthread_mutex_lock(&fam->mu);
    st_metrics_series_t *s;
    for (s = fam->head; s != NULL && !values_match(s, values, fam->nlabels); s = s->next)
        ;
    if (s == NULL && (s = series_new(fam, values)) != NULL) {
        if (fam->tail != NULL)
            fam->tail->next = s;
        else
            fam->head = s;
        fam->tail = s;
    }
    pthread_mutex_unlock(&fam->mu);
    return s;
}

static void atomic_add_double(_Atomic uint64_t *a, double v)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old,
                                                  dbl_bits(st_metrics_bits_to_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void st_metrics_series_add(st_metrics_series_t *s, double v)
{
    if (s == NULL || s->fam->kind == ST_METRICS_HISTOGRAM)
        return;
    if (s->fam->kind == ST_METRICS_COUNTER && !(v >= 0))
        return; /* counters never go down */
    atomic_add_double(&s->bits, v);
}

void st_metrics_series_set(st_metrics_series_t *s, double v)
{
    if (s == NULL || s->fam->kind == ST_METRICS_HISTOGRAM)
        return;
    if (s->fam->kind == ST_METRICS_GAUGE) {
        atomic_store_explicit(&s->bits, dbl_bits(v), memory_order_relaxed);
        return;
    }
    uint64_t old = atomic_load_explicit(&s->bits, memory_order_relaxed);
    while (v > st_metrics_bits_to_double(old) &&
           !atomic_compare_exchange_weak_explicit(&s->bits, &old, dbl_bits(v), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void st_metrics_series_observe(st_metrics_series_t *s, double v)
{
    if (s == NULL || s->fam->kind != ST_METRICS_HISTOGRAM)
        return;
    unsigned i = 0;
    while (i < s->fam->nbounds && v > s->fam->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&s->bits, v);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

double st_metrics_series_value(const st_metrics_series_t *s)
{
    if (s == NULL)
        return 0;
    return st_metrics_bits_to_double(
        atomic_load_explicit((_Atomic uint64_t *)&s->bits, memory_order_relaxed));
}

uint64_t st_metrics_series_count(const st_metrics_series_t *s)
{
    if (s == NULL)
        return 0;
    return atomic_load_explicit((_Atomic uint64_t *)&s->count, memory_order_relaxed);
}

void st_metrics_inc(st_metrics_family_t *fam, const char *const *values, double v)
{
    st_metrics_series_add(st_metrics_series(fam, values), v);
}

void st_metrics_set(st_metrics_family_t *fam, const char *const *values, double v)
{
    st_metrics_series_set(st_metrics_series(fam, values), v);
}

void st_metrics_observe(st_metrics_family_t *fam, const char *const *values, double v)
{
    st_metrics_series_observe(st_metrics_series(fam, values), v);
}

int st_metrics_on_collect(st_metrics_t *m, st_metrics_collect_fn fn, void *ud, st_err_t *err)
{
    pthread_mutex_lock(&m->mu);
    int full = m->nhooks == ST_METRICS_MAX_HOOKS;
    if (!full) {
        m->hooks[m->nhooks] = fn;
        m->hook_ud[m->nhooks++] = ud;
    }
    pthread_mutex_unlock(&m->mu);
    if (full)
        return st_err_set(err, ST_LIMIT, "at most %d metrics collect hooks", ST_METRICS_MAX_HOOKS);
    return 0;
}
