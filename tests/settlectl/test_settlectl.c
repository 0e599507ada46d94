/*
 * test_settlectl.c — settlectl end to end: the real binary (fork/exec, no
 * shell) against a fresh database per test, with a real in-process
 * executor (tests/exec/exec_harness.h) putting flows into known states.
 * Asserts on exit codes, human output and --json output parsed with
 * jansson, and on the rows the repairs leave behind.
 */
#include <fcntl.h>
#include <pty.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "exec_harness.h"

static const char FLAKY[] = "flow flaky\n"
                            "input failures: int\n"
                            "state call {\n"
                            "  do test.fail_then_succeed(failures: failures)\n"
                            "  retry 3 times backoff 1ms..4ms\n"
                            "  on ok -> done\n"
                            "  on failed -> gave_up\n"
                            "}\n"
                            "final done\n"
                            "fail gave_up \"the activity kept failing\"\n";

static const char SLOWRETRY[] = "flow slowretry\n"
                                "state call {\n"
                                "  do test.fail_then_succeed(failures: 9)\n"
                                "  retry 5 times backoff 1h..2h\n"
                                "  on ok -> done\n"
                                "  on failed -> gave_up\n"
                                "}\n"
                                "final done\n"
                                "fail gave_up \"gave up\"\n";

static const char DECLINER[] = "flow decliner\n"
                               "state charge {\n"
                               "  do test.echo(outcome: \"failed\", code: \"expired_card\")\n"
                               "  on ok -> done\n"
                               "  on failed -> stuck\n"
                               "}\n"
                               "final done\n"
                               "fail stuck \"needs an operator\"\n";

static const char NAPPER[] = "flow napper\n"
                             "state nap {\n"
                             "  sleep 3d\n"
                             "  on wake -> done\n"
                             "}\n"
                             "final done\n";

static const char NAPPER2[] = "flow napper\n"
                              "state nap {\n"
                              "  sleep 4d\n"
                              "  on wake -> done\n"
                              "}\n"
                              "final done\n";

static const char WAITER[] = "flow waiter\n"
                             "var got: string = \"\"\n"
                             "on cancel -> cleanup\n"
                             "state wait {\n"
                             "  await timeout 3d\n"
                             "  on signal hello -> greet save got = name\n"
                             "  on timeout -> late\n"
                             "}\n"
                             "state greet {\n"
                             "  do test.echo(got: got)\n"
                             "  on ok -> done\n"
                             "  on failed -> done\n"
                             "}\n"
                             "state cleanup {\n"
                             "  do test.echo(cleanup: 1)\n"
                             "  on ok -> cancelled_cleanly\n"
                             "  on failed -> cancelled_cleanly\n"
                             "}\n"
                             "final done\n"
                             "final late\n"
                             "final cancelled_cleanly\n";

static harness_t h;
static char out[1 << 16], err_[1 << 14];

static void setup(void)
{
    h_init(&h);
    h_deploy(&h, "flaky.flow", FLAKY);
    h_deploy(&h, "slowretry.flow", SLOWRETRY);
    h_deploy(&h, "decliner.flow", DECLINER);
    h_deploy(&h, "napper.flow", NAPPER);
    h_deploy(&h, "waiter.flow", WAITER);
}

static void teardown(void)
{
    h_fini(&h);
}

static void slurp(int fd, char *buf, size_t cap)
{
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
}

/* Run settlectl with the given arguments (NULL-terminated) and $SETTLE_DSN
 * set to dsn (NULL: unset); stdout into out, stderr into err_. */
static int run_env(const char *dsn, const char *arg, ...)
{
    const char *argv[64];
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/tools/settlectl/settlectl", getenv("SETTLE_BINARY_DIR"));
    int n = 0;
    argv[n++] = bin;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a != NULL && n < 63; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char o_tmp[] = "/tmp/ctl_out_XXXXXX", e_tmp[] = "/tmp/ctl_err_XXXXXX";
    int ofd = mkstemp(o_tmp), efd = mkstemp(e_tmp);
    ck_assert(ofd >= 0 && efd >= 0);
    unlink(o_tmp);
    unlink(e_tmp);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(ofd, 1);
        dup2(efd, 2);
        if (dsn != NULL)
            setenv("SETTLE_DSN", dsn, 1);
        else
            unsetenv("SETTLE_DSN");
        setenv("USER", "tester", 1);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    /* The engine keeps running while the operator works, as in production
     * (and a loop left still for longer than the node lease would make the
     * node lose its instances and register anew). */
    int st = 0;
    pid_t got;
    while ((got = waitpid(pid, &st, WNOHANG)) == 0) {
        if (h.x != NULL)
            ev_run(h.loop, EVRUN_ONCE);
        else
            usleep(2000);
    }
    ck_assert(got == pid);
    slurp(ofd, out, sizeof out);
    slurp(efd, err_, sizeof err_);
    ck_assert_msg(WIFEXITED(st), "settlectl died: %s", err_);
    return WEXITSTATUS(st);
}

#define CTL(...) run_env(h.dsn, __VA_ARGS__, (const char *)NULL)

static json_t *jout(void)
{
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    ck_assert_msg(j != NULL, "not JSON (%s): %s\nstderr: %s", e.text, out, err_);
    return j;
}

static const char *copy_id(const char *id)
{
    static char ids[8][37];
    static int k;
    char *s = ids[k++ % 8];
    snprintf(s, 37, "%s", id);
    return s;
}

