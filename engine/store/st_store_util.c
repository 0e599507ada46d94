/*
 * st_store_util.c — small values of the store: UUIDv7, status names,
 * statement parameters, array literals and result decoding.
 *
 * Layer: store. Depends on libpq, OpenSSL (RAND_bytes), common (UUID text,
 * the growable buffer under the array literals).
 * Invariants: array literals quote every text element, so any byte except
 * NUL survives; a buffer whose allocation failed stays marked (oom) and the
 * caller reports ST_NOMEM instead of sending a truncated literal.
 */
#include "store/st_store_int.h"

#include "common/st_uuid.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UUID ------------------------------------------------------------------ */

int st_store_uuid_v7(st_store_uuid_t *out, int64_t unix_ms, st_err_t *err)
{
    if (RAND_bytes(out->b + 6, 10) != 1)
        return st_err_set(err, ST_INTERNAL, "RAND_bytes failed");
    uint64_t ms = (uint64_t)unix_ms;
    for (int i = 0; i < 6; i++)
        out->b[i] = (unsigned char)(ms >> (40 - 8 * i));
    out->b[6] = (unsigned char)(0x70 | (out->b[6] & 0x0f)); /* version 7 */
    out->b[8] = (unsigned char)(0x80 | (out->b[8] & 0x3f)); /* RFC variant */
    return 0;
}

void st_store_uuid_format(const st_store_uuid_t *u, char out[37])
{
    st_uuid_format(u->b, out);
}

/* The one strict form (common/st_uuid.h): 8-4-4-4-12 hex digits. */
int st_store_uuid_parse(const char *text, st_store_uuid_t *out)
{
    return st_uuid_parse(text, out->b);
}

int st_store_uuid_equal(const st_store_uuid_t *a, const st_store_uuid_t *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

/* ---- enums ------------------------------------------------------------------- */

static const char *const status_names[ST_STORE_STATUS_COUNT] = {
    "running", "waiting", "completed", "failed", "cancelled", "suspended"};
static const char *const task_status_names[ST_STORE_TASK_STATUS_COUNT] = {
    "pending", "running", "done", "failed", "cancelled"};

const char *st_store_status_name(st_store_status_t s)
{
    return (unsigned)s < ST_STORE_STATUS_COUNT ? status_names[s] : "?";
}

int st_store_status_parse(const char *name, st_store_status_t *out)
{
    for (int i = 0; i < ST_STORE_STATUS_COUNT; i++)
        if (strcmp(name, status_names[i]) == 0) {
            *out = (st_store_status_t)i;
            return 0;
        }
    return ST_PARSE;
}

const char *st_store_task_status_name(st_store_task_status_t s)
{
    return (unsigned)s < ST_STORE_TASK_STATUS_COUNT ? task_status_names[s] : "?";
}

int st_store_task_status_parse(const char *name, st_store_task_status_t *out)
{
    for (int i = 0; i < ST_STORE_TASK_STATUS_COUNT; i++)
        if (strcmp(name, task_status_names[i]) == 0) {
            *out = (st_store_task_status_t)i;
            return 0;
        }
    return ST_PARSE;
}

/* ---- parameters -------------------------------------------------------------- */

void st_store_p_init(st_store_params_t *p)
{
    p->n = 0;
    p->overflow = 0;
}

static void p_add(st_store_params_t *p, const char *v, int len, int fmt)
{
    if (p->n >= ST_STORE_MAX_PARAMS) {
        p->overflow = 1; /* st_store_send refuses to send it */
        return;
    }
    p->v[p->n] = v;
    p->len[p->n] = len;
    p->fmt[p->n] = fmt;
    p->n++;
}

void st_store_p_text(st_store_params_t *p, const char *s)
{
    p_add(p, s, 0, 0);
}

void st_store_p_i64(st_store_params_t *p, int64_t v)
{
    if (p->n >= ST_STORE_MAX_PARAMS) {
        p->overflow = 1;
        return;
    }
    snprintf(p->scratch[p->n], sizeof p->scratch[0], "%" PRId64, v);
    p_add(p, p->scratch[p->n], 0, 0);
}

void st_store_p_time(st_store_params_t *p, int64_t us)
{
    if (us == ST_STORE_NO_TIME)
        p_add(p, NULL, 0, 0);
    else
        st_store_p_i64(p, us);
}

void st_store_p_uuid(st_store_params_t *p, const st_store_uuid_t *u)
{
    if (!u || p->n >= ST_STORE_MAX_PARAMS) { /* p_add flags the overflow */
        p_add(p, NULL, 0, 0);
        return;
    }
    st_store_uuid_format(u, p->scratch[p->n]);
    p_add(p, p->scratch[p->n], 0, 0);
}

void st_store_p_bin(st_store_params_t *p, const void *data, size_t len)
{
    p_add(p, (const char *)data, (int)len, 1);
}

int st_store_send(PGconn *pg, st_store_q_t q, const st_store_params_t *p, st_err_t *err)
{
    if (p->overflow)
        return st_err_set(err, ST_INTERNAL, "too many parameters for %s", st_store_stmts[q].name);
    if (!PQsendQueryPrepared(pg, st_store_stmts[q].name, (int)p->n, p->v, p->len, p->fmt, 0)) {
        st_err_set(err, ST_IO, "cannot send %s", st_store_stmts[q].name);
        st_err_detail(err, "%s", PQerrorMessage(pg));
        return ST_IO;
    }
    st_store_conn_note_stmt(q);
    return 0;
}

/* ---- array literals ---------------------------------------------------------- */

void st_store_arr_begin(st_store_arr_t *a)
{
    st_buf_reset(&a->buf);
    a->count = 0;
    st_buf_add(&a->buf, "{", 1);
}

static void arr_sep(st_store_arr_t *a)
{
    if (a->count++)
        st_buf_add(&a->buf, ",", 1);
}

void st_store_arr_text(st_store_arr_t *a, const char *s)
{
    arr_sep(a);
    if (!s) {
        st_buf_add(&a->buf, "NULL", 4);
        return;
    }
    /* worst case every byte escaped, plus the quotes */
    if (st_buf_reserve(&a->buf, 2 * strlen(s) + 2) != 0)
        return;
    char *o = a->buf.p + a->buf.len;
    *o++ = '"';
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            *o++ = '\\';
        *o++ = *p;
    }
    *o++ = '"';
    *o = '\0';
    a->buf.len = (size_t)(o - a->buf.p);
}

