/*
 * settlec.c — the settlec command: compile a .flow file, write the Program
 * as protobuf / JSON / DOT, print its hash, or check a migration map.
 *
 * Layer: tools (the edge: this file prints and exits; it uses only the
 * public st_flowc.h API).
 * Exit status: 0 success (warnings allowed unless --Werror), 1 the flow or
 * map has errors, 2 usage or I/O problems.
 */
#include "common/st_file.h"
#include "flowc/st_flowc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: settlec [--check] [--Werror] [-o OUT.pb] [--json OUT.json] [--dot OUT.dot]\n"
    "               [--hash] FILE.flow\n"
    "       settlec --migrate-check OLD NEW MAP\n"
    "\n"
    "Compile a settle flow into a Program (protobuf, identified by the SHA-256\n"
    "of its bytes).\n"
    "  --check          check only, write nothing\n"
    "  --Werror         treat warnings as errors\n"
    "  -o FILE          write the Program (protobuf)\n"
    "  --json FILE      write the Program as JSON\n"
    "  --dot FILE       write the state graph as Graphviz DOT\n"
    "  --hash           print the Program's hash (hex SHA-256) on stdout\n"
    "  --migrate-check  check a state map (lines 'OLD_STATE -> NEW_STATE') from\n"
    "                   OLD to NEW; each may be a .flow source or a .pb Program\n"
    "  --help           show this text\n"
    "Exit status: 0 ok, 1 errors in the flow or map, 2 usage or I/O error.\n";

typedef struct {
    int check, werror, hash;
    const char *out_pb, *out_json, *out_dot, *file;
    const char *mig[3];
} opts_t;

