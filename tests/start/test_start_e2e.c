/*
 * test_start_e2e.c — a start is the same start through the flow API,
 * `settled start` and st_start (engine/start/st_start.c):
 *
 *   - a business key repeated with other inputs is refused with the same
 *     conflict through all three, and nothing is stored;
 *   - with a virtual clock at T, the instance's created_at and its "start"
 *     history row are T through all three (not the wall clock);
 *   - correlation keys the inputs name are registered by the start itself;
 *
 * and `settled run` checks its options (--http, the HTTP keys) and binds
 * its port before the executor registers and claims work: a claimable
 * instance stays unowned when any of them fails.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "http_fixture.h"
#include "http_flows.h"
#include "start/st_start.h"
#include "store/st_store.h"

#define T_VIRTUAL 1893456000000000LL /* 2030-01-01T00:00:00Z */

static const char IN_A[] = "{\"invoice\": \"in_A\", \"amount\": {\"minor\": 500, "
                           "\"currency\": \"eur\"}}";
static const char IN_B[] = "{\"invoice\": \"in_A\", \"amount\": {\"minor\": 900, "
                           "\"currency\": \"eur\"}}";
static const char CONFLICT[] = "the business key already names an instance started with "
                               "another value for input 'amount'";

/* ---- settled as a child process ------------------------------------------- */

typedef struct run {
    int rc;
    char out[4096], err[4096];
} run_t;

