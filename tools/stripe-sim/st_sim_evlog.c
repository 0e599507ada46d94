/*
 * st_sim_evlog.c — ring of events, each a frame around a shared object
 * text (see st_sim_evlog.h).
 */
#include "st_sim_evlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_sim_evlog {
    st_sim_evlog_entry_t *ring; /* keep slots */
    size_t keep;                /* capacity */
    size_t total;               /* events ever added */
};

st_sim_evlog_t *st_sim_evlog_new(size_t keep)
{
    st_sim_evlog_t *log = calloc(1, sizeof(*log));
    if (!log)
        return NULL;
    log->ring = calloc(keep, sizeof(*log->ring));
    if (!log->ring) {
        free(log);
        return NULL;
    }
    log->keep = keep;
    return log;
}

void st_sim_evlog_free(st_sim_evlog_t *log)
{
    if (!log)
        return;
    for (size_t i = 0; i < log->keep; i++) {
        free(log->ring[i].frame);
        json_decref(log->ring[i].obj);
    }
    free(log->ring);
    free(log);
}

void st_sim_evlog_add(st_sim_evlog_t *log, const char *id, const char *type, int64_t created,
                      char *frame, json_t *obj)
{
    st_sim_evlog_entry_t *e = &log->ring[log->total % log->keep];
    free(e->frame);
    json_decref(e->obj);
    snprintf(e->id, sizeof(e->id), "%s", id);
    snprintf(e->type, sizeof(e->type), "%s", type);
    e->created = created;
    e->frame = frame;
    e->obj = obj;
    log->total++;
}

char *st_sim_evlog_assemble(const char *frame, const json_t *obj)
{
    const char *after = frame + strlen(frame) + 1;
    const char *text = obj ? json_string_value(obj) : "null";
    size_t a = strlen(frame), b = obj ? json_string_length(obj) : 4, c = strlen(after);
    char *raw = malloc(a + b + c + 1);
    if (!raw)
        return NULL;
    memcpy(raw, frame, a);
    memcpy(raw + a, text, b);
    memcpy(raw + a + b, after, c + 1);
    return raw;
}

char *st_sim_evlog_raw(const st_sim_evlog_entry_t *e)
{
    return st_sim_evlog_assemble(e->frame, e->obj);
}

size_t st_sim_evlog_count(const st_sim_evlog_t *log)
{
    return log->total < log->keep ? log->total : log->keep;
}

const st_sim_evlog_entry_t *st_sim_evlog_at(const st_sim_evlog_t *log, size_t i)
{
    size_t n = st_sim_evlog_count(log);
    if (i >= n)
        return NULL;
    size_t oldest = log->total - n;
    return &log->ring[(oldest + i) % log->keep];
}

long st_sim_evlog_find(const st_sim_evlog_t *log, const char *id)
{
    long lo = 0, hi = (long)st_sim_evlog_count(log) - 1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        int c = strcmp(st_sim_evlog_at(log, (size_t)mid)->id, id);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}
