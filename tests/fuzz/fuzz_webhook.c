/*
 * fuzz_webhook.c — libFuzzer target for POST /webhooks/stripe's parsing:
 * the Stripe-Signature header (st_webhook_sig), the event body
 * (st_http_wh_event_parse, what the handler runs) and the batch
 * statement's array parameters the store builds from it
 * (st_http_wh_batch_events, st_store_webhooks_params).
 *
 * Layer: tests. The first byte picks a mode (the seeds in
 * tests/fuzz/corpus/webhook start with '0', '1' or '2'):
 *   0  the rest is a Stripe-Signature header, checked against a fixed
 *      payload and secrets: it must verify exactly when the reference
 *      model here says so (a v1 entry equal to the HMAC, t within the
 *      tolerance), and no message may quote a secret or a signature;
 *   1  sign/verify properties for a fuzzed secret, timestamp and payload:
 *      a fresh signature verifies (also among other v1 entries and other
 *      secrets, i.e. rotation), exactly up to the tolerance, and any
 *      single-byte change of payload or header fails (except the case of
 *      a hex digit, which decodes to the same signature);
 *   2  the rest is a webhook body: rejected with a well-formed 400, or
 *      accepted with an id, a type and exactly the documented correlation
 *      pairs, whose array literals decode back to exactly those strings.
 * Any property violation aborts; ASan/UBSan report memory errors and UB.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_http_util.h"
#include "http/st_http_int.h"
#include "http/st_webhook_sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOL 300

static const char PAYLOAD[] = "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}";
static const char *const SECRETS[] = {"whsec_old_secret", "whsec_test_secret"};

/* No message may quote a secret or the hex of a signature. */
static void check_redacted(const st_err_t *err, const char *header)
{
    for (size_t i = 0; i < 2; i++)
        FZ_CHECK(strstr(err->msg, SECRETS[i]) == NULL && strstr(err->hint, SECRETS[i]) == NULL);
    const char *v1 = header ? strstr(header, "v1=") : NULL;
    if (v1 != NULL && strlen(v1 + 3) >= 16) {
        char head[17];
        memcpy(head, v1 + 3, 16);
        head[16] = '\0';
        FZ_CHECK(strstr(err->msg, head) == NULL);
    }
}

/* The v1 HMAC of (secret, t, payload) as raw bytes, via the signer. */
static void mac_of(const char *secret, int64_t t, const void *p, size_t n, unsigned char out[32])
{
    char hdr[160];
    st_webhook_sig_parsed_t sig;
    FZ_CHECK(st_webhook_sig_sign(secret, t, p, n, hdr, sizeof hdr) == 0);
    FZ_CHECK(st_webhook_sig_parse(hdr, &sig, NULL) == 0 && sig.n_v1 == 1 && sig.t == t);
    memcpy(out, sig.v1[0], 32);
}

/* Mode 0: an arbitrary header against the reference model. */
static void fuzz_header(const char *header)
{
    st_webhook_sig_parsed_t sig;
    st_err_t err;
    st_err_clear(&err);
    int prc = st_webhook_sig_parse(header, &sig, &err);
    FZ_CHECK(prc == 0 || prc == ST_PARSE || prc == ST_AUTH);
    if (prc != 0) {
        check_redacted(&err, header);
        st_err_clear(&err);
        FZ_CHECK(st_webhook_sig_verify(header, PAYLOAD, strlen(PAYLOAD), SECRETS, 2, 0, TOL,
                                       &err) == prc);
        return;
    }
    FZ_CHECK(sig.n_v1 >= 1 && sig.n_v1 <= ST_WEBHOOK_SIG_MAX_V1);
    FZ_CHECK(sig.t >= 0 && sig.t <= 999999999999LL);
    FZ_CHECK(strlen(header) <= ST_WEBHOOK_SIG_HEADER_MAX);
    int match = 0;
    for (unsigned s = 0; s < 2; s++) {
        unsigned char mac[32];
        mac_of(SECRETS[s], sig.t, PAYLOAD, strlen(PAYLOAD), mac);
        for (unsigned i = 0; i < sig.n_v1; i++)
            match |= memcmp(mac, sig.v1[i], 32) == 0;
    }
    static const int64_t offsets[] = {0, TOL, -TOL, TOL + 1, -TOL - 1};
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
        int in_time = offsets[k] >= -TOL && offsets[k] <= TOL;
        st_err_clear(&err);
        int rc = st_webhook_sig_verify(header, PAYLOAD, strlen(PAYLOAD), SECRETS, 2,
                                       sig.t + offsets[k], TOL, &err);
        FZ_CHECK((rc == 0) == (match && in_time));
        FZ_CHECK(rc == 0 || rc == ST_AUTH);
        check_redacted(&err, header);
    }
}

