/*
 * st_clock.c — real and virtual clocks (see st_clock.h).
 *
 * Layer: engine/timer. Depends on libc (clock_gettime) and common/st_err.h.
 * The only file in the timer module that reads the operating system's
 * clocks; everything else takes time from a st_clock_t or from its caller.
 */
#include "timer/st_clock.h"

#include <string.h>
#include <time.h>

static int64_t read_os_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void st_clock_init_real(st_clock_t *c)
{
    memset(c, 0, sizeof *c);
    c->kind = ST_CLOCK_REAL;
}

void st_clock_init_virtual(st_clock_t *c, int64_t start_us)
{
    memset(c, 0, sizeof *c);
    c->kind = ST_CLOCK_VIRTUAL;
    c->virt_now_us = start_us < 0 ? 0 : start_us;
}

int st_clock_parse_kind(const char *s, st_clock_kind_t *out, st_err_t *err)
{
    if (s && strcmp(s, "real") == 0) {
        *out = ST_CLOCK_REAL;
        return 0;
    }
    if (s && strcmp(s, "virtual") == 0) {
        *out = ST_CLOCK_VIRTUAL;
        return 0;
    }
    int rc = st_err_set(err, ST_INVAL, "unknown clock '%s'", s ? s : "(null)");
    st_err_hint(err, "use --clock real or --clock virtual");
    return rc;
}

const char *st_clock_kind_name(st_clock_kind_t kind)
{
    return kind == ST_CLOCK_VIRTUAL ? "virtual" : "real";
}

int64_t st_clock_now_us(const st_clock_t *c)
{
    if (c->kind == ST_CLOCK_VIRTUAL)
        return c->virt_now_us;
    return read_os_clock(CLOCK_REALTIME);
}

int64_t st_clock_mono_us(const st_clock_t *c)
{
    if (c->kind == ST_CLOCK_VIRTUAL)
        return c->virt_mono_us;
    return read_os_clock(CLOCK_MONOTONIC);
}

int st_clock_advance(st_clock_t *c, int64_t delta_us, st_err_t *err)
{
    if (c->kind != ST_CLOCK_VIRTUAL)
        return st_err_set(err, ST_STATE, "the real clock cannot be advanced");
    if (delta_us < 0)
        return st_err_set(err, ST_INVAL, "a clock cannot move backwards (delta %lld µs)",
                          (long long)delta_us);
    if (delta_us > INT64_MAX - c->virt_now_us || delta_us > INT64_MAX - c->virt_mono_us)
        return st_err_set(err, ST_INVAL, "clock advance of %lld µs overflows", (long long)delta_us);
    c->virt_now_us += delta_us;
    c->virt_mono_us += delta_us;
    return 0;
}

int st_clock_set(st_clock_t *c, int64_t now_us, st_err_t *err)
{
    if (c->kind != ST_CLOCK_VIRTUAL)
        return st_err_set(err, ST_STATE, "the real clock cannot be set");
    if (now_us < c->virt_now_us)
        return st_err_set(err, ST_INVAL, "a clock cannot move backwards (%lld < %lld µs)",
                          (long long)now_us, (long long)c->virt_now_us);
    return st_clock_advance(c, now_us - c->virt_now_us, err);
}