/* ---------------------------------------------------------------- tests */

START_TEST(help_usage_and_exit_codes)
{
    static const char *const cmds[] = {"list",   "show",    "stuck",  "stats",  "flows",
                                       "deploy", "graph",   "signal", "cancel", "wake",
                                       "retry",  "suspend", "resume", "clock",  "migrate"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        ck_assert_int_eq(run_env(NULL, cmds[i], "--help", NULL), 0);
        char want[64];
        snprintf(want, sizeof want, "usage: settlectl %s", cmds[i]);
        ck_assert_msg(strstr(out, want) != NULL, "%s --help: %s", cmds[i], out);
    }
    ck_assert_int_eq(run_env(NULL, "--help", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "stuck"));
    ck_assert_int_eq(run_env(NULL, "frobnicate", NULL), 2);
    ck_assert_ptr_nonnull(strstr(err_, "unknown command"));
    ck_assert_int_eq(run_env(NULL, NULL), 2);
    /* No database: says so and how to give one. */
    ck_assert_int_eq(run_env(NULL, "list", NULL), 1);
    ck_assert_ptr_nonnull(strstr(err_, "SETTLE_DSN"));
    /* A bad DSN with a password: the password is never printed. */
    ck_assert_int_eq(run_env("host=/nonexistent dbname=x password=hunter2", "list", NULL), 1);
    ck_assert_ptr_null(strstr(err_, "hunter2"));
    ck_assert_ptr_nonnull(strstr(err_, "cannot connect"));
    ck_assert_int_eq(CTL("list", "--bogus"), 2);
    ck_assert_int_eq(CTL("list", "--status", "sleeping"), 2);
    ck_assert_ptr_nonnull(strstr(err_, "unknown status"));
    ck_assert_int_eq(CTL("show", "not-a-uuid"), 2);
    /* A stray hyphen in UUID digits is a usage error, not a database error. */
    ck_assert_int_eq(CTL("show", "01-90a5b40000-7000-8000-000000000000"), 2);
    ck_assert_ptr_nonnull(strstr(err_, "is not an instance id"));
    ck_assert_int_eq(CTL("show", "0190a5b4-0000-7000-8000-000000000000"), 3);
}
END_TEST

/* An id with a hyphen out of place is not an id: a usage error
 * that names the expected form, never a database error. */
START_TEST(a_stray_hyphen_in_an_id_is_a_usage_error)
{
    static const char *const bad[] = {
        "0190ab-cdef12-7abc-8def-0123456789ab",  "01-90abcdef127abc8def0123456789ab",
        "-0190abcd-ef12-7abc-8def-0123456789ab", "0190abcd-ef12-7abc-8def-0123456789ab-",
        "0190a5b40-000-7000-8000-000000000000",  "a-bc0190a5b4000070008000000000000"};
    static const char *const cmds[] = {"show", "cancel", "wake", "retry", "suspend", "resume"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
            ck_assert_msg(CTL(cmds[k], bad[i]) == 2, "%s %s: %s", cmds[k], bad[i], err_);
            ck_assert_msg(strstr(err_, "is not an instance id") != NULL, "%s", err_);
            ck_assert_msg(strstr(err_, "8-4-4-4-12") != NULL, "%s", err_);
            ck_assert_ptr_null(strstr(err_, "database"));
        }
    ck_assert_int_eq(CTL("signal", bad[0], "hello"), 2);
    ck_assert_ptr_nonnull(strstr(err_, "8-4-4-4-12"));
    /* One UUID rule for the API, the store and the CLI: only the canonical
     * 8-4-4-4-12 form, so 32 digits without hyphens are refused too. */
    ck_assert_int_eq(CTL("show", "0190a5b4000070008000000000000000"), 2);
    ck_assert_ptr_nonnull(strstr(err_, "8-4-4-4-12"));
}
END_TEST

START_TEST(deploy_and_flows)
{
    char path[] = "/tmp/ctl_flow_XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    ck_assert(write(fd, NAPPER2, strlen(NAPPER2)) == (ssize_t)strlen(NAPPER2));
    close(fd);
    const char *old_hash =
        copy_id(h_text(&h, "SELECT current_hash FROM flows WHERE name = 'napper'"));
    (void)old_hash;
    ck_assert_int_eq(CTL("--json", "deploy", path), 0);
    json_t *j = jout();
    ck_assert_str_eq(json_string_value(json_object_get(j, "flow")), "napper");
    ck_assert(json_is_true(json_object_get(j, "created")));
    char hash[65];
    snprintf(hash, sizeof hash, "%s", json_string_value(json_object_get(j, "hash")));
    json_decref(j);
    ck_assert_str_eq(h_text(&h, "SELECT current_hash FROM flows WHERE name = 'napper'"), hash);
    /* Again: idempotent. */
    ck_assert_int_eq(CTL("deploy", path), 0);
    ck_assert_ptr_nonnull(strstr(out, "already registered"));
    /* A broken flow: diagnostics, exit 4, nothing registered. */
    fd = open(path, O_WRONLY | O_TRUNC);
    const char *bad = "flow napper\nstate nap {\n  sleep 3d\n  on wake -> nowhere\n}\n";
    ck_assert(write(fd, bad, strlen(bad)) == (ssize_t)strlen(bad));
    close(fd);
    long long before = h_scalar(&h, "SELECT count(*) FROM programs");
    ck_assert_int_eq(CTL("deploy", path), 4);
    ck_assert_ptr_nonnull(strstr(err_, "error"));
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM programs"), before);
    unlink(path);
    ck_assert_int_eq(CTL("deploy", "/nonexistent/x.flow"), 1);
    ck_assert_ptr_nonnull(strstr(err_, "cannot open"));

    h_start(&h, "flaky", "{\"failures\": 0}", NULL);
    ck_assert_int_eq(CTL("--json", "flows"), 0);
    j = jout();
    json_t *v = json_object_get(j, "versions");
    int found_current = 0, running = -1;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "hash")), hash) == 0)
            found_current = json_is_true(json_object_get(e, "current"));
        if (strcmp(json_string_value(json_object_get(e, "flow")), "flaky") == 0)
            running = (int)json_integer_value(
                json_object_get(json_object_get(e, "instances"), "running"));
    }
    ck_assert(found_current);
    ck_assert_int_eq(running, 1);
    json_decref(j);
    ck_assert_int_eq(CTL("flows"), 0);
    ck_assert_ptr_nonnull(strstr(out, "current"));
}
END_TEST

