/* The documents of the migration tools' progress (collector/plan/progress.h):
 * what `cairn-collector notify ... --json` prints and what
 * /api/v1/progress-streams/... returns, built in one place. Names as in
 * Migration Hub's NotifyMigrationTaskState (status, progressPercent,
 * statusDetail, updateDateTime, nextUpdateSeconds), plus what cairn adds:
 * the hosts the resources matched, the unmatched ones, stale, who and when. */
#ifndef CAIRN_PROGRESS_DOCS_H
#define CAIRN_PROGRESS_DOCS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate.h"
#include "progress.h"
#include "read.h"

/* One task; hosts (sorted by id, as read_hosts_list gives them; may be NULL)
 * name the matched hosts. */
json_t *docs_progress_task(const Cairn__Store__ProgressTask *t, int64_t now_ms,
			   const struct read_host *hosts, size_t nhosts);
/* {"stream": S or null, "tasks": [...]} */
json_t *docs_progress_tasks(const char *stream, const struct progress_tasks *ts, int64_t now_ms,
			    const struct read_host *hosts, size_t nhosts);
/* {"streams": [{"stream", "tasks", "task_states", "stale", "updateDateTime"}]} */
json_t *docs_progress_streams(const struct progress_stream *v, size_t n);
/* A host's migration status: what counts, what a person set, what the
 * tasks say, and the line the CLI prints. */
json_t *docs_migration_status(const struct migrate_host_status *hs);
/* The migration status of one host (host, the API's hosts/HOST) read
 * through t: *out the docs_migration_status document, text (may be NULL)
 * its line. 0 or an error. */
int docs_host_migration(const struct read_txn *t, const char *host_id, json_t **out, char *text,
			size_t n);
/* {"NOT_STARTED": n, "IN_PROGRESS": n, "FAILED": n, "COMPLETED": n} */
json_t *docs_state_counts(const unsigned counts[static 5]);

#endif
