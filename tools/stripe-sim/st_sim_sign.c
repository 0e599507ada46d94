/*
 * st_sim_sign.c — HMAC-SHA256 webhook signatures (see st_sim_sign.h).
 */
#include "st_sim_sign.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_hex.h"

int st_sim_sign_v1(const char *secret, int64_t t, const char *payload, size_t len, char *hex,
                   size_t cap, st_err_t *err)
{
    if (cap < 65)
        return st_err_set(err, ST_INVAL, "signature buffer too small");
    char prefix[32];
    int plen = snprintf(prefix, sizeof(prefix), "%" PRId64 ".", t);
    size_t total = (size_t)plen + len;
    unsigned char *msg = malloc(total ? total : 1);
    if (!msg)
        return st_err_set(err, ST_NOMEM, "out of memory");
    memcpy(msg, prefix, (size_t)plen);
    memcpy(msg + plen, payload, len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned char *ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, total, md, &mdlen);
    free(msg);
    if (!ok)
        return st_err_set(err, ST_INTERNAL, "HMAC-SHA256 failed");
    st_hex_encode(md, mdlen, hex);
    return 0;
}

int st_sim_sign_header(const char *secret, int64_t t, const char *payload, size_t len, char *out,
                       size_t cap, st_err_t *err)
{
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    int rc = st_sim_sign_v1(secret, t, payload, len, hex, sizeof(hex), err);
    if (rc < 0)
        return rc;
    snprintf(out, cap, "t=%" PRId64 ",v1=%s", t, hex);
    return 0;
}
