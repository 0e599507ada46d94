/*
 * st_http_router.c — the route table and path matching.
 *
 * Layer: http (internal). Depends on st_http_int.h only.
 *
 * The table is the single list of what the server answers: the OpenAPI
 * test walks it (every `documented` route must be in openapi.json and
 * nothing else may be), and the server dispatches through it.
 *
 * Invariants: a path matches a pattern segment by segment; "{name}"
 * matches one non-empty segment, captured in order into req->params; a
 * path that matches some pattern with another method is 405 with an Allow
 * header listing the methods that do exist; anything else is 404.
 */
#include "http/st_http_int.h"

#include <stdio.h>
#include <string.h>

static const st_http_route_t routes[] = {
    {"POST", "/webhooks/stripe", "webhooks.stripe", 0, 1, st_http_h_webhook},
    {"POST", "/v1/instances", "instances.start", ST_HTTP_ROLE_WRITE, 1, st_http_h_start},
    {"POST", "/v1/instances/batch", "instances.start_batch", ST_HTTP_ROLE_WRITE, 1,
     st_http_h_start_batch},
    {"GET", "/v1/instances", "instances.list", ST_HTTP_ROLE_READ, 1, st_http_h_list},
    {"GET", "/v1/instances/{id}", "instances.get", ST_HTTP_ROLE_READ, 1, st_http_h_get},
    {"POST", "/v1/instances/{id}/signals", "instances.signal", ST_HTTP_ROLE_WRITE, 1,
     st_http_h_signal},
    {"POST", "/v1/instances/{id}/cancel", "instances.cancel", ST_HTTP_ROLE_WRITE, 1,
     st_http_h_cancel},
    {"GET", "/metrics", "metrics", 0, 1, st_http_h_metrics},
    {"GET", "/healthz", "healthz", 0, 1, st_http_h_healthz},
    {"GET", "/readyz", "readyz", 0, 1, st_http_h_readyz},
    {"GET", "/openapi.json", "openapi", 0, 1, st_http_h_openapi},
};

const st_http_route_t *st_http_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

/* Match path against pattern; captures go to buf/params. 1 on a match. */
static int match(const char *pattern, const char *path, st_http_req_t *req)
{
    size_t used = 0;
    unsigned np = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return 0;
        pattern++;
        path++;
        const char *pe = strchr(pattern, '/');
        const char *se = strchr(path, '/');
        size_t pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
        size_t sl = se ? (size_t)(se - path) : strlen(path);
        if (pl > 0 && pattern[0] == '{') {
            if (sl == 0 || np == ST_HTTP_MAX_PARAMS || used + sl + 1 > sizeof req->param_buf)
                return 0;
            memcpy(req->param_buf + used, path, sl);
            req->param_buf[used + sl] = '\0';
            req->params[np++] = req->param_buf + used;
            used += sl + 1;
        } else if (pl != sl || memcmp(pattern, path, pl) != 0)
            return 0;
        pattern += pl;
        path += sl;
    }
    return *pattern == '\0' && *path == '\0';
}

const st_http_route_t *st_http_route_match(st_http_req_t *req, st_http_resp_t *resp)
{
    char methods[64] = "";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!match(routes[i].pattern, req->path, req))
            continue;
        if (strcmp(routes[i].method, req->method) == 0)
            return &routes[i];
        if (strstr(methods, routes[i].method) == NULL)
            snprintf(methods + strlen(methods), sizeof methods - strlen(methods), "%s%s",
                     methods[0] ? ", " : "", routes[i].method);
    }
    req->route = "unmatched";
    if (methods[0] != '\0') {
        /* resp->allow must outlive the request: pick a static spelling. */
        resp->allow = strcmp(methods, "POST") == 0        ? "POST"
                      : strcmp(methods, "GET") == 0       ? "GET"
                      : strcmp(methods, "POST, GET") == 0 ? "POST, GET"
                                                          : "GET, POST";
        st_http_resp_error(
            resp, 405, "method_not_allowed", "use one of the methods in the Allow header",
            "%s is not allowed on %.200s (allowed: %s)", req->method, req->path, methods);
        return NULL;
    }
    st_http_resp_error(resp, 404, "not_found",
                       "see GET /openapi.json for the routes this server answers",
                       "no route %s %.200s", req->method, req->path);
    return NULL;
}
