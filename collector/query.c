#include "query.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "log.h"
#include "pbjson.h"
#include "snapshot.h"

int query_open(struct query_ctx *q, const char *state_dir, const char *config_path,
	       bool writable, struct errbuf *eb)
{
	memset(q, 0, sizeof(*q));
	config_collector_defaults(&q->cfg);
	if (config_path) {
		int rc = config_collector_load(&q->cfg, config_path, eb);
		if (rc)
			return rc == -ENOENT ? errbuf_set(eb, -EINVAL, "%s: no such file", config_path)
					     : -EINVAL;
	}
	if (state_dir)
		str_copy(q->cfg.state_dir, state_dir, sizeof(q->cfg.state_dir));
	int rc = store_open(&q->db, &q->cfg, writable, eb);
	if (rc)
		return rc;
	q->opened = true;
	return 0;
}

int query_open_cli(struct query_ctx *q, struct cli *cli, bool writable)
{
	memset(q, 0, sizeof(*q));
	if (cli_collector_config(cli, &q->cfg))
		return QUERY_EXIT_USAGE;
	snapshot_set_catalog(q->cfg.catalog);
	struct errbuf eb = { { 0 } };
	int rc = store_open(&q->db, &q->cfg, writable, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return QUERY_EXIT_FAIL;
	}
	q->opened = true;
	return 0;
}

void query_close(struct query_ctx *q)
{
	if (q->opened)
		db_close(&q->db);
	q->opened = false;
}

/* ------------------------------------------------------------ hosts */

static int cmp_host(const void *a, const void *b)
{
	return memcmp(((const struct query_host *)a)->id, ((const struct query_host *)b)->id,
		      KEY_PUBLIC_LEN);
}

int query_hosts_list(MDB_txn *txn, const struct db_env *db, struct query_host **out, size_t *n,
		     struct errbuf *eb)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	struct query_host *hs = NULL;
	MDB_cursor *c;
	MDB_val k, v;
	/* agents first, then hosts with facts but no agent record */
	for (int pass = 0; pass < 2; pass++) {
		MDB_dbi dbi = db->dbi[pass == 0 ? STORE_AGENTS : STORE_HOSTS];
		int rc = mdb_cursor_open(txn, dbi, &c);
		if (rc) {
			free(hs);
			return errbuf_set(eb, rc, "reading the host list: %s", db_strerror(rc));
		}
		size_t known = *n;
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			if (k.mv_size != KEY_PUBLIC_LEN)
				continue;
			struct query_host *found = NULL;
			if (pass == 1) {
				struct query_host key;
				memcpy(key.id, k.mv_data, KEY_PUBLIC_LEN);
				found = known ? bsearch(&key, hs, known, sizeof(*hs), cmp_host) : NULL;
				if (found && found->hostname[0])
					continue;
			}
			char name[256] = "";
			if (pass == 0) {
				Cairn__Store__Agent *a =
					cairn__store__agent__unpack(NULL, v.mv_size, v.mv_data);
				if (a) {
					str_copy(name, a->hostname, sizeof(name));
					cairn__store__agent__free_unpacked(a, NULL);
				}
			} else {
				Cairn__Store__HostFacts *hf =
					cairn__store__host_facts__unpack(NULL, v.mv_size, v.mv_data);
				if (hf) {
					if (hf->info)
						str_copy(name, hf->info->hostname, sizeof(name));
					cairn__store__host_facts__free_unpacked(hf, NULL);
				}
			}
			if (found) {
				str_copy(found->hostname, name, sizeof(found->hostname));
				continue;
			}
			if (*n == cap) {
				cap = cap ? cap * 2 : 64;
				struct query_host *nh = realloc(hs, cap * sizeof(*nh));
				if (!nh) {
					mdb_cursor_close(c);
					free(hs);
					return errbuf_set(eb, -ENOMEM, "host list: out of memory");
				}
				hs = nh;
			}
			struct query_host *h = &hs[(*n)++];
			memset(h, 0, sizeof(*h));
			memcpy(h->id, k.mv_data, KEY_PUBLIC_LEN);
			keys_id_hex(h->id, h->id_hex);
			keys_fingerprint(h->id, h->fingerprint);
			str_copy(h->hostname, name, sizeof(h->hostname));
		}
		mdb_cursor_close(c);
		if (*n > 1)
			qsort(hs, *n, sizeof(*hs), cmp_host);
	}
	*out = hs;
	return 0;
}

