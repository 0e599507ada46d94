/*
 * st_exec_inst.c — the executor's instance table, program cache and row
 * loads.
 *
 * Instances are kept in a chained hash table keyed by their UUID (the low
 * bytes of a UUIDv7 are random, so they hash well as they are). Programs are
 * loaded from the store once per hash and kept for the node's life:
 * they are immutable and few; the Programs live in the node's shared cache
 * (start/st_start_progs.h), which the HTTP side uses too. Rows and programs are
 * read asynchronously on the control connection; an instance waits in `loading` meanwhile (see
 * exec_int.h), and a program read in flight is shared by every instance
 * that needs it.
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
    if (in->row != NULL) {
        st_store_instance_release(in->row);
        free(in->row);
    }
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
    if (in->ck == NULL && !in->task.inflight && in->qhead == NULL && !in->reload && !in->loading &&
        !in->fetching) {
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

void exec_prog_free_all(st_exec_t *x)
{
    while (x->loads != NULL) {
        exec_prog_load_t *l = x->loads;
        x->loads = l->next;
        free(l);
    }
    if (x->own_progs)
        st_start_progs_free(x->progs);
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

exec_req_t *exec_req_new(st_exec_t *x, const exec_inst_t *in)
{
    exec_req_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->x = x;
    r->id = in->id;
    r->gen = ++x->gen;
    r->seq = in->core != NULL ? in->core->seq : -1;
    return r;
}

exec_inst_t *exec_req_take(exec_req_t *req, int fetch)
{
    st_exec_t *x = req->x;
    uint64_t gen = req->gen;
    st_store_uuid_t id = req->id;
    free(req);
    if (x->freeing)
        return NULL;
    exec_inst_t *in = exec_inst_find(x, &id);
    if (in == NULL)
        return NULL;
    if (fetch ? !in->fetching || in->fetch_gen != gen : !in->loading || in->load_gen != gen)
        return NULL;
    return in;
}

/* Build in's state from a row whose program is in memory. */
static int from_row(st_exec_t *x, exec_inst_t *in, const exec_prog_t *prog,
                    const st_store_instance_t *row, st_err_t *err)
{
    json_error_t jerr;
    json_t *vars = json_loads(row->vars_json ? row->vars_json : "{}", 0, &jerr);
    if (vars == NULL)
        return st_err_set(err, ST_PARSE, "stored variables are not JSON: %s", jerr.text);
    st_core_instance_t *core = NULL;
    int rc;
    if (row->seq == 0) {
        /* Not started yet: vars hold the start inputs; START goes first. */
        exec_ev_t *ev = exec_ev_new(ST_CORE_EV_START);
        rc = ev == NULL ? st_err_set(err, ST_NOMEM, "out of memory")
                        : st_core_instance_new(prog->p, row->id.b, &core, err);
        if (rc == 0) {
            ev->inputs = json_incref(vars);
            ev->next = in->qhead;
            in->qhead = ev;
            if (in->qtail == NULL)
                in->qtail = ev;
        } else {
            exec_ev_free(ev);
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
    (void)x;
    st_core_instance_free(in->core);
    in->core = core;
    in->prog = prog;
    in->epoch = row->lease_epoch;
    /* Signals stored while the instance was not ours (unowned before its
     * first claim, or on a node that died) had their notification go to
     * nobody: look at them once the instance is ours. A cancel for a
     * sleeping instance would otherwise wait for the wake. Rows without
     * pending signals cost no query. */
    if (row->signals_pending)
        in->check_signals = 1;
    return 0;
}

static int timer_queued(const exec_inst_t *in)
{
    for (const exec_ev_t *ev = in->qhead; ev != NULL; ev = ev->next)
        if (ev->kind == ST_CORE_EV_TIMER_FIRED)
            return 1;
    return 0;
}

/* The instance has its state: arm its wake, ask the store for its task
 * (whatever this node knew of it may be stale), run what is queued. */
static void ready(st_exec_t *x, exec_inst_t *in)
{
    if (in->core->status == ST_CORE_WAITING && in->core->has_wake && !timer_queued(in))
        exec_timer_set_wake(x, in, in->core->wake_at_us);
    if (in->core->status == ST_CORE_RUNNING && in->core->seq > 0 && !in->task.inflight) {
        exec_task_clear(&in->task);
        exec_recover_want(x, in, 1);
    }
    exec_kick(x, in);
}

static exec_prog_load_t *load_find(st_exec_t *x, const char *hash)
{
    for (exec_prog_load_t *l = x->loads; l != NULL; l = l->next)
        if (strcmp(l->hash, hash) == 0)
            return l;
    return NULL;
}

static void load_unlink(st_exec_t *x, exec_prog_load_t *l)
{
    for (exec_prog_load_t **pp = &x->loads; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            free(l);
            return;
        }
    }
}

/* Instances whose kept row waits for program hash (a fresh array; NULL
 * with *n = 0 when there are none or memory ran out). */
static exec_inst_t **prog_waiters(st_exec_t *x, const char *hash, size_t *n)
{
    size_t cap = 0;
    *n = 0;
    for (size_t i = 0; i < x->nbuckets; i++)
        for (exec_inst_t *in = x->buckets[i]; in != NULL; in = in->hnext)
            if (in->row != NULL && strcmp(in->row->program_hash, hash) == 0)
                cap++;
    exec_inst_t **v = cap ? malloc(cap * sizeof *v) : NULL;
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < x->nbuckets; i++)
        for (exec_inst_t *in = x->buckets[i]; in != NULL; in = in->hnext)
            if (in->row != NULL && strcmp(in->row->program_hash, hash) == 0)
                v[(*n)++] = in;
    return v;
}

