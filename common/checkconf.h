/* The check-config command both programs share: reads the configuration the
 * way the daemon would, reports every error as FILE:LINE: message (exit 2 on
 * any), then prints a summary, the effective configuration (--dump) or, with
 * --json, {"file", "ok", "errors"[, "warnings"]}.
 *
 * Each program describes its configuration with a struct checkconf_program;
 * the command's main is then
 *
 *   struct agent_config cfg;
 *   const struct checkconf_program p = { .prog_name = "cairn-agent", .cfg = &cfg, ... };
 *   return checkconf_main(&p, argc, argv);
 */
#ifndef CAIRN_CHECKCONF_H
#define CAIRN_CHECKCONF_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "config.h"

struct checkconf_program {
	const char *prog_name; /* "cairn-agent" */
	void (*usage)(FILE *f);
	void *cfg; /* the caller's configuration struct, filled by load */
	/* cli_*_config_report: returns the number of errors or a negative errno. */
	int (*load)(struct cli *cli, void *cfg, config_report_fn report, void *arg);
	int (*validate)(const void *cfg, struct errbuf *eb);
	/* Optional, preferred to validate: reports every cross-key problem and
	 * returns how many (config_*_check). */
	int (*check)(const void *cfg, config_report_fn report, void *arg);
	/* Optional: what the configuration means on this machine (files it
	 * names exist and are readable, a collector comes with its key, ...);
	 * reports every problem, returns how many. Runs after load and check,
	 * also when they found errors, so that one run shows all of them. */
	int (*meaning)(const struct cli *cli, const void *cfg, config_report_fn report,
		       void *arg);
	/* Appends warning strings for a valid configuration; NULL when the
	 * program has none (its --json output then has no "warnings"). */
	void (*warnings)(const struct cli *cli, const void *cfg, json_t *warnings);
	void (*dump)(const void *cfg, FILE *f);
	/* The lines after "FILE: OK". */
	void (*summary)(const void *cfg);
};

/* Runs check-config; returns the exit code (0 valid, 2 on any error). */
int checkconf_main(const struct checkconf_program *p, int argc, char *argv[]);

/* Checks for meaning callbacks; each reports "KEY: PATH ..." through report
 * and returns the number of problems (0 or 1).
 * A file the program must read: exists, is a regular file, is readable by
 * this user and not empty. */
int checkconf_readable_file(const char *key, const char *path, config_report_fn report,
			    void *arg);
/* A directory: missing is a problem only when must_exist. */
int checkconf_directory(const char *key, const char *path, bool must_exist,
			config_report_fn report, void *arg);
/* DIR/NAME holds a secret key: when it exists it must load (regular file,
 * not readable by group or others, readable by this user, well-formed). A
 * missing key is created at the first start and is no problem. */
int checkconf_key_file(const char *dir, const char *name, config_report_fn report, void *arg);

#endif
