/*
 * st_start_progs.c — the shared Program cache (see st_start_progs.h): a list
 * under a mutex. Lookups are rare (an instance looks its Program up once,
 * when it is loaded; a start once per request), so a list is enough.
 */
#include "start/st_start_progs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct progs_node {
    st_start_prog_t e;
    st_core_program_t *owned; /* == e.p */
    struct progs_node *next;
} progs_node_t;

struct st_start_progs {
    pthread_mutex_t mu; /* guards head */
    progs_node_t *head;
};

st_start_progs_t *st_start_progs_new(void)
{
    st_start_progs_t *pc = calloc(1, sizeof *pc);
    if (pc != NULL && pthread_mutex_init(&pc->mu, NULL) != 0) {
        free(pc);
        return NULL;
    }
    return pc;
}

void st_start_progs_free(st_start_progs_t *pc)
{
    if (pc == NULL)
        return;
    while (pc->head != NULL) {
        progs_node_t *n = pc->head;
        pc->head = n->next;
        st_core_program_free(n->owned);
        free(n);
    }
    pthread_mutex_destroy(&pc->mu);
    free(pc);
}

/* Caller holds pc->mu. */
static progs_node_t *lookup(const st_start_progs_t *pc, const char *hash)
{
    progs_node_t *n = pc->head;
    while (n != NULL && strcmp(n->e.hash, hash) != 0)
        n = n->next;
    return n;
}

const st_start_prog_t *st_start_progs_find(st_start_progs_t *pc, const char *hash)
{
    pthread_mutex_lock(&pc->mu);
    progs_node_t *n = lookup(pc, hash);
    pthread_mutex_unlock(&pc->mu);
    return n ? &n->e : NULL;
}

int st_start_progs_add(st_start_progs_t *pc, const char *hash, st_core_program_t *prog,
                       const st_start_prog_t **out, st_err_t *err)
{
    progs_node_t *fresh = calloc(1, sizeof *fresh);
    if (fresh == NULL) {
        st_core_program_free(prog);
        return st_err_set(err, ST_NOMEM, "out of memory caching program %.12s", hash);
    }
    snprintf(fresh->e.hash, sizeof fresh->e.hash, "%s", hash);
    fresh->e.p = fresh->owned = prog;
    pthread_mutex_lock(&pc->mu);
    progs_node_t *have = lookup(pc, hash);
    if (have == NULL) {
        fresh->next = pc->head;
        pc->head = fresh;
    }
    pthread_mutex_unlock(&pc->mu);
    if (have != NULL) { /* another thread loaded it meanwhile */
        st_core_program_free(prog);
        free(fresh);
    }
    *out = have ? &have->e : &fresh->e;
    return 0;
}

int st_start_progs_load(st_start_progs_t *pc, st_store_conn_t *c, const char *hash,
                        const st_start_prog_t **out, st_err_t *err)
{
    if ((*out = st_start_progs_find(pc, hash)) != NULL)
        return 0;
    st_store_program_rec_t rec;
    int rc = st_store_program_load(c, hash, &rec, err);
    if (rc != 0)
        return rc;
    st_core_program_t *prog = NULL;
    rc = st_core_program_load(rec.bytes, rec.len, &prog, err);
    st_store_program_rec_release(&rec);
    if (rc != 0) {
        st_err_prefix(err, "program %.12s", hash);
        return rc;
    }
    return st_start_progs_add(pc, hash, prog, out, err);
}
