/* The agent daemon (see daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <sodium.h>

#include "cairn-config.h"

#include "batch.h"
#include "capture.h"
#include "collect.h"
#include "collect_host.h"
#include "collect_perf.h"
#include "collect_pkg.h"
#include "collect_proc.h"
#include "collect_sock.h"
#include "keys.h"
#include "log.h"
#include "sdnotify.h"
#include "sender.h"
#include "sign.h"
#include "spool.h"
#include "window.h"

#define MAX_GAPS_PER_BATCH 64
#define SHUTDOWN_DEADLINE_MS 8000
/* On stop, how long to wait for the ACK of batches in flight (the last
 * window was just sent): saves a resend on the next start. */
#define SHUTDOWN_ACK_GRACE_MS 1000


enum job_kind { JOB_SAMPLE, JOB_REPORT };

enum phase { PHASE_RUNNING, PHASE_STOPPING, PHASE_FINAL_QUEUED, PHASE_CLOSING, PHASE_DONE };

struct daemon;

struct job {
	uv_work_t req;
	struct daemon *d;
	enum job_kind kind;
	/* report inputs, filled on the loop thread */
	uint64_t seq;
	struct spool_gap gaps[MAX_GAPS_PER_BATCH];
	size_t ngaps;
	uint64_t lost;          /* earlier windows never stored: seqs seq-lost .. seq-1 */
	int64_t lost_start_ms, lost_end_ms;
	bool full;              /* full process snapshot, host facts, packages */
	bool full_procs;        /* full process snapshot (after gaps: deltas were lost) */
	bool final;             /* shutdown: skip the slow inventory parts */
	struct spool_stats spool_st;
	struct sender_stats send_st;
	int64_t window_start_ms;
	/* outputs */
	int64_t window_end_ms;
	struct batch b;
	size_t nrecords;
	uint64_t dropped;       /* batches the spool dropped to make room */
	int rc;                 /* 0: the batch is in the spool */
	bool spool_failed;      /* rc came from the spool, not from building */
	char err[256];
};

struct daemon {
	uv_loop_t loop;
	struct cli *cli;
	struct agent_config cfg;
	struct keypair kp;
	char agent_id[KEY_ID_HEX_LEN + 1];
	struct spool *spool;
	struct sender sender;
	bool sender_started;

	/* Collector state: touched only by the running job. */
	struct collect_ctx ctx;
	struct proc_state *proc;
	struct batch_memory mem;
	struct sock_scanner *sock;
	struct window *win;
	struct perf_state *perf;
	struct capture *cap;          /* polled on the loop thread, taken by jobs */
	struct capture_counters cap_reported; /* totals at the last health record */
	char boot_id[64];

	/* Loop-side copies and schedule. */
	struct collect_stat stats[COLLECT_NKINDS];
	struct job *job;
	uint64_t job_started_mono;
	bool watchdog_withheld;
	bool sample_due, report_due;
	bool need_full;
	uint64_t dropped_at_full;    /* spool drops when the last full batch was spooled */
	uint64_t lost_windows;       /* windows not stored since the last batch that was */
	int64_t lost_start_ms, lost_end_ms;
	int64_t window_start_ms;
	uint64_t next_inventory_mono;
	enum phase phase;

	uv_timer_t sample_timer, report_timer, status_timer, watchdog_timer, deadline_timer;
	uv_timer_t drain_timer;
	uv_timer_t capture_timer;
	uv_poll_t capture_poll;
	uint64_t drain_until;
	uv_signal_t sig_term, sig_int, sig_hup;
	uint64_t watchdog_usec;

	/* Counters for status and health. */
	int64_t started_ms, last_report_ms, last_sample_ms;
	uint64_t reports, samples, spooled, report_errors, spool_errors, dropped_by_spool;
	uint64_t last_seq_spooled;
	uint64_t prev_cpu_us, prev_mono_us;  /* for the health record's cpu_pct */
	char last_report_error[256];
	int exit_code;
	int lock_fd;
};

static void schedule_jobs(struct daemon *d);
static void write_status(struct daemon *d);

/* ---------------------------------------------------------------- systemd */

/* The agent speaks the notification protocol itself (common/sdnotify.c), so
 * the statically linked portable build keeps Type=notify and the watchdog. */
static void notify(const char *state)
{
	if (sdnotify_enabled())
		sdnotify_send(state);
}

/* The loop thread is alive, but that says nothing about a scan stuck on
 * the thread pool (a hung NFS mount under /proc/PID/cwd, a wedged rpm): with
 * one job at a time, no window would ever close again. A job that runs this
 * long stops the pings so systemd restarts the agent; the spool is
 * consistent at every instant, so nothing stored is lost. Well above the
 * slowest legitimate job (rpm's own timeout is 60 s). */
#define JOB_HANG_MS (180 * 1000)

static void watchdog_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	if (d->job && time_mono_ms() - d->job_started_mono > JOB_HANG_MS) {
		if (!d->watchdog_withheld)
			log_error("a %s job has been running for %llu s: withholding the systemd "
				  "watchdog ping so the agent gets restarted",
				  d->job->kind == JOB_SAMPLE ? "sample" : "report",
				  (unsigned long long)(time_mono_ms() - d->job_started_mono) / 1000);
		d->watchdog_withheld = true;
		return;
	}
	d->watchdog_withheld = false;
	notify("WATCHDOG=1");
}

