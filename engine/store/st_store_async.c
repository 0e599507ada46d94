/*
 * st_store_async.c — one statement as its own transaction without blocking
 * the loop: the asynchronous sibling of st_store_exec1.
 *
 * Layer: store. Depends on st_store_conn, st_store_util.
 *
 * Reads (st_store_exec1_read_async) parse the result into a context the
 * op owns and show it to the typed callback; the callback may take the
 * data (copy the list struct, then zero it), and the op releases whatever
 * is left after the callback returns.
 *
 * Invariants: the parameters are copied at submit time, so the caller's
 * values may die as soon as the call returns; the callback (when not NULL)
 * fires exactly once from the loop after a successful submit and never when
 * submit fails; the op frees itself after the callback.
 */
#include "store/st_store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct async_op {
    st_store_op_t op;
    st_store_q_t q;
    st_store_params_t p; /* values point into blob */
    int rows;            /* rows of the statement's result */
    int zero_rows_code;  /* 0, or the code for "no row matched" */
    char zero_rows_msg[160];
    st_store_done_cb cb;
    void *ud;
    const st_store_read_spec_t *spec; /* reads only */
    st_store_any_cb read_cb;
    void *ctx;   /* what spec->parse fills, spec->ctx_size bytes */
    char blob[]; /* copies of the parameter values */
} async_op_t;

static int async_send(st_store_op_t *op, PGconn *pg, st_err_t *err)
{
    async_op_t *a = (async_op_t *)op;
    return st_store_send(pg, a->q, &a->p, err);
}

static int async_result(st_store_op_t *op, const PGresult *r, unsigned index, st_err_t *err)
{
    async_op_t *a = (async_op_t *)op;
    a->rows = PQntuples(r);
    return a->spec ? a->spec->parse(r, a->ctx, err) : 0;
}

/* The callback sees the parsed list (empty on error) for its duration; what
 * it did not take (by zeroing the list) is released afterwards. */
static void read_done(async_op_t *a, int rc, const st_err_t *err)
{
    if (rc < 0) {
        a->spec->release(a->ctx);
        memset(a->ctx, 0, a->spec->ctx_size);
    }
    if (a->read_cb)
        a->spec->deliver(a->read_cb, rc, err, a->ctx, a->ud);
    a->spec->release(a->ctx);
    free(a->ctx);
    free(a);
}

static void async_done(st_store_op_t *op, int rc, const st_err_t *err)
{
    async_op_t *a = (async_op_t *)op;
    st_err_t e;
    if (a->spec) {
        if (rc < 0) {
            e = *err;
            st_err_prefix(&e, "%s", st_store_stmts[a->q].name);
        }
        read_done(a, rc, rc < 0 ? &e : NULL);
        return;
    }
    if (rc < 0) {
        e = *err;
        st_err_prefix(&e, "%s", st_store_stmts[a->q].name);
    } else if (a->zero_rows_code && a->rows == 0) {
        rc = st_err_set(&e, a->zero_rows_code, "%s", a->zero_rows_msg);
    }
    if (a->cb)
        a->cb(rc, rc < 0 ? &e : NULL, a->ud);
    free(a);
}

static size_t value_size(const st_store_params_t *p, unsigned i)
{
    if (!p->v[i])
        return 0;
    return p->fmt[i] ? (size_t)p->len[i] : strlen(p->v[i]) + 1;
}

/* A new op holding copies of p's values; NULL when out of memory. */
static async_op_t *async_new(st_store_q_t q, const st_store_params_t *p)
{
    size_t total = 0;
    for (unsigned i = 0; i < p->n; i++)
        total += value_size(p, i);
    async_op_t *a = calloc(1, sizeof *a + total);
    if (!a)
        return NULL;
    a->q = q;
    a->p = *p;
    char *o = a->blob;
    for (unsigned i = 0; i < p->n; i++) {
        size_t n = value_size(p, i);
        if (p->v[i]) {
            memcpy(o, p->v[i], n);
            a->p.v[i] = o;
            o += n;
        }
    }
    a->op.send = async_send;
    a->op.result = async_result;
    a->op.done = async_done;
    return a;
}

int st_store_exec1_async(st_store_conn_t *c, st_store_q_t q, const st_store_params_t *p,
                         int zero_rows_code, const char *zero_rows_msg, st_store_done_cb cb,
                         void *ud, st_err_t *err)
{
    if (p->overflow)
        return st_err_set(err, ST_INTERNAL, "too many parameters for %s", st_store_stmts[q].name);
    async_op_t *a = async_new(q, p);
    if (!a)
        return st_err_set(err, ST_NOMEM, "out of memory");
    a->zero_rows_code = zero_rows_code;
    snprintf(a->zero_rows_msg, sizeof a->zero_rows_msg, "%s", zero_rows_msg ? zero_rows_msg : "");
    a->cb = cb;
    a->ud = ud;
    st_store_conn_submit(c, &a->op);
    return 0;
}

int st_store_exec1_read_async(st_store_conn_t *c, st_store_q_t q, const st_store_params_t *p,
                              const st_store_read_spec_t *spec, st_store_any_cb cb, void *ud,
                              st_err_t *err)
{
    if (p->overflow)
        return st_err_set(err, ST_INTERNAL, "too many parameters for %s", st_store_stmts[q].name);
    async_op_t *a = async_new(q, p);
    void *ctx = calloc(1, spec->ctx_size);
    if (!a || !ctx) {
        free(a);
        free(ctx);
        return st_err_set(err, ST_NOMEM, "out of memory");
    }
    a->spec = spec;
    a->read_cb = cb;
    a->ctx = ctx;
    a->ud = ud;
    st_store_conn_submit(c, &a->op);
    return 0;
}
