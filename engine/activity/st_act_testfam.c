/*
 * st_act_testfam.c — the test.* activities, for engine and scheduler tests
 * that need real asynchronous activities without the network.
 *
 *   test.echo               outcome "ok" (or args.outcome), result = args
 *   test.fail_then_succeed  transient args.failures times per idempotency
 *                           key (args.retry_after_ms as the hint), then ok
 *   test.sleep              ok after args.ms milliseconds on the loop, or
 *                           transient at the timeout when ms exceeds it
 *
 * Layer: engine/activity. Depends on the registry (act_int.h), jansson.
 * Invariant: every result arrives from the loop, never inside st_act_start.
 */
#include "activity/act_int.h"

#include <string.h>

static const char *const known_outcomes[] = {ST_ACT_SUCCEEDED,
                                             ST_ACT_PROCESSING,
                                             ST_ACT_REQUIRES_ACTION,
                                             ST_ACT_DECLINED,
                                             ST_ACT_PENDING,
                                             ST_ACT_FAILED,
                                             ST_ACT_SENT,
                                             ST_ACT_OK,
                                             ST_ACT_REJECTED,
                                             ST_ACT_TRANSIENT,
                                             NULL};

/* The static outcome string equal to name, or NULL. */
static const char *outcome_named(const char *name)
{
    for (size_t i = 0; name && known_outcomes[i]; i++)
        if (strcmp(known_outcomes[i], name) == 0)
            return known_outcomes[i];
    return NULL;
}

static int test_echo(st_act_call_t *call)
{
    const char *want = json_string_value(json_object_get(call->args, "outcome"));
    const char *o = want ? outcome_named(want) : ST_ACT_OK;
    if (o == NULL) {
        st_act_call_set(call, ST_ACT_FAILED, "test.echo: unknown outcome '%.60s'", want);
    } else {
        st_act_call_set(call, o, "echo");
        const char *code = json_string_value(json_object_get(call->args, "code"));
        snprintf(call->res.code, sizeof call->res.code, "%s", code ? code : "");
        call->res.result = json_deep_copy(call->args);
    }
    st_act_call_finish_later(call, 0);
    return 0;
}

static int test_fail_then_succeed(st_act_call_t *call)
{
    json_int_t failures = json_integer_value(json_object_get(call->args, "failures"));
    json_t *counts = call->runner->test_counts;
    json_int_t seen = json_integer_value(json_object_get(counts, call->idem_key));
    if (seen < failures) {
        json_object_set_new(counts, call->idem_key, json_integer(seen + 1));
        st_act_call_set(call, ST_ACT_TRANSIENT, "injected transient failure %lld of %lld",
                        (long long)seen + 1, (long long)failures);
        json_int_t ra = json_integer_value(json_object_get(call->args, "retry_after_ms"));
        call->res.retry_after_us = ra > 0 ? (int64_t)ra * 1000 : -1;
    } else {
        st_act_call_set(call, ST_ACT_OK, "succeeded after %lld failures", (long long)seen);
        call->res.result = json_pack("{s:I}", "failures", (json_int_t)seen);
    }
    st_act_call_finish_later(call, 0);
    return 0;
}

static int test_sleep(st_act_call_t *call)
{
    json_int_t ms = json_integer_value(json_object_get(call->args, "ms"));
    if (ms < 0)
        ms = 0;
    int64_t us = (int64_t)ms * 1000;
    if (us > call->timeout_us) { /* behaves like a call that hits its timeout */
        st_act_call_set(call, ST_ACT_TRANSIENT, "timed out after %lld ms",
                        (long long)(call->timeout_us / 1000));
        st_act_call_finish_later(call, call->timeout_us);
        return 0;
    }
    st_act_call_set(call, ST_ACT_OK, "slept %lld ms", (long long)ms);
    call->res.result = json_pack("{s:I}", "ms", ms);
    st_act_call_finish_later(call, us);
    return 0;
}

int st_act_test_start(st_act_call_t *call, st_err_t *err)
{
    const char *which = call->driver->conf;
    if (strcmp(which, "echo") == 0)
        return test_echo(call);
    if (strcmp(which, "fail_then_succeed") == 0)
        return test_fail_then_succeed(call);
    return test_sleep(call);
}
