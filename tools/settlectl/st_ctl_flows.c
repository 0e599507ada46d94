/*
 * st_ctl_flows.c — Programs: `deploy FILE.flow`, `flows`, `graph FLOW|ID`.
 *
 * Layer: tools (settlectl). deploy goes through st_ops_deploy (the same
 * code settled uses), so a flow with compile errors is never registered;
 * graph renders with the settlec library's DOT writer and adds the
 * instance's path on top.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "common/st_file.h"
#include "ctl_int.h"
#include "ops/st_ops.h"
#include "flowc/st_flowc.h"
#include "store/st_store.h"

int ctl_cmd_deploy(ctl_t *c, int argc, char **argv)
{
    const char *pos[1] = {0};
    int n = ctl_opts_parse(c, "deploy", argc, argv, NULL, pos, 1);
    if (n != 1)
        return n < 0 ? CTL_EXIT_USAGE : ctl_usage(c, "deploy", "give one FILE.flow");
    st_err_t err;
    size_t len = 0;
    char *src = NULL;
    if (st_file_read(pos[0], 0, &src, &len, &err) != 0) {
        st_err_hint(&err, "give the path of a .flow file");
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    }
    if (ctl_db(c) == NULL) {
        free(src);
        return CTL_EXIT_ERROR;
    }
    st_ops_deployed_t d;
    char *diags = NULL;
    int orc = st_ops_deploy(c->sc, pos[0], src, len, &d, &diags, &err);
    int rc;
    if (diags != NULL)
        fputs(diags, stderr);
    if (orc == ST_CHECK) {
        rc = ctl_failf(c, CTL_EXIT_REFUSED, "fix the errors above; nothing was registered",
                       "%s does not compile", pos[0]);
    } else if (orc != 0) {
        rc = ctl_fail(c, ctl_exit_for(orc), &err);
    } else if (c->json) {
        rc = ctl_json_out(json_pack("{s:s,s:s,s:b,s:i}", "flow", d.name, "hash", d.hash, "created",
                                    d.created, "warnings", (int)d.warnings));
    } else {
        printf("deployed %s version %.12s (%s)%s\n", d.name, d.hash,
               d.created ? "new Program" : "already registered", "");
        printf("  new instances of %s start on %.12s; running ones stay on their version\n", d.name,
               d.hash);
        if (d.warnings)
            printf("  %u warning(s) above\n", d.warnings);
        rc = CTL_EXIT_OK;
    }
    free(diags);
    free(src);
    return rc;
}

#define CELL(r, i, k) st_store_rows_get((r), (i), (k))

static int flows_json(const st_store_rows_t *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(
            arr, json_pack(
                     "{s:s,s:s,s:s,s:s,s:b,s:b,s:{s:I,s:I,s:I,s:I}}", "flow", CELL(r, i, 0), "hash",
                     CELL(r, i, 1), "deployed_at", CELL(r, i, 2), "deployed_by", CELL(r, i, 3),
                     "current", CELL(r, i, 4)[0] == 't', "retired", CELL(r, i, 5)[0] == 't',
                     "instances", "running", (json_int_t)atoll(CELL(r, i, 6)), "waiting",
                     (json_int_t)atoll(CELL(r, i, 7)), "suspended",
                     (json_int_t)atoll(CELL(r, i, 8)), "failed", (json_int_t)atoll(CELL(r, i, 9))));
    return ctl_json_out(json_pack("{s:o}", "versions", arr));
}

static int flows_text(const st_store_rows_t *r)
{
    if (r->n == 0) {
        printf("no flows deployed yet\n  next: settlectl deploy workflows/NAME.flow\n");
        return CTL_EXIT_OK;
    }
    printf("%-16s %-12s %-8s %-20s %7s %7s %9s %6s  %s\n", "FLOW", "VERSION", "", "DEPLOYED",
           "RUNNING", "WAITING", "SUSPENDED", "FAILED", "BY");
    for (size_t i = 0; i < r->n; i++)
        printf("%-16s %-12.12s %-8s %-20s %7s %7s %9s %6s  %s\n", CELL(r, i, 0), CELL(r, i, 1),
               CELL(r, i, 4)[0] == 't'   ? "current"
               : CELL(r, i, 5)[0] == 't' ? "retired"
                                         : "old",
               CELL(r, i, 2), CELL(r, i, 6), CELL(r, i, 7), CELL(r, i, 8), CELL(r, i, 9),
               CELL(r, i, 3));
    return CTL_EXIT_OK;
}

int ctl_cmd_flows(ctl_t *c, int argc, char **argv)
{
    const char *pos[1];
    if (ctl_opts_parse(c, "flows", argc, argv, NULL, pos, 0) < 0)
        return CTL_EXIT_USAGE;
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    st_err_t err;
    st_store_rows_t r;
    if (st_store_report_versions(c->sc, &r, &err) != 0)
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    int rc = c->json ? flows_json(&r) : flows_text(&r);
    st_store_rows_free(&r);
    return rc;
}

/* ---- graph ---- */