static void watchdog_start(struct daemon *d)
{
	uint64_t usec = sdnotify_enabled() ? sdnotify_watchdog_usec() : 0;
	if (usec > 0) {
		d->watchdog_usec = usec;
		uint64_t ms = usec / 2000;
		if (!ms)
			ms = 1;
		uv_timer_start(&d->watchdog_timer, watchdog_cb, ms, ms);
		log_info("systemd watchdog: pinging every %llu ms", (unsigned long long)ms);
	}
}

/* ---------------------------------------------------------------- helpers */

static void read_boot_id(struct daemon *d)
{
	char path[PATH_MAX], buf[64];
	collect_path(&d->ctx, path, sizeof(path), "/proc/sys/kernel/random/boot_id");
	FILE *f = fopen(path, "r");
	d->boot_id[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\r\n")] = '\0';
		str_copy(d->boot_id, buf, sizeof(d->boot_id));
	}
	fclose(f);
}

/* Our own resident memory in bytes (current, not peak). */
static uint64_t self_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size = 0, rss = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t self_cpu_us(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
	       (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

/* Our CPU share since the previous call (-1 on the first). */
static double self_cpu_pct(struct daemon *d)
{
	uint64_t cpu = self_cpu_us(), mono = time_mono_us();
	double pct = -1;
	if (d->prev_mono_us && mono > d->prev_mono_us)
		pct = 100.0 * (double)(cpu - d->prev_cpu_us) / (double)(mono - d->prev_mono_us);
	d->prev_cpu_us = cpu;
	d->prev_mono_us = mono;
	return pct;
}

/* ---------------------------------------------------------------- jobs (worker thread) */

/* The capture's flows since the last take into the window; runs on the
 * worker, after a socket sample was added (the scanner's listeners and
 * addresses are fresh, and a connection that closed during the scan finds
 * what the sample counted of it). */
static void add_flows(struct daemon *d)
{
	if (!capture_active(d->cap) || !d->win)
		return;
	struct capture_take t;
	int rc = capture_take(d->cap, &t);
	if (!rc)
		rc = window_add_flows(d->win, d->sock, &t, (uint32_t)d->cfg.sample_interval_ms);
	if (rc)
		collect_error(&d->ctx, COLLECT_SOCK, "adding captured flows: %s", strerror(-rc));
	capture_take_free(&t);
}

static void sample_work(uv_work_t *req)
{
	struct job *j = req->data;
	struct daemon *d = j->d;
	int64_t now = time_now_ms();
	if (d->perf) {
		int rc = collect_perf_sample(&d->ctx, d->perf, time_mono_ms(), now);
		if (rc)
			log_debug("perf sample: %s", strerror(-rc));
	}
	if (d->sock && d->win) {
		const struct sock_sample *s = NULL;
		int rc = collect_sock_scanner_sample(d->sock, &d->ctx, now, &s);
		if (rc == 0 && s) {
			if (window_add_sample(d->win, s))
				collect_error(&d->ctx, COLLECT_SOCK, "out of memory adding a sample");
		} else if (rc) {
			log_debug("socket sample: %s", strerror(-rc));
		}
		add_flows(d);
	}
}

static void add_health(struct job *j)
{
	struct daemon *d = j->d;
	uint64_t send_errors = 0;
	for (int k = 0; k < SENDER_NERRS; k++)
		if (k != SENDER_ERR_SPOOL)
			send_errors += j->send_st.errors[k];
	struct capture_counters cc;
	capture_get_counters(d->cap, &cc);
	struct capture_counters *p = &d->cap_reported;
	struct batch_health h = {
		.capture = capture_describe(d->cap), .capture_ebpf = capture_active(d->cap),
		.capture_events = cc.events - p->events,
		.capture_ringbuf_drops = cc.ringbuf_drops - p->ringbuf_drops,
		.capture_map_full = cc.map_full + cc.flows_lost - p->map_full - p->flows_lost,
		.capture_udp_datagrams = cc.udp_datagrams - p->udp_datagrams,
		.capture_cpu_us = (cc.cpu_ns - p->cpu_ns) / 1000,
		.spool_errors = d->spool_errors + j->send_st.errors[SENDER_ERR_SPOOL],
		.spool_items = j->spool_st.batches, .spool_runs = d->spooled,
		.spool_last_error = d->last_report_error,
		.send_errors = send_errors, .send_items = j->send_st.sent_batches,
		.send_runs = j->send_st.connects, .send_last_error = j->send_st.last_error,
		.cpu_pct = self_cpu_pct(d), .rss_bytes = self_rss(),
		.spool_batches = j->spool_st.batches, .spool_bytes = j->spool_st.bytes,
		.dropped_batches = j->spool_st.dropped_batches,
	};
	batch_add_health(&j->b, &d->ctx, &h);
	*p = cc;
}

/* Writes the signed batch to the spool. Runs on the worker: the commit
 * fsyncs up to a few MiB, which must not stall the sender on the loop thread
 * (the spool serialises writers; the sender's ACK deletes simply wait). */
static void spool_batch_work(struct job *j)
{
	struct daemon *d = j->d;
	struct errbuf eb;
	int rc = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct spool_batch sb = { .seq = j->seq, .sig = j->b.sig,
					  .window_start_ms = j->window_start_ms,
					  .window_end_ms = j->window_end_ms, .payload = j->b.packed,
					  .payload_len = j->b.packed_len, .gaps = j->gaps,
					  .ngaps = j->ngaps, .acked = j->send_st.acked_seq,
					  .lost = j->lost, .lost_start_ms = j->lost_start_ms,
					  .lost_end_ms = j->lost_end_ms };
		rc = spool_append(d->spool, &sb, &j->dropped, &eb);
		if (rc != -ESTALE)
			break;
		/* The sender moved next_seq (the collector was ahead): renumber. */
		uint64_t seq;
		int rc2 = spool_next_seq(d->spool, &seq);
		if (rc2 == 0) {
			j->seq = seq + j->lost;
			rc2 = batch_pack_sign(&j->b, j->seq, &d->kp);
		}
		if (rc2) {
			errbuf_set(&eb, rc2, "spool: cannot renumber batch %llu: %s",
				   (unsigned long long)j->seq, db_strerror(rc2));
			rc = rc2;
			break;
		}
	}
	if (rc) {
		j->rc = rc;
		j->spool_failed = true;
		str_copy(j->err, eb.msg, sizeof(j->err));
	}
}

static void report_work(uv_work_t *req)
{
	struct job *j = req->data;
	struct daemon *d = j->d;
	int64_t now = time_now_ms();
	j->window_end_ms = now > j->window_start_ms ? now : j->window_start_ms + 1;

	read_boot_id(d);
	batch_init(&j->b, j->seq, d->kp.pk, d->boot_id, j->window_start_ms, j->window_end_ms);
	if (d->perf) {
		Cairn__PerfWindow *pw = NULL;
		if (collect_perf_window_close(d->perf, j->window_end_ms, &pw) == 0)
			batch_add_perf(&j->b, pw);
	}
	if (d->win) {
		Cairn__ConnectionWindow *cw = NULL;
		add_flows(d);
		Cairn__ListenerSet *ls = NULL;
		if (window_close(d->win, j->window_end_ms, &cw, &ls) == 0)
			batch_add_connections(&j->b, cw, ls);
	}
	batch_add_processes(&j->b, &d->ctx, d->proc, &d->mem, j->full_procs);
	if (!j->final) {
		batch_add_host(&j->b, &d->ctx, &d->mem, j->full);
		batch_add_packages(&j->b, &d->ctx, &d->mem, j->full);
	}
	batch_add_gaps(&j->b, j->gaps, j->ngaps, j->lost, j->lost_start_ms, j->lost_end_ms);
	add_health(j);
	j->nrecords = j->b.msg->n_records;

	batch_fit(&j->b, batch_soft_max(j->spool_st.spool_max), &d->mem);
	j->rc = batch_pack_sign(&j->b, j->seq, &d->kp);
	if (j->rc) {
		snprintf(j->err, sizeof(j->err), "cannot pack/sign batch %llu: %s",
			 (unsigned long long)j->seq, strerror(-j->rc));
		return;
	}
	spool_batch_work(j);
}

static void job_work(uv_work_t *req)
{
	struct job *j = req->data;
	if (j->kind == JOB_SAMPLE)
		sample_work(req);
	else
		report_work(req);
}

/* ---------------------------------------------------------------- jobs (loop thread) */

static void continue_shutdown(struct daemon *d);

static void free_job(struct job *j)
{
	batch_free(&j->b);
	free(j);
}

static void report_done(struct daemon *d, struct job *j)
{
	if (j->rc) {
		d->report_errors++;
		if (j->spool_failed)
			d->spool_errors++;
		str_copy(d->last_report_error, j->err, sizeof(d->last_report_error));
		log_error("report window %lld..%lld lost: %s", (long long)j->window_start_ms,
			  (long long)j->window_end_ms, j->err);
		/* The next batch that is stored reports it as a gap, and resends
		 * what it may have held (process delta base, changed facts). */
		if (!d->lost_windows)
			d->lost_start_ms = j->window_start_ms;
		d->lost_windows++;
		d->lost_end_ms = j->window_end_ms;
		d->need_full = true;
		return;
	}
	if (j->lost)
		log_warn("batch %llu records the %llu window%s before it that could not be "
			 "stored (seq %llu..%llu) as a gap",
			 (unsigned long long)j->seq, (unsigned long long)j->lost,
			 j->lost == 1 ? "" : "s", (unsigned long long)(j->seq - j->lost),
			 (unsigned long long)(j->seq - 1));
	d->lost_windows -= j->lost;
	d->spooled++;
	d->dropped_by_spool += j->dropped;
	d->last_seq_spooled = j->seq;
	d->last_report_ms = j->window_end_ms;
	log_info("batch %llu spooled: window %lld s, %zu records, %zu bytes%s",
		 (unsigned long long)j->seq,
		 (long long)(j->window_end_ms - j->window_start_ms) / 1000, j->nrecords,
		 j->b.packed_len, j->ngaps ? " (carries gaps)" : "");
	if (j->full) {
		d->need_full = false;
		d->dropped_at_full = j->spool_st.dropped_batches + j->dropped;
	}
}

static void job_done(uv_work_t *req, int status)
{
	struct job *j = req->data;
	struct daemon *d = j->d;
	d->job = NULL;
	memcpy(d->stats, d->ctx.stats, sizeof(d->stats));
	if (j->kind == JOB_SAMPLE) {
		d->samples++;
		d->last_sample_ms = time_now_ms();
	} else {
		d->reports++;
		d->window_start_ms = j->window_end_ms;
		if (status == 0)
			report_done(d, j);
		if (d->sender_started)
			sender_kick(&d->sender);
	}
	bool was_final = j->final;
	free_job(j);
	if (d->phase != PHASE_RUNNING) {
		if (was_final) {
			d->phase = PHASE_CLOSING;
			write_status(d);
		}
		continue_shutdown(d);
		return;
	}
	schedule_jobs(d);
}

static int queue_job(struct daemon *d, enum job_kind kind, bool final)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->d = d;
	j->kind = kind;
	j->final = final;
	j->req.data = j;
	if (kind == JOB_REPORT) {
		int rc = spool_next_seq(d->spool, &j->seq);
		j->lost = d->lost_windows;
		j->seq += j->lost;
		j->lost_start_ms = d->lost_start_ms;
		j->lost_end_ms = d->lost_end_ms;
		if (!rc)
			rc = spool_pending_gaps(d->spool, j->gaps, MAX_GAPS_PER_BATCH, &j->ngaps);
		if (!rc)
			rc = spool_stats(d->spool, &j->spool_st);
		if (rc) {
			log_error("spool %s: cannot read state: %s", d->cfg.state_dir, db_strerror(rc));
			d->spool_errors++;
			free(j);
			return rc;
		}
		j->send_st = *sender_get_stats(&d->sender);
		j->window_start_ms = d->window_start_ms;
		uint64_t mono = time_mono_ms();
		if (!final && mono >= d->next_inventory_mono) {
			d->need_full = true;
			d->next_inventory_mono = mono + d->cfg.inventory_interval_ms;
		}
		/* Batches dropped while the collector was away may have held host
		 * facts or package lists that changed: once connected again, send
		 * everything once. Process deltas need their base at once. */
		bool lost = j->spool_st.dropped_batches > d->dropped_at_full;
		j->full = !final && (d->need_full || (lost && j->send_st.connected));
		j->full_procs = j->full || j->ngaps > 0 || j->lost > 0;
	}
	int rc = uv_queue_work(&d->loop, &j->req, job_work, job_done);
	if (rc) {
		free(j);
		return rc;
	}
	d->job = j;
	d->job_started_mono = time_mono_ms();
	return 0;
}

