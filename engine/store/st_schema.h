/*
 * st_schema.h — the migrations embedded from schema/NNNN_name.sql.
 *
 * Layer: store. The table is generated at build time (schema/embed.cmake)
 * and sorted by version; versions are unique and start at 1.
 */
#ifndef ST_SCHEMA_H
#define ST_SCHEMA_H

typedef struct st_schema_migration {
    int version;      /* NNNN from the file name */
    const char *name; /* file name, e.g. "0001_core.sql" */
    const char *sql;  /* whole file, NUL terminated */
} st_schema_migration_t;

extern const st_schema_migration_t st_schema_migrations[];
extern const unsigned st_schema_migration_count;

#endif
