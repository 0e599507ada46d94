/*
 * st_exec_ident.c — take the node lock: choose the identity, find or make
 * the state directory, flock the identity's file, write our pid into it.
 *
 * Layer: exec (libc, libcrypto for the DSN hash). See st_exec_ident.h for
 * what the lock proves. Invariants: the lock file is opened close-on-exec
 * and never through a symlink; the default directory is used only when it
 * belongs to this user and nobody else may write it; no part of the DSN but
 * a hash of its password-free form reaches the file system.
 */
#include "exec/st_exec_ident.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "common/st_dsn.h"
#include "common/st_hex.h"

#define IDENT_PATH_MAX   512
#define IDENT_NAME_TRIES 64

struct st_exec_ident {
    int fd;
    char name[ST_EXEC_IDENT_NAME_MAX + 1];
    char key[ST_EXEC_IDENT_NAME_MAX + 72];
    char tag[8 + 16 + 1];
    char path[IDENT_PATH_MAX];
};

const char *st_exec_ident_default_dir(char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/settle-%u", (unsigned)getuid());
    return buf;
}

static int check_name(const char *name, st_err_t *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > ST_EXEC_IDENT_NAME_MAX)
        return st_err_set(err, ST_INVAL, "node name must have 1 to %d bytes, got %zu",
                          ST_EXEC_IDENT_NAME_MAX, n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f || name[i] == '/')
            return st_err_set(err, ST_INVAL, "node name may not contain '/' or control characters");
    return 0;
}

/* The directory, made 0700 when missing; the default one must be ours. */
static int open_dir(const char *dir, int is_default, st_err_t *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        st_err_set(err, ST_IO, "cannot create the state directory %s: %s", dir, strerror(errno));
        st_err_hint(err, "create it, or name a writable one with --state-dir DIR");
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (is_default ? O_NOFOLLOW : 0));
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        st_err_set(err, ST_IO, "cannot open the state directory %s: %s", dir, strerror(errno));
        st_err_hint(err, "name a directory of your own with --state-dir DIR");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (is_default && (st.st_uid != getuid() || (st.st_mode & 022) != 0)) {
        close(fd);
        st_err_set(err, ST_IO,
                   "the state directory %s belongs to another user or others may write it", dir);
        st_err_hint(err, "remove it, or name a directory of your own with --state-dir DIR");
        return -1;
    }
    return fd;
}

/* node-<name, file-safe>-<hash of name and password-free DSN>.lock */
static void lock_file_name(const char *name, const char *dsn, char *out, size_t cap)
{
    char buf[ST_EXEC_IDENT_NAME_MAX + 1 + 1024], safe[ST_EXEC_IDENT_NAME_MAX + 1], hex[2 * 8 + 1];
    unsigned char md[SHA256_DIGEST_LENGTH];
    size_t len = strlen(name) + 1; /* the name, its NUL, the password-free DSN */
    memcpy(buf, name, len);
    st_dsn_redact(dsn != NULL ? dsn : "", buf + len, sizeof buf - len);
    len += strlen(buf + len);
    SHA256((const unsigned char *)buf, len, md);
    size_t i = 0;
    for (; name[i] != '\0' && i < 40; i++) {
        char ch = name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || ch == '.';
        safe[i] = ok ? ch : '_';
    }
    safe[i] = '\0';
    snprintf(out, cap, "node-%s-%s.lock", safe, st_hex_encode(md, 8, hex));
}

/* The pid a live holder wrote into the file, or 0. */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

/* 0: locked; 1: a live process holds it (*pid); -1: err set. */
static int try_lock(int dirfd, const char *dir, const char *fname, int *fd_out, long *pid,
                    st_err_t *err)
{
    int fd = openat(dirfd, fname, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        st_err_set(err, ST_IO, "cannot open the node lock %s/%s: %s", dir, fname, strerror(errno));
        st_err_hint(err, "check the state directory's permissions, or use --state-dir DIR");
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        *pid = e == EWOULDBLOCK ? holder_pid(fd) : 0;
        close(fd);
        if (e == EWOULDBLOCK)
            return 1;
        st_err_set(err, ST_IO, "cannot lock %s/%s: %s", dir, fname, strerror(e));
        return -1;
    }
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        st_err_set(err, ST_IO, "cannot write the node lock %s/%s: %s", dir, fname, strerror(errno));
        close(fd);
        return -1;
    }
    *fd_out = fd;
    return 0;
}

static void held_error(st_err_t *err, const char *name, long pid, const char *path)
{
    st_err_set(err, ST_STATE, "node '%s' already runs on this machine: process %ld holds %s", name,
               pid, path);
    st_err_hint(err, "a node identity runs once at a time: stop that process first, or start this "
                     "one as another node with --node NAME");
}

