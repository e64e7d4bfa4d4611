/* The JSON documents of the read commands: what `cairn-collector CMD --json`
 * prints and what the web console's API (/api/v1/CMD) returns, built in one
 * place so the two can never differ. Each builder takes owned views of the
 * read layer (agents, a snapshot, a host view) and returns a new jansson
 * value (reference owned by the caller), or NULL when out of memory.
 * Builders never print and never read the store themselves, except
 * docs_progress, which reads migration statuses through the given
 * transaction. */
#ifndef CAIRN_DOCS_H
#define CAIRN_DOCS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "estate.h"
#include "read.h"
#include "store.pb-c.h"
#include "tags.h"

/* A JSON string of s with bytes that are not UTF-8 replaced by U+FFFD
 * (agents' strings are not checked when stored, and jansson refuses invalid
 * UTF-8, so a host would silently go missing). NULL s = "". */
json_t *docs_json_str(const char *s);

/* hosts: every host that delivered data (ags read with READ_AGENT_FACTS |
 * READ_AGENT_COUNTS | READ_AGENT_HEALTH); snap (may be NULL) gives each host's application. */
bool docs_host_listed(const struct read_agent *ra);
json_t *docs_hosts(const struct read_agents *ags, const Cairn__Store__Snapshot *snap);

/* agents [--pending]: every agent record (or the pending ones), with its
 * capture health when ags was read with READ_AGENT_HEALTH. */
json_t *docs_agent(const Cairn__Store__Agent *a);
json_t *docs_agents(const struct read_agents *ags, bool pending_only);

/* host HOST: facts, capture (health may be NULL), utilization (the host view
 * eh), listeners, packages, the application and service-level dependencies
 * in snap (may be NULL). */
json_t *docs_host(const struct read_host *h, const struct estate_host *eh,
		  const Cairn__CollectorHealth *health, const Cairn__Store__Snapshot *snap);

/* apps; apps show APP (hosts names host ids). */
json_t *docs_apps(const Cairn__Store__Snapshot *snap);
json_t *docs_app(const Cairn__Store__Snapshot *snap, size_t app_index,
		 const struct read_host *hosts, size_t nhosts);

/* deps: the levels of the map. */
enum docs_level {
	DOCS_LEVEL_HOST,
	DOCS_LEVEL_SERVICE,
	DOCS_LEVEL_APP,       /* applications and externals as nodes, host edges summed */
};

/* "host", "service" (also "process"), "app": 0 or -EINVAL. */
int docs_level_parse(const char *s, enum docs_level *out);
const char *docs_level_name(enum docs_level l);

/* The part of the map deps shows: edges of the level that touch host_id or
 * an application app_id (both NULL: all), and the nodes they need. */
struct docs_deps_sel {
	enum docs_level level;
	Cairn__Store__MapEdge **edges;       /* into the snapshot's map */
	size_t nedges;
	bool *keep_node;                     /* per map node */
	bool filtered;                       /* host or app given */
};

/* -ENOMEM or 0. host_id is an agent id hex, app_id an application id. At
 * DOCS_LEVEL_APP the host edges are selected (docs_deps sums them).
 * Applications and shared infrastructure are kept as they are. */
int docs_deps_select(const Cairn__Store__Snapshot *snap, enum docs_level level, const char *host_id,
		     const char *app_id, struct docs_deps_sel *out);
void docs_deps_sel_free(struct docs_deps_sel *sel);
json_t *docs_deps(const Cairn__Store__Snapshot *snap, const struct docs_deps_sel *sel);

/* readiness; readiness HOST|APP (one entry); sizing; cost; plan waves
 * (max_hosts: the size limit used); progress (statuses read through t). */
json_t *docs_message(const void *protobuf_message);
json_t *docs_readiness(const Cairn__Store__Snapshot *snap);
json_t *docs_sizing(const Cairn__Store__Snapshot *snap);
json_t *docs_cost(const Cairn__Store__Snapshot *snap);
json_t *docs_waves(const Cairn__Store__Snapshot *snap, unsigned max_hosts);
int docs_progress(const struct read_txn *t, const Cairn__Store__Snapshot *snap, json_t **out);

/* Tags: {key: value} of s (NULL: {}). docs_add_tags sets "tags" on each
 * object of rows (an array, or one object) from the subject its id_key names
 * (a host id, or an app id when apps). */
json_t *docs_tags(const Cairn__Store__TagSet *s);
void docs_add_tags(json_t *rows, const struct tags_all *t, const char *id_key, bool apps);

#endif
