/* Exports; see export.h and docs/exports.md. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "csv.h"
#include "depmap.h"
#include "export.h"
#include "read.h"

#include "dot.h"
#include "pbjson.h"
#include "rules.h"
#include "waves.h"

#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * 1024.0 * 1024.0)

void export_files_free(char **files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

/* Lookups by id, built once per export: a linear search per host made an
 * export of 10,000 hosts quadratic. Each table is sorted by key; among equal
 * keys the first in snapshot order wins, as the linear search did. */
struct lookup {
	const char *key;
	const void *val;
	size_t order;
};

struct export_index {
	struct lookup *app;    /* host id -> App */
	struct lookup *wave;   /* app id -> Wave */
	struct lookup *ready;  /* host or app id -> Readiness */
	struct lookup *sizing; /* host id -> Sizing */
	struct lookup *status; /* target key -> MigrationStatus */
	struct lookup *node;   /* map node id -> MapNode */
	size_t napp, nwave, nready, nsizing, nstatus, nnode;
};

static int cmp_lookup(const void *x, const void *y)
{
	const struct lookup *a = x, *b = y;
	int c = strcmp(a->key, b->key);
	return c ? c : (a->order > b->order) - (a->order < b->order);
}

static int cmp_lookup_key(const void *k, const void *y)
{
	return strcmp(k, ((const struct lookup *)y)->key);
}

static const void *lookup_find(const struct lookup *v, size_t n, const char *key)
{
	const struct lookup *l = bsearch(key, v, n, sizeof(*v), cmp_lookup_key);
	if (!l)
		return NULL;
	while (l > v && !strcmp(l[-1].key, key))
		l--;
	return l->val;
}

static void lookup_sort(struct lookup *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), cmp_lookup);
}

static void export_index_free(struct export_index *ix)
{
	free(ix->app);
	free(ix->wave);
	free(ix->ready);
	free(ix->sizing);
	free(ix->status);
	free(ix->node);
	memset(ix, 0, sizeof(*ix));
}

static int export_index_build(const struct export_input *in, struct export_index *ix)
{
	const Cairn__Store__Snapshot *s = in->snap;
	const Cairn__Store__DepMap *m = s->map;
	memset(ix, 0, sizeof(*ix));
	size_t nhosts = 0, nwapps = 0;
	for (size_t i = 0; i < s->n_apps; i++)
		nhosts += s->apps[i]->n_hosts;
	for (size_t i = 0; i < s->n_waves; i++)
		nwapps += s->waves[i]->n_apps;
	ix->app = calloc(nhosts + 1, sizeof(struct lookup));
	ix->wave = calloc(nwapps + 1, sizeof(struct lookup));
	ix->ready = calloc(s->n_readiness + 1, sizeof(struct lookup));
	ix->sizing = calloc(s->n_sizing + 1, sizeof(struct lookup));
	ix->status = calloc(in->nstatuses + 1, sizeof(struct lookup));
	ix->node = calloc((m ? m->n_nodes : 0) + 1, sizeof(struct lookup));
	if (!ix->app || !ix->wave || !ix->ready || !ix->sizing || !ix->status || !ix->node) {
		export_index_free(ix);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_apps; i++)
		for (size_t j = 0; j < s->apps[i]->n_hosts; j++, ix->napp++)
			ix->app[ix->napp] = (struct lookup){ s->apps[i]->hosts[j], s->apps[i], ix->napp };
	for (size_t i = 0; i < s->n_waves; i++)
		for (size_t j = 0; j < s->waves[i]->n_apps; j++, ix->nwave++)
			ix->wave[ix->nwave] = (struct lookup){ s->waves[i]->apps[j], s->waves[i], ix->nwave };
	for (; ix->nready < s->n_readiness; ix->nready++)
		ix->ready[ix->nready] = (struct lookup){ s->readiness[ix->nready]->target,
							  s->readiness[ix->nready], ix->nready };
	for (; ix->nsizing < s->n_sizing; ix->nsizing++)
		ix->sizing[ix->nsizing] = (struct lookup){ s->sizing[ix->nsizing]->host,
							   s->sizing[ix->nsizing], ix->nsizing };
	for (; ix->nstatus < in->nstatuses; ix->nstatus++)
		ix->status[ix->nstatus] = (struct lookup){ in->statuses[ix->nstatus]->target,
							   in->statuses[ix->nstatus], ix->nstatus };
	for (; m && ix->nnode < m->n_nodes; ix->nnode++)
		ix->node[ix->nnode] = (struct lookup){ m->nodes[ix->nnode]->id, m->nodes[ix->nnode],
						       ix->nnode };
	lookup_sort(ix->app, ix->napp);
	lookup_sort(ix->wave, ix->nwave);
	lookup_sort(ix->ready, ix->nready);
	lookup_sort(ix->sizing, ix->nsizing);
	lookup_sort(ix->status, ix->nstatus);
	lookup_sort(ix->node, ix->nnode);
	return 0;
}

static const Cairn__Store__App *app_of(const struct export_index *ix, const char *host)
{
	return lookup_find(ix->app, ix->napp, host);
}

static unsigned wave_of(const struct export_index *ix, const char *app_id)
{
	const Cairn__Store__Wave *w = lookup_find(ix->wave, ix->nwave, app_id);
	return w ? w->number : 0;
}

static const Cairn__Store__Readiness *readiness_of(const struct export_index *ix, const char *t)
{
	return lookup_find(ix->ready, ix->nready, t);
}

static const Cairn__Store__Sizing *sizing_of(const struct export_index *ix, const char *h)
{
	return lookup_find(ix->sizing, ix->nsizing, h);
}