static void schedule_jobs(struct daemon *d)
{
	if (d->job || d->phase != PHASE_RUNNING)
		return;
	if (d->report_due) {
		d->report_due = false;
		if (queue_job(d, JOB_REPORT, false))
			d->report_errors++;
	} else if (d->sample_due) {
		d->sample_due = false;
		queue_job(d, JOB_SAMPLE, false);
	}
}

static void sample_timer_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	d->sample_due = true;
	schedule_jobs(d);
}

static void report_timer_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	d->report_due = true;
	schedule_jobs(d);
}

static void start_timers(struct daemon *d)
{
	uv_timer_start(&d->sample_timer, sample_timer_cb, d->cfg.sample_interval_ms,
		       d->cfg.sample_interval_ms);
	uv_timer_start(&d->report_timer, report_timer_cb, d->cfg.report_interval_ms,
		       d->cfg.report_interval_ms);
}

/* ---------------------------------------------------------------- status file */

static json_t *status_json(struct daemon *d)
{
	const struct sender_stats *ss = sender_get_stats(&d->sender);
	struct spool_stats sp = { 0 };
	int sprc = spool_stats(d->spool, &sp);
	json_t *errors = json_object();
	for (int k = 0; k < SENDER_NERRS; k++)
		json_object_set_new(errors, sender_err_name(k), json_integer((json_int_t)ss->errors[k]));
	json_object_set_new(errors, "report", json_integer((json_int_t)d->report_errors));
	json_t *collectors = json_object();
	for (int k = 0; k < COLLECT_NKINDS; k++) {
		const struct collect_stat *cs = &d->stats[k];
		json_object_set_new(collectors, collect_kind_name(k),
				    json_pack("{s:I, s:I, s:I, s:I, s:s}", "errors",
					      (json_int_t)cs->errors, "items", (json_int_t)cs->items,
					      "runs", (json_int_t)cs->runs, "last_duration_us",
					      (json_int_t)cs->last_duration_us, "last_error",
					      cs->last_error));
		json_object_set_new(errors, collect_kind_name(k), json_integer((json_int_t)cs->errors));
	}
	const char *phase = d->phase == PHASE_RUNNING ? "running"
			    : d->phase == PHASE_DONE  ? "stopped"
						      : "stopping";
	json_t *o = json_pack(
		"{s:i, s:I, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:i, "
		"s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:i, s:I, s:I}",
		"version", DAEMON_STATUS_VERSION, "pid", (json_int_t)getpid(), "phase", phase,
		"written_ms", (json_int_t)time_now_ms(), "started_ms", (json_int_t)d->started_ms,
		"agent_id", d->agent_id, "collector", d->cfg.collector, "state",
		sender_state_name(ss->state), "peer", ss->peer, "connected", ss->connected,
		"agent_version", CAIRN_VERSION, "connected_since_ms",
		(json_int_t)ss->connected_since_ms, "last_ack_ms", (json_int_t)ss->last_ack_ms,
		"last_ack_seq", (json_int_t)ss->last_ack_seq, "collector_high_seq",
		(json_int_t)ss->collector_high_seq, "enroll_state", (int)ss->enroll_state,
		"inflight", (json_int_t)ss->inflight, "sent_batches", (json_int_t)ss->sent_batches,
		"acks", (json_int_t)ss->acks, "resent_batches", (json_int_t)ss->resent_batches,
		"rejected_batches", (json_int_t)ss->rejected_batches, "connects",
		(json_int_t)ss->connects, "last_error", ss->last_error, "last_error_ms",
		(json_int_t)ss->last_error_ms, "last_error_code", (int)ss->last_error_code,
		"next_attempt_ms", (json_int_t)ss->next_attempt_ms, "backoff_ms",
		(json_int_t)ss->backoff_ms);
	json_object_set_new(o, "last_conflict_ms", json_integer((json_int_t)ss->last_conflict_ms));
	json_object_set_new(o, "errors", errors);
	struct capture_counters cc;
	capture_get_counters(d->cap, &cc);
	json_object_set_new(
		o, "capture",
		json_pack("{s:s, s:b, s:s, s:s, s:I, s:I, s:I, s:I}", "mechanism",
			  capture_describe(d->cap), "ebpf", capture_active(d->cap), "tcp",
			  capture_tcp_hook(d->cap), "udp", capture_udp_hook(d->cap), "events",
			  (json_int_t)cc.events, "udp_datagrams", (json_int_t)cc.udp_datagrams,
			  "ringbuf_drops", (json_int_t)cc.ringbuf_drops, "map_full",
			  (json_int_t)(cc.map_full + cc.flows_lost)));
	json_object_set_new(o, "collectors", collectors);
	if (sprc == 0)
		json_object_set_new(
			o, "spool",
			json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "batches",
				  (json_int_t)sp.batches, "bytes", (json_int_t)sp.bytes, "next_seq",
				  (json_int_t)sp.next_seq, "acked_seq", (json_int_t)sp.acked_seq,
				  "oldest_seq", (json_int_t)sp.oldest_seq, "newest_seq",
				  (json_int_t)sp.newest_seq, "dropped_batches",
				  (json_int_t)sp.dropped_batches, "dropped_bytes",
				  (json_int_t)sp.dropped_bytes, "pending_gaps",
				  (json_int_t)sp.pending_gaps, "spool_max", (json_int_t)sp.spool_max));
	json_object_set_new(
		o, "reports",
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "windows",
			  (json_int_t)d->reports, "samples", (json_int_t)d->samples, "spooled",
			  (json_int_t)d->spooled, "last_report_ms", (json_int_t)d->last_report_ms,
			  "last_sample_ms", (json_int_t)d->last_sample_ms, "last_seq",
			  (json_int_t)d->last_seq_spooled, "window_start_ms",
			  (json_int_t)d->window_start_ms, "last_error", d->last_report_error));
	json_object_set_new(
		o, "intervals",
		json_pack("{s:I, s:I, s:I}", "sample_ms", (json_int_t)d->cfg.sample_interval_ms,
			  "report_ms", (json_int_t)d->cfg.report_interval_ms, "inventory_ms",
			  (json_int_t)d->cfg.inventory_interval_ms));
	return o;
}

