#include "checkconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"

struct check_state {
	const char *prog;
	const char *file; /* the configuration file read, "" for defaults */
	json_t *errors; /* with --json */
	bool dump;
};

static void report_error(const char *msg, void *arg)
{
	struct check_state *st = arg;
	if (st->errors)
		json_array_append_new(st->errors, json_string(msg));
	else
		fprintf(stderr, "%s: %s\n", st->prog, msg);
}

static int dump_option(int opt, const char *arg, void *ctx)
{
	(void)arg;
	if (opt != CLI_OPT_USER)
		return -1;
	((struct check_state *)ctx)->dump = true;
	return 0;
}

/* Cross-key and meaning problems have no line: they are named by file. */
static void report_in_file(const char *msg, void *arg)
{
	struct check_state *st = arg;
	char line[800];
	snprintf(line, sizeof(line), "%.180s%s%s", st->file, st->file[0] ? ": " : "", msg);
	report_error(line, st);
}

/* Loads, checks each key against the others and what the configuration
 * means on this machine; returns the number of errors (all of them
 * reported), or a negative errno when the file cannot be read. */
static int check(const struct checkconf_program *p, struct cli *cli, struct check_state *st)
{
	int n = p->load(cli, p->cfg, report_error, st);
	if (n < 0)
		return n;
	st->file = cli->config_used;
	if (p->check) {
		n += p->check(p->cfg, report_in_file, st);
	} else if (n == 0) {
		struct errbuf eb;
		if (p->validate(p->cfg, &eb)) {
			report_in_file(eb.msg, st);
			n++;
		}
	}
	if (p->meaning)
		n += p->meaning(cli, p->cfg, report_in_file, st);
	return n;
}

static void reportf(config_report_fn report, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reportf(config_report_fn report, void *arg, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(msg, arg);
}

static const char *as_user_hint(int err)
{
	return err == EACCES ? " (run check-config as the service's user, or fix the owner)" : "";
}

int checkconf_readable_file(const char *key, const char *path, config_report_fn report,
			    void *arg)
{
	struct stat st;
	if (stat(path, &st)) {
		int err = errno;
		reportf(report, arg, "%s: %s: %s%s", key, path, strerror(err), as_user_hint(err));
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		reportf(report, arg, "%s: %s is not a regular file", key, path);
		return 1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		reportf(report, arg, "%s: cannot read %s: %s%s", key, path, strerror(err),
			as_user_hint(err));
		return 1;
	}
	close(fd);
	if (st.st_size == 0) {
		reportf(report, arg, "%s: %s is empty", key, path);
		return 1;
	}
	return 0;
}

int checkconf_directory(const char *key, const char *path, bool must_exist,
			config_report_fn report, void *arg)
{
	struct stat st;
	if (stat(path, &st)) {
		int err = errno;
		if (err == ENOENT && !must_exist)
			return 0;
		reportf(report, arg, "%s: %s: %s%s", key, path, strerror(err), as_user_hint(err));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		reportf(report, arg, "%s: %s is not a directory", key, path);
		return 1;
	}
	return 0;
}

int checkconf_key_file(const char *dir, const char *name, config_report_fn report, void *arg)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		reportf(report, arg, "state_dir: '%.100s...' is too long", dir);
		return 1;
	}
	struct stat st;
	if (stat(path, &st) && errno == ENOENT)
		return 0;
	struct keypair kp;
	struct errbuf eb;
	int rc = keys_load(path, &kp, &eb);
	keys_wipe(&kp);
	if (rc) {
		reportf(report, arg, "state_dir: %s%s", eb.msg, as_user_hint(-rc));
		return 1;
	}
	return 0;
}

int checkconf_main(const struct checkconf_program *p, int argc, char *argv[])
{
	struct check_state st = { 0 };
	static const struct option longopts[] = { { "dump", no_argument, NULL, CLI_OPT_USER },
						  { 0 } };
	struct cli_extra extra = { NULL, longopts, dump_option, &st };
	struct cli cli;
	int rc = cli_parse(&cli, p->prog_name, argc, argv, &extra, p->usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs == 1 && !cli.config_path) {
		cli.config_path = cli.args[0]; /* check-config FILE */
	} else if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n\n", cli.prog, cli.args[0]);
		p->usage(stderr);
		return 2;
	}
	st.prog = cli.prog;
	if (cli.json)
		st.errors = json_array();

	int n = check(p, &cli, &st);
	json_t *warnings = p->warnings ? json_array() : NULL;
	if (n == 0 && warnings)
		p->warnings(&cli, p->cfg, warnings);
	const char *file = cli.config_used[0] ? cli.config_used : "(defaults)";
	if (cli.json) {
		json_t *o = json_pack("{s:s, s:b, s:o}", "file", file, "ok", n == 0, "errors",
				      st.errors);
		if (warnings)
			json_object_set_new(o, "warnings", warnings);
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
		return n == 0 ? 0 : 2;
	}
	if (warnings) {
		size_t i;
		json_t *w;
		json_array_foreach(warnings, i, w)
			fprintf(stderr, "%s: warning: %s\n", cli.prog, json_string_value(w));
		json_decref(warnings);
	}
	if (n != 0) {
		if (n > 0)
			fprintf(stderr, "%s: %d error%s in %s\n", cli.prog, n, n == 1 ? "" : "s",
				file);
		return 2;
	}
	if (st.dump) {
		p->dump(p->cfg, stdout);
		return 0;
	}
	printf("%s: OK\n", file);
	p->summary(p->cfg);
	return 0;
}
