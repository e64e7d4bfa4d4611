/* cairn-agent subcommands: each is its own main, in its own file. */
#ifndef CAIRN_AGENT_COMMANDS_H
#define CAIRN_AGENT_COMMANDS_H

#include <stdint.h>

#include "cairn.pb-c.h"
#include "collect.h"

int keygen_main(int argc, char *argv[]);   /* cmd_key.c */
int id_main(int argc, char *argv[]);       /* cmd_key.c */
int check_config_main(int argc, char *argv[]); /* cmd_config.c */
int collect_main(int argc, char *argv[]);  /* cmd_collect.c */
int run_main(int argc, char *argv[]);      /* cmd_run.c */
int status_main(int argc, char *argv[]);   /* cmd_status.c */

struct capture;

/* `cairn-agent collect --only sock` (cmd_collect.c): one socket sample
 * aggregated into a single-sample window, or with window_ms > 0 samples every
 * interval_ms for window_ms with the flows of cap (may be NULL or inactive)
 * merged in. Free the results with cairn__connection_window__free_unpacked /
 * cairn__listener_set__free_unpacked (NULL allocator). 0 or a negative errno. */
int cmd_collect_sock(struct collect_ctx *ctx, int64_t now_ms, uint64_t window_ms,
		     uint32_t interval_ms, struct capture *cap, Cairn__ConnectionWindow **conns,
		     Cairn__ListenerSet **listeners);

/* Prints the usage text to f (stdout for --help, stderr for errors). */
void agent_usage(void *f);

#endif
