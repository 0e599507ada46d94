/*
 * st_sim_store.c — object store: ids, lookup, lists with Stripe's cursor
 * pagination, expand[], and the seeded random source.
 *
 * Callers hold sim->mu. Lists are kept in creation order; Stripe lists
 * newest first, so pagination walks them backwards. Ids carry a fixed-width
 * counter right after the prefix, so each list is sorted by id and a cursor
 * is found by binary search (no per-object bookkeeping on the hot path).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_int.h"
#include "st_sim_json.h"

/* Kinds with many objects, kept as text between requests. */
static int freezable(const char *id)
{
    return strncmp(id, "pi_", 3) == 0 || strncmp(id, "ch_", 3) == 0 || strncmp(id, "re_", 3) == 0;
}

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double st_sim_rand(st_sim_t *sim)
{
    return (double)(splitmix(&sim->rng) >> 11) / 9007199254740992.0;
}

double st_sim_rand_keyed(const st_sim_t *sim, const char *key, uint64_t n)
{
    uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a over the key */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001B3ull;
    uint64_t x = sim->seed ^ h ^ (n * 0xD1B54A32D192ED03ull);
    return (double)(splitmix(&x) >> 11) / 9007199254740992.0;
}

/* prefix + "_" + 8 counter digits (unique) + 16 seeded characters. */
void st_sim_id_new(st_sim_t *sim, const char *prefix, char *out, size_t cap)
{
    char tail[25];
    uint64_t n = ++sim->next_id;
    for (int i = 7; i >= 0; i--) {
        tail[i] = b62[n % 62];
        n /= 62;
    }
    uint64_t x = sim->seed ^ (sim->next_id * 0xD1B54A32D192ED03ull);
    uint64_t r = splitmix(&x);
    for (int i = 8; i < 24; i++) {
        if (i == 16)
            r = splitmix(&x);
        tail[i] = b62[r % 62];
        r /= 62;
    }
    tail[24] = '\0';
    size_t pl = strlen(prefix);
    if (cap < pl + 26) { /* never with the callers' buffers */
        snprintf(out, cap, "%s_%s", prefix, tail);
        return;
    }
    memcpy(out, prefix, pl);
    out[pl] = '_';
    memcpy(out + pl + 1, tail, 25);
}

void st_sim_store_put(st_sim_t *sim, const char *kind, const char *id, json_t *obj)
{
    json_t *list = json_object_get(sim->lists, kind);
    if (!list) {
        list = json_array();
        json_object_set_new(sim->lists, kind, list);
    }
    json_array_append_new(list, json_string(id));
    json_object_set_new(sim->objects, id, obj);
    if (freezable(id))
        json_array_append_new(sim->hot, json_string(id));
}

void st_sim_store_put_text(st_sim_t *sim, const char *kind, const char *id, const char *text,
                           size_t len)
{
    json_t *list = json_object_get(sim->lists, kind);
    if (!list) {
        list = json_array();
        json_object_set_new(sim->lists, kind, list);
    }
    json_array_append_new(list, json_string(id));
    json_object_set_new(sim->objects, id, json_stringn_nocheck(text, len));
}

json_t *st_sim_store_get(st_sim_t *sim, const char *id)
{
    json_t *v = id ? json_object_get(sim->objects, id) : NULL;
    if (!json_is_string(v))
        return v;
    json_t *tree = json_loadb(json_string_value(v), json_string_length(v), 0, NULL);
    if (!tree)
        return NULL;
    json_object_set_new(sim->objects, id, tree);
    json_array_append_new(sim->hot, json_string(id));
    return tree;
}

json_t *st_sim_text_json(st_sim_text_cache_t *tc, const json_t *obj)
{
    for (int i = 0; i < tc->n; i++)
        if (tc->obj[i] == obj)
            return tc->str[i];
    json_t *str = st_sim_json_string_of(obj);
    if (!str)
        return NULL;
    if (tc->n < 16) {
        tc->obj[tc->n] = obj;
        tc->str[tc->n++] = str;
    } else if ((tc->spill || (tc->spill = json_array())) &&
               json_array_append_new(tc->spill, str) == 0) {
        /* kept alive until release, made again if asked again */
    } else {
        json_decref(str);
        return NULL;
    }
    return str;
}

const char *st_sim_text_of(st_sim_text_cache_t *tc, const json_t *obj)
{
    return json_string_value(st_sim_text_json(tc, obj));
}

void st_sim_text_cache_release(st_sim_text_cache_t *tc)
{
    for (int i = 0; i < tc->n; i++)
        json_decref(tc->str[i]);
    tc->n = 0;
    json_decref(tc->spill);
    tc->spill = NULL;
}

void st_sim_store_freeze(st_sim_t *sim, st_sim_text_cache_t *tc)
{
    size_t i;
    json_t *idv;
    json_array_foreach(sim->hot, i, idv)
    {
        const char *id = json_string_value(idv);
        json_t *v = json_object_get(sim->objects, id);
        if (!json_is_object(v))
            continue;
        json_t *text = st_sim_text_json(tc, v);
        if (text)
            json_object_set(sim->objects, id, text); /* shared with the answer */
    }
    json_array_clear(sim->hot);
}