static int lock_as(st_exec_ident_t *id, int dirfd, const char *dir, const char *name,
                   const char *dsn, long *pid, st_err_t *err)
{
    char fname[160];
    lock_file_name(name, dsn, fname, sizeof fname);
    int rc = try_lock(dirfd, dir, fname, &id->fd, pid, err);
    if (rc != 0)
        return rc;
    char host[64] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(id->name, sizeof id->name, "%s", name);
    snprintf(id->key, sizeof id->key, "%s/%s", host, name);
    unsigned char md[SHA256_DIGEST_LENGTH];
    char hex[2 * 8 + 1];
    SHA256((const unsigned char *)id->key, strlen(id->key), md);
    snprintf(id->tag, sizeof id->tag, "settled-%s", st_hex_encode(md, 8, hex));
    snprintf(id->path, sizeof id->path, "%s/%s", dir, fname);
    return 0;
}

/* The host name, or host-2, host-3, ...: the first whose lock is free. */
static int lock_default(st_exec_ident_t *id, int dirfd, const char *dir, const char *dsn,
                        st_err_t *err)
{
    char host[64] = "localhost", name[ST_EXEC_IDENT_NAME_MAX + 1];
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    for (int i = 1; i <= IDENT_NAME_TRIES; i++) {
        if (i == 1)
            snprintf(name, sizeof name, "%s", host);
        else
            snprintf(name, sizeof name, "%s-%d", host, i);
        long pid = 0;
        int rc = lock_as(id, dirfd, dir, name, dsn, &pid, err);
        if (rc <= 0)
            return rc;
    }
    st_err_set(err, ST_STATE, "nodes %s to %s-%d already run on this machine", host, host,
               IDENT_NAME_TRIES);
    st_err_hint(err, "stop some of them, or name this node with --node NAME");
    return -1;
}

int st_exec_ident_acquire(const char *state_dir, const char *name, const char *dsn,
                          st_exec_ident_t **out, st_err_t *err)
{
    *out = NULL;
    if (name != NULL && check_name(name, err) != 0)
        return ST_INVAL;
    char dir[IDENT_PATH_MAX - 200];
    if (state_dir != NULL && strlen(state_dir) >= sizeof dir)
        return st_err_set(err, ST_INVAL, "state directory path too long (at most %zu bytes)",
                          sizeof dir - 1);
    if (state_dir != NULL)
        snprintf(dir, sizeof dir, "%s", state_dir);
    else
        st_exec_ident_default_dir(dir, sizeof dir);
    st_exec_ident_t *id = calloc(1, sizeof *id);
    if (id == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory");
    id->fd = -1;
    int dirfd = open_dir(dir, state_dir == NULL, err);
    int rc = dirfd < 0 ? -1 : 0;
    if (rc == 0 && name == NULL) {
        rc = lock_default(id, dirfd, dir, dsn, err);
    } else if (rc == 0) {
        long pid = 0;
        rc = lock_as(id, dirfd, dir, name, dsn, &pid, err);
        if (rc == 1) {
            char fname[160], path[IDENT_PATH_MAX];
            lock_file_name(name, dsn, fname, sizeof fname);
            snprintf(path, sizeof path, "%s/%s", dir, fname);
            held_error(err, name, pid, path);
        }
    }
    if (dirfd >= 0)
        close(dirfd);
    if (rc != 0) {
        free(id);
        return err != NULL && err->code != 0 ? err->code : ST_IO;
    }
    *out = id;
    return 0;
}

const char *st_exec_ident_name(const st_exec_ident_t *id)
{
    return id->name;
}

const char *st_exec_ident_key(const st_exec_ident_t *id)
{
    return id->key;
}

const char *st_exec_ident_tag(const st_exec_ident_t *id)
{
    return id->tag;
}

char *st_exec_ident_dsn(const st_exec_ident_t *id, const char *dsn)
{
    size_t n = strlen(dsn) + sizeof id->tag + 32;
    char *out = malloc(n);
    if (out == NULL)
        return NULL;
    if (strstr(dsn, "://") == NULL) /* key=value: a later keyword wins */
        snprintf(out, n, "%s application_name=%s", dsn, id->tag);
    else
        snprintf(out, n, "%s%capplication_name=%s", dsn, strchr(dsn, '?') ? '&' : '?', id->tag);
    return out;
}

const char *st_exec_ident_path(const st_exec_ident_t *id)
{
    return id->path;
}

void st_exec_ident_release(st_exec_ident_t *id)
{
    if (id == NULL)
        return;
    if (id->fd >= 0)
        close(id->fd); /* drops the lock; the file stays (see the header) */
    free(id);
}
