/* cairn-agent status: how the running (or last) agent is doing.
 *
 * Reads <state_dir>/status.json, which `run` rewrites every few seconds, and
 * the spool itself (read-only, so the depth is current even when `run` is
 * stopped). Works while `run` runs; never writes anything. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "channel.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "daemon.h"
#include "sender.h"
#include "spool.h"

/* A status file older than this means the daemon is not running (it writes
 * every DAEMON_STATUS_PERIOD_MS). */
#define STATUS_STALE_MS (5 * DAEMON_STATUS_PERIOD_MS)
/* Running but not delivering: batches wait and no ACK came for this many
 * report windows (since the last ACK, or since the start). */
#define STATUS_STALL_WINDOWS 2
/* A conflict refusal this recent means a clone of the key is (or was just)
 * running: status says so even when batches got through in between. */
#define STATUS_CONFLICT_RECENT_MS (10 * 60 * 1000)

enum {
	STATUS_EXIT_OK = 0,
	STATUS_EXIT_NO_STATE = 1,
	STATUS_EXIT_NOT_RUNNING = 3,
	STATUS_EXIT_NOT_DELIVERING = 4,
};

static void status_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-agent status [-c FILE | --state-dir DIR] [--json]\n\n"
		   "Shows whether the agent runs and is connected, the last acknowledged\n"
		   "batch, the spool depth, dropped batches and errors by kind.\n"
		   "Exit codes (like systemctl status): 0 running and delivering (or no\n"
		   "collector configured), 3 not running, 4 running but not delivering (no\n"
		   "ACK for more than %d report windows while batches wait, or the collector\n"
		   "refused a batch as a conflict: agent key used by two machines?), 1 no\n"
		   "agent state in the state dir.\n",
		STATUS_STALL_WINDOWS);
	cli_usage_common(f);
}

static json_int_t jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