size_t query_suggest(const char *needle, const char *const *cands, size_t n, char *out,
		     size_t outn)
{
	size_t best_d[3] = { SIZE_MAX, SIZE_MAX, SIZE_MAX };
	size_t best_i[3] = { 0 };
	size_t limit = strlen(needle) / 3 + 2;
	for (size_t i = 0; i < n; i++) {
		if (!cands[i] || !*cands[i])
			continue;
		size_t d = str_distance(needle, cands[i]);
		/* a candidate that contains what was typed is close too */
		if (strcasestr(cands[i], needle))
			d = d < 1 ? d : 1;
		if (d > limit)
			continue;
		for (int s = 0; s < 3; s++) {
			if (d < best_d[s]) {
				for (int t = 2; t > s; t--) {
					best_d[t] = best_d[t - 1];
					best_i[t] = best_i[t - 1];
				}
				best_d[s] = d;
				best_i[s] = i;
				break;
			}
		}
	}
	size_t got = 0, used = strlen(out);
	/* only the closest: "shp" suggests "shop", not also "hr" */
	for (int s = 0; s < 3 && best_d[s] != SIZE_MAX && best_d[s] <= best_d[0]; s++) {
		bool dup = false;
		for (int t = 0; t < s; t++)
			if (!strcmp(cands[best_i[t]], cands[best_i[s]]))
				dup = true;
		if (dup)
			continue;
		int w = snprintf(out + used, outn > used ? outn - used : 0, "%s'%s'", got ? ", " : "",
				 cands[best_i[s]]);
		if (w < 0 || (size_t)w >= outn - used)
			break;
		used += (size_t)w;
		got++;
	}
	return got;
}

static bool is_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

static bool name_matches(const char *hostname, const char *needle)
{
	if (!strcasecmp(hostname, needle))
		return true;
	/* "web-01" matches "web-01.example.net" */
	size_t n = strlen(needle);
	return !strncasecmp(hostname, needle, n) && hostname[n] == '.';
}

int query_match_host(const struct query_host *hosts, size_t n, const char *needle, size_t *idx,
		     struct errbuf *eb)
{
	size_t hits = 0, hit = 0;
	size_t nl = strlen(needle);
	bool hex = is_hex(needle) && nl >= 4;
	/* exact id or name first, then prefixes of id / fingerprint */
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(hosts[i].id_hex, needle) || name_matches(hosts[i].hostname, needle)) {
			if (!hits || hit != i)
				hits++;
			hit = i;
		}
	if (!hits && hex)
		for (size_t i = 0; i < n; i++)
			if (!strncasecmp(hosts[i].id_hex, needle, nl) ||
			    !strncasecmp(hosts[i].fingerprint, needle, nl)) {
				hits++;
				hit = i;
			}
	if (hits == 1) {
		*idx = hit;
		return 0;
	}
	if (hits > 1) {
		char list[300] = "";
		size_t shown = 0;
		for (size_t i = 0; i < n && shown < 4; i++)
			if (!strcasecmp(hosts[i].id_hex, needle) ||
			    name_matches(hosts[i].hostname, needle) ||
			    (hex && (!strncasecmp(hosts[i].id_hex, needle, nl) ||
				     !strncasecmp(hosts[i].fingerprint, needle, nl)))) {
				size_t used = strlen(list);
				snprintf(list + used, sizeof(list) - used, "%s%s (%.16s)",
					 shown ? ", " : "", hosts[i].hostname[0] ? hosts[i].hostname : "?",
					 hosts[i].id_hex);
				shown++;
			}
		return errbuf_set(eb, -EEXIST,
				  "'%s' matches %zu hosts: %s%s; give more of the id", needle, hits,
				  list, hits > shown ? ", ..." : "");
	}
	const char **names = malloc((n + 1) * sizeof(char *));
	char sugg[300] = "";
	if (names) {
		for (size_t i = 0; i < n; i++)
			names[i] = hosts[i].hostname;
		query_suggest(needle, names, n, sugg, sizeof(sugg));
		free(names);
	}
	if (sugg[0])
		return errbuf_set(eb, -ENOENT, "no host '%s' (did you mean %s?)", needle, sugg);
	return errbuf_set(eb, -ENOENT,
			  "no host '%s' among %zu hosts; 'cairn-collector hosts' lists them (name, "
			  "id or id prefix, fingerprint)",
			  needle, n);
}

