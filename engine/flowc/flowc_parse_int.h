/*
 * flowc_parse_int.h — helpers shared by flowc_parse.c and flowc_parse_state.c.
 *
 * Layer: engine/flowc internals. Each helper either consumes what it
 * names and returns true, or reports one syntax error and returns false.
 */
#ifndef FLOWC_PARSE_INT_H
#define FLOWC_PARSE_INT_H

#include "flowc/flowc_int.h"

bool fc_p_name(fc_parser_t *p, fc_name_t *out, const char *what);
bool fc_p_dotted(fc_parser_t *p, fc_name_t *out, const char *what);
bool fc_p_arrow_target(fc_parser_t *p, fc_name_t *target);
bool fc_p_duration(fc_parser_t *p, fc_dur_t *d, const char *what);
bool fc_p_at_top(const fc_parser_t *p);
/* state NAME { statements } — recovers inside the body by itself. */
bool fc_parse_state(fc_parser_t *p, fc_flow_t *f);

#endif
