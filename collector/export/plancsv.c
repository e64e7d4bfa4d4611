/* The wave plan CSV; see plancsv.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv.h"
#include "plancsv.h"
#include "snapshot.h"
#include "waves.h"

static const char *const columns[] = { "Wave", "Application", "AppId", "Hosts", "Environment",
				       "Criticality", "Score", "Confidence", "Rules", "Reasons",
				       "Pinned" };
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

/* "code; code" of a placement's rules; relaxed ones as "!code". */
static void rule_codes(const Cairn__Store__WavePlacement *pl, char *out, size_t n)
{
	size_t used = 0;
	out[0] = 0;
	for (size_t i = 0; pl && i < pl->n_rules && used + 1 < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%s%s", used ? "; " : "", pl->rules[i]->code);
	for (size_t i = 0; pl && i < pl->n_relaxed && used + 1 < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%s!%s", used ? "; " : "",
					 pl->relaxed[i]->code);
}

static void reasons(const Cairn__Store__Wave *w, size_t j, const Cairn__Store__WavePlacement *pl,
		    char *out, size_t n)
{
	size_t used = (size_t)snprintf(out, n, "%s", j < w->n_why ? w->why[j] : "");
	for (size_t i = 0; pl && i < pl->n_relaxed && used + 1 < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%snot honored: %s: %s",
					 used ? " | " : "", pl->relaxed[i]->code, pl->relaxed[i]->text);
}

int plancsv_write(const Cairn__Store__Snapshot *s, FILE *f, struct errbuf *eb)
{
	for (size_t c = 0; c < NCOLUMNS; c++)
		csv_field(f, columns[c], c == 0);
	csv_end(f);
	char codes[512], why[2048];
	struct snapshot_index ix;
	snapshot_index_build(s, &ix);
	for (size_t i = 0; i < s->n_waves; i++) {
		const Cairn__Store__Wave *w = s->waves[i];
		for (size_t j = 0; j < w->n_apps; j++) {
			const Cairn__Store__App *a = snapshot_index_app(&ix, w->apps[j]);
			const Cairn__Store__WavePlacement *pl = j < w->n_placements ? w->placements[j] : NULL;
			rule_codes(pl, codes, sizeof(codes));
			reasons(w, j, pl, why, sizeof(why));
			csv_field_u64(f, w->number, 1);
			csv_field(f, a ? a->name : w->apps[j], 0);
			csv_field(f, w->apps[j], 0);
			csv_field_u64(f, a ? a->n_hosts : 0, 0);
			csv_field(f, pl ? pl->environment : "", 0);
			csv_field(f, pl ? pl->criticality : "", 0);
			csv_field_u64(f, w->score, 0);
			csv_field_u64(f, w->confidence, 0);
			csv_field(f, codes, 0);
			csv_field(f, why, 0);
			csv_field(f, pl && pl->pinned ? "yes" : "no", 0);
			csv_end(f);
		}
	}
	for (size_t i = 0; i < s->n_apps; i++) {
		const Cairn__Store__App *a = s->apps[i];
		if (snapshot_index_wave(&ix, a->id, NULL))
			continue;
		const Cairn__Store__Readiness *r = snapshot_index_readiness(&ix, a->id);
		snprintf(why, sizeof(why), "strategy %s: moves in no wave", r ? r->strategy : "-");
		csv_field(f, "", 1);
		csv_field(f, a->name, 0);
		csv_field(f, a->id, 0);
		csv_field_u64(f, a->n_hosts, 0);
		for (int k = 0; k < 5; k++)
			csv_field(f, "", 0);
		csv_field(f, why, 0);
		csv_field(f, "no", 0);
		csv_end(f);
	}
	snapshot_index_free(&ix);
	if (ferror(f))
		return errbuf_set(eb, -EIO, "writing the plan CSV failed");
	return 0;
}

static void reportf(plancsv_report_fn report, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reportf(plancsv_report_fn report, void *arg, const char *fmt, ...)
{
	char buf[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (report)
		report(buf, arg);
}

static const Cairn__Store__App *find_app(const Cairn__Store__Snapshot *s, const char *id,
					 const char *name)
{
	if (id && *id)
		for (size_t i = 0; i < s->n_apps; i++)
			if (!strcmp(s->apps[i]->id, id))
				return s->apps[i];
	if (name && *name)
		for (size_t i = 0; i < s->n_apps; i++)
			if (!strcasecmp(s->apps[i]->name, name))
				return s->apps[i];
	return NULL;
}

static void trim(char *v)
{
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = 0;
	size_t k = strspn(v, " \t");
	if (k)
		memmove(v, v + k, n - k + 1);
}

/* "3", "Wave 3" (the mhub-csv ApplicationWave form) -> 3; 0 when bad. */
static unsigned parse_wave(const char *v)
{
	if (!strncasecmp(v, "wave", 4))
		v += 4 + strspn(v + 4, " ");
	char *end;
	if (*v < '0' || *v > '9')
		return 0;
	unsigned long w = strtoul(v, &end, 10);
	return *end || w < 1 || w > 10000 ? 0 : (unsigned)w;
}

int plancsv_read(const Cairn__Store__Snapshot *s, const char *buf, size_t len, const char *name,
		 plancsv_report_fn report, void *arg, struct plancsv_result *out, struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	struct csv_reader r;
	struct csv_record rec = { 0 };
	csv_reader_init(&r, buf, len, name);
	int rc = csv_next(&r, &rec, eb);
	if (rc <= 0) {
		csv_record_free(&rec);
		return rc ? rc : errbuf_set(eb, -EINVAL, "%s: empty file (expected a header with Wave and "
					     "AppId or Application)", name);
	}
	int col_wave = -1, col_id = -1, col_name = -1;
	for (size_t c = 0; c < rec.n; c++) {
		trim(rec.f[c]);
		const char *h = rec.f[c];
		if (c == 0 && !strncmp(h, "\xef\xbb\xbf", 3))
			h += 3; /* a spreadsheet's byte order mark */
		if (!strcasecmp(h, "Wave"))
			col_wave = (int)c;
		else if (!strcasecmp(h, "AppId"))
			col_id = (int)c;
		else if (!strcasecmp(h, "Application"))
			col_name = (int)c;
	}
	unsigned header_line = rec.line;
	csv_record_free(&rec);
	if (col_wave < 0 || (col_id < 0 && col_name < 0))
		return errbuf_set(eb, -EINVAL, "%s:%u: the header needs the columns Wave and AppId or "
				  "Application (as 'cairn-collector plan export' writes them)", name,
				  header_line);
	/* the line each application was seen on, against duplicates */
	unsigned *seen = calloc(s->n_apps + 1, sizeof(unsigned));
	if (!seen)
		return -ENOMEM;
	while ((rc = csv_next(&r, &rec, eb)) > 0) {
		out->rows++;
		const char *wv = (size_t)col_wave < rec.n ? rec.f[col_wave] : "";
		const char *id = col_id >= 0 && (size_t)col_id < rec.n ? rec.f[col_id] : "";
		const char *nm = col_name >= 0 && (size_t)col_name < rec.n ? rec.f[col_name] : "";
		for (size_t c = 0; c < rec.n; c++)
			trim(rec.f[c]);
		const Cairn__Store__App *a = find_app(s, id, nm);
		unsigned line = rec.line;
		if (!a) {
			if (*id)
				reportf(report, arg, "%s:%u: AppId: no application '%s'%s%s%s (see 'cairn-collector "
					"apps')", name, line, id, *nm ? " nor one named '" : "", nm, *nm ? "'" : "");
			else
				reportf(report, arg, "%s:%u: Application: no application named '%s' (see "
					"'cairn-collector apps')", name, line, nm);
			out->rejected++;
			csv_record_free(&rec);
			continue;
		}
		size_t ai = 0;
		while (s->apps[ai] != a)
			ai++;
		unsigned cur = waves_of_app(s, a->id);
		if (!*wv) {
			/* no wave: an application that does not move, or a row
			 * left blank; neither is a pin */
			if (cur) {
				reportf(report, arg, "%s:%u: Wave: empty for %s, which is in wave %u (give a wave "
					"number; 'plan unpin' removes a pin)", name, line, a->name, cur);
				out->rejected++;
			} else {
				out->unchanged++;
			}
			csv_record_free(&rec);
			continue;
		}
		unsigned w = parse_wave(wv);
		if (!w) {
			reportf(report, arg, "%s:%u: Wave: '%s' is not a wave number 1..10000", name, line, wv);
			out->rejected++;
		} else if (seen[ai]) {
			reportf(report, arg, "%s:%u: AppId: %s is already on line %u", name, line, a->name,
				seen[ai]);
			out->rejected++;
		} else if (!cur) {
			const Cairn__Store__Readiness *rd = snapshot_readiness(s, a->id);
			reportf(report, arg, "%s:%u: Wave: %s moves in no wave (strategy %s), so it cannot be "
				"pinned", name, line, a->name, rd ? rd->strategy : "-");
			out->rejected++;
		} else if (w == cur) {
			out->unchanged++;
			struct plancsv_change *v = realloc(out->same, (out->nsame + 1) * sizeof(*v));
			if (!v) {
				csv_record_free(&rec);
				rc = -ENOMEM;
				break;
			}
			out->same = v;
			v[out->nsame++] = (struct plancsv_change){ a->id, a->name, cur, w, line };
		} else {
			struct plancsv_change *v = realloc(out->v, (out->n + 1) * sizeof(*v));
			if (!v) {
				csv_record_free(&rec);
				rc = -ENOMEM;
				break;
			}
			out->v = v;
			v[out->n++] = (struct plancsv_change){ a->id, a->name, cur, w, line };
		}
		if (w && !seen[ai])
			seen[ai] = line;
		csv_record_free(&rec);
	}
	csv_record_free(&rec);
	free(seen);
	if (rc < 0) {
		plancsv_result_free(out);
		return rc;
	}
	return 0;
}

void plancsv_result_free(struct plancsv_result *r)
{
	free(r->same);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
