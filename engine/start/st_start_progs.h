/*
 * st_start_progs.h — the node's one cache of loaded Programs, by hash.
 *
 * Layer: start (below http, exec, ops and the daemon; depends on the core
 * and the store only).
 *
 * Ownership: the cache owns every Program it holds and never evicts one
 * (Programs are immutable and a node runs a bounded number of deployed
 * versions), so a pointer it returns stays valid until st_start_progs_free.
 * Whoever creates the cache frees it, after every user is gone: in settled
 * that is settled_main, which lends it to the executor and the HTTP server
 * (st_exec_cfg_t.programs, st_http_cfg_t.programs); either makes its own
 * when given none.
 *
 * Thread-safety: find, add and load may be called from any thread at once
 * (the HTTP handler threads and the executor's loop share one cache); a
 * mutex guards the list and is never held across a database call. Two
 * threads loading the same hash both load it; the first added wins and the
 * other copy is freed. The Programs themselves are read-only, safe to use
 * from several threads.
 */
#ifndef ST_START_PROGS_H
#define ST_START_PROGS_H

#include "common/st_err.h"
#include "core/st_core.h"
#include "store/st_store.h"

typedef struct st_start_progs st_start_progs_t;

/* A cached Program: its hash (as the store names it) and the Program. */
typedef struct st_start_prog {
    char hash[65];
    const st_core_program_t *p;
} st_start_prog_t;

/* An empty cache, or NULL when out of memory. */
st_start_progs_t *st_start_progs_new(void);
/* Frees every Program; NULL is a no-op. */
void st_start_progs_free(st_start_progs_t *pc);

/* The cached Program with this hash, or NULL. Never touches the database. */
const st_start_prog_t *st_start_progs_find(st_start_progs_t *pc, const char *hash);

/*
 * Hand a loaded Program to the cache under `hash` (taken in every case:
 * freed here on failure or when another thread added the hash first).
 * *out gets the cached entry. ST_NOMEM when out of memory.
 */
int st_start_progs_add(st_start_progs_t *pc, const char *hash, st_core_program_t *prog,
                       const st_start_prog_t **out, st_err_t *err);

/*
 * The cached Program, or load it from the store (blocking, on c) and add
 * it. Errors of the store (ST_NOTFOUND: no such program, ST_DB) and of the
 * core (ST_CHECK, ST_PARSE: the stored bytes are not a valid Program) are
 * passed on, with the hash named in the message.
 */
int st_start_progs_load(st_start_progs_t *pc, st_store_conn_t *c, const char *hash,
                        const st_start_prog_t **out, st_err_t *err);

#endif
