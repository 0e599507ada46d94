/*
 * st_http_start.c — POST /v1/instances and POST /v1/instances/batch: the
 * HTTP side of a start, which only parses and answers.
 *
 * Layer: http (handlers). The rules of a start (key, flow, inputs checked
 * by the core, the clock, the Idempotency-Key contract, group commit)
 * live in engine/start (st_start_many, st_start_batch), shared with
 * `settled start`.
 *
 * Single start: the handler checks the body, queues a job on the server's
 * start committer (st_start_batch: concurrent starts share a transaction)
 * and suspends the connection; the committer's callback resumes it and
 * st_http_start_finish answers. Batch: the handler starts its items with
 * one st_start_many on its pool connection (one transaction) and answers
 * one result per item, in order; a bad item never stops the others.
 *
 * The instance a new start answers with is built from what the start
 * knows (the row it wrote: state before its first step, seq 0, no task);
 * an existing instance (business key replay) is read from the database.
 */
#include "http/st_http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "common/st_input.h"

#define BATCH_MAX 1000

/* The view of an instance this start has just written (its vars as
 * stored: time inputs in microseconds). */
static json_t *new_view(st_http_server_t *s, const st_start_req_t *req, const st_start_out_t *out)
{
    const st_start_prog_t *prog = st_start_progs_find(s->progs, out->hash);
    json_t *vars = prog ? st_core_inputs_stored(prog->p, req->inputs) : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(out->id));
    json_object_set_new(o, "flow", json_string(req->flow));
    json_object_set_new(o, "program_hash", json_string(out->hash));
    json_object_set_new(o, "state", out->state ? json_string(out->state) : json_null());
    json_object_set_new(o, "status", json_string("running"));
    json_object_set_new(o, "seq", json_integer(0));
    json_object_set_new(o, "vars", vars ? vars : json_deep_copy(req->inputs));
    json_object_set_new(o, "wake_at", json_null());
    json_object_set_new(o, "wait_reason", json_null());
    json_object_set_new(o, "business_key",
                        req->business_key ? json_string(req->business_key) : json_null());
    json_object_set_new(o, "created_at", st_http_json_time(out->at_us));
    json_object_set_new(o, "updated_at", st_http_json_time(out->at_us));
    json_object_set_new(o, "pending_task", json_null());
    return o;
}

/* Messages quote client input cut to a length (a flow name), which may end
 * inside a UTF-8 sequence: scrubbed, or jansson refuses the string and the
 * client gets a 500 instead of its 4xx. */
static json_t *error_body(const char *type, const st_err_t *err, const char *hint)
{
    char m[ST_ERR_MSG_MAX], h[ST_ERR_MSG_MAX];
    snprintf(m, sizeof m, "%s", err->msg[0] ? err->msg : st_code_name(err->code));
    snprintf(h, sizeof h, "%s", err->hint[0] ? err->hint : hint);
    st_input_utf8_scrub(m);
    st_input_utf8_scrub(h);
    return json_pack("{s:{s:s,s:s,s:s}}", "error", "type", type, "message", m, "hint", h);
}

json_t *st_http_start_answer(st_http_server_t *s, st_http_db_t *db, const st_start_req_t *req,
                             int rc, const st_err_t *err, const st_start_out_t *out,
                             unsigned *status)
{
    st_err_t e = *err;
    json_t *view = NULL;
    if (rc == 0 && out->existing) { /* a replay: the instance as it is now */
        st_http_db_t *own = NULL;
        rc = db ? 0 : st_http_pool_get(&s->pool, &own, &e);
        if (rc == 0)
            view = st_http_instance_view(db ? db : own, out->id, &rc, &e);
        st_http_pool_put(&s->pool, own);
    } else if (rc == 0) {
        view = new_view(s, req, out);
    }
    if (rc == 0) {
        json_object_set_new(view, "existing", json_boolean(out->existing));
        *status = out->existing ? 200 : 201;
        return view;
    }
    if (rc == ST_NOTFOUND) {
        *status = 404;
        return error_body("not_found", &e, "check the flow name");
    }
    if (rc == ST_INVAL) {
        *status = 422;
        return error_body("invalid_inputs", &e,
                          "send exactly the flow's inputs with the declared types");
    }
    if (rc == ST_CONFLICT) {
        *status = 409;
        return error_body("conflict", &e, "use a new key");
    }
    *status = 503;
    return error_body("unavailable", &e, "the database is unavailable; retry later");
}

