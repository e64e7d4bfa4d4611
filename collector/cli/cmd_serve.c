/* cairn-collector serve: accept agents, verify and store their batches.
 *
 * One libuv loop (collector/ingest/server.h) and one ingest writer thread. SIGTERM
 * and SIGINT stop cleanly: stop accepting, commit what is queued, close
 * connections, exit 0. Under systemd (Type=notify) READY=1, STATUS= and
 * WATCHDOG=1 are sent when built with libsystemd and NOTIFY_SOCKET is set.
 * After batches were stored, the derived snapshot (collector/plan/snapshot.h) is
 * refreshed on the thread pool at most once per recompute_interval. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "cairn-config.h"
#if HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "db.h"
#include "handshake.h"
#include "keys.h"
#include "log.h"
#include "server.h"
#include "snapshot.h"
#include "store.h"

#define SHUTDOWN_DRAIN_MS 5000

struct serve_opts {
	const char *listen;
	bool accept_any;
};

struct serve {
	uv_loop_t loop;
	struct server srv;
	struct db_env db;
	struct keypair id;
	uv_signal_t sigterm, sigint;
	uv_timer_t watchdog;
	bool watchdog_on;
	uv_timer_t recompute;
	uv_timer_t retention;
	uint64_t retention_ms, retention_raw_ms;
	uint64_t recompute_ms;
	bool dirty;            /* batches stored since the last refresh started */
	bool refreshing;       /* a refresh runs on the thread pool */
	uv_work_t refresh_work;
	int refresh_rc;
	bool refreshed;
	char refresh_err[512];
	bool stopped;
};

static void serve_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector serve [-c FILE] [--listen ADDR:PORT] [--state-dir DIR]\n"
		   "                             [--accept-any] [-o KEY=VALUE]...\n\n"
		   "Accepts agent connections (TCP, default [::]:7415), verifies and stores their\n"
		   "batches in <state_dir>/db and keeps the derived snapshot current.\n\n"
		   "  --listen ADDR:PORT    listen address ([::]:7415, 0.0.0.0:7415, [::1]:0 ...)\n"
		   "  --accept-any          enroll every agent automatically (labs, demo)\n");
	cli_usage_common(f);
}

static int serve_option(int opt, const char *arg, void *ctx)
{
	struct serve_opts *o = ctx;
	switch (opt) {
	case CLI_OPT_USER:
		o->listen = arg;
		return 0;
	case CLI_OPT_USER + 1:
		o->accept_any = true;
		return 0;
	default:
		return -1;
	}
}

static bool under_systemd(void)
{
	return getenv("NOTIFY_SOCKET") != NULL;
}

static void notify(const char *state)
{
#if HAVE_SYSTEMD
	if (under_systemd())
		sd_notify(0, state);
#else
	(void)state;
#endif
}

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	notify("WATCHDOG=1");
}

/* ------------------------------------------------------------ snapshots */

static void refresh_work(uv_work_t *w)
{
	struct serve *sv = w->data;
	struct errbuf eb = { "" };
	sv->refreshed = false;
	sv->refresh_rc = snapshot_refresh_if_stale(&sv->db, time_now_ms(), &sv->refreshed, &eb);
	str_copy(sv->refresh_err, eb.msg, sizeof(sv->refresh_err));
}

static void refresh_done(uv_work_t *w, int status)
{
	struct serve *sv = w->data;
	sv->refreshing = false;
	if (status == 0 && sv->refresh_rc)
		log_warn("snapshot refresh failed: %s (will retry after the next batches)",
			 sv->refresh_err);
	else if (status == 0 && sv->refreshed)
		log_info("snapshot refreshed (map, applications, plan)");
}

static void on_recompute(uv_timer_t *t)
{
	struct serve *sv = t->data;
	if (!sv->dirty || sv->refreshing || sv->stopped)
		return;
	sv->dirty = false;
	sv->refreshing = true;
	sv->refresh_work.data = sv;
	if (uv_queue_work(&sv->loop, &sv->refresh_work, refresh_work, refresh_done) != 0)
		sv->refreshing = false;
}

static void on_stored(struct server *s, void *arg)
{
	(void)s;
	((struct serve *)arg)->dirty = true;
}

static void on_retention(uv_timer_t *t)
{
	struct serve *sv = t->data;
	if (sv->stopped || !sv->retention_ms)
		return;
	struct ingest_retention r;
	ingest_retention_at(&r, time_now_ms(), sv->retention_raw_ms, sv->retention_ms);
	server_prune(&sv->srv, &r);
}