START_TEST(list_filters_paging_and_sql_metacharacters)
{
    for (int i = 0; i < 5; i++) {
        char key[32];
        snprintf(key, sizeof key, "inv_%d", i);
        h_start(&h, "flaky", "{\"failures\": 0}", key);
    }
    h_start(&h, "napper", "{}", "o'hara\"; DROP TABLE instances; --");
    ck_assert_int_eq(CTL("--json", "list", "--flow", "flaky", "--limit", "2"), 0);
    json_t *j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "instances")), 2);
    char after[37];
    snprintf(after, sizeof after, "%s", json_string_value(json_object_get(j, "next_after")));
    json_decref(j);
    ck_assert_int_eq(CTL("--json", "list", "--flow", "flaky", "--limit", "10", "--after", after),
                     0);
    j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "instances")), 3);
    ck_assert(json_is_null(json_object_get(j, "next_after")));
    json_decref(j);
    ck_assert_int_eq(CTL("--json", "list", "--key", "inv_3"), 0);
    j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "instances")), 1);
    json_decref(j);
    /* SQL metacharacters are data. */
    ck_assert_int_eq(CTL("--json", "list", "--key", "o'hara\"; DROP TABLE instances; --"), 0);
    j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "instances")), 1);
    json_decref(j);
    ck_assert_int_eq(CTL("--json", "list", "--flow", "x' OR '1'='1"), 0);
    j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "instances")), 0);
    json_decref(j);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM instances"), 6);
    ck_assert_int_eq(CTL("list", "--version", "abc%"), 2);
    ck_assert_int_eq(CTL("list", "--older-than", "forever"), 2);
    /* Human output and paging hint. */
    ck_assert_int_eq(CTL("list", "--flow", "flaky", "--limit", "2"), 0);
    ck_assert_ptr_nonnull(strstr(out, "--after"));
    ck_assert_int_eq(CTL("list", "--status", "running", "--state", "call"), 0);
    ck_assert_ptr_nonnull(strstr(out, "inv_4"));
    /* --waiting-for and --older-than with a running engine. */
    h_exec_start(&h, 0, NULL);
    h_start(&h, "waiter", "{}", "w1");
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 2, 20));
    ck_assert_int_eq(CTL("--json", "list", "--waiting-for", "hello"), 0);
    j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "instances")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(j, "instances"), 0), "flow")),
                     "waiter");
    json_decref(j);
    ck_assert_int_eq(CTL("--json", "list", "--status", "waiting", "--older-than", "1h"), 0);
    j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "instances")), 0);
    json_decref(j);
}
END_TEST

START_TEST(show_renders_the_timeline)
{
    h_exec_start(&h, 0, NULL);
    const char *id = copy_id(h_start(&h, "flaky", "{\"failures\": 2}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 20));
    ck_assert(h_until(&h, "SELECT count(*) FROM task_attempts", 3, 10));
    ck_assert_int_eq(CTL("show", id), 0);
    ck_assert_ptr_nonnull(strstr(out, "timeline"));
    ck_assert_ptr_nonnull(strstr(out, "attempt 1/4 test.fail_then_succeed: transient"));
    ck_assert_ptr_nonnull(strstr(out, "injected transient failure"));
    ck_assert_ptr_nonnull(strstr(out, "call -> done"));
    ck_assert_ptr_nonnull(strstr(out, "variables"));
    ck_assert_int_eq(CTL("--json", "show", id), 0);
    json_t *j = jout();
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "completed");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "vars"), "failures")),
                     2);
    json_t *tl = json_object_get(j, "timeline");
    int attempts = 0, starts = 0;
    size_t i;
    json_t *e;
    json_array_foreach(tl, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        attempts += strcmp(type, "attempt") == 0;
        starts += strcmp(type, "history") == 0 &&
                  strcmp(json_string_value(json_object_get(e, "kind")), "start") == 0;
    }
    ck_assert_int_eq(attempts, 3);
    ck_assert_int_ge(starts, 1); /* the store's start row and the core's */
    ck_assert_int_eq(json_array_size(json_object_get(j, "tasks")), 1);
    json_decref(j);
}
END_TEST

static json_t *stuck_of(json_t *doc, const char *id, const char *kind)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "stuck"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0 &&
            strcmp(json_string_value(json_object_get(e, "kind")), kind) == 0)
            return e;
    }
    return NULL;
}

