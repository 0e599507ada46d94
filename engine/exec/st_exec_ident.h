/*
 * st_exec_ident.h — a node's identity, and the OS lock that proves no other
 * live process on this machine runs as it.
 *
 * Layer: exec. Used by the daemon before the executor registers.
 *
 * A node identity is "<host name>/<node name>". Its lock is an exclusive
 * flock(2) on a file in a state directory, named after the node name and a
 * hash of the database's DSN without its password (never a secret in a
 * file name). The kernel drops the lock the moment its process dies, even
 * by SIGKILL, so whoever holds it knows every earlier process of that
 * identity on this machine is gone, and may stop their node rows at once
 * (st_store_node_register_fenced) instead of waiting for their leases.
 *
 * The proof holds only among processes that use the same state directory
 * and spell the DSN the same way, and only on one machine: two machines
 * with the same host name must not run the same node name on one database.
 *
 * Ownership: st_exec_ident_acquire gives a handle the caller releases with
 * st_exec_ident_release (which drops the lock; NULL is accepted). The lock
 * file stays: removing it would let a newcomer lock a fresh file while an
 * old holder still runs on the unlinked one. The descriptor is close-on-
 * exec, so child processes never inherit the lock.
 */
#ifndef ST_EXEC_IDENT_H
#define ST_EXEC_IDENT_H

#include <stddef.h>

#include "common/st_err.h"

typedef struct st_exec_ident st_exec_ident_t;

/* Longest node name accepted (bytes). */
#define ST_EXEC_IDENT_NAME_MAX 100

/*
 * Take the lock of node `name` on the database `dsn`. name NULL: the host
 * name, or if a live process holds that, "<host>-2", "<host>-3", ... (the
 * first free one), so several nodes on one host need no names and a
 * restarted one takes back the identity its dead predecessor held.
 * state_dir NULL: st_exec_ident_default_dir (created 0700 when missing).
 * ST_STATE when a live process holds the lock (named with its pid); ST_IO
 * when the directory or file cannot be used; ST_INVAL for a bad name.
 */
int st_exec_ident_acquire(const char *state_dir, const char *name, const char *dsn,
                          st_exec_ident_t **out, st_err_t *err);

/* The node name ("worker-1", or the host name by default). */
const char *st_exec_ident_name(const st_exec_ident_t *id);
/* The stored identity: "<host name>/<node name>". */
const char *st_exec_ident_key(const st_exec_ident_t *id);
/* "settled-<16 hex digits of the identity's SHA-256>": the application_name
 * of the node's database sessions, so that a successor proven by the lock
 * can end the sessions a killed process left running. */
const char *st_exec_ident_tag(const st_exec_ident_t *id);
/* dsn with application_name set to the tag (freshly allocated; the caller
 * frees it), or NULL when out of memory. */
char *st_exec_ident_dsn(const st_exec_ident_t *id, const char *dsn);
/* The lock file held. */
const char *st_exec_ident_path(const st_exec_ident_t *id);

void st_exec_ident_release(st_exec_ident_t *id);

/* The default state directory: /tmp/settle-<uid>. Returns buf. */
const char *st_exec_ident_default_dir(char *buf, size_t cap);

#endif