static int state_index(const Settle__V1__Program *p, const char *name)
{
    for (size_t i = 0; i < p->n_states; i++)
        if (strcmp(p->states[i]->name, name) == 0)
            return (int)i;
    return -1;
}

/* The distinct states an instance entered (history to_state), in the
 * order it first entered them. */
typedef struct visited {
    char **v;
    size_t n, cap;
} visited_t;

static void visited_free(visited_t *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i]);
    free(v->v);
}

static int visited_add(visited_t *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i], name) == 0)
            return 0;
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 16;
        char **g = realloc(v->v, nc * sizeof *g);
        if (g == NULL)
            return ST_NOMEM;
        v->v = g;
        v->cap = nc;
    }
    return (v->v[v->n] = strdup(name)) != NULL ? (v->n++, 0) : ST_NOMEM;
}

static int visited_read(ctl_t *c, const st_store_uuid_t *id, visited_t *out, st_err_t *err)
{
    int64_t seq = -1, at = 0;
    for (;;) {
        st_store_hist_rows_t page;
        int rc = st_store_history_list(c->sc, id, seq, at, 500, &page, err);
        if (rc != 0)
            return rc;
        for (size_t i = 0; rc == 0 && i < page.n; i++)
            if (page.v[i].to_state != NULL && visited_add(out, page.v[i].to_state) != 0)
                rc = st_err_set(err, ST_NOMEM, "out of memory");
        size_t got = page.n;
        if (got > 0) {
            seq = page.v[got - 1].seq;
            at = page.v[got - 1].at_us;
        }
        st_store_hist_rows_free(&page);
        if (rc != 0 || got < 500)
            return rc;
    }
}

/* The DOT of p with the instance's visited states (blue) and current
 * state (orange) restyled by statements added before the closing brace. */
static char *highlight(const char *dot, const Settle__V1__Program *p, const visited_t *visited,
                       const char *current)
{
    size_t len = strlen(dot);
    const char *end = strrchr(dot, '}');
    size_t head = end ? (size_t)(end - dot) : len;
    size_t cap = len + 128 + visited->n * 96;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    memcpy(out, dot, head);
    size_t n = head;
    n += (size_t)snprintf(out + n, cap - n, "  /* settlectl: the instance's path */\n");
    for (size_t i = 0; i < visited->n; i++) {
        int s = state_index(p, visited->v[i]);
        if (s >= 0 && strcmp(visited->v[i], current) != 0)
            n += (size_t)snprintf(
                out + n, cap - n,
                "  s%d [style=filled, fillcolor=\"#bbdefb\", color=\"#1565c0\", penwidth=2];\n", s);
    }
    int cur = state_index(p, current);
    if (cur >= 0)
        n += (size_t)snprintf(out + n, cap - n,
                              "  s%d [style=\"filled,bold\", fillcolor=\"#ffcc80\", "
                              "color=\"#e65100\", penwidth=3];\n",
                              cur);
    snprintf(out + n, cap - n, "}\n");
    return out;
}

