/*
 * flowc_catalog.c — the compiler's view of the activity catalog
 * (common/st_catalog.h): the activities a flow may `do`, and the language
 * type of each parameter.
 *
 * Layer: engine/flowc (public through st_flowc.h). The table itself lives
 * in engine/common so the runtime (engine/activity) reads the same rows.
 * Invariant: entries without a form in the language (in_language == 0) are
 * invisible here: find returns NULL for them and `at` skips them.
 */
#include "flowc/flowc_int.h"

#include <string.h>

const st_flowc_activity_t *st_flowc_activity_find(const char *name)
{
    const st_catalog_activity_t *a = st_catalog_find(name);
    return a != NULL && a->in_language ? a : NULL;
}

const st_flowc_activity_t *st_flowc_activity_at(size_t i)
{
    for (size_t k = 0, seen = 0; k < st_catalog_count(); k++) {
        const st_catalog_activity_t *a = st_catalog_at(k);
        if (a->in_language && seen++ == i)
            return a;
    }
    return NULL;
}

int st_flowc_outcome_has_codes(const char *outcome)
{
    return st_catalog_outcome_has_codes(outcome);
}

Settle__V1__Type st_flowc_param_type(const st_flowc_param_t *p)
{
    switch (p->type) {
    case ST_CATALOG_INT:
        return SETTLE__V1__TYPE__TYPE_INT;
    case ST_CATALOG_STRING:
        return SETTLE__V1__TYPE__TYPE_STRING;
    case ST_CATALOG_BOOL:
        return SETTLE__V1__TYPE__TYPE_BOOL;
    case ST_CATALOG_MONEY:
        return SETTLE__V1__TYPE__TYPE_MONEY;
    }
    return SETTLE__V1__TYPE__TYPE_UNSPECIFIED;
}
