/*
 * st_act_config.c — activity configuration from the environment, and the
 * redaction that keeps secrets out of every message.
 *
 * Layer: engine/activity. Depends on libc. Reads environment variables and
 * secret files; never prints. Error messages name a variable or a file,
 * never a secret's value.
 *
 * Invariant: after st_act_redact, the string contains none of the given
 * secrets and nothing that looks like a Stripe key (sk_/rk_/pk_ live/test)
 * or follows "Bearer ".
 */
#include "activity/act_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SETTLE_ACT_TEMPLATE_DIR
#define SETTLE_ACT_TEMPLATE_DIR "templates"
#endif

void st_act_config_defaults(st_act_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->stripe_base, sizeof cfg->stripe_base, "https://api.stripe.com");
    snprintf(cfg->stripe_version, sizeof cfg->stripe_version, "%s", ST_ACT_STRIPE_VERSION);
    snprintf(cfg->smtp_from, sizeof cfg->smtp_from, "settle@localhost");
    snprintf(cfg->mail_domain, sizeof cfg->mail_domain, "settle.local");
    snprintf(cfg->template_dir, sizeof cfg->template_dir, "%s", SETTLE_ACT_TEMPLATE_DIR);
    cfg->default_timeout_us = 30 * 1000000LL;
    cfg->max_conc_stripe = 64;
    cfg->max_conc_email = 8;
    cfg->max_conc_http = 32;
    cfg->stripe_rate = 90;
    cfg->stripe_burst = 90;
}

static void env_str(const char *name, char *dst, size_t cap)
{
    const char *v = getenv(name);
    if (v != NULL && v[0] != '\0')
        snprintf(dst, cap, "%s", v);
}

/* First line of a secret file, without the trailing newline. */
static int read_secret_file(const char *var, const char *path, char *dst, size_t cap, st_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return st_err_set(err, ST_IO, "%s: cannot open %s", var, path);
    size_t n = fread(dst, 1, cap - 1, f);
    fclose(f);
    dst[n] = '\0';
    dst[strcspn(dst, "\r\n")] = '\0';
    if (dst[0] == '\0')
        return st_err_set(err, ST_IO, "%s: %s is empty", var, path);
    return 0;
}

/* Secret from NAME, or from the file named by NAME_FILE (which wins). */
static int env_secret(const char *name, char *dst, size_t cap, st_err_t *err)
{
    char file_var[64];
    snprintf(file_var, sizeof file_var, "%s_FILE", name);
    const char *path = getenv(file_var);
    if (path != NULL && path[0] != '\0')
        return read_secret_file(file_var, path, dst, cap, err);
    env_str(name, dst, cap);
    return 0;
}

static void env_uint(const char *name, uint32_t *dst)
{
    const char *v = getenv(name);
    if (v != NULL && v[0] != '\0') {
        long n = strtol(v, NULL, 10);
        if (n > 0)
            *dst = (uint32_t)n;
    }
}

