/*
 * flowc_check_int.h — helpers shared by flowc_check_state.c and
 * flowc_check_arms.c.
 *
 * Layer: engine/flowc internals.
 */
#ifndef FLOWC_CHECK_INT_H
#define FLOWC_CHECK_INT_H

#include "flowc/flowc_int.h"

/* A DO state: activity, arguments, timeout, retry and outcome arms. */
void fc_check_do(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out);
/* `on signal` arms of a SLEEP or AWAIT state into out->signals. */
void fc_check_signal_arms(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out);

#endif