/* The first instance whose kept row waits for hash (slow path). */
static exec_inst_t *prog_waiter(st_exec_t *x, const char *hash)
{
    for (size_t i = 0; i < x->nbuckets; i++)
        for (exec_inst_t *in = x->buckets[i]; in != NULL; in = in->hnext)
            if (in->row != NULL && strcmp(in->row->program_hash, hash) == 0)
                return in;
    return NULL;
}

/* The program an instance waited for arrived (rc 0) or failed. */
static void prog_arrived(st_exec_t *x, exec_inst_t *in, int rc)
{
    st_store_instance_t *row = in->row;
    in->row = NULL;
    in->loading = 0;
    if (rc == 0 && !in->dead) {
        exec_inst_take_row(x, in, row);
        return;
    }
    st_store_instance_release(row);
    free(row);
    if (in->dead)
        exec_inst_release_if_idle(x, in);
    else if (rc == ST_IO || rc == ST_DB)
        exec_reload_later(x, in); /* read it all again once the database answers */
    else
        exec_inst_forget(x, in);
}

typedef struct prog_req {
    st_exec_t *x;
    char hash[65];
} prog_req_t;

static void on_program(int rc, const st_err_t *err, st_store_program_rec_t *rec, void *ud)
{
    prog_req_t *r = ud;
    st_exec_t *x = r->x;
    char hash[65];
    memcpy(hash, r->hash, sizeof hash);
    free(r);
    if (x->freeing)
        return;
    exec_prog_load_t *l = load_find(x, hash);
    if (l != NULL)
        load_unlink(x, l); /* done either way: on failure the next row asks again */
    st_err_t e;
    if (rc == 0) {
        st_core_program_t *p = NULL;
        const exec_prog_t *entry;
        rc = st_core_program_load(rec->bytes, rec->len, &p, &e);
        if (rc == 0)
            rc = st_start_progs_add(x->progs, hash, p, &entry, &e);
        if (rc != 0)
            st_err_prefix(&e, "program %.12s", hash);
    } else {
        e = *err;
    }
    if (rc != 0)
        exec_log(x, "loading program %.12s failed: %s", hash, e.msg);
    size_t n = 0;
    exec_inst_t **v = prog_waiters(x, hash, &n);
    for (size_t i = 0; i < n; i++)
        prog_arrived(x, v[i], rc);
    free(v);
    exec_inst_t *in;
    while ((in = prog_waiter(x, hash)) != NULL) /* only when the array could not be had */
        prog_arrived(x, in, rc);
}

