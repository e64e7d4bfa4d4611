#include "tags.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "store.h"

/* Well-known keys and the values they take; aliases fold into the first. */
struct known {
	const char *key;
	const char *const *values; /* NULL-terminated; "a=b": alias a folds into b */
};

static const char *const env_values[] = {
	"prod", "staging", "test", "dev", "production=prod", "prd=prod", "live=prod",
	"stage=staging", "stg=staging", "preprod=staging", "pre-prod=staging", "uat=test",
	"qa=test", "tst=test", "development=dev", "devel=dev", NULL
};
static const char *const crit_values[] = {
	"high", "medium", "low", "critical=high", "med=medium", "normal=medium", NULL
};

static const struct known known_keys[] = {
	{ "environment", env_values },
	{ "criticality", crit_values },
};

static bool key_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '.' || c == '_' || c == ':' || c == '/' || c == '-');
}

int tags_parse_key(const char *text, char *key, struct errbuf *eb)
{
	size_t n = strlen(text);
	while (n && isspace((unsigned char)text[n - 1]))
		n--;
	while (n && isspace((unsigned char)*text)) {
		text++;
		n--;
	}
	if (!n)
		return errbuf_set(eb, -EINVAL, "empty tag key");
	if (n > TAGS_KEY_MAX)
		return errbuf_set(eb, -EINVAL, "tag key '%.*s...': at most %d characters", 16, text,
				  TAGS_KEY_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = (char)tolower((unsigned char)text[i]);
		if (!key_char(c, i == 0))
			return errbuf_set(eb, -EINVAL,
					  "tag key '%.*s': letters, digits and . _ : / - only, "
					  "starting with a letter or digit", (int)n, text);
		key[i] = c;
	}
	key[n] = 0;
	return 0;
}

int tags_check(struct tag_kv *kv, struct errbuf *eb)
{
	char key[TAGS_KEY_MAX + 1];
	int rc = tags_parse_key(kv->key, key, eb);
	if (rc)
		return rc;
	memcpy(kv->key, key, sizeof(key));
	/* value: trimmed, printable, no control characters */
	char *v = kv->value;
	size_t n = strlen(v);
	while (n && isspace((unsigned char)v[n - 1]))
		v[--n] = 0;
	size_t lead = 0;
	while (lead < n && isspace((unsigned char)v[lead]))
		lead++;
	memmove(v, v + lead, n - lead + 1);
	n -= lead;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return errbuf_set(eb, -EINVAL, "tag %s: the value has a control character",
					  kv->key);
	for (size_t k = 0; k < sizeof(known_keys) / sizeof(known_keys[0]); k++) {
		if (strcmp(kv->key, known_keys[k].key))
			continue;
		char low[TAGS_VALUE_MAX + 1];
		for (size_t i = 0; i <= n; i++)
			low[i] = (char)tolower((unsigned char)v[i]);
		char list[160] = "";
		size_t off = 0;
		for (const char *const *p = known_keys[k].values; *p; p++) {
			const char *eq = strchr(*p, '=');
			size_t an = eq ? (size_t)(eq - *p) : strlen(*p);
			if (strlen(low) == an && !strncmp(low, *p, an)) {
				str_copy(kv->value, eq ? eq + 1 : *p, sizeof(kv->value));
				return 0;
			}
			if (!eq && off < sizeof(list))
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
							off ? ", " : "", *p);
		}
		return errbuf_set(eb, -EINVAL, "tag %s=%s: use one of %s", kv->key, v, list);
	}
	return 0;
}

int tags_parse(const char *text, struct tag_kv *kv, struct errbuf *eb)
{
	const char *eq = strchr(text, '=');
	if (!eq)
		return errbuf_set(eb, -EINVAL, "tag '%s': expected key=value", text);
	size_t kn = (size_t)(eq - text);
	if (kn > TAGS_KEY_MAX + 16)
		return errbuf_set(eb, -EINVAL, "tag key '%.*s...': at most %d characters", 16, text,
				  TAGS_KEY_MAX);
	if (strlen(eq + 1) > TAGS_VALUE_MAX)
		return errbuf_set(eb, -EINVAL, "tag %.*s: the value is longer than %d bytes", (int)kn,
				  text, TAGS_VALUE_MAX);
	char raw[TAGS_KEY_MAX + 17];
	memcpy(raw, text, kn);
	raw[kn] = 0;
	memset(kv, 0, sizeof(*kv));
	int rc = tags_parse_key(raw, kv->key, eb);
	if (rc)
		return rc;
	str_copy(kv->value, eq + 1, sizeof(kv->value));
	return tags_check(kv, eb);
}

/* ---------------------------------------------------------------- reading */

static int cmp_set(const void *a, const void *b)
{
	const Cairn__Store__TagSet *const *x = a, *const *y = b;
	return strcmp((*x)->subject, (*y)->subject);
}