/* ------------------------------------------------------------ lifecycle */

static void on_signal(uv_signal_t *h, int signum)
{
	struct serve *sv = h->data;
	if (sv->stopped)
		return;
	sv->stopped = true;
	log_notice("%s: stopping: committing queued batches, closing %u connections",
		   strsignal(signum), sv->srv.nsessions);
	notify("STOPPING=1");
	server_stop(&sv->srv, SHUTDOWN_DRAIN_MS);
	uv_close((uv_handle_t *)&sv->sigterm, NULL);
	uv_close((uv_handle_t *)&sv->sigint, NULL);
	uv_timer_stop(&sv->recompute);
	uv_close((uv_handle_t *)&sv->recompute, NULL);
	uv_timer_stop(&sv->retention);
	uv_close((uv_handle_t *)&sv->retention, NULL);
	if (sv->watchdog_on) {
		uv_timer_stop(&sv->watchdog);
		uv_close((uv_handle_t *)&sv->watchdog, NULL);
	}
}

static void raise_nofile(uint32_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t need = (rlim_t)want + 64;
	if (rl.rlim_cur >= need)
		return;
	rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need)
		log_warn("open file limit %llu is below max_connections %u: raise LimitNOFILE",
			 (unsigned long long)rl.rlim_cur, want);
}

static int load_enroll_key(const struct collector_config *cfg, struct server_params *p,
			   struct errbuf *eb)
{
	if (!cfg->enroll_token_file[0])
		return 0;
	char *tok = NULL;
	size_t len = 0;
	int rc = file_read_all(cfg->enroll_token_file, 4096, &tok, &len, eb);
	if (rc == -ENOENT && p->accept != ACCEPT_TOKEN)
		return 0;
	if (rc)
		return rc;
	while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' '))
		tok[--len] = '\0';
	if (!len) {
		free(tok);
		return errbuf_set(eb, -EINVAL, "%s: the enrollment token file is empty",
				  cfg->enroll_token_file);
	}
	handshake_enroll_key(p->enroll_key, tok, len);
	p->have_enroll_key = true;
	sodium_memzero(tok, len);
	free(tok);
	return 0;
}

