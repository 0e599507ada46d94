# decline_embed.cmake — write a C file holding decline_codes.tsv as bytes,
# with tabs, CR and LF turned into NUL so fields are C strings.
# Run with -DIN=<tsv> -DOUT=<c file>.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REPLACE "0x09," "0x00," bytes "${bytes}")
string(REPLACE "0x0a," "0x00," bytes "${bytes}")
string(REPLACE "0x0d," "0x00," bytes "${bytes}")
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
set(body "/* Generated from decline_codes.tsv by decline_embed.cmake. Do not edit. */\n")
string(APPEND body "const char st_flowc_decline_tsv[] = {${bytes} 0};\n")
string(APPEND body "const unsigned long st_flowc_decline_tsv_len = ${len};\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
