/*
 * st_ctl_util.c — what every settlectl command shares: option parsing,
 * error reporting, instance ids, the store connection, Programs, time and
 * duration formatting and the progress bar.
 *
 * Layer: tools (settlectl). Invariant: the database is reached only
 * through the store (one connection on a loop of settlectl's own).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "common/st_dsn.h"
#include "core/st_core.h"
#include "ctl_int.h"

int ctl_opts_parse(ctl_t *c, const char *cmd, int argc, char **argv, const ctl_opt_t *opts,
                   const char **pos, int cap)
{
    int npos = 0, ended = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!ended && strcmp(a, "--") == 0) {
            ended = 1;
            continue;
        }
        if (!ended && a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9')) {
            const char *name = a + (a[1] == '-' ? 2 : 1);
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const ctl_opt_t *o = NULL;
            for (const ctl_opt_t *p = opts; p && p->name; p++)
                if (strlen(p->name) == len && strncmp(p->name, name, len) == 0)
                    o = p;
            if (o == NULL) {
                ctl_usage(c, cmd, "unknown option '%s'", a);
                return -1;
            }
            if (!o->takes_value) {
                if (eq != NULL) {
                    ctl_usage(c, cmd, "option --%s takes no value", o->name);
                    return -1;
                }
                *o->flag = 1;
            } else if (eq != NULL) {
                *o->value = eq + 1;
            } else if (i + 1 < argc) {
                *o->value = argv[++i];
            } else {
                ctl_usage(c, cmd, "option --%s needs a value", o->name);
                return -1;
            }
            continue;
        }
        if (npos >= cap) {
            ctl_usage(c, cmd, "unexpected argument '%s'", a);
            return -1;
        }
        pos[npos++] = a;
    }
    return npos;
}

int ctl_fail(ctl_t *c, int exit_code, const st_err_t *err)
{
    (void)c;
    fprintf(stderr, "settlectl: error: %s\n", err->msg[0] ? err->msg : st_code_message(err->code));
    if (err->detail[0])
        fprintf(stderr, "  detail: %s\n", err->detail);
    if (err->hint[0])
        fprintf(stderr, "  hint: %s\n", err->hint);
    return exit_code;
}

int ctl_failf(ctl_t *c, int exit_code, const char *hint, const char *fmt, ...)
{
    va_list ap;
    (void)c;
    fputs("settlectl: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (hint != NULL)
        fprintf(stderr, "  hint: %s\n", hint);
    return exit_code;
}

int ctl_usage(ctl_t *c, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    (void)c;
    fputs("settlectl: usage error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  hint: `settlectl %s --help` shows the arguments\n", cmd);
    return CTL_EXIT_USAGE;
}

int ctl_json_out(json_t *j)
{
    if (j == NULL) {
        fprintf(stderr, "settlectl: error: out of memory building the JSON output\n");
        return CTL_EXIT_ERROR;
    }
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
    return CTL_EXIT_OK;
}

int ctl_exit_for(int code)
{
    switch (code) {
    case 0:
        return CTL_EXIT_OK;
    case ST_NOTFOUND:
        return CTL_EXIT_NOTFOUND;
    case ST_STATE:
    case ST_CHECK:
    case ST_CONFLICT:
        return CTL_EXIT_REFUSED;
    case ST_INVAL:
    case ST_PARSE:
        return CTL_EXIT_USAGE;
    default:
        return CTL_EXIT_ERROR;
    }
}

int ctl_parse_id(const char *text, st_store_uuid_t *id, st_err_t *err)
{
    if (st_store_uuid_parse(text, id) == 0)
        return 0;
    st_err_set(err, ST_INVAL, "'%s' is not an instance id (a UUID)", text);
    st_err_hint(err, "an id has 32 hex digits in groups of 8-4-4-4-12, e.g. "
                     "0190abcd-ef12-7abc-8def-0123456789ab; `settlectl list` shows the ids");
    return ST_INVAL;
}

static int no_dsn(ctl_t *c)
{
    if (c->dsn != NULL && c->dsn[0] != '\0')
        return 0;
    ctl_failf(c, CTL_EXIT_ERROR,
              "pass --dsn 'host=... dbname=settle' or export SETTLE_DSN (tools/pgdev dsn "
              "prints one for the private cluster)",
              "no database given");
    return 1;
}

/* Print why the store could not open the database (the DSN redacted). */
static void open_failed(ctl_t *c, const st_err_t *err)
{
    if (err->code != ST_IO) {
        ctl_fail(c, CTL_EXIT_ERROR, err);
        return;
    }
    char red[512];
    st_dsn_redact(c->dsn, red, sizeof red);
    ctl_failf(c, CTL_EXIT_ERROR, "check that PostgreSQL runs and that the DSN is right",
              "cannot connect to the database (%s): %s", red, err->detail);
}