START_TEST(stuck_failed_then_retry_runs_with_the_same_key)
{
    h_exec_start(&h, 0, NULL);
    ck_assert_int_eq(CTL("stuck"), 0);
    ck_assert_ptr_nonnull(strstr(out, "nothing is stuck"));
    /* 5 failures, 4 attempts: fails permanently. */
    const char *id = copy_id(h_start(&h, "flaky", "{\"failures\": 5}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'failed'", 1, 20));
    ck_assert(h_until(&h, "SELECT count(*) FROM task_attempts", 4, 10));
    char key[128];
    snprintf(key, sizeof key, "%s", h_text(&h, "SELECT idempotency_key FROM tasks"));
    ck_assert_int_eq(CTL("stuck"), 5);
    ck_assert_ptr_nonnull(strstr(out, "failed permanently after 4 attempt(s)"));
    ck_assert_ptr_nonnull(strstr(out, "settlectl retry"));
    ck_assert_int_eq(CTL("--json", "stuck"), 5);
    json_t *j = jout();
    ck_assert_ptr_nonnull(stuck_of(j, id, "failed"));
    json_decref(j);
    /* retry: same task, same key, attempts 5 and 6; the 5th failure is the
     * last the test activity injects for this key, so it completes. */
    ck_assert_int_eq(CTL("--json", "retry", id, "--reason", "the ERP is back"), 0);
    j = jout();
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "running");
    ck_assert_str_eq(json_string_value(json_object_get(j, "to_state")), "call");
    ck_assert_str_eq(json_string_value(json_object_get(j, "idempotency_key")), key);
    json_decref(j);
    if (!h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 20)) {
        fprintf(stderr, "after retry, instance: %s\n",
                h_text(&h, "SELECT row_to_json(i)::text FROM instances i"));
        fprintf(stderr, "  task: %s\n", h_text(&h, "SELECT row_to_json(t)::text FROM tasks t"));
        fprintf(stderr, "  attempts: %s\n",
                h_text(&h, "SELECT json_agg(a)::text FROM task_attempts a"));
        fprintf(stderr, "  nodes: %s\n", h_text(&h, "SELECT json_agg(n)::text FROM nodes n"));
        ck_abort_msg("not completed after retry");
    }
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks"), 1);
    ck_assert_str_eq(h_text(&h, "SELECT idempotency_key FROM tasks"), key);
    ck_assert(h_until(&h, "SELECT count(*) FROM task_attempts", 6, 10));
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM history WHERE kind = 'repair'"
                                  " AND actor LIKE 'settlectl:tester@%'"
                                  " AND detail->>'reason' = 'the ERP is back'"),
                     1);
    ck_assert_int_eq(h_scalar(&h, "SELECT sum(n) FROM flow_counts WHERE flow = 'flaky'"
                                  " AND status = 'completed'"),
                     1);
    ck_assert_int_eq(h_scalar(&h, "SELECT coalesce(sum(n), 0) FROM flow_counts"
                                  " WHERE flow = 'flaky' AND status <> 'completed'"),
                     0);
    h_assert_gapless(&h);
    /* The timeline puts the re-run attempts under the repair that asked for them. */
    ck_assert_int_eq(CTL("show", id), 0);
    const char *rep = strstr(out, "repair     gave_up -> call  by settlectl:tester@");
    const char *a4 = strstr(out, "attempt 4/8"), *a5 = strstr(out, "attempt 5/8");
    ck_assert_msg(rep && a4 && a5 && a4 < rep && rep < a5, "%s", out);
    /* Not failed any more: refused with exit 4. */
    ck_assert_int_eq(CTL("retry", id), 4);
    ck_assert_ptr_nonnull(strstr(err_, "not failed"));
    ck_assert_int_eq(CTL("stuck"), 0);
}
END_TEST

START_TEST(stuck_explains_declines_and_long_retries)
{
    h_exec_start(&h, 0, NULL);
    const char *dec = copy_id(h_start(&h, "decliner", "{}", NULL));
    const char *slow = copy_id(h_start(&h, "slowretry", "{}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'failed'", 1, 20));
    ck_assert(h_until(&h, "SELECT count(*) FROM task_attempts", 2, 20));
    ck_assert_int_eq(CTL("--json", "stuck", "--retrying-for", "1ms"), 5);
    json_t *j = jout();
    json_t *d = stuck_of(j, dec, "failed");
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(json_string_value(json_object_get(d, "code")), "expired_card");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(d, "next")), "new card"));
    json_t *s = stuck_of(j, slow, "retrying");
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(s, "why")), "attempt 1/6"));
    json_decref(j);
    /* The default threshold (1h) is not reached yet. */
    ck_assert_int_eq(CTL("--json", "stuck"), 5);
    j = jout();
    ck_assert_ptr_null(stuck_of(j, slow, "retrying"));
    json_decref(j);
    /* Retrying instances cannot be `retry`d: the engine still owns that. */
    ck_assert_int_eq(CTL("retry", slow), 4);
    ck_assert_ptr_nonnull(strstr(err_, "still retrying"));
    /* Suspending it while the engine holds it, then resuming at once, is
     * refused until its attempt's timeout has passed (or --force). */
    ck_assert_int_eq(CTL("suspend", slow), 0);
    ck_assert_int_eq(CTL("resume", slow), 4);
    ck_assert_ptr_nonnull(strstr(err_, "--force"));
    ck_assert_str_eq(h_text(&h, "SELECT status::text FROM instances WHERE flow = 'slowretry'"),
                     "suspended");
    ck_assert_int_eq(CTL("resume", slow, "--force"), 0);
    ck_assert(h_until(&h,
                      "SELECT count(*) FROM instances WHERE flow = 'slowretry'"
                      " AND status = 'running' AND owner_node IS NOT NULL",
                      1, 20));
    /* A decline is not a failed activity to re-run either. */
    ck_assert_int_eq(CTL("--json", "stuck", "--flow", "decliner"), 5);
    j = jout();
    ck_assert_int_eq(json_integer_value(json_object_get(j, "count")), 1);
    json_decref(j);
}
END_TEST