static int verify(const char *h, const void *p, size_t n, const char *const *secrets, unsigned ns,
                  int64_t now)
{
    st_err_t err;
    st_err_clear(&err);
    int rc = st_webhook_sig_verify(h, p, n, secrets, ns, now, TOL, &err);
    FZ_CHECK(rc == 0 || rc == ST_AUTH || rc == ST_PARSE);
    return rc;
}

/* 1 when changing header byte `pos` to `to` keeps the same meaning. */
static int same_meaning(char from, char to)
{
    return isxdigit((unsigned char)from) && isxdigit((unsigned char)to) &&
           tolower((unsigned char)from) == tolower((unsigned char)to);
}

/* Mode 1: d = [secret length][mutation position][mutation xor][t: 5 bytes]
 * secret payload. */
static void fuzz_roundtrip(const uint8_t *d, size_t n)
{
    if (n < 8)
        return;
    size_t slen = 1 + d[0] % 48, pos = d[1];
    uint8_t x = d[2] ? d[2] : 1;
    int64_t t = 0;
    for (int i = 3; i < 8; i++)
        t = t * 256 + d[i];
    t %= 1000000000000LL; /* Stripe's header carries at most 12 digits */
    d += 8, n -= 8;
    if (n < slen)
        return;
    char secret[49];
    for (size_t i = 0; i < slen; i++)
        secret[i] = d[i] ? (char)d[i] : 'x';
    secret[slen] = '\0';
    const uint8_t *p = d + slen;
    size_t plen = n - slen;
    const char *mine[] = {secret}, *rotated[] = {"whsec_other", secret}, *other[] = {"whsec_other"};
    if (strcmp(secret, "whsec_other") == 0)
        return;

    char hdr[160], two[512];
    FZ_CHECK(st_webhook_sig_sign(secret, t, p, plen, hdr, sizeof hdr) == 0);
    FZ_CHECK(verify(hdr, p, plen, mine, 1, t) == 0);
    FZ_CHECK(verify(hdr, p, plen, rotated, 2, t) == 0);
    FZ_CHECK(verify(hdr, p, plen, other, 1, t) == ST_AUTH);
    FZ_CHECK(verify(hdr, p, plen, mine, 1, t + TOL) == 0);
    FZ_CHECK(verify(hdr, p, plen, mine, 1, t - TOL) == 0);
    FZ_CHECK(verify(hdr, p, plen, mine, 1, t + TOL + 1) == ST_AUTH);
    FZ_CHECK(verify(hdr, p, plen, mine, 1, t - TOL - 1) == ST_AUTH);

    /* Stripe rotating its secret: another v1 first, a v0 around. */
    char old[160];
    FZ_CHECK(st_webhook_sig_sign("whsec_other", t, p, plen, old, sizeof old) == 0);
    snprintf(two, sizeof two, "%s,%s,v0=abc", old, strchr(hdr, ',') + 1);
    FZ_CHECK(verify(two, p, plen, mine, 1, t) == 0);
    FZ_CHECK(verify(two, p, plen, other, 1, t) == 0);

    /* Any one-byte change of the payload fails; so does dropping a byte. */
    if (plen > 0) {
        uint8_t *q = malloc(plen);
        FZ_CHECK(q != NULL);
        memcpy(q, p, plen);
        q[pos % plen] ^= x;
        FZ_CHECK(verify(hdr, q, plen, mine, 1, t) == ST_AUTH);
        FZ_CHECK(verify(hdr, p, plen - 1, mine, 1, t) == ST_AUTH);
        free(q);
    }
    /* Any one-byte change of the header fails, but for a hex digit's case. */
    size_t hlen = strlen(hdr);
    char from = hdr[pos % hlen], to = (char)(from ^ (char)x);
    if (!same_meaning(from, to)) {
        hdr[pos % hlen] = to;
        FZ_CHECK(verify(hdr, p, plen, mine, 1, t) != 0);
    }
}