/* Atomic for readers (temporary file + rename); not fsync'd: the file is a
 * view of live state, rewritten every few seconds. */
static void write_status(struct daemon *d)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
	snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, DAEMON_STATUS_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	json_t *o = status_json(d);
	if (!o)
		return;
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_debug("cannot write %s: %s", tmp, strerror(errno));
		free(text);
		return;
	}
	size_t len = strlen(text), off = 0;
	bool ok = true;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ok = false;
			break;
		}
		off += (size_t)n;
	}
	if (ok && write(fd, "\n", 1) != 1)
		ok = false;
	close(fd);
	free(text);
	if (!ok || rename(tmp, path)) {
		log_debug("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

static void status_timer_cb(uv_timer_t *t)
{
	write_status(t->data);
}

/* ---------------------------------------------------------------- reload */

static void log_change_u64(const char *key, uint64_t a, uint64_t b, bool duration)
{
	if (a == b)
		return;
	char sa[32], sb[32];
	if (duration) {
		config_format_duration(a, sa, sizeof(sa));
		config_format_duration(b, sb, sizeof(sb));
	} else {
		snprintf(sa, sizeof(sa), "%llu", (unsigned long long)a);
		snprintf(sb, sizeof(sb), "%llu", (unsigned long long)b);
	}
	log_notice("reload: %s %s -> %s", key, sa, sb);
}

static void log_change_str(const char *key, const char *a, const char *b, bool secret)
{
	if (!strcmp(a, b))
		return;
	if (secret)
		log_notice("reload: %s changed", key);
	else
		log_notice("reload: %s '%s' -> '%s'", key, a, b);
}

static void reload(struct daemon *d)
{
	struct agent_config nc;
	struct errbuf eb;
	notify("RELOADING=1");
	log_notice("SIGHUP: reloading %s",
		   d->cli->config_used[0] ? d->cli->config_used : "(defaults and -o options)");
	if (cli_agent_config(d->cli, &nc)) {
		log_error("reload failed: keeping the running configuration");
		notify("READY=1");
		return;
	}
	struct sender_opts so;
	if (sender_opts_from_config(&so, &nc, &eb)) {
		log_error("reload failed: %s; keeping the running configuration", eb.msg);
		notify("READY=1");
		return;
	}
	struct agent_config *oc = &d->cfg;
	log_change_str("collector", oc->collector, nc.collector, false);
	log_change_str("collector_key", oc->collector_key, nc.collector_key, false);
	log_change_str("enroll_token", oc->enroll_token, nc.enroll_token, true);
	log_change_str("enroll_token_file", oc->enroll_token_file, nc.enroll_token_file, false);
	log_change_u64("sample_interval", oc->sample_interval_ms, nc.sample_interval_ms, true);
	log_change_u64("report_interval", oc->report_interval_ms, nc.report_interval_ms, true);
	log_change_u64("inventory_interval", oc->inventory_interval_ms, nc.inventory_interval_ms,
		       true);
	log_change_u64("spool_max", oc->spool_max, nc.spool_max, false);
	log_change_u64("max_inflight", oc->max_inflight, nc.max_inflight, false);
	log_change_str("log_level", oc->log_level, nc.log_level, false);
	if (strcmp(oc->state_dir, nc.state_dir)) {
		log_warn("reload: state_dir change to '%s' needs a restart; still using '%s'",
			 nc.state_dir, oc->state_dir);
		str_copy(nc.state_dir, oc->state_dir, sizeof(nc.state_dir));
	}
	if (strcmp(oc->capture, nc.capture)) {
		log_warn("reload: capture change to '%s' needs a restart; still '%s'", nc.capture,
			 oc->capture);
		str_copy(nc.capture, oc->capture, sizeof(nc.capture));
	}
	if (strcmp(oc->root, nc.root)) {
		log_warn("reload: root change to '%s' needs a restart; still reading '%s'", nc.root,
			 oc->root);
		str_copy(nc.root, oc->root, sizeof(nc.root));
	}
	bool timers = oc->sample_interval_ms != nc.sample_interval_ms ||
		      oc->report_interval_ms != nc.report_interval_ms;
	if (oc->inventory_interval_ms != nc.inventory_interval_ms)
		d->next_inventory_mono = time_mono_ms() + nc.inventory_interval_ms;
	enum log_level lvl;
	if (nc.log_level[0] && log_level_parse(nc.log_level, &lvl) == 0)
		log_set_level(lvl);
	spool_set_max(d->spool, nc.spool_max);
	*oc = nc;
	if (timers)
		start_timers(d);
	if (!so.hostname[0])
		gethostname(so.hostname, sizeof(so.hostname) - 1);
	sender_update(&d->sender, &so);
	if (!d->sender_started && so.collector[0]) {
		d->sender_started = true;
		sender_start(&d->sender);
	}
	sodium_memzero(&so, sizeof(so));
	notify("READY=1");
}

/* ---------------------------------------------------------------- shutdown */

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void sender_stopped(struct sender *s)
{
	struct daemon *d = (struct daemon *)((char *)s - offsetof(struct daemon, sender));
	write_status(d);
	uv_walk(&d->loop, close_walk_cb, NULL);
}

static void stop_sender(struct daemon *d)
{
	uv_timer_stop(&d->drain_timer);
	uv_timer_stop(&d->deadline_timer);
	if (d->sender_started)
		sender_stop(&d->sender, sender_stopped);
	else
		sender_stopped(&d->sender);
}

static void drain_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	const struct sender_stats *ss = sender_get_stats(&d->sender);
	if (!ss->connected || ss->inflight == 0 || uv_now(&d->loop) >= d->drain_until)
		stop_sender(d);
}

static void continue_shutdown(struct daemon *d)
{
	if (d->job)
		return; /* job_done comes back here */
	if (d->phase == PHASE_STOPPING) {
		d->phase = PHASE_FINAL_QUEUED;
		if (queue_job(d, JOB_REPORT, true) == 0)
			return;
		log_error("cannot close the last window: it is lost");
		d->phase = PHASE_CLOSING;
	}
	if (d->phase == PHASE_CLOSING) {
		d->phase = PHASE_DONE;
		const struct sender_stats *ss = sender_get_stats(&d->sender);
		if (d->sender_started && ss->connected && ss->inflight) {
			d->drain_until = uv_now(&d->loop) + SHUTDOWN_ACK_GRACE_MS;
			uv_timer_start(&d->drain_timer, drain_cb, 10, 10);
		} else {
			stop_sender(d);
		}
	}
}

static void deadline_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	log_error("shutdown: a collector scan did not finish within %d ms; exiting without "
		  "the last window (the spool is consistent)",
		  SHUTDOWN_DEADLINE_MS);
	write_status(d);
	/* The thread pool cannot be interrupted; leave now. */
	_exit(0);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	if (signum == SIGHUP) {
		if (d->phase == PHASE_RUNNING)
			reload(d);
		return;
	}
	if (d->phase != PHASE_RUNNING) {
		log_notice("%s: already stopping", strsignal(signum));
		return;
	}
	log_notice("%s: closing the current window and stopping", strsignal(signum));
	notify("STOPPING=1");
	d->phase = PHASE_STOPPING;
	uv_timer_stop(&d->sample_timer);
	uv_timer_stop(&d->report_timer);
	uv_timer_start(&d->deadline_timer, deadline_cb, SHUTDOWN_DEADLINE_MS, 0);
	continue_shutdown(d);
}

