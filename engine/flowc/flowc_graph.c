/*
 * flowc_graph.c — whole-flow checks on the resolved state graph:
 * unreachable states (warning), states from which no final or fail state
 * can be reached (error), and loops that pass through no sleep, await or
 * activity (error: the engine would spin without a checkpoint that waits).
 *
 * Layer: engine/flowc internals.
 * Invariants: runs only on a Program whose targets all resolved; walks are
 * iterative (explicit stacks), so a 5,000-state flow or a hostile input
 * cannot overflow the C stack; cost is linear in states + edges.
 */
#include "flowc/flowc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIND(x) SETTLE__V1__STATE_KIND__STATE_KIND_##x

/* Edges in compressed rows: out[off[s] .. off[s+1]) are s's targets. */
typedef struct {
    uint32_t n;
    uint32_t *off, *to;
} fc_csr_t;

/* Calls emit(ctx, target, instant) for every edge leaving s. */
static void fc_edges(const Settle__V1__State *s, void (*emit)(void *, uint32_t, bool), void *ctx)
{
    for (size_t i = 0; i < s->n_guards; i++)
        emit(ctx, s->guards[i]->target, true);
    if (s->kind == KIND(DECIDE))
        emit(ctx, s->else_target, true);
    if (s->kind == KIND(DO) && s->activity != NULL)
        for (size_t i = 0; i < s->activity->n_arms; i++)
            emit(ctx, s->activity->arms[i]->target, false);
    if (s->kind == KIND(SLEEP) && s->sleep != NULL)
        emit(ctx, s->sleep->wake_target, false);
    if (s->kind == KIND(AWAIT) && s->await != NULL)
        emit(ctx, s->await->timeout_target, false);
    for (size_t i = 0; i < s->n_signals; i++)
        emit(ctx, s->signals[i]->target, false);
}

typedef struct {
    fc_csr_t *g;
    uint32_t from;
    bool instant_only, reverse;
    uint32_t *fill; /* next free slot per row (second pass) */
} fc_build_t;

static void fc_count_edge(void *vctx, uint32_t to, bool instant)
{
    fc_build_t *b = vctx;
    if (to >= b->g->n || (b->instant_only && !instant))
        return;
    b->g->off[(b->reverse ? to : b->from) + 1]++;
}

static void fc_put_edge(void *vctx, uint32_t to, bool instant)
{
    fc_build_t *b = vctx;
    if (to >= b->g->n || (b->instant_only && !instant))
        return;
    uint32_t row = b->reverse ? to : b->from;
    b->g->to[b->fill[row]++] = b->reverse ? b->from : to;
}

static bool fc_csr_build(const Settle__V1__Program *p, fc_csr_t *g, bool instant_only, bool reverse)
{
    uint32_t n = (uint32_t)p->n_states;
    g->n = n;
    g->off = calloc((size_t)n + 1, sizeof *g->off);
    uint32_t *fill = calloc((size_t)n + 1, sizeof *fill);
    fc_build_t b = {g, 0, instant_only, reverse, fill};
    if (g->off == NULL || fill == NULL)
        goto fail;
    for (b.from = 0; b.from < n; b.from++)
        fc_edges(p->states[b.from], fc_count_edge, &b);
    for (uint32_t i = 0; i < n; i++)
        g->off[i + 1] += g->off[i];
    g->to = malloc(((size_t)g->off[n] + 1) * sizeof *g->to);
    if (g->to == NULL)
        goto fail;
    memcpy(fill, g->off, (size_t)n * sizeof *fill);
    for (b.from = 0; b.from < n; b.from++)
        fc_edges(p->states[b.from], fc_put_edge, &b);
    free(fill);
    return true;
fail:
    free(fill);
    free(g->off);
    g->off = NULL;
    return false;
}

static void fc_csr_free(fc_csr_t *g)
{
    free(g->off);
    free(g->to);
}

/* Mark everything reachable from the roots already marked in `seen`. */
static void fc_flood(const fc_csr_t *g, uint8_t *seen, uint32_t *stack)
{
    uint32_t top = 0;
    for (uint32_t i = 0; i < g->n; i++)
        if (seen[i])
            stack[top++] = i;
    while (top > 0) {
        uint32_t s = stack[--top];
        for (uint32_t e = g->off[s]; e < g->off[s + 1]; e++)
            if (!seen[g->to[e]]) {
                seen[g->to[e]] = 1;
                stack[top++] = g->to[e];
            }
    }
}