START_TEST(stuck_late_orphaned_old_version_and_suspended)
{
    h_exec_start(&h, 0, NULL);
    const char *late = copy_id(h_start(&h, "napper", "{}", NULL));
    const char *orphan = copy_id(h_start(&h, "waiter", "{}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 2, 20));
    h_exec_stop(&h, 1);
    h_deploy(&h, "napper2.flow", NAPPER2);
    /* The napper's wake time passed long ago (as if the engine were down). */
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE instances SET wake_at = now() - interval '2 hours' WHERE id = '%s'", late);
    PQclear(st_test_exec(h.pg, sql));
    /* The waiter's owner died without releasing it. */
    PQclear(st_test_exec(h.pg, "INSERT INTO nodes (id, name, lease_until) VALUES "
                               "(999, 'dead:1', now() - interval '1 minute')"));
    snprintf(sql, sizeof sql, "UPDATE instances SET owner_node = 999 WHERE id = '%s'", orphan);
    PQclear(st_test_exec(h.pg, sql));
    ck_assert_int_eq(CTL("--json", "stuck"), 5);
    json_t *j = jout();
    ck_assert_ptr_nonnull(stuck_of(j, late, "late"));
    ck_assert_ptr_nonnull(stuck_of(j, late, "old_version"));
    json_t *o = stuck_of(j, orphan, "orphaned");
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "why")), "dead:1"));
    json_t *l = stuck_of(j, late, "late");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(l, "next")), "settlectl wake"));
    json_decref(j);
    ck_assert_int_eq(CTL("stuck"), 5);
    ck_assert_ptr_nonnull(strstr(out, "why:"));
    ck_assert_ptr_nonnull(strstr(out, "next:"));
    /* Suspend: listed as such; resume clears it. */
    ck_assert_int_eq(CTL("suspend", orphan, "--reason", "customer called"), 0);
    ck_assert_int_eq(CTL("--json", "stuck"), 5);
    j = jout();
    ck_assert_ptr_nonnull(stuck_of(j, orphan, "suspended"));
    ck_assert_ptr_null(stuck_of(j, orphan, "orphaned"));
    json_decref(j);
    ck_assert_int_eq(CTL("resume", orphan), 0);
    ck_assert_str_eq(h_text(&h, "SELECT status::text FROM instances WHERE flow = 'waiter'"),
                     "waiting");
    ck_assert_str_eq(h_text(&h, "SELECT wait_reason FROM instances WHERE flow = 'waiter'"),
                     h_text(&h, "SELECT detail->>'reason_before' FROM history"
                                " WHERE detail->>'action' = 'suspend'"));
}
END_TEST

START_TEST(wake_fires_the_timer_with_a_running_engine)
{
    h_exec_start(&h, 0, NULL);
    const char *id = copy_id(h_start(&h, "napper", "{}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 1, 20));
    long long epoch = h_scalar(&h, "SELECT lease_epoch FROM instances");
    ck_assert_int_eq(CTL("wake", id), 0);
    ck_assert_ptr_nonnull(strstr(out, "wake"));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 20));
    ck_assert(h_scalar(&h, "SELECT lease_epoch FROM instances") > epoch);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM history WHERE kind = 'repair'"
                                  " AND detail->>'action' = 'wake'"),
                     1);
    h_assert_gapless(&h);
    ck_assert_int_eq(CTL("wake", id), 4);
    /* An await with a timeout: wake takes its timeout arm. */
    const char *w = copy_id(h_start(&h, "waiter", "{}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 1, 20));
    ck_assert_int_eq(CTL("--json", "wake", w), 0);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE state_name = 'late'", 1, 20));
    ck_assert_int_eq(CTL("wake", w), 4);
    ck_assert_ptr_nonnull(strstr(err_, "no timer to fire"));
}
END_TEST

START_TEST(signal_and_cancel_reach_the_flow)
{
    h_exec_start(&h, 0, NULL);
    const char *a = copy_id(h_start(&h, "waiter", "{}", "a"));
    const char *b = copy_id(h_start(&h, "waiter", "{}", "b"));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 2, 20));
    ck_assert_int_eq(CTL("signal", a, "hello", "{not json"), 2);
    ck_assert_int_eq(CTL("signal", a, "settle.cancel"), 2);
    ck_assert_int_eq(CTL("--json", "signal", a, "hello", "{\"name\": \"Rob'; DROP TABLE x; --\"}"),
                     0);
    json_t *j = jout();
    ck_assert_str_eq(json_string_value(json_object_get(j, "action")), "signal");
    json_decref(j);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE state_name = 'done'", 1, 20));
    ck_assert_str_eq(h_text(&h, "SELECT vars->>'got' FROM instances WHERE business_key = 'a'"),
                     "Rob'; DROP TABLE x; --");
    ck_assert_int_eq(CTL("cancel", b, "--reason", "duplicate"), 0);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE state_name = 'cancelled_cleanly'",
                      1, 20));
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM signals WHERE source LIKE 'settlectl:%'"),
                     2);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM history WHERE kind = 'repair'"), 2);
    /* Finished instances take no signals. */
    ck_assert_int_eq(CTL("signal", a, "hello"), 4);
    ck_assert_int_eq(CTL("cancel", b), 4);
    ck_assert_ptr_nonnull(strstr(err_, "has ended"));
    h_assert_gapless(&h);
}
END_TEST