st_store_conn_t *ctl_db(ctl_t *c)
{
    if (c->sc != NULL)
        return c->sc;
    if (no_dsn(c))
        return NULL;
    st_err_t err;
    if (c->loop == NULL && (c->loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
        st_err_set(&err, ST_NOMEM, "cannot create an event loop");
        ctl_fail(c, CTL_EXIT_ERROR, &err);
        return NULL;
    }
    c->sc = st_store_admin_open(c->loop, c->dsn, &err);
    if (c->sc == NULL)
        open_failed(c, &err);
    return c->sc;
}

void ctl_db_close(ctl_t *c)
{
    st_store_conn_free(c->sc);
    c->sc = NULL;
    if (c->loop != NULL)
        ev_loop_destroy(c->loop);
    c->loop = NULL;
}

const char *ctl_iso(int64_t us, char *buf, size_t cap)
{
    if (us == ST_STORE_NO_TIME)
        return NULL;
    int64_t s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    time_t t = (time_t)s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "?");
    return buf;
}

const char *ctl_fmt_dur(int64_t us, char *buf, size_t cap)
{
    static const struct {
        int64_t us;
        const char *u;
    } units[] = {{86400000000LL, "d"}, {3600000000LL, "h"}, {60000000LL, "m"}, {1000000LL, "s"}};
    if (us < 0)
        us = -us;
    size_t n = 0;
    int parts = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < 4 && parts < 2; i++) {
        if (us >= units[i].us) {
            n += (size_t)snprintf(buf + n, cap > n ? cap - n : 0, "%lld%s",
                                  (long long)(us / units[i].us), units[i].u);
            us %= units[i].us;
            parts++;
        } else if (parts > 0) {
            break;
        }
    }
    if (parts == 0)
        snprintf(buf, cap, "%lldms", (long long)(us / 1000));
    return buf;
}

void ctl_json_set_str(json_t *o, const char *k, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, k, json_string(v));
}

json_t *ctl_json_parse(const char *text)
{
    if (text == NULL)
        return NULL;
    json_error_t e;
    return json_loads(text, JSON_DECODE_ANY, &e);
}

void ctl_progress(ctl_t *c, const char *what, size_t done, size_t total)
{
    if (!c->tty || c->json || total == 0)
        return;
    int width = 30;
    int fill = (int)((double)done / (double)total * width);
    fprintf(stderr, "\r%-8s [", what);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %zu/%zu", done, total);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

int ctl_program_bytes(ctl_t *c, const char *hash, unsigned char **bytes, size_t *len, st_err_t *err)
{
    st_store_program_rec_t rec;
    memset(&rec, 0, sizeof rec);
    int rc = st_store_program_load(c->sc, hash, &rec, err);
    if (rc == ST_NOTFOUND) {
        st_err_set(err, ST_NOTFOUND, "no Program %.12s is registered", hash);
        st_err_hint(err, "`settlectl flows` lists the registered versions");
    }
    if (rc != 0)
        return rc;
    *len = rec.len;
    *bytes = malloc(rec.len ? rec.len : 1);
    if (*bytes != NULL)
        memcpy(*bytes, rec.bytes, rec.len);
    st_store_program_rec_release(&rec);
    return *bytes ? 0 : st_err_set(err, ST_NOMEM, "out of memory");
}

int ctl_core_program(ctl_t *c, const char *hash, struct st_core_program **out, st_err_t *err)
{
    unsigned char *b = NULL;
    size_t n = 0;
    int rc = ctl_program_bytes(c, hash, &b, &n, err);
    if (rc == 0)
        rc = st_core_program_load(b, n, out, err);
    free(b);
    return rc;
}
