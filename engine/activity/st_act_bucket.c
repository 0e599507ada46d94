/*
 * st_act_bucket.c — token bucket that keeps Stripe calls under its rate
 * limit (Stripe allows about 100 read and 100 write requests per second in
 * live mode, 25 in test mode; the rate is configuration).
 *
 * Layer: engine/activity, pure (time is passed in).
 * Invariant: 0 <= tokens <= burst.
 */
#include "activity/act_int.h"

void st_act_bucket_init(st_act_bucket_t *b, double rate, double burst, int64_t now_us)
{
    b->rate = rate > 0 ? rate : 1;
    b->burst = burst >= 1 ? burst : 1;
    b->tokens = b->burst;
    b->last_us = now_us;
}

int64_t st_act_bucket_take(st_act_bucket_t *b, int64_t now_us)
{
    if (now_us > b->last_us) {
        b->tokens += (double)(now_us - b->last_us) * b->rate / 1e6;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_us = now_us;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    int64_t wait = (int64_t)((1.0 - b->tokens) * 1e6 / b->rate) + 1;
    return wait > 0 ? wait : 1;
}
