/*
 * st_start.h — start a flow instance: the one implementation behind
 * POST /v1/instances, `settled start` and every library caller.
 *
 * Layer: start (below http, exec, ops and the daemon; depends
 * on the core, the store and the input limits — never on the compiler, so
 * the HTTP side links it without settle_flowc). Blocking calls on the given
 * store connection; never prints.
 *
 * What a start does, in this order, the same for every entry point:
 *   1. the business key, when given, is a usable key (1..255 bytes of
 *      UTF-8) — ST_INVAL otherwise;
 *   2. the flow has a current version — ST_NOTFOUND otherwise;
 *   3. the inputs are exactly the Program's inputs with their types (the
 *      check START itself runs) and plausible values — ST_INVAL, message
 *      prefixed "inputs of FLOW", nothing stored otherwise;
 *   4. the instance is stamped on the clock the nodes run on (st_start_at_t);
 *   5. one store call writes the instance (state before its first step),
 *      its "start" history row, its flow count and the correlation keys its
 *      inputs already name (so a webhook about them finds the instance
 *      before its first step);
 *   6. a business key that already names an instance of the flow returns
 *      that instance (existing = 1) when it was started with the same
 *      inputs, and ST_CONFLICT naming the first differing input otherwise.
 * Other failures are ST_DB (the database) or ST_NOMEM.
 */
#ifndef ST_START_H
#define ST_START_H

#include <stdint.h>

#include <jansson.h>

#include "common/st_err.h"
#include "start/st_start_progs.h"
#include "store/st_store.h"

/* Which clock stamps the start (created_at, the start history row and the
 * time part of the UUIDv7). */
typedef enum st_start_at {
    /* The nodes' clock, as the database knows it: the virtual clock's time
     * (settle_clock.now_us) when a node runs --clock virtual on it, wall
     * time when there is no virtual clock. For callers that do not know
     * the nodes' clock (`settled start`) and virtual nodes. */
    ST_START_AT_NODES = 0,
    ST_START_AT_WALL,  /* wall time: the caller's node runs on the real clock */
    ST_START_AT_GIVEN, /* at_us: the caller holds the node's clock */
} st_start_at_t;

typedef struct st_start_req {
    const char *flow;         /* starts its current version */
    const json_t *inputs;     /* an object; borrowed */
    const char *business_key; /* NULL: not idempotent */
    st_start_at_t at;         /* see above; 0: ST_START_AT_NODES */
    int64_t at_us;            /* ST_START_AT_GIVEN only: µs since the epoch */
    int64_t owner_node;       /* 0: unowned (any node claims it); else that node
                                 owns the new instance (lease epoch 1) */
} st_start_req_t;

typedef struct st_start_out {
    char id[37];   /* instance UUID */
    int existing;  /* 1: the business key already named this instance */
    char hash[65]; /* the Program version it runs */
    int64_t at_us; /* the time the start was stamped with (a new instance) */
    /* The initial state's name of a new instance, borrowed from the given
     * Program cache (NULL when the call made its own cache). */
    const char *state;
    int owned; /* 1: a new instance owned by req->owner_node */
} st_start_out_t;

/*
 * Start req->flow (see the header comment for the rules and codes). progs
 * is the node's Program cache (borrowed); NULL loads the Program for this
 * call only. out is zeroed first; its id is set on success and on
 * ST_CONFLICT (the instance the key names).
 */
int st_start(st_store_conn_t *c, st_start_progs_t *progs, const st_start_req_t *req,
             st_start_out_t *out, st_err_t *err);

/*
 * Start n flows at once (group commit): each item follows every rule of
 * st_start (its own checks, its own result), and all the items that pass
 * their checks are written in one transaction. Items may name different
 * flows; two items with the same business key of one flow start one
 * instance (the later one answers existing, or ST_CONFLICT for other
 * inputs). rc[i] (0 or the code st_start would return) and errs[i] answer
 * reqs[i]; outs[i] as st_start's out. Returns 0, or the code of a failure
 * of the whole call (the database; then every item not finished carries
 * it, err says it once).
 */
int st_start_many(st_store_conn_t *c, st_start_progs_t *progs, const st_start_req_t *reqs, size_t n,
                  st_start_out_t *outs, int *rc, st_err_t *errs, st_err_t *err);

/* Parse start inputs given as JSON text (--input); NULL is {}. *out is a
 * new reference to an object, or ST_INVAL with a hint. */
int st_start_inputs_parse(const char *text, json_t **out, st_err_t *err);

#endif
