/* Progress from migration tools; see progress.h. */
#include "progress.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "audit.h"
#include "decide.h"
#include "migrate.h"
#include "store.h"

/* How far ahead of this collector's clock an updateDateTime may be: a wrong
 * year would otherwise make the task never stale and every later (correct)
 * report look older. */
#define PROGRESS_FUTURE_MS (3600 * 1000LL)

/* ---------------------------------------------------------------- parsing */

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int progress_name_check(const char *what, const char *name, size_t max, struct errbuf *eb)
{
	size_t len = strlen(name);
	if (!len || len > max)
		return errbuf_set(eb, -EINVAL, "%s name: %zu bytes: use 1..%zu", what, len, max);
	if (has_control(name) || strpbrk(name, "/:|") || !strcmp(name, ".") || !strcmp(name, ".."))
		return errbuf_set(eb, -EINVAL,
				  "%s name '%.60s': no '/', ':', '|' or control characters, not '.' or '..'",
				  what, name);
	return 0;
}

int progress_update_init(struct progress_update *u, const char *stream, const char *task,
			 struct errbuf *eb)
{
	memset(u, 0, sizeof(*u));
	u->percent = -1;
	int rc = progress_name_check("stream", stream, PROGRESS_STREAM_MAX, eb);
	if (!rc)
		rc = progress_name_check("task", task, PROGRESS_TASK_MAX, eb);
	if (rc)
		return rc;
	str_copy(u->stream, stream, sizeof(u->stream));
	str_copy(u->task, task, sizeof(u->task));
	return 0;
}

int progress_status_parse(const char *field, const char *text, Cairn__Store__MigrationState *out,
			  struct errbuf *eb)
{
	if (migrate_state_parse(text, out))
		return errbuf_set(eb, -EINVAL,
				  "%s: '%.40s': use NOT_STARTED, IN_PROGRESS, FAILED or COMPLETED", field,
				  text);
	return 0;
}

static bool leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long days_from_civil(long y, long m, long d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n decimal digits at *p into *v. */
static bool digits(const char **p, int n, long *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

int progress_time_parse(const char *text, int64_t *ms)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = text;
	long y, mo, d, h = 0, mi = 0, s = 0, frac = 0, off = 0;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return -EINVAL;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return -EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &s))
				return -EINVAL;
			if (*p == '.' || *p == ',') {
				p++;
				int n = 0;
				for (; isdigit((unsigned char)*p); p++, n++)
					if (n < 3)
						frac = frac * 10 + (*p - '0');
				if (!n)
					return -EINVAL;
				for (; n < 3; n++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || s > 60)
			return -EINVAL;
		if (s == 60)
			s = 59; /* a leap second: the second before */
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1;
			long oh, om = 0;
			if (!digits(&p, 2, &oh))
				return -EINVAL;
			if (*p == ':')
				p++;
			if (*p && !digits(&p, 2, &om))
				return -EINVAL;
			if (oh > 23 || om > 59)
				return -EINVAL;
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p)
		return -EINVAL;
	int64_t secs = (int64_t)days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off;
	if (secs < 0 || secs > 253402300799LL) /* before 1970 or after 9999 (UTC) */
		return -EINVAL;
	*ms = secs * 1000 + frac;
	return 0;
}

void progress_time_format(int64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms < 0 || !gmtime_r(&t, &tm)) {
		snprintf(out, n, "?");
		return;
	}
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms % 1000)
		snprintf(out, n, "%s.%03dZ", base, (int)(ms % 1000));
	else
		snprintf(out, n, "%sZ", base);
}

