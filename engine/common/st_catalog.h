/*
 * st_catalog.h — the activity catalog: every activity settle knows, its
 * named parameters, the outcomes it can produce and its default timeout.
 *
 * Layer: common (libc only). The one table both the compiler
 * (engine/flowc: which activities a flow may `do`, which args and arms it
 * must give) and the runtime (engine/activity: which driver runs a name,
 * which outcomes it may report) read, so the two cannot drift apart.
 *
 * Invariants: names are unique; `failed` is in every outcome list and means
 * permanent failure after transient retries are spent; `declined` is the
 * only outcome that carries a decline code. An entry with in_language == 0
 * has a runtime driver but no form in the flow language yet (its arguments
 * need JSON objects the language cannot write). To add an activity: add a
 * row here, a driver in engine/activity/st_act_registry.c, and document it
 * in docs/activities.md and docs/flow-language.md.
 */
#ifndef ST_CATALOG_H
#define ST_CATALOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ST_CATALOG_INT = 1,
    ST_CATALOG_STRING,
    ST_CATALOG_BOOL,
    ST_CATALOG_MONEY,
} st_catalog_type_t;

typedef struct st_catalog_param {
    const char *name; /* NULL ends a list */
    st_catalog_type_t type;
    int required;
} st_catalog_param_t;

typedef struct st_catalog_activity {
    const char *name;                 /* "stripe.pay_invoice" */
    const char *const *outcomes;      /* NULL-terminated */
    const st_catalog_param_t *params; /* terminated by a NULL name */
    int open_params;                  /* extra named args allowed (email vars) */
    int64_t default_timeout_us;       /* used when the flow gives none */
    int in_language;                  /* a flow may `do` it */
} st_catalog_activity_t;

/* The entry named `name`, or NULL. Entries are static. */
const st_catalog_activity_t *st_catalog_find(const char *name);
/* Entry i in table order, or NULL past the end. */
const st_catalog_activity_t *st_catalog_at(size_t i);
size_t st_catalog_count(void);
/* 1 when `outcome` is one of a's outcomes. */
int st_catalog_has_outcome(const st_catalog_activity_t *a, const char *outcome);
/* Whether `outcome` carries a decline code ("declined"). */
int st_catalog_outcome_has_codes(const char *outcome);

#endif
