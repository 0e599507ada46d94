/*
 * st_http_auth.c — bearer-token authentication and the read/write roles.
 *
 * Layer: http (internal). Depends on OpenSSL (SHA-256, CRYPTO_memcmp) and
 * st_http_int.h.
 *
 * Invariants: the server keeps only SHA-256 digests of the tokens; a
 * presented token is hashed and compared with every configured digest in
 * constant time, without stopping at the first match, so neither the
 * length nor the position of a token leaks through timing; no token text
 * is ever written to a response or a log.
 */
#include "http/st_http_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

int st_http_auth_init(st_http_server_t *s, const st_http_token_t *tokens, unsigned n, st_err_t *err)
{
    if (n == 0)
        return 0;
    s->token_hash = calloc(n, sizeof *s->token_hash);
    s->token_role = calloc(n, sizeof *s->token_role);
    if (s->token_hash == NULL || s->token_role == NULL)
        return st_err_set(err, ST_NOMEM, "no memory for API tokens");
    for (unsigned i = 0; i < n; i++) {
        if (tokens[i].token == NULL || tokens[i].token[0] == '\0')
            return st_err_set(err, ST_INVAL, "API token %u is empty", i + 1);
        if (tokens[i].role != ST_HTTP_ROLE_READ && tokens[i].role != ST_HTTP_ROLE_WRITE)
            return st_err_set(err, ST_INVAL, "API token %u has no valid role", i + 1);
        SHA256((const unsigned char *)tokens[i].token, strlen(tokens[i].token), s->token_hash[i]);
        s->token_role[i] = tokens[i].role;
    }
    s->n_tokens = n;
    return 0;
}

/* The role of the presented token, or 0 when none matches. */
static int token_role(const st_http_server_t *s, const char *token)
{
    unsigned char h[32];
    SHA256((const unsigned char *)token, strlen(token), h);
    int role = 0;
    for (unsigned i = 0; i < s->n_tokens; i++) {
        int same = CRYPTO_memcmp(h, s->token_hash[i], sizeof h) == 0;
        /* Branch-free select: keep the strongest matching role. */
        int r = same * (int)s->token_role[i];
        role = r > role ? r : role;
    }
    return role;
}

int st_http_auth_header(const st_http_server_t *s, const char *h, int need, const char *method,
                        const char *path, st_http_resp_t *resp)
{
    if (s->n_tokens == 0) {
        resp->www_auth = 1;
        st_http_resp_error(resp, 401, "unauthorized",
                           "the operator must configure SETTLE_API_TOKENS (or "
                           "SETTLE_API_TOKENS_FILE) on settled",
                           "no API tokens are configured on this server");
        return ST_AUTH;
    }
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        resp->www_auth = 1;
        st_http_resp_error(resp, 401, "unauthorized",
                           "send 'Authorization: Bearer <token>' with a token from the "
                           "server's configuration",
                           h == NULL ? "the request has no Authorization header"
                                     : "the Authorization header is not a bearer token");
        return ST_AUTH;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    int role = token_role(s, tok);
    if (role == 0) {
        resp->www_auth = 1;
        st_http_resp_error(resp, 401, "unauthorized",
                           "check the token: it must be one of the server's configured tokens",
                           "the bearer token is not valid");
        return ST_AUTH;
    }
    if (role < need) {
        st_http_resp_error(resp, 403, "forbidden",
                           "use a token with the write role for this request",
                           "this token may only read; %s %s changes data", method, path);
        return ST_AUTH;
    }
    return 0;
}

int st_http_auth_check(st_http_req_t *req, int need, st_http_resp_t *resp)
{
    return st_http_auth_header(req->srv, st_http_req_header(req, "Authorization"), need,
                               req->method, req->path, resp);
}
