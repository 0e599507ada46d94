/*
 * st_store_int.h — private interface shared by the store's file family.
 *
 * Layer: store (internal). Depends on libpq, libev, common.
 *
 * Operations. A st_store_op_t is one pipeline segment: `send` queues its
 * statements (the connection adds the Sync), `result` sees each statement's
 * result in order, `done` fires exactly once with the outcome after the
 * Sync (or when the connection is lost or freed). The op's memory belongs to
 * its submitter and must stay valid until `done` has run (or `finished` is
 * set, for ops without `done`).
 *
 * Invariant: statements of one op run in one implicit transaction; if any
 * fails, the whole op is rolled back and rc is negative.
 */
#ifndef ST_STORE_INT_H
#define ST_STORE_INT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_buf.h"
#include "store/st_store.h"
#include "store/st_store_sql.h"

typedef struct st_store_op st_store_op_t;

#define ST_STORE_OP_QLOG 32

struct st_store_op {
    /* Queue the statements (no Sync). Negative: the op fails with err. */
    int (*send)(st_store_op_t *op, PGconn *pg, st_err_t *err);
    /* Result of statement `index` (TUPLES_OK / COMMAND_OK). Negative fails
     * the op (the transaction still ends at the Sync it already sent). */
    int (*result)(st_store_op_t *op, const PGresult *r, unsigned index, st_err_t *err);
    /* Outcome; NULL for blocking ops, which poll `finished`. */
    void (*done)(st_store_op_t *op, int rc, const st_err_t *err);
    void *ud; /* submitter's context */

    /* owned by the connection while submitted */
    st_store_op_t *next;
    unsigned index; /* results seen so far */
    /* the statements sent, by index, so that an error names its statement
     * (st_store_op_stmt_name): the first ST_STORE_OP_QLOG, then the last
     * one when all later ones were the same statement */
    unsigned nq;
    unsigned char qlog[ST_STORE_OP_QLOG];
    unsigned char qtail;
    unsigned char qtail_mixed;
    int rc;       /* first error, 0 if none */
    int finished; /* set before done runs */
    st_err_t err;
};

/* The prepared statement's name ("st_CHECKPOINT") of op's statement
 * `index`, or NULL when it is not known (not sent through st_store_send). */
const char *st_store_op_stmt_name(const st_store_op_t *op, unsigned index);
/* Called by st_store_send for each statement it queued: noted on the op
 * whose send runs on this thread (none outside a send: nothing noted). */
void st_store_conn_note_stmt(st_store_q_t q);

/* Queue op; done (or finished) follows exactly once. */
void st_store_conn_submit(st_store_conn_t *c, st_store_op_t *op);
/* Finish op with ST_STATE if it is still queued (not sent); 1 if it was. */
int st_store_conn_cancel(st_store_conn_t *c, st_store_op_t *op);
/* Submit and run the loop until op finishes; ST_IO at once while down. */
int st_store_conn_run(st_store_conn_t *c, st_store_op_t *op, st_err_t *err);

/* ---- parameters --------------------------------------------------------- */

#define ST_STORE_MAX_PARAMS 40

/* Parameters of one statement; scratch holds formatted numbers. */
typedef struct st_store_params {
    const char *v[ST_STORE_MAX_PARAMS];
    int len[ST_STORE_MAX_PARAMS];
    int fmt[ST_STORE_MAX_PARAMS];
    char scratch[ST_STORE_MAX_PARAMS][40];
    unsigned n;
    int overflow; /* more parameters than MAX were added */
} st_store_params_t;

void st_store_p_init(st_store_params_t *p);
void st_store_p_text(st_store_params_t *p, const char *s); /* NULL: SQL NULL */
void st_store_p_i64(st_store_params_t *p, int64_t v);
void st_store_p_time(st_store_params_t *p, int64_t us);               /* NO_TIME: NULL */
void st_store_p_uuid(st_store_params_t *p, const st_store_uuid_t *u); /* NULL: NULL */
void st_store_p_bin(st_store_params_t *p, const void *data, size_t len);

/* PQsendQueryPrepared of statement q; libpq copies the parameters. */
int st_store_send(PGconn *pg, st_store_q_t q, const st_store_params_t *p, st_err_t *err);

