/*
 * flowc_lex.c — the .flow lexer: characters to tokens.
 *
 * Layer: engine/flowc internals (libc only).
 * Invariants: no floating point: integers, durations (`90s`, `1h30m`) and
 * money (`19.99 eur`, `500 jpy`) are scanned digit by digit into int64 with
 * overflow checks. Newlines are whitespace; `#` starts a comment to the end
 * of the line. Every lexical error is reported once and becomes FC_T_ERROR.
 */
#include "flowc/flowc_int.h"

#include <ctype.h>
#include <string.h>

#include "common/st_hex.h"

static const struct {
    const char *text;
    fc_tok_kind_t kind;
} fc_keywords[] = {
#define FC_KW_ROW(id, text) {text, FC_K_##id},
    FC_KEYWORDS(FC_KW_ROW)
#undef FC_KW_ROW
};

static const char *const fc_tok_names[FC_T__COUNT] = {[FC_T_EOF] = "end of file",
                                                      [FC_T_ERROR] = "invalid token",
                                                      [FC_T_IDENT] = "name",
                                                      [FC_T_INT] = "number",
                                                      [FC_T_STRING] = "string",
                                                      [FC_T_DURATION] = "duration",
                                                      [FC_T_MONEY] = "money amount",
                                                      [FC_T_ARROW] = "'->'",
                                                      [FC_T_LBRACE] = "'{'",
                                                      [FC_T_RBRACE] = "'}'",
                                                      [FC_T_LPAREN] = "'('",
                                                      [FC_T_RPAREN] = "')'",
                                                      [FC_T_COMMA] = "','",
                                                      [FC_T_COLON] = "':'",
                                                      [FC_T_DOT] = "'.'",
                                                      [FC_T_DOTDOT] = "'..'",
                                                      [FC_T_ASSIGN] = "'='",
                                                      [FC_T_EQ] = "'=='",
                                                      [FC_T_NE] = "'!='",
                                                      [FC_T_LT] = "'<'",
                                                      [FC_T_LE] = "'<='",
                                                      [FC_T_GT] = "'>'",
                                                      [FC_T_GE] = "'>='",
                                                      [FC_T_PLUS] = "'+'",
                                                      [FC_T_MINUS] = "'-'",
                                                      [FC_T_STAR] = "'*'",
                                                      [FC_T_SLASH] = "'/'",
                                                      [FC_T_PERCENT] = "'%'",
#define FC_KW_NAME(id, text) [FC_K_##id] = "'" text "'",
                                                      FC_KEYWORDS(FC_KW_NAME)
#undef FC_KW_NAME
};

const char *fc_tok_name(fc_tok_kind_t k)
{
    return k < FC_T__COUNT && fc_tok_names[k] ? fc_tok_names[k] : "token";
}

void fc_lex_init(fc_lexer_t *lx, const char *src, size_t len, fc_sink_t *sink)
{
    lx->src = lx->p = lx->line_start = src;
    lx->end = src + len;
    lx->line = 1;
    lx->sink = sink;
}

static fc_pos_t fc_here(const fc_lexer_t *lx, const char *start)
{
    fc_pos_t at = {lx->line, (uint32_t)(start - lx->line_start) + 1,
                   (uint32_t)(lx->p > start ? lx->p - start : 1)};
    return at;
}

static bool fc_is_ident(int c)
{
    return isalnum(c) || c == '_';
}

static void fc_skip_space(fc_lexer_t *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') {
            lx->p++;
            lx->line++;
            lx->line_start = lx->p;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            lx->p++;
        } else if (c == '#') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else {
            break;
        }
    }
}

/* Accumulate decimal digits into *v; false on int64 overflow. */
static bool fc_digits(fc_lexer_t *lx, int64_t *v, unsigned *count)
{
    bool ok = true;
    *count = 0;
    while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
        int d = *lx->p++ - '0';
        if (*v > (INT64_MAX - d) / 10)
            ok = false;
        else
            *v = *v * 10 + d;
        (*count)++;
    }
    return ok;
}

static int64_t fc_unit_us(const char *u, size_t n)
{
    static const struct {
        const char *u;
        int64_t us;
    } units[] = {{"ms", 1000LL},      {"s", 1000000LL},     {"m", 60000000LL},
                 {"h", 3600000000LL}, {"d", 86400000000LL}, {"w", 604800000000LL}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].u) == n && memcmp(units[i].u, u, n) == 0)
            return units[i].us;
    return 0;
}

