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
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cc = {.dsn = c->dsn};
    st_store_conn_t *sc = loop ? st_store_conn_new(loop, &cc, &err) : NULL;
    int rc = CTL_EXIT_ERROR;
    if (sc == NULL) {
        if (loop == NULL)
            st_err_set(&err, ST_NOMEM, "cannot create an event loop");
        ctl_fail(c, CTL_EXIT_ERROR, &err);
    } else {
        st_ops_deployed_t d;
        char *diags = NULL;
        int orc = st_ops_deploy(sc, pos[0], src, len, &d, &diags, &err);
        if (diags != NULL)
            fputs(diags, stderr);
        if (orc == ST_CHECK) {
            rc = ctl_failf(c, CTL_EXIT_REFUSED, "fix the errors above; nothing was registered",
                           "%s does not compile", pos[0]);
        } else if (orc != 0) {
            rc = ctl_fail(c, ctl_exit_for(orc), &err);
        } else if (c->json) {
            rc = ctl_json_out(json_pack("{s:s,s:s,s:b,s:i}", "flow", d.name, "hash", d.hash,
                                        "created", d.created, "warnings", (int)d.warnings));
        } else {
            printf("deployed %s version %.12s (%s)%s\n", d.name, d.hash,
                   d.created ? "new Program" : "already registered", "");
            printf("  new instances of %s start on %.12s; running ones stay on their version\n",
                   d.name, d.hash);
            if (d.warnings)
                printf("  %u warning(s) above\n", d.warnings);
            rc = CTL_EXIT_OK;
        }
        free(diags);
    }
    st_store_conn_free(sc);
    if (loop != NULL)
        ev_loop_destroy(loop);
    free(src);
    return rc;
}

static const char FLOWS_SQL[] =
    "SELECT p.name, p.hash, to_char((p.deployed_at) AT TIME ZONE 'UTC', " CTL_ISO
    "), p.deployed_by,"
    "  COALESCE(f.current_hash = p.hash, false), p.retired_at IS NOT NULL,"
    "  count(i.id) FILTER (WHERE i.status = 'running'),"
    "  count(i.id) FILTER (WHERE i.status = 'waiting'),"
    "  count(i.id) FILTER (WHERE i.status = 'suspended'),"
    "  count(i.id) FILTER (WHERE i.status = 'failed')"
    " FROM programs p LEFT JOIN flows f ON f.name = p.name"
    " LEFT JOIN instances i ON i.program_hash = p.hash"
    "  AND i.status IN ('running', 'waiting', 'suspended', 'failed')"
    " GROUP BY p.name, p.hash, p.deployed_at, p.deployed_by, f.current_hash, p.retired_at"
    " ORDER BY p.name, p.deployed_at DESC, p.hash";

int ctl_cmd_flows(ctl_t *c, int argc, char **argv)
{
    const char *pos[1];
    if (ctl_opts_parse(c, "flows", argc, argv, NULL, pos, 0) < 0)
        return CTL_EXIT_USAGE;
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    st_err_t err;
    PGresult *r = ctl_q(c, FLOWS_SQL, 0, NULL, &err);
    if (r == NULL)
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    int n = PQntuples(r);
    if (c->json) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(
                arr,
                json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:{s:I,s:I,s:I,s:I}}", "flow",
                          PQgetvalue(r, i, 0), "hash", PQgetvalue(r, i, 1), "deployed_at",
                          PQgetvalue(r, i, 2), "deployed_by", PQgetvalue(r, i, 3), "current",
                          PQgetvalue(r, i, 4)[0] == 't', "retired", PQgetvalue(r, i, 5)[0] == 't',
                          "instances", "running", (json_int_t)atoll(PQgetvalue(r, i, 6)), "waiting",
                          (json_int_t)atoll(PQgetvalue(r, i, 7)), "suspended",
                          (json_int_t)atoll(PQgetvalue(r, i, 8)), "failed",
                          (json_int_t)atoll(PQgetvalue(r, i, 9))));
        PQclear(r);
        return ctl_json_out(json_pack("{s:o}", "versions", arr));
    }
    if (n == 0) {
        printf("no flows deployed yet\n  next: settlectl deploy workflows/NAME.flow\n");
        PQclear(r);
        return CTL_EXIT_OK;
    }
    printf("%-16s %-12s %-8s %-20s %7s %7s %9s %6s  %s\n", "FLOW", "VERSION", "", "DEPLOYED",
           "RUNNING", "WAITING", "SUSPENDED", "FAILED", "BY");
    for (int i = 0; i < n; i++)
        printf("%-16s %-12.12s %-8s %-20s %7s %7s %9s %6s  %s\n", PQgetvalue(r, i, 0),
               PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 4)[0] == 't'   ? "current"
               : PQgetvalue(r, i, 5)[0] == 't' ? "retired"
                                               : "old",
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 6), PQgetvalue(r, i, 7), PQgetvalue(r, i, 8),
               PQgetvalue(r, i, 9), PQgetvalue(r, i, 3));
    PQclear(r);
    return CTL_EXIT_OK;
}