int tags_load(MDB_txn *txn, const struct db_env *env, struct tags_all *out, struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_TAGS], &cur);
	if (rc)
		return errbuf_set(eb, rc, "reading DB tags: %s", db_strerror(rc));
	size_t cap = 0;
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Cairn__Store__TagSet *s = cairn__store__tag_set__unpack(NULL, v.mv_size, v.mv_data);
		if (!s)
			continue; /* undecodable: skipped, the next `tag set` rewrites it */
		if ((rc = array_grow((void **)&out->v, &cap, out->n + 1, sizeof(*out->v)))) {
			cairn__store__tag_set__free_unpacked(s, NULL);
			break;
		}
		out->v[out->n++] = s;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		tags_all_free(out);
		return errbuf_set(eb, rc, "reading DB tags: %s", db_strerror(rc));
	}
	/* keys are the subjects, so the order already holds; sort for safety
	 * against sets stored under another key */
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_set);
	return 0;
}

void tags_all_free(struct tags_all *t)
{
	for (size_t i = 0; i < t->n; i++)
		cairn__store__tag_set__free_unpacked(t->v[i], NULL);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

const Cairn__Store__TagSet *tags_of(const struct tags_all *t, const char *subject)
{
	size_t lo = 0, hi = t ? t->n : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->v[mid]->subject, subject);
		if (!c)
			return t->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *tags_value(const Cairn__Store__TagSet *s, const char *key)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_tags; i++)
		if (!strcmp(s->tags[i]->key, key))
			return s->tags[i]->value;
	return NULL;
}

static const Cairn__Store__TagSet *app_set(const struct tags_all *t, const char *app_id)
{
	char subject[300];
	snprintf(subject, sizeof(subject), "app:%s", app_id);
	return tags_of(t, subject);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *tags_app_value(const struct tags_all *t, const char *app_id,
			   char *const *hosts, size_t nhosts, const char *key)
{
	const char *own = app_id ? tags_value(app_set(t, app_id), key) : NULL;
	if (own || !nhosts)
		return own;
	/* the hosts' values sorted, then the longest run (ties: the first in
	 * sort order): one pass, not a count per host */
	const char **v = malloc(nhosts * sizeof(*v));
	if (!v)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < nhosts; i++) {
		const char *x = tags_value(tags_of(t, hosts[i]), key);
		if (x)
			v[n++] = x;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
	const char *best = NULL;
	size_t best_n = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && !strcmp(v[j], v[i]))
			j++;
		if (j - i > best_n) {
			best = v[i];
			best_n = j - i;
		}
		i = j;
	}
	free(v);
	return best;
}

/* ---------------------------------------------------------------- writing */

static int cmp_tag(const void *a, const void *b)
{
	const Cairn__Store__Tag *const *x = a, *const *y = b;
	return strcmp((*x)->key, (*y)->key);
}

static bool is_import(const char *source)
{
	return source && !strncmp(source, "import", 6);
}

int tags_write(MDB_txn *txn, const struct db_env *env, const char *subject,
	       const struct tag_kv *set, size_t nset, char *const *rm, size_t nrm,
	       const char *by, const char *source, int64_t now_ms, size_t *kept,
	       struct errbuf *eb)
{
	size_t slen = strlen(subject);
	if (!slen || slen > DB_KEY_MAX)
		return errbuf_set(eb, -EINVAL, "tag subject of %zu bytes", slen);
	MDB_val k = { slen, (void *)subject }, v;
	Cairn__Store__TagSet *old = NULL;
	int rc = mdb_get(txn, env->dbi[STORE_TAGS], &k, &v);
	if (!rc)
		old = cairn__store__tag_set__unpack(NULL, v.mv_size, v.mv_data);
	else if (rc != MDB_NOTFOUND)
		return errbuf_set(eb, rc, "reading the tags of %s: %s", subject, db_strerror(rc));

