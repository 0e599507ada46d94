/*
 * flowc_test.h — helpers shared by the settlec Check tests.
 *
 * Layer: tests. Paths are relative to the source tree (SETTLE_SOURCE_DIR,
 * set by CTest); every helper fails the running test on error.
 */
#ifndef FLOWC_TEST_H
#define FLOWC_TEST_H

#include <stddef.h>

#include "flowc/st_flowc.h"

/* Read a source-tree file; caller frees. */
char *ft_read(const char *rel, size_t *len);
/* Sorted names in a source-tree directory ending in `suffix`; caller frees all. */
char **ft_list(const char *rel_dir, const char *suffix, size_t *n);
/* Headline + "hint: ..." line of every diagnostic; caller frees. */
char *ft_diag_text(const st_flowc_result_t *r);
/* Compile text, failing the test if the call itself fails. */
st_flowc_result_t *ft_compile(const char *file, const char *src, int werror);

#endif