START_TEST(suspend_resume_and_bulk_forms)
{
    h_exec_start(&h, 0, NULL);
    for (int i = 0; i < 3; i++)
        h_start(&h, "napper", "{}", NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 3, 20));
    ck_assert_int_eq(CTL("suspend", "--all"), 2); /* a filter is required */
    ck_assert_int_eq(CTL("--json", "suspend", "--all", "--flow", "napper", "--dry-run"), 0);
    json_t *j = jout();
    ck_assert_int_eq(json_integer_value(json_object_get(j, "matched")), 3);
    json_decref(j);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM instances WHERE status = 'suspended'"), 0);
    ck_assert_int_eq(CTL("--json", "suspend", "--all", "--flow", "napper"), 0);
    j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "done")), 3);
    json_decref(j);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM instances WHERE status = 'suspended'"
                                  " AND owner_node IS NULL"),
                     3);
    ck_assert_int_eq(h_scalar(&h, "SELECT sum(n) FROM flow_counts WHERE flow = 'napper'"
                                  " AND status = 'suspended'"),
                     3);
    /* The engine leaves them alone. */
    for (int i = 0; i < 20; i++)
        ev_run(h.loop, EVRUN_ONCE);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM instances WHERE owner_node IS NOT NULL"),
                     0);
    /* Suspending again is refused for each: exit 4. */
    ck_assert_int_eq(CTL("suspend", "--all", "--flow", "napper"), 4);
    ck_assert_int_eq(CTL("resume", "--all", "--flow", "napper", "--status", "suspended"), 0);
    ck_assert_ptr_nonnull(strstr(out, "3 done"));
    ck_assert(h_until(&h,
                      "SELECT count(*) FROM instances WHERE status = 'waiting'"
                      " AND owner_node IS NOT NULL",
                      3, 20));
    /* Cancel in bulk: the engine runs the cancel (no cancel path: cancelled). */
    ck_assert_int_eq(CTL("cancel", "--all", "--flow", "napper"), 0);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'cancelled'", 3, 20));
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM history WHERE kind = 'repair'"), 9);
    h_assert_gapless(&h);
}
END_TEST

START_TEST(stats_clock_and_graph)
{
    h_exec_start(&h, 1, NULL);
    const char *id = copy_id(h_start(&h, "waiter", "{}", NULL));
    h_start(&h, "napper", "{}", NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 2, 20));
    ck_assert_int_eq(CTL("--json", "stats"), 0);
    json_t *j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "by_status")), 2);
    ck_assert_int_eq(json_array_size(json_object_get(j, "nodes")), 1);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(j, "throughput"), "starts")), 2);
    ck_assert(json_is_object(json_object_get(j, "oldest_waiting")));
    json_decref(j);
    ck_assert_int_eq(CTL("stats"), 0);
    ck_assert_ptr_nonnull(strstr(out, "oldest waiting"));
    /* The virtual clock: advance 3d fires the napper's sleep. */
    ck_assert_int_eq(CTL("--json", "clock", "show"), 0);
    j = jout();
    long long before = json_integer_value(json_object_get(j, "target_us"));
    json_decref(j);
    ck_assert_int_eq(CTL("--json", "clock", "advance", "3d1h"), 0);
    j = jout();
    ck_assert_int_eq(json_integer_value(json_object_get(j, "target_us")) - before,
                     (3LL * 24 + 1) * 3600 * 1000000);
    json_decref(j);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 2, 20));
    ck_assert_int_eq(CTL("clock", "advance", "soon"), 2);
    /* graph: the flow, and an instance with its path. */
    ck_assert_int_eq(CTL("graph", "napper"), 0);
    ck_assert_ptr_nonnull(strstr(out, "digraph"));
    char dot[] = "/tmp/ctl_graph_XXXXXX";
    int fd = mkstemp(dot);
    close(fd);
    ck_assert_int_eq(CTL("graph", id, "-o", dot), 0);
    FILE *f = fopen(dot, "r");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(dot);
    ck_assert_ptr_nonnull(strstr(buf, "digraph"));
    ck_assert_ptr_nonnull(strstr(buf, "#ffcc80")); /* current state */
    ck_assert_ptr_nonnull(strstr(buf, "#bbdefb")); /* visited state */
    ck_assert_int_eq(CTL("graph", "nosuchflow"), 3);
    /* With Graphviz installed an SVG is written next to the DOT; without,
     * settlectl says how to get it. */
    char dot2[] = "/tmp/ctl_graph_XXXXXX";
    fd = mkstemp(dot2);
    close(fd);
    ck_assert_int_eq(CTL("graph", "napper", "-o", dot2), 0);
    char svg[64];
    snprintf(svg, sizeof svg, "%s.svg", dot2);
    if (strstr(out, "not installed") != NULL) {
        ck_assert_ptr_nonnull(strstr(out, "apt-get install graphviz"));
        ck_assert_int_ne(access(svg, F_OK), 0);
    } else {
        ck_assert_msg(strstr(out, svg) != NULL, "%s", out);
        f = fopen(svg, "r");
        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        ck_assert_ptr_nonnull(strstr(buf, "<svg"));
        unlink(svg);
    }
    unlink(dot2);
}
END_TEST