/* ---------------------------------------------------------------- setup */

static void capture_drain(struct daemon *d)
{
	int rc = capture_poll(d->cap, 0);
	if (rc < 0)
		log_debug("connection capture: reading events: %s", strerror(-rc));
}

static void capture_poll_cb(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	capture_drain(h->data);
}

static void capture_timer_cb(uv_timer_t *t)
{
	capture_drain(t->data);
}

static int open_collectors(struct daemon *d)
{
	int rc;
	collect_ctx_init(&d->ctx, d->cfg.root);
	if ((rc = collect_proc_state_new(&d->proc))) {
		log_error("process collector: %s", strerror(-rc));
		return rc;
	}
	if ((rc = collect_sock_scanner_new(&d->sock, &d->ctx, NULL))) {
		log_error("socket collector: %s", strerror(-rc));
		return rc;
	}
	if ((rc = window_new(&d->win, d->window_start_ms))) {
		log_error("connection window: %s", strerror(-rc));
		return rc;
	}
	uint64_t iv = d->cfg.sample_interval_ms;
	struct capture_opts co = { .short_lived_ms = (uint32_t)(iv > UINT32_MAX ? UINT32_MAX : iv),
				   .disable = !strcmp(d->cfg.capture, "poll"),
				   .disable_reason = "capture = poll in the configuration" };
	if ((rc = capture_open(&d->cap, &d->ctx, &co))) {
		log_error("connection capture: %s", strerror(-rc));
		return rc;
	}
	if ((rc = collect_perf_open(&d->perf, (uint32_t)(iv > UINT32_MAX ? UINT32_MAX : iv), 0))) {
		log_error("perf collector: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

static void close_collectors(struct daemon *d)
{
	batch_memory_free(&d->mem);
	collect_proc_state_free(d->proc);
	collect_sock_scanner_free(d->sock);
	window_free(d->win);
	collect_perf_close(d->perf);
	capture_close(d->cap); /* detaches every BPF program */
	d->cap = NULL;
	d->proc = NULL;
	d->sock = NULL;
	d->win = NULL;
	d->perf = NULL;
}

/* One daemon per state dir: a second one would fight over the spool's
 * sequence numbers and the collector connection. The lock dies with the
 * process (also on kill -9). */
static int lock_state_dir(struct daemon *d)
{
	char path[PATH_MAX + 32], buf[32];
	snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, DAEMON_LOCK_FILE);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = errno;
		log_error("cannot open %s: %s", path, strerror(err));
		return -err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno;
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (err == EWOULDBLOCK)
			log_error("another 'cairn-agent run' (pid %s) uses state dir %s: stop it first "
				  "or give this one its own --state-dir",
				  buf[0] ? buf : "?", d->cfg.state_dir);
		else
			log_error("cannot lock %s: %s", path, strerror(err));
		close(fd);
		return -EBUSY;
	}
	int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)len, 0) != len)
		log_warn("cannot write the pid to %s: %s", path, strerror(errno));
	d->lock_fd = fd;
	return 0;
}