/* Run statement q alone as one transaction; fn (may be NULL) sees its result. */
typedef int (*st_store_rows_fn)(const PGresult *r, void *ctx, st_err_t *err);
int st_store_exec1(st_store_conn_t *c, st_store_q_t q, const st_store_params_t *p,
                   st_store_rows_fn fn, void *ctx, st_err_t *err);

/* Run n statements in order as one transaction; fn sees the last one's
 * result. */
int st_store_exec_seq(st_store_conn_t *c, const st_store_q_t *qs, const st_store_params_t *ps,
                      unsigned n, st_store_rows_fn fn, void *ctx, st_err_t *err);

/* The same without blocking: parameters are copied; cb (may be NULL) fires
 * once. With zero_rows_code non-zero, a result without rows completes with
 * that code and message (e.g. ST_CONFLICT for "already finished"). */
int st_store_exec1_async(st_store_conn_t *c, st_store_q_t q, const st_store_params_t *p,
                         int zero_rows_code, const char *zero_rows_msg, st_store_done_cb cb,
                         void *ud, st_err_t *err);

/* Asynchronous reads: parse fills ctx (ctx_size bytes, zeroed), deliver
 * calls the typed callback cb with it, release frees whatever parse
 * allocated that the callback did not take (it accepts an empty ctx). */
typedef void (*st_store_any_cb)(void);
typedef struct st_store_read_spec {
    size_t ctx_size;
    st_store_rows_fn parse;
    void (*deliver)(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud);
    void (*release)(void *ctx);
} st_store_read_spec_t;

int st_store_exec1_read_async(st_store_conn_t *c, st_store_q_t q, const st_store_params_t *p,
                              const st_store_read_spec_t *spec, st_store_any_cb cb, void *ud,
                              st_err_t *err);

/* ---- array literals (on the common growable buffer, common/st_buf.h) ---- */

/* Array literal builder: begin, then elements separated automatically. */
typedef struct st_store_arr {
    st_buf_t buf;
    size_t count;
} st_store_arr_t;

void st_store_arr_begin(st_store_arr_t *a);
void st_store_arr_text(st_store_arr_t *a, const char *s); /* NULL: NULL element */
void st_store_arr_i64(st_store_arr_t *a, int64_t v);
void st_store_arr_time(st_store_arr_t *a, int64_t us); /* NO_TIME: NULL */
void st_store_arr_uuid(st_store_arr_t *a, const st_store_uuid_t *u);
const char *st_store_arr_end(st_store_arr_t *a); /* closes and returns the literal */
void st_store_arr_release(st_store_arr_t *a);

/* Parameters of CORR_LOCK for (key, value) pairs; the literals live in the
 * arrays, which the caller releases after sending. NOMEM when building
 * them failed. */
int st_store_corr_lock_params(st_store_params_t *p, st_store_arr_t *keys, st_store_arr_t *vals,
                              const st_store_kv_t *kv, unsigned n);

/* ---- result helpers ------------------------------------------------------- */

/* A failed result as an error: "statement <name> failed: <PostgreSQL's
 * primary message> (SQLSTATE <code>)", its DETAIL as detail unless the
 * SQLSTATE class (22, 23) echoes values. name NULL: "a statement". */
int st_store_db_error(st_err_t *err, const PGresult *r, const char *name);
char *st_store_get_str(const PGresult *r, int row, int col);    /* strdup or NULL */
int64_t st_store_get_i64(const PGresult *r, int row, int col);  /* NULL: 0 */
int64_t st_store_get_time(const PGresult *r, int row, int col); /* NULL: NO_TIME */
int st_store_get_uuid(const PGresult *r, int row, int col, st_store_uuid_t *out);

/* Columns ST_STORE_INSTANCE_COLS starting at col0 into out. */
int st_store_instance_from_row(const PGresult *r, int row, int col0, st_store_instance_t *out);
/* Rows of r as an instance list (fresh; freed by st_store_instances_free). */
int st_store_instances_from_result(const PGresult *r, st_store_instances_t *out, st_err_t *err);

#endif
