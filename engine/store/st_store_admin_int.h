/*
 * st_store_admin_int.h — private to the store's operator files
 * (st_store_admin.c, st_store_reads.c, st_store_repair.c).
 *
 * Layer: store (internal).
 */
#ifndef ST_STORE_ADMIN_INT_H
#define ST_STORE_ADMIN_INT_H

#include "store/st_store_admin.h"
#include "store/st_store_int.h"

/* Run statement q as one transaction and keep its rows as text cells
 * (out is fresh; freed by st_store_rows_free, also on error). */
int st_store_admin_rows(st_store_conn_t *c, st_store_q_t q, const st_store_params_t *p,
                        st_store_rows_t *out, st_err_t *err);

#endif