static void slurp(FILE *f, char *buf, size_t cap)
{
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* settled ARGS... --dsn DSN, with extra environment "NAME=value" (or NULL). */
static void settled_dsn(const char *dsn, const char *const *args, const char *env, run_t *r)
{
    char bin[1024];
    const char *dir = getenv("SETTLE_BINARY_DIR");
    ck_assert_msg(dir != NULL, "SETTLE_BINARY_DIR is not set (run the test through ctest)");
    snprintf(bin, sizeof bin, "%s/engine/daemon/settled", dir);
    const char *argv[32];
    int n = 0;
    argv[n++] = "settled";
    for (int i = 0; args[i] != NULL && n < 28; i++)
        argv[n++] = args[i];
    argv[n++] = "--dsn";
    argv[n++] = dsn;
    argv[n] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    ck_assert(out != NULL && err != NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        if (env != NULL)
            putenv((char *)env);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
}

static void settled(const fx_t *f, const char *const *args, const char *env, run_t *r)
{
    settled_dsn(f->dsn, args, env, r);
}

/* settled start wait_invoice --input INPUT [--key KEY] */
static void cli_start(const fx_t *f, const char *input, const char *key, run_t *r)
{
    const char *args[] = {"start", "wait_invoice", "--input", input, "--key", key, NULL};
    if (key == NULL)
        args[4] = NULL;
    settled(f, args, NULL, r);
}

/* ---- st_start in this process ----------------------------------------- */

static int lib_start(const fx_t *f, const char *input, const char *key, st_start_at_t at,
                     st_start_out_t *out, st_err_t *err)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cc = {.dsn = f->dsn};
    st_store_conn_t *c = st_store_conn_new(loop, &cc, err);
    ck_assert_msg(c != NULL, "connect: %s", err->msg);
    json_t *inputs = json_loads(input, 0, NULL);
    ck_assert_ptr_nonnull(inputs);
    st_start_req_t req = {.flow = "wait_invoice", .inputs = inputs, .business_key = key, .at = at};
    int rc = st_start(c, NULL, &req, out, err);
    json_decref(inputs);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    return rc;
}

static void api_start(fx_t *f, const char *input, const char *key, fx_resp_t *r)
{
    char body[512];
    if (key != NULL)
        snprintf(body, sizeof body,
                 "{\"flow\": \"wait_invoice\", \"inputs\": %s, "
                 "\"business_key\": \"%s\"}",
                 input, key);
    else
        snprintf(body, sizeof body, "{\"flow\": \"wait_invoice\", \"inputs\": %s}", input);
    fx_api(f, "POST", "/v1/instances", FX_TOKEN_WRITE, body, r);
}

static long long count(fx_t *f, const char *fmt, const char *arg)
{
    char sql[512];
    snprintf(sql, sizeof sql, fmt, arg);
    return fx_scalar(f, sql);
}

/* ---- the business-key rule ------------------------------------------------ */

START_TEST(repeated_key_with_other_inputs_is_refused_alike_everywhere)
{
    fx_t f;
    fx_open(&f, 1);
    fx_deploy(&f, "wait_invoice.flow", FLOW_WAIT_INVOICE);
    fx_resp_t r;
    api_start(&f, IN_A, "order-1", &r);
    ck_assert_int_eq(r.status, 201);
    char id[40];
    snprintf(id, sizeof id, "%s", fx_json_str(&r, "id"));
    fx_resp_free(&r);

    /* The same inputs: the same instance, through all three. */
    api_start(&f, IN_A, "order-1", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(fx_json_str(&r, "id"), id);
    fx_resp_free(&r);
    run_t cli;
    cli_start(&f, IN_A, "order-1", &cli);
    ck_assert_msg(cli.rc == 0, "settled start: %s", cli.err);
    ck_assert_ptr_nonnull(strstr(cli.out, id));
    ck_assert_ptr_nonnull(strstr(cli.out, "(existing instance for this key)"));
    st_start_out_t s;
    st_err_t err;
    ck_assert_int_eq(lib_start(&f, IN_A, "order-1", ST_START_AT_WALL, &s, &err), 0);
    ck_assert_str_eq(s.id, id);
    ck_assert_int_eq(s.existing, 1);

    /* Other inputs: the same conflict, through all three. */
    api_start(&f, IN_B, "order-1", &r);
    fx_assert_error(&r, 409, "conflict");
    ck_assert_msg(strstr(r.body, CONFLICT) != NULL, "API: %s", r.body);
    fx_resp_free(&r);
    cli_start(&f, IN_B, "order-1", &cli);
    ck_assert_int_eq(cli.rc, 1);
    ck_assert_msg(strstr(cli.err, CONFLICT) != NULL, "settled start: %s", cli.err);
    ck_assert_msg(strstr(cli.err, "hint: ") != NULL, "settled start: %s", cli.err);
    ck_assert_int_eq(lib_start(&f, IN_B, "order-1", ST_START_AT_WALL, &s, &err), ST_CONFLICT);
    ck_assert_str_eq(err.msg, CONFLICT);
    ck_assert_str_eq(s.id, id);

    /* Nothing was stored by the refused starts. */
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 1);
    ck_assert_int_eq(count(&f,
                           "SELECT count(*) FROM instances WHERE id = '%s' AND "
                           "(vars->'amount'->>'minor')::int = 500",
                           id),
                     1);
    fx_close(&f);
}
END_TEST

/* ---- the clock a start is stamped on -------------------------------------- */

static void assert_stamped(fx_t *f, const char *id, long long want, const char *via)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT settle_us(created_at) FROM instances WHERE id = '%s'", id);
    ck_assert_msg(fx_scalar(f, sql) == want, "%s: created_at %lld, want %lld", via,
                  fx_scalar(f, sql), want);
    snprintf(sql, sizeof sql,
             "SELECT settle_us(at) FROM history WHERE instance_id = '%s' AND kind = 'start'", id);
    ck_assert_msg(fx_scalar(f, sql) == want, "%s: start history at %lld, want %lld", via,
                  fx_scalar(f, sql), want);
}