int serve_main(int argc, char *argv[])
{
	struct serve_opts o = { 0 };
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, CLI_OPT_USER },
		{ "accept-any", no_argument, NULL, CLI_OPT_USER + 1 },
		{ 0 },
	};
	struct cli_extra extra = { "", longopts, serve_option, &o };
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, serve_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cli.prog, cli.args[0]);
		cli_try_help(cli.prog);
		return 2;
	}
	struct collector_config cfg;
	if (cli_collector_config(&cli, &cfg))
		return 2;
	if (o.listen) {
		char host[CONFIG_STR_MAX];
		uint16_t port;
		if (config_split_hostport(o.listen, host, sizeof(host), &port)) {
			fprintf(stderr,
				"%s: --listen '%s' is not ADDR:PORT with a port of 0-65535 (e.g. "
				"[::]:7415, 0.0.0.0:7415); try --help\n",
				cli.prog, o.listen);
			return CMD_EXIT_USAGE;
		}
		str_copy(cfg.listen, o.listen, sizeof(cfg.listen));
	}
	if (o.accept_any)
		str_copy(cfg.accept, "any", sizeof(cfg.accept));
	enum log_level lvl;
	if (cfg.log_level[0] && log_level_parse(cfg.log_level, &lvl) == 0)
		log_set_level(lvl);

	struct serve *sv = calloc(1, sizeof(*sv));
	if (!sv) {
		fprintf(stderr, "%s: out of memory\n", cli.prog);
		return 1;
	}
	struct errbuf eb = { "" };
	struct server_params p;
	server_params_from_config(&p, &cfg);
	snapshot_set_catalog(cfg.catalog);
	snapshot_set_waves(cfg.wave_max_hosts, cfg.wave_min_hosts, cfg.wave_critical_after);
	if ((rc = load_enroll_key(&cfg, &p, &eb))) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		free(sv);
		return 2;
	}
	if (p.accept == ACCEPT_TOKEN && !p.have_enroll_key) {
		fprintf(stderr, "%s: accept = token needs enroll_token_file with a token\n",
			cli.prog);
		free(sv);
		return 2;
	}
	int exit_code = 1;
	if (dir_make(cfg.state_dir, 0750, &eb)) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		goto out_free;
	}
	char path[PATH_MAX + 32];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg.state_dir, COLLECTOR_KEY_FILE) >=
	    sizeof(path)) {
		fprintf(stderr, "%s: state_dir is too long\n", cli.prog);
		goto out_free;
	}
	bool created = false;
	if (keys_load_or_create(path, &sv->id, &created, &eb)) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		goto out_free;
	}
	snprintf(path, sizeof(path), "%s/db", cfg.state_dir);
	if (store_open(&sv->db, &cfg, true, &eb)) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		goto out_key;
	}
	raise_nofile(p.max_connections);
	uv_loop_init(&sv->loop);
	if (server_start(&sv->srv, &sv->loop, &p, &sv->id, &sv->db, &eb)) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		/* server_start closed its handles: let the loop finish the closes,
		 * or uv_loop_close fails (EBUSY) and the loop leaks */
		uv_run(&sv->loop, UV_RUN_DEFAULT);
		uv_loop_close(&sv->loop);
		goto out_db;
	}
	sv->srv.on_stored = on_stored;
	sv->srv.on_stored_arg = sv;

	uv_signal_init(&sv->loop, &sv->sigterm);
	uv_signal_init(&sv->loop, &sv->sigint);
	sv->sigterm.data = sv->sigint.data = sv;
	uv_signal_start(&sv->sigterm, on_signal, SIGTERM);
	uv_signal_start(&sv->sigint, on_signal, SIGINT);
	signal(SIGPIPE, SIG_IGN);

	sv->recompute_ms = cfg.recompute_interval_ms ? cfg.recompute_interval_ms : 60000;
	uv_timer_init(&sv->loop, &sv->recompute);
	sv->recompute.data = sv;
	uv_timer_start(&sv->recompute, on_recompute, sv->recompute_ms, sv->recompute_ms);

	/* retention sweeps: soon after start, then every 10 minutes */
	sv->retention_ms = cfg.retention_ms;
	sv->retention_raw_ms = cfg.retention_raw_ms;
	uv_timer_init(&sv->loop, &sv->retention);
	sv->retention.data = sv;
	uv_timer_start(&sv->retention, on_retention, 30000, 600000);

#if HAVE_SYSTEMD
	uint64_t usec = 0;
	if (under_systemd() && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		uv_timer_init(&sv->loop, &sv->watchdog);
		uv_timer_start(&sv->watchdog, on_watchdog, usec / 2000, usec / 2000);
		sv->watchdog_on = true;
	}
#else
	(void)on_watchdog;
#endif

	char fp[KEY_FINGERPRINT_HEX_LEN + 1], hex[KEY_ID_HEX_LEN + 1];
	keys_fingerprint(sv->id.pk, fp);
	keys_id_hex(sv->id.pk, hex);
	log_notice("listening on %s (accept=%s%s), collector key fingerprint %s%s, store %s",
		   sv->srv.bound, cfg.accept, p.have_enroll_key ? ", enrollment token set" : "", fp,
		   created ? " (new key)" : "", path);
	log_info("collector public key (collector_key in agent.conf): %s", hex);
	char status[256];
	snprintf(status, sizeof(status), "READY=1\nSTATUS=listening on %s, key %s", sv->srv.bound,
		 fp);
	notify(status);

	uv_run(&sv->loop, UV_RUN_DEFAULT);
	struct ingest_writer_stats ws = sv->srv.writer.stats;
	log_notice("stopped: %llu commits, %llu batches and %llu records stored, %llu replays, "
		   "%llu bad signatures, %llu malformed, %llu over a limit, %llu conflicts",
		   (unsigned long long)ws.commits, (unsigned long long)ws.batches,
		   (unsigned long long)ws.records, (unsigned long long)ws.replays,
		   (unsigned long long)ws.bad_signatures, (unsigned long long)ws.malformed,
		   (unsigned long long)ws.limits, (unsigned long long)ws.conflicts);
	rc = uv_loop_close(&sv->loop);
	if (rc)
		log_debug("loop close: %s", uv_strerror(rc));
	exit_code = ws.storage_full ? 1 : 0;
out_db:
	db_close(&sv->db);
out_key:
	keys_wipe(&sv->id);
out_free:
	free(sv);
	return exit_code;
}
