/*
 * fuzz_flow_parser.c — libFuzzer target for the flow compiler.
 *
 * Layer: tests. Feeds arbitrary bytes through the whole public pipeline:
 * compile (lexer, parser, checker, graph checks), render every diagnostic
 * with its caret, and for flows that compile, pack, hash, decode, and emit
 * JSON and DOT. The bytes are also decoded as a serialized Program, which
 * must be rejected or validated without crashing, and as a migration map
 * between two fixed Programs. Any crash, leak or UB
 * report is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowc/st_flowc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_outputs(const Settle__V1__Program *p)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    char hex[65], *text = NULL;
    if (st_flowc_program_pack(p, &bytes, &len, NULL) != 0)
        abort();
    if (st_flowc_hash_hex(bytes, len, hex, NULL) != 0)
        abort();
    Settle__V1__Program *back = NULL;
    if (st_flowc_program_unpack(bytes, len, &back, NULL) != 0)
        abort(); /* the compiler produced something its own validator rejects */
    st_flowc_program_free(back);
    if (st_flowc_program_to_json(p, &text, NULL) != 0)
        abort();
    free(text);
    if (st_flowc_program_to_dot(p, &text, NULL) != 0)
        abort();
    free(text);
    free(bytes);
}

static void fuzz_as_program(const uint8_t *data, size_t size)
{
    Settle__V1__Program *p = NULL;
    char *text = NULL;
    if (st_flowc_program_unpack(data, size, &p, NULL) != 0)
        return;
    if (st_flowc_program_to_json(p, &text, NULL) == 0)
        free(text);
    if (st_flowc_program_to_dot(p, &text, NULL) == 0)
        free(text);
    st_flowc_program_free(p);
}

/* The bytes as a migration map between two fixed Programs. */
static void fuzz_as_map(const uint8_t *data, size_t size)
{
    static const char v1[] = "flow m\ninput who: string\nstate ask {\n"
                             "  do email.send(to: who, template: \"a\")\n"
                             "  on sent -> rest\n  on failed -> rest\n}\n"
                             "state rest {\n  sleep 1d\n  on wake -> done\n}\nfinal done\n";
    static const char v2[] = "flow m\ninput who: string\nstate rest {\n  await timeout 1d\n"
                             "  on signal go -> done\n  on timeout -> done\n}\nfinal done\n";
    /* Compiled once: the inputs are fixed, and compiling them for every
     * input cost most of the target's time. Kept until exit (static). */
    static st_flowc_result_t *a, *b;
    st_flowc_result_t *r = NULL;
    if (a == NULL && (st_flowc_compile("v1.flow", v1, sizeof v1 - 1, NULL, &a, NULL) != 0 ||
                      st_flowc_compile("v2.flow", v2, sizeof v2 - 1, NULL, &b, NULL) != 0 ||
                      st_flowc_result_program(a) == NULL || st_flowc_result_program(b) == NULL))
        abort();
    if (st_flowc_migrate_check(st_flowc_result_program(a), st_flowc_result_program(b), "m.map",
                               (const char *)data, size, &r, NULL) == 0) {
        for (size_t i = 0; i < st_flowc_result_diag_count(r); i++) {
            char *text = NULL;
            if (st_flowc_diag_render(st_flowc_result_diag(r, i), (const char *)data, size, &text,
                                     NULL) == 0)
                free(text);
        }
    }
    st_flowc_result_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *src = (const char *)data;
    st_flowc_result_t *r = NULL;
    if (st_flowc_compile("fuzz.flow", src, size, NULL, &r, NULL) != 0)
        return 0;
    for (size_t i = 0; i < st_flowc_result_diag_count(r); i++) {
        char *text = NULL;
        if (st_flowc_diag_render(st_flowc_result_diag(r, i), src, size, &text, NULL) == 0)
            free(text);
    }
    if (st_flowc_result_program(r) != NULL)
        fuzz_outputs(st_flowc_result_program(r));
    st_flowc_result_free(r);
    fuzz_as_program(data, size);
    fuzz_as_map(data, size);
    return 0;
}