static const char NAPPER_V2[] = "flow napper\n"
                                "var note: string = \"moved\"\n"
                                "state doze {\n"
                                "  sleep 3d\n"
                                "  on wake -> done\n"
                                "}\n"
                                "final done\n";

static void write_text(char *path, const char *text)
{
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

START_TEST(migrate_moves_waiting_instances_with_a_checked_map)
{
    h_exec_start(&h, 0, NULL);
    const char *a = copy_id(h_start(&h, "napper", "{}", NULL));
    h_start(&h, "napper", "{}", NULL);
    const char *slow = copy_id(h_start(&h, "slowretry", "{}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 2, 20));
    ck_assert(h_until(&h, "SELECT count(*) FROM task_attempts", 1, 20));
    char v1[65], v2[65], s1[65], s2[65];
    snprintf(v1, sizeof v1, "%s",
             h_text(&h, "SELECT current_hash FROM flows WHERE name = 'napper'"));
    snprintf(s1, sizeof s1, "%s",
             h_text(&h, "SELECT current_hash FROM flows WHERE name = 'slowretry'"));
    h_deploy(&h, "napper_v2.flow", NAPPER_V2);
    h_deploy(&h, "slowretry_v2.flow",
             "flow slowretry\nstate call {\n  do test.fail_then_succeed(failures: 9)\n"
             "  retry 6 times backoff 1h..2h\n  on ok -> done\n  on failed -> gave_up\n}\n"
             "final done\nfail gave_up \"gave up\"\n");
    snprintf(v2, sizeof v2, "%s",
             h_text(&h, "SELECT current_hash FROM flows WHERE name = 'napper'"));
    snprintf(s2, sizeof s2, "%s",
             h_text(&h, "SELECT current_hash FROM flows WHERE name = 'slowretry'"));
    char v1p[13], v2p[13];
    snprintf(v1p, sizeof v1p, "%.12s", v1);
    snprintf(v2p, sizeof v2p, "%.12s", v2);
    /* Without a map, state nap has nowhere to go: the compiler says so. */
    ck_assert_int_eq(CTL("migrate", v1p, v2p), 4);
    ck_assert_ptr_nonnull(strstr(err_, "nap"));
    char bad[] = "/tmp/ctl_map_XXXXXX", good[] = "/tmp/ctl_map_XXXXXX";
    write_text(bad, "nap -> nowhere\n");
    write_text(good, "# the state was renamed\nnap -> doze\n");
    ck_assert_int_eq(CTL("migrate", v1p, v2p, "--map", bad), 4);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM instances WHERE state_name = 'nap'"), 2);
    /* Dry run: lists, changes nothing. */
    ck_assert_int_eq(CTL("--json", "migrate", v1p, v2p, "--map", good, "--dry-run"), 0);
    json_t *j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "would_move")), 2);
    json_decref(j);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM instances WHERE state_name = 'nap'"), 2);
    ck_assert_int_eq(CTL("migrate", v1p, v2p, "--map", good), 0);
    ck_assert_ptr_nonnull(strstr(out, "moved 2 instance(s)"));
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE program_hash = '%s' AND state_name = 'doze'"
             " AND vars->>'note' = 'moved'",
             v2);
    ck_assert_int_eq(h_scalar(&h, sql), 2);
    /* The engine runs the moved instance on the new version. */
    ck_assert_int_eq(CTL("wake", a), 0);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 20));
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM history WHERE detail->>'action' = "
                                  "'migrate'"),
                     2);
    h_assert_gapless(&h);
    /* An instance running an activity is skipped with the reason. */
    ck_assert_int_eq(CTL("--json", "migrate", s1, s2), 0);
    j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "moved")), 0);
    json_t *sk = json_array_get(json_object_get(j, "skipped"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(sk, "id")), slow);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(sk, "why")), "running"));
    json_decref(j);
    ck_assert_int_eq(CTL("migrate", v1p, s2), 4); /* two different flows */
    unlink(bad);
    unlink(good);
}
END_TEST

/* A flow whose cancel path waits (grace), in three versions: v2 moves the
 * cancel path to another state (grace is no longer on it), v3 keeps it. */
#define CANCELLER_HEAD \
    "flow canceller\n" \
    "state wait {\n  await timeout 3d\n  on signal poke -> done\n  on timeout -> done\n}\n"
static const char CANCELLER_V1[] =
    CANCELLER_HEAD "on cancel -> grace\n"
                   "state grace {\n  sleep 1d\n  on wake -> cancelled\n}\n"
                   "final done\nfinal cancelled\n";
static const char CANCELLER_V2[] =
    CANCELLER_HEAD "on cancel -> undo\n"
                   "state grace {\n  sleep 1d\n  on wake -> done\n}\n"
                   "state undo {\n  sleep 1h\n  on wake -> cancelled\n}\n"
                   "final done\nfinal cancelled\n";
static const char CANCELLER_V3[] =
    CANCELLER_HEAD "on cancel -> grace\n"
                   "state grace {\n  sleep 2d\n  on wake -> cancelled\n}\n"
                   "final done\nfinal cancelled\n";

static void current_prefix(const char *flow, char prefix[13])
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT left(current_hash, 12) FROM flows WHERE name = '%s'", flow);
    snprintf(prefix, 13, "%s", h_text(&h, sql));
}

