/*
 * st_sim_auth.c — API key check (see st_sim_auth.h).
 */
#include "st_sim_auth.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

int st_sim_auth_key(const char *authorization, char *out, size_t cap)
{
    if (!authorization)
        return -1;
    if (strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *k = authorization + 7;
        while (*k == ' ')
            k++;
        if (strlen(k) >= cap)
            return -1;
        strcpy(out, k);
        return 0;
    }
    if (strncasecmp(authorization, "Basic ", 6) == 0) {
        const char *b = authorization + 6;
        size_t n = strlen(b);
        unsigned char buf[512];
        if (n == 0 || n % 4 != 0 || n / 4 * 3 >= sizeof(buf))
            return -1;
        int len = EVP_DecodeBlock(buf, (const unsigned char *)b, (int)n);
        if (len < 0)
            return -1;
        buf[len] = '\0';
        char *colon = strchr((char *)buf, ':');
        if (!colon)
            return -1;
        *colon = '\0';
        if (strlen((char *)buf) >= cap)
            return -1;
        strcpy(out, (char *)buf);
        return 0;
    }
    return -1;
}

static int key_ok(const char *key)
{
    if (strncmp(key, "sk_test_", 8) != 0 && strncmp(key, "rk_test_", 8) != 0)
        return 0;
    for (const char *p = key + 8; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '_'))
            return 0;
    return strlen(key) > 8;
}

/*
 * 401 naming the key as Stripe does: its kind prefix (sk_live_, ...) and
 * last four characters only. Short or odd keys are not echoed at all.
 */
static void redacted_fail(st_sim_call_t *call, const char *key)
{
    static const char *const kinds[] = {"sk_test_", "sk_live_", "rk_test_", "rk_live_",
                                        "pk_test_", "pk_live_", NULL};
    const char *kind = "";
    for (const char *const *k = kinds; *k; k++)
        if (strncmp(key, *k, 8) == 0)
            kind = *k;
    size_t n = strlen(key);
    st_sim_fail(call, 401, "invalid_request_error", NULL, NULL, "Invalid API Key provided: %s%s%s",
                kind, "****", n >= 16 ? key + n - 4 : "");
}

int st_sim_auth_check(st_sim_call_t *call, const char *authorization)
{
    char key[256];
    if (!authorization || !*authorization) {
        st_sim_fail(call, 401, "invalid_request_error", NULL, NULL,
                    "You did not provide an API key. You need to provide your API key in the "
                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                    "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                    "details, or we can help at https://support.stripe.com/.");
        return -1;
    }
    if (st_sim_auth_key(authorization, key, sizeof(key)) < 0 || !key_ok(key)) {
        redacted_fail(call, st_sim_auth_key(authorization, key, sizeof(key)) < 0 ? "" : key);
        return -1;
    }
    return 0;
}
