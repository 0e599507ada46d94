/*
 * flowc_valid.h — structural validation of a Program (see flowc_valid.c).
 *
 * Layer: engine/flowc internals.
 */
#ifndef FLOWC_VALID_H
#define FLOWC_VALID_H

#include "flowc/flowc_int.h"

/* 0 when every index is in range and each kind has its sub-message. */
int fc_program_validate(const Settle__V1__Program *p, st_err_t *err);

#endif