static const Cairn__Store__MigrationStatus *status_of(const struct export_index *ix,
							const char *key)
{
	return lookup_find(ix->status, ix->nstatus, key);
}

static const Cairn__HostInfo *info_of(const struct estate_host *h)
{
	return h->facts ? h->facts->info : NULL;
}

/* Comma-separated list of the host's global addresses or MACs (no loopback). */
static void host_list(const Cairn__HostInfo *hi, bool macs, char *out, size_t n)
{
	size_t used = 0;
	out[0] = 0;
	/* bridges, veths and tunnels are not the server's identity, unless it has nothing else */
	bool has_real = false;
	for (size_t i = 0; hi && i < hi->n_nics; i++)
		has_real |= !hi->nics[i]->virtual_ && strcmp(hi->nics[i]->name, "lo") && !hi->nics[i]->netns;
	for (size_t i = 0; hi && i < hi->n_nics; i++) {
		const Cairn__Nic *nic = hi->nics[i];
		if (!strcmp(nic->name, "lo") || nic->netns || (has_real && nic->virtual_))
			continue;
		if (macs) {
			if (!*nic->mac || !strcmp(nic->mac, "00:00:00:00:00:00"))
				continue;
			bool dup = strstr(out, nic->mac) != NULL;
			if (!dup && used < n)
				used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", nic->mac);
			continue;
		}
		for (size_t j = 0; j < nic->n_addresses; j++) {
			const Cairn__IpAddress *a = nic->addresses[j];
			if (strcmp(a->scope, "global") && *a->scope)
				continue;
			if (used < n)
				used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", a->address);
		}
	}
	if (used >= n && n)
		out[n - 1] = 0;
}

/* ---------------------------------------------------------------- mhub-csv */

static const char *const mhub_columns[] = {
	"ExternalId", "SMBiosId", "IPAddress", "MACAddress", "HostName", "VMware.MoRefId",
	"VMware.VCenterId", "CPU.NumberOfProcessors", "CPU.NumberOfCores", "CPU.NumberOfLogicalCores",
	"OS.Name", "OS.Version", "VMware.VMName", "RAM.TotalSizeInMB", "RAM.UsedSizeInMB.Avg",
	"RAM.UsedSizeInMB.Max", "CPU.UsagePct.Avg", "CPU.UsagePct.Max", "DiskReadsPerSecondInKB.Avg",
	"DiskReadsPerSecondInKB.Max", "DiskWritesPerSecondInKB.Avg", "DiskWritesPerSecondInKB.Max",
	"DiskReadsOpsPerSecond.Avg", "DiskReadsOpsPerSecond.Max", "DiskWritesOpsPerSecond.Avg",
	"DiskWritesOpsPerSecond.Max", "NetworkReadsPerSecondInKB.Avg", "NetworkReadsPerSecondInKB.Max",
	"NetworkWritesPerSecondInKB.Avg", "NetworkWritesPerSecondInKB.Max", "Applications",
	"ApplicationWave", "Tags", "ServerId",
};

/* A number rounded to 2 decimals; empty when there is no data. */
static void num2(FILE *f, double v, bool have)
{
	putc_unlocked(',', f);
	if (!have || isnan(v))
		return;
	csv_put_fixed2(f, v);
}

static void count(FILE *f, unsigned v)
{
	putc_unlocked(',', f);
	if (v)
		csv_put_u64(f, v);
}

/* An imported figure pair, as the file gave it. */
static void figure2(FILE *f, const Cairn__Store__ImportFigure *g, double scale)
{
	num2(f, g ? g->avg * scale : 0, g && g->has_avg);
	num2(f, g ? g->max * scale : 0, g && g->has_max);
}

static void list_join(char *const *v, size_t n, const char *sep, char *out, size_t outn)
{
	size_t used = 0;
	out[0] = 0;
	for (size_t i = 0; i < n && used < outn; i++)
		used += (size_t)snprintf(out + used, outn - used, "%s%s", i ? sep : "", v[i]);
}

/* The facts columns of an imported-only host: exactly what its import said,
 * so `export mhub-csv` then `import mhub-csv` changes nothing. */
static void mhub_imported_facts(const Cairn__Store__ImportFacts *im, const struct estate_host *h,
				FILE *f)
{
	char buf[1024];
	csv_field(f, *im->external_id ? im->external_id : h->id, 1);
	csv_field(f, im->smbios_id, 0);
	list_join(im->ips, im->n_ips, ", ", buf, sizeof(buf));
	csv_field(f, buf, 0);
	list_join(im->macs, im->n_macs, ", ", buf, sizeof(buf));
	csv_field(f, buf, 0);
	csv_field(f, *im->fqdn ? im->fqdn : im->hostname, 0);
	csv_field(f, im->vmware_moref, 0);
	csv_field(f, im->vcenter_id, 0);
	count(f, im->cpu_sockets);
	count(f, im->cpu_cores);
	count(f, im->cpu_threads);
	csv_field(f, im->os_name, 0);
	csv_field(f, im->os_version, 0);
	csv_field(f, im->vm_name, 0);
	num2(f, im->ram_mib, im->ram_mib > 0);
}

