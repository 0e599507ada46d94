/*
 * st_store_programs.c — the program registry: register by hash, the
 * current version of each flow, load by hash.
 *
 * Layer: store. Depends on st_store_conn (blocking helpers), libpq.
 * Invariants: programs rows are immutable and keyed by the SHA-256 of their
 * bytes, so registering the same program twice changes nothing; a flow's
 * current version must be a program of that flow.
 */
#include "store/st_store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_hash(const char *h)
{
    if (!h || strlen(h) != 64)
        return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static int count_row(const PGresult *r, void *ctx, st_err_t *err)
{
    *(int64_t *)ctx = PQntuples(r) ? st_store_get_i64(r, 0, 0) : 0;
    return 0;
}

int st_store_program_register(st_store_conn_t *c, const st_store_program_t *p, int *created,
                              st_err_t *err)
{
    if (!is_hash(p->hash) || !p->name || !p->source_name || !p->source || !p->bytes)
        return st_err_set(err, ST_INVAL, "program needs a 64-hex hash, name, source and bytes");
    st_store_params_t ps;
    st_store_p_init(&ps);
    st_store_p_text(&ps, p->hash);
    st_store_p_text(&ps, p->name);
    st_store_p_i64(&ps, p->format_version);
    st_store_p_text(&ps, p->source_name);
    st_store_p_text(&ps, p->source);
    st_store_p_bin(&ps, p->bytes, p->len);
    int64_t n = 0;
    int rc = st_store_exec1(c, ST_STORE_Q_PROGRAM_REGISTER, &ps, count_row, &n, err);
    if (rc == 0 && created)
        *created = n > 0;
    return rc;
}

static int rows_seen(const PGresult *r, void *ctx, st_err_t *err)
{
    *(int *)ctx = PQntuples(r);
    return 0;
}

int st_store_flow_set_current(st_store_conn_t *c, const char *flow, const char *hash, st_err_t *err)
{
    st_store_params_t ps;
    st_store_p_init(&ps);
    st_store_p_text(&ps, flow);
    st_store_p_text(&ps, hash);
    int n = 0;
    int rc = st_store_exec1(c, ST_STORE_Q_FLOW_SET_CURRENT, &ps, rows_seen, &n, err);
    if (rc == 0 && n == 0)
        return st_err_set(err, ST_NOTFOUND, "no program %s of flow %s is registered", hash, flow);
    return rc;
}

static int hash_row(const PGresult *r, void *ctx, st_err_t *err)
{
    if (PQntuples(r) == 0)
        return ST_NOTFOUND;
    snprintf(ctx, 65, "%s", PQgetvalue(r, 0, 0));
    return 0;
}

int st_store_flow_current(st_store_conn_t *c, const char *flow, char out[65], st_err_t *err)
{
    st_store_params_t ps;
    st_store_p_init(&ps);
    st_store_p_text(&ps, flow);
    int rc = st_store_exec1(c, ST_STORE_Q_FLOW_CURRENT, &ps, hash_row, out, err);
    if (rc == ST_NOTFOUND)
        return st_err_set(err, ST_NOTFOUND, "flow %s has no current version", flow);
    return rc;
}

static int program_row(const PGresult *r, void *ctx, st_err_t *err)
{
    st_store_program_rec_t *p = ctx;
    if (PQntuples(r) == 0)
        return ST_NOTFOUND;
    p->hash = st_store_get_str(r, 0, 0);
    p->name = st_store_get_str(r, 0, 1);
    p->format_version = (int)st_store_get_i64(r, 0, 2);
    p->source_name = st_store_get_str(r, 0, 3);
    p->source = st_store_get_str(r, 0, 4);
    p->bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 5), &p->len);
    if (!p->hash || !p->name || !p->source_name || !p->source || !p->bytes)
        return st_err_set(err, ST_NOMEM, "out of memory loading a program");
    return 0;
}

int st_store_program_load(st_store_conn_t *c, const char *hash, st_store_program_rec_t *out,
                          st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t ps;
    st_store_p_init(&ps);
    st_store_p_text(&ps, hash);
    int rc = st_store_exec1(c, ST_STORE_Q_PROGRAM_LOAD, &ps, program_row, out, err);
    if (rc == ST_NOTFOUND)
        st_err_set(err, ST_NOTFOUND, "no program with hash %s", hash);
    if (rc < 0)
        st_store_program_rec_release(out);
    return rc;
}

void st_store_program_rec_release(st_store_program_rec_t *p)
{
    if (!p)
        return;
    free(p->hash);
    free(p->name);
    free(p->source_name);
    free(p->source);
    PQfreemem(p->bytes);
    memset(p, 0, sizeof *p);
}

/* ---- asynchronous load (the engine loop) ---------------------------------------- */

static int program_row_async(const PGresult *r, void *ctx, st_err_t *err)
{
    int rc = program_row(r, ctx, err);
    if (rc == ST_NOTFOUND)
        return st_err_set(err, ST_NOTFOUND, "no program with that hash");
    return rc;
}

static void program_deliver(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud)
{
    ((st_store_program_cb)cb)(rc, err, ctx, ud);
}

static void program_release(void *ctx)
{
    st_store_program_rec_release(ctx);
}

static const st_store_read_spec_t program_spec = {sizeof(st_store_program_rec_t), program_row_async,
                                                  program_deliver, program_release};

int st_store_program_load_async(st_store_conn_t *c, const char *hash, st_store_program_cb cb,
                                void *ud, st_err_t *err)
{
    st_store_params_t ps;
    st_store_p_init(&ps);
    st_store_p_text(&ps, hash);
    return st_store_exec1_read_async(c, ST_STORE_Q_PROGRAM_LOAD, &ps, &program_spec,
                                     (st_store_any_cb)cb, ud, err);
}