json_t *st_sim_priv(st_sim_t *sim, const char *id)
{
    json_t *p = json_object_get(sim->priv, id);
    if (!p) {
        p = json_object();
        json_object_set_new(sim->priv, id, p);
    }
    return p;
}

json_t *st_sim_store_copy(st_sim_t *sim, const char *id)
{
    json_t *o = st_sim_store_get(sim, id);
    return o ? json_deep_copy(o) : NULL;
}

/* Position of id in the sorted id list, or -1. */
static long list_pos(json_t *ids, const char *id)
{
    long lo = 0, hi = (long)json_array_size(ids) - 1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        int c = strcmp(json_string_value(json_array_get(ids, (size_t)mid)), id);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Expand one dotted path ("customer", "data.customer", "latest_charge.refunds"). */
static void expand_path(st_sim_t *sim, json_t *obj, const char *path)
{
    const char *dot = strchr(path, '.');
    char head[128];
    size_t hl = dot ? (size_t)(dot - path) : strlen(path);
    if (hl >= sizeof(head) || !json_is_object(obj))
        return;
    memcpy(head, path, hl);
    head[hl] = '\0';
    json_t *v = json_object_get(obj, head);
    if (json_is_string(v)) {
        json_t *full = st_sim_store_copy(sim, json_string_value(v));
        if (!full)
            return;
        json_object_set_new(obj, head, full);
        v = full;
    }
    if (!dot)
        return;
    if (json_is_array(v)) {
        size_t i;
        json_t *el;
        json_array_foreach(v, i, el) expand_path(sim, el, dot + 1);
    } else {
        expand_path(sim, v, dot + 1);
    }
}

void st_sim_expand(st_sim_t *sim, json_t *obj, json_t *params)
{
    json_t *ex = json_object_get(params, "expand");
    size_t i;
    json_t *p;
    if (!json_is_array(ex))
        return;
    json_array_foreach(ex, i, p)
    {
        if (json_is_string(p))
            expand_path(sim, obj, json_string_value(p));
    }
}

/* Parse limit (1..100, default 10); returns -1 after failing the call. */
static int list_limit(st_sim_call_t *call, int64_t *limit)
{
    *limit = 10;
    if (json_object_get(call->params, "limit")) {
        if (st_sim_param_int(call, "limit", limit, 0) < 0)
            return -1;
        if (*limit < 1 || *limit > 100)
            return st_sim_fail_param(call, "limit",
                                     "Invalid limit: must be at least 1 and at most 100");
    }
    return 0;
}

/* Resolve starting_after/ending_before into a start index and direction. */
static int list_cursor(st_sim_t *sim, st_sim_call_t *call, json_t *ids, long *start, int *step)
{
    const char *after = st_sim_param_str(call, "starting_after");
    const char *before = st_sim_param_str(call, "ending_before");
    *start = (long)json_array_size(ids) - 1;
    *step = -1;
    const char *cur = after ? after : before;
    if (!cur)
        return 0;
    long pos = list_pos(ids, cur);
    if (pos < 0)
        return st_sim_fail_missing(call, "object", after ? "starting_after" : "ending_before", cur);
    *start = after ? pos - 1 : pos + 1;
    *step = after ? -1 : 1;
    return 0;
}

int st_sim_store_list(st_sim_t *sim, st_sim_call_t *call, const char *kind, const char *url,
                      int (*keep)(json_t *obj, json_t *params))
{
    int64_t limit;
    long i;
    int step;
    json_t *ids = json_object_get(sim->lists, kind);
    json_t *empty = json_array();
    if (!ids)
        ids = empty;
    if (list_limit(call, &limit) < 0 || list_cursor(sim, call, ids, &i, &step) < 0) {
        json_decref(empty);
        return -1;
    }
    json_t *data = json_array();
    int more = 0;
    for (; i >= 0 && i < (long)json_array_size(ids); i += step) {
        json_t *o =
            json_object_get(sim->objects, json_string_value(json_array_get(ids, (size_t)i)));
        o = json_is_string(o) ? json_loadb(json_string_value(o), json_string_length(o), 0, NULL)
                              : json_deep_copy(o); /* a private copy either way */
        if (!o || json_is_true(json_object_get(o, "deleted")) || (keep && !keep(o, call->params))) {
            json_decref(o);
            continue;
        }
        if ((int64_t)json_array_size(data) == limit) {
            json_decref(o);
            more = 1;
            break;
        }
        json_array_append_new(data, o);
    }
    if (step > 0) { /* ending_before walked forwards; Stripe still lists newest first */
        json_t *rev = json_array();
        for (size_t k = json_array_size(data); k > 0; k--)
            json_array_append(rev, json_array_get(data, k - 1));
        json_decref(data);
        data = rev;
    }
    json_decref(empty);
    json_t *list = json_pack("{s:s, s:o, s:b, s:s}", "object", "list", "data", data, "has_more",
                             more, "url", url);
    st_sim_expand(sim, list, call->params);
    st_sim_ok(call, list);
    return 0;
}
