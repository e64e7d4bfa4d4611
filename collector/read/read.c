#include "read.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "pbjson.h"

int read_open_config(struct read_ctx *r, const struct collector_config *cfg, bool writable,
		     struct errbuf *eb)
{
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	int rc = store_open(&r->db, &r->cfg, writable, eb);
	if (rc)
		return rc;
	r->opened = true;
	return 0;
}

int read_open(struct read_ctx *r, const char *state_dir, const char *config_path,
	      bool writable, struct errbuf *eb)
{
	struct collector_config cfg;
	config_collector_defaults(&cfg);
	if (config_path) {
		int rc = config_collector_load(&cfg, config_path, eb);
		if (rc)
			return rc == -ENOENT ? errbuf_set(eb, -EINVAL, "%s: no such file", config_path)
					     : -EINVAL;
	}
	if (state_dir)
		str_copy(cfg.state_dir, state_dir, sizeof(cfg.state_dir));
	return read_open_config(r, &cfg, writable, eb);
}

void read_close(struct read_ctx *r)
{
	if (r->opened)
		db_close(&r->db);
	r->opened = false;
}

/* ------------------------------------------------------------ hosts */

static int cmp_host(const void *a, const void *b)
{
	return memcmp(((const struct read_host *)a)->id, ((const struct read_host *)b)->id,
		      KEY_PUBLIC_LEN);
}

int read_hosts_list(MDB_txn *txn, const struct db_env *db, struct read_host **out, size_t *n,
		     struct errbuf *eb)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	struct read_host *hs = NULL;
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
			struct read_host *found = NULL;
			if (pass == 1) {
				struct read_host key;
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
				struct read_host *nh = realloc(hs, cap * sizeof(*nh));
				if (!nh) {
					mdb_cursor_close(c);
					free(hs);
					return errbuf_set(eb, -ENOMEM, "host list: out of memory");
				}
				hs = nh;
			}
			struct read_host *h = &hs[(*n)++];
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

size_t read_suggest(const char *needle, const char *const *cands, size_t n, char *out,
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

int read_match_host(const struct read_host *hosts, size_t n, const char *needle, size_t *idx,
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
		read_suggest(needle, names, n, sugg, sizeof(sugg));
		free(names);
	}
	if (sugg[0])
		return errbuf_set(eb, -ENOENT, "no host '%s' (did you mean %s?)", needle, sugg);
	return errbuf_set(eb, -ENOENT,
			  "no host '%s' among %zu hosts; 'cairn-collector hosts' lists them (name, "
			  "id or id prefix, fingerprint)",
			  needle, n);
}

int read_find_host(MDB_txn *txn, const struct db_env *db, const char *needle,
		    struct read_host *out, struct errbuf *eb)
{
	struct read_host *hs;
	size_t n, idx;
	int rc = read_hosts_list(txn, db, &hs, &n, eb);
	if (rc)
		return rc;
	rc = read_match_host(hs, n, needle, &idx, eb);
	if (!rc)
		*out = hs[idx];
	free(hs);
	return rc;
}

int read_find_app(const Cairn__Store__Snapshot *snap, const char *needle, size_t *idx,
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
		read_suggest(needle, names, 2 * snap->n_apps, sugg, sizeof(sugg));
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

int read_nodes_index(struct read_nodes *ix, const Cairn__Store__DepMap *m)
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

const Cairn__Store__MapNode *read_nodes_get(const struct read_nodes *ix, const char *id)
{
	Cairn__Store__MapNode key = CAIRN__STORE__MAP_NODE__INIT;
	key.id = (char *)id;
	const Cairn__Store__MapNode *kp = &key;
	const Cairn__Store__MapNode **r =
		ix->n ? bsearch(&kp, ix->sorted, ix->n, sizeof(*ix->sorted), cmp_node) : NULL;
	return r ? *r : NULL;
}

void read_nodes_free(struct read_nodes *ix)
{
	free(ix->sorted);
	ix->sorted = NULL;
	ix->n = 0;
}
