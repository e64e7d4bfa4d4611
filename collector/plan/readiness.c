/* Readiness and strategy; see readiness.h and the rules table in rules.c. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv.h"
#include "readiness.h"
#include "rules.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

void readiness_lifecycle_free(struct readiness_lifecycle *lc)
{
	free(lc->v);
	memset(lc, 0, sizeof(*lc));
}

static int date_ms(const char *s, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	int y, m, d;
	char extra;
	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || m < 1 ||
	    m > 12 || d < 1 || d > 31)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	*out = (int64_t)timegm(&tm) * 1000;
	return 0;
}

int readiness_lifecycle_parse(const char *buf, size_t len, const char *name,
			      struct readiness_lifecycle *lc, struct errbuf *eb)
{
	memset(lc, 0, sizeof(*lc));
	str_copy(lc->path, name, sizeof(lc->path));
	struct csv_reader r;
	struct csv_record rec;
	csv_reader_init(&r, buf, len, name);
	int rc, header = 0;
	while ((rc = csv_next(&r, &rec, eb)) > 0) {
		if (rec.n && rec.f[0][0] == '#') {
			const char *a = strstr(rec.f[0], "as_of:");
			if (a) {
				a += 6;
				while (*a == ' ')
					a++;
				snprintf(lc->as_of, sizeof(lc->as_of), "%.10s", a);
			}
			csv_record_free(&rec);
			continue;
		}
		if (!header) {
			header = 1;
			if (rec.n < 5 || strcmp(rec.f[0], "os_id") || strcmp(rec.f[1], "version")) {
				rc = errbuf_set(eb, -EINVAL, "%s:%u: header must be os_id,version,name,"
						"end_of_standard_support,end_of_extended_support",
						name, rec.line);
				csv_record_free(&rec);
				goto fail;
			}
			csv_record_free(&rec);
			continue;
		}
		struct readiness_os os;
		memset(&os, 0, sizeof(os));
		if (rec.n < 5 || !rec.f[0][0] || !rec.f[1][0]) {
			rc = errbuf_set(eb, -EINVAL, "%s:%u: %zu fields, expected 5 with os_id and version",
					name, rec.line, rec.n);
			csv_record_free(&rec);
			goto fail;
		}
		str_copy(os.id, rec.f[0], sizeof(os.id));
		str_copy(os.version, rec.f[1], sizeof(os.version));
		str_copy(os.name, rec.f[2], sizeof(os.name));
		if (date_ms(rec.f[3], &os.eol_ms)) {
			rc = errbuf_set(eb, -EINVAL, "%s:%u: end_of_standard_support '%s' is not YYYY-MM-DD",
					name, rec.line, rec.f[3]);
			csv_record_free(&rec);
			goto fail;
		}
		str_copy(os.eol, rec.f[3], sizeof(os.eol));
		if (rec.f[4][0] && date_ms(rec.f[4], &os.eoes_ms)) {
			rc = errbuf_set(eb, -EINVAL, "%s:%u: end_of_extended_support '%s' is not YYYY-MM-DD "
					"(or empty)", name, rec.line, rec.f[4]);
			csv_record_free(&rec);
			goto fail;
		}
		str_copy(os.eoes, rec.f[4], sizeof(os.eoes));
		csv_record_free(&rec);
		struct readiness_os *v = realloc(lc->v, (lc->n + 1) * sizeof(*v));
		if (!v) {
			rc = -ENOMEM;
			goto fail;
		}
		lc->v = v;
		lc->v[lc->n++] = os;
	}
	csv_record_free(&rec);
	if (rc < 0)
		goto fail;
	if (!lc->n) {
		rc = errbuf_set(eb, -EINVAL, "%s: no OS rows", name);
		goto fail;
	}
	return 0;
fail:
	readiness_lifecycle_free(lc);
	return rc;
}

static int readiness_lifecycle_parse_cb(const char *buf, size_t len, const char *name, void *out,
						struct errbuf *eb)
{
	return readiness_lifecycle_parse(buf, len, name, out, eb);
}

int readiness_lifecycle_load(const char *path, struct readiness_lifecycle *lc, struct errbuf *eb)
{
	return csv_load_file(path, 4 << 20, readiness_lifecycle_parse_cb, lc, eb);
}

static const struct readiness_os *find_exact(const struct readiness_lifecycle *lc, const char *id,
					     const char *version)
{
	for (size_t i = 0; i < lc->n; i++)
		if (!strcmp(lc->v[i].id, id) && !strcmp(lc->v[i].version, version))
			return &lc->v[i];
	return NULL;
}

static const struct readiness_os *find_id(const struct readiness_lifecycle *lc, const char *id,
					  const char *version, const char *name)
{
	char v[64];
	if (!*id || !*version)
		return NULL;
	if (!strcmp(id, "centos") && name && strstr(name, "Stream")) {
		snprintf(v, sizeof(v), "%.*s-stream", (int)strcspn(version, "."), version);
		return find_exact(lc, id, v);
	}
	const struct readiness_os *o = find_exact(lc, id, version);
	if (o)
		return o;
	size_t major = strcspn(version, ".");
	snprintf(v, sizeof(v), "%.*s", (int)major, version);
	if ((o = find_exact(lc, id, v)))
		return o;
	if (version[major] == '.') {
		size_t minor = strcspn(version + major + 1, ".");
		snprintf(v, sizeof(v), "%.*s", (int)(major + 1 + minor), version);
		return find_exact(lc, id, v);
	}
	return NULL;
}

const struct readiness_os *readiness_os_find(const struct readiness_lifecycle *lc,
					     const Cairn__OsRelease *os, int *via_like)
{
	*via_like = 0;
	if (!os)
		return NULL;
	const struct readiness_os *o = find_id(lc, os->id, os->version_id, os->name);
	if (o || !os->id_like)
		return o;
	char like[256];
	str_copy(like, os->id_like, sizeof(like));
	char *save = NULL;
	for (char *w = strtok_r(like, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if ((o = find_id(lc, w, os->version_id, os->name))) {
			*via_like = 1;
			return o;
		}
	}
	return NULL;
}

unsigned readiness_confidence(double coverage)
{
	if (!(coverage > 0))
		return 1;
	unsigned c = (unsigned)ceil(coverage * 5 - 1e-9);
	return c < 1 ? 1 : c > 5 ? 5 : c;
}

/* ---------------------------------------------------------------- building results */

