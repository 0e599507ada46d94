/*
 * st_sim_idem.c — idempotency-key store (see st_sim_idem.h).
 *
 * Entries live in a jansson object used as a hash table:
 *   key -> {"fp": fingerprint, "t": created, "done": bool,
 *           "status": int, "body": text, "retry": int}
 */
#include "st_sim_idem.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_sim_idem {
    json_t *entries; /* key -> entry, see above */
    int64_t ttl;     /* seconds of sim time an entry lives */
};

st_sim_idem_t *st_sim_idem_new(int64_t ttl_seconds)
{
    st_sim_idem_t *idem = calloc(1, sizeof(*idem));
    if (!idem)
        return NULL;
    idem->entries = json_object();
    idem->ttl = ttl_seconds;
    if (!idem->entries) {
        free(idem);
        return NULL;
    }
    return idem;
}

void st_sim_idem_free(st_sim_idem_t *idem)
{
    if (!idem)
        return;
    json_decref(idem->entries);
    free(idem);
}

void st_sim_idem_fingerprint(const char *method, const char *path, const json_t *params, char *out,
                             size_t cap)
{
    char *canon = params ? json_dumps(params, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const char *text = canon ? canon : "{}";
    EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
    free(canon);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * mdlen] = '\0';
    snprintf(out, cap, "%s %.80s %s", method, path, hex);
}

static int expired(const st_sim_idem_t *idem, json_t *entry, int64_t now)
{
    return json_integer_value(json_object_get(entry, "t")) + idem->ttl <= now;
}

st_sim_idem_verdict_t st_sim_idem_begin(st_sim_idem_t *idem, const char *key, const char *fp,
                                        int64_t now, st_sim_idem_hit_t *hit)
{
    memset(hit, 0, sizeof(*hit));
    hit->should_retry = -1;
    json_t *e = json_object_get(idem->entries, key);
    if (e && json_is_true(json_object_get(e, "done")) && expired(idem, e, now)) {
        json_object_del(idem->entries, key);
        e = NULL;
    }
    if (!e) {
        json_object_set_new(
            idem->entries, key,
            json_pack("{s:s, s:I, s:b}", "fp", fp, "t", (json_int_t)now, "done", 0));
        return ST_SIM_IDEM_NEW;
    }
    if (!json_is_true(json_object_get(e, "done")))
        return ST_SIM_IDEM_BUSY;
    if (strcmp(json_string_value(json_object_get(e, "fp")), fp) != 0)
        return ST_SIM_IDEM_MISMATCH;
    hit->status = (int)json_integer_value(json_object_get(e, "status"));
    hit->body = strdup(json_string_value(json_object_get(e, "body")));
    hit->should_retry = (int)json_integer_value(json_object_get(e, "retry"));
    return ST_SIM_IDEM_REPLAY;
}

void st_sim_idem_finish(st_sim_idem_t *idem, const char *key, int status, const char *body,
                        int should_retry)
{
    json_t *e = json_object_get(idem->entries, key);
    if (!e)
        return;
    json_object_set_new(e, "done", json_true());
    json_object_set_new(e, "status", json_integer(status));
    json_object_set_new(e, "body", json_string(body ? body : ""));
    json_object_set_new(e, "retry", json_integer(should_retry));
}

void st_sim_idem_abandon(st_sim_idem_t *idem, const char *key)
{
    json_object_del(idem->entries, key);
}

size_t st_sim_idem_expire(st_sim_idem_t *idem, int64_t now)
{
    size_t n = 0;
    const char *key;
    json_t *e;
    void *tmp;
    json_object_foreach_safe(idem->entries, tmp, key, e)
    {
        if (json_is_true(json_object_get(e, "done")) && expired(idem, e, now)) {
            json_object_del(idem->entries, key);
            n++;
        }
    }
    return n;
}

size_t st_sim_idem_count(const st_sim_idem_t *idem)
{
    return json_object_size(idem->entries);
}

void st_sim_idem_hit_release(st_sim_idem_hit_t *hit)
{
    if (!hit)
        return;
    free(hit->body);
    hit->body = NULL;
}
