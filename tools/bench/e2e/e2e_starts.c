/*
 * e2e_starts.c — single and batch starts through the API (see
 * e2e_starts.h). A batch answer is checked item by item: it must hold one
 * numeric "status" per item sent, each 200 or 201.
 */
#include "e2e_starts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_http.h"
#include "e2e_stack.h"

#define ITEM_CAP 1024

static size_t request_head(char *buf, size_t cap, const char *path, size_t blen)
{
    int n = snprintf(buf, cap,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer " E2E_TOKEN "\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     path, blen);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Request r covers flows [first, end). */
static void request_span(const e2e_starts_t *s, size_t n, size_t r, size_t *first, size_t *end)
{
    size_t per = s->per_batch ? s->per_batch : 1;
    *first = r * per;
    *end = *first + per < n ? *first + per : n;
}

typedef struct run {
    e2e_starts_t *s;
    size_t n;
} run_t;

/* The body goes after a head of at most 512 bytes, written last once its
 * length is known. */
static size_t make_request(size_t r, char *buf, size_t cap, void *ud)
{
    run_t *run = ud;
    e2e_starts_t *s = run->s;
    size_t first, end, len = 0;
    request_span(s, run->n, r, &first, &end);
    char *body = buf + 512;
    size_t room = cap - 512 - 1;
    if (s->per_batch)
        len += (size_t)snprintf(body, room, "{\"items\":[");
    for (size_t i = first; i < end; i++) {
        if (room - len < ITEM_CAP)
            e2e_die("starts", "a batch does not fit its request buffer");
        int item = s->body(i, body + len, ITEM_CAP, s->ctx);
        if (item <= 0 || item >= ITEM_CAP)
            e2e_die("starts", "a start body does not fit in 1 KiB");
        len += (size_t)item;
        if (s->per_batch && i + 1 < end)
            body[len++] = ',';
    }
    if (s->per_batch)
        len += (size_t)snprintf(body + len, room - len, "]}");
    char head[512];
    size_t hlen = request_head(head, sizeof head,
                               s->per_batch ? "/v1/instances/batch" : "/v1/instances", len);
    if (hlen == 0)
        e2e_die("starts", "a request head does not fit");
    memmove(buf + hlen, body, len);
    memcpy(buf, head, hlen);
    int64_t now = e2e_wall_us(); /* the request goes out as this returns */
    for (size_t i = first; s->sent_us != NULL && i < end; i++)
        s->sent_us[i] = now;
    return hlen + len;
}

static void note_bad(e2e_starts_t *s, int status, const char *body, size_t len)
{
    if (s->bad++ == 0) {
        s->bad_status = status;
        snprintf(s->bad_body, sizeof s->bad_body, "%.*s", (int)(len < 200 ? len : 200), body);
    }
}

/* The item statuses of a batch answer: every `"status":<digits>` (an
 * instance's own status is a string, so it never matches). */
static void batch_answer(e2e_starts_t *s, size_t items, const char *body, size_t len)
{
    size_t seen = 0;
    const char *p = body, *end = body + len;
    while ((p = memmem(p, (size_t)(end - p), "\"status\":", 9)) != NULL) {
        p += 9;
        while (p < end && *p == ' ')
            p++;
        if (p >= end || *p < '0' || *p > '9')
            continue;
        int st = atoi(p);
        seen++;
        if (st == 200 || st == 201)
            s->ok++;
        else
            note_bad(s, st, body, len);
    }
    if (seen != items)
        note_bad(s, -1, body, len);
}

static void on_answer(size_t r, int status, const char *body, size_t len, void *ud)
{
    run_t *run = ud;
    e2e_starts_t *s = run->s;
    size_t first, end;
    request_span(s, run->n, r, &first, &end);
    int64_t now = e2e_wall_us();
    for (size_t i = first; s->answered_us != NULL && i < end; i++)
        s->answered_us[i] = now;
    if (status != 200 && status != 201) {
        note_bad(s, status, body, len);
        return;
    }
    if (s->per_batch)
        batch_answer(s, end - first, body, len);
    else
        s->ok++;
}

double e2e_starts_run(int port, size_t n, e2e_starts_t *s)
{
    run_t run = {.s = s, .n = n};
    size_t per = s->per_batch ? s->per_batch : 1;
    s->requests = (n + per - 1) / per;
    s->ok = s->bad = 0;
    e2e_http_stats_t hs;
    if (e2e_http_run(port, s->clients, s->requests, 1024 + per * ITEM_CAP, make_request, on_answer,
                     &run, &hs) != 0)
        e2e_die("starts", "no connection to settled");
    if (s->bad > 0 || s->ok != n) {
        char why[512];
        snprintf(why, sizeof why, "%zu of %zu accepted; first refusal: status %d %s", s->ok, n,
                 s->bad_status, s->bad_body);
        e2e_die(s->per_batch ? "batch starts" : "starts", why);
    }
    return hs.seconds;
}

static size_t make_probe(size_t i, char *buf, size_t cap, void *ud)
{
    static const char body[] = "{\"items\":[]}";
    size_t h = request_head(buf, cap, "/v1/instances/batch", sizeof body - 1);
    if (h == 0 || h + sizeof body > cap)
        return 0;
    memcpy(buf + h, body, sizeof body - 1);
    return h + sizeof body - 1;
}

static void on_probe(size_t i, int status, const char *body, size_t len, void *ud)
{
    *(int *)ud = status;
}

int e2e_batch_supported(int port)
{
    int status = 0;
    e2e_http_stats_t hs;
    if (e2e_http_run(port, 1, 1, 4096, make_probe, on_probe, &status, &hs) != 0 || status == 0)
        e2e_die("batch probe", "settled did not answer");
    return status != 404 && status != 405;
}
