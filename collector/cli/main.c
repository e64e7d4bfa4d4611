/* cairn-collector: receives agents' batches and answers questions about them.
 * Dispatches to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "log.h"

struct command {
	const char *name;
	int (*main)(int argc, char *argv[]);
	const char *summary;
};

static const struct command commands[] = {
	{ "serve", serve_main, "accept agent connections and store their batches" },
	{ "agents", agents_main, "list agents and their health; accept, reject, revoke" },
	{ "hosts", hosts_main, "list hosts with last-seen time and record counts" },
	{ "host", host_main, "one host: facts, utilization, processes, listeners, dependencies" },
	{ "deps", deps_main, "dependency map: host or service level, table, JSON or DOT" },
	{ "apps", apps_main, "applications and shared infrastructure; rename, pin, merge, split" },
	{ "readiness", readiness_main, "migration readiness, reasons and strategy per host and application" },
	{ "sizing", sizing_main, "right-sized instance and storage per host, with prices" },
	{ "cost", cost_main, "monthly cost per host, application and total: as-is vs right-sized" },
	{ "plan", plan_main, "plan waves|export|import: migration waves by ordered rules" },
	{ "migrate", migrate_main, "migrate set|history: track migration state per host and application" },
	{ "progress", progress_main, "migration progress by wave and application" },
	{ "tag", tag_main, "tag set|rm|list: key=value labels on hosts and applications (environment, ...)" },
	{ "notify", notify_main, "notify STREAM TASK --status S: a migration tool's progress; list, streams, rm" },
	{ "validate", validate_main, "compare a migrated host with its source" },
	{ "export", export_main, "export mhub-csv | ads-csv DIR | json | dot" },
	{ "web", web_main, "the web console and JSON API (its own process)" },
	{ "token", token_main, "token create|list|revoke: bearer tokens of the console and API" },
	{ "import", import_main, "import mhub-csv FILE | rvtools DIR: servers without agents" },
	{ "store", store_main, "store stats: size per DB, per day and per host" },
	{ "key", key_main, "key show|create: print (create) the collector's public key (to pin in agent.conf)" },
	{ "check-config", check_config_main, "validate a configuration file" },
};

void collector_usage(void *out)
{
	FILE *f = out;
	fprintf(f, "Usage: cairn-collector [--help] [--version] COMMAND [ARGS]\n\n"
		   "Stores what cairn agents discover and turns it into a dependency map,\n"
		   "applications, readiness, sizing, cost and wave plans.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nEvery read command takes --state-dir DIR (or -c FILE) and --json.\n"
		   "Run 'cairn-collector COMMAND --help' for a command's options.\n"
		   "Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error,\n"
		   "3 not found (a host, application or agent named), 4 check failed (validate).\n");
}

int main(int argc, char *argv[])
{
	log_init("cairn-collector", LOGL_INFO);
	if (argc < 2) {
		collector_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		collector_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("cairn-collector %s\n", CAIRN_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "cairn-collector: unknown command '%s'\n", argv[1]);
	cli_try_help("cairn-collector");
	return 2;
}