/* The program of hash from the node's cache; *out NULL while its read is
 * in flight (started here when it is not yet). */
static int prog_get(st_exec_t *x, const char *hash, const exec_prog_t **out, st_err_t *err)
{
    *out = st_start_progs_find(x->progs, hash);
    if (*out != NULL || load_find(x, hash) != NULL)
        return 0;
    exec_prog_load_t *l = calloc(1, sizeof *l);
    prog_req_t *r = calloc(1, sizeof *r);
    if (l == NULL || r == NULL) {
        free(l);
        free(r);
        return st_err_set(err, ST_NOMEM, "out of memory loading program %.12s", hash);
    }
    snprintf(l->hash, sizeof l->hash, "%s", hash);
    r->x = x;
    memcpy(r->hash, l->hash, sizeof r->hash);
    int rc = st_store_program_load_async(x->ctl, hash, on_program, r, err);
    if (rc != 0) {
        free(l);
        free(r);
        return rc;
    }
    l->next = x->loads;
    x->loads = l;
    return 0;
}

void exec_inst_take_row(st_exec_t *x, exec_inst_t *in, st_store_instance_t *row)
{
    st_err_t err;
    const exec_prog_t *prog = NULL;
    int rc = prog_get(x, row->program_hash, &prog, &err);
    if (rc == 0 && prog == NULL) {
        /* Its program is on the way: keep the row, queue events meanwhile. */
        if (in->row != NULL) {
            st_store_instance_release(in->row);
            free(in->row);
        }
        in->row = row;
        in->loading = 1;
        in->load_gen = 0;
        return;
    }
    if (rc == 0)
        rc = from_row(x, in, prog, row, &err);
    st_store_instance_release(row);
    free(row);
    if (rc == ST_NOMEM || rc == ST_IO || rc == ST_DB) {
        exec_log(x, "cannot take up an instance now (tried again): %s", err.msg);
        exec_reload_later(x, in);
        return;
    }
    if (rc != 0) {
        exec_log(x, "cannot adopt an instance: %s", err.msg);
        exec_inst_forget(x, in);
        return;
    }
    ready(x, in);
}

static void on_loaded(int rc, const st_err_t *err, st_store_instances_t *rows, void *ud)
{
    st_exec_t *x = ((exec_req_t *)ud)->x;
    exec_inst_t *in = exec_req_take(ud, 0);
    if (in == NULL)
        return;
    in->loading = 0;
    in->load_gen = 0;
    if (in->dead) {
        exec_inst_release_if_idle(x, in);
        return;
    }
    if (rc != 0) { /* whatever the statement's error: never forget it for that */
        exec_log_err(x, "reading an instance failed (tried again)", err);
        exec_reload_later(x, in);
        return;
    }
    if (rows->n == 0 || rows->v[0].owner_node != x->node_id) {
        /* Not ours (or gone): its owner reacts to the same notification. */
        exec_inst_forget(x, in);
        return;
    }
    st_store_instance_t *row = malloc(sizeof *row);
    if (row == NULL) {
        exec_log(x, "out of memory taking up an instance (tried again)");
        exec_reload_later(x, in);
        return;
    }
    *row = rows->v[0];
    memset(&rows->v[0], 0, sizeof rows->v[0]); /* taken */
    exec_inst_take_row(x, in, row);
}

void exec_inst_load(st_exec_t *x, exec_inst_t *in)
{
    if (in->loading || in->dead)
        return;
    st_err_t err;
    exec_req_t *r = exec_req_new(x, in);
    uint64_t gen = r != NULL ? r->gen : 0; /* r is the callback's once submitted */
    int rc = r == NULL ? st_err_set(&err, ST_NOMEM, "out of memory")
                       : st_store_instance_load_async(x->ctl, &in->id, on_loaded, r, &err);
    if (rc != 0) {
        free(r);
        exec_log(x, "cannot read an instance now (tried again): %s", err.msg);
        exec_reload_later(x, in);
        return;
    }
    exec_timer_cancel_all(x, in);
    st_core_instance_free(in->core);
    in->core = NULL;
    in->loading = 1;
    in->load_gen = gen;
}
