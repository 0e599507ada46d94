/*
 * settlectl.c — the command table and main(): global options, dispatch,
 * help for every command.
 *
 * Layer: tools (settlectl). Registration by table: adding a command is one
 * entry here and a run function in its family's file.
 *
 * Invariants: `--help` works for every command without a database; global
 * options (--dsn, --json, --help) may appear before or after the command.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/st_dsn.h"
#include "ctl_int.h"

static const ctl_cmd_t commands[] = {
    {"list",
     "[--flow F] [--version HASH] [--state S] [--status S] [--older-than D] [--key K] "
     "[--waiting-for SIGNAL] [--limit N] [--after ID]",
     "list instances, filtered and paged",
     "Instances ordered by id (start time). Filters combine with AND:\n"
     "  --flow F            flow name\n"
     "  --version HASH      Program hash or a prefix of it (8+ hex digits)\n"
     "  --state S           current state name\n"
     "  --status S          running, waiting, completed, failed, cancelled, suspended\n"
     "  --older-than D      last transition at least D ago (3d, 12h, 30m) on the flows' clock\n"
     "  --key K             business key\n"
     "  --waiting-for SIG   waiting in a state that has an arm for signal SIG\n"
     "  --limit N           page size (default 50, at most 1000)\n"
     "  --after ID          the next page: pass the last id of the previous page\n",
     ctl_cmd_list},
    {"show", "ID", "an instance: row, variables, timeline, tasks, signals",
     "Shows the instance's status and why it waits, its current variables and a\n"
     "timeline of its history: transitions, activity attempts with outcomes,\n"
     "decline codes and errors, signals and timers, and operator repairs.\n",
     ctl_cmd_show},
    {"stuck", "[--retrying-for D] [--late D] [--flow F] [--limit N]",
     "instances that need a person, why, and what to do next",
     "Finds instances that need a person:\n"
     "  failed        ended in a fail state (permanently failed activity, hard decline)\n"
     "  retrying      an activity retrying for longer than --retrying-for (default 1h)\n"
     "  late          a wait whose wake time passed more than --late ago (default 5m)\n"
     "  orphaned      its owner node's lease lapsed, or no node is alive to run it\n"
     "  old_version   live on a Program that is no longer the flow's deployed version\n"
     "  suspended     held by an operator\n"
     "Each gets one line saying why and one saying what to do next (decline codes\n"
     "are explained from the decline table). Exit code 5 when anything is stuck.\n",
     ctl_cmd_stuck},
    {"stats", "[--minutes M]", "counts by flow, state and status; throughput; oldest wait",
     "Counts by flow and status (flow_counts), live instances by flow and state,\n"
     "transitions per minute over the last M minutes (default 5), the oldest\n"
     "waiting instance and the nodes that run flows.\n",
     ctl_cmd_stats},
    {"flows", "", "registered flows and versions with live instance counts",
     "Every registered Program version: flow, hash, deployed at/by, whether it is\n"
     "the version new instances start on, and its live instances by status.\n",
     ctl_cmd_flows},
    {"deploy", "FILE.flow", "compile a .flow file and make it the flow's current version",
     "Compiles FILE.flow with the settlec library; on errors prints them and\n"
     "registers nothing (exit 4). Otherwise registers the Program (idempotent by\n"
     "hash) and makes it the version new instances start on. Running instances\n"
     "stay on their version.\n",
     ctl_cmd_deploy},
    {"graph", "FLOW|ID [-o FILE.dot]", "the flow as Graphviz DOT, an instance's path highlighted",
     "Writes the flow's state machine as DOT (stdout, or FILE.dot with -o; with\n"
     "-o and Graphviz's `dot` installed, also FILE.svg). Given an instance id,\n"
     "the states it went through are blue and its current state is orange.\n",
     ctl_cmd_graph},
    {"signal", "ID NAME [PAYLOAD-JSON] [--reason TEXT]", "send a signal to an instance",
     "Stores signal NAME (payload: a JSON object, default {}) for the instance;\n"
     "settled delivers it when the instance waits for it. Recorded in history.\n",
     ctl_cmd_signal},
    {"cancel", "ID | --all FILTERS [--reason TEXT]", "cancel instances (runs their cancel path)",
     "Asks the engine to cancel: the flow's `on cancel` path runs (or it ends as\n"
     "cancelled). A suspended instance is resumed so that it can run the path\n"
     "(with resume's wait for an attempt in flight; --force skips it).\n"
     "Bulk: --all with list's filters (--flow --version --state --status\n"
     "--older-than --key --waiting-for); shows a progress bar on a terminal.\n",
     ctl_cmd_cancel},
    {"wake", "ID | --all FILTERS [--reason TEXT]", "fire a waiting instance's timer now",
     "Moves the wake time of a sleeping (or await-with-timeout) instance to now,\n"
     "so settled fires its wake/timeout arm at once. Bulk: --all with filters.\n",
     ctl_cmd_wake},
    {"retry", "ID | --all FILTERS [--reason TEXT]",
     "re-run a permanently failed activity, same idempotency key",
     "For an instance that failed because its activity failed permanently: puts\n"
     "it back into the activity's state with the task pending and a fresh retry\n"
     "budget. The idempotency key is unchanged, so Stripe and the ERP see at\n"
     "most one effect. Bulk: --all with list's filters, e.g. --status failed.\n",
     ctl_cmd_retry},
    {"suspend", "ID | --all FILTERS [--reason TEXT]", "hold live instances",
     "A suspended instance is never claimed: no timer fires and no new activity\n"
     "attempt starts (one already running finishes; its result is discarded\n"
     "and re-fetched with the same idempotency key on resume).\n",
     ctl_cmd_suspend},
    {"resume", "ID | --all FILTERS [--reason TEXT] [--force]", "release suspended instances",
     "Puts suspended instances back to the status they were suspended from.\n"
     "An instance in an activity state is resumed only once the activity's timeout\n"
     "has passed since the suspension (an attempt started before it may still be\n"
     "running on a node); --force skips that wait.\n",
     ctl_cmd_resume},
    {"migrate", "FROM TO [--map FILE] [--dry-run]",
     "move live instances of one Program version to another",
     "FROM and TO are versions of one flow (hash prefixes, see `settlectl flows`).\n"
     "The map file has one `OLD_STATE -> NEW_STATE` per line (# comments); a state\n"
     "it does not mention keeps its name. The compiler checks the map first (same\n"
     "kind of state, variables keep their type, no new inputs); with errors nothing\n"
     "moves (exit 4). Instances waiting in a sleep/await state (or suspended there)\n"
     "move, each in its own transaction recorded in history; instances running an\n"
     "activity are skipped with the reason: run migrate again once they wait.\n"
     "--dry-run lists what would move and changes nothing.\n",
     ctl_cmd_migrate},
    {"clock", "show | advance DURATION", "the virtual clock of settled --clock virtual",
     "show: the virtual time the nodes reached and the time asked for.\n"
     "advance D: ask every virtual node to move time forward by D (3d, 12h).\n",
     ctl_cmd_clock},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_overview(FILE *f)
{
    fprintf(f, "usage: settlectl [--dsn DSN] [--json] COMMAND [ARGS]\n\n"
               "The admin tool of settle: talks to PostgreSQL directly, so it works while\n"
               "settled is down. The database is --dsn or $SETTLE_DSN.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`settlectl COMMAND --help` explains a command. Exit codes: 0 ok, 1 error,\n"
               "2 usage, 3 not found, 4 refused, 5 stuck instances found.\n");
}

static void print_help(const ctl_cmd_t *cmd)
{
    printf("usage: settlectl %s %s\n\n%s\n%s\n", cmd->name, cmd->usage, cmd->summary, cmd->help);
    printf("Global options: --dsn DSN (else $SETTLE_DSN), --json (one JSON document).\n");
}

static void set_actor(ctl_t *c)
{
    const char *user = getenv("USER");
    struct passwd *pw = user ? NULL : getpwuid(getuid());
    if (user == NULL)
        user = pw ? pw->pw_name : "unknown";
    char host[HOST_NAME_MAX + 1] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(c->actor, sizeof c->actor, "settlectl:%.64s@%.64s", user, host);
}

int main(int argc, char **argv)
{
    ctl_t c;
    memset(&c, 0, sizeof c);
    c.prog = "settlectl";
    c.tty = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
    set_actor(&c);
    const char *dsn_flag = NULL;
    int help = 0;
    /* Pull the global options out of argv wherever they are. */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (args == NULL)
        return CTL_EXIT_ERROR;
    int n = 0, ended = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!ended && strcmp(a, "--") == 0) {
            ended = 1;
            args[n++] = argv[i];
        } else if (!ended && strcmp(a, "--json") == 0) {
            c.json = 1;
        } else if (!ended && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            help = 1;
        } else if (!ended && strcmp(a, "--dsn") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "settlectl: error: --dsn needs a value\n"
                                "  hint: --dsn 'host=... dbname=...' or set SETTLE_DSN\n");
                free(args);
                return CTL_EXIT_USAGE;
            }
            dsn_flag = argv[++i];
        } else if (!ended && strncmp(a, "--dsn=", 6) == 0) {
            dsn_flag = a + 6;
        } else {
            args[n++] = argv[i];
        }
    }
    int rc;
    if (n == 0) {
        print_overview(help ? stdout : stderr);
        rc = help ? CTL_EXIT_OK : CTL_EXIT_USAGE;
    } else if (strcmp(args[0], "help") == 0) {
        const ctl_cmd_t *cmd = NULL;
        for (size_t i = 0; n > 1 && i < NCOMMANDS; i++)
            if (strcmp(commands[i].name, args[1]) == 0)
                cmd = &commands[i];
        if (cmd != NULL)
            print_help(cmd);
        else
            print_overview(stdout);
        rc = CTL_EXIT_OK;
    } else {
        const ctl_cmd_t *cmd = NULL;
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (strcmp(commands[i].name, args[0]) == 0)
                cmd = &commands[i];
        if (cmd == NULL) {
            fprintf(stderr,
                    "settlectl: error: unknown command '%s'\n"
                    "  hint: `settlectl --help` lists the commands\n",
                    args[0]);
            rc = CTL_EXIT_USAGE;
        } else if (help) {
            print_help(cmd);
            rc = CTL_EXIT_OK;
        } else {
            c.dsn = st_dsn_pick(dsn_flag);
            rc = cmd->run(&c, n, args);
        }
    }
    ctl_db_close(&c);
    free(args);
    return rc;
}
