/*
 * timer_int.h — private layout of the timing wheel, shared by the wheel's
 * file family (st_timer_wheel.c, st_timer_wheel_check.c). Not installed,
 * not for other modules.
 *
 * Layer: engine/timer. Depends on st_timer_wheel.h only.
 *
 * Invariants (verified by st_timer_wheel_check):
 *   - heads[] are circular sentinels; an entry's `slot` names its list;
 *   - a level-k slot list holds entries whose due tick t agrees with `cur`
 *     in every digit above k and whose digit k is >= cur's digit k; it is
 *     equal only while the slot waits to be split at `cur` (cur's digits
 *     below k are then all zero);
 *   - the level-0 slot of cur's digit 0 holds entries due exactly at cur;
 *   - READY holds entries inserted with t <= cur;
 *   - OVERFLOW holds entries whose t lies in a later 2^38-tick epoch, plus,
 *     while ovf_left > 0, entries being re-placed at an epoch start;
 *   - occ[k] has bit i set iff the level-k slot i is non-empty.
 */
#ifndef ST_TIMER_INT_H
#define ST_TIMER_INT_H

#include "timer/st_timer_wheel.h"

#define TW_LEVELS     6
#define TW_L0_BITS    8
#define TW_LN_BITS    6
#define TW_L0_SLOTS   (1u << TW_L0_BITS)
#define TW_LN_SLOTS   (1u << TW_LN_BITS)
#define TW_TOTAL_BITS (TW_L0_BITS + (TW_LEVELS - 1) * TW_LN_BITS)
#define TW_NSLOTS     (TW_L0_SLOTS + (TW_LEVELS - 1) * TW_LN_SLOTS)
#define TW_OVERFLOW   TW_NSLOTS
#define TW_READY      (TW_NSLOTS + 1)
#define TW_NHEADS     (TW_NSLOTS + 2)
#define TW_OCC_WORDS  (TW_L0_SLOTS / 64)

struct st_timer_wheel {
    int64_t tick_us;                       /* tick length */
    int64_t cur;                           /* current tick: all ticks <= cur processed */
    size_t pending;                        /* entries in any list */
    size_t ovf_count;                      /* entries in OVERFLOW */
    size_t ovf_left;                       /* overflow entries still to re-place at cur */
    int in_advance;                        /* set while fn runs: no nested advance */
    uint64_t occ[TW_LEVELS][TW_OCC_WORDS]; /* slot occupancy bits per level */
    st_timer_entry_t heads[TW_NHEADS];     /* list sentinels: slots, OVERFLOW, READY */
};

/* Bit position where level k's digit starts. */
static inline unsigned tw_shift(unsigned k)
{
    return k == 0 ? 0 : TW_L0_BITS + (k - 1) * TW_LN_BITS;
}

/* Digit width of level k. */
static inline unsigned tw_bits(unsigned k)
{
    return k == 0 ? TW_L0_BITS : TW_LN_BITS;
}

/* Index of level k's first slot in heads[]. */
static inline unsigned tw_base(unsigned k)
{
    return k == 0 ? 0 : TW_L0_SLOTS + (k - 1) * TW_LN_SLOTS;
}

/* Digit k of tick t. */
static inline unsigned tw_digit(int64_t t, unsigned k)
{
    return (unsigned)(((uint64_t)t >> tw_shift(k)) & ((1u << tw_bits(k)) - 1));
}

static inline int tw_occupied(const st_timer_wheel_t *w, unsigned k, unsigned idx)
{
    return (int)((w->occ[k][idx >> 6] >> (idx & 63)) & 1u);
}

/* Due tick: the first tick boundary at or after due_us. */
static inline int64_t tw_due_tick(const st_timer_wheel_t *w, int64_t due_us)
{
    if (due_us <= 0)
        return 0;
    return due_us / w->tick_us + (due_us % w->tick_us != 0);
}

#endif