static void mhub_row(const struct export_index *ix, const struct estate_host *h, FILE *f)
{
	const Cairn__HostInfo *hi = info_of(h);
	const Cairn__Store__ImportFacts *im = h->import ? h->import->facts : NULL;
	bool imported_only = im && !h->import->merged;
	char buf[1024];
	if (imported_only) {
		mhub_imported_facts(im, h, f);
	} else {
		csv_field(f, h->id, 1);
		csv_field(f, hi && hi->virt ? hi->virt->dmi_product_uuid : "", 0);
		host_list(hi, false, buf, sizeof(buf));
		csv_field(f, buf, 0);
		host_list(hi, true, buf, sizeof(buf));
		csv_field(f, buf, 0);
		csv_field(f, hi && *hi->fqdn ? hi->fqdn : h->name, 0);
		csv_field(f, im ? im->vmware_moref : "", 0); /* not visible from inside the guest */
		csv_field(f, im ? im->vcenter_id : "", 0);
		count(f, hi ? hi->cpu_sockets : 0);
		count(f, hi ? hi->cpu_cores : 0);
		count(f, hi ? hi->cpu_threads : h->cpu_threads);
		csv_field(f, hi && hi->os ? hi->os->name : "", 0);
		csv_field(f, hi && hi->os ? hi->os->version_id : "", 0);
		csv_field(f, im ? im->vm_name : "", 0);
		num2(f, h->mem_total / MIB, h->mem_total > 0);
	}
	bool p = h->windows > 0;
	if (!p && im) {
		/* no windows: the imported figures as the file gave them */
		figure2(f, im->ram_used_mib, 1);
		figure2(f, im->cpu_pct, 1);
		figure2(f, im->disk_read_kbps, 1);
		figure2(f, im->disk_write_kbps, 1);
		figure2(f, im->disk_read_ops, 1);
		figure2(f, im->disk_write_ops, 1);
		figure2(f, im->net_rx_kbps, 1);
		figure2(f, im->net_tx_kbps, 1);
	} else {
		num2(f, h->stat[ESTATE_MEM_USED].avg / MIB, p);
		num2(f, h->stat[ESTATE_MEM_USED].max / MIB, p);
		num2(f, h->stat[ESTATE_CPU_PCT].avg, p);
		num2(f, h->stat[ESTATE_CPU_PCT].max, p);
		num2(f, h->stat[ESTATE_DISK_READ_BPS].avg / 1024, p);
		num2(f, h->stat[ESTATE_DISK_READ_BPS].max / 1024, p);
		num2(f, h->stat[ESTATE_DISK_WRITE_BPS].avg / 1024, p);
		num2(f, h->stat[ESTATE_DISK_WRITE_BPS].max / 1024, p);
		num2(f, h->stat[ESTATE_DISK_READ_OPS].avg, p);
		num2(f, h->stat[ESTATE_DISK_READ_OPS].max, p);
		num2(f, h->stat[ESTATE_DISK_WRITE_OPS].avg, p);
		num2(f, h->stat[ESTATE_DISK_WRITE_OPS].max, p);
		num2(f, h->stat[ESTATE_NET_RX_BPS].avg / 1024, p);
		num2(f, h->stat[ESTATE_NET_RX_BPS].max / 1024, p);
		num2(f, h->stat[ESTATE_NET_TX_BPS].avg / 1024, p);
		num2(f, h->stat[ESTATE_NET_TX_BPS].max / 1024, p);
	}
	const Cairn__Store__App *app = app_of(ix, h->id);
	/* Applications is itself a comma-separated list: a comma inside one
	 * name would make two applications of it */
	snprintf(buf, sizeof(buf), "%s", app ? app->name : "");
	for (char *c = buf; *c; c++)
		if (*c == ',')
			*c = ';';
	csv_field(f, buf, 0);
	unsigned wave = app ? wave_of(ix, app->id) : 0;
	if (wave)
		snprintf(buf, sizeof(buf), "Wave %u", wave);
	else
		buf[0] = 0;
	csv_field(f, buf, 0);
	/* Tags: name:value pairs; values never contain commas. source:cairn
	 * marks the file as cairn's: an import of it takes neither Applications
	 * nor ApplicationWave (they are the computed plan) */
	const Cairn__Store__Readiness *r = readiness_of(ix, h->id);
	const Cairn__Store__Sizing *z = sizing_of(ix, h->id);
	size_t used = (size_t)snprintf(buf, sizeof(buf), "source:cairn");
	if (r)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, ", readiness:%s, strategy:%s",
					 r->category, r->strategy);
	if (z && *z->instance_type && used < sizeof(buf))
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, ", instance:%s", z->instance_type);
	for (size_t i = 0; im && i < im->n_tags && used < sizeof(buf); i++) {
		size_t k = strcspn(im->tags[i], "=");
		const char *v = im->tags[i][k] ? im->tags[i] + k + 1 : "";
		if (!strpbrk(v, ",;"))
			used += (size_t)snprintf(buf + used, sizeof(buf) - used, ", %.*s:%s", (int)k,
						 im->tags[i], v);
	}
	if (used >= sizeof(buf))
		buf[sizeof(buf) - 1] = 0;
	csv_field(f, buf, 0);
	csv_field(f, "", 0); /* ServerId: assigned by Migration Hub */
	csv_end(f);
}

static int next_file(const char *path, unsigned part, bool split, char *out, size_t n)
{
	if (!split)
		return str_copy(out, path, n) < n ? 0 : -ENAMETOOLONG;
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		dot = path + strlen(path);
	int len = snprintf(out, n, "%.*s-%u%s", (int)(dot - path), path, part, dot);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

static int write_file(const char *path, const char *data, size_t len, struct errbuf *eb)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return errbuf_set(eb, -errno, "%s: cannot create: %s", path, strerror(errno));
	size_t w = fwrite(data, 1, len, f);
	int bad = ferror(f);
	if (fclose(f) || w != len || bad)
		return errbuf_set(eb, -EIO, "%s: write failed (disk full?)", path);
	return 0;
}

