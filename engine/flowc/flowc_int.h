/*
 * flowc_int.h — private header shared by the compiler file family (engine/flowc).
 *
 * Layer: engine/flowc internals; never included outside engine/flowc and
 * its tests. Holds the per-compile arena, the diagnostic sink, tokens, the
 * syntax tree and the entry points of each pass:
 *
 *   lex (flowc_lex.c) → parse (flowc_parse*.c) → check + build the Program
 *   (flowc_check*.c, flowc_expr.c) → graph checks (flowc_graph.c)
 *
 * Invariants: every allocation of a compile comes from its arena and dies
 * with it; passes report problems only through the sink (fc_diag_*), never
 * by return codes; positions are 1-based line/byte column.
 */
#ifndef FLOWC_INT_H
#define FLOWC_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowc/st_flowc.h"

/* ---- arena (flowc_arena.c) ---- */

typedef struct fc_chunk fc_chunk_t;
typedef struct fc_arena {
    fc_chunk_t *head; /* newest chunk first */
    bool failed;      /* an allocation failed; the compile reports ST_NOMEM */
} fc_arena_t;

/* Zeroed memory that lives until fc_arena_release; NULL on exhaustion. */
void *fc_alloc(fc_arena_t *a, size_t n);
char *fc_strndup(fc_arena_t *a, const char *s, size_t n);
char *fc_strdup(fc_arena_t *a, const char *s);
char *fc_printf(fc_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fc_arena_release(fc_arena_t *a);

/* A growable array of pointers kept in the arena. */
typedef struct fc_vec {
    void **v;
    uint32_t n, cap;
} fc_vec_t;
void fc_vec_push(fc_arena_t *a, fc_vec_t *vec, void *item);

/* A string -> index table in the arena (open addressing, never shrinks). */
typedef struct fc_map {
    const char **keys;
    uint32_t *vals;
    uint32_t cap, n;
} fc_map_t;
/* Insert key -> val; returns the existing value if present, else FC_NO_INDEX. */
uint32_t fc_map_put(fc_arena_t *a, fc_map_t *m, const char *key, uint32_t val);
uint32_t fc_map_get(const fc_map_t *m, const char *key);

#define FC_NO_INDEX UINT32_MAX

/* Longest name (plain or dotted) the engine accepts in a Program. */
#define FC_NAME_MAX 128

/* ---- diagnostics (flowc_diag.c) ---- */

typedef struct fc_pos {
    uint32_t line, col, len;
} fc_pos_t;

typedef struct fc_sink {
    fc_arena_t *arena;
    const char *file;
    st_flowc_diag_t *diags; /* malloc'd array, owned by the result */
    size_t n, cap;
    unsigned errors, warnings;
    unsigned max; /* stop recording beyond this many */
    bool werror;  /* warnings count as errors */
    bool oom;     /* could not record a diagnostic */
} fc_sink_t;

void fc_error(fc_sink_t *s, fc_pos_t at, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fc_warn(fc_sink_t *s, fc_pos_t at, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Levenshtein distance, capped: returns cap+1 when larger than cap. */
unsigned fc_edit_distance(const char *a, const char *b, unsigned cap);
/* "did you mean 'x'?" for the nearest of `names` (n items), or NULL. */
const char *fc_suggest(fc_arena_t *a, const char *name, const char *const *names, size_t n);

/* ---- tokens (flowc_lex.c) ---- */

/* One keyword a line: the formatter would fold this table. */
/* clang-format off */
#define FC_KEYWORDS(X)         \
    X(FLOW, "flow")            \
    X(INPUT, "input")          \
    X(VAR, "var")              \
    X(CORRELATE, "correlate")  \
    X(STATE, "state")          \
    X(FINAL, "final")          \
    X(FAIL, "fail")            \
    X(ON, "on")                \
    X(DO, "do")                \
    X(SLEEP, "sleep")          \
    X(AWAIT, "await")          \
    X(IF, "if")                \
    X(ELSE, "else")            \
    X(SET, "set")              \
    X(TIMEOUT, "timeout")      \
    X(RETRY, "retry")          \
    X(AND, "and")              \
    X(OR, "or")                \
    X(NOT, "not")              \
    X(TRUE, "true")            \
    X(FALSE, "false")
/* clang-format on */

typedef enum {
    FC_T_EOF,
    FC_T_ERROR, /* a lexical error already reported */
    FC_T_IDENT,
    FC_T_INT,
    FC_T_STRING,
    FC_T_DURATION,
    FC_T_MONEY,
    FC_T_ARROW,
    FC_T_LBRACE,
    FC_T_RBRACE,
    FC_T_LPAREN,
    FC_T_RPAREN,
    FC_T_COMMA,
    FC_T_COLON,
    FC_T_DOT,
    FC_T_DOTDOT,
    FC_T_ASSIGN,
    FC_T_EQ,
    FC_T_NE,
    FC_T_LT,
    FC_T_LE,
    FC_T_GT,
    FC_T_GE,
    FC_T_PLUS,
    FC_T_MINUS,
    FC_T_STAR,
    FC_T_SLASH,
    FC_T_PERCENT,
#define FC_KW_ENUM(id, text) FC_K_##id,
    FC_KEYWORDS(FC_KW_ENUM)
#undef FC_KW_ENUM
        FC_T__COUNT
} fc_tok_kind_t;

typedef struct fc_token {
    fc_tok_kind_t kind;
    fc_pos_t pos;
    const char *text; /* arena copy: identifier, decoded string, currency */
    int64_t ival;     /* INT value, DURATION microseconds, MONEY minor units */
} fc_token_t;

typedef struct fc_lexer {
    const char *src, *end, *p;
    uint32_t line;
    const char *line_start;
    fc_sink_t *sink;
} fc_lexer_t;

void fc_lex_init(fc_lexer_t *lx, const char *src, size_t len, fc_sink_t *sink);
/* The next token; lexical errors are reported and yield FC_T_ERROR. */
fc_token_t fc_lex_next(fc_lexer_t *lx);
const char *fc_tok_name(fc_tok_kind_t k);

/* ---- money (flowc_money.c) ---- */

/* Decimal places of an ISO 4217 code (lower case), or -1 if unknown. */
int fc_currency_exponent(const char *cur);
const char *fc_currency_nearest(fc_arena_t *a, const char *cur);

/* ---- syntax tree (built by flowc_parse*.c) ---- */

typedef struct fc_name {
    const char *s; /* NULL when missing after a syntax error */
    fc_pos_t pos;
} fc_name_t;

typedef enum {
    FC_E_INT,
    FC_E_STR,
    FC_E_BOOL,
    FC_E_DUR,
    FC_E_MONEY,
    FC_E_NAME,
    FC_E_BIN,
    FC_E_UN,
    FC_E_CALL
} fc_ekind_t;

typedef struct fc_expr {
    fc_ekind_t kind;
    fc_pos_t pos;
    int64_t i;                 /* INT, BOOL, DUR (us), MONEY (minor units) */
    const char *s;             /* STR value, NAME, CALL function, MONEY currency */
    int op;                    /* Settle__V1__Op for BIN and UN */
    struct fc_expr *lhs, *rhs; /* BIN; UN uses lhs */
    fc_vec_t args;             /* CALL: fc_expr_t* */
} fc_expr_t;

typedef struct fc_arg {
    fc_name_t name;
    fc_expr_t *value;
} fc_arg_t;

typedef struct fc_save {
    fc_name_t var;
    fc_name_t field; /* dotted path */
} fc_save_t;

typedef enum { FC_ON_OUTCOME, FC_ON_SIGNAL, FC_ON_WAKE, FC_ON_TIMEOUT } fc_on_kind_t;

typedef struct fc_arm {
    fc_on_kind_t kind;
    fc_pos_t pos;   /* the `on` keyword */
    fc_name_t name; /* outcome or signal */
    bool has_codes; /* `(code, ...)` given */
    fc_vec_t codes; /* fc_name_t* */
    fc_name_t target;
    fc_vec_t saves; /* fc_save_t* */
} fc_arm_t;

typedef struct fc_set {
    fc_name_t var;
    fc_expr_t *value;
} fc_set_t;

typedef struct fc_guard {
    fc_expr_t *cond;
    fc_name_t target;
} fc_guard_t;

typedef enum { FC_ACT_NONE, FC_ACT_DO, FC_ACT_SLEEP, FC_ACT_AWAIT } fc_act_kind_t;
typedef enum { FC_SLEEP_FOR, FC_SLEEP_UNTIL, FC_SLEEP_SMART } fc_sleep_kind_t;
typedef enum { FC_ST_NORMAL, FC_ST_FINAL, FC_ST_FAIL } fc_st_kind_t;

/* A literal duration with its position; set == false when absent. */
typedef struct fc_dur {
    bool set;
    int64_t us;
    fc_pos_t pos;
} fc_dur_t;

typedef struct fc_state {
    fc_name_t name;
    fc_st_kind_t kind;
    const char *reason; /* fail reason */
    fc_vec_t sets;      /* fc_set_t* */
    fc_vec_t guards;    /* fc_guard_t* */
    bool has_else;
    fc_name_t else_target;
    fc_pos_t else_pos;
    fc_act_kind_t act;
    fc_pos_t act_pos;
    /* do */
    fc_name_t activity;
    fc_vec_t args;    /* fc_arg_t* */
    fc_dur_t timeout; /* the activity's per-attempt timeout, or the await's */
    bool has_retry, retry_forever;
    fc_pos_t retry_pos;
    int64_t retry_times;
    fc_dur_t backoff_min, backoff_max;
    /* sleep */
    fc_sleep_kind_t sleep_kind;
    fc_expr_t *sleep_expr; /* FOR: duration, UNTIL: time */
    fc_dur_t sleep_max;    /* `max D` */
    fc_dur_t smart_within, smart_min_gap;
    fc_vec_t arms; /* fc_arm_t* */
} fc_state_t;

typedef struct fc_decl { /* input or var */
    fc_name_t name;
    bool is_input;
    Settle__V1__Type type;
    fc_pos_t type_pos;
    fc_expr_t *init;
} fc_decl_t;

typedef struct fc_corr {
    fc_name_t key, var;
} fc_corr_t;

typedef struct fc_flow {
    fc_name_t name;
    fc_vec_t decls;  /* fc_decl_t* */
    fc_vec_t corrs;  /* fc_corr_t* */
    fc_vec_t states; /* fc_state_t* */
    bool has_cancel;
    fc_name_t cancel_target;
} fc_flow_t;

/* Parse a whole file; always returns a (possibly partial) tree. */
fc_flow_t *fc_parse(fc_arena_t *a, fc_sink_t *s, const char *src, size_t len);

/* ---- parser internals shared by flowc_parse.c and flowc_parse_expr.c ---- */

typedef struct fc_parser {
    fc_arena_t *arena;
    fc_sink_t *sink;
    fc_lexer_t lx;
    fc_token_t tok;  /* current */
    fc_token_t prev; /* last consumed */
    unsigned depth;  /* expression nesting, bounded */
} fc_parser_t;

void fc_p_advance(fc_parser_t *p);
bool fc_p_accept(fc_parser_t *p, fc_tok_kind_t k);
/* Report "expected WHAT" at the current token; returns false. */
bool fc_p_expected(fc_parser_t *p, const char *what, const char *hint);
bool fc_p_is_word(const fc_parser_t *p, const char *word);
/* Parse an expression; NULL after reporting a syntax error. */
fc_expr_t *fc_parse_expr(fc_parser_t *p);

/* ---- checks and Program building (flowc_check*.c, flowc_expr.c) ---- */

typedef struct fc_checker {
    fc_arena_t *arena;
    fc_sink_t *sink;
    const fc_flow_t *flow;
    Settle__V1__Program *prog;
    fc_decl_t **decls;  /* index = Program.vars index */
    uint32_t ndecls;    /* declared so far */
    uint32_t var_limit; /* names at or past this index are not yet visible */
    fc_map_t var_map, state_map;
    const char **var_names;   /* for suggestions */
    const char **state_names; /* for suggestions */
    const fc_state_t **states;
    uint32_t nstates;
    unsigned resolve_errors; /* unresolved names: graph checks are skipped */
} fc_checker_t;

uint32_t fc_find_var(const fc_checker_t *c, const char *name);
uint32_t fc_find_state(const fc_checker_t *c, const char *name);
/* Resolve a target state, reporting unknown names with a suggestion. */
uint32_t fc_resolve_state(fc_checker_t *c, const fc_name_t *n);
uint32_t fc_resolve_var(fc_checker_t *c, const fc_name_t *n);

/* Type-check `e` and build its Expr; NULL after reporting. */
Settle__V1__Expr *fc_expr_build(fc_checker_t *c, const fc_expr_t *e);
const char *fc_type_name(Settle__V1__Type t);
Settle__V1__SourcePos *fc_source_pos(fc_checker_t *c, fc_pos_t at);

/* Build the Program from the tree; NULL if nothing could be built. */
Settle__V1__Program *fc_check(fc_arena_t *a, fc_sink_t *s, const fc_flow_t *flow,
                              const char *source_name);
/* One state's body (flowc_check_state.c). */
void fc_check_state(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out);
/* Reachability, dead ends and spin loops over a resolved Program. */
void fc_check_graph(fc_sink_t *s, const Settle__V1__Program *p);

/* ---- results (flowc_api.c) ---- */

struct st_flowc_result {
    fc_arena_t arena;
    fc_sink_t sink;
    Settle__V1__Program *program; /* in the arena, or NULL */
};

st_flowc_result_t *fc_result_new(const char *file, const st_flowc_opts_t *opts);

#endif
