/*
 * st_exec_inst.c — the executor's instance table and program cache.
 *
 * Instances are kept in a chained hash table keyed by their UUID (the low
 * bytes of a UUIDv7 are random, so they hash well as they are). Programs are
 * loaded from the store once per hash and kept for the executor's life:
 * they are immutable and few.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

static size_t bucket_of(const st_exec_t *x, const st_store_uuid_t *id)
{
    uint64_t h;
    memcpy(&h, id->b + 8, sizeof h);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return (size_t)(h ^ (h >> 32)) & (x->nbuckets - 1);
}

exec_inst_t *exec_inst_find(st_exec_t *x, const st_store_uuid_t *id)
{
    if (x->nbuckets == 0)
        return NULL;
    for (exec_inst_t *in = x->buckets[bucket_of(x, id)]; in != NULL; in = in->hnext)
        if (memcmp(in->id.b, id->b, 16) == 0)
            return in;
    return NULL;
}

static int grow(st_exec_t *x)
{
    size_t n = x->nbuckets ? x->nbuckets * 2 : 1024;
    exec_inst_t **nb = calloc(n, sizeof *nb);
    if (nb == NULL)
        return ST_NOMEM;
    exec_inst_t **old = x->buckets;
    size_t oldn = x->nbuckets;
    x->buckets = nb;
    x->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        exec_inst_t *in = old[i];
        while (in != NULL) {
            exec_inst_t *next = in->hnext;
            size_t b = bucket_of(x, &in->id);
            in->hnext = nb[b];
            nb[b] = in;
            in = next;
        }
    }
    free(old);
    return 0;
}

exec_inst_t *exec_inst_add(st_exec_t *x, const st_store_uuid_t *id)
{
    if (x->ninst + 1 > x->nbuckets && grow(x) != 0)
        return NULL;
    exec_inst_t *in = calloc(1, sizeof *in);
    if (in == NULL)
        return NULL;
    in->id = *id;
    in->x = x;
    st_timer_entry_init(&in->wake);
    in->wake.spare = EXEC_TIMER_WAKE;
    st_timer_entry_init(&in->retry);
    in->retry.spare = EXEC_TIMER_RETRY;
    size_t b = bucket_of(x, id);
    in->hnext = x->buckets[b];
    x->buckets[b] = in;
    x->ninst++;
    x->stats.in_memory = x->ninst;
    return in;
}

static void unlink_inst(st_exec_t *x, exec_inst_t *in)
{
    exec_inst_t **pp = &x->buckets[bucket_of(x, &in->id)];
    while (*pp != NULL && *pp != in)
        pp = &(*pp)->hnext;
    if (*pp == in) {
        *pp = in->hnext;
        x->ninst--;
        x->stats.in_memory = x->ninst;
    }
}

static void free_inst(st_exec_t *x, exec_inst_t *in)
{
    exec_timer_cancel_all(x, in);
    while (in->qhead != NULL) {
        exec_ev_t *ev = in->qhead;
        in->qhead = ev->next;
        exec_ev_free(ev);
    }
    exec_task_clear(&in->task);
    st_core_instance_free(in->core);
    free(in);
}

void exec_inst_release_if_idle(st_exec_t *x, exec_inst_t *in)
{
    if (in->dead && in->ck == NULL && !in->task.inflight) {
        unlink_inst(x, in);
        free_inst(x, in);
    }
}

void exec_inst_evict(st_exec_t *x, exec_inst_t *in)
{
    if (in->ck == NULL && !in->task.inflight && in->qhead == NULL && !in->reload) {
        unlink_inst(x, in);
        free_inst(x, in);
    }
}

void exec_inst_forget(st_exec_t *x, exec_inst_t *in)
{
    in->dead = 1;
    exec_timer_cancel_all(x, in);
    exec_inst_release_if_idle(x, in);
}

void exec_inst_free_all(st_exec_t *x)
{
    for (size_t i = 0; i < x->nbuckets; i++) {
        exec_inst_t *in = x->buckets[i];
        while (in != NULL) {
            exec_inst_t *next = in->hnext;
            free_inst(x, in);
            in = next;
        }
    }
    free(x->buckets);
    x->buckets = NULL;
    x->nbuckets = x->ninst = 0;
}

int exec_prog_get(st_exec_t *x, const char *hash, const exec_prog_t **out, st_err_t *err)
{
    return st_ops_progs_load(x->progs, x->bg, hash, out, err);
}

void exec_prog_free_all(st_exec_t *x)
{
    if (x->own_progs)
        st_ops_progs_free(x->progs);
    x->progs = NULL;
}

/* The JSON form st_core_instance_from_json reads, built from a row. */
static json_t *row_json(const st_store_instance_t *row, json_t *vars)
{
    char id[37];
    st_store_uuid_format(&row->id, id);
    int waiting = row->status == ST_STORE_WAITING && row->wake_at_us != ST_STORE_NO_TIME;
    int running = row->status == ST_STORE_RUNNING;
    return json_pack("{s:s,s:i,s:s,s:s,s:I,s:O,s:o,s:o,s:o,s:b,s:s}", "id", id, "state",
                     (int)row->state, "state_name", row->state_name, "status",
                     st_store_status_name(row->status), "seq", (json_int_t)row->seq, "vars", vars,
                     "wake_at", waiting ? json_integer(row->wake_at_us) : json_null(), "wake_seq",
                     waiting ? json_integer(row->seq) : json_null(), "task_seq",
                     running ? json_integer(row->seq) : json_null(), "cancel_requested",
                     row->cancel_requested, "reason", row->wait_reason ? row->wait_reason : "");
}

