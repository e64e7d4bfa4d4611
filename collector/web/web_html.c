#include "web_html.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "docs.h"
#include "rules.h"
#include "snapshot.h"
#include "web.h"

static int read_all(const char *path, char **out, struct errbuf *eb)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return errbuf_set(eb, -errno, "%s: %s", path, strerror(errno));
	char *b = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			char *nb = realloc(b, cap);
			if (!nb) {
				free(b);
				fclose(f);
				return errbuf_set(eb, -ENOMEM, "out of memory");
			}
			b = nb;
		}
		size_t got = fread(b + n, 1, 65536, f);
		n += got;
		if (got < 65536)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b);
		return errbuf_set(eb, -EIO, "%s: read failed", path);
	}
	b[n] = 0;
	*out = b;
	return 0;
}

static int asset(const char *dir, const char *name, char **out, struct errbuf *eb)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return read_all(path, out, eb);
}

static void put(json_t *data, const char *key, json_t *doc)
{
	json_object_set_new(data, key, doc ? doc : json_null());
}

/* The documents the pages read, keyed by their API path. */
static json_t *documents(const struct read_txn *t, const Cairn__Store__Snapshot *s,
			 const char *app_id, struct errbuf *eb)
{
	json_t *data = json_object();
	struct read_agents ags;
	if (!data || read_agents(t, READ_AGENT_FACTS | READ_AGENT_COUNTS | READ_AGENT_HEALTH | READ_AGENT_IMPORTS,
				   &ags, eb)) {
		json_decref(data);
		return NULL;
	}
	put(data, "whoami", json_pack("{s:s, s:s}", "name", "exported file", "role", "viewer"));
	put(data, "agents", docs_agents(&ags, false));
	put(data, "hosts", docs_hosts(&ags, s));
	read_agents_free(&ags);
	put(data, "apps", docs_apps(s));
	put(data, "readiness", docs_readiness(s));
	put(data, "sizing", docs_sizing(s));
	put(data, "cost", docs_cost(s));
	put(data, "waves", docs_waves(s, rules_plan.wave_max_hosts));
	json_t *prog = NULL;
	if (!docs_progress(t, s, &prog))
		put(data, "progress", prog);
	struct read_host *hosts = NULL;
	size_t nh = 0;
	if (read_hosts_list(t->txn, t->db, &hosts, &nh, eb)) {
		json_decref(data);
		return NULL;
	}
	struct docs_deps_sel sel;
	if (!docs_deps_select(s, DOCS_LEVEL_APP, NULL, app_id, &sel)) {
		put(data, "deps?level=app", docs_deps(s, &sel));
		docs_deps_sel_free(&sel);
	}
	/* the host level once: the page derives an application's expansion and
	 * its page from it (console.js derived()), which keeps 500 hosts under
	 * 5 MB where one document per application was 8 MB */
	if (!docs_deps_select(s, DOCS_LEVEL_HOST, NULL, app_id, &sel)) {
		put(data, "deps?level=host", docs_deps(s, &sel));
		docs_deps_sel_free(&sel);
	}
	struct snapshot_index ix;
	snapshot_index_build(s, &ix);
	for (size_t i = 0; i < s->n_apps; i++) {
		const Cairn__Store__Readiness *r = snapshot_index_readiness(&ix, s->apps[i]->id);
		char key[300];
		snprintf(key, sizeof(key), "readiness/%s", s->apps[i]->id);
		if (r)
			put(data, key, docs_message(r));
	}
	snapshot_index_free(&ix);
	free(hosts);
	return data;
}

int web_html_write(FILE *f, const struct read_txn *t, const Cairn__Store__Snapshot *s,
		   const char *app_id, struct errbuf *eb)
{
	char dir[4096], d3path[4096];
	char *html = NULL, *css = NULL, *js = NULL, *d3 = NULL, *data = NULL;
	int rc;
	if ((rc = web_assets_dir(dir, sizeof(dir), eb)) || (rc = web_d3_path(d3path, sizeof(d3path), eb)) ||
	    (rc = asset(dir, "index.html", &html, eb)) || (rc = asset(dir, "console.css", &css, eb)) ||
	    (rc = asset(dir, "console.js", &js, eb)) || (rc = read_all(d3path, &d3, eb)))
		goto out;
	json_t *docs = documents(t, s, app_id, eb);
	if (!docs) {
		rc = eb->msg[0] ? -EIO : errbuf_set(eb, -ENOMEM, "out of memory");
		goto out;
	}
	/* JSON_ESCAPE_SLASH: no "</script>" can end the data early */
	data = json_dumps(docs, JSON_COMPACT | JSON_ESCAPE_SLASH);
	json_decref(docs);
	const char *body = strstr(html, "<body>"), *end = strstr(html, "</body>");
	if (!data || !body || !end || end < body) {
		rc = errbuf_set(eb, -EINVAL, "%s/index.html: no <body> ... </body>", dir);
		goto out;
	}
	body += strlen("<body>");
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<title>cairn migration plan (exported)</title>\n<style>\n", f);
	fputs(css, f);
	fputs("</style>\n</head>\n<body>\n", f);
	fwrite(body, 1, (size_t)(end - body), f);
	fputs("<script>\n", f);
	fputs(d3, f);
	fputs("\n</script>\n<script>\nwindow.CAIRN_DATA = ", f);
	fputs(data, f);
	fputs(";\n</script>\n<script>\n", f);
	fputs(js, f);
	fputs("\n</script>\n</body>\n</html>\n", f);
	if (ferror(f))
		rc = errbuf_set(eb, -EIO, "export html: write failed (disk full?)");
out:
	free(html);
	free(css);
	free(js);
	free(d3);
	free(data);
	return rc;
}
