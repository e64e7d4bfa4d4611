/* cairn-collector token create NAME --role viewer|operator|admin | list |
 * revoke NAME: the bearer tokens of the web console and API (token.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "docs.h"
#include "format.h"
#include "read.h"
#include "token.h"

enum { OPT_ROLE = CLI_OPT_USER };

static void token_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector token create NAME --role viewer|operator|admin\n"
		   "       cairn-collector token list [--json]\n"
		   "       cairn-collector token revoke NAME\n\n"
		   "Bearer tokens for the web console and API. create prints the token once\n"
		   "(only its hash is stored). viewer reads; operator also records decisions\n"
		   "(applications, migration status); admin also enrolls agents. Creating and\n"
		   "revoking go to the audit log.\n\n");
	cli_usage_common(f);
}

static int role_opt(int opt, const char *arg, void *ctx)
{
	if (opt != OPT_ROLE)
		return -1;
	if (token_role_parse(arg, ctx)) {
		fprintf(stderr, "cairn-collector token: --role: '%s' is not viewer, operator or admin\n",
			arg);
		return -1;
	}
	return 0;
}

static int token_list_cmd(struct cli *cli, struct read_ctx *r)
{
	struct errbuf eb = { { 0 } };
	struct read_txn t;
	struct token_info *v = NULL;
	size_t n = 0;
	int rc = read_begin(r, &t, &eb);
	if (!rc)
		rc = token_list(&t, &v, &n, &eb);
	read_end(&t);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return CMD_EXIT_FAIL;
	}
	if (cli->json) {
		json_t *arr = json_array();
		for (size_t i = 0; arr && i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:o}", "name", v[i].name,
							     "role", token_role_name(v[i].role),
							     "created_ms", (json_int_t)v[i].created_ms,
							     "created_by", docs_json_str(v[i].created_by)));
		free(v);
		return format_print_json(arr) ? CMD_EXIT_FAIL : 0;
	}
	static const char *const head[] = { "NAME", "ROLE", "CREATED (UTC)", "BY", NULL };
	struct format_table *tab = format_table_new(4, head);
	for (size_t i = 0; tab && i < n; i++) {
		char at[32];
		format_time(v[i].created_ms, at, sizeof(at));
		format_table_rowf(tab, "%s\t%s\t%s\t%s", v[i].name, token_role_name(v[i].role), at,
				  v[i].created_by);
	}
	if (!n)
		printf("(no tokens: 'cairn-collector token create NAME --role viewer' makes one)\n");
	else if (tab)
		format_table_print(tab, stdout);
	format_table_free(tab);
	free(v);
	return 0;
}

int token_main(int argc, char *argv[])
{
	enum token_role role = TOKEN_ROLE_NONE;
	static const struct option longopts[] = {
		{ "role", required_argument, NULL, OPT_ROLE },
		{ 0 },
	};
	struct cli_extra extra = { NULL, longopts, role_opt, &role };
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, token_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	const char *verb = cli.nargs ? cli.args[0] : "";
	bool create = !strcmp(verb, "create") && cli.nargs == 2;
	bool revoke = !strcmp(verb, "revoke") && cli.nargs == 2;
	bool list = !strcmp(verb, "list") && cli.nargs == 1;
	if (!create && !revoke && !list) {
		fprintf(stderr, "%s: expected 'token create NAME --role R', 'token list' or "
				"'token revoke NAME'\n\n", cli.prog);
		token_usage(stderr);
		return CMD_EXIT_USAGE;
	}
	if (create && role == TOKEN_ROLE_NONE) {
		fprintf(stderr, "%s: token create needs --role viewer, operator or admin\n", cli.prog);
		return CMD_EXIT_USAGE;
	}
	if (create && !token_name_valid(cli.args[1])) {
		fprintf(stderr, "%s: token name '%s': use 1 to %d of letters, digits, '.', '_', '@', '-'\n",
			cli.prog, cli.args[1], TOKEN_NAME_MAX);
		return CMD_EXIT_USAGE;
	}
	struct read_ctx r;
	if ((rc = cmd_open_store(&r, &cli, !list)))
		return rc;
	struct errbuf eb = { { 0 } };
	if (list) {
		rc = token_list_cmd(&cli, &r);
	} else if (create) {
		char text[TOKEN_TEXT_LEN + 1];
		if ((rc = token_create(&r, cli.args[1], role, text, &eb))) {
			fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
			rc = rc == -EEXIST ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
		} else {
			printf("%s\n", text);
			fprintf(stderr, "token '%s' (%s) created: it is shown only now; send it as "
					"'Authorization: Bearer TOKEN' or paste it into the console's login\n",
				cli.args[1], token_role_name(role));
			memset(text, 0, sizeof(text));
		}
	} else {
		if ((rc = token_revoke(&r, cli.args[1], &eb))) {
			fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
			rc = rc == -ENOENT ? CMD_EXIT_NOTFOUND : CMD_EXIT_FAIL;
		} else {
			printf("token '%s' revoked\n", cli.args[1]);
		}
	}
	read_close(&r);
	return rc;
}
