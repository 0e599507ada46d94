/*
 * flowc_api.c — the public compile driver, results, packing and hashing.
 *
 * Layer: engine/flowc (public through st_flowc.h); uses OpenSSL EVP for
 * SHA-256.
 * Invariants: one arena per result holds the tree, the Program and every
 * diagnostic string; a Program is exposed only when the compile produced
 * no error; packing uses protobuf-c, which writes fields in field-number
 * order, and the Program has no maps, so equal Programs give equal bytes.
 */
#include "flowc/flowc_int.h"
#include "flowc/flowc_valid.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_hex.h"

#define FC_DEFAULT_MAX_DIAGS 100

st_flowc_result_t *fc_result_new(const char *file, const st_flowc_opts_t *opts)
{
    st_flowc_result_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->sink.arena = &r->arena;
    r->sink.file = fc_strdup(&r->arena, file ? file : "<input>");
    r->sink.max = opts && opts->max_diags ? opts->max_diags : FC_DEFAULT_MAX_DIAGS;
    r->sink.werror = opts && opts->werror;
    if (r->sink.file == NULL) {
        st_flowc_result_free(r);
        return NULL;
    }
    return r;
}

void st_flowc_result_free(st_flowc_result_t *r)
{
    if (r == NULL)
        return;
    free(r->sink.diags);
    fc_arena_release(&r->arena);
    free(r);
}

static const char *fc_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int st_flowc_compile(const char *file, const char *src, size_t len, const st_flowc_opts_t *opts,
                     st_flowc_result_t **out, st_err_t *err)
{
    if (out == NULL || (src == NULL && len > 0))
        return st_err_set(err, ST_INVAL, "st_flowc_compile: NULL argument");
    *out = NULL;
    st_flowc_result_t *r = fc_result_new(file, opts);
    if (r == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory compiling %s", file ? file : "flow");
    fc_flow_t *flow = fc_parse(&r->arena, &r->sink, src ? src : "", len);
    Settle__V1__Program *p = NULL;
    /* Checking a tree with holes would only echo the syntax errors. */
    if (flow != NULL && r->sink.errors == 0)
        p = fc_check(&r->arena, &r->sink, flow, fc_basename(r->sink.file));
    if (r->arena.failed || r->sink.oom) {
        st_flowc_result_free(r);
        return st_err_set(err, ST_NOMEM, "out of memory compiling %s", file ? file : "flow");
    }
    r->program = r->sink.errors == 0 ? p : NULL;
    *out = r;
    return 0;
}

size_t st_flowc_result_diag_count(const st_flowc_result_t *r)
{
    return r ? r->sink.n : 0;
}

const st_flowc_diag_t *st_flowc_result_diag(const st_flowc_result_t *r, size_t i)
{
    return r && i < r->sink.n ? &r->sink.diags[i] : NULL;
}

unsigned st_flowc_result_errors(const st_flowc_result_t *r)
{
    return r ? r->sink.errors : 0;
}

unsigned st_flowc_result_warnings(const st_flowc_result_t *r)
{
    return r ? r->sink.warnings : 0;
}

const Settle__V1__Program *st_flowc_result_program(const st_flowc_result_t *r)
{
    return r ? r->program : NULL;
}

int st_flowc_program_pack(const Settle__V1__Program *p, uint8_t **out, size_t *out_len,
                          st_err_t *err)
{
    if (p == NULL || out == NULL || out_len == NULL)
        return st_err_set(err, ST_INVAL, "st_flowc_program_pack: NULL argument");
    size_t n = settle__v1__program__get_packed_size(p);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return st_err_set(err, ST_NOMEM, "cannot allocate %zu bytes for the Program", n);
    size_t w = settle__v1__program__pack(p, buf);
    if (w != n) {
        free(buf);
        return st_err_set(err, ST_INTERNAL, "Program packed to %zu bytes, expected %zu", w, n);
    }
    *out = buf;
    *out_len = n;
    return 0;
}

int st_flowc_hash_hex(const uint8_t *bytes, size_t len, char hex[65], st_err_t *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if ((bytes == NULL && len > 0) || hex == NULL)
        return st_err_set(err, ST_INVAL, "st_flowc_hash_hex: NULL argument");
    if (EVP_Digest(bytes ? bytes : (const uint8_t *)"", len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32)
        return st_err_set(err, ST_INTERNAL, "SHA-256 failed");
    st_hex_encode(md, mdlen, hex);
    return 0;
}

int st_flowc_program_hash(const Settle__V1__Program *p, char hex[65], st_err_t *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = st_flowc_program_pack(p, &bytes, &len, err);
    if (rc == 0)
        rc = st_flowc_hash_hex(bytes, len, hex, err);
    free(bytes);
    return rc;
}

int st_flowc_program_unpack(const uint8_t *bytes, size_t len, Settle__V1__Program **out,
                            st_err_t *err)
{
    if (out == NULL || (bytes == NULL && len > 0))
        return st_err_set(err, ST_INVAL, "st_flowc_program_unpack: NULL argument");
    *out = settle__v1__program__unpack(NULL, len, bytes ? bytes : (const uint8_t *)"");
    if (*out == NULL)
        return st_err_set(err, ST_PARSE, "not a serialized settle Program (%zu bytes)", len);
    int rc = fc_program_validate(*out, err);
    if (rc < 0) {
        st_flowc_program_free(*out);
        *out = NULL;
    }
    return rc;
}

void st_flowc_program_free(Settle__V1__Program *p)
{
    if (p != NULL)
        settle__v1__program__free_unpacked(p, NULL);
}
