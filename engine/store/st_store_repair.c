/*
 * st_store_repair.c — operator repairs of one instance (retry, wake,
 * cancel, signal, suspend, resume, migration): one conditional statement
 * each, with the checkpoint's contract (see st_store_admin.h).
 *
 * Layer: store. Depends on st_store_conn, st_store_util.
 * Invariants: the statement writes only while the row has the seq,
 * lease_epoch and owner_node the caller read, and then writes the row,
 * its one `repair` history row, flow_counts, the task and inbox effects
 * and the NOTIFY together; otherwise it writes nothing (ST_CONFLICT).
 */
#include "store/st_store_admin_int.h"

#include <stdlib.h>
#include <string.h>

void st_store_repair_init(st_store_repair_t *r, const st_store_instance_t *row, const char *actor)
{
    memset(r, 0, sizeof *r);
    r->row = row;
    r->seq = row->seq;
    r->program_hash = row->program_hash;
    r->state = row->state;
    r->state_name = row->state_name;
    r->status = row->status;
    r->vars_json = row->vars_json;
    r->wake_at_us = row->wake_at_us;
    r->wait_reason = row->wait_reason;
    r->actor = actor;
    r->to_state = row->state_name;
    r->detail_json = "{}";
}

typedef struct repaired_ctx {
    st_store_repaired_t *out;
    int applied;
} repaired_ctx_t;

static int repaired_row(const PGresult *r, void *ctx, st_err_t *err)
{
    (void)err;
    repaired_ctx_t *x = ctx;
    x->applied = PQntuples(r) > 0;
    if (x->applied) {
        x->out->lease_epoch = st_store_get_i64(r, 0, 0);
        x->out->signal_id = st_store_get_i64(r, 0, 1);
    }
    return 0;
}

static void repair_params(st_store_params_t *p, const st_store_repair_t *r)
{
    const st_store_instance_t *row = r->row;
    st_store_p_init(p);
    st_store_p_uuid(p, &row->id);
    st_store_p_i64(p, row->seq);
    st_store_p_i64(p, row->lease_epoch);
    if (row->owner_node)
        st_store_p_i64(p, row->owner_node);
    else
        st_store_p_text(p, NULL);
    st_store_p_i64(p, r->seq);
    st_store_p_text(p, r->program_hash);
    st_store_p_i64(p, r->state);
    st_store_p_text(p, r->state_name);
    st_store_p_text(p, st_store_status_name(r->status));
    st_store_p_text(p, r->vars_json);
    st_store_p_time(p, r->wake_at_us);
    st_store_p_text(p, r->wait_reason);
    st_store_p_text(p, r->fence ? "true" : "false");
    st_store_p_text(p, r->actor);
    st_store_p_text(p, r->to_state);
    st_store_p_text(p, r->detail_json ? r->detail_json : "{}");
    if (r->retry_task_id)
        st_store_p_i64(p, r->retry_task_id);
    else
        st_store_p_text(p, NULL);
    st_store_p_i64(p, r->retry_budget);
    st_store_p_text(p, r->reset_running_tasks ? "true" : "false");
    st_store_p_text(p, r->signal_name);
    st_store_p_text(p, r->signal_name ? r->signal_payload : NULL);
    st_store_p_text(p, r->notify ? "true" : "false");
}

int st_store_repair_apply(st_store_conn_t *c, const st_store_repair_t *r, st_store_repaired_t *out,
                          st_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (r->row == NULL || r->actor == NULL || r->program_hash == NULL || r->state_name == NULL ||
        r->vars_json == NULL || r->to_state == NULL)
        return st_err_set(err, ST_INVAL, "a repair needs the row read, an actor and the new row");
    if (r->seq != r->row->seq && r->seq != r->row->seq + 1)
        return st_err_set(err, ST_INVAL, "a repair keeps seq or makes one step");
    st_store_params_t p;
    repair_params(&p, r);
    repaired_ctx_t x = {out, 0};
    int rc = st_store_exec1(c, ST_STORE_Q_ADMIN_REPAIR, &p, repaired_row, &x, err);
    if (rc < 0)
        return rc;
    if (!x.applied) {
        char id[37];
        st_store_uuid_format(&r->row->id, id);
        st_err_set(err, ST_CONFLICT,
                   "instance %s changed since it was read (seq %lld, lease epoch %lld): "
                   "nothing was written",
                   id, (long long)r->row->seq, (long long)r->row->lease_epoch);
        st_err_hint(err, "read the instance again and decide on its new state");
        return ST_CONFLICT;
    }
    return 0;
}
