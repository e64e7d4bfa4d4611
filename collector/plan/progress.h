/* Progress from migration tools: Migration Hub's NotifyMigrationTaskState
 * model over DB progress_tasks (docs/storage.md).
 *
 * A tool reports tasks in its own progress stream ("mgn", "dms-prod"); each
 * report replaces the task's status, percent, detail, update time, promised
 * next update and resources. Resources name hosts (host id or id prefix,
 * hostname or fqdn, IP address, MAC address); what matches no host is kept
 * and matched again on every read, so a task finds a host imported or
 * enrolled later. A host's migration status is derived from its tasks
 * (migrate_state_derive) unless a person set it with `migrate set`;
 * migrate.h combines the two.
 *
 * The web API (collector/web) and `cairn-collector notify` share everything
 * here: parsing and validation (every error names the field), resolution,
 * the write (struct progress_writer: concurrent reports of many threads go
 * into one durable write transaction with their audit entries, each caller
 * answered after that commit), and the read views. */
#ifndef CAIRN_PROGRESS_H
#define CAIRN_PROGRESS_H

#include <jansson.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "keys.h"
#include "read.h"
#include "store.pb-c.h"
#include "util.h"

#define PROGRESS_STREAM_MAX 50          /* bytes of a stream name (Migration Hub: 1..50) */
#define PROGRESS_TASK_MAX 255           /* bytes of a task name (a URL path segment) */
#define PROGRESS_DETAIL_MAX 500         /* characters of statusDetail */
#define PROGRESS_RESOURCES_MAX 100      /* resources per task */
#define PROGRESS_RESOURCE_MAX 255       /* bytes of one resource */
#define PROGRESS_NEXT_UPDATE_MAX 31536000u /* nextUpdateSeconds: at most a year */

/* One report of a task, as parsed and checked. */
struct progress_update {
	char stream[PROGRESS_STREAM_MAX + 1];
	char task[PROGRESS_TASK_MAX + 1];
	Cairn__Store__MigrationState status;
	int percent;                    /* -1: not given (COMPLETED: 100, else 0) */
	char detail[4 * PROGRESS_DETAIL_MAX + 1]; /* UTF-8 */
	int64_t update_ms;              /* updateDateTime; 0: when it is received */
	uint32_t next_update_s;         /* 0: no next update promised */
	char resources[PROGRESS_RESOURCES_MAX][PROGRESS_RESOURCE_MAX + 1];
	size_t nresources;
	bool has_resources;             /* false: keep the stored task's resources */
};

/* ---- parsing and validation (pure) ---- */

/* A stream (what = "stream", max PROGRESS_STREAM_MAX) or task name: 1..max
 * bytes of UTF-8 without '/', ':', '|' or control characters, not "." or
 * "..". 0 or -EINVAL with eb naming what and why. */
int progress_name_check(const char *what, const char *name, size_t max, struct errbuf *eb);

/* Clears u and sets its names (checked). 0 or -EINVAL. */
int progress_update_init(struct progress_update *u, const char *stream, const char *task,
			 struct errbuf *eb);

/* "NOT_STARTED", "IN_PROGRESS", "FAILED", "COMPLETED" (any case, '-' for
 * '_'). -EINVAL with eb naming field and the accepted values. */
int progress_status_parse(const char *field, const char *text, Cairn__Store__MigrationState *out,
			  struct errbuf *eb);

/* ISO 8601 date and time: "2026-12-02T17:30:00Z", fractions of a second,
 * "+02:00"/"-0500" offsets, 'T' or ' ' between date and time; a time without
 * a zone is UTC. 0 with *ms, or -EINVAL. */
int progress_time_parse(const char *text, int64_t *ms);

/* The canonical text of a time: "2026-12-02T17:30:00Z" (".123" before 'Z'
 * when the milliseconds are not zero). */
void progress_time_format(int64_t ms, char *out, size_t n);

/* Adds one resource (1..PROGRESS_RESOURCE_MAX bytes, no control
 * characters; a repeated one is kept once) and sets has_resources. -EINVAL or -E2BIG (more than
 * PROGRESS_RESOURCES_MAX) with eb naming field. */
int progress_update_add_resource(struct progress_update *u, const char *field, const char *text,
				 struct errbuf *eb);

/* The request body of PUT .../tasks/TASK into u (names already set):
 * {"status": S, "progressPercent": 0..100, "statusDetail": "...",
 *  "updateDateTime": ISO 8601 text or epoch seconds, "nextUpdateSeconds": N,
 *  "resources": ["host id, name, IP or MAC", ...]}; status is required,
 * unknown members are refused. Each report replaces the task, except that
 * without "resources" (or null) the stored resources stay. 0 or -EINVAL / -E2BIG with eb naming the
 * member. */
int progress_update_from_json(const json_t *body, struct progress_update *u, struct errbuf *eb);

/* ---- resources -> hosts ---- */

/* Every way a stored host may be named, built once from DB hosts (hostname,
 * fqdn, NIC MACs and addresses), DB agents (claimed hostname) and DB addrs.
 * Immutable once built: any thread may match against it. */
struct progress_index;

int progress_index_build(MDB_txn *txn, const struct db_env *env, struct progress_index **out);
void progress_index_free(struct progress_index *ix);

/* The hosts one resource names: a full id, an id prefix of >= 8 hex digits
 * naming one host, a hostname or fqdn (case-insensitive), an IP address or a
 * MAC address ("aa:bb:cc:dd:ee:ff", '-' separators or none). Writes at most
 * max ids (sorted, unique) and returns how many matched (0: none). */