START_TEST(starts_are_stamped_on_the_virtual_clock_everywhere)
{
    fx_t f;
    st_http_cfg_t cfg = {.clock = ST_CLOCK_VIRTUAL};
    fx_open_cfg(&f, 1, &cfg);
    fx_deploy(&f, "wait_invoice.flow", FLOW_WAIT_INVOICE);
    /* What a settled --clock virtual node writes (st_exec_clock.c), having
     * reached T. */
    char sql[160];
    snprintf(sql, sizeof sql, "INSERT INTO settle_clock (now_us, target_us) VALUES (%lld, %lld)",
             T_VIRTUAL, T_VIRTUAL);
    PQclear(st_test_exec(f.pg, sql));

    fx_resp_t r;
    api_start(&f, IN_A, NULL, &r);
    ck_assert_int_eq(r.status, 201);
    char id[40];
    snprintf(id, sizeof id, "%s", fx_json_str(&r, "id"));
    fx_resp_free(&r);
    assert_stamped(&f, id, T_VIRTUAL, "API");

    run_t cli;
    cli_start(&f, IN_A, NULL, &cli);
    ck_assert_msg(cli.rc == 0, "settled start: %s", cli.err);
    snprintf(id, sizeof id, "%.36s", cli.out);
    assert_stamped(&f, id, T_VIRTUAL, "settled start");

    st_start_out_t s;
    st_err_t err;
    ck_assert_msg(lib_start(&f, IN_A, NULL, ST_START_AT_NODES, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.at_us, T_VIRTUAL);
    assert_stamped(&f, s.id, T_VIRTUAL, "st_start");

    /* A node on the real clock stamps wall time even where a virtual clock
     * row exists (the library caller says which clock its node runs on). */
    ck_assert_int_eq(lib_start(&f, IN_A, NULL, ST_START_AT_WALL, &s, &err), 0);
    ck_assert_int_ne(s.at_us, T_VIRTUAL);
    fx_close(&f);
}
END_TEST

START_TEST(without_a_virtual_clock_starts_take_wall_time)
{
    fx_t f;
    st_http_cfg_t cfg = {.clock = ST_CLOCK_VIRTUAL};
    fx_open_cfg(&f, 1, &cfg);
    fx_deploy(&f, "wait_invoice.flow", FLOW_WAIT_INVOICE);
    long long before = fx_scalar(&f, "SELECT settle_us(now())");
    fx_resp_t r;
    api_start(&f, IN_A, NULL, &r);
    ck_assert_int_eq(r.status, 201);
    fx_resp_free(&r);
    run_t cli;
    cli_start(&f, IN_A, NULL, &cli);
    ck_assert_msg(cli.rc == 0, "settled start: %s", cli.err);
    long long after = fx_scalar(&f, "SELECT settle_us(clock_timestamp())");
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 2);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE settle_us(created_at) BETWEEN %lld AND %lld",
             before - 5000000, after + 5000000);
    ck_assert_int_eq(fx_scalar(&f, sql), 2);
    fx_close(&f);
}
END_TEST

/* ---- correlations --------------------------------------------------------- */

START_TEST(the_start_registers_correlations_its_inputs_name)
{
    fx_t f;
    fx_open(&f, 1);
    fx_deploy(&f, "wait_invoice.flow", FLOW_WAIT_INVOICE);
    fx_resp_t r;
    api_start(&f, "{\"invoice\": \"in_api\", \"amount\": {\"minor\": 1, \"currency\": \"eur\"}}",
              NULL, &r);
    ck_assert_int_eq(r.status, 201);
    char id[40];
    snprintf(id, sizeof id, "%s", fx_json_str(&r, "id"));
    fx_resp_free(&r);
    /* No executor runs here: the row can only come from the start. */
    ck_assert_int_eq(count(&f,
                           "SELECT count(*) FROM correlations WHERE key = 'invoice' AND "
                           "value = 'in_api' AND instance_id = '%s'",
                           id),
                     1);
    run_t cli;
    cli_start(&f, "{\"invoice\": \"in_cli\", \"amount\": {\"minor\": 1, \"currency\": \"eur\"}}",
              NULL, &cli);
    ck_assert_msg(cli.rc == 0, "settled start: %s", cli.err);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM correlations WHERE value = 'in_cli'"), 1);
    /* An empty string names no object. */
    api_start(&f, "{\"invoice\": \"\", \"amount\": {\"minor\": 1, \"currency\": \"eur\"}}", NULL,
              &r);
    ck_assert_int_eq(r.status, 201);
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM correlations"), 2);
    fx_close(&f);
}
END_TEST