int progress_update_add_resource(struct progress_update *u, const char *field, const char *text,
				 struct errbuf *eb)
{
	size_t len = strlen(text);
	if (!len || len > PROGRESS_RESOURCE_MAX || has_control(text))
		return errbuf_set(eb, -EINVAL,
				  "%s: '%.40s': 1..%d bytes without control characters (a host id, "
				  "name, IP or MAC address)",
				  field, text, PROGRESS_RESOURCE_MAX);
	u->has_resources = true;
	for (size_t i = 0; i < u->nresources; i++)
		if (!strcmp(u->resources[i], text))
			return 0;
	if (u->nresources == PROGRESS_RESOURCES_MAX)
		return errbuf_set(eb, -E2BIG, "%s: more than %d resources", field,
				  PROGRESS_RESOURCES_MAX);
	str_copy(u->resources[u->nresources++], text, PROGRESS_RESOURCE_MAX + 1);
	return 0;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

int progress_update_from_json(const json_t *body, struct progress_update *u, struct errbuf *eb)
{
	static const char *const known[] = { "status", "progressPercent", "statusDetail",
					     "updateDateTime", "nextUpdateSeconds", "resources" };
	if (!json_is_object(body))
		return errbuf_set(eb, -EINVAL, "request body: a JSON object, e.g. {\"status\": \"IN_PROGRESS\"}");
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)body, key, val) {
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(known) && !ok; i++)
			ok = !strcmp(key, known[i]);
		if (!ok)
			return errbuf_set(eb, -EINVAL,
					  "\"%.40s\": unknown member (status, progressPercent, statusDetail, "
					  "updateDateTime, nextUpdateSeconds, resources)",
					  key);
	}
	const json_t *js = json_object_get(body, "status");
	if (!js)
		return errbuf_set(eb, -EINVAL, "\"status\": missing (NOT_STARTED, IN_PROGRESS, FAILED or COMPLETED)");
	if (!json_is_string(js))
		return errbuf_set(eb, -EINVAL, "\"status\": a string (NOT_STARTED, IN_PROGRESS, FAILED or COMPLETED)");
	int rc = progress_status_parse("\"status\"", json_string_value(js), &u->status, eb);
	if (rc)
		return rc;
	const json_t *jp = json_object_get(body, "progressPercent");
	if (jp && !json_is_null(jp)) {
		if (!json_is_integer(jp) || json_integer_value(jp) < 0 || json_integer_value(jp) > 100)
			return errbuf_set(eb, -EINVAL, "\"progressPercent\": an integer 0..100");
		u->percent = (int)json_integer_value(jp);
	}
	const json_t *jd = json_object_get(body, "statusDetail");
	if (jd && !json_is_null(jd)) {
		if (!json_is_string(jd))
			return errbuf_set(eb, -EINVAL, "\"statusDetail\": a string");
		const char *d = json_string_value(jd);
		size_t chars = utf8_chars(d);
		if (chars > PROGRESS_DETAIL_MAX || strlen(d) >= sizeof(u->detail))
			return errbuf_set(eb, -EINVAL, "\"statusDetail\": %zu characters: at most %d",
					  chars, PROGRESS_DETAIL_MAX);
		for (const char *c = d; *c; c++)
			if (((unsigned char)*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f)
				return errbuf_set(eb, -EINVAL,
						  "\"statusDetail\": control characters other than newline and tab");
		str_copy(u->detail, d, sizeof(u->detail));
	}
	const json_t *jt = json_object_get(body, "updateDateTime");
	if (jt && !json_is_null(jt)) {
		if (json_is_number(jt)) {
			/* epoch seconds, as the AWS SDKs send timestamps */
			double secs = json_number_value(jt);
			if (secs < 0 || secs > 253402300799.0)
				return errbuf_set(eb, -EINVAL, "\"updateDateTime\": %.0f: not a time", secs);
			u->update_ms = (int64_t)(secs * 1000.0);
		} else if (!json_is_string(jt) ||
			   progress_time_parse(json_string_value(jt), &u->update_ms)) {
			return errbuf_set(eb, -EINVAL,
					  "\"updateDateTime\": '%.40s': use ISO 8601 (2026-12-02T17:30:00Z) "
					  "or epoch seconds",
					  json_is_string(jt) ? json_string_value(jt) : "?");
		}
	}
	const json_t *jn = json_object_get(body, "nextUpdateSeconds");
	if (jn && !json_is_null(jn)) {
		if (!json_is_integer(jn) || json_integer_value(jn) < 0 ||
		    json_integer_value(jn) > PROGRESS_NEXT_UPDATE_MAX)
			return errbuf_set(eb, -EINVAL, "\"nextUpdateSeconds\": an integer 0..%u",
					  PROGRESS_NEXT_UPDATE_MAX);
		u->next_update_s = (uint32_t)json_integer_value(jn);
	}
	const json_t *jr = json_object_get(body, "resources");
	if (jr && !json_is_null(jr)) {
		if (!json_is_array(jr))
			return errbuf_set(eb, -EINVAL, "\"resources\": an array of host ids, names, IPs or MACs");
		u->has_resources = true;
		if (json_array_size(jr) > PROGRESS_RESOURCES_MAX)
			return errbuf_set(eb, -E2BIG, "\"resources\": %zu entries: at most %d",
					  json_array_size(jr), PROGRESS_RESOURCES_MAX);
		for (size_t i = 0; i < json_array_size(jr); i++) {
			const json_t *e = json_array_get(jr, i);
			char field[40];
			snprintf(field, sizeof(field), "\"resources\"[%zu]", i);
			if (!json_is_string(e))
				return errbuf_set(eb, -EINVAL, "%s: a string (host id, name, IP or MAC)", field);
			if ((rc = progress_update_add_resource(u, field, json_string_value(e), eb)))
				return rc;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- the index */

struct ix_entry {
	char *key;                      /* kind letter, ':', normalized text */
	char id[KEY_ID_HEX_LEN + 1];
};

struct progress_index {
	struct ix_entry *v;
	size_t n, cap;
	int refs;                       /* progress_writer's cache and its users */
};

static int ix_add(struct progress_index *ix, char kind, const char *text, const char *id)
{
	if (!*text)
		return 0;
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 256;
		struct ix_entry *v = realloc(ix->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ix->v = v;
		ix->cap = cap;
	}
	size_t len = strlen(text);
	char *key = malloc(len + 3);
	if (!key)
		return -ENOMEM;
	key[0] = kind;
	key[1] = ':';
	for (size_t i = 0; i <= len; i++)
		key[i + 2] = (char)tolower((unsigned char)text[i]);
	ix->v[ix->n].key = key;
	str_copy(ix->v[ix->n].id, id, sizeof(ix->v[ix->n].id));
	ix->n++;
	return 0;
}

/* "aa:bb:cc:dd:ee:ff" of a MAC in any of its usual spellings; false when
 * text is none or the all-zero address. */
static bool mac_normalize(const char *text, char out[18])
{
	int nib = 0;
	unsigned char b[6] = { 0 };
	for (const char *p = text; *p; p++) {
		if (*p == ':' || *p == '-' || *p == '.')
			continue;
		if (!isxdigit((unsigned char)*p) || nib == 12)
			return false;
		int v = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
		b[nib / 2] = (unsigned char)(b[nib / 2] << 4 | v);
		nib++;
	}
	if (nib != 12 || !(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
		return false;
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
	return true;
}

/* The canonical text of an address a resource may name (not loopback or a
 * wildcard). */
static bool addr_normalize(const char *text, char out[ADDR_TEXT_MAX])
{
	uint8_t a[ADDR_LEN];
	if (addr_parse(text, a) || addr_is_loopback(a) || addr_is_unspecified(a))
		return false;
	addr_format(a, out, ADDR_TEXT_MAX);
	return true;
}

static int ix_add_facts(struct progress_index *ix, const Cairn__HostInfo *hi, const char *id)
{
	int rc = ix_add(ix, 'n', hi->hostname, id);
	if (!rc)
		rc = ix_add(ix, 'n', hi->fqdn, id);
	for (size_t i = 0; !rc && i < hi->n_nics; i++) {
		const Cairn__Nic *nic = hi->nics[i];
		char mac[18], a[ADDR_TEXT_MAX];
		if (mac_normalize(nic->mac, mac))
			rc = ix_add(ix, 'm', mac, id);
		for (size_t j = 0; !rc && j < nic->n_addresses; j++)
			if (addr_normalize(nic->addresses[j]->address, a))
				rc = ix_add(ix, 'a', a, id);
	}
	return rc;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct ix_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->id, y->id);
}

void progress_index_free(struct progress_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->n; i++)
		free(ix->v[i].key);
	free(ix->v);
	free(ix);
}

int progress_index_build(MDB_txn *txn, const struct db_env *env, struct progress_index **out)
{
	struct progress_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	static const enum store_db dbs[] = { STORE_AGENTS, STORE_HOSTS, STORE_ADDRS };
	int rc = 0;
	for (size_t d = 0; d < ARRAY_SIZE(dbs) && !rc; d++) {
		MDB_cursor *c;
		MDB_val k, v;
		if ((rc = mdb_cursor_open(txn, env->dbi[dbs[d]], &c)))
			break;
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			char id[KEY_ID_HEX_LEN + 1];
			if (dbs[d] == STORE_ADDRS) {
				if (k.mv_size != ADDR_LEN + KEY_PUBLIC_LEN)
					continue;
				const uint8_t *kb = k.mv_data;
				char a[ADDR_TEXT_MAX];
				if (addr_is_loopback(kb) || addr_is_unspecified(kb))
					continue;
				addr_format(kb, a, sizeof(a));
				keys_id_hex(kb + ADDR_LEN, id);
				if ((rc = ix_add(ix, 'a', a, id)))
					break;
				continue;
			}
			if (k.mv_size != KEY_PUBLIC_LEN)
				continue;
			keys_id_hex(k.mv_data, id);
			if ((rc = ix_add(ix, 'i', id, id)))
				break;
			if (dbs[d] == STORE_AGENTS) {
				Cairn__Store__Agent *a = cairn__store__agent__unpack(NULL, v.mv_size, v.mv_data);
				/* a refused key's hostname is the host people know by another key */
				if (a && a->state != CAIRN__STORE__ENROLL_STATE__REJECTED &&
				    a->state != CAIRN__STORE__ENROLL_STATE__REVOKED)
					rc = ix_add(ix, 'n', a->hostname, id);
				if (a)
					cairn__store__agent__free_unpacked(a, NULL);
			} else {
				Cairn__Store__HostFacts *hf =
					cairn__store__host_facts__unpack(NULL, v.mv_size, v.mv_data);
				if (hf && hf->info)
					rc = ix_add_facts(ix, hf->info, id);
				if (hf)
					cairn__store__host_facts__free_unpacked(hf, NULL);
			}
			if (rc)
				break;
		}
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (rc) {
		progress_index_free(ix);
		return rc;
	}
	if (ix->n > 1)
		qsort(ix->v, ix->n, sizeof(*ix->v), cmp_entry);
	/* drop repeats (a host's address in its facts and in addrs) */
	size_t w = 0;
	for (size_t i = 0; i < ix->n; i++) {
		if (w && !cmp_entry(&ix->v[w - 1], &ix->v[i])) {
			free(ix->v[i].key);
			continue;
		}
		ix->v[w++] = ix->v[i];
	}
	ix->n = w;
	*out = ix;
	return 0;
}

/* First entry whose key is >= key. */
static size_t ix_lower(const struct progress_index *ix, const char *key)
{
	size_t lo = 0, hi = ix->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ix->v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void ids_add(char ids[][KEY_ID_HEX_LEN + 1], size_t max, size_t *n, const char *id)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(ids[i], id))
			return;
	if (*n < max)
		str_copy(ids[(*n)++], id, KEY_ID_HEX_LEN + 1);
}

/* Every host of entries equal to key (prefix = false) or starting with it. */
static size_t ix_collect(const struct progress_index *ix, const char *key, bool prefix,
			 char ids[][KEY_ID_HEX_LEN + 1], size_t max, size_t n)
{
	size_t kl = strlen(key);
	for (size_t i = ix_lower(ix, key); i < ix->n; i++) {
		if (prefix ? strncmp(ix->v[i].key, key, kl) : strcmp(ix->v[i].key, key))
			break;
		ids_add(ids, max, &n, ix->v[i].id);
	}
	return n;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

size_t progress_index_match(const struct progress_index *ix, const char *resource,
			    char ids[][KEY_ID_HEX_LEN + 1], size_t max)
{
	char key[PROGRESS_RESOURCE_MAX + 8], norm[ADDR_TEXT_MAX];
	size_t n = 0, len = strlen(resource);
	if (!ix || !len || len > PROGRESS_RESOURCE_MAX || !max)
		return 0;
	if (addr_normalize(resource, norm)) {
		snprintf(key, sizeof(key), "a:%s", norm);
		n = ix_collect(ix, key, false, ids, max, n);
	}
	char mac[18];
	if (mac_normalize(resource, mac)) {
		snprintf(key, sizeof(key), "m:%s", mac);
		n = ix_collect(ix, key, false, ids, max, n);
	}
	size_t hex = strspn(resource, "0123456789abcdefABCDEF");
	if (hex == len && len >= 8 && len <= KEY_ID_HEX_LEN) {
		/* an id prefix counts when it names one host */
		char one[2][KEY_ID_HEX_LEN + 1];
		snprintf(key, sizeof(key), "i:");
		for (size_t i = 0; i < len; i++)
			key[2 + i] = (char)tolower((unsigned char)resource[i]);
		key[2 + len] = 0;
		if (ix_collect(ix, key, true, one, 2, 0) == 1)
			ids_add(ids, max, &n, one[0]);
	}
	key[0] = 'n';
	key[1] = ':';
	for (size_t i = 0; i <= len; i++)
		key[2 + i] = (char)tolower((unsigned char)resource[i]);
	n = ix_collect(ix, key, false, ids, max, n);
	if (n > 1)
		qsort(ids, n, sizeof(ids[0]), cmp_id);
	return n;
}

/* ---------------------------------------------------------------- tasks */

static size_t task_key(struct db_key *k, const char *stream, const char *task)
{
	db_key_init(k);
	db_key_str(k, stream);
	db_key_u8(k, 0);
	if (task)
		db_key_str(k, task);
	return k->len;
}

static Cairn__Store__ProgressTask *task_copy(const Cairn__Store__ProgressTask *m)
{
	size_t len = cairn__store__progress_task__get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return NULL;
	cairn__store__progress_task__pack(m, buf);
	Cairn__Store__ProgressTask *c = cairn__store__progress_task__unpack(NULL, len, buf);
	free(buf);
	return c;
}

bool progress_task_stale(const Cairn__Store__ProgressTask *t, int64_t now_ms)
{
	return t->next_update_s && t->status != CAIRN__STORE__MIGRATION_STATE__COMPLETED &&
	       now_ms > t->update_ms + (int64_t)t->next_update_s * 1000;
}

void progress_result_free(struct progress_result *r)
{
	if (r->task)
		cairn__store__progress_task__free_unpacked(r->task, NULL);
	memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------- writing */

struct progress_job {
	const struct progress_update *u;
	const char *user;
	int64_t now_ms;
	char (*hosts)[KEY_ID_HEX_LEN + 1];
	size_t nhosts;
	bool unmatched[PROGRESS_RESOURCES_MAX];
	struct progress_result *out;
	int rc;
	char msg[1100];                 /* what failed, when rc */
	bool done;
	progress_done_fn done_fn;       /* progress_submit: called, then the job freed */
	void *done_arg;
	struct progress_job *next;
};

int progress_writer_init(struct progress_writer *w, struct read_ctx *rd)
{
	memset(w, 0, sizeof(*w));
	w->rd = rd;
	if (pthread_mutex_init(&w->lock, NULL))
		return -ENOMEM;
	if (pthread_cond_init(&w->cond, NULL)) {
		pthread_mutex_destroy(&w->lock);
		return -ENOMEM;
	}
	return 0;
}

void progress_writer_destroy(struct progress_writer *w)
{
	progress_writer_stop(w);
	if (w->ix && --w->ix->refs == 0)
		progress_index_free(w->ix);
	w->ix = NULL;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

static void ix_release(struct progress_writer *w, struct progress_index *ix)
{
	pthread_mutex_lock(&w->lock);
	bool last = --ix->refs == 0;
	pthread_mutex_unlock(&w->lock);
	if (last)
		progress_index_free(ix);
}

/* The cached index, rebuilt when hosts, agents or addresses were added or
 * removed, and at most every PROGRESS_INDEX_AGE_MS when only facts moved
 * (facts_gen moves with every ingest transaction: under ingest a rebuild per
 * report would cost more than the report). A resource that a stale index
 * misses is kept as unmatched and matched again on every read. While one
 * thread rebuilds, the others use the previous index. */
#define PROGRESS_INDEX_AGE_MS 10000

static int ix_acquire(struct progress_writer *w, const struct read_txn *t,
		      struct progress_index **out)
{
	uint64_t sig[4] = { read_facts_gen(t->txn, t->db) };
	static const enum store_db dbs[] = { STORE_HOSTS, STORE_AGENTS, STORE_ADDRS };
	for (size_t i = 0; i < ARRAY_SIZE(dbs); i++) {
		MDB_stat st;
		sig[i + 1] = mdb_stat(t->txn, t->db->dbi[dbs[i]], &st) ? UINT64_MAX : st.ms_entries;
	}
	int64_t now = time_now_ms();
	pthread_mutex_lock(&w->lock);
	bool same_hosts = w->ix && !memcmp(w->ix_sig + 1, sig + 1, sizeof(sig) - sizeof(sig[0]));
	bool fresh = same_hosts && (w->ix_sig[0] == sig[0] || now - w->ix_built_ms < PROGRESS_INDEX_AGE_MS);
	if (w->ix && (fresh || w->ix_building)) {
		w->ix->refs++;
		*out = w->ix;
		pthread_mutex_unlock(&w->lock);
		return 0;
	}
	w->ix_building = true;
	pthread_mutex_unlock(&w->lock);
	struct progress_index *ix;
	int rc = progress_index_build(t->txn, t->db, &ix);
	pthread_mutex_lock(&w->lock);
	w->ix_building = false;
	if (rc) {
		pthread_mutex_unlock(&w->lock);
		return rc;
	}
	ix->refs = 2; /* the cache's and ours */
	struct progress_index *old = w->ix;
	w->ix = ix;
	memcpy(w->ix_sig, sig, sizeof(sig));
	w->ix_built_ms = now;
	bool free_old = old && --old->refs == 0;
	pthread_mutex_unlock(&w->lock);
	if (free_old)
		progress_index_free(old);
	*out = ix;
	return 0;
}

static int resolve(struct progress_writer *w, struct progress_job *j, struct errbuf *eb)
{
	const struct progress_update *u = j->u;
	if (!u->nresources)
		return 0;
	struct read_txn t;
	int rc = read_begin(w->rd, &t, eb);
	if (rc)
		return rc;
	struct progress_index *ix = NULL;
	if ((rc = ix_acquire(w, &t, &ix))) {
		read_end(&t);
		return errbuf_set(eb, rc, "matching the resources to hosts: %s", db_strerror(rc));
	}
	read_end(&t);
	size_t cap = 2 * PROGRESS_RESOURCES_MAX;
	j->hosts = malloc(cap * sizeof(*j->hosts));
	char (*one)[KEY_ID_HEX_LEN + 1] = malloc(16 * sizeof(*one));
	if (!j->hosts || !one) {
		free(one);
		ix_release(w, ix);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < u->nresources; i++) {
		size_t n = progress_index_match(ix, u->resources[i], one, 16);
		j->unmatched[i] = n == 0;
		for (size_t k = 0; k < n; k++)
			ids_add(j->hosts, cap, &j->nhosts, one[k]);
	}
	free(one);
	ix_release(w, ix);
	if (j->nhosts > 1)
		qsort(j->hosts, j->nhosts, sizeof(*j->hosts), cmp_id);
	return 0;
}

static int put_one(MDB_txn *txn, const struct db_env *env, struct progress_job *j)
{
	const struct progress_update *u = j->u;
	struct db_key k;
	task_key(&k, u->stream, u->task);
	ProtobufCMessage *pm = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_PROGRESS_TASKS], &k,
			       &cairn__store__progress_task__descriptor, &pm);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	Cairn__Store__ProgressTask *prev = (Cairn__Store__ProgressTask *)pm;
	int64_t update_ms = u->update_ms ? u->update_ms : j->now_ms;
	progress_result_free(j->out); /* db_write may run this twice */
	j->out->created = !prev;
	j->out->previous = prev ? prev->status : 0;
	if (prev && prev->update_ms > update_ms) {
		/* a late retry of an older report: the newer one stays */
		j->out->applied = false;
		j->out->task = task_copy(prev);
		cairn__store__progress_task__free_unpacked(prev, NULL);
		return j->out->task ? 0 : -ENOMEM;
	}
	Cairn__Store__ProgressTask m = CAIRN__STORE__PROGRESS_TASK__INIT;
	m.stream = (char *)u->stream;
	m.task = (char *)u->task;
	m.status = u->status;
	m.progress_pct = u->percent >= 0 ? (uint32_t)u->percent
		       : u->status == CAIRN__STORE__MIGRATION_STATE__COMPLETED ? 100 : 0;
	m.detail = (char *)u->detail;
	m.update_ms = update_ms;
	m.next_update_s = u->next_update_s;
	char *res[PROGRESS_RESOURCES_MAX], *unm[PROGRESS_RESOURCES_MAX];
	char *hosts[2 * PROGRESS_RESOURCES_MAX];
	for (size_t i = 0; i < u->nresources; i++) {
		res[m.n_resources++] = (char *)u->resources[i];
		if (j->unmatched[i])
			unm[m.n_unmatched++] = (char *)u->resources[i];
	}
	for (size_t i = 0; i < j->nhosts; i++)
		hosts[m.n_hosts++] = j->hosts[i];
	m.resources = res;
	m.unmatched = unm;
	m.hosts = hosts;
	if (!u->has_resources && prev) {
		/* a report without resources: the task stays linked as it was */
		m.resources = prev->resources;
		m.n_resources = prev->n_resources;
		m.unmatched = prev->unmatched;
		m.n_unmatched = prev->n_unmatched;
		m.hosts = prev->hosts;
		m.n_hosts = prev->n_hosts;
	}
	m.updated_by = (char *)j->user;
	m.received_ms = j->now_ms;
	m.created_ms = prev ? prev->created_ms : j->now_ms;
	rc = store_put_msg(txn, env->dbi[STORE_PROGRESS_TASKS], &k, &m.base);
	char target[PROGRESS_STREAM_MAX + PROGRESS_TASK_MAX + 2], detail[700];
	snprintf(target, sizeof(target), "%s/%s", u->stream, u->task);
	snprintf(detail, sizeof(detail), "%s -> %s %u%%; %zu resources, %zu hosts, %zu unmatched%s%.500s",
		 prev ? migrate_state_name(prev->status) : "(new)", migrate_state_name(m.status),
		 m.progress_pct, m.n_resources, m.n_hosts, m.n_unmatched, *m.detail ? ": " : "",
		 m.detail);
	if (!rc)
		rc = audit_append(txn, env, j->now_ms, j->user, "progress.put", target, detail);
	if (!rc) {
		j->out->applied = true;
		j->out->task = task_copy(&m); /* m may point into prev */
		rc = j->out->task ? 0 : -ENOMEM;
	}
	if (prev)
		cairn__store__progress_task__free_unpacked(prev, NULL);
	return rc;
}

static int put_group(MDB_txn *txn, const struct db_env *env, void *arg)
{
	for (struct progress_job *j = arg; j; j = j->next) {
		int rc = put_one(txn, env, j);
		if (rc)
			return rc;
	}
	return 0;
}

/* Writes one group in one transaction and answers its reports: a waiting
 * caller (progress_put) sees done; a submitted report's done_fn is called
 * (outside the lock) and the job freed. */
static void write_group(struct progress_writer *w, struct progress_job *group)
{
	struct errbuf geb = { { 0 } };
	int grc = decide_write(w->rd, put_group, group, &geb);
	struct progress_job *callbacks = NULL;
	size_t n = 0;
	pthread_mutex_lock(&w->lock);
	for (struct progress_job *g = group, *next; g; g = next) {
		next = g->next;
		g->rc = grc;
		if (grc) {
			progress_result_free(g->out);
			snprintf(g->msg, sizeof(g->msg), "storing task %s/%s: %s", g->u->stream, g->u->task,
				 geb.msg[0] ? geb.msg : db_strerror(grc));
		}
		n++;
		if (g->done_fn) {
			g->next = callbacks;
			callbacks = g;
		} else {
			g->done = true; /* its caller may return (and free it) from here on */
		}
	}
	w->groups++;
	w->reports += n;
	w->writing = false;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (struct progress_job *g = callbacks, *next; g; g = next) {
		next = g->next;
		g->done_fn(g->done_arg, g->rc, g->rc ? g->msg : "");
		free(g->hosts);
		free(g);
	}
}

/* The checks before a report is queued, and its resources matched. */
static int prepare(struct progress_writer *w, struct progress_job *j, struct errbuf *eb)
{
	const struct progress_update *u = j->u;
	if (u->update_ms > j->now_ms + PROGRESS_FUTURE_MS) {
		char at[40];
		progress_time_format(u->update_ms, at, sizeof(at));
		return errbuf_set(eb, -EINVAL,
				  "\"updateDateTime\": %s is more than an hour ahead of this collector's clock",
				  at);
	}
	int rc = resolve(w, j, eb);
	if (rc) {
		free(j->hosts);
		j->hosts = NULL;
	}
	return rc;
}

static void enqueue_locked(struct progress_writer *w, struct progress_job *j)
{
	j->next = NULL;
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
}

static void *writer_thread(void *arg)
{
	struct progress_writer *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->head)
			break; /* stopping, and nothing left */
		struct progress_job *group = w->head;
		w->head = w->tail = NULL;
		w->writing = true;
		pthread_mutex_unlock(&w->lock);
		write_group(w, group);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int progress_writer_start(struct progress_writer *w)
{
	if (w->thread_running)
		return 0;
	pthread_mutex_lock(&w->lock);
	int rc = pthread_create(&w->thread, NULL, writer_thread, w);
	w->thread_running = rc == 0;
	pthread_mutex_unlock(&w->lock);
	return -rc;
}

void progress_writer_stop(struct progress_writer *w)
{
	if (!w->thread_running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_lock(&w->lock);
	w->thread_running = false;
	w->stopping = false;
	pthread_cond_broadcast(&w->cond); /* progress_put callers: lead from here on */
	pthread_mutex_unlock(&w->lock);
}

int progress_submit(struct progress_writer *w, const struct progress_update *u, const char *user,
		    int64_t now_ms, struct progress_result *out, progress_done_fn done, void *arg,
		    struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	struct progress_job *j = calloc(1, sizeof(*j));
	if (!j)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	*j = (struct progress_job){ .u = u, .user = user, .now_ms = now_ms, .out = out,
				    .done_fn = done, .done_arg = arg };
	int rc = prepare(w, j, eb);
	if (rc) {
		free(j);
		return rc;
	}
	pthread_mutex_lock(&w->lock);
	if (!w->thread_running || w->stopping) {
		pthread_mutex_unlock(&w->lock);
		free(j->hosts);
		free(j);
		return errbuf_set(eb, -EAGAIN, "the progress writer's thread is not running");
	}
	enqueue_locked(w, j);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

int progress_put(struct progress_writer *w, const struct progress_update *u, const char *user,
		 int64_t now_ms, struct progress_result *out, struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	struct progress_job j = { .u = u, .user = user, .now_ms = now_ms, .out = out };
	int rc = prepare(w, &j, eb);
	if (rc)
		return rc;
	/* Group commit: the writer thread when one runs, else whoever finds
	 * no transaction running writes every report queued so far in one;
	 * the others wait for theirs. */
	pthread_mutex_lock(&w->lock);
	enqueue_locked(w, &j);
	pthread_cond_broadcast(&w->cond);
	while (!j.done) {
		if (w->writing || w->thread_running) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		struct progress_job *group = w->head;
		w->head = w->tail = NULL;
		w->writing = true;
		pthread_mutex_unlock(&w->lock);
		write_group(w, group);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	free(j.hosts);
	if (j.rc)
		errbuf_set(eb, j.rc, "%s", j.msg);
	return j.rc;
}

struct del_arg {
	const char *stream, *task, *user;
	int64_t now_ms;
	size_t deleted;
};

static int del_txn(MDB_txn *txn, const struct db_env *env, void *argp)
{
	struct del_arg *a = argp;
	struct db_key k;
	task_key(&k, a->stream, a->task);
	a->deleted = 0;
	MDB_cursor *c;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_PROGRESS_TASKS], &c);
	if (rc)
		return rc;
	MDB_val kv = db_key_val(&k), v;
	for (rc = mdb_cursor_get(c, &kv, &v, a->task ? MDB_SET_KEY : MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT)) {
		if (kv.mv_size < k.len || memcmp(kv.mv_data, k.b, k.len) ||
		    (a->task && kv.mv_size != k.len))
			break;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
		a->deleted++;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (!a->deleted)
		return -ENOENT;
	char target[PROGRESS_STREAM_MAX + PROGRESS_TASK_MAX + 2], detail[64];
	snprintf(target, sizeof(target), "%s/%s", a->stream, a->task ? a->task : "*");
	snprintf(detail, sizeof(detail), "%zu task%s deleted", a->deleted, a->deleted == 1 ? "" : "s");
	return audit_append(txn, env, a->now_ms, a->user, "progress.delete", target, detail);
}

int progress_delete(struct progress_writer *w, const char *stream, const char *task,
		    const char *user, int64_t now_ms, size_t *deleted, struct errbuf *eb)
{
	int rc = progress_name_check("stream", stream, PROGRESS_STREAM_MAX, eb);
	if (!rc && task)
		rc = progress_name_check("task", task, PROGRESS_TASK_MAX, eb);
	if (rc)
		return rc;
	struct del_arg a = { stream, task, user, now_ms, 0 };
	rc = decide_write(w->rd, del_txn, &a, NULL);
	*deleted = rc ? 0 : a.deleted;
	if (rc == -ENOENT)
		return task ? errbuf_set(eb, rc, "no task '%s' in stream '%s'", task, stream)
			    : errbuf_set(eb, rc, "no stream '%s' (no task reported in it)", stream);
	if (rc)
		return errbuf_set(eb, rc, "deleting from stream %s: %s", stream, db_strerror(rc));
	return 0;
}

/* ---------------------------------------------------------------- reading */

void progress_tasks_free(struct progress_tasks *t)
{
	for (size_t i = 0; i < t->n; i++)
		cairn__store__progress_task__free_unpacked(t->v[i], NULL);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* Matches a task's unmatched resources again; what matches moves to hosts.
 * The message was unpacked with the default allocator (malloc), so its
 * arrays may grow with realloc. */
static int rematch(Cairn__Store__ProgressTask *m, const struct progress_index *ix)
{
	char ids[16][KEY_ID_HEX_LEN + 1];
	size_t keep = 0;
	for (size_t i = 0; i < m->n_unmatched; i++) {
		size_t n = progress_index_match(ix, m->unmatched[i], ids, ARRAY_SIZE(ids));
		if (!n) {
			m->unmatched[keep++] = m->unmatched[i];
			continue;
		}
		free(m->unmatched[i]);
		for (size_t k = 0; k < n; k++) {
			bool have = false;
			for (size_t h = 0; h < m->n_hosts && !have; h++)
				have = !strcmp(m->hosts[h], ids[k]);
			if (have)
				continue;
			char **nh = realloc(m->hosts, (m->n_hosts + 1) * sizeof(*nh));
			char *id = strdup(ids[k]);
			if (nh)
				m->hosts = nh;
			if (!nh || !id) {
				free(id);
				m->n_unmatched = keep;
				return -ENOMEM;
			}
			m->hosts[m->n_hosts++] = id;
		}
	}
	m->n_unmatched = keep;
	return 0;
}

/* Whether host id hex is still a host of the store (an imported server an
 * agent took over is not: its id is gone). */
static bool host_exists(MDB_txn *txn, const struct db_env *env, const char *hex)
{
	uint8_t id[32];
	if (strlen(hex) != 64 || hex_decode(id, 32, hex))
		return false;
	MDB_val k = { 32, id }, v;
	return !mdb_get(txn, env->dbi[STORE_HOSTS], &k, &v);
}

/* A task whose matched hosts are not all in the store any more matches all
 * its resources again (for this read): the hosts it names are the current
 * ones. Returns -ENOMEM or 0. */
static int rematch_gone(MDB_txn *txn, const struct db_env *env, Cairn__Store__ProgressTask *m)
{
	bool gone = false;
	for (size_t h = 0; h < m->n_hosts && !gone; h++)
		gone = !host_exists(txn, env, m->hosts[h]);
	if (!gone)
		return 0;
	for (size_t h = 0; h < m->n_hosts; h++)
		free(m->hosts[h]);
	m->n_hosts = 0;
	for (size_t i = 0; i < m->n_unmatched; i++)
		free(m->unmatched[i]);
	m->n_unmatched = 0;
	char **nu = realloc(m->unmatched, (m->n_resources ? m->n_resources : 1) * sizeof(*nu));
	if (!nu)
		return -ENOMEM;
	m->unmatched = nu;
	for (size_t i = 0; i < m->n_resources; i++) {
		if (!(m->unmatched[i] = strdup(m->resources[i])))
			return -ENOMEM;
		m->n_unmatched = i + 1;
	}
	return 0;
}

static int rematch_all(MDB_txn *txn, const struct db_env *env, Cairn__Store__ProgressTask **v,
		       size_t n)
{
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		int rc = rematch_gone(txn, env, v[i]);
		if (rc)
			return rc;
		any = any || v[i]->n_unmatched > 0;
	}
	if (!any)
		return 0;
	struct progress_index *ix;
	int rc = progress_index_build(txn, env, &ix);
	for (size_t i = 0; !rc && i < n; i++)
		rc = rematch(v[i], ix);
	if (ix)
		progress_index_free(ix);
	return rc;
}

int progress_tasks_read(MDB_txn *txn, const struct db_env *env, const char *stream,
			struct progress_tasks *out, struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	struct db_key k;
	if (stream)
		task_key(&k, stream, NULL);
	else
		db_key_init(&k);
	MDB_cursor *c;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_PROGRESS_TASKS], &c);
	if (rc)
		return errbuf_set(eb, rc, "reading progress tasks: %s", db_strerror(rc));
	MDB_val kv = db_key_val(&k), v;
	size_t cap = 0;
	for (rc = mdb_cursor_get(c, &kv, &v, k.len ? MDB_SET_RANGE : MDB_FIRST); !rc;
	     rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT)) {
		if (kv.mv_size < k.len || memcmp(kv.mv_data, k.b, k.len))
			break;
		Cairn__Store__ProgressTask *m = cairn__store__progress_task__unpack(NULL, v.mv_size, v.mv_data);
		if (!m)
			continue;
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			Cairn__Store__ProgressTask **nv = realloc(out->v, cap * sizeof(*nv));
			if (!nv) {
				cairn__store__progress_task__free_unpacked(m, NULL);
				rc = -ENOMEM;
				break;
			}
			out->v = nv;
		}
		out->v[out->n++] = m;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = rematch_all(txn, env, out->v, out->n);
	if (rc) {
		progress_tasks_free(out);
		return errbuf_set(eb, rc, "reading progress tasks: %s", db_strerror(rc));
	}
	return 0;
}

int progress_task_read(MDB_txn *txn, const struct db_env *env, const char *stream,
		       const char *task, Cairn__Store__ProgressTask **out, struct errbuf *eb)
{
	*out = NULL;
	struct db_key k;
	task_key(&k, stream, task);
	ProtobufCMessage *m = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_PROGRESS_TASKS], &k,
			       &cairn__store__progress_task__descriptor, &m);
	if (rc == MDB_NOTFOUND)
		return errbuf_set(eb, -ENOENT, "no task '%s' in stream '%s'", task, stream);
	if (rc)
		return errbuf_set(eb, rc, "reading task %s/%s: %s", stream, task, db_strerror(rc));
	Cairn__Store__ProgressTask *t = (Cairn__Store__ProgressTask *)m;
	if ((rc = rematch_all(txn, env, &t, 1))) {
		cairn__store__progress_task__free_unpacked(t, NULL);
		return errbuf_set(eb, rc, "reading task %s/%s: %s", stream, task, db_strerror(rc));
	}
	*out = t;
	return 0;
}