static void fmt_age(int64_t ms, char *out, size_t n)
{
	if (ms < 0)
		ms = 0;
	int64_t s = ms / 1000;
	if (s < 120)
		snprintf(out, n, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(out, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 172800)
		snprintf(out, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
	else
		snprintf(out, n, "%lldd%02lldh", (long long)(s / 86400), (long long)(s / 3600 % 24));
}

static void fmt_time(int64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static json_t *spool_json(const struct spool_stats *sp)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "batches",
			 (json_int_t)sp->batches, "bytes", (json_int_t)sp->bytes, "next_seq",
			 (json_int_t)sp->next_seq, "acked_seq", (json_int_t)sp->acked_seq,
			 "oldest_seq", (json_int_t)sp->oldest_seq, "newest_seq",
			 (json_int_t)sp->newest_seq, "dropped_batches",
			 (json_int_t)sp->dropped_batches, "dropped_bytes",
			 (json_int_t)sp->dropped_bytes, "pending_gaps", (json_int_t)sp->pending_gaps);
}

static bool pid_alive(json_int_t pid)
{
	if (pid <= 0)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static void print_human(json_t *st, bool running, int64_t now, const char *state_dir)
{
	char a[64], b[64], c[64];
	json_t *spool = json_object_get(st, "spool");

	if (json_object_size(st) && jint(st, "pid")) {
		fmt_age(now - jint(st, "written_ms"), a, sizeof(a));
		if (running) {
			fmt_age(now - jint(st, "started_ms"), b, sizeof(b));
			printf("agent:       running (pid %lld, up %s)%s\n", (long long)jint(st, "pid"),
			       b, strcmp(jstr(st, "phase"), "stopping") ? "" : ", stopping");
		} else if (strcmp(jstr(st, "phase"), "stopped") && pid_alive(jint(st, "pid"))) {
			printf("agent:       not responding: pid %lld exists but its status is %s "
			       "old (stuck, or the pid was reused)\n",
			       (long long)jint(st, "pid"), a);
		} else {
			printf("agent:       not running (last status %s ago, pid %lld)\n", a,
			       (long long)jint(st, "pid"));
		}
		printf("agent id:    %s\n", jstr(st, "agent_id"));
		const char *coll = jstr(st, "collector");
		if (!*coll) {
			printf("collector:   none configured (collector = host:port)\n");
		} else if (running && json_is_true(json_object_get(st, "connected"))) {
			fmt_age(now - jint(st, "connected_since_ms"), b, sizeof(b));
			printf("collector:   %s: connected to %s for %s\n", coll, jstr(st, "peer"), b);
		} else {
			const char *state = running ? jstr(st, "state") : "not connected";
			printf("collector:   %s: %s", coll, state);
			if (running && jint(st, "next_attempt_ms") > now) {
				fmt_age(jint(st, "next_attempt_ms") - now, b, sizeof(b));
				printf(" (next attempt in %s)", b);
			}
			printf("\n");
		}
		if (jint(st, "last_ack_ms")) {
			fmt_time(jint(st, "last_ack_ms"), b, sizeof(b));
			fmt_age(now - jint(st, "last_ack_ms"), c, sizeof(c));
			printf("last ACK:    seq %lld at %s (%s ago)\n",
			       (long long)jint(st, "last_ack_seq"), b, c);
		} else {
			printf("last ACK:    none since the agent started\n");
		}
	} else {
		printf("agent:       no status file in %s (not started yet?)\n", state_dir);
	}
	if (*jstr(st, "spool_error"))
		printf("spool:       unreadable: %s ('cairn-agent run' moves a damaged spool "
		       "aside on its next start)\n",
		       jstr(st, "spool_error"));
	if (spool) {
		str_bytes((uint64_t)jint(spool, "bytes"), a, sizeof(a));
		printf("spool:       %lld batch%s, %s; next seq %lld, acknowledged up to %lld\n",
		       (long long)jint(spool, "batches"), jint(spool, "batches") == 1 ? "" : "es", a,
		       (long long)jint(spool, "next_seq"), (long long)jint(spool, "acked_seq"));
		str_bytes((uint64_t)jint(spool, "dropped_bytes"), a, sizeof(a));
		printf("dropped:     %lld batch%s (%s): spool full or not writable, or refused by "
		       "the collector%s\n",
		       (long long)jint(spool, "dropped_batches"),
		       jint(spool, "dropped_batches") == 1 ? "" : "es", a,
		       jint(spool, "pending_gaps") ? "; gap record pending" : "");
	}
	json_t *cap = json_object_get(st, "capture");
	if (cap) {
		printf("capture:     %s\n", jstr(cap, "mechanism"));
		if (jint(cap, "ringbuf_drops") || jint(cap, "map_full"))
			printf("lost events: %lld (ring buffer full), %lld (map full) since the agent "
			       "started\n", (long long)jint(cap, "ringbuf_drops"),
			       (long long)jint(cap, "map_full"));
	}
	json_t *errors = json_object_get(st, "errors");
	if (errors) {
		printf("errors:     ");
		const char *key;
		json_t *v;
		int shown = 0;
		json_object_foreach(errors, key, v) {
			if (json_integer_value(v)) {
				printf(" %s %lld", key, (long long)json_integer_value(v));
				shown++;
			}
		}
		printf("%s\n", shown ? "" : " none");
		if (*jstr(st, "last_error")) {
			fmt_age(now - jint(st, "last_error_ms"), a, sizeof(a));
			printf("last error:  %s (%s ago)\n", jstr(st, "last_error"), a);
		}
		json_t *reports = json_object_get(st, "reports");
		if (reports && *jstr(reports, "last_error"))
			printf("last report error: %s\n", jstr(reports, "last_error"));
		json_t *colls = json_object_get(st, "collectors");
		json_object_foreach(colls, key, v) {
			if (jint(v, "errors") && *jstr(v, "last_error"))
				printf("last %s error: %s\n", key, jstr(v, "last_error"));
		}
	}
	if (*jstr(st, "delivery"))
		printf("delivery:    %s\n", jstr(st, "delivery"));
	json_t *reports = json_object_get(st, "reports");
	if (reports && jint(reports, "last_report_ms")) {
		fmt_time(jint(reports, "last_report_ms"), a, sizeof(a));
		printf("last window: seq %lld closed at %s (%lld windows, %lld samples this run)\n",
		       (long long)jint(reports, "last_seq"), a, (long long)jint(reports, "windows"),
		       (long long)jint(reports, "samples"));
	}
}

/* Whether a running agent fails to deliver: a conflict refusal from the
 * collector, or batches waiting with no ACK for STATUS_STALL_WINDOWS report
 * windows. Sets "delivery" in st to the reason a person reads. */
static bool delivery_stalled(json_t *st, int64_t now)
{
	char buf[320], age[64], win[64];
	if (!*jstr(st, "collector"))
		return false;
	json_t *errors = json_object_get(st, "errors");
	/* Two clones of one key take the connection from each other and each
	 * gets some batches through (new seqs the other has not sent yet), so
	 * neither the latest error (often the takeover, REPLACED) nor the latest
	 * ACK tells: a conflict refusal in the last 10 minutes does. Older
	 * agents' status files lack last_conflict_ms: then the conflict count with
	 * a conflict or takeover as the last error and no ACK since. */
	int64_t code = jint(st, "last_error_code");
	int64_t last_conflict = jint(st, "last_conflict_ms");
	bool recent = last_conflict ? now - last_conflict <= STATUS_CONFLICT_RECENT_MS
				    : (code == PROTO_ERR_CONFLICT || code == PROTO_ERR_REPLACED) &&
					      jint(st, "last_error_ms") >= jint(st, "last_ack_ms");
	if (jint(errors, "conflict") && recent) {
		snprintf(buf, sizeof(buf),
			 "refused by the collector as a conflict (%lld): a batch with the same seq "
			 "but other content is stored: agent key used by two machines? (docs/"
			 "operations.md)",
			 (long long)jint(errors, "conflict"));
		json_object_set_new(st, "delivery", json_string(buf));
		return true;
	}
	json_t *spool = json_object_get(st, "spool");
	json_t *intervals = json_object_get(st, "intervals");
	int64_t report_ms = jint(intervals, "report_ms");
	if (!spool || !jint(spool, "batches") || report_ms <= 0)
		return false;
	int64_t since = jint(st, "last_ack_ms");
	if (since < jint(st, "started_ms"))
		since = jint(st, "started_ms");
	if (now - since <= STATUS_STALL_WINDOWS * report_ms)
		return false;
	fmt_age(now - since, age, sizeof(age));
	fmt_age(STATUS_STALL_WINDOWS * report_ms, win, sizeof(win));
	snprintf(buf, sizeof(buf),
		 "not delivering: no ACK for %s (more than %d report windows, %s), %lld batch%s "
		 "waiting%s%s",
		 age, STATUS_STALL_WINDOWS, win, (long long)jint(spool, "batches"),
		 jint(spool, "batches") == 1 ? "" : "es", *jstr(st, "last_error") ? "; last error: " : "",
		 jstr(st, "last_error"));
	json_object_set_new(st, "delivery", json_string(buf));
	return true;
}

int status_main(int argc, char *argv[])
{
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-agent", argc, argv, NULL, status_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n\n", cli.prog, cli.args[0]);
		status_usage(stderr);
		return 2;
	}
	struct agent_config cfg;
	if (cli_agent_config(&cli, &cfg))
		return 2;

	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", cfg.state_dir, DAEMON_STATUS_FILE);
	json_error_t jerr;
	json_t *st = json_load_file(path, 0, &jerr);
	bool have_status = st && json_is_object(st);
	if (!have_status) {
		json_decref(st);
		st = json_object();
	}

	struct spool *sp = NULL;
	struct errbuf eb;
	bool have_spool = false;
	if (spool_open(&sp, cfg.state_dir, cfg.spool_max, true, &eb) == 0) {
		struct spool_stats ss;
		if (spool_stats(sp, &ss) == 0) {
			json_t *old = json_object_get(st, "spool");
			json_t *live = spool_json(&ss);
			json_object_set_new(live, "spool_max",
					    json_integer(old ? jint(old, "spool_max")
							     : (json_int_t)cfg.spool_max));
			json_object_set_new(st, "spool", live);
			have_spool = true;
		}
		spool_close(sp);
	} else if (!have_status) {
		fprintf(stderr, "%s: no agent state in %s (%s); has 'cairn-agent run' started with "
				"this state dir?\n",
			cli.prog, cfg.state_dir, eb.msg);
		json_decref(st);
		return STATUS_EXIT_NO_STATE;
	} else {
		json_object_set_new(st, "spool_error", json_string(eb.msg));
	}

	int64_t now = time_now_ms();
	bool running = have_status && now - jint(st, "written_ms") < STATUS_STALE_MS &&
		       pid_alive(jint(st, "pid"));
	if (!running && have_status)
		json_object_set_new(st, "connected", json_false());
	json_object_set_new(st, "running", json_boolean(running));
	json_object_set_new(st, "status_file", have_status ? json_string(path) : json_null());
	json_object_set_new(st, "status_age_ms",
			    have_status ? json_integer(now - jint(st, "written_ms")) : json_null());
	json_object_set_new(st, "spool_readable", json_boolean(have_spool));
	int exit_code = running ? STATUS_EXIT_OK : STATUS_EXIT_NOT_RUNNING;
	if (running && delivery_stalled(st, now))
		exit_code = STATUS_EXIT_NOT_DELIVERING;
	if (cli.json) {
		json_dumpf(st, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
	} else {
		print_human(st, running, now, cfg.state_dir);
	}
	json_decref(st);
	return exit_code;
}
