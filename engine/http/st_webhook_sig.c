/*
 * st_webhook_sig.c — Stripe webhook signature parsing and checking (see
 * st_webhook_sig.h).
 */
#include "http/st_webhook_sig.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "common/st_hex.h"

/* Decode exactly 64 hex digits into 32 bytes. */
static int decode_sig(const char *s, size_t n, unsigned char out[32])
{
    if (n != 64)
        return -1;
    return st_hex_decode(s, out, 32) == 0 ? 0 : -1;
}

static int parse_time(const char *s, size_t n, int64_t *t)
{
    int64_t v = 0;
    if (n == 0 || n > 12)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *t = v;
    return 0;
}

/* Handle one "key=value" element of the header. */
static int parse_item(const char *item, size_t n, st_webhook_sig_parsed_t *out, int *have_t,
                      st_err_t *err)
{
    const char *eq = memchr(item, '=', n);
    if (eq == NULL)
        return st_err_set(err, ST_PARSE,
                          "Stripe-Signature element without '=': not a Stripe "
                          "signature header");
    size_t klen = (size_t)(eq - item), vlen = n - klen - 1;
    const char *val = eq + 1;
    if (klen == 1 && item[0] == 't') {
        if (parse_time(val, vlen, &out->t) != 0)
            return st_err_set(err, ST_PARSE, "Stripe-Signature has a malformed timestamp");
        *have_t = 1;
    } else if (klen == 2 && item[0] == 'v' && item[1] == '1') {
        if (out->n_v1 == ST_WEBHOOK_SIG_MAX_V1)
            return 0; /* more than Stripe ever sends; ignore the rest */
        if (decode_sig(val, vlen, out->v1[out->n_v1]) != 0)
            return st_err_set(err, ST_PARSE,
                              "Stripe-Signature has a malformed v1 signature "
                              "(expected 64 hex digits)");
        out->n_v1++;
    }
    return 0; /* other schemes (v0, ...) are ignored */
}

int st_webhook_sig_parse(const char *header, st_webhook_sig_parsed_t *out, st_err_t *err)
{
    int have_t = 0;
    memset(out, 0, sizeof *out);
    if (header == NULL || header[0] == '\0')
        return st_err_set(err, ST_AUTH, "missing Stripe-Signature header");
    size_t total = strnlen(header, ST_WEBHOOK_SIG_HEADER_MAX + 1);
    if (total > ST_WEBHOOK_SIG_HEADER_MAX)
        return st_err_set(err, ST_PARSE, "Stripe-Signature header is longer than %d bytes",
                          ST_WEBHOOK_SIG_HEADER_MAX);
    const char *p = header;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        int rc = parse_item(p, n, out, &have_t, err);
        if (rc != 0)
            return rc;
        p += n;
        if (*p == ',')
            p++;
    }
    if (!have_t)
        return st_err_set(err, ST_PARSE, "Stripe-Signature has no timestamp (t=...)");
    if (out->n_v1 == 0)
        return st_err_set(err, ST_AUTH, "Stripe-Signature has no v1 signature");
    return 0;
}

/* HMAC-SHA256(secret, "<t>." || payload). Returns 0, or -1 if OpenSSL fails. */
static int compute(const char *secret, int64_t t, const void *payload, size_t len,
                   unsigned char mac[32])
{
    char prefix[32];
    int plen = snprintf(prefix, sizeof prefix, "%" PRId64 ".", t);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    size_t outl = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m != NULL ? EVP_MAC_CTX_new(m) : NULL;
    int ok = ctx != NULL &&
             EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) == 1 &&
             EVP_MAC_update(ctx, (const unsigned char *)prefix, (size_t)plen) == 1 &&
             EVP_MAC_update(ctx, payload, len) == 1 && EVP_MAC_final(ctx, mac, &outl, 32) == 1 &&
             outl == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return ok ? 0 : -1;
}

int st_webhook_sig_verify(const char *header, const void *payload, size_t len,
                          const char *const *secrets, unsigned n_secrets, int64_t now_s,
                          int64_t tolerance_s, st_err_t *err)
{
    st_webhook_sig_parsed_t sig;
    int rc = st_webhook_sig_parse(header, &sig, err);
    if (rc != 0)
        return rc;
    if (n_secrets == 0)
        return st_err_set(err, ST_AUTH, "no webhook secret is configured");
    int64_t age = now_s - sig.t;
    if (age > tolerance_s || -age > tolerance_s) {
        st_err_set(err, ST_AUTH,
                   "Stripe-Signature timestamp is %" PRId64 " s %s now, outside the "
                   "%" PRId64 " s tolerance",
                   age < 0 ? -age : age, age < 0 ? "ahead of" : "behind", tolerance_s);
        st_err_hint(err, "a replayed or delayed delivery; if clocks drift, sync them (NTP)");
        return ST_AUTH;
    }
    /* Check every pair without an early exit, so timing tells nothing. */
    int match = 0;
    for (unsigned s = 0; s < n_secrets; s++) {
        unsigned char mac[32];
        if (compute(secrets[s], sig.t, payload, len, mac) != 0)
            return st_err_set(err, ST_INTERNAL, "HMAC-SHA256 is unavailable in this OpenSSL");
        for (unsigned i = 0; i < sig.n_v1; i++)
            match |= CRYPTO_memcmp(mac, sig.v1[i], 32) == 0;
        OPENSSL_cleanse(mac, sizeof mac);
    }
    if (!match) {
        st_err_set(err, ST_AUTH, "Stripe-Signature does not match the payload");
        st_err_hint(err, "check that the endpoint's signing secret (whsec_...) is configured and "
                         "that nothing rewrites the body before settle reads it");
        return ST_AUTH;
    }
    return 0;
}

int st_webhook_sig_sign(const char *secret, int64_t t, const void *payload, size_t len, char *out,
                        size_t cap)
{
    unsigned char mac[32];
    if (cap < 96 || compute(secret, t, payload, len, mac) != 0)
        return ST_INVAL;
    int n = snprintf(out, cap, "t=%" PRId64 ",v1=", t);
    for (int i = 0; i < 32; i++)
        snprintf(out + n + 2 * i, cap - (size_t)n - 2 * (size_t)i, "%02x", mac[i]);
    return 0;
}