	/* the new list: old tags minus rm and minus the keys being set, then the set ones */
	size_t cap = (old ? old->n_tags : 0) + nset;
	Cairn__Store__Tag *tags = calloc(cap ? cap : 1, sizeof(*tags));
	Cairn__Store__Tag **ptrs = calloc(cap ? cap : 1, sizeof(*ptrs));
	if (!tags || !ptrs) {
		rc = errbuf_set(eb, -ENOMEM, "out of memory writing tags");
		goto out;
	}
	size_t n = 0, skipped = 0, removed = 0;
	bool imp = is_import(source);
	for (size_t i = 0; old && i < old->n_tags; i++) {
		const Cairn__Store__Tag *o = old->tags[i];
		bool drop = false;
		for (size_t j = 0; j < nrm && !drop; j++)
			drop = !strcmp(o->key, rm[j]);
		removed += drop;
		for (size_t j = 0; j < nset && !drop; j++) {
			if (strcmp(o->key, set[j].key))
				continue;
			/* an import does not replace what a person set */
			if (imp && !is_import(o->source)) {
				skipped++;
				break;
			}
			drop = true;
		}
		if (drop)
			continue;
		ptrs[n] = &tags[n];
		cairn__store__tag__init(&tags[n]);
		tags[n].key = o->key;
		tags[n].value = o->value;
		tags[n].set_by = o->set_by;
		tags[n].set_ms = o->set_ms;
		tags[n].source = o->source;
		n++;
	}
	for (size_t j = 0; j < nset; j++) {
		bool present = false;
		for (size_t i = 0; i < n && !present; i++)
			present = !strcmp(ptrs[i]->key, set[j].key);
		if (present)
			continue; /* kept: a person's tag against an import, or given twice */
		cairn__store__tag__init(&tags[n]);
		tags[n].key = (char *)set[j].key;
		tags[n].value = (char *)set[j].value;
		tags[n].set_by = (char *)(by ? by : "");
		tags[n].set_ms = now_ms;
		tags[n].source = (char *)(source ? source : "person");
		ptrs[n] = &tags[n];
		n++;
	}
	if (kept)
		*kept = skipped;
	if (n > TAGS_PER_SUBJECT) {
		rc = errbuf_set(eb, -E2BIG, "%s would have %zu tags: at most %d", subject, n,
				TAGS_PER_SUBJECT);
		goto out;
	}
	if (n > 1)
		qsort(ptrs, n, sizeof(*ptrs), cmp_tag);
	if (!n) {
		rc = mdb_del(txn, env->dbi[STORE_TAGS], &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	} else {
		Cairn__Store__TagSet ts = CAIRN__STORE__TAG_SET__INIT;
		ts.subject = (char *)subject;
		ts.tags = ptrs;
		ts.n_tags = n;
		struct db_key key;
		db_key_init(&key);
		db_key_bytes(&key, subject, slen);
		rc = store_put_msg(txn, env->dbi[STORE_TAGS], &key, &ts.base);
	}
	if (!rc)
		rc = store_bump_facts_gen(txn, env, now_ms); /* a planning input changed */
	if (rc) {
		errbuf_set(eb, rc, "storing the tags of %s: %s", subject, db_strerror(rc));
		goto out;
	}
	if (!imp && (nset || removed)) {
		char detail[512];
		size_t off = 0;
		for (size_t j = 0; j < nset && off < sizeof(detail); j++)
			off += (size_t)snprintf(detail + off, sizeof(detail) - off, "%s%s=%s",
						off ? " " : "", set[j].key, set[j].value);
		for (size_t j = 0; j < nrm && off < sizeof(detail); j++)
			off += (size_t)snprintf(detail + off, sizeof(detail) - off, "%s-%s",
						off ? " " : "", rm[j]);
		rc = audit_append(txn, env, now_ms, by ? by : "", nset ? "tags.set" : "tags.rm",
				  subject, detail);
		if (rc)
			errbuf_set(eb, rc, "writing the audit entry: %s", db_strerror(rc));
	}
out:
	free(ptrs);
	free(tags);
	if (old)
		cairn__store__tag_set__free_unpacked(old, NULL);
	return rc;
}

/* ---------------------------------------------------------------- filters */

int tags_filter_add(struct tags_filter *f, const char *text, struct errbuf *eb)
{
	if (f->n >= TAGS_FILTER_MAX)
		return errbuf_set(eb, -E2BIG, "--tag: at most %d filters", TAGS_FILTER_MAX);
	int rc = tags_parse(text, &f->v[f->n], eb);
	if (!rc)
		f->n++;
	return rc;
}

static bool holds(const struct tag_kv *kv, const Cairn__Store__TagSet *s)
{
	const char *v = tags_value(s, kv->key);
	return v && !strcasecmp(v, kv->value);
}

bool tags_filter_host(const struct tags_filter *f, const struct tags_all *t,
		      const char *host_id, const char *app_id)
{
	if (!f || !f->n)
		return true;
	const Cairn__Store__TagSet *own = tags_of(t, host_id);
	const Cairn__Store__TagSet *app = app_id && *app_id ? app_set(t, app_id) : NULL;
	for (size_t i = 0; i < f->n; i++)
		if (!holds(&f->v[i], own) && !holds(&f->v[i], app))
			return false;
	return true;
}

bool tags_filter_app(const struct tags_filter *f, const struct tags_all *t, const char *app_id,
		     char *const *hosts, size_t nhosts)
{
	if (!f || !f->n)
		return true;
	const Cairn__Store__TagSet *own = app_set(t, app_id);
	for (size_t i = 0; i < f->n; i++) {
		bool ok = holds(&f->v[i], own);
		for (size_t h = 0; h < nhosts && !ok; h++)
			ok = holds(&f->v[i], tags_of(t, hosts[h]));
		if (!ok)
			return false;
	}
	return true;
}
