/*
 * st_timer_wheel_check.c — the timing wheel's invariant checker.
 *
 * Layer: engine/timer, pure. Depends on timer_int.h and common/st_err.h.
 * Kept apart from the hot paths in st_timer_wheel.c: it walks every list
 * and restates the invariants of timer_int.h as code, so randomised tests
 * can call it after every operation.
 */
#include "timer/timer_int.h"

static unsigned slot_level(unsigned slot)
{
    return slot < TW_L0_SLOTS ? 0 : 1 + (slot - TW_L0_SLOTS) / TW_LN_SLOTS;
}

/* Non-zero when cur's digits below level k are all zero. */
static int low_digits_zero(int64_t cur, unsigned k)
{
    uint64_t mask = ((uint64_t)1 << tw_shift(k)) - 1;
    return ((uint64_t)cur & mask) == 0;
}

/* Check one entry of a level slot against the placement rule. */
static int check_slot_entry(const st_timer_wheel_t *w, unsigned slot, const st_timer_entry_t *e,
                            st_err_t *err)
{
    unsigned k = slot_level(slot);
    unsigned idx = slot - tw_base(k);
    int64_t t = tw_due_tick(w, e->due_us);
    unsigned up = tw_shift(k) + tw_bits(k);
    if (up < 64 && ((uint64_t)t >> up) != ((uint64_t)w->cur >> up))
        return st_err_set(err, ST_INTERNAL,
                          "slot %u: tick %lld differs from cur %lld above level %u", slot,
                          (long long)t, (long long)w->cur, k);
    if (tw_digit(t, k) != idx)
        return st_err_set(err, ST_INTERNAL, "slot %u: tick %lld has digit %u at level %u", slot,
                          (long long)t, tw_digit(t, k), k);
    unsigned cd = tw_digit(w->cur, k);
    if (idx < cd || (idx == cd && k > 0 && !low_digits_zero(w->cur, k)))
        return st_err_set(err, ST_INTERNAL, "slot %u (level %u) is behind cur %lld", slot, k,
                          (long long)w->cur);
    if (k == 0 && t < w->cur)
        return st_err_set(err, ST_INTERNAL, "level-0 entry due %lld before cur %lld", (long long)t,
                          (long long)w->cur);
    return 0;
}

static int check_entry(const st_timer_wheel_t *w, unsigned slot, const st_timer_entry_t *e,
                       st_err_t *err)
{
    if (e->slot != slot)
        return st_err_set(err, ST_INTERNAL, "entry in list %u says slot %u", slot, e->slot);
    if (e->next->prev != e || e->prev->next != e)
        return st_err_set(err, ST_INTERNAL, "broken links in list %u", slot);
    int64_t t = tw_due_tick(w, e->due_us);
    if (slot == TW_READY && t > w->cur)
        return st_err_set(err, ST_INTERNAL, "ready entry due %lld after cur %lld", (long long)t,
                          (long long)w->cur);
    if (slot == TW_OVERFLOW &&
        ((uint64_t)t >> TW_TOTAL_BITS) <= ((uint64_t)w->cur >> TW_TOTAL_BITS) && w->ovf_left == 0)
        return st_err_set(err, ST_INTERNAL, "overflow entry due %lld in cur's epoch", (long long)t);
    if (slot < TW_NSLOTS)
        return check_slot_entry(w, slot, e, err);
    return 0;
}

int st_timer_wheel_check(const st_timer_wheel_t *w, st_err_t *err)
{
    size_t total = 0;
    size_t ovf = 0;
    for (unsigned slot = 0; slot < TW_NHEADS; slot++) {
        const st_timer_entry_t *h = &w->heads[slot];
        size_t n = 0;
        for (const st_timer_entry_t *e = h->next; e != h; e = e->next) {
            int rc = check_entry(w, slot, e, err);
            if (rc)
                return rc;
            n++;
        }
        if (slot < TW_NSLOTS) {
            unsigned k = slot_level(slot);
            if (tw_occupied(w, k, slot - tw_base(k)) != (n > 0))
                return st_err_set(err, ST_INTERNAL, "occupancy bit of slot %u is wrong", slot);
        }
        if (slot == TW_OVERFLOW)
            ovf = n;
        total += n;
    }
    if (total != w->pending)
        return st_err_set(err, ST_INTERNAL, "pending says %zu, lists hold %zu", w->pending, total);
    if (ovf != w->ovf_count || w->ovf_left > w->ovf_count)
        return st_err_set(err, ST_INTERNAL, "overflow count %zu (left %zu), list holds %zu",
                          w->ovf_count, w->ovf_left, ovf);
    return 0;
}
