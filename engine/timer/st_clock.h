/*
 * st_clock.h — the clock the engine reads time through: real or virtual.
 *
 * Layer: engine/timer. Depends on libc and common/st_err.h only.
 *
 * Time is int64_t microseconds. `now` is wall time since the Unix epoch
 * (what wake_at columns store); `mono` is for measuring intervals.
 *   - real: now = CLOCK_REALTIME, mono = CLOCK_MONOTONIC;
 *   - virtual: both hold a value that moves only when st_clock_advance or
 *     st_clock_set is called, never backwards; mono moves with now.
 * `settled --clock virtual` selects the virtual clock; real is the default.
 *
 * Ownership: st_clock_t is a plain value the caller embeds; it owns
 * nothing and needs no release. Not thread-safe (one per loop).
 */
#ifndef ST_CLOCK_H
#define ST_CLOCK_H

#include <stdint.h>

#include "common/st_err.h"

typedef enum {
    ST_CLOCK_REAL = 0, /* the operating system's clocks (default) */
    ST_CLOCK_VIRTUAL,  /* moves only when told */
} st_clock_kind_t;

typedef struct st_clock {
    st_clock_kind_t kind; /* real or virtual */
    int64_t virt_now_us;  /* virtual wall time; unused when real */
    int64_t virt_mono_us; /* virtual monotonic time; unused when real */
} st_clock_t;

/* A real clock. */
void st_clock_init_real(st_clock_t *c);

/* A virtual clock standing at start_us (wall, µs since epoch; >= 0). */
void st_clock_init_virtual(st_clock_t *c, int64_t start_us);

/* Parse "real" or "virtual" (the --clock option). ST_INVAL otherwise. */
int st_clock_parse_kind(const char *s, st_clock_kind_t *out, st_err_t *err);

/* Name of a kind: "real" or "virtual". */
const char *st_clock_kind_name(st_clock_kind_t kind);

static inline int st_clock_is_virtual(const st_clock_t *c)
{
    return c->kind == ST_CLOCK_VIRTUAL;
}

/* Wall time in µs since the Unix epoch. */
int64_t st_clock_now_us(const st_clock_t *c);

/* Monotonic time in µs (arbitrary origin) for intervals. */
int64_t st_clock_mono_us(const st_clock_t *c);

/*
 * Virtual clocks only: move forward by delta_us (>= 0) or to wall time
 * now_us (>= current). ST_STATE on a real clock, ST_INVAL when it would go
 * backwards or overflow.
 */
int st_clock_advance(st_clock_t *c, int64_t delta_us, st_err_t *err);
int st_clock_set(st_clock_t *c, int64_t now_us, st_err_t *err);

#endif
