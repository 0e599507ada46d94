/*
 * fuzz_sim_form.c — libFuzzer target for stripe-sim's form decoder.
 *
 * Any input must either decode into a well-formed object tree (which then
 * serialises and re-decodes as a query-style put) or fail with ST_PARSE and
 * no output; ASan/UBSan catch memory errors and leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *out = NULL;
    st_err_t err;
    int rc = st_sim_form_decode((const char *)data, size, &out, &err);
    if (rc == 0) {
        if (!json_is_object(out))
            abort();
        json_decref(out);
    } else if (out != NULL || rc != ST_PARSE) {
        abort();
    }
    return 0;
}
