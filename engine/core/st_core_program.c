/*
 * st_core_program.c — load a Program: decode, hash, validate, index by name.
 *
 * Layer: core, pure (no I/O, no clock, no globals). Dependencies: libc,
 * protobuf-c, OpenSSL EVP (SHA-256 of the bytes, the Program's identity).
 *
 * Invariants: a loaded program is immutable and fully validated (see
 * st_core_validate.c); state and variable names are unique, and the sorted
 * name tables answer lookups in O(log n).
 */
#include "st_core_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/st_hex.h"

static int hash_bytes(const void *bytes, size_t len, char hex[ST_CORE_HASH_HEX], st_err_t *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(bytes, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return st_err_set(err, ST_INTERNAL, "SHA-256 of the program failed");
    st_hex_encode(md, n, hex);
    return 0;
}

static int cmp_state(const void *a, const void *b, void *ctx)
{
    const pb_program_t *pb = ctx;
    return strcmp(pb->states[*(const uint32_t *)a]->name, pb->states[*(const uint32_t *)b]->name);
}

static int cmp_var(const void *a, const void *b, void *ctx)
{
    const pb_program_t *pb = ctx;
    return strcmp(pb->vars[*(const uint32_t *)a]->name, pb->vars[*(const uint32_t *)b]->name);
}

static int build_index(st_core_program_t *p, st_err_t *err)
{
    pb_program_t *pb = p->pb;
    p->state_by_name = calloc(pb->n_states + 1, sizeof *p->state_by_name);
    p->var_by_name = calloc(pb->n_vars + 1, sizeof *p->var_by_name);
    if (p->state_by_name == NULL || p->var_by_name == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory indexing the program");
    for (uint32_t i = 0; i < pb->n_states; i++)
        p->state_by_name[i] = i;
    for (uint32_t i = 0; i < pb->n_vars; i++)
        p->var_by_name[i] = i;
    qsort_r(p->state_by_name, pb->n_states, sizeof(uint32_t), cmp_state, pb);
    qsort_r(p->var_by_name, pb->n_vars, sizeof(uint32_t), cmp_var, pb);
    for (size_t i = 1; i < pb->n_states; i++)
        if (cmp_state(&p->state_by_name[i - 1], &p->state_by_name[i], pb) == 0)
            return st_err_set(err, ST_CHECK, "invalid program %s: duplicate state name %s",
                              pb->name, pb->states[p->state_by_name[i]]->name);
    for (size_t i = 1; i < pb->n_vars; i++)
        if (cmp_var(&p->var_by_name[i - 1], &p->var_by_name[i], pb) == 0)
            return st_err_set(err, ST_CHECK, "invalid program %s: duplicate variable name %s",
                              pb->name, pb->vars[p->var_by_name[i]]->name);
    return 0;
}

/* Per-state signal lists, so the store can ask "does it wait for X?". */
static int build_signals(st_core_program_t *p, st_err_t *err)
{
    pb_program_t *pb = p->pb;
    p->states = calloc(pb->n_states, sizeof *p->states);
    if (p->states == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory indexing the program");
    for (size_t i = 0; i < pb->n_states; i++) {
        const pb_state_t *s = pb->states[i];
        st_core_state_info_t *info = &p->states[i];
        if (s->kind == SETTLE__V1__STATE_KIND__STATE_KIND_AWAIT) {
            info->signals = (const char **)s->await->signals;
            info->n_signals = s->await->n_signals;
        } else if (s->kind == SETTLE__V1__STATE_KIND__STATE_KIND_SLEEP && s->n_signals > 0) {
            info->signals = calloc(s->n_signals, sizeof *info->signals);
            if (info->signals == NULL)
                return st_err_set(err, ST_NOMEM, "out of memory indexing the program");
            for (size_t j = 0; j < s->n_signals; j++)
                info->signals[j] = s->signals[j]->signal;
            info->n_signals = s->n_signals;
        }
    }
    return 0;
}

int st_core_program_load(const void *bytes, size_t len, st_core_program_t **out, st_err_t *err)
{
    st_core_program_t *p;
    int rc;
    *out = NULL;
    if (bytes == NULL && len > 0)
        return st_err_set(err, ST_INVAL, "program bytes missing");
    p = calloc(1, sizeof *p);
    if (p == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory loading a program");
    p->pb = settle__v1__program__unpack(NULL, len, bytes);
    if (p->pb == NULL) {
        free(p);
        st_err_set(err, ST_PARSE, "program bytes are not a settle.v1.Program (%zu bytes)", len);
        st_err_hint(err, "the stored program may be corrupt; redeploy it with settlec");
        return ST_PARSE;
    }
    rc = hash_bytes(bytes, len, p->hash, err);
    if (rc == 0)
        rc = st_core_validate(p, err);
    if (rc == 0)
        rc = build_index(p, err);
    if (rc == 0)
        rc = build_signals(p, err);
    if (rc < 0) {
        st_core_program_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void st_core_program_free(st_core_program_t *p)
{
    if (p == NULL)
        return;
    if (p->states != NULL)
        for (size_t i = 0; i < p->pb->n_states; i++)
            if (p->pb->states[i]->kind == SETTLE__V1__STATE_KIND__STATE_KIND_SLEEP)
                free(p->states[i].signals);
    free(p->states);
    free(p->state_by_name);
    free(p->var_by_name);
    settle__v1__program__free_unpacked(p->pb, NULL);
    free(p);
}

const char *st_core_program_name(const st_core_program_t *p)
{
    return p->pb->name;
}

const char *st_core_program_hash(const st_core_program_t *p)
{
    return p->hash;
}

size_t st_core_program_state_count(const st_core_program_t *p)
{
    return p->pb->n_states;
}

size_t st_core_program_var_count(const st_core_program_t *p)
{
    return p->pb->n_vars;
}

size_t st_core_program_input_count(const st_core_program_t *p)
{
    return p->n_inputs;
}

/* Binary search in a name-sorted index table. */
static int find(const uint32_t *idx, size_t n, const char *name,
                const char *(*name_of)(const st_core_program_t *, uint32_t),
                const st_core_program_t *p)
{
    size_t lo = 0, hi = n;
    if (name == NULL)
        return -1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name_of(p, idx[mid]), name);
        if (c == 0)
            return (int)idx[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int st_core_program_state_index(const st_core_program_t *p, const char *name)
{
    return find(p->state_by_name, p->pb->n_states, name, st_core_program_state_name, p);
}

int st_core_program_var_index(const st_core_program_t *p, const char *name)
{
    return find(p->var_by_name, p->pb->n_vars, name, st_core_program_var_name, p);
}

const char *st_core_program_state_name(const st_core_program_t *p, uint32_t state)
{
    return state < p->pb->n_states ? p->pb->states[state]->name : NULL;
}

st_core_kind_t st_core_program_state_kind(const st_core_program_t *p, uint32_t state)
{
    return state < p->pb->n_states ? (st_core_kind_t)p->pb->states[state]->kind : 0;
}

const char *st_core_program_var_name(const st_core_program_t *p, uint32_t var)
{
    return var < p->pb->n_vars ? p->pb->vars[var]->name : NULL;
}

st_core_type_t st_core_program_var_type(const st_core_program_t *p, uint32_t var)
{
    return var < p->pb->n_vars ? (st_core_type_t)p->pb->vars[var]->type : ST_CORE_T_NONE;
}

size_t st_core_program_state_signals(const st_core_program_t *p, uint32_t state,
                                     const char *const **names)
{
    if (state >= p->pb->n_states) {
        *names = NULL;
        return 0;
    }
    *names = p->states[state].signals;
    return p->states[state].n_signals;
}

const char *st_core_kind_name(st_core_kind_t k)
{
    switch (k) {
    case ST_CORE_KIND_DO:
        return "do";
    case ST_CORE_KIND_SLEEP:
        return "sleep";
    case ST_CORE_KIND_AWAIT:
        return "await";
    case ST_CORE_KIND_DECIDE:
        return "decide";
    case ST_CORE_KIND_FINAL:
        return "final";
    case ST_CORE_KIND_FAIL:
        return "fail";
    }
    return "unknown";
}

uint32_t st_core_program_retry(const st_core_program_t *p, uint32_t state, int64_t *backoff_min_us,
                               int64_t *backoff_max_us)
{
    const Settle__V1__Activity *a = NULL;
    *backoff_min_us = 0;
    *backoff_max_us = 0;
    if (state < p->pb->n_states)
        a = p->pb->states[state]->activity;
    if (a == NULL)
        return 0;
    if (a->retry == NULL)
        return 1;
    *backoff_min_us = a->retry->backoff_min_us;
    *backoff_max_us = a->retry->backoff_max_us;
    return a->retry->max_attempts;
}

size_t st_core_program_correlation_count(const st_core_program_t *p)
{
    return p->pb->n_correlations;
}

const char *st_core_program_correlation(const st_core_program_t *p, size_t i, uint32_t *var)
{
    if (i >= p->pb->n_correlations)
        return NULL;
    *var = p->pb->correlations[i]->var;
    return p->pb->correlations[i]->key;
}
