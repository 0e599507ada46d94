# embed_openapi.cmake — write st_http_openapi_gen.c holding openapi.json as
# a byte array (no escaping needed). Run with -DIN= -DOUT=.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
set(body "/* Generated from engine/http/openapi.json by embed_openapi.cmake. Do not edit. */\n")
string(APPEND body "extern const char st_http_openapi_json[];\n")
string(APPEND body "const char st_http_openapi_json[] = {${bytes} 0};\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