static int push_name(char ***files, size_t *n, const char *name)
{
	if (!files)
		return 0;
	char **v = realloc(*files, (*n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	*files = v;
	if (!(v[*n] = strdup(name)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

int export_mhub_csv(const struct export_input *in, const char *path, size_t max_records,
		    size_t max_bytes, char ***files, size_t *nfiles, struct errbuf *eb)
{
	if (files) {
		*files = NULL;
		*nfiles = 0;
	}
	if (!max_records)
		max_records = EXPORT_MHUB_MAX_RECORDS;
	if (!max_bytes)
		max_bytes = EXPORT_MHUB_MAX_BYTES;
	/* render header and rows first, then cut into files */
	char *hdr = NULL;
	size_t hlen = 0;
	FILE *hf = open_memstream(&hdr, &hlen);
	if (!hf)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	for (size_t i = 0; i < ARRAY_SIZE(mhub_columns); i++)
		csv_field(hf, mhub_columns[i], i == 0);
	csv_end(hf);
	fclose(hf);
	size_t nrows = in->estate->n;
	char **rows = calloc(nrows + 1, sizeof(char *));
	size_t *lens = calloc(nrows + 1, sizeof(size_t));
	struct export_index ix;
	int rc = export_index_build(in, &ix);
	if (rc || !rows || !lens) {
		rc = errbuf_set(eb, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nrows; i++) {
		FILE *rf = open_memstream(&rows[i], &lens[i]);
		if (!rf) {
			rc = errbuf_set(eb, -ENOMEM, "out of memory");
			goto out;
		}
		mhub_row(&ix, &in->estate->hosts[i], rf);
		fclose(rf);
		if (hlen + lens[i] > max_bytes) {
			rc = errbuf_set(eb, -EFBIG, "mhub-csv: the row of host %s alone exceeds %zu bytes",
					in->estate->hosts[i].name, max_bytes);
			goto out;
		}
	}
	/* does everything fit in one file? */
	size_t total = hlen;
	for (size_t i = 0; i < nrows; i++)
		total += lens[i];
	bool split = nrows > max_records || total > max_bytes;
	size_t i = 0;
	unsigned part = 0;
	do {
		char name[4096];
		size_t bytes = hlen, start = i;
		while (i < nrows && i - start < max_records && bytes + lens[i] <= max_bytes)
			bytes += lens[i++];
		if ((rc = next_file(path, ++part, split, name, sizeof(name)))) {
			errbuf_set(eb, rc, "%s: output name too long", path);
			goto out;
		}
		char *buf = malloc(bytes);
		if (!buf) {
			rc = errbuf_set(eb, -ENOMEM, "out of memory");
			goto out;
		}
		memcpy(buf, hdr, hlen);
		size_t off = hlen;
		for (size_t k = start; k < i; k++) {
			memcpy(buf + off, rows[k], lens[k]);
			off += lens[k];
		}
		rc = write_file(name, buf, off, eb);
		free(buf);
		if (rc || (rc = push_name(files, nfiles, name)))
			goto out;
	} while (i < nrows);
out:
	for (size_t k = 0; rows && k < nrows; k++)
		free(rows[k]);
	free(rows);
	free(lens);
	free(hdr);
	export_index_free(&ix);
	return rc;
}

/* ---------------------------------------------------------------- ads-csv */

/* "MM/DD/YYYY hh:mm:ss AM" in UTC, as the Discovery agent export documents. */
static void ads_time(int64_t ms, char *out, size_t n)
{
	if (ms <= 0) {
		out[0] = 0;
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	/* rows come day by day: the date is formatted once per day, the time
	 * of day by hand */
	static _Thread_local int64_t cached_day = -1;
	static _Thread_local char cached_date[16];
	int64_t day = (int64_t)t / 86400, sec = (int64_t)t % 86400;
	if (day != cached_day) {
		if (!gmtime_r(&t, &tm) || !strftime(cached_date, sizeof(cached_date), "%m/%d/%Y", &tm)) {
			/* a stored time beyond what struct tm holds is left empty */
			cached_day = -1;
			out[0] = 0;
			return;
		}
		cached_day = day;
	}
	unsigned h = (unsigned)(sec / 3600), h12 = h % 12 ? h % 12 : 12;
	snprintf(out, n, "%s %02u:%02u:%02u %s", cached_date, h12, (unsigned)(sec / 60 % 60),
		 (unsigned)(sec % 60), h < 12 ? "AM" : "PM");
}

static FILE *ads_open(const char *dir, const char *name, const char *const *cols, size_t ncols,
		      struct errbuf *eb)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.csv", dir, name);
	FILE *f = fopen(path, "w");
	if (!f) {
		errbuf_set(eb, -errno, "%s: cannot create: %s", path, strerror(errno));
		return NULL;
	}
	for (size_t i = 0; i < ncols; i++)
		csv_field(f, cols[i], i == 0);
	csv_end(f);
	return f;
}

static int ads_close(FILE *f, const char *dir, const char *name, struct errbuf *eb)
{
	int bad = ferror(f);
	if (fclose(f) || bad)
		return errbuf_set(eb, -EIO, "%s/%s.csv: write failed (disk full?)", dir, name);
	return 0;
}

static const char *const os_cols[] = { "accountNumber", "agentId", "osName", "osVersion", "cpuType",
				       "hostName", "hypervisor", "timestamp" };
static const char *const nic_cols[] = { "accountNumber", "agentId", "name", "macAddress", "family",
					"ipAddress", "gateway", "netMask", "timestamp" };
static const char *const proc_cols[] = { "accountNumber", "agentId", "agentAssignedProcessId",
					 "isSystem", "name", "cmdLine", "path", "agentProvidedTimeStamp" };
static const char *const conn_cols[] = { "accountNumber", "agentId", "sourceIp", "sourcePort",
					 "destinationIp", "destinationPort", "ipVersion",
					 "transportProtocol", "agentAssignedProcessId", "agentCreationDate" };
static const char *const perf_cols[] = {
	"accountNumber", "agentId", "totalDiskBytesReadPerSecond (Kbps)",
	"totalDiskBytesWrittenPerSecond (Kbps)", "totalDiskReadOpsPerSecond",
	"totalDiskWriteOpsPerSecond", "totalNetworkBytesReadPerSecond (Kbps)",
	"totalNetworkBytesWrittenPerSecond (Kbps)", "totalNumLogicalProcessors", "totalNumCores",
	"totalNumCpus", "totalNumDisks", "totalNumNetworkCards", "totalCpuUsagePct",
	"totalDiskSize (GB)", "totalDiskFreeSize (GB)", "totalRAM (MB)", "freeRAM (MB)", "timestamp",
};

static void ads_os(FILE *f, const struct estate_host *h)
{
	const Cairn__HostInfo *hi = info_of(h);
	if (!hi)
		return;
	char ts[40];
	ads_time(hi->collected_ms ? hi->collected_ms : h->facts->updated_ms, ts, sizeof(ts));
	csv_field(f, "", 1);
	csv_field(f, h->id, 0);
	csv_field(f, hi->os ? hi->os->pretty_name : "", 0);
	csv_field(f, hi->os ? hi->os->version_id : "", 0);
	csv_field(f, hi->architecture, 0);
	csv_field(f, *hi->fqdn ? hi->fqdn : hi->hostname, 0);
	csv_field(f, hi->virt && *hi->virt->hypervisor ? hi->virt->hypervisor : "none", 0);
	csv_field(f, ts, 0);
	csv_end(f);
}

static void netmask(const Cairn__IpAddress *a, char *out, size_t n)
{
	if (a->family == 4 && a->prefix_len <= 32) {
		uint32_t m = a->prefix_len ? 0xffffffffu << (32 - a->prefix_len) : 0;
		snprintf(out, n, "%u.%u.%u.%u", m >> 24, (m >> 16) & 255, (m >> 8) & 255, m & 255);
	} else {
		snprintf(out, n, "/%u", a->prefix_len);
	}
}

static const char *gateway_of(const Cairn__HostInfo *hi, const char *ifname, uint32_t family)
{
	for (size_t i = 0; i < hi->n_routes; i++) {
		const Cairn__Route *r = hi->routes[i];
		if (r->family == family && !strcmp(r->destination, "default") &&
		    (!*r->interface || !strcmp(r->interface, ifname)))
			return r->gateway;
	}
	return "";
}

static void ads_nics(FILE *f, const struct estate_host *h)
{
	const Cairn__HostInfo *hi = info_of(h);
	if (!hi)
		return;
	char ts[40], mask[64];
	ads_time(hi->collected_ms, ts, sizeof(ts));
	for (size_t i = 0; i < hi->n_nics; i++) {
		const Cairn__Nic *nic = hi->nics[i];
		if (!strcmp(nic->name, "lo") || nic->netns)
			continue;
		for (size_t j = 0; j < nic->n_addresses; j++) {
			const Cairn__IpAddress *a = nic->addresses[j];
			netmask(a, mask, sizeof(mask));
			csv_field(f, "", 1);
			csv_field(f, h->id, 0);
			csv_field(f, nic->name, 0);
			csv_field(f, nic->mac, 0);
			csv_field(f, a->family == 6 ? "IPv6" : "IPv4", 0);
			csv_field(f, a->address, 0);
			csv_field(f, gateway_of(hi, nic->name, a->family), 0);
			csv_field(f, mask, 0);
			csv_field(f, ts, 0);
			csv_end(f);
		}
	}
}

static void ads_procs(FILE *f, const struct estate_host *h)
{
	if (!h->procs)
		return;
	char ts[40];
	ads_time(h->procs->taken_ms, ts, sizeof(ts));
	for (size_t i = 0; i < h->procs->n_processes; i++) {
		const Cairn__Process *p = h->procs->processes[i];
		csv_field(f, "", 1);
		csv_field(f, h->id, 0);
		csv_field_u64(f, p->pid, 0);
		csv_field(f, p->uid < 1000 ? "true" : "false", 0);
		csv_field(f, p->name, 0);
		csv_field(f, p->cmdline, 0);
		csv_field(f, p->exe, 0);
		csv_field(f, ts, 0);
		csv_end(f);
	}
}

static const char *ip_version(const char *addr)
{
	return strchr(addr, ':') ? "IPv6" : "IPv4";
}

/* One host's series: windows (NULL: no per-window rows) and edges. */
struct ads_series {
	Cairn__PerfWindow **windows;
	size_t nwindows;
	bool have_windows;
	Cairn__Store__EdgeDay **edges;
	size_t nedges;
};

static void ads_conns(FILE *src, FILE *dst, const struct estate_host *h,
		      const struct ads_series *sr)
{
	for (size_t i = 0; i < sr->nedges; i++) {
		const Cairn__Edge *e = sr->edges[i]->edge;
		if (!e || (e->direction != CAIRN__DIRECTION__OUTBOUND &&
			   e->direction != CAIRN__DIRECTION__INBOUND))
			continue;
		bool out = e->direction == CAIRN__DIRECTION__OUTBOUND;
		FILE *f = out ? src : dst;
		char ts[40];
		ads_time(e->first_seen_ms, ts, sizeof(ts));
		csv_field(f, "", 1);
		csv_field(f, h->id, 0);
		/* source = the client side, destination = the server side */
		csv_field(f, out ? e->local_address : e->remote_address, 0);
		if (out ? e->local_port : e->remote_port)
			csv_field_u64(f, out ? e->local_port : e->remote_port, 0);
		else
			csv_field(f, "", 0);
		csv_field(f, out ? e->remote_address : e->local_address, 0);
		csv_field_u64(f, out ? e->remote_port : e->local_port, 0);
		csv_field(f, ip_version(e->remote_address), 0);
		csv_field(f, e->protocol == CAIRN__PROTOCOL__UDP ? "UDP" : "TCP", 0);
		if (e->pid)
			csv_field_u64(f, e->pid, 0);
		else
			csv_field(f, "", 0);
		csv_field(f, ts, 0);
		csv_end(f);
	}
}

static unsigned count_disks(const Cairn__HostInfo *hi)
{
	unsigned n = 0;
	for (size_t i = 0; hi && i < hi->n_disks; i++)
		n += strcmp(hi->disks[i]->kind, "loop") != 0;
	return n;
}

static unsigned count_cards(const Cairn__HostInfo *hi)
{
	unsigned n = 0;
	for (size_t i = 0; hi && i < hi->n_nics; i++)
		n += !hi->nics[i]->virtual_ && !hi->nics[i]->netns;
	return n;
}

static void perf_row(FILE *f, const struct estate_host *h, double rd, double wr, double rops,
		     double wops, double rx, double tx, double cpu, double free_gb, double free_ram,
		     int64_t ts_ms)
{
	const Cairn__HostInfo *hi = info_of(h);
	uint64_t alloc, used, largest;
	rules_storage(h, &alloc, &used, &largest);
	char ts[40];
	ads_time(ts_ms, ts, sizeof(ts));
	csv_field(f, "", 1);
	csv_field(f, h->id, 0);
	num2(f, rd / 1024, true);
	num2(f, wr / 1024, true);
	num2(f, rops, true);
	num2(f, wops, true);
	num2(f, rx / 1024, true);
	num2(f, tx / 1024, true);
	count(f, hi ? hi->cpu_threads : h->cpu_threads);
	count(f, hi ? hi->cpu_cores : 0);
	count(f, hi ? hi->cpu_sockets : 0);
	count(f, count_disks(hi));
	count(f, count_cards(hi));
	/* unknown is empty, never 0 (NAN arguments are unknown) */
	num2(f, cpu, true);
	num2(f, alloc / GIB, alloc > 0);
	num2(f, free_gb, alloc > 0);
	num2(f, h->mem_total / MIB, h->mem_total > 0);
	num2(f, free_ram, true);
	csv_field(f, ts, 0);
	csv_end(f);
}

/* A window's average, or missing when the window does not carry the metric
 * (0 where device values are summed, NAN where the value is shown as is). */
static double stat_avg(const Cairn__Stat *s, double missing)
{
	return s ? s->avg : missing;
}

/* Whether mount is one of the host's local filesystems that move with it. */
static bool real_mount(const struct estate_host *h, const char *mount)
{
	const Cairn__HostInfo *hi = info_of(h);
	for (size_t i = 0; hi && i < hi->n_filesystems; i++)
		if (!strcmp(hi->filesystems[i]->mountpoint, mount))
			return rules_fstype_real(hi->filesystems[i]->fstype);
	return false;
}

static void ads_perf(FILE *f, const struct estate_host *h, const struct ads_series *sr)
{
	uint64_t alloc, used, largest;
	rules_storage(h, &alloc, &used, &largest);
	if (!sr->have_windows) {
		if (!h->windows)
			return;
		perf_row(f, h, h->stat[ESTATE_DISK_READ_BPS].avg, h->stat[ESTATE_DISK_WRITE_BPS].avg,
			 h->stat[ESTATE_DISK_READ_OPS].avg, h->stat[ESTATE_DISK_WRITE_OPS].avg,
			 h->stat[ESTATE_NET_RX_BPS].avg, h->stat[ESTATE_NET_TX_BPS].avg,
			 h->stat[ESTATE_CPU_PCT].avg, (alloc - used) / GIB,
			 h->mem_total > 0 ? (h->mem_total - h->stat[ESTATE_MEM_USED].avg) / MIB : NAN,
			 h->last_ms);
		return;
	}
	for (size_t i = 0; i < sr->nwindows; i++) {
		const Cairn__PerfWindow *w = sr->windows[i];
		double rd = 0, wr = 0, rops = 0, wops = 0, rx = 0, tx = 0, fs_used = 0;
		for (size_t k = 0; k < w->n_disks; k++) {
			rd += stat_avg(w->disks[k]->read_bytes_ps, 0);
			wr += stat_avg(w->disks[k]->write_bytes_ps, 0);
			rops += stat_avg(w->disks[k]->read_ops_ps, 0);
			wops += stat_avg(w->disks[k]->write_ops_ps, 0);
		}
		for (size_t k = 0; k < w->n_nics; k++) {
			if (!strcmp(w->nics[k]->name, "lo"))
				continue;
			rx += stat_avg(w->nics[k]->rx_bytes_ps, 0);
			tx += stat_avg(w->nics[k]->tx_bytes_ps, 0);
		}
		size_t nreal = 0;
		for (size_t k = 0; k < w->n_filesystems; k++) {
			if (!real_mount(h, w->filesystems[k]->mountpoint))
				continue;
			fs_used += stat_avg(w->filesystems[k]->used_bytes, 0);
			nreal++;
		}
		double free_gb = nreal ? (alloc - fs_used) / GIB : (alloc - used) / GIB;
		if (free_gb < 0)
			free_gb = 0;
		perf_row(f, h, rd, wr, rops, wops, rx, tx, stat_avg(w->cpu_busy_pct, NAN), free_gb,
			 stat_avg(w->mem_available_bytes, NAN) / MIB, w->window_end_ms);
	}
}

int export_ads_csv(const struct export_input *in, const char *dir, struct errbuf *eb)
{
	int rc = dir_make(dir, 0755, eb);
	if (rc)
		return rc;
	static const char *const names[] = { "osInfo", "networkInterface", "process",
					      "sourceProcessConnection",
					      "destinationProcessConnection", "systemPerformance" };
	FILE *f[6] = { 0 };
	f[0] = ads_open(dir, names[0], os_cols, ARRAY_SIZE(os_cols), eb);
	f[1] = f[0] ? ads_open(dir, names[1], nic_cols, ARRAY_SIZE(nic_cols), eb) : NULL;
	f[2] = f[1] ? ads_open(dir, names[2], proc_cols, ARRAY_SIZE(proc_cols), eb) : NULL;
	f[3] = f[2] ? ads_open(dir, names[3], conn_cols, ARRAY_SIZE(conn_cols), eb) : NULL;
	f[4] = f[3] ? ads_open(dir, names[4], conn_cols, ARRAY_SIZE(conn_cols), eb) : NULL;
	f[5] = f[4] ? ads_open(dir, names[5], perf_cols, ARRAY_SIZE(perf_cols), eb) : NULL;
	if (f[5]) {
		for (size_t i = 0; i < in->estate->n && !rc; i++) {
			const struct estate_host *h = &in->estate->hosts[i];
			struct ads_series sr = { 0 };
			if (in->series) {
				rc = in->series->load(in->series->ctx, i, &sr.windows, &sr.nwindows,
						      &sr.edges, &sr.nedges, eb);
				if (rc)
					break;
				sr.have_windows = true;
			} else {
				sr.have_windows = in->windows != NULL;
				if (in->windows) {
					sr.windows = in->windows[i];
					sr.nwindows = in->nwindows[i];
				}
				if (in->edges) {
					sr.edges = in->edges[i];
					sr.nedges = in->nedges[i];
				}
			}
			ads_os(f[0], h);
			ads_nics(f[1], h);
			ads_procs(f[2], h);
			ads_conns(f[3], f[4], h, &sr);
			ads_perf(f[5], h, &sr);
			if (in->series)
				in->series->release(in->series->ctx, i);
			if (in->progress)
				in->progress(i + 1, in->estate->n, in->progress_arg);
		}
	} else {
		rc = -EIO;
	}
	for (int i = 0; i < 6; i++)
		if (f[i]) {
			int crc = ads_close(f[i], dir, names[i], rc ? NULL : eb);
			if (!rc)
				rc = crc;
		}
	return rc;
}

/* ---------------------------------------------------------------- json */

static json_t *pb(const void *msg)
{
	if (!msg)
		return json_null();
	json_t *j = pbjson_from_message((const ProtobufCMessage *)msg, 0);
	return j ? j : json_null();
}

static json_t *stat_json(const struct estate_stat *s)
{
	return json_pack("{s:f, s:f, s:f}", "avg", s->avg, "max", s->max, "pctl", s->pctl);
}

static json_t *host_json(const struct export_index *ix, const struct estate_host *h)
{
	static const char *const metric_names[ESTATE_NMETRICS] = {
		"cpu_pct", "cpu_vcpu", "mem_used_bytes", "disk_read_bytes_ps", "disk_write_bytes_ps",
		"disk_read_ops_ps", "disk_write_ops_ps", "disk_iops", "disk_bytes_ps",
		"net_rx_bytes_ps", "net_tx_bytes_ps",
	};
	json_t *perf = json_object();
	for (int m = 0; m < ESTATE_NMETRICS; m++)
		json_object_set_new(perf, metric_names[m], stat_json(&h->stat[m]));
	json_t *pk = json_array();
	for (size_t i = 0; i < h->npkgs; i++)
		json_array_append_new(pk, pb(h->pkgs[i]));
	const Cairn__Store__App *app = app_of(ix, h->id);
	const Cairn__Store__MigrationStatus *st = status_of(ix, h->id);
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:o}, s:o, s:o, s:o}",
			 "id", h->id, "name", h->name, "app", app ? app->id : "",
			 "wave", (json_int_t)(app ? wave_of(ix, app->id) : 0),
			 "facts", h->facts ? pb(h->facts->info) : json_null(),
			 "packages", pk, "processes", pb(h->procs), "listeners", pb(h->listeners),
			 "perf_period", "windows", (json_int_t)h->windows, "first_ms", (json_int_t)h->first_ms,
			 "last_ms", (json_int_t)h->last_ms, "metrics", perf,
			 "readiness", pb(readiness_of(ix, h->id)), "sizing", pb(sizing_of(ix, h->id)),
			 "status", pb(st));
	if (o && h->import) {
		/* an imported server: where from, as docs/import.md stores it */
		json_object_set_new(o, "source", json_string(h->import->merged ? "agent+import" : "import"));
		json_object_set_new(o, "import", pb(h->import));
		json_object_set_new(o, "utilization_imported", json_boolean(h->import_stats));
	}
	return o;
}

/* Writes "key": value (value's reference is stolen) as one member of the
 * top-level object; values are dumped one at a time so that memory stays at
 * one host's worth however large the estate. */
static int member(FILE *f, const char *key, json_t *value, bool first)
{
	if (!value)
		return -ENOMEM;
	fprintf(f, "%s\n  \"%s\": ", first ? "" : ",", key);
	int rc = json_dumpf(value, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	json_decref(value);
	return rc ? -EIO : 0;
}

int export_json(const struct export_input *in, FILE *f, struct errbuf *eb)
{
	const Cairn__Store__Snapshot *s = in->snap;
	struct export_index ix;
	if (export_index_build(in, &ix))
		return errbuf_set(eb, -ENOMEM, "json export: out of memory");
	json_t *notes = json_array();
	for (size_t i = 0; notes && i < s->n_plan_notes; i++)
		json_array_append_new(notes, json_string(s->plan_notes[i]));
	putc_unlocked('{', f);
	int rc = member(f, "schema", json_string("cairn-export/1"), true);
	if (!rc)
		rc = member(f, "generated_ms", json_integer(in->generated_ms), false);
	if (!rc)
		rc = member(f, "snapshot",
			    json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:o}", "version",
				      (json_int_t)s->version, "computed_ms", (json_int_t)s->computed_ms,
				      "plan_since_ms", (json_int_t)s->plan_since_ms, "sizing_mode",
				      s->sizing_mode, "catalog_as_of", s->catalog_as_of, "lifecycle_as_of",
				      s->lifecycle_as_of, "ebs_as_of", rules_plan.ebs_as_of, "notes", notes),
			    false);
	if (!rc) {
		/* hosts one by one */
		fputs(",\n  \"hosts\": [", f);
		for (size_t i = 0; !rc && i < in->estate->n; i++) {
			fputs(i ? ",\n" : "\n", f);
			json_t *h = host_json(&ix, &in->estate->hosts[i]);
			rc = h ? json_dumpf(h, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : -ENOMEM;
			json_decref(h);
			if (in->progress)
				in->progress(i + 1, in->estate->n, in->progress_arg);
		}
		fputs("\n  ]", f);
	}
	if (!rc)
		rc = member(f, "map", s->map ? pb(s->map) : json_object(), false);
	if (!rc) {
		json_t *apps = json_array();
		for (size_t i = 0; apps && i < s->n_apps; i++) {
			char key[300];
			snprintf(key, sizeof(key), "app:%s", s->apps[i]->id);
			json_t *a = pb(s->apps[i]);
			json_object_set_new(a, "wave", json_integer(wave_of(&ix, s->apps[i]->id)));
			json_object_set_new(a, "readiness", pb(readiness_of(&ix, s->apps[i]->id)));
			json_object_set_new(a, "status", pb(status_of(&ix, key)));
			json_array_append_new(apps, a);
		}
		rc = member(f, "apps", apps, false);
	}
	if (!rc) {
		json_t *waves = json_array();
		for (size_t i = 0; waves && i < s->n_waves; i++)
			json_array_append_new(waves, pb(s->waves[i]));
		rc = member(f, "waves", waves, false);
	}
	if (!rc) {
		json_t *statuses = json_array();
		for (size_t i = 0; statuses && i < in->nstatuses; i++)
			json_array_append_new(statuses, pb(in->statuses[i]));
		rc = member(f, "statuses", statuses, false);
	}
	fputs("\n}\n", f);
	export_index_free(&ix);
	if (rc || ferror(f))
		return errbuf_set(eb, rc == -ENOMEM ? -ENOMEM : -EIO, "json export: %s",
				  rc == -ENOMEM ? "out of memory" : "write failed (disk full?)");
	return 0;
}

/* ---------------------------------------------------------------- dot */

/* Clusters say their wave: "shop (wave 2)". */
static bool wave_label(const Cairn__Store__App *app, char *buf, size_t n, void *arg)
{
	const struct export_index *ix = arg;
	unsigned w = wave_of(ix, app->id);
	if (!w)
		return false;
	snprintf(buf, n, "%s (wave %u)", app->name, w);
	return true;
}

int export_dot(const struct export_input *in, FILE *f, struct errbuf *eb)
{
	const Cairn__Store__Snapshot *s = in->snap;
	Cairn__Store__DepMap empty = CAIRN__STORE__DEP_MAP__INIT;
	const Cairn__Store__DepMap *m = s->map ? s->map : &empty;
	Cairn__Store__Snapshot view = *s;
	view.map = (Cairn__Store__DepMap *)m;
	struct export_index ix;
	if (export_index_build(in, &ix))
		return errbuf_set(eb, -ENOMEM, "dot export: out of memory");
	struct dot_opts o = { wave_label, &ix };
	/* without shared infrastructure: its nodes and every edge touching one */
	bool *keep = NULL;
	Cairn__Store__MapEdge **edges = m->host_edges;
	size_t ne = m->n_host_edges;
	if (in->without_infra) {
		keep = calloc(m->n_nodes + 1, sizeof(bool));
		edges = calloc(ne + 1, sizeof(*edges));
		if (!keep || !edges) {
			free(keep);
			free(edges);
			export_index_free(&ix);
			return errbuf_set(eb, -ENOMEM, "dot export: out of memory");
		}
		struct read_nodes rn = { 0 };
		read_nodes_index(&rn, m);
		for (size_t i = 0; i < m->n_nodes; i++)
			keep[i] = !m->nodes[i]->infrastructure;
		ne = 0;
		for (size_t i = 0; i < m->n_host_edges; i++) {
			const Cairn__Store__MapNode *a = read_nodes_get(&rn, m->host_edges[i]->from);
			const Cairn__Store__MapNode *b = read_nodes_get(&rn, m->host_edges[i]->to);
			if (!(a && a->infrastructure) && !(b && b->infrastructure))
				edges[ne++] = m->host_edges[i];
		}
		read_nodes_free(&rn);
	}
	int rc = dot_write(f, &view, edges, ne, keep, &o);
	if (in->without_infra) {
		free(keep);
		free(edges);
	}
	export_index_free(&ix);
	if (rc == -ENOMEM)
		return errbuf_set(eb, rc, "dot export: out of memory");
	if (rc)
		return errbuf_set(eb, -EIO, "dot export: write failed (disk full?)");
	return 0;
}