/* An instance in its cancel path moves only to a state on the new
 * version's cancel path: elsewhere it would run the business path with
 * every further cancel ignored. */
START_TEST(migrate_checks_instances_in_their_cancel_path_against_the_new_cancel_path)
{
    h_deploy(&h, "canceller.flow", CANCELLER_V1);
    h_exec_start(&h, 0, NULL);
    const char *a = copy_id(h_start(&h, "canceller", "{}", NULL));
    const char *b = copy_id(h_start(&h, "canceller", "{}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 2, 20));
    ck_assert_int_eq(CTL("cancel", a), 0);
    ck_assert(h_until(&h,
                      "SELECT count(*) FROM instances WHERE state_name = 'grace'"
                      " AND status = 'waiting' AND cancel_requested",
                      1, 20));
    char v1[13], v2[13], v3[13];
    current_prefix("canceller", v1);
    h_deploy(&h, "canceller_v2.flow", CANCELLER_V2);
    current_prefix("canceller", v2);
    ck_assert_int_eq(CTL("--json", "migrate", v1, v2), 0);
    json_t *j = jout();
    json_t *moved = json_object_get(j, "moved"), *skipped = json_object_get(j, "skipped");
    ck_assert_int_eq(json_array_size(moved), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(moved, 0), "id")), b);
    ck_assert_int_eq(json_array_size(skipped), 1);
    json_t *sk = json_array_get(skipped, 0);
    ck_assert_str_eq(json_string_value(json_object_get(sk, "id")), a);
    ck_assert_msg(strstr(json_string_value(json_object_get(sk, "why")), "cancel path") != NULL,
                  "%s", json_string_value(json_object_get(sk, "why")));
    json_decref(j);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE id = '%s' AND left(program_hash, 12) = '%s'", a,
             v1);
    ck_assert_int_eq(h_scalar(&h, sql), 1);
    /* A version whose cancel path still holds the state takes it. */
    h_deploy(&h, "canceller_v3.flow", CANCELLER_V3);
    current_prefix("canceller", v3);
    ck_assert_int_eq(CTL("--json", "migrate", v1, v3), 0);
    j = jout();
    ck_assert_int_eq(json_array_size(json_object_get(j, "moved")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(j, "skipped")), 0);
    json_decref(j);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE id = '%s' AND left(program_hash, 12) = '%s'"
             " AND cancel_requested AND state_name = 'grace'",
             a, v3);
    ck_assert_int_eq(h_scalar(&h, sql), 1);
    h_assert_gapless(&h);
}
END_TEST

/* Run settlectl on a pseudo-terminal (stdout and stderr); its output into out. */
static int run_tty(const char *a1, const char *a2, const char *a3, const char *a4)
{
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/tools/settlectl/settlectl", getenv("SETTLE_BINARY_DIR"));
    int master = -1;
    fflush(NULL);
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    ck_assert(pid >= 0);
    if (pid == 0) {
        setenv("SETTLE_DSN", h.dsn, 1);
        execl(bin, bin, a1, a2, a3, a4, (char *)NULL);
        _exit(127);
    }
    size_t n = 0;
    for (;;) {
        ssize_t got = read(master, out + n, sizeof out - 1 - n);
        if (got <= 0)
            break; /* EIO once the child closed the terminal */
        n += (size_t)got;
    }
    out[n] = '\0';
    close(master);
    int st = 0;
    ck_assert(waitpid(pid, &st, 0) == pid);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

START_TEST(bulk_repairs_show_progress_on_a_terminal)
{
    for (int i = 0; i < 4; i++)
        h_start(&h, "napper", "{}", NULL);
    ck_assert_int_eq(run_tty("suspend", "--all", "--flow", "napper"), 0);
    ck_assert_msg(strstr(out, "suspend  [##############################] 4/4") != NULL, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "suspend: 4 done, 0 refused of 4 matched"));
    /* Not on a terminal: no bar. Not started yet: back to running. */
    ck_assert_int_eq(CTL("resume", "--all", "--flow", "napper"), 0);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM instances WHERE status = 'running'"), 4);
    ck_assert_ptr_null(strstr(err_, "[#"));
    ck_assert_ptr_null(strstr(out, "[#"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("settlectl");
    TCase *tc = tcase_create("settlectl");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, help_usage_and_exit_codes);
    tcase_add_test(tc, a_stray_hyphen_in_an_id_is_a_usage_error);
    tcase_add_test(tc, deploy_and_flows);
    tcase_add_test(tc, list_filters_paging_and_sql_metacharacters);
    tcase_add_test(tc, show_renders_the_timeline);
    tcase_add_test(tc, stuck_failed_then_retry_runs_with_the_same_key);
    tcase_add_test(tc, stuck_explains_declines_and_long_retries);
    tcase_add_test(tc, stuck_late_orphaned_old_version_and_suspended);
    tcase_add_test(tc, wake_fires_the_timer_with_a_running_engine);
    tcase_add_test(tc, signal_and_cancel_reach_the_flow);
    tcase_add_test(tc, suspend_resume_and_bulk_forms);
    tcase_add_test(tc, stats_clock_and_graph);
    tcase_add_test(tc, migrate_moves_waiting_instances_with_a_checked_map);
    tcase_add_test(tc, migrate_checks_instances_in_their_cancel_path_against_the_new_cancel_path);
    tcase_add_test(tc, bulk_repairs_show_progress_on_a_terminal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