/* The file's bytes (caller frees), or NULL after saying why on stderr. */
static char *read_file(const char *path, size_t *len)
{
    char *buf = NULL;
    st_err_t err;
    if (st_file_read(path, 0, &buf, len, &err) != 0)
        fprintf(stderr, "settlec: %s\n", err.msg);
    return buf;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "settlec: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void print_diags(const st_flowc_result_t *r, const char *src, size_t len)
{
    for (size_t i = 0; i < st_flowc_result_diag_count(r); i++) {
        char *text = NULL;
        if (st_flowc_diag_render(st_flowc_result_diag(r, i), src, len, &text, NULL) == 0)
            fputs(text, stderr);
        free(text);
    }
    unsigned e = st_flowc_result_errors(r), w = st_flowc_result_warnings(r);
    if (e || w)
        fprintf(stderr, "%u error%s, %u warning%s\n", e, e == 1 ? "" : "s", w, w == 1 ? "" : "s");
}

static int fail_err(const st_err_t *err)
{
    char buf[1024];
    fprintf(stderr, "settlec: %s", st_err_format(err, buf, sizeof buf));
    return 2;
}

/* Write every requested output of a compiled Program. */
static int emit(const opts_t *o, const Settle__V1__Program *p)
{
    st_err_t err;
    uint8_t *bytes = NULL;
    size_t n = 0;
    char *text = NULL, hex[65];
    int rc = 0;
    if (st_flowc_program_pack(p, &bytes, &n, &err) < 0)
        return fail_err(&err);
    if (o->out_pb && write_file(o->out_pb, bytes, n) < 0)
        rc = 2;
    if (rc == 0 && o->hash) {
        if (st_flowc_hash_hex(bytes, n, hex, &err) < 0)
            rc = fail_err(&err);
        else
            printf("%s\n", hex);
    }
    if (rc == 0 && o->out_json) {
        if (st_flowc_program_to_json(p, &text, &err) < 0)
            rc = fail_err(&err);
        else if (write_file(o->out_json, text, strlen(text)) < 0)
            rc = 2;
        free(text);
        text = NULL;
    }
    if (rc == 0 && o->out_dot) {
        if (st_flowc_program_to_dot(p, &text, &err) < 0)
            rc = fail_err(&err);
        else if (write_file(o->out_dot, text, strlen(text)) < 0)
            rc = 2;
        free(text);
    }
    free(bytes);
    return rc;
}

static int compile_file(const opts_t *o)
{
    size_t len = 0;
    char *src = read_file(o->file, &len);
    if (src == NULL)
        return 2;
    st_flowc_opts_t fo = {.werror = o->werror};
    st_flowc_result_t *r = NULL;
    st_err_t err;
    if (st_flowc_compile(o->file, src, len, &fo, &r, &err) < 0) {
        free(src);
        return fail_err(&err);
    }
    print_diags(r, src, len);
    int rc = st_flowc_result_errors(r) ? 1 : 0;
    if (rc == 0 && !o->check)
        rc = emit(o, st_flowc_result_program(r));
    st_flowc_result_free(r);
    free(src);
    return rc;
}

/* Load OLD or NEW for --migrate-check: a .pb Program or a .flow source. */
static int load_program(const char *path, Settle__V1__Program **out)
{
    size_t len = 0, n = strlen(path);
    char *data = read_file(path, &len);
    st_err_t err;
    int rc = 0;
    if (data == NULL)
        return 2;
    if (n > 3 && strcmp(path + n - 3, ".pb") == 0) {
        if (st_flowc_program_unpack((const uint8_t *)data, len, out, &err) < 0)
            rc = fail_err(&err);
    } else {
        st_flowc_result_t *r = NULL;
        uint8_t *bytes = NULL;
        size_t blen = 0;
        if (st_flowc_compile(path, data, len, NULL, &r, &err) < 0) {
            rc = fail_err(&err);
        } else if (st_flowc_result_program(r) == NULL) {
            print_diags(r, data, len);
            rc = 1;
        } else if (st_flowc_program_pack(st_flowc_result_program(r), &bytes, &blen, &err) < 0 ||
                   st_flowc_program_unpack(bytes, blen, out, &err) < 0) {
            rc = fail_err(&err);
        }
        free(bytes);
        st_flowc_result_free(r);
    }
    free(data);
    return rc;
}

static int migrate_check(const opts_t *o)
{
    Settle__V1__Program *old_p = NULL, *new_p = NULL;
    int rc = load_program(o->mig[0], &old_p);
    if (rc == 0)
        rc = load_program(o->mig[1], &new_p);
    size_t len = 0;
    char *map = rc == 0 ? read_file(o->mig[2], &len) : NULL;
    if (rc == 0 && map == NULL)
        rc = 2;
    if (rc == 0) {
        st_flowc_result_t *r = NULL;
        st_err_t err;
        if (st_flowc_migrate_check(old_p, new_p, o->mig[2], map, len, &r, &err) < 0) {
            rc = fail_err(&err);
        } else {
            print_diags(r, map, len);
            rc = st_flowc_result_errors(r) ? 1 : 0;
        }
        st_flowc_result_free(r);
    }
    free(map);
    st_flowc_program_free(old_p);
    st_flowc_program_free(new_p);
    return rc;
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "-o") == 0       ? &o->out_pb
                            : strcmp(a, "--json") == 0 ? &o->out_json
                            : strcmp(a, "--dot") == 0  ? &o->out_dot
                                                       : NULL;
        if (slot != NULL) {
            if (++i >= argc)
                return -1;
            *slot = argv[i];
        } else if (strcmp(a, "--check") == 0) {
            o->check = 1;
        } else if (strcmp(a, "--Werror") == 0) {
            o->werror = 1;
        } else if (strcmp(a, "--hash") == 0) {
            o->hash = 1;
        } else if (strcmp(a, "--migrate-check") == 0) {
            if (i + 3 >= argc)
                return -1;
            for (int k = 0; k < 3; k++)
                o->mig[k] = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return -1;
        } else if (o->file == NULL) {
            o->file = a;
        } else {
            return -1;
        }
    }
    return (o->file != NULL) != (o->mig[0] != NULL) ? 0 : -1;
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    if (parse_args(argc, argv, &o) < 0) {
        fputs(usage, stderr);
        return 2;
    }
    return o.mig[0] ? migrate_check(&o) : compile_file(&o);
}
