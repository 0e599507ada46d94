/*
 * st_sim_server.h — the HTTP face of stripe-sim (libmicrohttpd).
 *
 * Binds to 127.0.0.1 only. Runs MHD's internal epoll loop with a thread
 * pool; each request is collected (body capped at 1 MiB), decoded into a
 * parameter tree and handed to st_sim_dispatch.
 *
 * Ownership: the server borrows sim, which must outlive it.
 */
#ifndef ST_SIM_SERVER_H
#define ST_SIM_SERVER_H

#include <stdint.h>

#include "st_sim.h"

typedef struct st_sim_server st_sim_server_t;

/* port 0 picks a free port; st_sim_server_port tells which. */
int st_sim_server_start(st_sim_t *sim, uint16_t port, unsigned threads, int quiet,
                        st_sim_server_t **out, st_err_t *err);
uint16_t st_sim_server_port(const st_sim_server_t *srv);
void st_sim_server_stop(st_sim_server_t *srv);

#endif
