/* Migration tracking (states as AWS Migration Hub uses them) and post-
 * migration validation.
 *
 * Status keys: a host's agent id (hex) or "app:" + application id. Every
 * change is written with its history entry and an audit entry (time, OS user)
 * in one durable write transaction. */
#ifndef CAIRN_MIGRATE_H
#define CAIRN_MIGRATE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "estate.h"
#include "store.pb-c.h"
#include "util.h"

/* "NOT_STARTED", "IN_PROGRESS", "FAILED", "COMPLETED" (any case, '-' for '_'). */
int migrate_state_parse(const char *s, Cairn__Store__MigrationState *out);
const char *migrate_state_name(Cairn__Store__MigrationState s);

/* Sets the status of key. progress < 0 keeps the previous value (COMPLETED
 * means 100 and NOT_STARTED 0 unless given); note NULL keeps the previous
 * note. The stored status is returned in *out when not NULL (malloc'd). */
int migrate_set(struct db_env *env, const char *key, Cairn__Store__MigrationState state,
		int progress, const char *note, const char *user, int64_t now_ms,
		Cairn__Store__MigrationStatus **out, struct errbuf *eb);

/* Current status of key, *out NULL when never set. */
int migrate_get(MDB_txn *txn, const struct db_env *env, const char *key,
		Cairn__Store__MigrationStatus **out);

/* Every past status of key, oldest first (malloc'd array of malloc'd messages). */
int migrate_history(MDB_txn *txn, const struct db_env *env, const char *key,
		    Cairn__Store__MigrationStatus ***out, size_t *n);
void migrate_list_free(Cairn__Store__MigrationStatus **v, size_t n);

/* The state of a group from its members' states (index = MigrationState):
 * all COMPLETED: COMPLETED; any FAILED: FAILED; any started (IN_PROGRESS or
 * COMPLETED): IN_PROGRESS; else (also none) NOT_STARTED. A host's tasks and
 * an application's hosts combine the same way. */
Cairn__Store__MigrationState migrate_state_derive(const unsigned counts[static 5]);

/* What counts for one host: the status a person set (`migrate set`, the
 * console) wins over what the migration tools' tasks say (progress.h);
 * both are kept so both can be shown. */
struct progress_host;
struct progress_hosts;
struct migrate_host_status {
	Cairn__Store__MigrationState state;   /* what counts */
	double percent;
	bool explicit_status;                 /* set by a person ... */
	Cairn__Store__MigrationState set_state;
	unsigned set_percent;
	char set_by[96];                      /* ... who */
	int64_t set_ms;
	const struct progress_host *tasks;    /* into the caller's progress_hosts; NULL: none */
};
/* tasks may be NULL (no task is then looked at). */
int migrate_host_status(MDB_txn *txn, const struct db_env *env, const char *host_id,
			const struct progress_hosts *tasks, struct migrate_host_status *out);
/* "IN_PROGRESS 40% (set by alice) · tasks: FAILED (2 tasks, stream mgn)". */
void migrate_host_status_text(const struct migrate_host_status *s, char *out, size_t n);

/* Progress of one application: its own status when set, else derived from
 * its hosts (migrate_state_derive over migrate_host_status). tasks (may be
 * NULL): the tasks by host (progress_hosts_load). */
struct migrate_app_progress {
	Cairn__Store__MigrationState state;
	double percent;             /* mean of the hosts' progress */
	unsigned hosts[5];          /* hosts per state (index = MigrationState) */
	bool explicit_status;
	unsigned tasks, stale_tasks; /* the migration tools' tasks on its hosts */
	unsigned task_states[5];    /* those tasks per state */
};
int migrate_app_progress(MDB_txn *txn, const struct db_env *env, const Cairn__Store__App *app,
			 const struct progress_hosts *tasks, struct migrate_app_progress *out);

/* ---- validate ---- */

enum migrate_check_status {
	MIGRATE_OK,
	MIGRATE_MISSING,   /* on the source, not on the target */
	MIGRATE_CHANGED,   /* on both, different (version, amount) */
	MIGRATE_EXTRA,     /* only on the target */
};

struct migrate_check {
	char area[16];      /* "listener", "inbound", "outbound", "package", "utilization" */
	char item[160];
	char source[96];
	char target[96];
	enum migrate_check_status status;
	bool important;     /* missing it makes validate exit 1 */
};

struct migrate_report {
	struct migrate_check *v;
	size_t n;
	size_t important_missing;
};

/* Compares target with source: listeners (protocol/port), outbound and inbound
 * dependencies in map (host edges by peer and port), key packages (rules) and
 * utilization. map may be NULL (dependencies then skipped). */
int migrate_validate(const struct estate_host *source, const struct estate_host *target,
		     const Cairn__Store__DepMap *map, struct migrate_report *out);
void migrate_report_free(struct migrate_report *r);
const char *migrate_check_name(enum migrate_check_status s);

#endif
