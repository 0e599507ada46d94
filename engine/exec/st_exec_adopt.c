/*
 * st_exec_adopt.c — instances started on this node handed to its executor
 * in-process: no NOTIFY, no claim round.
 *
 * Layer: exec. Depends on libev (ev_async), pthreads and the instance
 * table (exec_inst_*).
 *
 * A start made by this node's HTTP side gives the new instance this node
 * as owner with lease epoch 1 (st_exec_owner) and hands its id over
 * (st_exec_adopt, any thread): the ids wait in a mutex-guarded list and an
 * ev_async wakes the loop, which loads each row on its control connection
 * as a claim's rows are loaded. The executor owns the row from its commit
 * on, so a crash before the hand-off leaves it to the normal lapsed-lease
 * claim, as any other instance of a dead node.
 *
 * Invariants: the owner offered is 0 (no hand-off: starts stay unowned and
 * are claimed as before) until the node is registered and running, while
 * it registers again after losing its lease, and from shutdown on; only
 * the loop thread touches the instance table; the mutex is never held
 * while calling into the executor.
 */
#include "exec/exec_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct exec_adopt {
    pthread_mutex_t mu;
    st_store_uuid_t *ids; /* waiting for the loop */
    size_t n, cap;
    ev_async w;
    _Atomic int64_t owner; /* offered to starts; 0: none */
    int started;           /* w runs on the loop */
};

/* Loop thread: take the waiting ids and load the instances they name. */
static void on_adopt(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    st_exec_t *x = w->data;
    exec_adopt_t *a = x->adopt;
    pthread_mutex_lock(&a->mu);
    st_store_uuid_t *ids = a->ids;
    size_t n = a->n;
    a->ids = NULL;
    a->n = a->cap = 0;
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < n && !x->shutting_down && !x->freeing; i++) {
        exec_inst_t *in = exec_inst_find(x, &ids[i]);
        if (in == NULL && (in = exec_inst_add(x, &ids[i])) == NULL) {
            exec_log(x, "out of memory taking started instances (the rest wait for the lease)");
            break;
        }
        x->stats.adopted++;
        if (!in->dead && in->core == NULL && !in->loading && !in->reload && in->ck == NULL)
            exec_inst_load(x, in);
    }
    free(ids);
}

int exec_adopt_init(st_exec_t *x, st_err_t *err)
{
    exec_adopt_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory");
    pthread_mutex_init(&a->mu, NULL);
    ev_async_init(&a->w, on_adopt);
    a->w.data = x;
    x->adopt = a;
    return 0;
}

void exec_adopt_start(st_exec_t *x)
{
    if (x->adopt == NULL)
        return;
    ev_async_start(x->loop, &x->adopt->w);
    x->adopt->started = 1;
    exec_adopt_owner(x, x->node_id);
}

void exec_adopt_owner(st_exec_t *x, int64_t node_id)
{
    if (x->adopt != NULL)
        atomic_store(&x->adopt->owner, x->adopt->started ? node_id : 0);
}

void exec_adopt_free(st_exec_t *x)
{
    exec_adopt_t *a = x->adopt;
    if (a == NULL)
        return;
    if (a->started)
        ev_async_stop(x->loop, &a->w);
    pthread_mutex_destroy(&a->mu);
    free(a->ids);
    free(a);
    x->adopt = NULL;
}

int64_t st_exec_owner(st_exec_t *x)
{
    return x->adopt != NULL ? atomic_load(&x->adopt->owner) : 0;
}

void st_exec_adopt(st_exec_t *x, const char (*ids)[37], size_t n)
{
    exec_adopt_t *a = x->adopt;
    if (a == NULL || n == 0)
        return;
    pthread_mutex_lock(&a->mu);
    if (a->n + n > a->cap) {
        size_t cap = a->cap ? a->cap : 64;
        while (cap < a->n + n)
            cap *= 2;
        st_store_uuid_t *v = realloc(a->ids, cap * sizeof *v);
        if (v == NULL) {
            pthread_mutex_unlock(&a->mu);
            return; /* the rows are owned: the lease claim takes them after a restart */
        }
        a->ids = v;
        a->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        if (st_store_uuid_parse(ids[i], &a->ids[a->n]) == 0)
            a->n++;
    pthread_mutex_unlock(&a->mu);
    ev_async_send(x->loop, &a->w);
}