/* ---- graph ---- */

static int state_index(const Settle__V1__Program *p, const char *name)
{
    for (size_t i = 0; i < p->n_states; i++)
        if (strcmp(p->states[i]->name, name) == 0)
            return (int)i;
    return -1;
}

/* The DOT of p with the instance's visited states (blue) and current
 * state (orange) restyled by statements added before the closing brace. */
static char *highlight(const char *dot, const Settle__V1__Program *p, const PGresult *visited,
                       const char *current)
{
    size_t len = strlen(dot);
    const char *end = strrchr(dot, '}');
    size_t head = end ? (size_t)(end - dot) : len;
    size_t cap = len + 128 + (size_t)PQntuples(visited) * 96;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    memcpy(out, dot, head);
    size_t n = head;
    n += (size_t)snprintf(out + n, cap - n, "  /* settlectl: the instance's path */\n");
    for (int i = 0; i < PQntuples(visited); i++) {
        int s = state_index(p, PQgetvalue(visited, i, 0));
        if (s >= 0 && strcmp(PQgetvalue(visited, i, 0), current) != 0)
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
    const char *params[1] = {pos[0]};
    PGresult *r =
        ctl_q(c,
              is_inst ? "SELECT program_hash, state_name FROM instances WHERE id = $1::uuid"
                      : "SELECT current_hash, NULL FROM flows WHERE name = $1",
              1, params, &err);
    if (r == NULL)
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ctl_failf(c, CTL_EXIT_NOTFOUND,
                         is_inst ? "`settlectl list` shows the instances"
                                 : "`settlectl flows` lists the deployed flows",
                         "no %s named '%s'", is_inst ? "instance" : "flow", pos[0]);
    }
    char hash[65], current[256] = "";
    snprintf(hash, sizeof hash, "%s", PQgetvalue(r, 0, 0));
    if (is_inst)
        snprintf(current, sizeof current, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    unsigned char *bytes = NULL;
    size_t len = 0;
    Settle__V1__Program *p = NULL;
    char *dot = NULL, *final = NULL;
    int rc = ctl_program_bytes(c, hash, &bytes, &len, &err);
    if (rc == 0)
        rc = st_flowc_program_unpack(bytes, len, &p, &err);
    if (rc == 0)
        rc = st_flowc_program_to_dot(p, &dot, &err);
    free(bytes);
    if (rc == 0 && is_inst) {
        PGresult *v = ctl_q(c,
                            "SELECT DISTINCT to_state FROM history WHERE instance_id = $1::uuid"
                            " AND to_state IS NOT NULL",
                            1, params, &err);
        if (v == NULL) {
            rc = ST_DB;
        } else {
            final = highlight(dot, p, v, current);
            PQclear(v);
            if (final == NULL)
                rc = st_err_set(&err, ST_NOMEM, "out of memory");
        }
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
