/* cairn-collector store stats: how big the store is, per DB, per day and per
 * host (read layer: read_store_size). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "format.h"
#include "read.h"

static void store_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector store stats [--days N] [--hosts N] [--json]\n"
		   "                                   [--state-dir DIR | -c FILE]\n\n"
		   "Shows the size of the collector's store: every DB (entries, pages, bytes),\n"
		   "the map and file size and LMDB's free pages (reused by later writes), the\n"
		   "bytes of the dated records of each UTC day (raw batches, perf windows,\n"
		   "rollups, edge days) and the hosts that take the most room. Per-day and\n"
		   "per-host figures are key + value bytes and walk the whole store.\n\n"
		   "  --days N              show the newest N days (default 14; 0 = all)\n"
		   "  --hosts N             show the N largest hosts (default 10; 0 = all)\n");
	cli_usage_common(f);
}

struct store_opts {
	unsigned long days, hosts;
};

enum { OPT_DAYS = CLI_OPT_USER, OPT_HOSTS };

static int store_option(int opt, const char *arg, void *ctx)
{
	struct store_opts *o = ctx;
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-') {
		fprintf(stderr, "cairn-collector store: --%s wants a number, not '%s'\n",
			opt == OPT_DAYS ? "days" : "hosts", arg);
		return -1;
	}
	if (opt == OPT_DAYS)
		o->days = v;
	else
		o->hosts = v;
	return 0;
}

static json_t *stats_json(const struct read_store_size *s, size_t day0, size_t nhosts,
			  bool readahead)
{
	json_t *dbs = json_array(), *days = json_array(), *hosts = json_array();
	for (int i = 0; i < STORE_NDBS; i++) {
		const struct read_db_size *d = &s->dbs[i];
		json_array_append_new(dbs, json_pack("{s:s, s:I, s:I, s:I, s:i}", "name", d->name,
						     "entries", (json_int_t)d->entries, "pages",
						     (json_int_t)d->pages, "bytes",
						     (json_int_t)d->bytes, "depth", (int)d->depth));
	}
	for (size_t i = day0; i < s->ndays; i++) {
		char date[32];
		format_time((int64_t)s->days[i].day * STORE_DAY_MS, date, sizeof(date));
		date[10] = 0;
		json_array_append_new(days, json_pack("{s:s, s:I, s:I}", "day", date, "entries",
						      (json_int_t)s->days[i].entries, "bytes",
						      (json_int_t)s->days[i].bytes));
	}
	for (size_t i = 0; i < nhosts; i++) {
		char hex[KEY_ID_HEX_LEN + 1];
		hex_encode(hex, s->hosts[i].id, KEY_PUBLIC_LEN);
		json_array_append_new(hosts, json_pack("{s:s, s:I, s:I}", "id", hex, "entries",
						       (json_int_t)s->hosts[i].entries, "bytes",
						       (json_int_t)s->hosts[i].bytes));
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:o, s:o, s:o}", "page_size",
			 (json_int_t)s->page_size, "map_bytes", (json_int_t)s->map_bytes,
			 "used_bytes", (json_int_t)s->used_bytes, "free_pages",
			 (json_int_t)s->free_pages, "file_bytes", (json_int_t)s->file_bytes,
			 "readahead", readahead, "dbs",
			 dbs, "days", days, "hosts", hosts);
}

static void stats_print(const struct read_store_size *s, size_t day0, size_t nhosts,
			bool readahead)
{
	char a[32], b[32], c[32], d[32];
	format_bytes(s->file_bytes, a, sizeof(a));
	format_bytes(s->used_bytes, b, sizeof(b));
	format_bytes(s->free_pages * s->page_size, c, sizeof(c));
	format_bytes(s->map_bytes, d, sizeof(d));
	printf("file %s, %s in use, %s free for reuse, map %s%s\n\n", a, b, c, d,
	       readahead ? "" : "; readahead off (the file is larger than memory)");
	static const char *const dhead[] = { "DB", "ENTRIES", "PAGES", "SIZE", NULL };
	struct format_table *t = format_table_new(4, dhead);
	for (int i = 0; i < STORE_NDBS; i++) {
		format_bytes(s->dbs[i].bytes, a, sizeof(a));
		format_table_rowf(t, "%s\t%llu\t%llu\t%s", s->dbs[i].name,
				  (unsigned long long)s->dbs[i].entries,
				  (unsigned long long)s->dbs[i].pages, a);
	}
	for (size_t col = 1; col < 4; col++)
		format_table_align_right(t, col);
	format_table_print(t, stdout);
	format_table_free(t);
	if (s->ndays > day0) {
		static const char *const head[] = { "DAY (UTC)", "ENTRIES", "SIZE", NULL };
		t = format_table_new(3, head);
		for (size_t i = day0; i < s->ndays; i++) {
			char date[32];
			format_time((int64_t)s->days[i].day * STORE_DAY_MS, date, sizeof(date));
			date[10] = 0;
			format_bytes(s->days[i].bytes, a, sizeof(a));
			format_table_rowf(t, "%s\t%llu\t%s", date,
					  (unsigned long long)s->days[i].entries, a);
		}
		format_table_align_right(t, 1);
		format_table_align_right(t, 2);
		printf("\n");
		format_table_print(t, stdout);
		format_table_free(t);
	}
	if (nhosts) {
		static const char *const head[] = { "HOST", "ENTRIES", "SIZE", NULL };
		t = format_table_new(3, head);
		for (size_t i = 0; i < nhosts; i++) {
			char hex[KEY_ID_HEX_LEN + 1];
			hex_encode(hex, s->hosts[i].id, KEY_PUBLIC_LEN);
			format_bytes(s->hosts[i].bytes, a, sizeof(a));
			format_table_rowf(t, "%s\t%llu\t%s", hex,
					  (unsigned long long)s->hosts[i].entries, a);
		}
		format_table_align_right(t, 1);
		format_table_align_right(t, 2);
		printf("\n");
		format_table_print(t, stdout);
		format_table_free(t);
	}
}

int store_main(int argc, char *argv[])
{
	struct store_opts o = { .days = 14, .hosts = 10 };
	static const struct option longopts[] = {
		{ "days", required_argument, NULL, OPT_DAYS },
		{ "hosts", required_argument, NULL, OPT_HOSTS },
		{ 0 },
	};
	struct cli_extra extra = { "", longopts, store_option, &o };
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, store_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs != 1 || strcmp(cli.args[0], "stats")) {
		if (cli.nargs)
			fprintf(stderr, "%s: unknown subcommand '%s'\n\n", cli.prog, cli.args[0]);
		else
			fprintf(stderr, "%s: missing subcommand (stats)\n\n", cli.prog);
		store_usage(stderr);
		return 2;
	}
	struct read_ctx r;
	if ((rc = cmd_open_store(&r, &cli, false)))
		return rc;
	struct errbuf eb = { { 0 } };
	struct read_txn t;
	struct read_store_size s;
	unsigned what = READ_SIZE_DAYS | READ_SIZE_HOSTS;
	if ((rc = read_begin(&r, &t, &eb)) || (rc = read_store_size(&t, what, &s, &eb))) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		read_end(&t);
		read_close(&r);
		return 1;
	}
	read_end(&t);
	bool readahead = !(r.db.flags & MDB_NORDAHEAD);
	read_close(&r);
	size_t day0 = o.days && s.ndays > o.days ? s.ndays - o.days : 0;
	size_t nhosts = o.hosts && s.nhosts > o.hosts ? o.hosts : s.nhosts;
	rc = 0;
	if (cli.json)
		rc = format_print_json(stats_json(&s, day0, nhosts, readahead)) ? 1 : 0;
	else
		stats_print(&s, day0, nhosts, readahead);
	read_store_size_free(&s);
	return rc;
}