int query_find_host(MDB_txn *txn, const struct db_env *db, const char *needle,
		    struct query_host *out, struct errbuf *eb)
{
	struct query_host *hs;
	size_t n, idx;
	int rc = query_hosts_list(txn, db, &hs, &n, eb);
	if (rc)
		return rc;
	rc = query_match_host(hs, n, needle, &idx, eb);
	if (!rc)
		*out = hs[idx];
	free(hs);
	return rc;
}

int query_find_app(const Cairn__Store__Snapshot *snap, const char *needle, size_t *idx,
		   struct errbuf *eb)
{
	size_t hits = 0, hit = 0;
	for (size_t i = 0; i < snap->n_apps; i++)
		if (!strcmp(snap->apps[i]->id, needle) || !strcasecmp(snap->apps[i]->name, needle)) {
			hits++;
			hit = i;
		}
	if (!hits) {
		size_t nl = strlen(needle);
		for (size_t i = 0; i < snap->n_apps; i++)
			if (nl >= 5 && !strncmp(snap->apps[i]->id, needle, nl)) {
				hits++;
				hit = i;
			}
	}
	if (hits == 1) {
		*idx = hit;
		return 0;
	}
	if (hits > 1)
		return errbuf_set(eb, -EEXIST,
				  "'%s' names %zu applications; use the application id ('cairn-collector "
				  "apps' lists them)",
				  needle, hits);
	const char **names = malloc((2 * snap->n_apps + 1) * sizeof(char *));
	char sugg[300] = "";
	if (names) {
		for (size_t i = 0; i < snap->n_apps; i++) {
			names[2 * i] = snap->apps[i]->name;
			names[2 * i + 1] = snap->apps[i]->id;
		}
		query_suggest(needle, names, 2 * snap->n_apps, sugg, sizeof(sugg));
		free(names);
	}
	if (sugg[0])
		return errbuf_set(eb, -ENOENT, "no application '%s' (did you mean %s?)", needle, sugg);
	return errbuf_set(eb, -ENOENT,
			  "no application '%s'; 'cairn-collector apps' lists the %zu applications",
			  needle, snap->n_apps);
}

/* ------------------------------------------------------------ map nodes */

static int cmp_node(const void *a, const void *b)
{
	return strcmp((*(const Cairn__Store__MapNode *const *)a)->id,
		      (*(const Cairn__Store__MapNode *const *)b)->id);
}

int query_nodes_index(struct query_nodes *ix, const Cairn__Store__DepMap *m)
{
	ix->n = m ? m->n_nodes : 0;
	ix->sorted = malloc((ix->n + 1) * sizeof(*ix->sorted));
	if (!ix->sorted)
		return -ENOMEM;
	for (size_t i = 0; i < ix->n; i++)
		ix->sorted[i] = m->nodes[i];
	if (ix->n > 1)
		qsort(ix->sorted, ix->n, sizeof(*ix->sorted), cmp_node);
	return 0;
}

const Cairn__Store__MapNode *query_nodes_get(const struct query_nodes *ix, const char *id)
{
	Cairn__Store__MapNode key = CAIRN__STORE__MAP_NODE__INIT;
	key.id = (char *)id;
	const Cairn__Store__MapNode *kp = &key;
	const Cairn__Store__MapNode **r =
		ix->n ? bsearch(&kp, ix->sorted, ix->n, sizeof(*ix->sorted), cmp_node) : NULL;
	return r ? *r : NULL;
}