/* Seqs skipped after a damaged spool beyond the last next_seq the status
 * file recorded: batches spooled after that status write (it is rewritten
 * every DAEMON_STATUS_PERIOD_MS, a batch is spooled per report window) must
 * not get their seq reused for different content. */
#define DAEMON_DAMAGED_SEQ_MARGIN 16

/* The agent never stays down because of its own cache: a spool that
 * spool_open refuses as damaged is moved aside, a fresh one opened, and the
 * batches it held (as far as the last status file knows: acked_seq + 1 up to
 * next_seq, plus a margin) are reported to the collector as a SPOOL_DAMAGED
 * gap. eb holds the damage on entry, the failure on return. */
static int recover_damaged_spool(struct daemon *d, struct errbuf *eb)
{
	char moved[PATH_MAX], path[PATH_MAX + 32];
	log_error("%s", eb->msg);
	int rc = spool_move_aside(d->cfg.state_dir, moved, sizeof(moved), eb);
	if (rc)
		return rc;
	uint64_t acked = 0, next = 1;
	int64_t last_ack_ms = 0;
	snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, DAEMON_STATUS_FILE);
	json_t *st = json_load_file(path, 0, NULL);
	json_t *sp = json_object_get(st, "spool");
	if (json_is_integer(json_object_get(sp, "next_seq"))) {
		json_int_t a = json_integer_value(json_object_get(sp, "acked_seq"));
		json_int_t n = json_integer_value(json_object_get(sp, "next_seq"));
		acked = a > 0 ? (uint64_t)a : 0;
		next = n > 0 ? (uint64_t)n : 1;
		json_int_t t = json_integer_value(json_object_get(st, "last_ack_ms"));
		last_ack_ms = t > 0 ? t : 0;
	}
	json_decref(st);
	if ((rc = spool_open(&d->spool, d->cfg.state_dir, d->cfg.spool_max, false, eb)))
		return rc;
	struct spool_gap lost = { .first_seq = acked + 1,
				  .last_seq = next - 1 + DAEMON_DAMAGED_SEQ_MARGIN,
				  .reason = CAIRN__GAP_REASON__SPOOL_DAMAGED,
				  .window_start_ms = last_ack_ms,
				  .window_end_ms = time_now_ms() };
	if (lost.first_seq > lost.last_seq)
		lost.first_seq = lost.last_seq;
	if ((rc = spool_resume_after_loss(d->spool, &lost))) {
		errbuf_set(eb, rc, "spool: cannot record the lost range in the fresh spool: %s",
			   db_strerror(rc));
		return rc;
	}
	log_warn("spool: damaged spool moved aside to %s (inspect or delete it); a fresh spool "
		 "continues at seq %llu and seqs %llu..%llu go to the collector as lost "
		 "(Gap SPOOL_DAMAGED)",
		 moved, (unsigned long long)lost.last_seq + 1, (unsigned long long)lost.first_seq,
		 (unsigned long long)lost.last_seq);
	return 0;
}

