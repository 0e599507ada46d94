/*
 * http_flows.h — small flows the HTTP tests deploy.
 */
#ifndef HTTP_FLOWS_H
#define HTTP_FLOWS_H

/* Waits for invoice.paid (or a day); correlates on the invoice id. */
static const char FLOW_WAIT_INVOICE[] = "flow wait_invoice\n"
                                        "input invoice: string\n"
                                        "input amount: money\n"
                                        "correlate invoice = invoice\n"
                                        "state wait {\n"
                                        "  await timeout 1d\n"
                                        "  on signal invoice.paid -> paid\n"
                                        "  on timeout -> expired\n"
                                        "}\n"
                                        "final paid\n"
                                        "final expired\n";

#endif
