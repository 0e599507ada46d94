/*
 * st_sim_form.c — form-encoded body decoder (see st_sim_form.h).
 *
 * Two steps per pair: percent-decode key and value, then walk the bracket
 * segments of the key, creating objects or arrays as the next segment asks
 * ("" or digits: array; anything else: object key).
 */
#include "st_sim_form.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_hex.h"

/*
 * Percent-decode src[0..len) into a new NUL-terminated string ('+' is a
 * space). Returns NULL when out of memory or when the result holds a NUL.
 */
static char *pct_decode(const char *src, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%' && i + 2 < len && st_hex_digit((unsigned char)src[i + 1]) >= 0 &&
                   st_hex_digit((unsigned char)src[i + 2]) >= 0) {
            out[o++] = (char)(st_hex_digit((unsigned char)src[i + 1]) * 16 +
                              st_hex_digit((unsigned char)src[i + 2]));
            i += 2;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    if (strlen(out) != o) {
        free(out);
        return NULL;
    }
    return out;
}

/* One parsed key: the base name and up to MAX_DEPTH bracket segments. */
typedef struct {
    char *segs[ST_SIM_FORM_MAX_DEPTH + 1]; /* point into a copy of the key */
    int n;                                 /* number of segments, base included */
} keypath_t;

/* Split "a[b][]" into {"a", "b", ""}; modifies key in place. */
static int split_key(char *key, keypath_t *kp, st_err_t *err)
{
    char *open = strchr(key, '[');
    kp->n = 0;
    kp->segs[kp->n++] = key;
    if (open == key || key[0] == '\0')
        return st_err_set(err, ST_PARSE, "form key has an empty name");
    while (open) {
        *open = '\0';
        char *close = strchr(open + 1, ']');
        if (!close)
            return st_err_set(err, ST_PARSE, "form key has an unclosed '['");
        if (kp->n > ST_SIM_FORM_MAX_DEPTH)
            return st_err_set(err, ST_PARSE, "form key nests deeper than %d",
                              ST_SIM_FORM_MAX_DEPTH);
        *close = '\0';
        kp->segs[kp->n++] = open + 1;
        if (close[1] != '\0' && close[1] != '[')
            return st_err_set(err, ST_PARSE, "form key has text after ']'");
        open = close[1] == '[' ? close + 1 : NULL;
    }
    return 0;
}

static int is_index(const char *s)
{
    if (*s == '\0')
        return 1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return 1;
}

/* The child of container for segment seg, created as want (JSON type) if absent. */
static json_t *child(json_t *container, const char *seg, json_t *make, st_err_t *err, int *rc)
{
    if (json_is_object(container)) {
        json_t *cur = json_object_get(container, seg);
        if (cur) {
            json_decref(make);
            return cur;
        }
        json_object_set_new(container, seg, make);
        return make;
    }
    size_t size = json_array_size(container);
    if (*seg != '\0') {
        if (strlen(seg) > 9) {
            *rc = st_err_set(err, ST_PARSE, "form array index too large");
            json_decref(make);
            return NULL;
        }
        size_t idx = (size_t)strtoul(seg, NULL, 10);
        if (idx < size) {
            json_decref(make);
            return json_array_get(container, idx);
        }
        if (idx > size) {
            *rc = st_err_set(err, ST_PARSE, "form array index %zu skips %zu", idx, size);
            json_decref(make);
            return NULL;
        }
    }
    json_array_append_new(container, make);
    return make;
}

static int type_clash(st_err_t *err, const char *seg)
{
    return st_err_set(err, ST_PARSE, "form key '%s' used both as a value and a container", seg);
}

/* Walk kp from root, then store value at the last segment. */
static int put_path(json_t *root, keypath_t *kp, const char *value, st_err_t *err)
{
    json_t *node = root;
    for (int i = 0; i + 1 < kp->n; i++) {
        const char *seg = kp->segs[i];
        int want_array = is_index(kp->segs[i + 1]);
        int rc = 0;
        json_t *next = child(node, seg, want_array ? json_array() : json_object(), err, &rc);
        if (!next)
            return rc ? rc : st_err_set(err, ST_NOMEM, "out of memory");
        if (want_array ? !json_is_array(next) : !json_is_object(next))
            return type_clash(err, seg);
        node = next;
    }
    const char *last = kp->segs[kp->n - 1];
    if (json_is_object(node)) {
        json_t *cur = json_object_get(node, last);
        if (cur && !json_is_string(cur))
            return type_clash(err, last);
        json_t *s = json_string(value);
        if (!s)
            return st_err_set(err, ST_PARSE, "form value for '%s' is not UTF-8", last);
        json_object_set_new(node, last, s);
        return 0;
    }
    int rc = 0;
    json_t *s = json_string(value);
    if (!s)
        return st_err_set(err, ST_PARSE, "form value for '%s' is not UTF-8", last);
    json_t *slot = child(node, last, s, err, &rc);
    if (!slot)
        return rc;
    if (slot != s) {
        if (!json_is_string(slot))
            return type_clash(err, last);
        json_string_set(slot, value);
    }
    return 0;
}

int st_sim_form_put(json_t *root, const char *key, const char *value, st_err_t *err)
{
    size_t klen = strlen(key);
    if (klen > ST_SIM_FORM_MAX_KEY)
        return st_err_set(err, ST_PARSE, "form key longer than %d bytes", ST_SIM_FORM_MAX_KEY);
    char copy[ST_SIM_FORM_MAX_KEY + 1];
    memcpy(copy, key, klen + 1);
    keypath_t kp;
    int rc = split_key(copy, &kp, err);
    if (rc < 0)
        return rc;
    if (!json_is_object(root))
        return st_err_set(err, ST_INVAL, "form root must be an object");
    json_t *probe = json_string(key); /* jansson keys must be UTF-8 */
    if (!probe)
        return st_err_set(err, ST_PARSE, "form key is not UTF-8");
    json_decref(probe);
    return put_path(root, &kp, value, err);
}

/* Decode one "k=v" pair of length len and insert it. */
static int put_pair(json_t *root, const char *p, size_t len, st_err_t *err)
{
    const char *eq = memchr(p, '=', len);
    size_t klen = eq ? (size_t)(eq - p) : len;
    char *key = pct_decode(p, klen);
    char *val = eq ? pct_decode(eq + 1, len - klen - 1) : pct_decode("", 0);
    int rc;
    if (!key || !val)
        rc = st_err_set(err, ST_PARSE, "form pair holds a NUL byte");
    else
        rc = st_sim_form_put(root, key, val, err);
    free(key);
    free(val);
    return rc;
}

int st_sim_form_decode(const char *buf, size_t len, json_t **out, st_err_t *err)
{
    *out = NULL;
    json_t *root = json_object();
    if (!root)
        return st_err_set(err, ST_NOMEM, "out of memory");
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(buf + i, '&', len - i);
        size_t plen = amp ? (size_t)(amp - (buf + i)) : len - i;
        if (plen > 0) {
            int rc = put_pair(root, buf + i, plen, err);
            if (rc < 0) {
                json_decref(root);
                return rc;
            }
        }
        i += plen + 1;
    }
    *out = root;
    return 0;
}
