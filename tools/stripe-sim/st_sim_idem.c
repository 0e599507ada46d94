/*
 * st_sim_idem.c — idempotency-key store (see st_sim_idem.h).
 *
 * A chained hash table of entries, each one allocation holding the entry,
 * its key and its fingerprint; the table doubles when it holds more
 * entries than buckets. A stored body is a JSON string held by reference.
 */
#include "st_sim_idem.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_json.h"

typedef struct entry {
    struct entry *next; /* bucket chain */
    uint64_t hash;      /* of the key */
    int64_t t;          /* created (sim time) */
    json_t *body;       /* stored answer (JSON string, a reference) or NULL */
    int done;           /* 1: answer stored */
    int status;         /* stored HTTP status */
    int retry;          /* stored Stripe-Should-Retry */
    char *fp;           /* fingerprint, inside this allocation */
    char key[];         /* key, then fp */
} entry_t;

struct st_sim_idem {
    entry_t **buckets; /* nbuckets chains */
    size_t nbuckets;   /* a power of two */
    size_t count;      /* entries */
    int64_t ttl;       /* seconds of sim time an entry lives */
};

static uint64_t hash_key(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

st_sim_idem_t *st_sim_idem_new(int64_t ttl_seconds)
{
    st_sim_idem_t *idem = calloc(1, sizeof(*idem));
    if (!idem)
        return NULL;
    idem->nbuckets = 1024;
    idem->buckets = calloc(idem->nbuckets, sizeof(entry_t *));
    idem->ttl = ttl_seconds;
    if (!idem->buckets) {
        free(idem);
        return NULL;
    }
    return idem;
}

static void entry_free(entry_t *e)
{
    json_decref(e->body);
    free(e);
}

void st_sim_idem_free(st_sim_idem_t *idem)
{
    if (!idem)
        return;
    for (size_t i = 0; i < idem->nbuckets; i++) {
        for (entry_t *e = idem->buckets[i], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    }
    free(idem->buckets);
    free(idem);
}

static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Fetched once: an implicit fetch per digest was a fifth of the fingerprint. */
static void fetch_sha256(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void st_sim_idem_fingerprint(const char *method, const char *path, const json_t *params, char *out,
                             size_t cap)
{
    st_buf_t own = {0}, *b = st_sim_buf_scratch();
    if (!b)
        b = &own;
    if (params)
        st_sim_buf_json_sorted(b, params);
    const char *text = params && !b->oom ? b->p : "{}";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    pthread_once(&sha256_once, fetch_sha256);
    EVP_Digest(text, strlen(text), md, &mdlen, sha256 ? sha256 : EVP_sha256(), NULL);
    st_sim_buf_scratch_done(b);
    static const char digits[] = "0123456789abcdef";
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned int i = 0; i < mdlen; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * mdlen] = '\0';
    snprintf(out, cap, "%s %.80s %s", method, path, hex);
}

/* The link that points at key's entry (or at the NULL ending its chain). */
static entry_t **find(st_sim_idem_t *idem, const char *key, uint64_t h)
{
    entry_t **pp = &idem->buckets[h & (idem->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

static void unlink_entry(st_sim_idem_t *idem, entry_t **pp)
{
    entry_t *e = *pp;
    *pp = e->next;
    entry_free(e);
    idem->count--;
}

/* Double the table when it holds more entries than buckets (best effort). */
static void grow(st_sim_idem_t *idem)
{
    if (idem->count < idem->nbuckets)
        return;
    size_t n = idem->nbuckets * 2;
    entry_t **b = calloc(n, sizeof(entry_t *));
    if (!b)
        return;
    for (size_t i = 0; i < idem->nbuckets; i++) {
        for (entry_t *e = idem->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(idem->buckets);
    idem->buckets = b;
    idem->nbuckets = n;
}

static int expired(const st_sim_idem_t *idem, const entry_t *e, int64_t now)
{
    return e->t + idem->ttl <= now;
}

/* Reserve key at the end of its chain pp; 0, or -1 when out of memory. */
static int reserve(st_sim_idem_t *idem, entry_t **pp, const char *key, uint64_t h, const char *fp,
                   int64_t now)
{
    size_t kl = strlen(key), fl = strlen(fp);
    entry_t *e = malloc(sizeof(*e) + kl + fl + 2);
    if (!e)
        return -1;
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->t = now;
    memcpy(e->key, key, kl + 1);
    e->fp = e->key + kl + 1;
    memcpy(e->fp, fp, fl + 1);
    *pp = e;
    idem->count++;
    grow(idem);
    return 0;
}

st_sim_idem_verdict_t st_sim_idem_begin(st_sim_idem_t *idem, const char *key, const char *fp,
                                        int64_t now, st_sim_idem_hit_t *hit)
{
    memset(hit, 0, sizeof(*hit));
    hit->should_retry = -1;
    uint64_t h = hash_key(key);
    entry_t **pp = find(idem, key, h);
    if (*pp && (*pp)->done && expired(idem, *pp, now)) {
        unlink_entry(idem, pp);
        pp = find(idem, key, h);
    }
    entry_t *e = *pp;
    if (!e) {
        reserve(idem, pp, key, h, fp, now); /* out of memory: run it unguarded */
        return ST_SIM_IDEM_NEW;
    }
    if (!e->done)
        return ST_SIM_IDEM_BUSY;
    if (strcmp(e->fp, fp) != 0)
        return ST_SIM_IDEM_MISMATCH;
    hit->status = e->status;
    hit->body = strdup(e->body ? json_string_value(e->body) : "");
    hit->should_retry = e->retry;
    return ST_SIM_IDEM_REPLAY;
}

void st_sim_idem_finish_ref(st_sim_idem_t *idem, const char *key, int status, json_t *body,
                            int should_retry)
{
    entry_t *e = *find(idem, key, hash_key(key));
    if (!e) {
        json_decref(body);
        return;
    }
    json_decref(e->body);
    e->body = body;
    e->done = 1;
    e->status = status;
    e->retry = should_retry;
}

void st_sim_idem_finish(st_sim_idem_t *idem, const char *key, int status, const char *body,
                        int should_retry)
{
    st_sim_idem_finish_ref(idem, key, status, json_string(body ? body : ""), should_retry);
}

void st_sim_idem_abandon(st_sim_idem_t *idem, const char *key)
{
    entry_t **pp = find(idem, key, hash_key(key));
    if (*pp)
        unlink_entry(idem, pp);
}

size_t st_sim_idem_expire(st_sim_idem_t *idem, int64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < idem->nbuckets; i++) {
        entry_t **pp = &idem->buckets[i];
        while (*pp) {
            if ((*pp)->done && expired(idem, *pp, now)) {
                unlink_entry(idem, pp);
                n++;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    return n;
}

size_t st_sim_idem_count(const st_sim_idem_t *idem)
{
    return idem->count;
}

void st_sim_idem_hit_release(st_sim_idem_hit_t *hit)
{
    if (!hit)
        return;
    free(hit->body);
    hit->body = NULL;
}