static fc_pos_t fc_state_pos(const Settle__V1__State *s)
{
    fc_pos_t at = {s->pos ? s->pos->line : 0, s->pos ? s->pos->col : 0, (uint32_t)strlen(s->name)};
    return at;
}

static bool fc_is_end(const Settle__V1__State *s)
{
    return s->kind == KIND(FINAL) || s->kind == KIND(FAIL);
}

static void fc_check_reach(fc_sink_t *sink, const Settle__V1__Program *p, const fc_csr_t *fwd,
                           const fc_csr_t *rev, uint8_t *seen, uint32_t *stack)
{
    uint32_t n = fwd->n;
    memset(seen, 0, n);
    seen[p->initial] = 1;
    if (p->has_cancel && p->cancel_target < n)
        seen[p->cancel_target] = 1;
    fc_flood(fwd, seen, stack);
    for (uint32_t i = 0; i < n; i++)
        if (!seen[i])
            fc_warn(sink, fc_state_pos(p->states[i]), "remove it or add a transition to it",
                    "state '%s' is never reached", p->states[i]->name);
    memset(seen, 0, n);
    for (uint32_t i = 0; i < n; i++)
        seen[i] = fc_is_end(p->states[i]);
    fc_flood(rev, seen, stack);
    for (uint32_t i = 0; i < n; i++)
        if (!seen[i])
            fc_error(sink, fc_state_pos(p->states[i]),
                     "give it a path to a final or fail state (e.g. a timeout or give-up arm)",
                     "no final or fail state can be reached from state '%s'", p->states[i]->name);
}

/* Report the cycle stack[from..top) closing back at its first state. */
static void fc_report_spin(fc_sink_t *sink, const Settle__V1__Program *p, const uint32_t *path,
                           uint32_t len)
{
    char buf[512];
    size_t k = 0;
    for (uint32_t i = 0; i <= len && k < sizeof buf - 8; i++) {
        const char *name = p->states[path[i % len]]->name;
        int w = snprintf(buf + k, sizeof buf - k, "%s%s", i ? " -> " : "", name);
        k = w < 0 ? k : k + (size_t)w;
    }
    if (k >= sizeof buf)
        memcpy(buf + sizeof buf - 4, "...", 4);
    fc_error(sink, fc_state_pos(p->states[path[0]]),
             "put a sleep, await or activity on the loop so it waits between rounds",
             "loop %s passes no sleep, await or activity", buf);
}

/* Iterative DFS over instant edges; colour 1 = on the path, 2 = done. */
static void fc_check_spin(fc_sink_t *sink, const Settle__V1__Program *p, const fc_csr_t *g,
                          uint8_t *colour, uint32_t *path, uint32_t *edge)
{
    memset(colour, 0, g->n);
    for (uint32_t root = 0; root < g->n; root++) {
        if (colour[root])
            continue;
        uint32_t top = 0;
        path[top] = root;
        edge[top] = g->off[root];
        colour[root] = 1;
        top++;
        while (top > 0) {
            uint32_t s = path[top - 1];
            if (edge[top - 1] == g->off[s + 1]) {
                colour[s] = 2;
                top--;
                continue;
            }
            uint32_t t = g->to[edge[top - 1]++];
            if (colour[t] == 1) {
                uint32_t from = top - 1;
                while (path[from] != t)
                    from--;
                fc_report_spin(sink, p, path + from, top - from);
            } else if (colour[t] == 0) {
                colour[t] = 1;
                path[top] = t;
                edge[top] = g->off[t];
                top++;
            }
        }
    }
}

void fc_check_graph(fc_sink_t *sink, const Settle__V1__Program *p)
{
    uint32_t n = (uint32_t)p->n_states;
    fc_csr_t fwd = {0}, rev = {0}, inst = {0};
    uint8_t *seen = malloc(n + 1);
    uint32_t *stack = malloc(((size_t)n + 1) * sizeof *stack);
    uint32_t *edge = malloc(((size_t)n + 1) * sizeof *edge);
    if (seen && stack && edge && fc_csr_build(p, &fwd, false, false) &&
        fc_csr_build(p, &rev, false, true) && fc_csr_build(p, &inst, true, false)) {
        fc_check_reach(sink, p, &fwd, &rev, seen, stack);
        fc_check_spin(sink, p, &inst, seen, stack, edge);
    } else {
        sink->oom = true;
    }
    fc_csr_free(&fwd);
    fc_csr_free(&rev);
    fc_csr_free(&inst);
    free(seen);
    free(stack);
    free(edge);
}
