/*
 * st_input.c — limits on outside input (see st_input.h): UTF-8,
 * business keys, signal names, plausible input values, clock moves.
 *
 * Layer: common. Pure functions over their arguments.
 *
 * Why here: the flow API (engine/http), `settled` and settlectl all take
 * these values from outside; the lowest layer holds this file so that all
 * three link the same rules.
 */
#include "common/st_input.h"

#include <stdio.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min, cp;
    if (c >= 0x01 && c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0; /* NUL, a continuation byte, or never valid */
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int st_input_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

void st_input_utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) {
            p[i] = '?';
            k = 1;
        }
        i += k;
    }
}

int st_input_key_check(const char *key, st_err_t *err)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > ST_INPUT_KEY_MAX || !st_input_utf8_ok(key, n)) {
        st_err_set(err, ST_INVAL, "the business key is %s",
                   n == 0                 ? "empty"
                   : n > ST_INPUT_KEY_MAX ? "longer than 255 bytes"
                                          : "not valid UTF-8 text");
        st_err_hint(err, "use a non-empty key of at most 255 bytes of UTF-8 text");
        return ST_INVAL;
    }
    return 0;
}

int st_input_signal_check(const char *name, st_err_t *err)
{
    size_t n = name ? strlen(name) : 0;
    int ok = n > 0 && n <= ST_INPUT_NAME_MAX && st_input_utf8_ok(name, n);
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)name[i] > ' ' && name[i] != 0x7f;
    if (!ok) {
        st_err_set(err, ST_INVAL,
                   "a signal name is 1 to 200 bytes of UTF-8 text without "
                   "spaces or control characters");
        st_err_hint(err, "name it like the event it stands for, e.g. invoice.paid");
        return ST_INVAL;
    }
    if (strncmp(name, "settle.", 7) == 0) {
        st_err_set(err, ST_INVAL, "signal names starting with 'settle.' are reserved");
        st_err_hint(err, "to cancel an instance, use its cancel operation");
        return ST_INVAL;
    }
    return 0;
}

/* ISO 4217 codes in use, lower case, three letters each, sorted. */
static const char currencies[] =
    "aedafnallamdangaoaarsaudawgaznbambbdbdtbgnbhdbifbmdbndbobbovbrlbsdbtnbwpbynbzdcadcdfchechf"
    "chwclfclpcnycopcoucrccuccupcveczkdjfdkkdopdzdegpernetbeurfjdfkpgbpgelghsgipgmdgnfgtqgydhkd"
    "hnlhrkhtghufidrilsinriqdirriskjmdjodjpykeskgskhrkmfkpwkrwkwdkydkztlaklbplkrlrdlsllydmadmdl"
    "mgamkdmmkmntmopmrumurmvrmwkmxnmxvmyrmznnadngnnionoknprnzdomrpabpenpgkphppkrplnpygqarronrsd"
    "rubrwfsarsbdscrsdgseksgdshpslesllsossrdsspstnsvcsypszlthbtjstmttndtoptryttdtwdtzsuahugxusd"
    "usnuyiuyuuywuzsvedvesvndvuvwstxafxcdxofxpfyerzarzmwzwl";

int st_input_currency_known(const char *code)
{
    if (code == NULL || strlen(code) != 3)
        return 0;
    for (size_t i = 0; i + 3 <= sizeof currencies - 1; i += 3)
        if (memcmp(currencies + i, code, 3) == 0)
            return 1;
    return 0;
}

static int implausible(st_err_t *err, const char *name, const char *what, const char *hint)
{
    st_err_set(err, ST_INVAL, "input %.100s: %s", name, what);
    st_err_hint(err, "%s", hint);
    return ST_INVAL;
}

int st_input_money_check(const char *name, int64_t minor, const char *currency, st_err_t *err)
{
    if (minor < 0)
        return implausible(err, name, "a negative amount",
                           "amounts are minor units from 0 up; a refund is its own flow");
    if (minor > ST_INPUT_MINOR_MAX)
        return implausible(err, name, "an amount above 999999999999 minor units",
                           "check the amount: it is in minor units (cents), not a total");
    if (!st_input_currency_known(currency))
        return implausible(err, name, "not a known ISO 4217 currency",
                           "use a lower-case ISO 4217 code such as eur, usd or gbp");
    return 0;
}

int st_input_duration_check(const char *name, int64_t us, st_err_t *err)
{
    if (us < 0 || us > ST_INPUT_SPAN_MAX)
        return implausible(err, name, "a duration outside 0 to 10 years",
                           "durations are microseconds from 0 to 10 years");
    return 0;
}

int st_input_time_check(const char *name, int64_t us, st_err_t *err)
{
    if (us < 0 || us > ST_INPUT_TIME_MAX)
        return implausible(err, name, "a time outside the years 1970 to 9999",
                           "times are microseconds since 1970-01-01T00:00:00Z");
    return 0;
}

int st_input_advance_check(int64_t us, st_err_t *err)
{
    if (us < 0 || us > ST_INPUT_SPAN_MAX) {
        st_err_set(err, ST_INVAL, "the clock can move forward by at most 10 years at once");
        st_err_hint(err, "advance in smaller steps, e.g. 30d");
        return ST_INVAL;
    }
    return 0;
}
