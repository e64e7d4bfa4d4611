/* cairn-collector key show|create: the collector's Ed25519 key in
 * <state_dir>/collector.key. Agents pin its public key (collector_key in
 * agent.conf). Only `key create` and `serve` create it: `key show` with a
 * mistyped --state-dir must not make a directory and a new identity. */
#include <errno.h>
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
	fprintf(f, "Usage: cairn-collector key show|create [-c FILE] [--state-dir DIR] [-q] [--json]\n\n"
		   "show    prints the collector's public key (pin it in agent.conf as\n"
		   "        collector_key) and its fingerprint; exit 3 when there is no key in\n"
		   "        <state_dir>/" COLLECTOR_KEY_FILE " (nothing is created)\n"
		   "create  the same, creating the key (and the state dir) when missing;\n"
		   "        'serve' does this on its first start too\n\n"
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
	if (cli.nargs != 1 || (strcmp(cli.args[0], "show") && strcmp(cli.args[0], "create"))) {
		if (cli.nargs)
			fprintf(stderr, "%s: unknown subcommand '%s'\n", cli.prog, cli.args[0]);
		else
			fprintf(stderr, "%s: missing subcommand (show or create)\n", cli.prog);
		cli_try_help(cli.prog);
		return 2;
	}
	bool create = !strcmp(cli.args[0], "create");
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
	bool created = false;
	if (create) {
		rc = cli_key_load_or_create(&cli, path, &kp, &created);
		if (rc)
			return rc;
	} else {
		struct errbuf eb;
		rc = keys_load(path, &kp, &eb);
		if (rc == -ENOENT) {
			fprintf(stderr, "%s: no collector key at %s: check --state-dir (or -c); "
					"'cairn-collector key create' or 'serve' creates it\n",
				cli.prog, path);
			return 3;
		}
		if (rc) {
			fprintf(stderr, "%s: %s%s\n", cli.prog, eb.msg,
				rc == -EACCES ? " (permission denied: run as the service user, e.g. "
						"sudo -u cairn, or as root)"
					      : "");
			return 1;
		}
	}
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
