/* Right-sizing and cost; see sizing.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "rules.h"
#include "sizing.h"
#include "csv.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)

void sizing_catalog_free(struct sizing_catalog *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

enum { COL_TYPE, COL_FAMILY, COL_VCPU, COL_MEM, COL_PRICE, COL_REGION, COL_ASOF, NCOLS };
static const char *const col_names[NCOLS] = {
	"instance_type", "family", "vcpu", "memory_gib", "linux_on_demand_usd_per_hour",
	"region", "as_of",
};

static bool valid_date(const char *s)
{
	int y, m, d;
	char extra;
	return strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) == 3 &&
	       y >= 1990 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int parse_num(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_row(const struct csv_record *r, const int col[NCOLS], const char *name,
		     struct sizing_instance *in, struct errbuf *eb)
{
	for (int i = 0; i < NCOLS; i++)
		if ((size_t)col[i] >= r->n)
			return errbuf_set(eb, -EINVAL, "%s:%u: %zu fields, column %s missing",
					  name, r->line, r->n, col_names[i]);
	const char *type = r->f[col[COL_TYPE]];
	if (!*type || strlen(type) >= sizeof(in->type))
		return errbuf_set(eb, -EINVAL, "%s:%u: instance_type '%s' empty or too long",
				  name, r->line, type);
	str_copy(in->type, type, sizeof(in->type));
	str_copy(in->family, r->f[col[COL_FAMILY]], sizeof(in->family));
	double v;
	if (parse_num(r->f[col[COL_VCPU]], &v) || v < 1 || v > 4096 || v != floor(v))
		return errbuf_set(eb, -EINVAL, "%s:%u: vcpu '%s' is not a whole number 1..4096",
				  name, r->line, r->f[col[COL_VCPU]]);
	in->vcpu = (unsigned)v;
	if (parse_num(r->f[col[COL_MEM]], &in->memory_gib) || in->memory_gib <= 0)
		return errbuf_set(eb, -EINVAL, "%s:%u: memory_gib '%s' is not a positive number",
				  name, r->line, r->f[col[COL_MEM]]);
	if (parse_num(r->f[col[COL_PRICE]], &in->hourly_usd) || in->hourly_usd <= 0)
		return errbuf_set(eb, -EINVAL,
				  "%s:%u: linux_on_demand_usd_per_hour '%s' is not a positive number",
				  name, r->line, r->f[col[COL_PRICE]]);
	str_copy(in->region, r->f[col[COL_REGION]], sizeof(in->region));
	if (!valid_date(r->f[col[COL_ASOF]]))
		return errbuf_set(eb, -EINVAL, "%s:%u: as_of '%s' is not a date YYYY-MM-DD",
				  name, r->line, r->f[col[COL_ASOF]]);
	str_copy(in->as_of, r->f[col[COL_ASOF]], sizeof(in->as_of));
	if (!in->family[0]) {
		const char *dot = strchr(in->type, '.');
		size_t len = dot ? (size_t)(dot - in->type) : strlen(in->type);
		snprintf(in->family, sizeof(in->family), "%.*s", (int)len, in->type);
	}
	return 0;
}

int sizing_catalog_parse(const char *buf, size_t len, const char *name,
			 struct sizing_catalog *c, struct errbuf *eb)
{
	memset(c, 0, sizeof(*c));
	str_copy(c->path, name, sizeof(c->path));
	struct csv_reader r;
	struct csv_record rec;
	csv_reader_init(&r, buf, len, name);
	int rc = csv_next(&r, &rec, eb);
	if (rc <= 0) {
		csv_record_free(&rec);
		return rc < 0 ? rc : errbuf_set(eb, -EINVAL, "%s: empty catalog (needs a header "
						 "and at least one instance)", name);
	}
	int col[NCOLS];
	for (int i = 0; i < NCOLS; i++) {
		col[i] = -1;
		for (size_t j = 0; j < rec.n; j++)
			if (!strcmp(rec.f[j], col_names[i]))
				col[i] = (int)j;
		if (col[i] < 0) {
			errbuf_set(eb, -EINVAL, "%s:%u: header has no column '%s' (expected %s,%s,%s,%s,%s,%s,%s)",
				   name, rec.line, col_names[i], col_names[0], col_names[1],
				   col_names[2], col_names[3], col_names[4], col_names[5], col_names[6]);
			csv_record_free(&rec);
			return -EINVAL;
		}
	}
	csv_record_free(&rec);
	while ((rc = csv_next(&r, &rec, eb)) > 0) {
		struct sizing_instance in;
		memset(&in, 0, sizeof(in));
		rc = parse_row(&rec, col, name, &in, eb);
		csv_record_free(&rec);
		if (rc)
			goto fail;
		struct sizing_instance *v = realloc(c->v, (c->n + 1) * sizeof(*v));
		if (!v) {
			rc = -ENOMEM;
			goto fail;
		}
		c->v = v;
		c->v[c->n++] = in;
		if (in.vcpu > c->max_vcpu)
			c->max_vcpu = in.vcpu;
		if (in.memory_gib > c->max_memory_gib)
			c->max_memory_gib = in.memory_gib;
		if (!c->as_of[0] || strcmp(in.as_of, c->as_of) < 0)
			str_copy(c->as_of, in.as_of, sizeof(c->as_of));
		if (!c->region[0])
			str_copy(c->region, in.region, sizeof(c->region));
	}
	csv_record_free(&rec);
	if (rc < 0)
		goto fail;
	if (!c->n) {
		rc = errbuf_set(eb, -EINVAL, "%s: no instances after the header", name);
		goto fail;
	}
	return 0;
fail:
	sizing_catalog_free(c);
	return rc;
}

static int sizing_catalog_parse_cb(const char *buf, size_t len, const char *name, void *out,
					struct errbuf *eb)
{
	return sizing_catalog_parse(buf, len, name, out, eb);
}

int sizing_catalog_load(const char *path, struct sizing_catalog *c, struct errbuf *eb)
{
	return csv_load_file(path, 16 << 20, sizing_catalog_parse_cb, c, eb);
}

const struct sizing_instance *sizing_pick(const struct sizing_catalog *c, double cpu,
					  double mem_gib)
{
	const struct sizing_instance *best = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const struct sizing_instance *in = &c->v[i];
		if (in->vcpu + 1e-9 < cpu || in->memory_gib + 1e-9 < mem_gib)
			continue;
		if (rules_family_burstable(in->family) &&
		    cpu > rules_burstable_baseline(in->family, in->type) * in->vcpu)
			continue;
		if (!best || in->hourly_usd < best->hourly_usd ||
		    (in->hourly_usd == best->hourly_usd &&
		     (in->vcpu < best->vcpu ||
		      (in->vcpu == best->vcpu && strcmp(in->type, best->type) < 0))))
			best = in;
	}
	return best;
}

void sizing_storage_price(double gib, double iops, double mibps, struct sizing_storage *out)
{
	const struct rules_plan *p = &rules_plan;
	gib = ceil(gib < p->min_storage_gib ? p->min_storage_gib : gib);
	iops = ceil(iops);
	mibps = ceil(mibps);
	out->gib = gib;
	if (iops <= p->gp3_max_iops && mibps <= p->gp3_max_mibps) {
		out->type = "gp3";
		out->iops = iops > p->gp3_iops_included ? iops : p->gp3_iops_included;
		out->mibps = mibps > p->gp3_mibps_included ? mibps : p->gp3_mibps_included;
		out->monthly_usd = gib * p->gp3_gb_month_usd +
				   (out->iops - p->gp3_iops_included) * p->gp3_iops_month_usd +
				   (out->mibps - p->gp3_mibps_included) * p->gp3_mibps_month_usd;
	} else {
		out->type = "io2";
		out->iops = iops;
		out->mibps = mibps;
		out->monthly_usd = gib * p->io2_gb_month_usd + iops * p->io2_iops_month_usd;
	}
}

const char *sizing_mode_name(enum sizing_mode m, double pct, char *buf, size_t n)
{
	switch (m) {
	case SIZING_ASIS: snprintf(buf, n, "as-is"); break;
	case SIZING_PERCENTILE: snprintf(buf, n, "p%g", pct); break;
	case SIZING_MAX: snprintf(buf, n, "max"); break;
	case SIZING_AVG: snprintf(buf, n, "avg"); break;
	}
	return buf;
}

int sizing_mode_parse(const char *s, enum sizing_mode *m, double *pct)
{
	if (!strcmp(s, "asis") || !strcmp(s, "as-is")) {
		*m = SIZING_ASIS;
	} else if (!strcmp(s, "max")) {
		*m = SIZING_MAX;
	} else if (!strcmp(s, "avg") || !strcmp(s, "average")) {
		*m = SIZING_AVG;
	} else if (!strcmp(s, "percentile") || !strcmp(s, "p")) {
		*m = SIZING_PERCENTILE; /* the percentile: --percentile N, else 95 */
	} else if (s[0] == 'p' && s[1]) {
		double v;
		if (parse_num(s + 1, &v) || v <= 0 || v > 100)
			return -EINVAL;
		*m = SIZING_PERCENTILE;
		*pct = v;
	} else {
		return -EINVAL;
	}
	return 0;
}

