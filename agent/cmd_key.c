/* cairn-agent keygen | id: the agent's Ed25519 identity in <state_dir>/agent.key. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "keys.h"

#define AGENT_KEY_FILE "agent.key"

static void keygen_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-agent keygen [-c FILE] [--state-dir DIR] [-o KEY=VAL] [--json]\n\n"
		   "Creates the agent's Ed25519 key in <state_dir>/" AGENT_KEY_FILE
		   " (mode 0600) unless it\n"
		   "exists, and prints the agent id and fingerprint.\n");
	cli_usage_common(f);
}

static void id_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-agent id [-c FILE] [--state-dir DIR] [-q] [--json]\n\n"
		   "Prints the agent id (hex of the public key) and its fingerprint.\n\n"
		   "  -q, --quiet           print only the agent id\n");
	cli_usage_common(f);
}

static void print_identity(const struct cli *cli, const struct keypair *kp, const char *path,
			   int created, bool quiet)
{
	char id[KEY_ID_HEX_LEN + 1], fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_id_hex(kp->pk, id);
	keys_fingerprint(kp->pk, fp);
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "agent_id", id, "fingerprint", fp,
				      "key_file", path);
		if (created >= 0)
			json_object_set_new(o, "created", json_boolean(created));
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
	} else if (quiet) {
		printf("%s\n", id);
	} else {
		printf("agent id:    %s\n", id);
		printf("fingerprint: %s\n", fp);
		printf("key file:    %s%s\n", path,
		       created > 0 ? " (created now)" : created == 0 ? " (already existed)" : "");
	}
}

/* Shared start of keygen and id: options, no operands, the configuration and
 * the key's path. CLI_CONTINUE, or the exit code to return. */
static int key_command_start(int argc, char *argv[], const struct cli_extra *extra,
			     void (*usage)(FILE *), struct cli *cli, char path[static PATH_MAX])
{
	int rc = cli_parse(cli, "cairn-agent", argc, argv, extra, usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli->nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cli->prog, cli->args[0]);
		cli_try_help(cli->prog);
		return 2;
	}
	struct agent_config cfg;
	if (cli_agent_config(cli, &cfg))
		return 2;
	if ((size_t)snprintf(path, PATH_MAX, "%s/%s", cfg.state_dir, AGENT_KEY_FILE) >= PATH_MAX) {
		fprintf(stderr, "%s: state_dir is too long\n", cli->prog);
		return 2;
	}
	return CLI_CONTINUE;
}

int keygen_main(int argc, char *argv[])
{
	struct cli cli;
	char path[PATH_MAX];
	int rc = key_command_start(argc, argv, NULL, keygen_usage, &cli, path);
	if (rc != CLI_CONTINUE)
		return rc;
	struct keypair kp;
	bool created;
	rc = cli_key_load_or_create(&cli, path, &kp, &created);
	if (rc)
		return rc;
	print_identity(&cli, &kp, path, created, false);
	keys_wipe(&kp);
	return 0;
}

int id_main(int argc, char *argv[])
{
	bool quiet = false;
	struct cli_extra extra = cli_quiet_option(&quiet);
	struct cli cli;
	char path[PATH_MAX];
	int rc = key_command_start(argc, argv, &extra, id_usage, &cli, path);
	if (rc != CLI_CONTINUE)
		return rc;
	struct keypair kp;
	struct errbuf eb;
	rc = keys_load(path, &kp, &eb);
	if (rc == -ENOENT) {
		fprintf(stderr, "%s: no agent key at %s yet; create it with 'cairn-agent keygen%s%s'\n",
			cli.prog, path, cli.state_dir ? " --state-dir " : "",
			cli.state_dir ? cli.state_dir : "");
		return 1;
	}
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		return 1;
	}
	print_identity(&cli, &kp, path, -1, quiet);
	keys_wipe(&kp);
	return 0;
}