/* After the first number of a duration: parse unit, then more NUMBER UNIT. */
static fc_token_t fc_lex_duration(fc_lexer_t *lx, const char *start, int64_t first)
{
    fc_token_t t = {FC_T_DURATION, {0}, NULL, 0};
    int64_t num = first, total = 0;
    for (;;) {
        const char *u = lx->p;
        while (lx->p < lx->end && isalpha((unsigned char)*lx->p))
            lx->p++;
        int64_t us = fc_unit_us(u, (size_t)(lx->p - u));
        if (us == 0) {
            while (lx->p < lx->end && fc_is_ident((unsigned char)*lx->p))
                lx->p++;
            t.kind = FC_T_ERROR;
            fc_error(lx->sink, fc_here(lx, start), "duration units are ms, s, m, h, d and w",
                     "unknown duration unit '%.*s' in '%.*s'", (int)(lx->p - u > 0 ? lx->p - u : 0),
                     u, (int)(lx->p - start), start);
            return t;
        }
        if (num > (INT64_MAX - total) / us) {
            t.kind = FC_T_ERROR;
            fc_error(lx->sink, fc_here(lx, start), NULL, "duration '%.*s' is too large",
                     (int)(lx->p - start), start);
            return t;
        }
        total += num * us;
        if (lx->p >= lx->end || !isdigit((unsigned char)*lx->p))
            break;
        num = 0;
        unsigned cnt;
        if (!fc_digits(lx, &num, &cnt) || lx->p >= lx->end || !isalpha((unsigned char)*lx->p)) {
            t.kind = FC_T_ERROR;
            fc_error(lx->sink, fc_here(lx, start), "write durations like 90s or 1h30m",
                     "malformed duration '%.*s'", (int)(lx->p - start), start);
            return t;
        }
    }
    t.pos = fc_here(lx, start);
    t.ival = total;
    return t;
}

static bool fc_is_keyword(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof fc_keywords / sizeof fc_keywords[0]; i++)
        if (strlen(fc_keywords[i].text) == n && memcmp(fc_keywords[i].text, s, n) == 0)
            return true;
    return false;
}

/*
 * A number followed on the same line by a three-letter word that is not a
 * keyword (nor the contextual `max`) is a money literal: `19.99 eur`.
 * Returns the currency start or NULL.
 */
static const char *fc_currency_ahead(const fc_lexer_t *lx, size_t *n)
{
    const char *q = lx->p;
    while (q < lx->end && (*q == ' ' || *q == '\t'))
        q++;
    if (q == lx->p && q < lx->end && isalpha((unsigned char)*q))
        return NULL; /* attached letters: a duration */
    const char *w = q;
    while (q < lx->end && isalpha((unsigned char)*q))
        q++;
    if (q - w != 3 || (q < lx->end && (fc_is_ident((unsigned char)*q) || *q == '(')))
        return NULL; /* not a three-letter word, or a call such as min( */
    if (fc_is_keyword(w, 3) || memcmp(w, "max", 3) == 0)
        return NULL;
    *n = 3;
    return w;
}

static fc_token_t fc_lex_money(fc_lexer_t *lx, const char *start, int64_t whole, const char *frac,
                               unsigned nfrac)
{
    fc_token_t t = {FC_T_MONEY, {0}, NULL, 0};
    size_t n = 0;
    int numlen = (int)(lx->p - start);
    const char *cur = fc_currency_ahead(lx, &n);
    char code[4] = {0};
    for (size_t i = 0; i < 3; i++)
        code[i] = (char)tolower((unsigned char)cur[i]);
    lx->p = cur + n;
    t.pos = fc_here(lx, start);
    int exp = fc_currency_exponent(code);
    if (exp < 0) {
        t.kind = FC_T_ERROR;
        fc_error(lx->sink, t.pos, fc_currency_nearest(lx->sink->arena, code),
                 "unknown currency '%.3s'", cur);
        return t;
    }
    if ((int)nfrac > exp) {
        t.kind = FC_T_ERROR;
        fc_error(lx->sink, t.pos, exp ? NULL : "write whole units, e.g. 500 jpy",
                 "'%s' has %d decimal places, '%.*s' has %u", code, exp, numlen, start, nfrac);
        return t;
    }
    int64_t v = whole;
    for (int i = 0; i < exp; i++) {
        int d = i < (int)nfrac ? frac[i] - '0' : 0;
        if (v > (INT64_MAX - d) / 10) {
            t.kind = FC_T_ERROR;
            fc_error(lx->sink, t.pos, NULL, "money amount is too large");
            return t;
        }
        v = v * 10 + d;
    }
    t.ival = v;
    t.text = fc_strdup(lx->sink->arena, code);
    return t;
}