void query_nodes_free(struct query_nodes *ix)
{
	free(ix->sorted);
	ix->sorted = NULL;
	ix->n = 0;
}

/* ------------------------------------------------------------ tables */

struct query_table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows x ncols, row 0 = headers */
	bool *right;
};

struct query_table *query_table_new(size_t ncols, const char *const headers[])
{
	struct query_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->right = calloc(ncols, sizeof(bool));
	if (!t->right || query_table_row(t, headers)) {
		query_table_free(t);
		return NULL;
	}
	return t;
}

int query_table_row(struct query_table *t, const char *const cells[])
{
	if (t->nrows == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		char **n2 = realloc(t->cells, nc * t->ncols * sizeof(char *));
		if (!n2)
			return -ENOMEM;
		t->cells = n2;
		t->cap = nc;
	}
	char **row = &t->cells[t->nrows * t->ncols];
	for (size_t i = 0; i < t->ncols; i++) {
		row[i] = strdup(cells[i] && *cells[i] ? cells[i] : "-");
		if (!row[i]) {
			while (i-- > 0)
				free(row[i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

int query_table_rowf(struct query_table *t, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	const char *cells[64];
	size_t n = 0;
	char *p = buf;
	while (n < t->ncols && n < 64) {
		cells[n++] = p;
		char *tab = strchr(p, '\t');
		if (!tab)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	while (n < t->ncols && n < 64)
		cells[n++] = "";
	return query_table_row(t, cells);
}

void query_table_align_right(struct query_table *t, size_t col)
{
	if (col < t->ncols)
		t->right[col] = true;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

void query_table_print(const struct query_table *t, FILE *f)
{
	size_t *wd = calloc(t->ncols, sizeof(size_t));
	if (!wd)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = width(t->cells[r * t->ncols + c]);
			if (w > wd[c])
				wd[c] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t pad = wd[c] - width(s);
			bool last = c + 1 == t->ncols;
			if (t->right[c])
				fprintf(f, "%*s%s", (int)pad, "", s);
			else
				fprintf(f, "%s%*s", s, last ? 0 : (int)pad, "");
			if (!last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
	free(wd);
}

void query_table_free(struct query_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->right);
	free(t);
}

/* ------------------------------------------------------------ formatting */

void query_fmt_time(int64_t ms, char *out, size_t n)
{
	if (ms <= 0) {
		str_copy(out, "-", n);
		return;
	}
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M", &tm);
}

void query_fmt_bytes(uint64_t b, char *out, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	size_t u = 0;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%llu B", (unsigned long long)b);
	else
		snprintf(out, n, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void query_fmt_age(int64_t ms, int64_t now_ms, char *out, size_t n)
{
	if (ms <= 0) {
		str_copy(out, "never", n);
		return;
	}
	int64_t d = (now_ms - ms) / 1000;
	if (d < 60)
		str_copy(out, "now", n);
	else if (d < 3600)
		snprintf(out, n, "%lldm ago", (long long)(d / 60));
	else if (d < 86400)
		snprintf(out, n, "%lldh ago", (long long)(d / 3600));
	else
		snprintf(out, n, "%lldd ago", (long long)(d / 86400));
}

void *query_json_str(const char *s)
{
	if (!s)
		s = "";
	size_t len = strlen(s);
	if (pbjson_utf8_valid(s, len))
		return json_stringn(s, len);
	size_t cap = len * 3 + 1;
	char *fixed = malloc(cap);
	if (!fixed)
		return NULL;
	size_t n = pbjson_utf8_sanitize(fixed, cap, s, len);
	json_t *j = json_stringn(fixed, n);
	free(fixed);
	return j;
}

int query_print_json(void *json)
{
	json_t *j = json;
	if (!j)
		return -ENOMEM;
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		return -ENOMEM;
	puts(s);
	free(s);
	return 0;
}
