/*
 * test_http_metrics.c — the metrics registry and its Prometheus rendering:
 * exact text for counters, gauges and histograms, label escaping, shape
 * checks, monotonic counters, collect hooks and concurrent updates.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_metrics.h"
#include "st_test.h"

START_TEST(renders_counters_and_gauges_exactly)
{
    st_metrics_t *m = st_metrics_new();
    st_err_t err;
    const char *labels[] = {"flow"};
    st_metrics_family_t *c = st_metrics_define(m, ST_METRICS_COUNTER, "x_total", "Things done.",
                                               labels, 1, NULL, 0, &err);
    st_metrics_family_t *g =
        st_metrics_define(m, ST_METRICS_GAUGE, "x_level", "Level.", NULL, 0, NULL, 0, &err);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(g);
    const char *a[] = {"charge"}, *b[] = {"dun\"ning\\\n"};
    st_metrics_inc(c, a, 2);
    st_metrics_inc(c, b, 1);
    st_metrics_inc(c, a, 0.5);
    st_metrics_set(g, NULL, -3);
    char *text = st_metrics_render(m, NULL);
    ck_assert_str_eq(text, "# HELP x_total Things done.\n"
                           "# TYPE x_total counter\n"
                           "x_total{flow=\"charge\"} 2.5\n"
                           "x_total{flow=\"dun\\\"ning\\\\\\n\"} 1\n"
                           "# HELP x_level Level.\n"
                           "# TYPE x_level gauge\n"
                           "x_level -3\n");
    free(text);
    st_metrics_free(m);
}
END_TEST

START_TEST(renders_histograms_cumulatively)
{
    st_metrics_t *m = st_metrics_new();
    st_err_t err;
    const double bounds[] = {0.1, 1};
    const char *labels[] = {"driver"};
    st_metrics_family_t *h = st_metrics_define(m, ST_METRICS_HISTOGRAM, "lat_seconds", "Latency.",
                                               labels, 1, bounds, 2, &err);
    ck_assert_ptr_nonnull(h);
    const char *v[] = {"stripe"};
    st_metrics_observe(h, v, 0.05);
    st_metrics_observe(h, v, 0.1); /* on the bound: counted in le="0.1" */
    st_metrics_observe(h, v, 0.5);
    st_metrics_observe(h, v, 7);
    char *text = st_metrics_render(m, NULL);
    ck_assert_str_eq(text, "# HELP lat_seconds Latency.\n"
                           "# TYPE lat_seconds histogram\n"
                           "lat_seconds_bucket{driver=\"stripe\",le=\"0.1\"} 2\n"
                           "lat_seconds_bucket{driver=\"stripe\",le=\"1\"} 3\n"
                           "lat_seconds_bucket{driver=\"stripe\",le=\"+Inf\"} 4\n"
                           "lat_seconds_sum{driver=\"stripe\"} 7.65\n"
                           "lat_seconds_count{driver=\"stripe\"} 4\n");
    free(text);
    st_metrics_free(m);
}
END_TEST

START_TEST(checks_shapes_and_names)
{
    st_metrics_t *m = st_metrics_new();
    st_err_t err;
    const char *l1[] = {"a"}, *l2[] = {"b"}, *le[] = {"le"}, *bad[] = {"no-dash"};
    const double up[] = {1, 2}, down[] = {2, 1};
    st_metrics_family_t *f =
        st_metrics_define(m, ST_METRICS_COUNTER, "c", "", l1, 1, NULL, 0, &err);
    ck_assert_ptr_eq(st_metrics_define(m, ST_METRICS_COUNTER, "c", "", l1, 1, NULL, 0, &err), f);
    ck_assert_ptr_null(st_metrics_define(m, ST_METRICS_COUNTER, "c", "", l2, 1, NULL, 0, &err));
    ck_assert_int_eq(err.code, ST_INVAL);
    ck_assert_ptr_null(st_metrics_define(m, ST_METRICS_GAUGE, "c", "", l1, 1, NULL, 0, &err));
    ck_assert_ptr_null(st_metrics_define(m, ST_METRICS_GAUGE, "1x", "", NULL, 0, NULL, 0, &err));
    ck_assert_ptr_null(st_metrics_define(m, ST_METRICS_GAUGE, "g", "", bad, 1, NULL, 0, &err));
    ck_assert_ptr_null(st_metrics_define(m, ST_METRICS_HISTOGRAM, "h", "", le, 1, up, 2, &err));
    ck_assert_ptr_null(st_metrics_define(m, ST_METRICS_HISTOGRAM, "h", "", NULL, 0, down, 2, &err));
    ck_assert_ptr_null(st_metrics_define(m, ST_METRICS_HISTOGRAM, "h", "", NULL, 0, up, 0, &err));
    ck_assert_ptr_nonnull(
        st_metrics_define(m, ST_METRICS_HISTOGRAM, "h", "", NULL, 0, up, 2, &err));
    ck_assert_ptr_eq(st_metrics_find(m, "c"), f);
    ck_assert_ptr_null(st_metrics_find(m, "zz"));
    st_metrics_free(m);
}
END_TEST

