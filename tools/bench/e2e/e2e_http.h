/*
 * e2e_http.h — the end-to-end benchmark's HTTP: a keep-alive client pool
 * that sends a numbered series of requests.
 *
 * Benchmark code, built to cost little CPU next to the engine it measures:
 * raw non-blocking sockets on one epoll set, answers parsed only for the
 * status line, Content-Length and the body.
 *
 * Invariants: every request is answered exactly once from the caller's view:
 * a connection that drops re-sends its request on a new connection (the
 * requests the benchmark sends are idempotent by business key), at most
 * E2E_HTTP_RETRIES times, then the request counts as failed.
 */
#ifndef E2E_HTTP_H
#define E2E_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define E2E_HTTP_RETRIES 5

/* Write request number i (a whole HTTP/1.1 request) into buf (cap bytes);
 * return its length, 0 when it does not fit. */
typedef size_t (*e2e_http_make_fn)(size_t i, char *buf, size_t cap, void *ud);
/* Answer to request i: status (0: failed after retries), body (not NUL
 * terminated). */
typedef void (*e2e_http_answer_fn)(size_t i, int status, const char *body, size_t len, void *ud);

typedef struct e2e_http_stats {
    size_t answered, failed, resent;
    double seconds; /* first send to last answer */
} e2e_http_stats_t;

/* Send requests 0..n-1 to 127.0.0.1:port over `conns` keep-alive
 * connections, one request in flight on each; return when all are
 * answered. A request is at most req_cap bytes; answers of any size up to
 * 64 MiB are read. make(i) runs when a connection is free for request i,
 * so a caller may pace requests by blocking in it. 0, or -1 with a message
 * on stderr when no connection could be made at all. */
int e2e_http_run(int port, unsigned conns, size_t n, size_t req_cap, e2e_http_make_fn make,
                 e2e_http_answer_fn answer, void *ud, e2e_http_stats_t *st);

/* One GET; the status, or 0 when nothing answered. */
int e2e_http_get_status(int port, const char *path);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int e2e_free_port(void);
int64_t e2e_wall_us(void);
double e2e_mono_s(void);

#endif
