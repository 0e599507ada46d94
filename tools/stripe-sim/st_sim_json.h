/*
 * st_sim_json.h — a fast serialiser for jansson trees.
 *
 * Layer: stripe-sim, leaf (jansson). jansson's json_dumps walks strings a
 * code point at a time through callbacks; on the confirm-payment path that
 * was the largest cost. This writes the same compact JSON (object keys in
 * insertion order, UTF-8 passed through, only '"', '\\' and control
 * characters escaped) into a growing buffer with bulk copies.
 *
 * Ownership: st_sim_json_dumps returns malloc'd text the caller frees.
 * Buffers are the common st_buf_t (common/st_buf.h).
 */
#ifndef ST_SIM_JSON_H
#define ST_SIM_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "common/st_buf.h"

/* Appenders for the common growable buffer (common/st_buf.h). */
void st_sim_buf_jstr(st_buf_t *b, const char *s, size_t n); /* quoted, escaped */
void st_sim_buf_int(st_buf_t *b, json_int_t v);             /* decimal, no printf */
void st_sim_buf_json(st_buf_t *b, const json_t *v);
/* The same with object keys sorted (jansson's JSON_SORT_KEYS | JSON_COMPACT). */
void st_sim_buf_json_sorted(st_buf_t *b, const json_t *v);

/* Compact JSON text of v, or NULL when out of memory. */
char *st_sim_json_dumps(const json_t *v);

/* The same as a JSON string value (new reference), written without a
 * temporary allocation, or NULL when out of memory. */
json_t *st_sim_json_string_of(const json_t *v);

/*
 * The calling thread's scratch buffer, emptied, for text that is copied
 * out before the next use; NULL while it is lent out (use a local buffer).
 * Hand it back with st_sim_buf_scratch_done, which releases any other
 * buffer. It lives until the thread ends.
 */
st_buf_t *st_sim_buf_scratch(void);
void st_sim_buf_scratch_done(st_buf_t *b);

#endif