static fc_token_t fc_lex_number(fc_lexer_t *lx)
{
    const char *start = lx->p;
    fc_token_t t = {FC_T_INT, {0}, NULL, 0};
    int64_t v = 0;
    unsigned cnt, nfrac = 0;
    bool ok = fc_digits(lx, &v, &cnt);
    const char *frac = NULL;
    if (lx->p + 1 < lx->end && lx->p[0] == '.' && isdigit((unsigned char)lx->p[1])) {
        lx->p++;
        frac = lx->p;
        int64_t ignored = 0;
        fc_digits(lx, &ignored, &nfrac);
    }
    if (!ok) {
        t.kind = FC_T_ERROR;
        fc_error(lx->sink, fc_here(lx, start), NULL, "number '%.*s' does not fit in 64 bits",
                 (int)(lx->p - start), start);
        return t;
    }
    size_t n;
    if (fc_currency_ahead(lx, &n) != NULL)
        return fc_lex_money(lx, start, v, frac, nfrac);
    if (frac != NULL) {
        t.kind = FC_T_ERROR;
        fc_error(lx->sink, fc_here(lx, start),
                 "a fraction is only allowed in a money amount such as 19.99 eur",
                 "'%.*s' is not an integer; settle has no floating point", (int)(lx->p - start),
                 start);
        return t;
    }
    if (lx->p < lx->end && isalpha((unsigned char)*lx->p))
        return fc_lex_duration(lx, start, v);
    t.pos = fc_here(lx, start);
    t.ival = v;
    return t;
}

