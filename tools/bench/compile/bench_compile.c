/*
 * bench_compile.c — how long settlec's library takes on a big flow.
 *
 * Layer: tools (an edge program: prints, exits). Generates a flow of N
 * states (default 5,000) that cycles through every state kind — activity
 * with retries and decline arms, sleep with a signal, await, decision with
 * a guard — then times compile + pack + SHA-256 over several runs and
 * prints the best and the median. Target: under 1 s for 5,000 states.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowc/st_flowc.h"

/* Append one generated state i (of n) to f. */
static void gen_state(FILE *f, int i, int n)
{
    int next = i + 1 < n ? i + 1 : -1;
    char to[32];
    if (next < 0)
        snprintf(to, sizeof to, "done");
    else
        snprintf(to, sizeof to, "s%d", next);
    switch (i % 4) {
    case 0:
        fprintf(f,
                "state s%d {\n  set n = n + %d\n"
                "  do stripe.pay_invoice(invoice: invoice)\n  timeout 30s\n"
                "  retry 3 times backoff 1s..1m\n  on succeeded -> %s save pi = id\n"
                "  on declined(expired_card, insufficient_funds) -> %s\n"
                "  on declined -> stuck\n  on requires_action -> %s\n  on failed -> stuck\n}\n",
                i, i % 7 + 1, to, to, to);
        break;
    case 1:
        fprintf(f,
                "state s%d {\n  sleep %dh\n  on signal payment_method_updated -> %s\n"
                "  on wake -> %s\n}\n",
                i, i % 48 + 1, to, to);
        break;
    case 2:
        fprintf(f,
                "state s%d {\n  await timeout 3d\n  on signal invoice.paid -> %s save pi = id\n"
                "  on timeout -> %s\n}\n",
                i, to, to);
        break;
    default:
        fprintf(f, "state s%d {\n  if n > %d and amount > 10.00 eur -> %s\n  else -> %s\n}\n", i, i,
                to, to);
    }
}

static char *gen_flow(int n, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (f == NULL)
        return NULL;
    fputs("flow big\n\ninput invoice: string\ninput amount: money\nvar n: int = 0\n"
          "var pi: string\ncorrelate invoice = invoice\n\n",
          f);
    for (int i = 0; i < n; i++)
        gen_state(f, i, n);
    fputs("final done\nfail stuck \"operator\"\n", f);
    fclose(f);
    return buf;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One timed compile + pack + hash; returns milliseconds, or -1 on failure. */
static double run_once(const char *src, size_t len, char hex[65])
{
    double t0 = now_ms();
    st_flowc_result_t *r = NULL;
    st_err_t err;
    if (st_flowc_compile("big.flow", src, len, NULL, &r, &err) != 0)
        return -1;
    const Settle__V1__Program *p = st_flowc_result_program(r);
    uint8_t *bytes = NULL;
    size_t blen = 0;
    int ok = p != NULL && st_flowc_program_pack(p, &bytes, &blen, &err) == 0 &&
             st_flowc_hash_hex(bytes, blen, hex, &err) == 0;
    double t1 = now_ms();
    if (!ok && st_flowc_result_diag_count(r) > 0)
        fprintf(stderr, "bench_compile: generated flow has errors: %s\n",
                st_flowc_result_diag(r, 0)->message);
    free(bytes);
    st_flowc_result_free(r);
    return ok ? t1 - t0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5000;
    int runs = argc > 2 ? atoi(argv[2]) : 7;
    if (n < 1 || runs < 1 || runs > 1000) {
        fprintf(stderr, "usage: bench_compile [STATES] [RUNS]\n");
        return 2;
    }
    size_t len = 0;
    char *src = gen_flow(n, &len);
    double *ms = calloc((size_t)runs, sizeof *ms);
    char hex[65] = "";
    if (src == NULL || ms == NULL)
        return 2;
    for (int i = 0; i < runs; i++)
        if ((ms[i] = run_once(src, len, hex)) < 0)
            return 1;
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    printf("bench_compile: %d states, %zu bytes of source, %d runs\n", n, len, runs);
    printf("compile+pack+hash: best %.1f ms, median %.1f ms (target < 1000 ms)\n", ms[0],
           ms[runs / 2]);
    printf("program hash: %s\n", hex);
    int rc = ms[0] < 1000.0 ? 0 : 1;
    free(ms);
    free(src);
    return rc;
}