static double mode_value(const struct estate_stat *s, enum sizing_mode m)
{
	switch (m) {
	case SIZING_PERCENTILE: return s->pctl;
	case SIZING_MAX: return s->max;
	case SIZING_AVG: return s->avg;
	case SIZING_ASIS: break;
	}
	return s->pctl;
}

static int set_str(char **dst, const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		return -ENOMEM;
	if (*dst && *dst != protobuf_c_empty_string)
		free(*dst);
	*dst = d;
	return 0;
}

int sizing_host(const struct estate_host *h, const struct sizing_catalog *c,
		const struct plan_options *opt, Cairn__Store__Sizing **out)
{
	Cairn__Store__Sizing *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	cairn__store__sizing__init(s);
	char mode[16], note[256] = "";
	enum sizing_mode m = opt->mode;
	double alloc_cpu = h->cpu_threads;
	double alloc_mem = h->mem_total / GIB;
	if (m != SIZING_ASIS && !h->windows && h->import_stats) {
		/* the file gave an average and a maximum, no distribution */
		snprintf(note, sizeof(note), "utilization imported from %.80s:%u (avg/max, no measured windows)%s",
			 h->import->file, h->import->line,
			 m == SIZING_PERCENTILE ? ": the imported maximum stands in for the percentile" : "");
	} else if (m != SIZING_ASIS && !h->windows) {
		m = SIZING_ASIS;
		snprintf(note, sizeof(note), "%s", h->import ? "imported without utilization: sized as allocated"
				 : "no performance data in the period: sized as allocated");
	}
	/* a day has every daily peak once: less is a guess, and says so */
	uint64_t span_ms = (uint64_t)h->windows * h->window_ms;
	bool short_data = m != SIZING_ASIS && span_ms < 86400000ull && !h->import_stats;
	if (short_data) {
		char span[32];
		config_format_duration(span_ms, span, sizeof(span));
		snprintf(note, sizeof(note), "sized from less than a day of data (%zu windows, %s)",
			 h->windows, span);
	}
	sizing_mode_name(m, opt->percentile, mode, sizeof(mode));
	s->percentile = m == SIZING_PERCENTILE ? opt->percentile : 0;
	s->comfort = m == SIZING_ASIS ? 1 : opt->comfort;
	if (m == SIZING_ASIS) {
		s->cpu_observed = alloc_cpu;
		s->mem_observed_gib = alloc_mem;
	} else {
		s->cpu_observed = mode_value(&h->stat[ESTATE_CPU_VCPU], m);
		s->mem_observed_gib = mode_value(&h->stat[ESTATE_MEM_USED], m) / GIB;
	}
	s->cpu_needed = s->cpu_observed * s->comfort;
	s->mem_needed_gib = s->mem_observed_gib * s->comfort;
	s->iops_observed = m == SIZING_ASIS ? h->stat[ESTATE_DISK_IOPS].pctl
					    : mode_value(&h->stat[ESTATE_DISK_IOPS], m);
	s->throughput_observed_mibps = (m == SIZING_ASIS ? h->stat[ESTATE_DISK_BPS].pctl
				       : mode_value(&h->stat[ESTATE_DISK_BPS], m)) / MIB;

	const struct sizing_instance *in = sizing_pick(c, s->cpu_needed, s->mem_needed_gib);
	if (in) {
		if (set_str(&s->instance_type, in->type))
			goto nomem;
		s->vcpu = in->vcpu;
		s->memory_gib = in->memory_gib;
		s->hourly_usd = in->hourly_usd;
		s->monthly_usd = in->hourly_usd * rules_plan.hours_per_month;
		if (rules_family_burstable(in->family) && !note[0])
			snprintf(note, sizeof(note),
				 "burstable %s: fits within its CPU-credit baseline of %.4g%% per vCPU",
				 in->type, rules_burstable_baseline(in->family, in->type) * 100);
	} else {
		snprintf(note, sizeof(note), "no instance in %.100s fits %.1f vCPU / %.1f GiB (largest: %u vCPU, %.0f GiB)",
			 c->path, s->cpu_needed, s->mem_needed_gib, c->max_vcpu, c->max_memory_gib);
	}
	const struct sizing_instance *asis = sizing_pick(c, alloc_cpu, alloc_mem);
	if (asis) {
		if (set_str(&s->asis_instance_type, asis->type))
			goto nomem;
		s->asis_hourly_usd = asis->hourly_usd;
		s->asis_monthly_usd = asis->hourly_usd * rules_plan.hours_per_month;
	}

	uint64_t allocated, used, largest;
	rules_storage(h, &allocated, &used, &largest);
	struct sizing_storage st;
	double gib = m == SIZING_ASIS ? allocated / GIB : used / GIB * s->comfort;
	sizing_storage_price(gib, s->iops_observed * s->comfort,
			     s->throughput_observed_mibps * s->comfort, &st);
	s->storage_gib = st.gib;
	s->storage_monthly_usd = st.monthly_usd;
	s->storage_iops = st.iops;
	s->storage_throughput_mibps = st.mibps;
	struct sizing_storage sa;
	sizing_storage_price(allocated / GIB, s->iops_observed, s->throughput_observed_mibps, &sa);
	s->storage_asis_gib = sa.gib;
	s->asis_storage_monthly_usd = sa.monthly_usd;
	if (set_str(&s->host, h->id) || set_str(&s->mode, mode) || set_str(&s->storage_type, st.type) ||
	    set_str(&s->catalog_as_of, in ? in->as_of : c->as_of) ||
	    set_str(&s->region, in ? in->region : c->region) || set_str(&s->note, note))
		goto nomem;
	*out = s;
	return 0;
nomem:
	cairn__store__sizing__free_unpacked(s, NULL);
	return -ENOMEM;
}
