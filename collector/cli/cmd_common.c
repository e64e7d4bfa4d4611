/* What every read command shares on the command line side. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "format.h"
#include "read.h"
#include "snapshot.h"

int cmd_exit_code(int rc)
{
	switch (rc) {
	case 0:
		return CMD_EXIT_OK;
	case -ENOENT:
		return CMD_EXIT_NOTFOUND;
	case -EEXIST: /* ambiguous: the person must say more */
	case -EINVAL:
		return CMD_EXIT_USAGE;
	default:
		return CMD_EXIT_FAIL;
	}
}

int cmd_open_store(struct read_ctx *r, struct cli *cli, bool writable)
{
	struct collector_config cfg;
	memset(r, 0, sizeof(*r));
	format_set_wide(cli->wide);
	format_set_sort(cli->sort);
	if (cli_collector_config(cli, &cfg))
		return CMD_EXIT_USAGE;
	snapshot_set_catalog(cfg.catalog);
	snapshot_set_waves(cfg.wave_max_hosts, cfg.wave_min_hosts, cfg.wave_critical_after);
	struct errbuf eb = { { 0 } };
	if (read_open_config(r, &cfg, writable, &eb)) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return CMD_EXIT_FAIL;
	}
	return 0;
}
