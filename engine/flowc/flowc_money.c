/*
 * flowc_money.c — ISO 4217 currencies the compiler accepts in money literals.
 *
 * Layer: engine/flowc internals (libc only).
 * Invariants: codes are lower case as Stripe writes them; the exponent is
 * the number of minor-unit digits (Stripe's zero-decimal currencies have 0,
 * a few Gulf and North-African currencies have 3).
 */
#include "flowc/flowc_int.h"

#include <string.h>

static const struct {
    const char code[4];
    int exponent;
} fc_currencies[] = {
    {"aed", 2}, {"ars", 2}, {"aud", 2}, {"bgn", 2}, {"bhd", 3}, {"bif", 0}, {"brl", 2}, {"cad", 2},
    {"chf", 2}, {"clp", 0}, {"cny", 2}, {"cop", 2}, {"czk", 2}, {"djf", 0}, {"dkk", 2}, {"egp", 2},
    {"eur", 2}, {"gbp", 2}, {"gnf", 0}, {"hkd", 2}, {"huf", 2}, {"idr", 2}, {"ils", 2}, {"inr", 2},
    {"isk", 2}, {"jod", 3}, {"jpy", 0}, {"kmf", 0}, {"krw", 0}, {"kwd", 3}, {"mad", 2}, {"mga", 0},
    {"mxn", 2}, {"myr", 2}, {"ngn", 2}, {"nok", 2}, {"nzd", 2}, {"omr", 3}, {"pen", 2}, {"php", 2},
    {"pln", 2}, {"pyg", 0}, {"ron", 2}, {"rwf", 0}, {"sar", 2}, {"sek", 2}, {"sgd", 2}, {"thb", 2},
    {"tnd", 3}, {"try", 2}, {"twd", 2}, {"uah", 2}, {"ugx", 0}, {"usd", 2}, {"vnd", 0}, {"vuv", 0},
    {"xaf", 0}, {"xof", 0}, {"xpf", 0}, {"zar", 2},
};

#define FC_NCUR (sizeof fc_currencies / sizeof fc_currencies[0])

int fc_currency_exponent(const char *cur)
{
    for (size_t i = 0; i < FC_NCUR; i++)
        if (strcmp(fc_currencies[i].code, cur) == 0)
            return fc_currencies[i].exponent;
    return -1;
}

const char *fc_currency_nearest(fc_arena_t *a, const char *cur)
{
    const char *names[FC_NCUR];
    for (size_t i = 0; i < FC_NCUR; i++)
        names[i] = fc_currencies[i].code;
    const char *s = fc_suggest(a, cur, names, FC_NCUR);
    return s ? s : "use an ISO 4217 code such as eur, usd or gbp";
}