void st_store_arr_i64(st_store_arr_t *a, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    arr_sep(a);
    st_buf_add(&a->buf, tmp, (size_t)n);
}

void st_store_arr_time(st_store_arr_t *a, int64_t us)
{
    if (us == ST_STORE_NO_TIME) {
        arr_sep(a);
        st_buf_add(&a->buf, "NULL", 4);
    } else {
        st_store_arr_i64(a, us);
    }
}

void st_store_arr_uuid(st_store_arr_t *a, const st_store_uuid_t *u)
{
    char tmp[37];
    st_store_uuid_format(u, tmp);
    arr_sep(a);
    st_buf_add(&a->buf, tmp, 36);
}

const char *st_store_arr_end(st_store_arr_t *a)
{
    st_buf_add(&a->buf, "}", 1);
    return st_buf_str(&a->buf);
}

void st_store_arr_release(st_store_arr_t *a)
{
    st_buf_release(&a->buf);
}

/* ---- results ----------------------------------------------------------------- */

/* PostgreSQL's text for a field without its trailing newline. */
static int pg_field_len(const char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        n--;
    return (int)n;
}

int st_store_db_error(st_err_t *err, const PGresult *r, const char *name)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *det = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    int code = ST_DB;
    if (state && strcmp(state, "23503") == 0)
        code = ST_NOTFOUND; /* foreign key: the referenced row is missing */
    else if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
        code = ST_CONFLICT; /* serialization failure / deadlock: retry */
    if (!msg && r)          /* no fields: a client-side failure, libpq's text */
        msg = PQresultErrorMessage(r);
    if (!msg || !msg[0])
        msg = "no message from the server";
    st_err_set(err, code, "%s%s failed: %.*s (SQLSTATE %s)", name ? "statement " : "",
               name ? name : "a statement", pg_field_len(msg), msg, state ? state : "none");
    /* Classes 22 (data exception) and 23 (integrity) put values in the
     * detail ("Key (business_key)=(...)"): never logged. */
    if (det && det[0] && !(state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)))
        st_err_detail(err, "%.*s", pg_field_len(det), det);
    if (code == ST_CONFLICT)
        st_err_hint(err, "a concurrent transaction conflicted and this one was rolled back; it "
                         "is safe to retry");
    else if (state && strcmp(state, "55P03") == 0)
        st_err_hint(err, "a row lock was not granted within lock_timeout (set for the database "
                         "or role?); the transaction was rolled back");
    else if (state && strcmp(state, "57014") == 0)
        st_err_hint(err, "the statement was cancelled (statement_timeout of the database or "
                         "role?); the transaction was rolled back");
    else
        st_err_hint(err, "see the PostgreSQL server log at this time for the statement's context");
    return code;
}

char *st_store_get_str(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    return strdup(PQgetvalue(r, row, col));
}

int64_t st_store_get_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int64_t st_store_get_time(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return ST_STORE_NO_TIME;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int st_store_get_uuid(const PGresult *r, int row, int col, st_store_uuid_t *out)
{
    if (PQgetisnull(r, row, col))
        return ST_NOTFOUND;
    return st_store_uuid_parse(PQgetvalue(r, row, col), out);
}

int st_store_corr_lock_params(st_store_params_t *p, st_store_arr_t *keys, st_store_arr_t *vals,
                              const st_store_kv_t *kv, unsigned n)
{
    st_store_arr_begin(keys);
    st_store_arr_begin(vals);
    for (unsigned i = 0; i < n; i++) {
        st_store_arr_text(keys, kv[i].key);
        st_store_arr_text(vals, kv[i].value);
    }
    const char *kl = st_store_arr_end(keys), *vl = st_store_arr_end(vals);
    if (!kl || !vl)
        return ST_NOMEM;
    st_store_p_init(p);
    st_store_p_text(p, kl);
    st_store_p_text(p, vl);
    return 0;
}