/* Decode one escape after the backslash into out[*k]; false if invalid. */
static bool fc_escape(fc_lexer_t *lx, char *out, size_t *k)
{
    char c = *lx->p++;
    switch (c) {
    case 'n':
        out[(*k)++] = '\n';
        return true;
    case 't':
        out[(*k)++] = '\t';
        return true;
    case 'r':
        out[(*k)++] = '\r';
        return true;
    case '"':
        out[(*k)++] = '"';
        return true;
    case '\\':
        out[(*k)++] = '\\';
        return true;
    case 'x':
        if (lx->end - lx->p >= 2 && st_hex_digit((unsigned char)lx->p[0]) >= 0 &&
            st_hex_digit((unsigned char)lx->p[1]) >= 0) {
            int v =
                st_hex_digit((unsigned char)lx->p[0]) * 16 + st_hex_digit((unsigned char)lx->p[1]);
            lx->p += 2;
            if (v == 0)
                return false;
            out[(*k)++] = (char)v;
            return true;
        }
        return false;
    default:
        return false;
    }
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool fc_utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], need, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3, min = 0x10000;
        else
            return false;
        unsigned cp = c & (0x3F >> need);
        for (unsigned k = 1; k <= need; k++) {
            if (i + k >= n || (s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

static fc_token_t fc_lex_string(fc_lexer_t *lx)
{
    const char *start = lx->p++;
    fc_token_t t = {FC_T_ERROR, {0}, NULL, 0};
    char *buf = fc_alloc(lx->sink->arena, (size_t)(lx->end - lx->p) + 1);
    if (buf == NULL)
        return t;
    size_t k = 0;
    bool bad = false;
    while (lx->p < lx->end && *lx->p != '"' && *lx->p != '\n') {
        if (*lx->p != '\\') {
            buf[k++] = *lx->p++;
            continue;
        }
        const char *esc = lx->p++;
        if (lx->p >= lx->end || *lx->p == '\n' || !fc_escape(lx, buf, &k)) {
            fc_pos_t at = {lx->line, (uint32_t)(esc - lx->line_start) + 1, 2};
            fc_error(lx->sink, at, "use \\n, \\t, \\r, \\\", \\\\ or \\xHH (not \\x00)",
                     "invalid escape sequence in string");
            bad = true;
        }
    }
    if (lx->p >= lx->end || *lx->p != '"') {
        fc_pos_t at = {lx->line, (uint32_t)(start - lx->line_start) + 1, 1};
        fc_error(lx->sink, at, "close the string with '\"' on the same line",
                 "unterminated string");
        return t;
    }
    lx->p++;
    t.pos = fc_here(lx, start);
    if (!bad && !fc_utf8_ok((const unsigned char *)buf, k)) {
        fc_pos_t at = {lx->line, (uint32_t)(start - lx->line_start) + 1, 1};
        fc_error(lx->sink, at, "save the file as UTF-8; use \\xHH only below \\x80",
                 "string is not valid UTF-8");
        bad = true;
    }
    t.kind = bad ? FC_T_ERROR : FC_T_STRING;
    buf[k] = '\0';
    t.text = buf;
    return t;
}

static fc_token_t fc_lex_word(fc_lexer_t *lx)
{
    const char *start = lx->p;
    while (lx->p < lx->end && fc_is_ident((unsigned char)*lx->p))
        lx->p++;
    size_t n = (size_t)(lx->p - start);
    fc_token_t t = {FC_T_IDENT, fc_here(lx, start), NULL, 0};
    if (n > FC_NAME_MAX) {
        fc_error(lx->sink, t.pos, NULL, "name is longer than %d characters", FC_NAME_MAX);
        t.kind = FC_T_ERROR;
        return t;
    }
    for (size_t i = 0; i < sizeof fc_keywords / sizeof fc_keywords[0]; i++)
        if (strlen(fc_keywords[i].text) == n && memcmp(fc_keywords[i].text, start, n) == 0)
            t.kind = fc_keywords[i].kind;
    t.text = fc_strndup(lx->sink->arena, start, n);
    return t;
}

/* Two-character operators first, then one-character ones. */
static fc_token_t fc_lex_punct(fc_lexer_t *lx)
{
    static const struct {
        const char *s;
        fc_tok_kind_t k;
    } ops[] = {{"->", FC_T_ARROW}, {"..", FC_T_DOTDOT}, {"==", FC_T_EQ},    {"!=", FC_T_NE},
               {"<=", FC_T_LE},    {">=", FC_T_GE},     {"{", FC_T_LBRACE}, {"}", FC_T_RBRACE},
               {"(", FC_T_LPAREN}, {")", FC_T_RPAREN},  {",", FC_T_COMMA},  {":", FC_T_COLON},
               {".", FC_T_DOT},    {"=", FC_T_ASSIGN},  {"<", FC_T_LT},     {">", FC_T_GT},
               {"+", FC_T_PLUS},   {"-", FC_T_MINUS},   {"*", FC_T_STAR},   {"/", FC_T_SLASH},
               {"%", FC_T_PERCENT}};
    const char *start = lx->p;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].s);
        if ((size_t)(lx->end - lx->p) >= n && memcmp(lx->p, ops[i].s, n) == 0) {
            lx->p += n;
            fc_token_t t = {ops[i].k, fc_here(lx, start), NULL, 0};
            return t;
        }
    }
    unsigned char c = (unsigned char)*lx->p++;
    while (lx->p < lx->end && (*lx->p & 0xC0) == 0x80)
        lx->p++; /* one diagnostic per UTF-8 character */
    fc_token_t t = {FC_T_ERROR, fc_here(lx, start), NULL, 0};
    t.pos.len = 1;
    if (c >= 0x20 && c < 0x7f)
        fc_error(lx->sink, t.pos, NULL, "unexpected character '%c'", c);
    else
        fc_error(lx->sink, t.pos, NULL, "unexpected byte 0x%02x", c);
    return t;
}

fc_token_t fc_lex_next(fc_lexer_t *lx)
{
    fc_skip_space(lx);
    if (lx->p >= lx->end) {
        fc_token_t t = {FC_T_EOF, fc_here(lx, lx->p), NULL, 0};
        return t;
    }
    unsigned char c = (unsigned char)*lx->p;
    if (isdigit(c))
        return fc_lex_number(lx);
    if (isalpha(c) || c == '_')
        return fc_lex_word(lx);
    if (c == '"')
        return fc_lex_string(lx);
    return fc_lex_punct(lx);
}