int st_act_config_from_env(st_act_config_t *cfg, st_err_t *err)
{
    st_act_config_defaults(cfg);
    env_str("STRIPE_API_BASE", cfg->stripe_base, sizeof cfg->stripe_base);
    env_str("STRIPE_API_VERSION", cfg->stripe_version, sizeof cfg->stripe_version);
    env_str("SETTLE_SMTP_URL", cfg->smtp_url, sizeof cfg->smtp_url);
    env_str("SETTLE_SMTP_FROM", cfg->smtp_from, sizeof cfg->smtp_from);
    env_str("SETTLE_SMTP_USER", cfg->smtp_user, sizeof cfg->smtp_user);
    env_str("SETTLE_SMTP_CA_FILE", cfg->smtp_ca_file, sizeof cfg->smtp_ca_file);
    env_str("SETTLE_MAIL_DOMAIN", cfg->mail_domain, sizeof cfg->mail_domain);
    env_str("SETTLE_TEMPLATE_DIR", cfg->template_dir, sizeof cfg->template_dir);
    env_str("SETTLE_ERP_URL", cfg->erp_url, sizeof cfg->erp_url);
    env_str("SETTLE_CRM_URL", cfg->crm_url, sizeof cfg->crm_url);
    env_str("SETTLE_SUPPORT_URL", cfg->support_url, sizeof cfg->support_url);
    env_uint("SETTLE_STRIPE_CONCURRENCY", &cfg->max_conc_stripe);
    env_uint("SETTLE_EMAIL_CONCURRENCY", &cfg->max_conc_email);
    env_uint("SETTLE_HTTP_CONCURRENCY", &cfg->max_conc_http);
    uint32_t rate = 0;
    env_uint("SETTLE_STRIPE_RATE", &rate);
    if (rate > 0)
        cfg->stripe_rate = cfg->stripe_burst = rate;
    int rc = env_secret("STRIPE_API_KEY", cfg->stripe_key, sizeof cfg->stripe_key, err);
    if (rc == 0)
        rc = env_secret("SETTLE_SMTP_PASSWORD", cfg->smtp_password, sizeof cfg->smtp_password, err);
    if (rc == 0)
        rc = env_secret("SETTLE_ERP_TOKEN", cfg->erp_token, sizeof cfg->erp_token, err);
    if (rc == 0)
        rc = env_secret("SETTLE_CRM_TOKEN", cfg->crm_token, sizeof cfg->crm_token, err);
    if (rc == 0)
        rc = env_secret("SETTLE_SUPPORT_TOKEN", cfg->support_token, sizeof cfg->support_token, err);
    return rc;
}

/* Replace [at, at+n) in s with the marker, keeping s within cap. */
static void splice_marker(char *s, size_t cap, char *at, size_t n)
{
    static const char mark[] = "[REDACTED]";
    size_t m = sizeof mark - 1;
    size_t tail = strlen(at + n);
    if ((size_t)(at - s) + m + 1 > cap) {
        *at = '\0'; /* no room for the marker: cut the secret off */
        return;
    }
    if ((size_t)(at - s) + m + tail + 1 > cap)
        tail = cap - 1 - (size_t)(at - s) - m; /* truncate the tail, never the marker */
    memmove(at + m, at + n, tail);
    at[m + tail] = '\0';
    memcpy(at, mark, m);
}

static size_t token_len(const char *p)
{
    size_t n = 0;
    while (p[n] && (p[n] == '_' || p[n] == '-' || p[n] == '*' || p[n] == '.' ||
                    (p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'z') ||
                    (p[n] >= 'A' && p[n] <= 'Z')))
        n++;
    return n;
}

static void redact_literal(char *s, size_t cap, const char *secret)
{
    size_t n = strlen(secret);
    if (n < 4) /* too short to search for without mangling ordinary text */
        return;
    char *at;
    while ((at = strstr(s, secret)) != NULL)
        splice_marker(s, cap, at, n);
}

static void redact_prefixed(char *s, size_t cap, const char *prefix, size_t keep)
{
    char *from = s;
    char *at;
    while ((at = strstr(from, prefix)) != NULL) {
        char *tok = at + keep;
        size_t n = token_len(tok);
        if (n == 0) {
            from = at + 1;
            continue;
        }
        splice_marker(s, cap, tok, n);
        size_t rest = strlen(tok);
        from = tok + (rest < 10 ? rest : 10);
    }
}

void st_act_redact(char *s, size_t cap, const char *const *secrets, size_t n_secrets)
{
    if (s == NULL || cap == 0)
        return;
    for (size_t i = 0; i < n_secrets; i++)
        if (secrets[i] != NULL)
            redact_literal(s, cap, secrets[i]);
    static const char *const shapes[] = {"sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        redact_prefixed(s, cap, shapes[i], 0);
    redact_prefixed(s, cap, "Bearer ", 7);
    redact_prefixed(s, cap, "bearer ", 7);
}