static int write_svg(const char *dot_path)
{
    char svg[4096];
    size_t l = strlen(dot_path);
    if (l > 4 && strcmp(dot_path + l - 4, ".dot") == 0)
        snprintf(svg, sizeof svg, "%.*s.svg", (int)(l - 4), dot_path);
    else
        snprintf(svg, sizeof svg, "%s.svg", dot_path);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp("dot", "dot", "-Tsvg", "-o", svg, dot_path, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
        return -1;
    if (WEXITSTATUS(st) == 127)
        return 1; /* Graphviz not installed */
    if (WEXITSTATUS(st) != 0)
        return -1;
    printf("wrote %s\n", svg);
    return 0;
}

/* The Program hash to draw: the instance's (and its current state), or
 * the flow's current version. ST_NOTFOUND when there is neither. */
static int graph_target(ctl_t *c, const st_store_uuid_t *id, const char *flow, char hash[65],
                        char current[256], st_err_t *err)
{
    if (id == NULL)
        return st_store_flow_current(c->sc, flow, hash, err);
    st_store_instance_t in;
    int rc = st_store_instance_load(c->sc, id, &in, err);
    if (rc != 0)
        return rc;
    snprintf(hash, 65, "%s", in.program_hash);
    snprintf(current, 256, "%s", in.state_name);
    st_store_instance_release(&in);
    return 0;
}

int ctl_cmd_graph(ctl_t *c, int argc, char **argv)
{
    const char *out_path = NULL;
    const ctl_opt_t opts[] = {{"o", 1, &out_path, NULL}, {"output", 1, &out_path, NULL}, {0}};
    const char *pos[1] = {0};
    int n = ctl_opts_parse(c, "graph", argc, argv, opts, pos, 1);
    if (n != 1)
        return n < 0 ? CTL_EXIT_USAGE : ctl_usage(c, "graph", "give a flow name or an instance id");
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    st_err_t err;
    st_store_uuid_t id;
    int is_inst = st_store_uuid_parse(pos[0], &id) == 0;
    char hash[65], current[256] = "";
    int rc = graph_target(c, is_inst ? &id : NULL, pos[0], hash, current, &err);
    if (rc == ST_NOTFOUND)
        return ctl_failf(c, CTL_EXIT_NOTFOUND,
                         is_inst ? "`settlectl list` shows the instances"
                                 : "`settlectl flows` lists the deployed flows",
                         "no %s named '%s'", is_inst ? "instance" : "flow", pos[0]);
    if (rc != 0)
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    unsigned char *bytes = NULL;
    size_t len = 0;
    Settle__V1__Program *p = NULL;
    char *dot = NULL, *final = NULL;
    rc = ctl_program_bytes(c, hash, &bytes, &len, &err);
    if (rc == 0)
        rc = st_flowc_program_unpack(bytes, len, &p, &err);
    if (rc == 0)
        rc = st_flowc_program_to_dot(p, &dot, &err);
    free(bytes);
    if (rc == 0 && is_inst) {
        visited_t v = {0};
        rc = visited_read(c, &id, &v, &err);
        if (rc == 0 && (final = highlight(dot, p, &v, current)) == NULL)
            rc = st_err_set(&err, ST_NOMEM, "out of memory");
        visited_free(&v);
    }
    st_flowc_program_free(p);
    if (rc != 0) {
        free(dot);
        return ctl_fail(c, ctl_exit_for(rc), &err);
    }
    const char *text = final ? final : dot;
    int xrc = CTL_EXIT_OK;
    if (out_path == NULL) {
        fputs(text, stdout);
    } else {
        FILE *f = fopen(out_path, "w");
        if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
            xrc = ctl_failf(c, CTL_EXIT_ERROR, "choose a writable path", "cannot write %s: %s",
                            out_path, strerror(errno));
        } else {
            printf("wrote %s\n", out_path);
            int s = write_svg(out_path);
            if (s == 1)
                printf("Graphviz `dot` is not installed: no SVG (apt-get install graphviz)\n");
            else if (s < 0)
                xrc = ctl_failf(c, CTL_EXIT_ERROR, "run `dot -Tsvg` by hand to see why",
                                "Graphviz could not render %s", out_path);
        }
    }
    free(dot);
    free(final);
    return xrc;
}