/* ---- settled run: options before work ------------------------------------- */

/* A database with one instance any node would claim at once. */
static void claimable(fx_t *f, char id[40])
{
    fx_deploy(f, "wait_invoice.flow", FLOW_WAIT_INVOICE);
    st_start_out_t s;
    st_err_t err;
    ck_assert_int_eq(lib_start(f, IN_A, NULL, ST_START_AT_WALL, &s, &err), 0);
    snprintf(id, 40, "%s", s.id);
}

static void assert_untouched(fx_t *f, const char *id, const run_t *r)
{
    ck_assert_int_eq(count(f,
                           "SELECT count(*) FROM instances WHERE id = '%s' AND "
                           "owner_node IS NULL AND seq = 0",
                           id),
                     1);
    ck_assert_msg(fx_scalar(f, "SELECT count(*) FROM nodes") == 0,
                  "a node registered before its options were checked: %s", r->err);
}

START_TEST(bad_http_option_exits_before_claiming)
{
    fx_t f;
    fx_open(&f, 1);
    char id[40];
    claimable(&f, id);
    const char *bad[] = {"nonsense", "127.0.0.1:99999", "localhost:", "-1", "+80", "80x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *args[] = {"run", "--http", bad[i], NULL};
        run_t r;
        settled(&f, args, NULL, &r);
        ck_assert_msg(r.rc == 2, "--http %s: exit %d: %s", bad[i], r.rc, r.err);
        ck_assert_msg(strstr(r.err, "error: --http wants [ADDR:]PORT") != NULL, "%s", r.err);
        assert_untouched(&f, id, &r);
    }
    fx_close(&f);
}
END_TEST

START_TEST(unreadable_http_keys_exit_before_claiming)
{
    fx_t f;
    fx_open(&f, 1);
    char id[40];
    claimable(&f, id);
    const char *args[] = {"run", "--http", "0", NULL};
    run_t r;
    settled(&f, args, "SETTLE_API_TOKENS_FILE=/nonexistent/settle-tokens", &r);
    ck_assert_msg(r.rc == 2, "exit %d: %s", r.rc, r.err);
    ck_assert_msg(strstr(r.err, "error: ") != NULL, "%s", r.err);
    assert_untouched(&f, id, &r);
    fx_close(&f);
}
END_TEST