int64_t st_http_start_owner(st_http_server_t *s)
{
    st_http_handoff_t *h = atomic_load(&s->handoff);
    return h != NULL ? h->owner(h->ctx) : 0;
}

void st_http_start_handoff(st_http_server_t *s, const st_start_out_t *outs, size_t n)
{
    st_http_handoff_t *h = atomic_load(&s->handoff);
    if (h == NULL)
        return;
    char(*ids)[37] = malloc(n * sizeof *ids);
    size_t k = 0;
    for (size_t i = 0; ids != NULL && i < n; i++)
        if (outs[i].owned)
            memcpy(ids[k++], outs[i].id, sizeof ids[0]);
    if (k > 0)
        h->adopt(h->ctx, (const char(*)[37])ids, k);
    free(ids); /* out of memory: the owned rows reach the node by the lease claim */
}

/* Committer thread: the start is final; hand an instance this node owns
 * to its executor, then let libmicrohttpd call us again. */
static void job_done(st_start_job_t *job, void *ud)
{
    st_http_req_t *req = ud;
    if (job->rc == 0 && job->out.owned)
        st_http_start_handoff(req->srv, &job->out, 1);
    MHD_resume_connection(req->conn);
}

void st_http_h_start(st_http_req_t *req, st_http_resp_t *resp)
{
    json_t *body = st_http_body_object(req, resp);
    if (body == NULL)
        return;
    const char *flow = NULL, *key = NULL;
    json_t *inputs = NULL;
    if (st_http_start_args(body, st_http_req_header(req, "Idempotency-Key"), &flow, &inputs, &key,
                           resp) != 0) {
        json_decref(body);
        return;
    }
    if (inputs == NULL) {
        inputs = json_object();
        json_object_set_new(body, "inputs", inputs); /* lives as long as body */
    }
    st_start_job_t *job = calloc(1, sizeof *job);
    if (job == NULL) {
        json_decref(body);
        st_http_resp_error(resp, 503, "unavailable", "retry later", "out of memory");
        return;
    }
    job->req = (st_start_req_t){.flow = flow,
                                .inputs = inputs,
                                .business_key = key,
                                .at = req->srv->start_at,
                                .owner_node = st_http_start_owner(req->srv)};
    job->cb = job_done;
    job->ud = req;
    req->sjob = job;
    req->sbody = body; /* the job borrows from it; both freed with the request */
    /* Suspend before queueing, so the resume can never come first. */
    MHD_suspend_connection(req->conn);
    st_start_batch_enqueue(req->srv->starts, job);
}

void st_http_start_finish(st_http_req_t *req, st_http_resp_t *resp)
{
    st_start_job_t *job = req->sjob;
    unsigned status = 0;
    json_t *body =
        st_http_start_answer(req->srv, NULL, &job->req, job->rc, &job->err, &job->out, &status);
    if (status == 503)
        st_http_log(req->srv, "start of %.100s failed: %s", job->req.flow, job->err.msg);
    if (status == 200 || status == 201)
        snprintf(resp->location, sizeof resp->location, "/v1/instances/%s", job->out.id);
    st_http_resp_json(resp, status, body);
}

/* Item i's request; 0, or its answer (422) in *answer. */
static int batch_item(json_t *item, st_start_req_t *req, st_start_at_t at, json_t **answer)
{
    st_http_resp_t r = {0};
    const char *flow = NULL, *key = NULL;
    json_t *inputs = NULL;
    if (!json_is_object(item))
        st_http_resp_error(&r, 422, "invalid_request",
                           "each item is a start request: {\"flow\": \"NAME\", \"inputs\": {...}}",
                           "the item is not a JSON object");
    else if (st_http_start_args(item, NULL, &flow, &inputs, &key, &r) == 0) {
        if (inputs == NULL) {
            inputs = json_object();
            json_object_set_new(item, "inputs", inputs);
        }
        *req = (st_start_req_t){.flow = flow, .inputs = inputs, .business_key = key, .at = at};
        return 0;
    }
    json_t *err = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    free(r.body);
    *answer = json_pack("{s:i,s:o}", "status", (int)r.status, "error",
                        json_incref(json_object_get(err, "error")));
    json_decref(err);
    return ST_INVAL;
}

