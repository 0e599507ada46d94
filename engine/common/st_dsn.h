/*
 * st_dsn.h — find the database a command should talk to, and print it
 * without secrets.
 *
 * Layer: common (libc only), used by the commands. The DSN comes from --dsn, else $SETTLE_DSN; a
 * password inside it is never printed (st_dsn_redact).
 */
#ifndef ST_DSN_H
#define ST_DSN_H

#include <stddef.h>

/* The DSN to use: `flag` if non-NULL, else $SETTLE_DSN, else NULL. */
const char *st_dsn_pick(const char *flag);

/*
 * Copy `dsn` into buf with any password replaced by "***" (both the
 * key=value form "password=..." and the URI form "user:pass@"). Returns buf.
 */
const char *st_dsn_redact(const char *dsn, char *buf, size_t cap);

#endif