static int push_reason(Cairn__Store__Reason ***v, size_t *n, const char *code,
		       enum rules_severity sev, int penalty, const char *text)
{
	Cairn__Store__Reason **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	Cairn__Store__Reason *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	cairn__store__reason__init(r);
	r->code = strdup(code);
	r->text = strdup(text);
	r->severity = strdup(rules_severity_name(sev));
	r->penalty = penalty;
	if (!r->code || !r->text || !r->severity) {
		cairn__store__reason__free_unpacked(r, NULL);
		return -ENOMEM;
	}
	(*v)[(*n)++] = r;
	return 0;
}

static int add_reason(Cairn__Store__Readiness *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A reason from the rules table with formatted text. */
static int add_reason(Cairn__Store__Readiness *r, const char *code, const char *fmt, ...)
{
	const struct rules_reason *rule = rules_reason_find(code);
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return push_reason(&r->reasons, &r->n_reasons, code, rule ? rule->severity : RULES_INFO,
			   rule ? rule->penalty : 0, text);
}

static int add_strategy_reason(Cairn__Store__Readiness *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int add_strategy_reason(Cairn__Store__Readiness *r, const char *code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return push_reason(&r->strategy_reasons, &r->n_strategy_reasons, code, RULES_INFO, 0, text);
}

static bool has_reason(const Cairn__Store__Readiness *r, const char *code)
{
	for (size_t i = 0; i < r->n_reasons; i++)
		if (!strcmp(r->reasons[i]->code, code))
			return true;
	return false;
}

static enum rules_severity severity_of(const char *s)
{
	if (!strcmp(s, "not_ready"))
		return RULES_NOT_READY;
	if (!strcmp(s, "unknown"))
		return RULES_UNKNOWN;
	if (!strcmp(s, "conditional"))
		return RULES_CONDITIONAL;
	return RULES_INFO;
}

const char *readiness_category(const Cairn__Store__Readiness *r)
{
	enum rules_severity worst = RULES_INFO;
	for (size_t i = 0; i < r->n_reasons; i++) {
		enum rules_severity s = severity_of(r->reasons[i]->severity);
		if (s > worst)
			worst = s;
	}
	switch (worst) {
	case RULES_NOT_READY: return "Not ready";
	case RULES_UNKNOWN: return "Unknown";
	case RULES_CONDITIONAL: return "Conditionally ready";
	case RULES_INFO: break;
	}
	return "Ready";
}

static int finish(Cairn__Store__Readiness *r, const char *strategy)
{
	int score = 100;
	for (size_t i = 0; i < r->n_reasons; i++)
		score -= r->reasons[i]->penalty;
	r->score = score < 0 ? 0 : (uint32_t)score;
	r->category = strdup(readiness_category(r));
	r->strategy = strdup(strategy);
	return r->category && r->strategy ? 0 : -ENOMEM;
}

static Cairn__Store__Readiness *new_readiness(const char *target, const char *name, const char *kind)
{
	Cairn__Store__Readiness *r = malloc(sizeof(*r));
	if (!r)
		return NULL;
	cairn__store__readiness__init(r);
	r->target = strdup(target);
	r->name = strdup(name);
	r->kind = strdup(kind);
	if (!r->target || !r->name || !r->kind) {
		cairn__store__readiness__free_unpacked(r, NULL);
		return NULL;
	}
	return r;
}

static int check_os(const struct readiness_ctx *ctx, const Cairn__HostInfo *hi,
		    Cairn__Store__Readiness *r)
{
	const Cairn__OsRelease *os = hi->os;
	int via_like;
	const struct readiness_os *o = readiness_os_find(ctx->lifecycle, os, &via_like);
	const char *asof = ctx->lifecycle->as_of[0] ? ctx->lifecycle->as_of : "?";
	if (!o)
		return add_reason(r, "os_unknown", "%s (ID=%s VERSION_ID=%s) is not in the OS lifecycle table (as of %s)",
				  os && *os->pretty_name ? os->pretty_name : "unknown OS",
				  os ? os->id : "", os ? os->version_id : "", asof);
	const char *like = via_like ? " (matched through ID_LIKE)" : "";
	if (ctx->now_ms < o->eol_ms)
		return 0;
	if (o->eoes_ms && ctx->now_ms < o->eoes_ms)
		return add_reason(r, "os_eol", "%s: standard support ended %s, extended support until %s%s (lifecycle as of %s)",
				  o->name, o->eol, o->eoes, like, asof);
	if (o->eoes_ms)
		return add_reason(r, "os_unsupported", "%s: standard support ended %s, extended support ended %s%s (lifecycle as of %s)",
				  o->name, o->eol, o->eoes, like, asof);
	return add_reason(r, "os_unsupported", "%s: support ended %s, no extended support%s (lifecycle as of %s)",
			  o->name, o->eol, like, asof);
}

static int check_kernel(const Cairn__HostInfo *hi, Cairn__Store__Readiness *r)
{
	const struct rules_reason *rule = rules_reason_find("kernel_old");
	unsigned maj, min;
	if (!hi->kernel_release || sscanf(hi->kernel_release, "%u.%u", &maj, &min) != 2)
		return 0;
	unsigned tmaj = (unsigned)rule->threshold;
	unsigned tmin = (unsigned)lround((rule->threshold - tmaj) * 100);
	if (maj < tmaj || (maj == tmaj && min < tmin))
		return add_reason(r, "kernel_old", "kernel %s is older than %u.%u: drivers for current instance types (NVMe, ENA) missing",
				  hi->kernel_release, tmaj, tmin);
	return 0;
}

static int check_software(const struct estate_host *h, enum rules_sw_kind kind, const char *code,
			  Cairn__Store__Readiness *r)
{
	const char *done[64];
	size_t ndone = 0;
	for (size_t i = 0; i < rules_nsoftware; i++) {
		const struct rules_software *sw = &rules_software[i];
		if (sw->kind != kind || !rules_has_software(h, sw))
			continue;
		bool seen = false;
		for (size_t j = 0; j < ndone; j++)
			seen |= !strcmp(done[j], sw->product);
		if (seen || ndone == ARRAY_SIZE(done))
			continue;
		done[ndone++] = sw->product;
		int rc = add_reason(r, code, "%s found (%s '%s'): %s", sw->product,
				    sw->match == RULES_MATCH_PKG_PREFIX ? "package" : "process",
				    sw->pattern, sw->target);
		if (rc)
			return rc;
	}
	return 0;
}

static int host_reasons(const struct readiness_ctx *ctx, const struct estate_host *h,
			const Cairn__Store__Sizing *sz, size_t peers, double coverage,
			Cairn__Store__Readiness *r)
{
	const struct rules_plan *p = &rules_plan;
	int rc = 0;
	const Cairn__HostInfo *hi = h->facts ? h->facts->info : NULL;
	const Cairn__Store__ImportedServer *imp = h->import;
	if (!hi)
		rc = add_reason(r, "too_little_data", "no host facts received from this agent yet");
	else if (imp && !h->windows && h->import_stats)
		rc = add_reason(r, "imported", "known from %s:%u (%s, no measured windows): utilization as the file gives it (average/maximum)",
				imp->file, imp->line, imp->format);
	else if (imp && !h->windows)
		rc = add_reason(r, "too_little_data", "imported from %s:%u without utilization: sized as allocated, assessed from the OS and shape only",
				imp->file, imp->line);
	else if (h->windows < p->min_windows || coverage < p->coverage_min)
		rc = add_reason(r, "too_little_data", "%zu performance windows, %.0f%% of those expected over the period (need %u and %.0f%%)",
				h->windows, coverage * 100, p->min_windows, p->coverage_min * 100);
	if (rc || !hi)
		return rc;
	if (imp && imp->facts && imp->facts->powered_off &&
	    (rc = add_reason(r, "powered_off", "powered off when imported (%s:%u)", imp->file, imp->line)))
		return rc;
	if ((rc = check_os(ctx, hi, r)))
		return rc;
	if (rules_arch_32bit(hi->architecture) &&
	    (rc = add_reason(r, "arch_32bit", "architecture %s is 32-bit", hi->architecture)))
		return rc;
	if ((rc = check_kernel(hi, r)))
		return rc;
	uint64_t alloc, used, largest;
	rules_storage(h, &alloc, &used, &largest);
	const struct rules_reason *disk = rules_reason_find("disk_too_large");
	if (largest / GIB > disk->threshold &&
	    (rc = add_reason(r, "disk_too_large", "largest disk/filesystem %.0f GiB exceeds %.0f GiB per EBS volume",
			     largest / GIB, disk->threshold)))
		return rc;
	if (sz && ctx->catalog) {
		if (sz->mem_needed_gib > ctx->catalog->max_memory_gib &&
		    (rc = add_reason(r, "memory_too_large", "needs %.1f GiB memory, the largest catalog instance has %.0f GiB",
				     sz->mem_needed_gib, ctx->catalog->max_memory_gib)))
			return rc;
		if (sz->cpu_needed > ctx->catalog->max_vcpu &&
		    (rc = add_reason(r, "cpu_too_large", "needs %.1f vCPU, the largest catalog instance has %u",
				     sz->cpu_needed, ctx->catalog->max_vcpu)))
			return rc;
		const struct rules_reason *io = rules_reason_find("iops_high");
		if (sz->iops_observed > io->threshold &&
		    (rc = add_reason(r, "iops_high", "sustained %.0f IOPS (%s) above %.0f (gp3 maximum): io2 needed",
				     sz->iops_observed, sz->mode, io->threshold)))
			return rc;
	}
	if ((rc = check_software(h, RULES_SW_LICENSED, "licensed_software", r)) ||
	    (rc = check_software(h, RULES_SW_DONGLE, "hardware_dongle", r)))
		return rc;
	const struct rules_reason *deps = rules_reason_find("many_dependencies");
	if ((double)peers > deps->threshold &&
	    (rc = add_reason(r, "many_dependencies", "talks to %zu other hosts/endpoints (more than %.0f): plan its wave carefully",
			     peers, deps->threshold)))
		return rc;
	if (h->windows >= p->min_windows && h->cpu_peak_p95 < p->idle_cpu_pct &&
	    h->net_avg_peak < p->idle_net_bytes_ps)
		rc = add_reason(r, "idle", "idle over %zu windows: CPU p95 never above %.1f%% (< %.0f%%), network at most %.0f B/s (< %.0f)",
				h->windows, h->cpu_peak_p95, p->idle_cpu_pct, h->net_avg_peak,
				p->idle_net_bytes_ps);
	return rc;
}

static bool is_vmware(const struct estate_host *h)
{
	const Cairn__HostInfo *hi = h->facts ? h->facts->info : NULL;
	return hi && hi->virt && (!strcmp(hi->virt->hypervisor, "vmware") ||
				  strstr(hi->virt->dmi_sys_vendor, "VMware"));
}

static int host_strategy(const struct estate_host *h, Cairn__Store__Readiness *r,
			 enum rules_strategy *out)
{
	int rc;
	if (has_reason(r, "powered_off") && !h->inbound_edges) {
		*out = RULES_RETIRE;
		return add_strategy_reason(r, "powered_off", "powered off when imported and no inbound connections in the period");
	}
	if (has_reason(r, "idle") && !h->inbound_edges) {
		*out = RULES_RETIRE;
		if ((rc = add_strategy_reason(r, "idle", "idle for the whole period")))
			return rc;
		return add_strategy_reason(r, "no_inbound", "no inbound connections in the period (ssh, monitoring, backup and cairn traffic ignored)");
	}
	if (has_reason(r, "hardware_dongle")) {
		*out = RULES_RETAIN;
		return add_strategy_reason(r, "hardware_dongle", "bound to a hardware license key on premises");
	}
	bool blocked = has_reason(r, "os_unsupported") || has_reason(r, "arch_32bit");
	if ((blocked || has_reason(r, "kernel_old")) && is_vmware(h)) {
		*out = RULES_RELOCATE;
		return add_strategy_reason(r, "vmware_vm", "a VMware VM whose OS cannot run on EC2 as-is: move the VM unchanged (VMware Cloud on AWS)");
	}
	if (blocked) {
		*out = RULES_REFACTOR;
		return add_strategy_reason(r, has_reason(r, "arch_32bit") ? "arch_32bit" : "os_unsupported",
					   "rebuild the workload on a supported 64-bit OS");
	}
	for (int kind = RULES_SW_SAAS; kind >= RULES_SW_MANAGED; kind--) {
		bool found = false;
		for (size_t i = 0; i < rules_nsoftware; i++) {
			const struct rules_software *sw = &rules_software[i];
			if ((int)sw->kind != kind || !rules_has_software(h, sw))
				continue;
			bool dup = false;
			for (size_t j = 0; j < r->n_strategy_reasons; j++)
				dup |= strstr(r->strategy_reasons[j]->text, sw->product) != NULL;
			if (dup)
				continue;
			found = true;
			if ((rc = add_strategy_reason(r, kind == RULES_SW_SAAS ? "saas_product" : "managed_service",
						      "self-managed %s -> %s", sw->product, sw->target)))
				return rc;
		}
		if (found) {
			*out = kind == RULES_SW_SAAS ? RULES_REPURCHASE : RULES_REPLATFORM;
			return 0;
		}
	}
	*out = RULES_REHOST;
	return add_strategy_reason(r, "default", has_reason(r, "too_little_data")
				   ? "lift and shift (provisional: too little data)"
				   : "lift and shift to the sized instance");
}

/* An imported server without windows: 1 without utilization, 2 with part of
 * it, 3 with average and maximum of both CPU and memory; never the 4-5 of an
 * agent measuring most of the period. */
static uint32_t import_confidence(const struct estate_host *h)
{
	const Cairn__Store__ImportFacts *f = h->import->facts;
	if (!h->import_stats || !f)
		return 1;
	bool full = f->cpu_pct && f->cpu_pct->has_avg && f->cpu_pct->has_max && f->ram_used_mib &&
		    f->ram_used_mib->has_avg && f->ram_used_mib->has_max;
	return full ? 3 : 2;
}

int readiness_host(const struct readiness_ctx *ctx, const struct estate_host *h,
		   const Cairn__Store__Sizing *sizing, size_t peers,
		   Cairn__Store__Readiness **out)
{
	Cairn__Store__Readiness *r = new_readiness(h->id, h->name, "host");
	if (!r)
		return -ENOMEM;
	double coverage = estate_coverage(h, ctx->since_ms, ctx->now_ms);
	r->coverage = coverage;
	r->windows = (uint32_t)h->windows;
	r->confidence = readiness_confidence(coverage);
	if (h->import && !h->windows)
		r->confidence = import_confidence(h);
	enum rules_strategy st = RULES_REHOST;
	int rc = host_reasons(ctx, h, sizing, peers, coverage, r);
	if (!rc)
		rc = host_strategy(h, r, &st);
	if (!rc)
		rc = finish(r, rules_strategies[st].name);
	if (rc) {
		cairn__store__readiness__free_unpacked(r, NULL);
		return rc;
	}
	*out = r;
	return 0;
}

static int strategy_index(const char *name)
{
	for (int i = 0; i < RULES_NSTRATEGIES; i++)
		if (!strcmp(rules_strategies[i].name, name))
			return i;
	return RULES_REHOST;
}

int readiness_app(const Cairn__Store__App *app, const Cairn__Store__Readiness *const *hosts,
		  size_t peers, Cairn__Store__Readiness **out)
{
	Cairn__Store__Readiness *r = new_readiness(app->id, *app->name ? app->name : app->id, "app");
	if (!r)
		return -ENOMEM;
	int rc = 0;
	unsigned conf = 5;
	double cov = 0;
	size_t known = 0;
	bool all_retire = app->n_hosts > 0;
	int best = RULES_NSTRATEGIES;
	for (size_t i = 0; i < app->n_hosts && !rc; i++) {
		const Cairn__Store__Readiness *h = hosts[i];
		if (!h) {
			rc = add_reason(r, "too_little_data", "host %s: no data", app->hosts[i]);
			all_retire = false;
			conf = 1;
			continue;
		}
		known++;
		cov += h->coverage;
		if (h->confidence < conf)
			conf = h->confidence;
		int s = strategy_index(h->strategy);
		if (s != RULES_RETIRE) {
			all_retire = false;
			if (s < best)
				best = s;
		}
		for (size_t j = 0; j < h->n_reasons && !rc; j++) {
			const Cairn__Store__Reason *hr = h->reasons[j];
			if (!strcmp(hr->code, "many_dependencies") || !strcmp(hr->code, "idle"))
				continue; /* judged for the app as a whole */
			char text[512];
			snprintf(text, sizeof(text), "%s: %s", h->name, hr->text);
			rc = push_reason(&r->reasons, &r->n_reasons, hr->code,
					 severity_of(hr->severity), 0, text);
		}
	}
	/* penalties once per code, as the host rule weighs them */
	for (size_t i = 0; i < r->n_reasons; i++) {
		bool first = true;
		for (size_t j = 0; j < i; j++)
			first &= strcmp(r->reasons[j]->code, r->reasons[i]->code) != 0;
		const struct rules_reason *rule = rules_reason_find(r->reasons[i]->code);
		r->reasons[i]->penalty = first && rule ? rule->penalty : 0;
	}
	const struct rules_reason *deps = rules_reason_find("many_dependencies");
	if (!rc && (double)peers > deps->threshold)
		rc = add_reason(r, "many_dependencies", "depends on %zu other applications/endpoints (more than %.0f)",
				peers, deps->threshold);
	r->confidence = known ? conf : 1;
	r->coverage = known ? cov / known : 0;
	int strategy = all_retire ? RULES_RETIRE : best < RULES_NSTRATEGIES ? best : RULES_REHOST;
	for (size_t i = 0; i < app->n_hosts && !rc; i++) {
		const Cairn__Store__Readiness *h = hosts[i];
		if (!h || strategy_index(h->strategy) != strategy)
			continue;
		for (size_t j = 0; j < h->n_strategy_reasons && !rc; j++) {
			char text[512];
			snprintf(text, sizeof(text), "%s: %s", h->name, h->strategy_reasons[j]->text);
			rc = push_reason(&r->strategy_reasons, &r->n_strategy_reasons,
					 h->strategy_reasons[j]->code, RULES_INFO, 0, text);
		}
	}
	if (!rc)
		rc = finish(r, rules_strategies[strategy].name);
	if (rc) {
		cairn__store__readiness__free_unpacked(r, NULL);
		return rc;
	}
	*out = r;
	return 0;
}