/* The items' array of the body, or NULL with resp set (422). */
static json_t *batch_items(json_t *body, st_http_resp_t *resp)
{
    static const char hint[] = "send {\"items\": [{\"flow\": \"NAME\", \"inputs\": {...}}, ...]} "
                               "with 1 to 1000 items";
    json_t *items = json_object_get(body, "items");
    if (json_object_size(body) != 1 || !json_is_array(items)) {
        st_http_resp_error(resp, 422, "invalid_request", hint,
                           "the body must be an object with only \"items\", an array");
        return NULL;
    }
    size_t n = json_array_size(items);
    if (n == 0 || n > BATCH_MAX) {
        st_http_resp_error(resp, 422, "invalid_request", hint, "a batch has 1 to %d items, not %zu",
                           BATCH_MAX, n);
        return NULL;
    }
    return items;
}

/* Start the checked items (answers[i] == NULL) in one st_start_many. */
static void batch_run(st_http_req_t *req, st_start_req_t *reqs, json_t **answers, size_t n)
{
    st_start_req_t *go = calloc(n, sizeof *go);
    size_t *idx = calloc(n, sizeof *idx);
    st_start_out_t *outs = calloc(n, sizeof *outs);
    st_err_t *errs = calloc(n, sizeof *errs);
    int *rc = calloc(n, sizeof *rc);
    st_err_t err;
    st_err_clear(&err);
    st_http_db_t *db = NULL;
    int whole = go && idx && outs && errs && rc ? 0 : st_err_set(&err, ST_NOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; whole == 0 && i < n; i++)
        if (answers[i] == NULL) {
            idx[m] = i;
            go[m++] = reqs[i];
        }
    if (whole == 0)
        whole = st_http_pool_get(&req->srv->pool, &db, &err);
    int64_t owner = st_http_start_owner(req->srv);
    for (size_t k = 0; k < m; k++)
        go[k].owner_node = owner;
    if (whole == 0 && m > 0 &&
        st_start_many(db->store, req->srv->progs, go, m, outs, rc, errs, &err) == 0)
        st_http_start_handoff(req->srv, outs, m);
    for (size_t k = 0; k < m || (whole != 0 && k < n); k++) {
        size_t i = whole ? k : idx[k];
        if (answers[i] != NULL)
            continue;
        unsigned status = 0;
        json_t *b =
            whole
                ? st_http_start_answer(req->srv, NULL, &reqs[i], whole, &err, NULL, &status)
                : st_http_start_answer(req->srv, db, &reqs[i], rc[k], &errs[k], &outs[k], &status);
        json_t *a = json_pack("{s:i}", "status", (int)status);
        json_object_set_new(
            a, status == 200 || status == 201 ? "instance" : "error",
            status == 200 || status == 201 ? b : json_incref(json_object_get(b, "error")));
        if (!(status == 200 || status == 201))
            json_decref(b);
        answers[i] = a;
    }
    st_http_pool_put(&req->srv->pool, db);
    free(go);
    free(idx);
    free(outs);
    free(errs);
    free(rc);
}

void st_http_h_start_batch(st_http_req_t *req, st_http_resp_t *resp)
{
    json_t *body = st_http_body_object(req, resp);
    json_t *items = body ? batch_items(body, resp) : NULL;
    if (items == NULL) {
        json_decref(body);
        return;
    }
    size_t n = json_array_size(items);
    st_start_req_t *reqs = calloc(n, sizeof *reqs);
    json_t **answers = calloc(n, sizeof *answers);
    if (reqs == NULL || answers == NULL) {
        st_http_resp_error(resp, 503, "unavailable", "retry later", "out of memory");
    } else {
        for (size_t i = 0; i < n; i++)
            batch_item(json_array_get(items, i), &reqs[i], req->srv->start_at, &answers[i]);
        batch_run(req, reqs, answers, n);
        json_t *results = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(results, answers[i]);
        st_http_resp_json(resp, 200, json_pack("{s:o}", "results", results));
    }
    free(reqs);
    free(answers);
    json_decref(body);
}