int exec_inst_from_row(st_exec_t *x, exec_inst_t *in, const st_store_instance_t *row, st_err_t *err)
{
    const exec_prog_t *prog = NULL;
    int rc = exec_prog_get(x, row->program_hash, &prog, err);
    if (rc != 0)
        return rc;
    json_error_t jerr;
    json_t *vars = json_loads(row->vars_json ? row->vars_json : "{}", 0, &jerr);
    if (vars == NULL)
        return st_err_set(err, ST_PARSE, "stored variables are not JSON: %s", jerr.text);
    st_core_instance_t *core = NULL;
    if (row->seq == 0) {
        /* Not started yet: vars hold the start inputs. */
        rc = st_core_instance_new(prog->p, row->id.b, &core, err);
        if (rc == 0) {
            exec_ev_t *ev = exec_ev_new(ST_CORE_EV_START);
            ev->inputs = json_incref(vars);
            in->qhead = in->qtail = ev;
        }
    } else {
        json_t *j = row_json(row, vars);
        rc = j ? st_core_instance_from_json(prog->p, j, &core, err)
               : st_err_set(err, ST_NOMEM, "out of memory");
        json_decref(j);
    }
    json_decref(vars);
    if (rc != 0)
        return rc;
    st_core_instance_free(in->core);
    in->core = core;
    in->prog = prog;
    in->epoch = row->lease_epoch;
    /* Signals stored while the instance was not ours (unowned before its
     * first claim, or on a node that died) had their notification go to
     * nobody: look at them once the instance is ours. A cancel for a
     * sleeping instance would otherwise wait for the wake. */
    if (row->signals_pending)
        in->check_signals = 1;
    return 0;
}

int exec_inst_load(st_exec_t *x, exec_inst_t *in, st_err_t *err)
{
    st_store_instance_t row;
    int rc = st_store_instance_load(x->bg, &in->id, &row, err);
    if (rc != 0)
        return rc;
    if (row.owner_node != x->node_id) {
        st_store_instance_release(&row);
        return st_err_set(err, ST_CONFLICT, "instance is owned by another node");
    }
    rc = exec_inst_from_row(x, in, &row, err);
    st_store_instance_release(&row);
    return rc;
}