START_TEST(counters_never_go_down)
{
    st_metrics_t *m = st_metrics_new();
    st_metrics_family_t *c =
        st_metrics_define(m, ST_METRICS_COUNTER, "c_total", "", NULL, 0, NULL, 0, NULL);
    st_metrics_series_t *s = st_metrics_series(c, NULL);
    st_metrics_series_set(s, 10);
    st_metrics_series_set(s, 4); /* copying a monotonic source: ignored */
    st_metrics_series_add(s, -1);
    ck_assert(st_metrics_series_value(s) == 10);
    st_metrics_family_t *g =
        st_metrics_define(m, ST_METRICS_GAUGE, "g", "", NULL, 0, NULL, 0, NULL);
    st_metrics_series_t *gs = st_metrics_series(g, NULL);
    st_metrics_series_set(gs, 10);
    st_metrics_series_add(gs, -4);
    ck_assert(st_metrics_series_value(gs) == 6);
    st_metrics_free(m);
}
END_TEST

static void hook(st_metrics_t *m, void *ud)
{
    int *calls = ud;
    (*calls)++;
    st_metrics_set(st_metrics_find(m, "timers"), NULL, 42);
}

START_TEST(collect_hooks_run_before_rendering)
{
    st_metrics_t *m = st_metrics_new();
    st_metrics_define(m, ST_METRICS_GAUGE, "timers", "", NULL, 0, NULL, 0, NULL);
    int calls = 0;
    ck_assert_int_eq(st_metrics_on_collect(m, hook, &calls, NULL), 0);
    char *text = st_metrics_render(m, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\ntimers 42\n"));
    ck_assert_int_eq(calls, 1);
    free(text);
    st_metrics_free(m);
}
END_TEST

typedef struct worker {
    st_metrics_family_t *c, *h;
} worker_t;

static void *work(void *ud)
{
    worker_t *w = ud;
    const char *v[] = {"same"};
    for (int i = 0; i < 20000; i++) {
        st_metrics_inc(w->c, v, 1);
        st_metrics_observe(w->h, NULL, 0.001);
    }
    return NULL;
}

START_TEST(concurrent_updates_are_exact)
{
    st_metrics_t *m = st_metrics_new();
    const char *l[] = {"k"};
    worker_t w = {
        st_metrics_define(m, ST_METRICS_COUNTER, "n_total", "", l, 1, NULL, 0, NULL),
        st_metrics_define(m, ST_METRICS_HISTOGRAM, "d", "", NULL, 0, st_metrics_latency_bounds,
                          st_metrics_latency_nbounds, NULL),
    };
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, work, &w);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    const char *v[] = {"same"};
    ck_assert(st_metrics_series_value(st_metrics_series(w.c, v)) == 80000);
    ck_assert_uint_eq(st_metrics_series_count(st_metrics_series(w.h, NULL)), 80000);
    st_metrics_free(m);
}
END_TEST

START_TEST(standard_families_are_defined_once)
{
    st_metrics_t *m = st_metrics_new();
    st_metrics_std_t a, b;
    ck_assert_int_eq(st_metrics_std_init(m, &a, NULL), 0);
    ck_assert_int_eq(st_metrics_std_init(m, &b, NULL), 0);
    ck_assert_ptr_eq(a.flows_started, b.flows_started);
    ck_assert_ptr_eq(a.ckpt_commit, b.ckpt_commit);
    char *text = st_metrics_render(m, NULL);
    ck_assert_ptr_nonnull(strstr(text, "settle_webhook_events_total{result=\"rejected\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE settle_checkpoint_batch_size histogram\n"));
    free(text);
    st_metrics_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, renders_counters_and_gauges_exactly);
    tcase_add_test(tc, renders_histograms_cumulatively);
    tcase_add_test(tc, checks_shapes_and_names);
    tcase_add_test(tc, counters_never_go_down);
    tcase_add_test(tc, collect_hooks_run_before_rendering);
    tcase_add_test(tc, concurrent_updates_are_exact);
    tcase_add_test(tc, standard_families_are_defined_once);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