START_TEST(http_port_in_use_exits_before_claiming)
{
    fx_t f;
    fx_open(&f, 1);
    char id[40];
    claimable(&f, id);
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    ck_assert_int_eq(bind(sock, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(sock, 1), 0);
    ck_assert_int_eq(getsockname(sock, (struct sockaddr *)&a, &alen), 0);
    char spec[32];
    snprintf(spec, sizeof spec, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    const char *args[] = {"run", "--http", spec, NULL};
    run_t r;
    settled(&f, args, "SETTLE_API_TOKENS=tok-start:write", &r);
    close(sock);
    ck_assert_msg(r.rc == 1, "exit %d: %s", r.rc, r.err);
    ck_assert_msg(strstr(r.err, "error: ") != NULL, "%s", r.err);
    ck_assert_ptr_null(strstr(r.out, "listening"));
    assert_untouched(&f, id, &r);
    fx_close(&f);
}
END_TEST

START_TEST(http_threads_option_is_checked)
{
    fx_t f;
    fx_open(&f, 1);
    char id[40];
    claimable(&f, id);
    const char *bad[] = {"0", "65", "eight", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *args[] = {"run", "--http", "0", "--http-threads", bad[i], NULL};
        run_t r;
        settled(&f, args, "SETTLE_API_TOKENS=tok-start:write", &r);
        ck_assert_msg(r.rc == 2, "--http-threads %s: exit %d: %s", bad[i], r.rc, r.err);
        ck_assert_msg(strstr(r.err, "error: --http-threads wants a whole number from 1 to 64") !=
                          NULL,
                      "%s", r.err);
        assert_untouched(&f, id, &r);
    }
    const char *alone[] = {"run", "--http-threads", "8", NULL};
    run_t r;
    settled(&f, alone, NULL, &r);
    ck_assert_msg(r.rc == 2 && strstr(r.err, "--http-threads needs --http"), "%d %s", r.rc, r.err);
    assert_untouched(&f, id, &r);
    const char *help[] = {"--help", NULL};
    settled(&f, help, NULL, &r);
    ck_assert_ptr_nonnull(strstr(r.out, "--http-threads N"));
    fx_close(&f);
}
END_TEST

/* Whether file holds `want` (read from the start). */
static int file_has(FILE *file, const char *want)
{
    char buf[8192];
    rewind(file);
    size_t n = fread(buf, 1, sizeof buf - 1, file);
    buf[n] = '\0';
    return strstr(buf, want) != NULL;
}

/* settled run --http 0 [--http-threads 3] until it says it listens; then
 * SIGTERM. Its stderr in r->err. */
static void run_until_listening(const fx_t *f, const char *env, run_t *r)
{
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/engine/daemon/settled", getenv("SETTLE_BINARY_DIR"));
    const char *argv[] = {"settled", "run",   "--http", "0", "--http-threads",
                          "3",       "--dsn", f->dsn,   NULL};
    FILE *out = tmpfile(), *err = tmpfile();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        unsetenv("SETTLE_API_TOKENS");
        unsetenv("SETTLE_API_TOKENS_FILE");
        if (env != NULL)
            putenv((char *)env);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int up = 0;
    for (int i = 0; i < 300 && !(up = file_has(out, "settled http listening")); i++)
        usleep(50 * 1000);
    kill(pid, SIGTERM);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
    ck_assert_msg(up, "settled never listened: %s", r->err);
    r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(no_api_token_is_a_loud_warning)
{
    fx_t f;
    fx_open(&f, 1);
    run_t r;
    run_until_listening(&f, NULL, &r);
    ck_assert_msg(strstr(r.out, "with 3 threads") || strstr(r.err, "with 3 threads"), "%s", r.err);
    ck_assert_msg(strstr(r.err, "WARNING: no API token is configured"), "%s", r.err);
    ck_assert_msg(strstr(r.err, "401 Unauthorized"), "%s", r.err);
    ck_assert_msg(strstr(r.err, "SETTLE_API_TOKENS='TOKEN:write"), "%s", r.err);
    ck_assert_msg(strstr(r.err, "SETTLE_API_TOKENS_FILE="), "%s", r.err);
    /* With a token: no warning, and the token never shows. */
    run_until_listening(&f, "SETTLE_API_TOKENS=tok-secret-4711:write", &r);
    ck_assert_msg(strstr(r.err, "WARNING: no API token") == NULL, "%s", r.err);
    ck_assert_ptr_null(strstr(r.err, "tok-secret-4711"));
    ck_assert_ptr_null(strstr(r.out, "tok-secret-4711"));
    fx_close(&f);
}
END_TEST

static const char FLOW_TIMED[] = "flow timed\n"
                                 "input due: time\n"
                                 "state nap {\n"
                                 "  sleep until due max 1h\n"
                                 "  on wake -> done\n"
                                 "}\n"
                                 "final done\n";

/* A `time` input as RFC 3339 through the API, the batch API and `settled
 * start`: stored as microseconds; text that is no time is refused clearly. */
START_TEST(time_inputs_take_rfc3339_everywhere)
{
    fx_t f;
    fx_open(&f, 1);
    fx_deploy(&f, "timed.flow", FLOW_TIMED);
    const long long xmas = 1798106400000000LL; /* 2026-12-24T10:00:00Z */
    fx_resp_t r;
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE,
           "{\"flow\":\"timed\",\"inputs\":{\"due\":\"2026-12-24T11:00:00+01:00\"}}", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_msg(strstr(r.body, "1798106400000000") && !strstr(r.body, "2026-12-24T11"), "%s",
                  r.body);
    fx_resp_free(&r);
    fx_api(&f, "POST", "/v1/instances/batch", FX_TOKEN_WRITE,
           "{\"items\":[{\"flow\":\"timed\",\"inputs\":{\"due\":\"2026-12-24T10:00:00.25Z\"}},"
           "{\"flow\":\"timed\",\"inputs\":{\"due\":1798106400000000}},"
           "{\"flow\":\"timed\",\"inputs\":{\"due\":\"Christmas\"}}]}",
           &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_msg(strstr(r.body, "\"status\":422") && strstr(r.body, "RFC 3339"), "%s", r.body);
    fx_resp_free(&r);
    const char *args[] = {"start", "timed", "--input", "{\"due\": \"2026-12-24T10:00:00.5Z\"}",
                          NULL};
    run_t cli;
    settled(&f, args, NULL, &cli);
    ck_assert_msg(cli.rc == 0, "settled start: %s", cli.err);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM instances WHERE (vars->>'due')::bigint = %lld",
             xmas);
    ck_assert_int_eq(fx_scalar(&f, sql), 2);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE (vars->>'due')::bigint IN "
             "(%lld, %lld)",
             xmas + 250000, xmas + 500000);
    ck_assert_int_eq(fx_scalar(&f, sql), 2);
    const char *bad[] = {"start", "timed", "--input", "{\"due\": \"2026-12-24\"}", NULL};
    settled(&f, bad, NULL, &cli);
    ck_assert_int_eq(cli.rc, 1);
    ck_assert_msg(strstr(cli.err, "RFC 3339") && strstr(cli.err, "2026-12-24T10:00:00Z"), "%s",
                  cli.err);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM instances"), 4);
    fx_close(&f);
}
END_TEST

/* settled's commands reach the database only through the store: a DSN
 * that does not connect is reported with its password hidden. */
START_TEST(commands_report_an_unreachable_database_without_its_password)
{
    static const char bad[] = "host=/nonexistent-settle-socket dbname=x user=u "
                              "password=hunter2-start";
    const char *cmds[][4] = {{"migrate", NULL},
                             {"clock", "show", NULL},
                             {"start", "wait_invoice", NULL},
                             {"deploy", "/dev/null", NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        run_t r;
        settled_dsn(bad, cmds[i], NULL, &r);
        ck_assert_msg(r.rc == 1, "%s: exit %d: %s", cmds[i][0], r.rc, r.err);
        ck_assert_msg(strstr(r.err, "error: cannot connect to the database") != NULL, "%s: %s",
                      cmds[i][0], r.err);
        ck_assert_msg(strstr(r.err, "hunter2") == NULL && strstr(r.out, "hunter2") == NULL,
                      "%s printed the password: %s", cmds[i][0], r.err);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("start_e2e");
    TCase *tc = tcase_create("start");
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, repeated_key_with_other_inputs_is_refused_alike_everywhere);
    tcase_add_test(tc, starts_are_stamped_on_the_virtual_clock_everywhere);
    tcase_add_test(tc, without_a_virtual_clock_starts_take_wall_time);
    tcase_add_test(tc, the_start_registers_correlations_its_inputs_name);
    tcase_add_test(tc, bad_http_option_exits_before_claiming);
    tcase_add_test(tc, unreadable_http_keys_exit_before_claiming);
    tcase_add_test(tc, http_port_in_use_exits_before_claiming);
    tcase_add_test(tc, commands_report_an_unreachable_database_without_its_password);
    tcase_add_test(tc, http_threads_option_is_checked);
    tcase_add_test(tc, no_api_token_is_a_loud_warning);
    tcase_add_test(tc, time_inputs_take_rfc3339_everywhere);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
