/*
 * st_ctl_clock.c — `settlectl clock show | advance DURATION`: the durable
 * virtual clock that settled --clock virtual nodes follow.
 *
 * Layer: tools (settlectl). Uses the store's clock calls and st_ops_duration_parse;
 * owns no SQL of its own.
 */
#include <string.h>
#include <time.h>

#include "ctl_int.h"
#include "common/st_input.h"
#include "ops/st_ops.h"

static const char *iso(int64_t us, char *buf, size_t cap)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static int print_clock(ctl_t *c, const char *what, const st_store_clock_t *k)
{
    char a[32], b[32], d[32];
    iso(k->now_us, a, sizeof a);
    iso(k->target_us, b, sizeof b);
    if (c->json)
        return ctl_json_out(json_pack("{s:s,s:s,s:I,s:s,s:I,s:b}", "action", what, "now", a,
                                      "now_us", (json_int_t)k->now_us, "target", b, "target_us",
                                      (json_int_t)k->target_us, "caught_up",
                                      k->now_us >= k->target_us));
    printf("virtual clock (%s)\n  now:    %s\n  target: %s\n", what, a, b);
    if (k->target_us > k->now_us)
        printf("  the nodes are %s behind the target; they fire what is due on the way\n",
               ctl_fmt_dur(k->target_us - k->now_us, d, sizeof d));
    return CTL_EXIT_OK;
}

int ctl_cmd_clock(ctl_t *c, int argc, char **argv)
{
    const char *pos[2] = {0};
    int n = ctl_opts_parse(c, "clock", argc, argv, NULL, pos, 2);
    if (n < 0)
        return CTL_EXIT_USAGE;
    if (n == 0)
        return ctl_usage(c, "clock", "say `clock show` or `clock advance DURATION`");
    st_err_t err;
    int show = strcmp(pos[0], "show") == 0 && n == 1;
    int64_t us = 0;
    if (!show && !(strcmp(pos[0], "advance") == 0 && n == 2))
        return ctl_usage(c, "clock", "say `clock show` or `clock advance DURATION`");
    if (!show &&
        (st_ops_duration_parse(pos[1], &us, &err) != 0 || st_input_advance_check(us, &err) != 0))
        return ctl_fail(c, CTL_EXIT_USAGE, &err);
    st_store_conn_t *sc = ctl_db(c);
    if (sc == NULL)
        return CTL_EXIT_ERROR;
    st_store_clock_t k;
    int rc = show ? st_store_clock_read(sc, &k, &err) : st_store_clock_advance(sc, us, &k, &err);
    if (rc != 0)
        return ctl_fail(c, ctl_exit_for(rc), &err);
    return print_clock(c, show ? "show" : "advanced", &k);
}
