/* cairn-agent: discovery agent. Dispatches to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cairn-config.h"
#if CAIRN_PORTABLE
#include <nss.h>
#endif

#include "commands.h"
#include "log.h"

struct command {
	const char *name;
	int (*main)(int argc, char *argv[]);
	const char *summary;
};

static const struct command commands[] = {
	{ "keygen", keygen_main, "create the agent key in the state dir (if missing)" },
	{ "id", id_main, "print the agent id and fingerprint" },
	{ "check-config", check_config_main, "validate a configuration file" },
	{ "collect", collect_main, "print this host's inventory (host, perf, processes, sockets, packages)" },
	{ "run", run_main, "run the agent daemon (sample, spool, stream to the collector)" },
	{ "status", status_main, "show connection, last ACK, spool depth and errors" },
};

void agent_usage(void *out)
{
	FILE *f = out;
	fprintf(f, "Usage: cairn-agent [--help] [--version] COMMAND [ARGS]\n\n"
		   "Discovers what runs on this server and streams it to cairn-collector.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'cairn-agent COMMAND --help' for a command's options.\n"
		   "Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}

/* The portable agent carries its own (static) glibc, which can only use the
 * NSS backends built into it: "files" and "dns". A host's nsswitch.conf may
 * name others (sss, ldap, systemd, myhostname); the static glibc would try to
 * dlopen the host's libnss_*.so, built against the host's libc, which at best
 * fails and at worst loads a second libc into the process. So the databases
 * the agent uses are pinned to the built-in backends (docs/operations.md:
 * names only in LDAP/SSSD are not resolved by the portable agent). */
static void portable_nss(void)
{
#if CAIRN_PORTABLE
	__nss_configure_lookup("hosts", "files dns");
	__nss_configure_lookup("passwd", "files");
	__nss_configure_lookup("group", "files");
#endif
}

int main(int argc, char *argv[])
{
	log_init("cairn-agent", LOGL_INFO);
	portable_nss();
	if (argc < 2) {
		agent_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		agent_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("cairn-agent %s\n", CAIRN_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "cairn-agent: unknown command '%s'\n", argv[1]);
	cli_try_help("cairn-agent");
	return 2;
}
