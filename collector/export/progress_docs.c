/* Progress documents; see progress_docs.h. */
#include "progress_docs.h"

#include <errno.h>
#include <string.h>

#include "docs.h"

json_t *docs_state_counts(const unsigned counts[static 5])
{
	return json_pack("{s:i, s:i, s:i, s:i}", "NOT_STARTED", (int)counts[1], "IN_PROGRESS",
			 (int)counts[2], "FAILED", (int)counts[3], "COMPLETED", (int)counts[4]);
}

static const char *host_name(const struct read_host *hosts, size_t n, const char *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(hosts[mid].id_hex, id);
		if (!c)
			return hosts[mid].hostname;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return "";
}

static json_t *time_str(int64_t ms)
{
	char at[40];
	progress_time_format(ms, at, sizeof(at));
	return json_string(at);
}

static json_t *strings(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, docs_json_str(v[i]));
	return a;
}

json_t *docs_progress_task(const Cairn__Store__ProgressTask *t, int64_t now_ms,
			   const struct read_host *hosts, size_t nhosts)
{
	json_t *jh = json_array();
	for (size_t i = 0; jh && i < t->n_hosts; i++)
		json_array_append_new(jh, json_pack("{s:s, s:o}", "id", t->hosts[i], "name",
						    docs_json_str(host_name(hosts, nhosts, t->hosts[i]))));
	return json_pack("{s:o, s:o, s:s, s:i, s:o, s:o, s:i, s:o, s:o, s:o, s:b, s:o, s:o, s:o}",
			 "stream", docs_json_str(t->stream), "task", docs_json_str(t->task), "status",
			 migrate_state_name(t->status), "progressPercent", (int)t->progress_pct,
			 "statusDetail", docs_json_str(t->detail), "updateDateTime",
			 time_str(t->update_ms), "nextUpdateSeconds", (int)t->next_update_s,
			 "resources", strings(t->resources, t->n_resources), "hosts", jh,
			 "unmatched_resources", strings(t->unmatched, t->n_unmatched), "stale",
			 progress_task_stale(t, now_ms), "updated_by", docs_json_str(t->updated_by),
			 "receivedDateTime", time_str(t->received_ms), "createdDateTime",
			 time_str(t->created_ms));
}

json_t *docs_progress_tasks(const char *stream, const struct progress_tasks *ts, int64_t now_ms,
			    const struct read_host *hosts, size_t nhosts)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < ts->n; i++)
		json_array_append_new(a, docs_progress_task(ts->v[i], now_ms, hosts, nhosts));
	return json_pack("{s:o, s:o}", "stream", stream ? docs_json_str(stream) : json_null(),
			 "tasks", a);
}

json_t *docs_progress_streams(const struct progress_stream *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack("{s:o, s:i, s:o, s:i, s:o}", "stream",
						   docs_json_str(v[i].name), "tasks", (int)v[i].tasks,
						   "task_states", docs_state_counts(v[i].states), "stale",
						   (int)v[i].stale, "updateDateTime",
						   time_str(v[i].updated_ms)));
	return json_pack("{s:o}", "streams", a);
}

json_t *docs_migration_status(const struct migrate_host_status *hs)
{
	char text[400];
	migrate_host_status_text(hs, text, sizeof(text));
	json_t *set = json_null(), *tasks = json_null();
	if (hs->explicit_status)
		set = json_pack("{s:s, s:i, s:o, s:I}", "state", migrate_state_name(hs->set_state),
				"percent", (int)hs->set_percent, "by", docs_json_str(hs->set_by),
				"updated_ms", (json_int_t)hs->set_ms);
	if (hs->tasks)
		tasks = json_pack("{s:s, s:f, s:i, s:i, s:o, s:o}", "state",
				  migrate_state_name(hs->tasks->state), "percent", hs->tasks->percent,
				  "tasks", (int)hs->tasks->tasks, "stale", (int)hs->tasks->stale,
				  "task_states", docs_state_counts(hs->tasks->states), "streams",
				  docs_json_str(hs->tasks->streams));
	return json_pack("{s:s, s:f, s:s, s:o, s:o, s:o}", "state", migrate_state_name(hs->state),
			 "percent", hs->percent, "source",
			 hs->explicit_status ? "set" : hs->tasks ? "tasks" : "none", "set", set, "tasks",
			 tasks, "text", docs_json_str(text));
}

int docs_host_migration(const struct read_txn *t, const char *host_id, json_t **out, char *text,
			size_t n)
{
	struct progress_hosts tasks;
	*out = NULL;
	int rc = progress_hosts_load(t->txn, t->db, time_now_ms(), &tasks, NULL);
	if (rc)
		return rc;
	struct migrate_host_status hs;
	if (!(rc = migrate_host_status(t->txn, t->db, host_id, &tasks, &hs))) {
		*out = docs_migration_status(&hs);
		if (text)
			migrate_host_status_text(&hs, text, n);
		if (!*out)
			rc = -ENOMEM;
	}
	progress_hosts_free(&tasks);
	return rc;
}
