/*
 * st_sim_clock.c — sim time.
 *
 * now = start_sim + (frozen ? 0 : wall - start_wall) + offset. The offset
 * only grows (advance), so sim time never goes backwards; it is atomic so
 * the webhook thread can read it without the store mutex.
 */
#include <time.h>

#include "st_sim_int.h"

static int64_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

void st_sim_clock_init(st_sim_clock_t *c, int64_t start, int frozen)
{
    c->start_wall = wall_now();
    c->start_sim = start ? start : c->start_wall;
    c->frozen = frozen;
    atomic_store(&c->offset, 0);
}

int64_t st_sim_clock_now(st_sim_clock_t *c)
{
    int64_t flow = c->frozen ? 0 : wall_now() - c->start_wall;
    return c->start_sim + flow + atomic_load(&c->offset);
}

void st_sim_clock_advance(st_sim_clock_t *c, int64_t seconds)
{
    if (seconds > 0)
        atomic_fetch_add(&c->offset, seconds);
}
