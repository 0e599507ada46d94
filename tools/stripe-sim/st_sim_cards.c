/*
 * st_sim_cards.c — Stripe's test cards and PaymentMethod tokens, as listed
 * in shared/stripe/test_cards.tsv, with the behaviour each one triggers.
 *
 * The table is the single source: pm_card_* tokens and raw test numbers
 * both resolve to an entry. Unknown numbers that pass the Luhn check
 * behave like pm_card_visa (success), as Stripe's test mode does.
 */
#include <string.h>

#include "st_sim_int.h"

#define OK_CARD(num, tok, brand, funding)                                             \
    {                                                                                 \
        num, tok, NULL, brand, funding, NULL, NULL, 0, ST_SIM_3DS_OPTIONAL, "normal", \
            ST_SIM_REFUND_OK                                                          \
    }
#define DECLINE(num, tok, alias, code, dc, attach)                                          \
    {                                                                                       \
        num, tok, alias, "visa", "credit", code, dc, attach, ST_SIM_3DS_OPTIONAL, "normal", \
            ST_SIM_REFUND_OK                                                                \
    }
#define TDS(num, tok, code, dc, tds)                                                   \
    {                                                                                  \
        num, tok, NULL, "visa", "credit", code, dc, 0, tds, "normal", ST_SIM_REFUND_OK \
    }

static const st_sim_card_t cards[] = {
    OK_CARD("4242424242424242", "pm_card_visa", "visa", "credit"),
    OK_CARD("4000056655665556", "pm_card_visa_debit", "visa", "debit"),
    OK_CARD("5555555555554444", "pm_card_mastercard", "mastercard", "credit"),
    {"378282246310005", "pm_card_amex", NULL, "amex", "credit", NULL, NULL, 0, ST_SIM_3DS_NONE,
     "normal", ST_SIM_REFUND_OK},
    DECLINE("4000000000000002", "pm_card_visa_chargeDeclined", "pm_card_chargeDeclined",
            "card_declined", "generic_decline", 1),
    DECLINE("4000000000009995", "pm_card_visa_chargeDeclinedInsufficientFunds",
            "pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds", 1),
    DECLINE("4000000000009987", "pm_card_visa_chargeDeclinedLostCard", NULL, "card_declined",
            "lost_card", 1),
    DECLINE("4000000000009979", "pm_card_visa_chargeDeclinedStolenCard", NULL, "card_declined",
            "stolen_card", 1),
    DECLINE("4000000000006975", "pm_card_visa_chargeDeclinedVelocityLimitExceeded", NULL,
            "card_declined", "card_velocity_exceeded", 0),
    DECLINE("4000000000000069", "pm_card_chargeDeclinedExpiredCard", NULL, "expired_card", NULL, 0),
    DECLINE("4000000000000127", "pm_card_chargeDeclinedIncorrectCvc", NULL, "incorrect_cvc", NULL,
            0),
    DECLINE("4000000000000119", "pm_card_chargeDeclinedProcessingError", NULL, "processing_error",
            NULL, 0),
    DECLINE("4000000000000341", "pm_card_chargeCustomerFail", NULL, "card_declined",
            "generic_decline", 0),
    TDS("4000002500003155", "pm_card_authenticationRequiredOnSetup", NULL, NULL,
        ST_SIM_3DS_UNLESS_SETUP),
    TDS("4000002760003184", "pm_card_authenticationRequired", NULL, NULL, ST_SIM_3DS_ALWAYS),
    TDS("4000003800000446", "pm_card_authenticationRequiredSetupForOffSession", NULL, NULL,
        ST_SIM_3DS_ONSESSION_ONLY),
    TDS("4000008260003178", "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds",
        "card_declined", "insufficient_funds", ST_SIM_3DS_ALWAYS),
    TDS("4000000000003220", "pm_card_threeDSecure2Required", NULL, NULL, ST_SIM_3DS_ALWAYS),
    TDS("4000008400001629", "pm_card_threeDSecureRequiredChargeDeclined", "card_declined",
        "generic_decline", ST_SIM_3DS_ALWAYS),
    OK_CARD("4000000000003055", "pm_card_threeDSecureOptional", "visa", "credit"),
    {"4100000000000019", "pm_card_radarBlock", NULL, "visa", "credit", "card_declined",
     "fraudulent", 0, ST_SIM_3DS_OPTIONAL, "highest", ST_SIM_REFUND_OK},
    {"4000000000004954", "pm_card_riskLevelHighest", NULL, "visa", "credit", "card_declined",
     "highest_risk_level", 0, ST_SIM_3DS_OPTIONAL, "highest", ST_SIM_REFUND_OK},
    {"4000000000009235", "pm_card_riskLevelElevated", NULL, "visa", "credit", NULL, NULL, 0,
     ST_SIM_3DS_OPTIONAL, "elevated", ST_SIM_REFUND_OK},
    {"4000000000007726", "pm_card_pendingRefund", NULL, "visa", "credit", NULL, NULL, 0,
     ST_SIM_3DS_OPTIONAL, "normal", ST_SIM_REFUND_PENDING},
    {"4000000000005126", "pm_card_refundFail", NULL, "visa", "credit", NULL, NULL, 0,
     ST_SIM_3DS_OPTIONAL, "normal", ST_SIM_REFUND_FAIL},
};

#define N_CARDS (sizeof(cards) / sizeof(cards[0]))

const st_sim_card_t *st_sim_card_by_token(const char *token)
{
    for (size_t i = 0; token && i < N_CARDS; i++) {
        if (strcmp(cards[i].token, token) == 0 ||
            (cards[i].alias && strcmp(cards[i].alias, token) == 0))
            return &cards[i];
    }
    return NULL;
}

const st_sim_card_t *st_sim_card_by_number(const char *number)
{
    for (size_t i = 0; number && i < N_CARDS; i++)
        if (strcmp(cards[i].number, number) == 0)
            return &cards[i];
    return NULL;
}

int st_sim_luhn_ok(const char *number)
{
    size_t n = strlen(number);
    int sum = 0;
    if (n < 12 || n > 19)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = number[n - 1 - i];
        if (c < '0' || c > '9')
            return 0;
        int d = c - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* Stripe's customer-facing messages for the codes the test cards produce. */
const char *st_sim_decline_message(const char *code, const char *decline_code)
{
    if (code && strcmp(code, "expired_card") == 0)
        return "Your card has expired.";
    if (code && strcmp(code, "incorrect_cvc") == 0)
        return "Your card's security code is incorrect.";
    if (code && strcmp(code, "processing_error") == 0)
        return "An error occurred while processing your card. Try again in a little bit.";
    if (code && strcmp(code, "incorrect_number") == 0)
        return "Your card number is incorrect.";
    if (code && strcmp(code, "authentication_required") == 0)
        return "Your card was declined. This transaction requires authentication.";
    if (decline_code && strcmp(decline_code, "insufficient_funds") == 0)
        return "Your card has insufficient funds.";
    if (decline_code && strcmp(decline_code, "lost_card") == 0)
        return "Your card has been declined.";
    if (decline_code && strcmp(decline_code, "card_velocity_exceeded") == 0)
        return "Your card was declined for making repeated attempts too frequently or exceeding "
               "its amount limit.";
    return "Your card was declined.";
}
