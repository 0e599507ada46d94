/*
 * st_act_backoff.c — retry timing: exponential backoff with full jitter,
 * Retry-After parsing, and the "is there another attempt" decision.
 *
 * Layer: engine/activity, pure (no clock, no I/O, no allocation): the
 * caller passes the time and the random number, so the scheduler can
 * persist the next attempt time and tests can pin every value.
 *
 * Invariants: 0 <= st_act_backoff_delay <= max(cap, bounded Retry-After);
 * the cap never exceeds backoff_max_us and never overflows.
 */
#include "activity/act_int.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

int64_t st_act_backoff_cap(const st_act_policy_t *p, uint32_t attempt)
{
    int64_t lo = p->backoff_min_us > 0 ? p->backoff_min_us : 0;
    int64_t hi = p->backoff_max_us > lo ? p->backoff_max_us : lo;
    if (attempt < 1)
        attempt = 1;
    int64_t cap = lo;
    for (uint32_t i = 1; i < attempt && cap < hi; i++)
        cap = cap > hi / 2 ? hi : cap * 2;
    return cap < hi ? cap : hi;
}

int64_t st_act_backoff_delay(const st_act_policy_t *p, uint32_t attempt, int64_t retry_after_us,
                             uint64_t random_u64)
{
    int64_t cap = st_act_backoff_cap(p, attempt);
    int64_t delay = (int64_t)(random_u64 % ((uint64_t)cap + 1));
    if (retry_after_us >= 0) {
        if (retry_after_us > ST_ACT_RETRY_AFTER_MAX_US)
            retry_after_us = ST_ACT_RETRY_AFTER_MAX_US;
        if (retry_after_us > delay)
            delay = retry_after_us;
    }
    return delay;
}

static int parse_delta_seconds(const char *s, int64_t *out_us)
{
    int64_t secs = 0;
    for (; *s && isdigit((unsigned char)*s); s++) {
        if (secs > ST_ACT_RETRY_AFTER_MAX_US / 1000000)
            secs = ST_ACT_RETRY_AFTER_MAX_US / 1000000 + 1; /* saturate */
        else
            secs = secs * 10 + (*s - '0');
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '\0')
        return ST_PARSE;
    *out_us = secs * 1000000;
    return 0;
}

int st_act_parse_retry_after(const char *value, int64_t now_unix_us, int64_t *out_us)
{
    if (value == NULL)
        return ST_PARSE;
    while (*value == ' ' || *value == '\t')
        value++;
    if (isdigit((unsigned char)*value))
        return parse_delta_seconds(value, out_us);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return ST_PARSE;
    int64_t at_us = (int64_t)timegm(&tm) * 1000000;
    *out_us = at_us > now_unix_us ? at_us - now_unix_us : 0;
    return 0;
}

bool st_act_next_attempt(const st_act_policy_t *p, const st_act_result_t *res, int64_t now_us,
                         uint64_t random_u64, int64_t *not_before_us)
{
    if (res->permanent)
        return false;
    uint32_t done = res->attempt ? res->attempt : 1;
    uint32_t max = p->max_attempts ? p->max_attempts : 1;
    if (done >= max)
        return false;
    *not_before_us = now_us + st_act_backoff_delay(p, done, res->retry_after_us, random_u64);
    return true;
}
