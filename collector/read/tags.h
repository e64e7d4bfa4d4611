/* Tags: key=value labels on hosts and applications (DB tags).
 *
 * A subject is a host id (hex) or "app:" + application id, the keys of DB
 * migration. Tags come from people (`cairn-collector tag set`, the API) and
 * from imports (the Tags column of an mhub-csv file); a person's tag is never
 * overwritten by an import. Well-known keys drive planning and are checked:
 *
 *   environment   prod | staging | test | dev   (production, development,
 *                                                 qa, uat accepted and folded)
 *   criticality   high | medium | low
 *   owner         free text (a team, a person)
 *   move-window   free text (e.g. "sat 02:00-06:00")
 *
 * Filters (`--tag key=value`, repeatable: all must hold) match a host by its
 * own tags or its application's, and an application by its own tags or any
 * of its hosts'. */
#ifndef CAIRN_TAGS_H
#define CAIRN_TAGS_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "store.pb-c.h"
#include "util.h"

#define TAGS_KEY_MAX 64
#define TAGS_VALUE_MAX 256
#define TAGS_PER_SUBJECT 64
#define TAGS_FILTER_MAX 8

struct tag_kv {
	char key[TAGS_KEY_MAX + 1];
	char value[TAGS_VALUE_MAX + 1];
};

/* "key=value" into kv: key lower-cased and checked, value trimmed, a
 * well-known key's value checked and folded ("Production" -> "prod").
 * -EINVAL with eb naming what is wrong. */
int tags_parse(const char *text, struct tag_kv *kv, struct errbuf *eb);
/* Checks and folds kv in place (for values that come as separate fields). */
int tags_check(struct tag_kv *kv, struct errbuf *eb);
/* A key alone (for `tag rm`): lower-cased into key (TAGS_KEY_MAX + 1 bytes). */
int tags_parse_key(const char *text, char *key, struct errbuf *eb);

/* Every stored tag set, sorted by subject. */
struct tags_all {
	Cairn__Store__TagSet **v;
	size_t n;
};
int tags_load(MDB_txn *txn, const struct db_env *env, struct tags_all *out, struct errbuf *eb);
void tags_all_free(struct tags_all *t);
/* The tag set of subject, NULL when it has none. */
const Cairn__Store__TagSet *tags_of(const struct tags_all *t, const char *subject);
/* The value of key in s (s may be NULL), NULL when absent. */
const char *tags_value(const Cairn__Store__TagSet *s, const char *key);
/* The same for an application: its own tag, else the value its hosts agree on
 * (the most common one; ties: the one sorting first), NULL when none. */
const char *tags_app_value(const struct tags_all *t, const char *app_id,
			   char *const *hosts, size_t nhosts, const char *key);

/* Inside a write transaction (decide_write, an import): sets the given tags
 * and removes the keys in rm (either may be empty). source is "person" or
 * "import FILE:LINE"; an import never replaces a person's tag of the same
 * key (skipped, counted in *kept when not NULL). Writes one audit entry
 * ("tags.set" / "tags.rm") unless source is an import (imports audit
 * themselves, once per file). -E2BIG over TAGS_PER_SUBJECT. */
int tags_write(MDB_txn *txn, const struct db_env *env, const char *subject,
	       const struct tag_kv *set, size_t nset, char *const *rm, size_t nrm,
	       const char *by, const char *source, int64_t now_ms, size_t *kept,
	       struct errbuf *eb);

/* --tag filters. */
struct tags_filter {
	struct tag_kv v[TAGS_FILTER_MAX];
	size_t n;
};
/* Adds one "key=value"; -EINVAL (eb says why) or -E2BIG over TAGS_FILTER_MAX. */
int tags_filter_add(struct tags_filter *f, const char *text, struct errbuf *eb);
/* A host passes when each filter holds on its own tags or its app's. */
bool tags_filter_host(const struct tags_filter *f, const struct tags_all *t,
		      const char *host_id, const char *app_id);
/* An app passes when each filter holds on its own tags or on any host's. */
bool tags_filter_app(const struct tags_filter *f, const struct tags_all *t, const char *app_id,
		     char *const *hosts, size_t nhosts);

#endif
