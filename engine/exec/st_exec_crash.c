/*
 * st_exec_crash.c — named crash points for the crash tests.
 *
 * SETTLE_CRASH_AT="after_commit:37" makes the 37th pass through the point
 * "after_commit" call abort(): the process dies as under kill -9, with no
 * cleanup, so tests can prove that a restart loses and repeats nothing.
 * Several points may be given, separated by commas. Points:
 *   before_checkpoint  a step was computed, its checkpoint not yet submitted
 *   after_commit       a checkpoint committed, its commands not yet run
 *   after_dispatch     an activity attempt was handed to the runner
 *   after_result       an attempt finished, nothing recorded yet
 */
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

static const char *const points[] = {"before_checkpoint", "after_commit", "after_dispatch",
                                     "after_result"};

int exec_crash_parse(st_exec_t *x, const char *spec, st_err_t *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        char *end = NULL;
        unsigned long long at = colon ? strtoull(colon + 1, &end, 10) : 0;
        if (colon == NULL || at == 0 || *end != '\0')
            return st_err_set(err, ST_INVAL, "bad crash point '%s': expected name:N with N >= 1",
                              tok);
        *colon = '\0';
        int known = 0;
        for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
            known |= strcmp(points[i], tok) == 0;
        if (!known)
            return st_err_set(err, ST_INVAL, "unknown crash point '%s'", tok);
        if (x->ncrash == EXEC_MAX_CRASH)
            return st_err_set(err, ST_INVAL, "at most %d crash points", EXEC_MAX_CRASH);
        exec_crash_t *c = &x->crash[x->ncrash++];
        snprintf(c->point, sizeof c->point, "%s", tok);
        c->at = at;
    }
    return 0;
}

void exec_crash_point(st_exec_t *x, const char *point)
{
    for (unsigned i = 0; i < x->ncrash; i++) {
        exec_crash_t *c = &x->crash[i];
        if (strcmp(c->point, point) == 0 && ++c->hits == c->at)
            abort();
    }
}