static unsigned state_index(Cairn__Store__MigrationState s)
{
	return s >= CAIRN__STORE__MIGRATION_STATE__NOT_STARTED &&
			       s <= CAIRN__STORE__MIGRATION_STATE__COMPLETED
		       ? (unsigned)s
		       : CAIRN__STORE__MIGRATION_STATE__NOT_STARTED;
}

int progress_streams(const struct progress_tasks *tasks, int64_t now_ms,
		     struct progress_stream **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct progress_stream *v = NULL;
	/* tasks come in key order: a stream's tasks are together */
	for (size_t i = 0; i < tasks->n; i++) {
		const Cairn__Store__ProgressTask *t = tasks->v[i];
		if (!*n || strcmp(v[*n - 1].name, t->stream)) {
			struct progress_stream *nv = realloc(v, (*n + 1) * sizeof(*nv));
			if (!nv) {
				free(v);
				*n = 0;
				return -ENOMEM;
			}
			v = nv;
			memset(&v[*n], 0, sizeof(v[*n]));
			str_copy(v[*n].name, t->stream, sizeof(v[*n].name));
			(*n)++;
		}
		struct progress_stream *s = &v[*n - 1];
		s->tasks++;
		s->states[state_index(t->status)]++;
		s->stale += progress_task_stale(t, now_ms);
		if (t->update_ms > s->updated_ms)
			s->updated_ms = t->update_ms;
	}
	*out = v;
	return 0;
}