size_t progress_index_match(const struct progress_index *ix, const char *resource,
			    char ids[][KEY_ID_HEX_LEN + 1], size_t max);

/* ---- writing ---- */

/* Shared by the threads of one process (the web server's request threads);
 * a command uses one for its single write. rd must be open writable. */
struct progress_job;
struct progress_writer {
	struct read_ctx *rd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool writing;                   /* a thread runs a group's transaction */
	struct progress_job *head, *tail; /* waiting for the next group */
	struct progress_index *ix;      /* cached, rebuilt when the hosts change */
	uint64_t ix_sig[4];             /* facts_gen and entries of hosts, agents, addrs */
	int64_t ix_built_ms;
	bool ix_building;               /* one thread rebuilds; the others use ix meanwhile */
	uint64_t groups, reports;       /* transactions written, reports in them */
	pthread_t thread;               /* progress_writer_start */
	bool thread_running, stopping;
};

int progress_writer_init(struct progress_writer *w, struct read_ctx *rd);
/* Stops the thread (progress_writer_stop) and frees the cached index. */
void progress_writer_destroy(struct progress_writer *w);

/* A thread of its own then writes the groups, so a server can queue
 * reports (progress_submit) without a request thread waiting for each
 * commit. 0 or a negative errno. */
int progress_writer_start(struct progress_writer *w);
/* Writes what is queued (answering it), then ends the thread. */
void progress_writer_stop(struct progress_writer *w);

/* What a report did. task: the stored task (malloc'd; free with
 * progress_result_free), its unmatched resources as of this report. */
struct progress_result {
	Cairn__Store__ProgressTask *task;
	bool created;                   /* the first report of this task */
	bool applied;                   /* false: a report with a later updateDateTime is stored */
	Cairn__Store__MigrationState previous; /* before (0 when created) */
};
void progress_result_free(struct progress_result *r);

/* Resolves u's resources, then stores u with an audit entry ("progress.put",
 * target "STREAM/TASK", user) in a durable write transaction, possibly one
 * shared with other threads' reports; returns after that commit. A report
 * older (updateDateTime) than the stored one changes nothing (applied =
 * false). Call with no read transaction of this thread open. 0 or an error
 * with eb saying what failed. */
int progress_put(struct progress_writer *w, const struct progress_update *u, const char *user,
		 int64_t now_ms, struct progress_result *out, struct errbuf *eb);

/* progress_put without waiting (progress_writer_start first): checks and
 * resolves u, queues it and returns 0; after the commit of its group the
 * writer thread calls done(arg, rc, msg) (msg: what failed, "" when rc is
 * 0) with out filled. u, user and out must stay valid until then. On an
 * error returned here done is never called; -EAGAIN: no writer thread runs
 * (or it stops), progress_put writes it. */
typedef void (*progress_done_fn)(void *arg, int rc, const char *msg);
int progress_submit(struct progress_writer *w, const struct progress_update *u, const char *user,
		    int64_t now_ms, struct progress_result *out, progress_done_fn done, void *arg,
		    struct errbuf *eb);

/* Deletes one task, or every task of stream (task NULL), with one audit
 * entry ("progress.delete"). *deleted: how many. -ENOENT when nothing was
 * there. */
int progress_delete(struct progress_writer *w, const char *stream, const char *task,
		    const char *user, int64_t now_ms, size_t *deleted, struct errbuf *eb);

/* ---- reading ---- */

/* Tasks in key order (stream, then task); owned copies whose unmatched
 * resources were matched again against the hosts stored now (what matches
 * moved to hosts). */
struct progress_tasks {
	Cairn__Store__ProgressTask **v;
	size_t n;
};

/* The tasks of stream, or of every stream (stream NULL). */
int progress_tasks_read(MDB_txn *txn, const struct db_env *env, const char *stream,
			struct progress_tasks *out, struct errbuf *eb);
/* One task; -ENOENT (eb says which) when there is none. */
int progress_task_read(MDB_txn *txn, const struct db_env *env, const char *stream,
		       const char *task, Cairn__Store__ProgressTask **out, struct errbuf *eb);
void progress_tasks_free(struct progress_tasks *t);

/* No report within next_update_s of its update time, and not COMPLETED. */
bool progress_task_stale(const Cairn__Store__ProgressTask *t, int64_t now_ms);

/* Per stream: tasks per status (index = MigrationState), stale ones, the
 * latest update. */
struct progress_stream {
	char name[PROGRESS_STREAM_MAX + 1];
	unsigned tasks, states[5], stale;
	int64_t updated_ms;
};
/* Streams of tasks (read for every stream), by name. *out malloc'd. */
int progress_streams(const struct progress_tasks *tasks, int64_t now_ms,
		     struct progress_stream **out, size_t *n);

/* Per host: what its tasks say (state derived with migrate_state_derive,
 * percent = their mean, COMPLETED counting 100). */
struct progress_host {
	char id[KEY_ID_HEX_LEN + 1];
	Cairn__Store__MigrationState state;
	double percent;
	unsigned tasks, states[5], stale;
	char streams[128];              /* "mgn, dms" (cut when long) */
};
struct progress_hosts {
	struct progress_host *v;        /* by id */
	size_t n;
};
int progress_hosts_derive(const struct progress_tasks *tasks, int64_t now_ms,
			  struct progress_hosts *out);
/* Reads every task and derives (the one call the documents need). */
int progress_hosts_load(MDB_txn *txn, const struct db_env *env, int64_t now_ms,
			struct progress_hosts *out, struct errbuf *eb);
const struct progress_host *progress_hosts_get(const struct progress_hosts *h, const char *id);
void progress_hosts_free(struct progress_hosts *h);

#endif