static int setup(struct daemon *d)
{
	struct errbuf eb;
	char path[PATH_MAX + 32];
	bool created = false;
	int rc;

	if ((rc = dir_make(d->cfg.state_dir, 0700, &eb))) {
		log_error("%s", eb.msg);
		return rc;
	}
	if ((rc = lock_state_dir(d)))
		return rc;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, DAEMON_KEY_FILE) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	if ((rc = keys_load_or_create(path, &d->kp, &created, &eb))) {
		log_error("%s", eb.msg);
		return rc;
	}
	keys_id_hex(d->kp.pk, d->agent_id);
	char fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_fingerprint(d->kp.pk, fp);
	log_info("agent id %s (fingerprint %s)%s", d->agent_id, fp,
		 created ? ": new key created in the state dir" : "");

	rc = spool_open(&d->spool, d->cfg.state_dir, d->cfg.spool_max, false, &eb);
	if (rc == DB_ERR_DAMAGED)
		rc = recover_damaged_spool(d, &eb);
	if (rc) {
		log_error("%s", eb.msg);
		return rc;
	}
	struct spool_stats st;
	if (spool_stats(d->spool, &st) == 0)
		log_info("spool: %llu batch%s (%llu bytes) waiting, next seq %llu",
			 (unsigned long long)st.batches, st.batches == 1 ? "" : "es",
			 (unsigned long long)st.bytes, (unsigned long long)st.next_seq);

	struct sender_opts so;
	if ((rc = sender_opts_from_config(&so, &d->cfg, &eb))) {
		log_error("%s", eb.msg);
		return rc;
	}
	gethostname(so.hostname, sizeof(so.hostname) - 1);
	rc = sender_init(&d->sender, &d->loop, d->spool, &d->kp, &so);
	sodium_memzero(&so, sizeof(so));
	if (rc) {
		log_error("sender: %s", uv_strerror(rc));
		return rc;
	}

	d->started_ms = time_now_ms();
	d->window_start_ms = d->started_ms;
	d->need_full = true;
	d->next_inventory_mono = time_mono_ms() + d->cfg.inventory_interval_ms;
	if ((rc = open_collectors(d)))
		return rc;

	uv_timer_init(&d->loop, &d->sample_timer);
	uv_timer_init(&d->loop, &d->report_timer);
	uv_timer_init(&d->loop, &d->status_timer);
	uv_timer_init(&d->loop, &d->watchdog_timer);
	uv_timer_init(&d->loop, &d->deadline_timer);
	uv_timer_init(&d->loop, &d->drain_timer);
	d->drain_timer.data = d;
	d->sample_timer.data = d->report_timer.data = d->status_timer.data = d;
	d->watchdog_timer.data = d->deadline_timer.data = d;
	uv_timer_init(&d->loop, &d->capture_timer);
	d->capture_timer.data = d->capture_poll.data = d;
	if (capture_active(d->cap)) {
		/* Batched wake-ups: the kernel wakes us over a fill level or for a
		 * new process; the timer drains the rest once a second. */
		if ((rc = uv_poll_init(&d->loop, &d->capture_poll, capture_fd(d->cap))) == 0)
			uv_poll_start(&d->capture_poll, UV_READABLE, capture_poll_cb);
		else
			log_warn("connection capture: cannot watch the ring buffer: %s "
				 "(drained once a second only)", uv_strerror(rc));
		uv_timer_start(&d->capture_timer, capture_timer_cb, 1000, 1000);
	}
	uv_signal_init(&d->loop, &d->sig_term);
	uv_signal_init(&d->loop, &d->sig_int);
	uv_signal_init(&d->loop, &d->sig_hup);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	uv_signal_start(&d->sig_term, signal_cb, SIGTERM);
	uv_signal_start(&d->sig_int, signal_cb, SIGINT);
	uv_signal_start(&d->sig_hup, signal_cb, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int daemon_run(struct cli *cli, const struct agent_config *cfg)
{
	struct daemon *d = calloc(1, sizeof(*d));
	if (!d) {
		log_error("out of memory");
		return 1;
	}
	d->cli = cli;
	d->cfg = *cfg;
	d->lock_fd = -1;
	int rc = uv_loop_init(&d->loop);
	if (rc) {
		log_error("cannot create the event loop: %s", uv_strerror(rc));
		free(d);
		return 1;
	}
	rc = setup(d);
	if (rc) {
		uv_walk(&d->loop, close_walk_cb, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		uv_loop_close(&d->loop);
		close_collectors(d);
		spool_close(d->spool);
		keys_wipe(&d->kp);
		if (d->lock_fd >= 0)
			close(d->lock_fd);
		free(d);
		return 1;
	}
	start_timers(d);
	uv_timer_start(&d->status_timer, status_timer_cb, 0, DAEMON_STATUS_PERIOD_MS);
	watchdog_start(d);
	if (d->cfg.collector[0]) {
		d->sender_started = true;
		sender_start(&d->sender);
	} else {
		log_notice("no collector configured (collector = host:port): batches stay in the "
			   "spool");
	}
	/* The first sample right away: perf rates and socket owners need a
	 * baseline. */
	d->sample_due = true;
	schedule_jobs(d);
	char iv[3][32];
	config_format_duration(d->cfg.sample_interval_ms, iv[0], sizeof(iv[0]));
	config_format_duration(d->cfg.report_interval_ms, iv[1], sizeof(iv[1]));
	config_format_duration(d->cfg.inventory_interval_ms, iv[2], sizeof(iv[2]));
	log_notice("running: sample every %s, report every %s, inventory every %s; collector %s",
		   iv[0], iv[1], iv[2], d->cfg.collector[0] ? d->cfg.collector : "(none)");
	notify("READY=1");

	uv_run(&d->loop, UV_RUN_DEFAULT);

	rc = uv_loop_close(&d->loop);
	if (rc)
		log_warn("event loop closed with handles open: %s", uv_strerror(rc));
	close_collectors(d);
	spool_close(d->spool);
	keys_wipe(&d->kp);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	int code = d->exit_code;
	free(d);
	log_notice("stopped");
	return code;
}
