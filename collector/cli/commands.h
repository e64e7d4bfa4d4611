/* cairn-collector subcommands: each is its own main, in its own file. */
#ifndef CAIRN_COLLECTOR_COMMANDS_H
#define CAIRN_COLLECTOR_COMMANDS_H

/* The collector's secret key, in its state_dir. */
#define COLLECTOR_KEY_FILE "collector.key"

int key_main(int argc, char *argv[]);          /* cmd_key.c: key show */
int check_config_main(int argc, char *argv[]); /* cmd_config.c */
int serve_main(int argc, char *argv[]);        /* cmd_serve.c */
int agents_main(int argc, char *argv[]);       /* cmd_agents.c */
int hosts_main(int argc, char *argv[]);        /* cmd_hosts.c */
/* analysis (cmd_host.c, cmd_deps.c, cmd_apps.c) */
int host_main(int argc, char *argv[]);
int deps_main(int argc, char *argv[]);
int apps_main(int argc, char *argv[]);
/* planning (cmd_plan.c, cmd_migrate.c, cmd_export.c) */
int readiness_main(int argc, char *argv[]);
int sizing_main(int argc, char *argv[]);
int cost_main(int argc, char *argv[]);
int plan_main(int argc, char *argv[]);
int migrate_main(int argc, char *argv[]);
int progress_main(int argc, char *argv[]);
int validate_main(int argc, char *argv[]);
int export_main(int argc, char *argv[]);
/* the console (cmd_web.c) and its tokens (cmd_token.c) */
int web_main(int argc, char *argv[]);
/* agents accept|reject|revoke as a function (cmd_agents.c), for the console. */
struct read_ctx;
struct errbuf;
int agents_enroll(struct read_ctx *r, const char *needle, const char *verb, char id_hex[static 65],
		  struct errbuf *eb);
int token_main(int argc, char *argv[]);
int store_main(int argc, char *argv[]);        /* cmd_store.c: store stats */
int tag_main(int argc, char *argv[]);          /* cmd_tag.c: tag set|rm|list */
int import_main(int argc, char *argv[]);       /* cmd_import.c: servers without agents */
int notify_main(int argc, char *argv[]);       /* cmd_notify.c: progress of migration tools */

void collector_usage(void *f);

/* Exit codes of the DESIGN contract, the same in every command. */
#define CMD_EXIT_OK 0
#define CMD_EXIT_FAIL 1       /* runtime failure */
#define CMD_EXIT_USAGE 2      /* usage or configuration error */
#define CMD_EXIT_NOTFOUND 3   /* what was named does not exist */
#define CMD_EXIT_CHECK 4      /* a check failed (validate) */

/* The exit code for a lookup's or a write's result: 0 -> 0, -ENOENT (what
 * was named does not exist) -> 3, -EEXIST (ambiguous) and -EINVAL -> 2,
 * anything else -> 1. */
int cmd_exit_code(int rc);

#include <stdbool.h>

struct cli;
struct read_ctx;

/* Opens the store named by a parsed command line (common options of
 * common/cli.h: -c, --state-dir, -o) for a read command (writable = true for
 * the decision commands). Prints "prog: message" to stderr itself and
 * returns the exit code to use on failure (1 or 2), or 0. cmd_common.c. */
int cmd_open_store(struct read_ctx *r, struct cli *cli, bool writable);

#endif