struct host_task {
	const char *id;
	const Cairn__Store__ProgressTask *t;
};

static int cmp_host_task(const void *a, const void *b)
{
	const struct host_task *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	return c ? c : strcmp(x->t->stream, y->t->stream);
}

int progress_hosts_derive(const struct progress_tasks *tasks, int64_t now_ms,
			  struct progress_hosts *out)
{
	memset(out, 0, sizeof(*out));
	size_t npairs = 0;
	for (size_t i = 0; i < tasks->n; i++)
		npairs += tasks->v[i]->n_hosts;
	if (!npairs)
		return 0;
	struct host_task *pairs = malloc(npairs * sizeof(*pairs));
	out->v = calloc(npairs, sizeof(*out->v));
	if (!pairs || !out->v) {
		free(pairs);
		free(out->v);
		out->v = NULL;
		return -ENOMEM;
	}
	size_t p = 0;
	for (size_t i = 0; i < tasks->n; i++)
		for (size_t j = 0; j < tasks->v[i]->n_hosts; j++)
			pairs[p++] = (struct host_task){ tasks->v[i]->hosts[j], tasks->v[i] };
	qsort(pairs, npairs, sizeof(*pairs), cmp_host_task);
	double sum = 0;
	const char *last_stream = NULL;
	for (size_t i = 0; i < npairs; i++) {
		const Cairn__Store__ProgressTask *t = pairs[i].t;
		struct progress_host *h = out->n ? &out->v[out->n - 1] : NULL;
		if (!h || strcmp(h->id, pairs[i].id)) {
			h = &out->v[out->n++];
			str_copy(h->id, pairs[i].id, sizeof(h->id));
			sum = 0;
			last_stream = NULL;
		}
		h->tasks++;
		unsigned st = state_index(t->status);
		h->states[st]++;
		h->stale += progress_task_stale(t, now_ms);
		sum += st == CAIRN__STORE__MIGRATION_STATE__COMPLETED ? 100 : t->progress_pct;
		h->percent = sum / h->tasks;
		h->state = migrate_state_derive(h->states);
		/* a host's pairs are in stream order: each stream named once */
		if (last_stream && !strcmp(last_stream, t->stream))
			continue;
		last_stream = t->stream;
		size_t used = strlen(h->streams);
		if (used + strlen(t->stream) + 3 < sizeof(h->streams))
			snprintf(h->streams + used, sizeof(h->streams) - used, "%s%s", used ? ", " : "",
				 t->stream);
	}
	free(pairs);
	return 0;
}

int progress_hosts_load(MDB_txn *txn, const struct db_env *env, int64_t now_ms,
			struct progress_hosts *out, struct errbuf *eb)
{
	struct progress_tasks ts;
	int rc = progress_tasks_read(txn, env, NULL, &ts, eb);
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	rc = progress_hosts_derive(&ts, now_ms, out);
	progress_tasks_free(&ts);
	if (rc)
		return errbuf_set(eb, rc, "out of memory");
	return 0;
}

const struct progress_host *progress_hosts_get(const struct progress_hosts *h, const char *id)
{
	if (!h)
		return NULL;
	size_t lo = 0, hi = h->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(h->v[mid].id, id);
		if (!c)
			return &h->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void progress_hosts_free(struct progress_hosts *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}
