/*
 * st_sim_hooks.c — webhook delivery thread (see st_sim_hooks.h).
 *
 * The queue is a linked list under h->mu. The thread wakes every 50 ms (or
 * when kicked), sends each delivery whose sim-time retry point and real-time
 * hold have passed, and reschedules failures with backoff. Secrets stay in
 * the queue entries and the HMAC call; nothing is logged.
 */
#include "st_sim_hooks.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "st_sim_faults.h"
#include "st_sim_sign.h"

#define GIVE_UP_AFTER (3 * 86400)
#define BACKOFF_FIRST 60
#define BACKOFF_MAX   (6 * 3600)
#define HOLD_MS       300
#define LOG_KEEP      500

typedef struct delivery {
    struct delivery *next;
    char *url, *secret, *event_id, *payload; /* owned copies */
    int64_t created;                         /* event time (sim) */
    int64_t next_at;                         /* next attempt (sim) */
    int64_t hold_until_ms;                   /* reorder hold (monotonic ms) */
    int attempts;                            /* attempts made */
} delivery_t;

struct st_sim_hooks {
    st_sim_t *sim;      /* for the clock and faults only; never takes sim->mu */
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* kicked on enqueue, advance and stop */
    pthread_t thread;
    int started, stop;
    delivery_t *head; /* pending deliveries, arrival order */
    long delivered, failed_attempts, given_up, pending;
    json_t *log; /* recent attempts: event, url, status, attempt */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void delivery_free(delivery_t *d)
{
    if (!d)
        return;
    free(d->url);
    free(d->secret);
    free(d->event_id);
    free(d->payload);
    free(d);
}

static size_t sink(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

/* POST one delivery; returns the HTTP status or 0 when unreachable. */
static long post(CURL *curl, delivery_t *d, int64_t now)
{
    char sig[256], hdr[300];
    if (st_sim_sign_header(d->secret ? d->secret : "", now, d->payload, strlen(d->payload), sig,
                           sizeof(sig), NULL) < 0)
        return 0;
    snprintf(hdr, sizeof(hdr), "Stripe-Signature: %s", sig);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
    h = curl_slist_append(h, hdr);
    h = curl_slist_append(h, "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, d->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d->payload);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(d->payload));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink);
    long code = 0;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    return code;
}

static void log_attempt(st_sim_hooks_t *h, delivery_t *d, long code)
{
    json_array_append_new(h->log, json_pack("{s:s, s:s, s:i, s:i}", "event", d->event_id, "url",
                                            d->url, "status", (int)code, "attempt", d->attempts));
    if (json_array_size(h->log) > LOG_KEEP)
        json_array_remove(h->log, 0);
}

/* Take the first due delivery off the queue (h->mu held). */
static delivery_t *take_due(st_sim_hooks_t *h, int64_t now, int64_t ms)
{
    for (delivery_t **pp = &h->head; *pp; pp = &(*pp)->next) {
        delivery_t *d = *pp;
        if (d->next_at <= now && d->hold_until_ms <= ms) {
            *pp = d->next;
            d->next = NULL;
            return d;
        }
    }
    return NULL;
}

static void requeue(st_sim_hooks_t *h, delivery_t *d)
{
    delivery_t **pp = &h->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = d;
}

/* One attempt, made without h->mu; then book the outcome. */
static void attempt(st_sim_hooks_t *h, CURL *curl, delivery_t *d)
{
    st_sim_hook_faults_t f;
    st_sim_faults_hooks(h->sim->faults, &f);
    int64_t now = st_sim_now(h->sim);
    long code = f.fail > 0 && st_sim_faults_draw(h->sim->faults) < f.fail ? 0 : post(curl, d, now);
    pthread_mutex_lock(&h->mu);
    d->attempts++;
    log_attempt(h, d, code);
    if (code >= 200 && code < 300) {
        h->delivered++;
        h->pending--;
        delivery_free(d);
    } else {
        h->failed_attempts++;
        int64_t wait = BACKOFF_FIRST << (d->attempts < 12 ? d->attempts - 1 : 11);
        d->next_at = now + (wait > BACKOFF_MAX ? BACKOFF_MAX : wait);
        if (d->next_at > d->created + GIVE_UP_AFTER) {
            h->given_up++;
            h->pending--;
            delivery_free(d);
        } else {
            requeue(h, d);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

static void *run(void *arg)
{
    st_sim_hooks_t *h = arg;
    CURL *curl = curl_easy_init();
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        delivery_t *d = take_due(h, st_sim_now(h->sim), mono_ms());
        if (d) {
            pthread_mutex_unlock(&h->mu);
            attempt(h, curl, d);
            pthread_mutex_lock(&h->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    curl_easy_cleanup(curl);
    return NULL;
}

int st_sim_hooks_new(st_sim_t *sim, st_sim_hooks_t **out, st_err_t *err)
{
    st_sim_hooks_t *h = calloc(1, sizeof(*h));
    if (!h)
        return st_err_set(err, ST_NOMEM, "out of memory");
    h->sim = sim;
    h->log = json_array();
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (pthread_create(&h->thread, NULL, run, h) != 0) {
        st_sim_hooks_free(h);
        return st_err_set(err, ST_INTERNAL, "cannot start the webhook thread");
    }
    h->started = 1;
    *out = h;
    return 0;
}

void st_sim_hooks_free(st_sim_hooks_t *h)
{
    if (!h)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    while (h->head) {
        delivery_t *d = h->head;
        h->head = d->next;
        delivery_free(d);
    }
    json_decref(h->log);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static delivery_t *delivery_new(const char *url, const char *secret, const char *event_id,
                                const char *payload, int64_t created)
{
    delivery_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->url = strdup(url);
    d->secret = strdup(secret ? secret : "");
    d->event_id = strdup(event_id);
    d->payload = strdup(payload);
    d->created = created;
    d->next_at = created;
    if (!d->url || !d->secret || !d->event_id || !d->payload) {
        delivery_free(d);
        return NULL;
    }
    return d;
}

void st_sim_hooks_enqueue(st_sim_hooks_t *h, const char *url, const char *secret,
                          const char *event_id, const char *payload, int64_t created)
{
    st_sim_hook_faults_t f;
    st_sim_faults_hooks(h->sim->faults, &f);
    int copies = f.dup > 0 && st_sim_faults_draw(h->sim->faults) < f.dup ? 2 : 1;
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < copies; i++) {
        delivery_t *d = delivery_new(url, secret, event_id, payload, created);
        if (!d)
            break;
        if (f.reorder > 0 && st_sim_faults_draw(h->sim->faults) < f.reorder)
            d->hold_until_ms = mono_ms() + HOLD_MS;
        requeue(h, d);
        h->pending++;
    }
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void st_sim_hooks_kick(st_sim_hooks_t *h)
{
    pthread_mutex_lock(&h->mu);
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

json_t *st_sim_hooks_describe(st_sim_hooks_t *h)
{
    pthread_mutex_lock(&h->mu);
    json_t *queue = json_array();
    for (delivery_t *d = h->head; d; d = d->next)
        json_array_append_new(queue, json_pack("{s:s, s:s, s:i, s:I}", "event", d->event_id, "url",
                                               d->url, "attempts", d->attempts, "next_attempt",
                                               (json_int_t)d->next_at));
    json_t *o =
        json_pack("{s:i, s:i, s:i, s:i, s:o, s:o}", "delivered", (int)h->delivered,
                  "failed_attempts", (int)h->failed_attempts, "given_up", (int)h->given_up,
                  "pending", (int)h->pending, "queue", queue, "log", json_deep_copy(h->log));
    pthread_mutex_unlock(&h->mu);
    return o;
}
