/*
 * test_http_openapi.c — the routes the server answers and
 * engine/http/openapi.json agree: every route in the table is an
 * operation of the document and every operation is a route; the served
 * /openapi.json is the file in the repository byte for byte; each
 * documented operation reaches its handler on a live server (no 404/405
 * from the router).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "http/st_http_int.h"
#include "http_fixture.h"

static json_t *load_doc(void)
{
    char path[1024];
    json_error_t jerr;
    json_t *doc =
        json_load_file(st_test_src("engine/http/openapi.json", path, sizeof path), 0, &jerr);
    ck_assert_msg(doc != NULL, "openapi.json: %s", jerr.text);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    return doc;
}

static void lower(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

START_TEST(routes_and_document_agree)
{
    json_t *doc = load_doc();
    json_t *paths = json_object_get(doc, "paths");
    size_t n;
    const st_http_route_t *routes = st_http_routes(&n);
    size_t documented = 0;
    for (size_t i = 0; i < n; i++) {
        if (!routes[i].documented)
            continue;
        documented++;
        char m[16];
        lower(routes[i].method, m, sizeof m);
        json_t *op = json_object_get(json_object_get(paths, routes[i].pattern), m);
        ck_assert_msg(op != NULL, "route %s %s is not in openapi.json", routes[i].method,
                      routes[i].pattern);
        /* Routes that need a token say so; the others declare no security. */
        json_t *sec = json_object_get(op, "security");
        ck_assert_msg(json_is_array(sec) && (json_array_size(sec) > 0) == (routes[i].need != 0),
                      "security of %s %s disagrees", routes[i].method, routes[i].pattern);
    }
    size_t ops = 0;
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op)
        {
            ops++;
            int found = 0;
            for (size_t i = 0; i < n && !found; i++)
                found = routes[i].documented && strcmp(routes[i].pattern, path) == 0 &&
                        strcasecmp(routes[i].method, method) == 0;
            ck_assert_msg(found, "openapi.json has %s %s, which the server does not serve", method,
                          path);
        }
    }
    ck_assert_uint_eq(ops, documented);
    json_decref(doc);
}
END_TEST

START_TEST(served_document_is_the_repository_file)
{
    char path[1024];
    FILE *fp = fopen(st_test_src("engine/http/openapi.json", path, sizeof path), "rb");
    ck_assert_ptr_nonnull(fp);
    static char want[256 * 1024];
    size_t wl = fread(want, 1, sizeof want - 1, fp);
    fclose(fp);
    want[wl] = '\0';
    fx_t f;
    fx_open(&f, 1);
    fx_resp_t r;
    fx_request(&f, "GET", "/openapi.json", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, wl);
    ck_assert(memcmp(r.body, want, wl) == 0);
    fx_resp_free(&r);
    /* Every documented operation reaches its handler (the router does not
     * answer 404 "no route" or 405 for it). */
    json_t *doc = load_doc();
    const char *p;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), p, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op)
        {
            char url[256], m[16];
            snprintf(url, sizeof url, "%s", p);
            char *brace = strstr(url, "{id}");
            if (brace != NULL)
                snprintf(brace, sizeof url - (size_t)(brace - url), "%s%s",
                         "0190f0f0-0000-7000-8000-000000000000", strstr(p, "{id}") + 4);
            snprintf(m, sizeof m, "%s", method);
            for (char *c = m; *c; c++)
                *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
            fx_api(&f, m, url, FX_TOKEN_WRITE, strcmp(m, "POST") == 0 ? "{}" : NULL, &r);
            ck_assert_msg(r.status != 405 && strstr(r.body, "no route") == NULL, "%s %s: %ld %s", m,
                          url, r.status, r.body);
            fx_resp_free(&r);
        }
    }
    json_decref(doc);
    fx_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_openapi");
    TCase *tc = tcase_create("openapi");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, routes_and_document_agree);
    tcase_add_test(tc, served_document_is_the_repository_file);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