/* An id as the handler's mapping defines it: a non-empty string of at
 * most 255 bytes, or an expanded object's "id". */
static const char *model_id(json_t *v)
{
    if (json_is_object(v))
        v = json_object_get(v, "id");
    const char *s = json_string_value(v);
    return s != NULL && s[0] != '\0' && strlen(s) <= 255 ? s : NULL;
}

/* The job's pairs are exactly the documented ones, in order, each once:
 * (data.object.object, its id), then payment_intent, invoice, customer,
 * charge. The body is parsed again here, apart from the handler's tree. */
static void check_pairs(const char *body, size_t n, const st_http_wh_job_t *job)
{
    static const char *const fields[] = {"payment_intent", "invoice", "customer", "charge"};
    json_t *ev = json_loadb(body, n, 0, NULL);
    FZ_CHECK(ev != NULL);
    FZ_CHECK(strcmp(job->event_id, model_id(json_object_get(ev, "id"))) == 0);
    json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
    const char *kind = json_string_value(json_object_get(obj, "object"));
    const char *k[5] = {kind && strlen(kind) <= 255 ? kind : NULL}, *v[5];
    v[0] = model_id(json_object_get(obj, "id"));
    for (int i = 0; i < 4; i++) {
        k[i + 1] = fields[i];
        v[i + 1] = model_id(json_object_get(obj, fields[i]));
    }
    unsigned want = 0;
    for (int i = 0; i < 5; i++) {
        if (k[i] == NULL || v[i] == NULL)
            continue;
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= k[j] && v[j] && !strcmp(k[i], k[j]) && !strcmp(v[i], v[j]);
        if (dup)
            continue;
        FZ_CHECK(want < job->ncorr);
        FZ_CHECK(strcmp(job->keys[want], k[i]) == 0 && strcmp(job->values[want], v[i]) == 0);
        want++;
    }
    FZ_CHECK(want == job->ncorr);
    json_decref(ev);
}

/* Mode 2: a webhook body, as the handler parses and batches it. */
static void fuzz_event(const uint8_t *d, size_t n)
{
    char *body = fz_cstr(d, n); /* the server's body buffer is NUL terminated */
    json_t *ev = NULL;
    st_http_wh_job_t job, copy;
    st_http_resp_t resp;
    memset(&job, 0, sizeof job);
    memset(&resp, 0, sizeof resp);
    int rc = st_http_wh_event_parse(body, n, &ev, &job, &resp);
    if (rc != 0) {
        FZ_CHECK(rc == ST_PARSE);
        fz_check_error(&resp, 400);
    } else {
        FZ_CHECK(resp.status == 0 && resp.body == NULL);
        FZ_CHECK(job.payload == body && job.event_id[0] && job.type[0]);
        FZ_CHECK(strlen(job.event_id) <= 255 && strlen(job.type) <= 255);
        FZ_CHECK(job.ncorr <= ST_HTTP_WH_MAX_CORR);
        for (unsigned i = 0; i < job.ncorr; i++) {
            FZ_CHECK(job.keys[i] && job.values[i] && job.values[i][0]);
            for (unsigned k = 0; k < i; k++)
                FZ_CHECK(strcmp(job.keys[i], job.keys[k]) || strcmp(job.values[i], job.values[k]));
        }
        check_pairs(body, n, &job);
        /* A batch of two: the job and a copy. */
        copy = job;
        job.next = &copy;
        copy.next = NULL;
        fz_check_batch(&job, 2);
    }
    free(resp.body);
    json_decref(ev);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] % 3 == 0) {
        char *h = fz_cstr(data + 1, size - 1);
        fuzz_header(h);
        free(h);
    } else if (data[0] % 3 == 1) {
        fuzz_roundtrip(data + 1, size - 1);
    } else {
        fuzz_event(data + 1, size - 1);
    }
    return 0;
}
