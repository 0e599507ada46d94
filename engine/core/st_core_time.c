/*
 * st_core_time.c — `time` values given as text: RFC 3339 timestamps
 * ("2026-12-24T10:00:00Z", "2026-12-24T11:00:00+01:00", with up to six
 * fractional digits kept, more dropped), and the inputs of a start in the
 * form they are stored (every time as integer microseconds since the
 * epoch, UTC).
 *
 * Layer: core, pure. Depends on common (st_err) and jansson.
 * Invariant: a parsed time is exact to the microsecond and independent of
 * the process's time zone (no libc time-zone calls); a text that is not a
 * complete RFC 3339 date-time (date, 'T', time, offset) is refused whole.
 */
#include <stdlib.h>
#include <string.h>

#include "core/st_core.h"

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n digits at *p as a number; -1 when they are not all digits. */
static int64_t digits(const char **p, int n)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

/* 1 and past it when *p is c; 0 (not moved) otherwise, also at the end. */
static int lit(const char **p, char c)
{
    if (**p != c)
        return 0;
    (*p)++;
    return 1;
}

static int month_days(int64_t y, int64_t m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* The offset part ("Z", "+01:00") in seconds east of UTC; 0 or ST_PARSE. */
static int offset(const char *p, int64_t *off)
{
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        *off = 0;
        return 0;
    }
    if ((p[0] != '+' && p[0] != '-') || strlen(p) != 6 || p[3] != ':')
        return ST_PARSE;
    const char *q = p + 1;
    int64_t hh = digits(&q, 2);
    q++;
    int64_t mm = digits(&q, 2);
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
        return ST_PARSE;
    *off = (p[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
    return 0;
}

/* Fractional seconds after '.' as microseconds (digits past six dropped). */
static int64_t fraction(const char **p)
{
    int64_t us = 0;
    int n = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++, n++)
        if (n < 6)
            us = us * 10 + (**p - '0');
    if (n == 0)
        return -1;
    for (; n < 6; n++)
        us *= 10;
    return us;
}

static int parse(const char *s, int64_t *us)
{
    const char *p = s;
    int64_t y = digits(&p, 4);
    int64_t mo = y >= 0 && lit(&p, '-') ? digits(&p, 2) : -1;
    int64_t d = mo >= 0 && lit(&p, '-') ? digits(&p, 2) : -1;
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
        return ST_PARSE;
    if (!lit(&p, 'T') && !lit(&p, 't') && !lit(&p, ' '))
        return ST_PARSE;
    int64_t h = digits(&p, 2);
    int64_t mi = h >= 0 && lit(&p, ':') ? digits(&p, 2) : -1;
    int64_t sec = mi >= 0 && lit(&p, ':') ? digits(&p, 2) : -1;
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return ST_PARSE;
    int64_t frac = 0;
    if (lit(&p, '.') && (frac = fraction(&p)) < 0)
        return ST_PARSE;
    int64_t off = 0;
    if (offset(p, &off) != 0)
        return ST_PARSE;
    if (sec == 60)
        sec = 59; /* a leap second is the last second of its minute */
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    *us = secs * 1000000 + frac;
    return 0;
}

int st_core_time_parse(const char *text, const char *what, int64_t *us, st_err_t *err)
{
    if (text != NULL && strlen(text) <= 64 && parse(text, us) == 0)
        return 0;
    st_err_set(err, ST_INVAL, "%s: \"%.64s\" is not an RFC 3339 time", what, text ? text : "");
    st_err_hint(err, "give a time as \"2026-12-24T10:00:00Z\" (or with an offset such as "
                     "+01:00, fractional seconds allowed) or as integer microseconds since "
                     "1970-01-01 UTC");
    return ST_INVAL;
}

json_t *st_core_inputs_stored(const st_core_program_t *p, const json_t *inputs)
{
    json_t *out = json_copy((json_t *)inputs);
    for (size_t i = 0; out != NULL && i < st_core_program_input_count(p); i++) {
        const char *name = st_core_program_var_name(p, (uint32_t)i);
        const json_t *v = json_object_get(out, name);
        int64_t us = 0;
        if (st_core_program_var_type(p, (uint32_t)i) == ST_CORE_T_TIME && json_is_string(v) &&
            st_core_time_parse(json_string_value(v), name, &us, NULL) == 0)
            json_object_set_new(out, name, json_integer((json_int_t)us));
    }
    return out;
}
