/*
 * flowc_test.c — helpers shared by the settlec Check tests (flowc_test.h).
 */
#include "flowc_test.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_test.h"

char *ft_read(const char *rel, size_t *len)
{
    char path[1024];
    st_test_src(rel, path, sizeof path);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return buf;
}

static int ft_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Called from main(), outside any test: no ck_assert here. */
char **ft_list(const char *rel_dir, const char *suffix, size_t *n)
{
    char path[1024];
    const char *root = getenv("SETTLE_SOURCE_DIR");
    *n = 0;
    if (root == NULL) {
        fprintf(stderr, "SETTLE_SOURCE_DIR is not set (CTest sets it)\n");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", root, rel_dir);
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "cannot open directory %s\n", path);
        return NULL;
    }
    size_t cap = 16, k = 0, sl = strlen(suffix);
    char **names = malloc(cap * sizeof *names);
    struct dirent *e;
    while (names != NULL && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
            continue;
        if (k == cap)
            names = realloc(names, (cap *= 2) * sizeof *names);
        if (names != NULL)
            names[k++] = strdup(e->d_name);
    }
    closedir(d);
    if (names != NULL)
        qsort(names, k, sizeof *names, ft_cmp);
    *n = names ? k : 0;
    return names;
}

char *ft_diag_text(const st_flowc_result_t *r)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (size_t i = 0; i < st_flowc_result_diag_count(r); i++) {
        const st_flowc_diag_t *d = st_flowc_result_diag(r, i);
        char *head = NULL;
        ck_assert_int_eq(st_flowc_diag_headline(d, &head, NULL), 0);
        fprintf(f, "%s\n", head);
        if (d->hint[0])
            fprintf(f, "hint: %s\n", d->hint);
        free(head);
    }
    fclose(f);
    return out;
}

st_flowc_result_t *ft_compile(const char *file, const char *src, int werror)
{
    st_flowc_opts_t o = {.werror = werror};
    st_flowc_result_t *r = NULL;
    st_err_t err;
    int rc = st_flowc_compile(file, src, strlen(src), &o, &r, &err);
    ck_assert_msg(rc == 0, "compile call failed: %s", err.msg);
    ck_assert_ptr_nonnull(r);
    return r;
}
