/* cairn-collector key show: the collector's Ed25519 key in
 * <state_dir>/collector.key, created on first use. Agents pin its public key
 * (collector_key in agent.conf). */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "keys.h"


static void key_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector key show [-c FILE] [--state-dir DIR] [-q] [--json]\n\n"
		   "Prints the collector's public key (pin it in agent.conf as collector_key)\n"
		   "and its fingerprint. The key is created in <state_dir>/" COLLECTOR_KEY_FILE
		   " on first use.\n\n"
		   "  -q, --quiet           print only the public key (hex)\n");
	cli_usage_common(f);
}

int key_main(int argc, char *argv[])
{
	bool quiet = false;
	struct cli_extra extra = cli_quiet_option(&quiet);
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, key_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs != 1 || strcmp(cli.args[0], "show")) {
		if (cli.nargs)
			fprintf(stderr, "%s: unknown subcommand '%s'\n\n", cli.prog, cli.args[0]);
		else
			fprintf(stderr, "%s: missing subcommand (show)\n", cli.prog);
		cli_try_help(cli.prog);
		return 2;
	}
	struct collector_config cfg;
	if (cli_collector_config(&cli, &cfg))
		return 2;
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg.state_dir, COLLECTOR_KEY_FILE) >=
	    sizeof(path)) {
		fprintf(stderr, "%s: state_dir is too long\n", cli.prog);
		return 2;
	}
	struct keypair kp;
	bool created;
	rc = cli_key_load_or_create(&cli, path, &kp, &created);
	if (rc)
		return rc;
	char hex[KEY_ID_HEX_LEN + 1], fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_id_hex(kp.pk, hex);
	keys_fingerprint(kp.pk, fp);
	keys_wipe(&kp);
	if (cli.json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "public_key", hex, "fingerprint", fp,
				      "key_file", path, "created", created);
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
	} else if (quiet) {
		printf("%s\n", hex);
	} else {
		printf("public key:  %s\n", hex);
		printf("fingerprint: %s\n", fp);
		printf("key file:    %s%s\n", path, created ? " (created now)" : "");
		printf("\nPin it on every agent, in /etc/cairn/agent.conf:\n"
		       "  collector_key = %s\n",
		       hex);
	}
	return 0;
}
