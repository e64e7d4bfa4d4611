/* cairn-collector web: the console and JSON API (collector/web/web.h) in a
 * process of its own, never in `serve`'s (agents' ingest does not share a
 * process with HTTP parsing). Runs until SIGTERM/SIGINT; READY=1 to systemd
 * once it listens. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "cli.h"
#include "commands.h"
#include "log.h"
#include "read.h"
#include "snapshot.h"
#include "web.h"

static void web_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector web [--state-dir DIR | -c FILE] [-o web_listen=HOST:PORT]\n\n"
		   "Serves the web console and the JSON API (/api/v1/) from the store, on\n"
		   "web_listen (default 127.0.0.1:7480). Any address that is not loopback needs\n"
		   "HTTPS: web_tls_cert and web_tls_key. Every API request needs a bearer token\n"
		   "('cairn-collector token create NAME --role viewer|operator|admin').\n"
		   "Runs until SIGTERM or SIGINT.\n\n");
	cli_usage_common(f);
}

int web_main(int argc, char *argv[])
{
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, NULL, web_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n\n", cli.prog, cli.args[0]);
		web_usage(stderr);
		return CMD_EXIT_USAGE;
	}
	/* the signals are taken by sigwait below, in this thread only: block
	 * them before libmicrohttpd starts its threads so they inherit the mask */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct read_ctx r;
	if ((rc = cmd_open_store(&r, &cli, true)))
		return rc;
	struct errbuf eb = { { 0 } };
	struct web *w = NULL;
	struct web_opts o = { .cfg = &r.cfg, .rd = &r, .enroll = agents_enroll };
	if ((rc = web_start(&w, &o, &eb))) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		read_close(&r);
		return rc == -EINVAL || rc == -EACCES ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
	}
	log_msg(LOGL_NOTICE, "web: console and API on %s (store %s)", web_url(w), r.cfg.state_dir);
	sd_notifyf(0, "READY=1\nSTATUS=console on %s", web_url(w));
	int sig = 0;
	sigwait(&set, &sig);
	sd_notify(0, "STOPPING=1");
	log_msg(LOGL_NOTICE, "web: %s: stopping", strsignal(sig));
	web_stop(w);
	read_close(&r);
	return 0;
}
