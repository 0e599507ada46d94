/*
 * st_sim_params.c — typed access to decoded request parameters, with
 * Stripe's invalid_request_error for every bad value (param named).
 *
 * Unknown top-level parameters are rejected as Stripe rejects them, so a
 * client that works against the sim sends only what Stripe accepts.
 * "expand" is always allowed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_int.h"

int st_sim_params_allow(st_sim_call_t *call, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(call->params, key, v)
    {
        int ok = strcmp(key, "expand") == 0;
        for (const char *const *a = allowed; !ok && *a; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            return st_sim_fail(call, 400, "invalid_request_error", "parameter_unknown", key,
                               "Received unknown parameter: %s", key);
    }
    return 0;
}

const char *st_sim_param_str(st_sim_call_t *call, const char *name)
{
    json_t *v = json_object_get(call->params, name);
    const char *s = json_string_value(v);
    return s && *s ? s : NULL;
}

int st_sim_param_int(st_sim_call_t *call, const char *name, int64_t *out, int required)
{
    json_t *v = json_object_get(call->params, name);
    if (!v) {
        if (required)
            return st_sim_fail(call, 400, "invalid_request_error", "parameter_missing", name,
                               "Missing required param: %s.", name);
        return 0;
    }
    const char *s = json_string_value(v);
    char *end = NULL;
    errno = 0;
    long long n = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno)
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_invalid_integer", name,
                           "Invalid integer: %s", s ? s : "(object)");
    *out = (int64_t)n;
    return 1;
}

int st_sim_param_bool(st_sim_call_t *call, const char *name, int *out)
{
    json_t *v = json_object_get(call->params, name);
    if (!v)
        return 0;
    const char *s = json_string_value(v);
    if (s && strcmp(s, "true") == 0)
        *out = 1;
    else if (s && strcmp(s, "false") == 0)
        *out = 0;
    else
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_invalid_boolean", name,
                           "Invalid boolean: %s", s ? s : "(object)");
    return 1;
}

int st_sim_param_enum(st_sim_call_t *call, const char *name, const char *const *values,
                      const char **out)
{
    const char *s = st_sim_param_str(call, name);
    if (!s)
        return 0;
    for (const char *const *v = values; *v; v++) {
        if (strcmp(*v, s) == 0) {
            *out = *v;
            return 1;
        }
    }
    return st_sim_fail(call, 400, "invalid_request_error", "parameter_invalid_string", name,
                       "Invalid %s: must be one of the documented values, not %s", name, s);
}

/* Stripe's metadata rules: key= deletes a key, metadata= clears all. */
void st_sim_apply_metadata(json_t *obj, json_t *params)
{
    json_t *md = json_object_get(params, "metadata");
    if (!md)
        return;
    json_t *cur = json_object_get(obj, "metadata");
    if (!json_is_object(cur) || json_is_string(md)) {
        cur = json_object();
        json_object_set_new(obj, "metadata", cur);
    }
    const char *k;
    json_t *v;
    json_object_foreach(md, k, v)
    {
        const char *s = json_string_value(v);
        if (!s || !*s)
            json_object_del(cur, k);
        else
            json_object_set(cur, k, v);
    }
}

/* Copy named string parameters onto obj ("" sets null, as Stripe does). */
void st_sim_apply_strings(json_t *obj, json_t *params, const char *const *names)
{
    for (const char *const *n = names; *n; n++) {
        json_t *v = json_object_get(params, *n);
        if (!json_is_string(v))
            continue;
        if (*json_string_value(v))
            json_object_set(obj, *n, v);
        else
            json_object_set_new(obj, *n, json_null());
    }
}
