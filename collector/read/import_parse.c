/* Parsing import files (mhub-csv, RVTools CSV) into ImportFacts rows; see
 * import.h and docs/import.md. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "addr.h"
#include "csv.h"
#include "imports.h"
#include "import.h"
#include "tags.h"

/* ------------------------------------------------------------ results */

static int push_str(char ***v, size_t *n, char *s)
{
	if (!s)
		return -ENOMEM;
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	*v = nv;
	nv[(*n)++] = s;
	return 0;
}

__attribute__((format(printf, 1, 2)))
static char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *s = NULL;
	if (vasprintf(&s, f, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static void row_free(struct import_row *r)
{
	if (r->facts)
		cairn__store__import_facts__free_unpacked(r->facts, NULL);
	for (size_t i = 0; i < r->nraw; i++)
		cairn__store__import_field__free_unpacked(r->raw[i], NULL);
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

void import_file_free(struct import_file *f)
{
	for (size_t i = 0; i < f->n; i++)
		row_free(&f->rows[i]);
	free(f->rows);
	for (size_t i = 0; i < f->nerrors; i++)
		free(f->errors[i]);
	free(f->errors);
	for (size_t i = 0; i < f->nnotes; i++)
		free(f->notes[i]);
	free(f->notes);
	free(f->path);
	free(f->rows_file);
	memset(f, 0, sizeof(*f));
}

static int push_row(struct import_file *f, struct import_row *r)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		struct import_row *v = realloc(f->rows, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		f->rows = v;
		f->cap = cap;
	}
	f->rows[f->n++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

/* ------------------------------------------------------------ cells */

/* One cell's check failed: the message for FILE:LINE: column: reason. */
struct cell_err {
	const char *column;
	char reason[300];
};

__attribute__((format(printf, 3, 4)))
static int bad(struct cell_err *e, const char *column, const char *f, ...)
{
	e->column = column;
	va_list ap;
	va_start(ap, f);
	vsnprintf(e->reason, sizeof(e->reason), f, ap);
	va_end(ap);
	return -EINVAL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

static int set_str(char **dst, const char *s)
{
	char *d = strdup(s);
	if (!d)
		return -ENOMEM;
	if (*dst && *dst != protobuf_c_empty_string)
		free(*dst);
	*dst = d;
	return 0;
}

static int add_str(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return 0; /* a list names each value once */
	return push_str(v, n, strdup(s));
}

/* A number: finite, >= 0, at most max. *have = false for an empty cell. */
static int parse_num(const char *s, const char *column, double max, double *out, bool *have,
		     struct cell_err *e)
{
	*have = false;
	*out = 0;
	if (!*s)
		return 0;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (end == s || *end || errno == ERANGE || !isfinite(v))
		return bad(e, column, "'%.40s' is not a number", s);
	if (v < 0)
		return bad(e, column, "%.40s is negative", s);
	if (v > max)
		return bad(e, column, "%.40s is above %.0f", s, max);
	/* two decimals, as the export writes them: a round trip gives the same */
	*out = round(v * 100) / 100;
	*have = true;
	return 0;
}

static int parse_count(const char *s, const char *column, uint32_t *out, struct cell_err *e)
{
	double v;
	bool have;
	int rc = parse_num(s, column, 1e6, &v, &have, e);
	if (rc)
		return rc;
	if (have && v != floor(v))
		return bad(e, column, "'%.40s' is not a whole number", s);
	*out = have ? (uint32_t)v : 0;
	return 0;
}

/* MAC in any of the usual spellings -> aa:bb:cc:dd:ee:ff. */
static int norm_mac(const char *s, char out[18])
{
	char hex[13];
	size_t n = 0;
	for (const char *p = s; *p; p++) {
		if (isxdigit((unsigned char)*p)) {
			if (n == 12)
				return -EINVAL;
			hex[n++] = (char)tolower((unsigned char)*p);
		} else if (*p != ':' && *p != '-' && *p != '.') {
			return -EINVAL;
		}
	}
	if (n != 12)
		return -EINVAL;
	snprintf(out, 18, "%.2s:%.2s:%.2s:%.2s:%.2s:%.2s", hex, hex + 2, hex + 4, hex + 6, hex + 8,
		 hex + 10);
	return 0;
}

/* Splits s at any of seps into trimmed non-empty items, calling fn on each. */
static int split(char *s, const char *seps, int (*fn)(char *item, void *arg), void *arg)
{
	char *save = NULL;
	for (char *t = strtok_r(s, seps, &save); t; t = strtok_r(NULL, seps, &save)) {
		t = trim(t);
		if (!*t)
			continue;
		int rc = fn(t, arg);
		if (rc)
			return rc;
	}
	return 0;
}

struct list_ctx {
	Cairn__Store__ImportFacts *f;
	const char *column;
	struct cell_err *e;
};

static int ip_item(char *t, void *arg)
{
	struct list_ctx *c = arg;
	uint8_t a[16];
	if (addr_parse(t, a))
		return bad(c->e, c->column, "'%.60s' is not an IP address", t);
	char canon[64];
	addr_format(a, canon, sizeof(canon));
	if (c->f->n_ips >= 32)
		return bad(c->e, c->column, "more than 32 addresses");
	return add_str(&c->f->ips, &c->f->n_ips, canon);
}

static int mac_item(char *t, void *arg)
{
	struct list_ctx *c = arg;
	char mac[18];
	if (norm_mac(t, mac))
		return bad(c->e, c->column, "'%.60s' is not a MAC address (aa:bb:cc:dd:ee:ff)", t);
	if (c->f->n_macs >= 16)
		return bad(c->e, c->column, "more than 16 MAC addresses");
	return add_str(&c->f->macs, &c->f->n_macs, mac);
}

static int app_item(char *t, void *arg)
{
	struct list_ctx *c = arg;
	if (strlen(t) > 200)
		return bad(c->e, c->column, "application name longer than 200 bytes");
	return add_str(&c->f->applications, &c->f->n_applications, t);
}

/* Keys cairn's own export writes into Tags: derived, recomputed, not facts. */
static bool derived_tag(const char *key)
{
	return !strcmp(key, "source") || !strcmp(key, "readiness") || !strcmp(key, "strategy") ||
	       !strcmp(key, "instance");
}

static int tag_item(char *t, void *arg)
{
	struct list_ctx *c = arg;
	size_t k = strcspn(t, ":=");
	if (!t[k])
		return bad(c->e, c->column, "'%.60s' is not key:value or key=value", t);
	struct tag_kv kv;
	if (k > TAGS_KEY_MAX || strlen(t + k + 1) > TAGS_VALUE_MAX)
		return bad(c->e, c->column, "tag '%.40s' too long (key %d, value %d bytes at most)", t,
			   TAGS_KEY_MAX, TAGS_VALUE_MAX);
	snprintf(kv.key, sizeof(kv.key), "%.*s", (int)k, t);
	snprintf(kv.value, sizeof(kv.value), "%s", t + k + 1);
	struct errbuf eb = { "" };
	if (tags_check(&kv, &eb))
		return bad(c->e, c->column, "%s", eb.msg);
	if (derived_tag(kv.key))
		return 0;
	char *s = fmt("%s=%s", kv.key, kv.value);
	if (!s)
		return -ENOMEM;
	/* one value per key: the last one in the cell */
	for (size_t i = 0; i < c->f->n_tags; i++) {
		size_t kl = strcspn(c->f->tags[i], "=");
		if (kl == strlen(kv.key) && !strncmp(c->f->tags[i], kv.key, kl)) {
			free(c->f->tags[i]);
			c->f->tags[i] = s;
			return 0;
		}
	}
	if (c->f->n_tags >= TAGS_PER_SUBJECT) {
		free(s);
		return bad(c->e, c->column, "more than %d tags", TAGS_PER_SUBJECT);
	}
	return push_str(&c->f->tags, &c->f->n_tags, s);
}

static int parse_wave(const char *s, const char *column, uint32_t *out, struct cell_err *e)
{
	*out = 0;
	if (!*s)
		return 0;
	const char *p = s;
	if (!strncasecmp(p, "wave", 4))
		p += 4;
	while (*p == ' ' || *p == '-' || *p == '_')
		p++;
	char *end;
	unsigned long v = strtoul(p, &end, 10);
	if (end == p || *trim(end) || v == 0 || v > 1000)
		return bad(e, column, "'%.40s' is not a wave number (1-1000, or 'Wave N')", s);
	*out = (uint32_t)v;
	return 0;
}

/* A version from an OS product name when no version column gave one:
 * "Ubuntu 22.04.4 LTS" -> "22.04.4", "Red Hat Enterprise Linux 8 (64-bit)" -> "8". */
static int version_from_name(Cairn__Store__ImportFacts *f)
{
	if (*f->os_version)
		return 0;
	for (const char *p = f->os_name; *p; p++) {
		if (!isdigit((unsigned char)*p) || (p > f->os_name && !isspace((unsigned char)p[-1])))
			continue;
		size_t n = strspn(p, "0123456789.");
		if (p[n] && !isspace((unsigned char)p[n]))
			continue;
		char v[32];
		snprintf(v, sizeof(v), "%.*s", (int)(n < 31 ? n : 31), p);
		return set_str(&f->os_version, v);
	}
	return 0;
}

/* ------------------------------------------------------------ columns */

enum col {
	C_NONE, C_EXTERNAL_ID, C_SMBIOS, C_IP, C_MAC, C_HOSTNAME, C_MOREF, C_VCENTER, C_VMNAME,
	C_OS_NAME, C_OS_VERSION, C_SOCKETS, C_CORES, C_THREADS, C_RAM, C_RAM_AVG, C_RAM_MAX,
	C_CPU_AVG, C_CPU_MAX, C_DR_AVG, C_DR_MAX, C_DW_AVG, C_DW_MAX, C_DRO_AVG, C_DRO_MAX,
	C_DWO_AVG, C_DWO_MAX, C_NR_AVG, C_NR_MAX, C_NW_AVG, C_NW_MAX, C_APPS, C_WAVE, C_TAGS,
	C_SERVER_ID,
	/* RVTools vInfo */
	C_RV_VM, C_RV_POWER, C_RV_TEMPLATE, C_RV_CPUS, C_RV_MEMORY, C_RV_PROVISIONED, C_RV_INUSE,
	C_RV_OS_CONFIG, C_RV_OS_TOOLS, C_RV_DNS, C_RV_PRIMARY_IP, C_RV_VM_UUID, C_RV_SMBIOS,
	C_RV_HOST, C_RV_CLUSTER, C_RV_DATACENTER, C_RV_ANNOTATION, C_RV_VM_ID, C_RV_SDK,
	/* RVTools vCPU, vMemory, vDisk, vNetwork */
	C_RV_SOCKETS, C_RV_CORES_PS, C_RV_SIZE_MIB, C_RV_DISK, C_RV_CAPACITY, C_RV_MAC,
	C_RV_IPV4, C_RV_IPV6,
	C_NCOLS
};

struct col_name {
	const char *name;   /* compared without case, '.', '_', ' ' and '-' */
	enum col col;
};

static const struct col_name mhub_cols[] = {
	{ "ExternalId", C_EXTERNAL_ID }, { "SMBiosId", C_SMBIOS }, { "IPAddress", C_IP },
	{ "MACAddress", C_MAC }, { "HostName", C_HOSTNAME }, { "VMware.MoRefId", C_MOREF },
	{ "VMware.VCenterId", C_VCENTER }, { "VMware.VMName", C_VMNAME }, { "OS.Name", C_OS_NAME },
	{ "OS.Version", C_OS_VERSION }, { "CPU.NumberOfProcessors", C_SOCKETS },
	{ "CPU.NumberOfCores", C_CORES }, { "CPU.NumberOfLogicalCores", C_THREADS },
	{ "RAM.TotalSizeInMB", C_RAM }, { "RAM.UsedSizeInMB.Avg", C_RAM_AVG },
	{ "RAM.UsedSizeInMB.Max", C_RAM_MAX }, { "CPU.UsagePct.Avg", C_CPU_AVG },
	{ "CPU.UsagePct.Max", C_CPU_MAX }, { "DiskReadsPerSecondInKB.Avg", C_DR_AVG },
	{ "DiskReadsPerSecondInKB.Max", C_DR_MAX }, { "DiskWritesPerSecondInKB.Avg", C_DW_AVG },
	{ "DiskWritesPerSecondInKB.Max", C_DW_MAX }, { "DiskReadsOpsPerSecond.Avg", C_DRO_AVG },
	{ "DiskReadsOpsPerSecond.Max", C_DRO_MAX }, { "DiskWritesOpsPerSecond.Avg", C_DWO_AVG },
	{ "DiskWritesOpsPerSecond.Max", C_DWO_MAX }, { "NetworkReadsPerSecondInKB.Avg", C_NR_AVG },
	{ "NetworkReadsPerSecondInKB.Max", C_NR_MAX }, { "NetworkWritesPerSecondInKB.Avg", C_NW_AVG },
	{ "NetworkWritesPerSecondInKB.Max", C_NW_MAX }, { "Applications", C_APPS },
	{ "ApplicationWave", C_WAVE }, { "Tags", C_TAGS }, { "ServerId", C_SERVER_ID },
	{ "SMBIOS.Id", C_SMBIOS }, { "IPAddresses", C_IP }, { "MACAddresses", C_MAC },
};

static const struct col_name rv_cols[] = {
	{ "VM", C_RV_VM }, { "Powerstate", C_RV_POWER }, { "Template", C_RV_TEMPLATE },
	{ "CPUs", C_RV_CPUS }, { "Memory", C_RV_MEMORY }, { "Provisioned MiB", C_RV_PROVISIONED },
	{ "Provisioned MB", C_RV_PROVISIONED }, { "In Use MiB", C_RV_INUSE }, { "In Use MB", C_RV_INUSE },
	{ "OS according to the configuration file", C_RV_OS_CONFIG },
	{ "OS according to the VMware Tools", C_RV_OS_TOOLS }, { "DNS Name", C_RV_DNS },
	{ "Primary IP Address", C_RV_PRIMARY_IP }, { "VM UUID", C_RV_VM_UUID },
	{ "SMBIOS UUID", C_RV_SMBIOS }, { "Host", C_RV_HOST }, { "Cluster", C_RV_CLUSTER },
	{ "Datacenter", C_RV_DATACENTER }, { "Annotation", C_RV_ANNOTATION }, { "VM ID", C_RV_VM_ID },
	{ "VI SDK Server", C_RV_SDK }, { "Sockets", C_RV_SOCKETS }, { "Cores p/s", C_RV_CORES_PS },
	{ "Size MiB", C_RV_SIZE_MIB }, { "Size MB", C_RV_SIZE_MIB }, { "Disk", C_RV_DISK },
	{ "Capacity MiB", C_RV_CAPACITY }, { "Capacity MB", C_RV_CAPACITY },
	{ "Mac Address", C_RV_MAC }, { "IPv4 Address", C_RV_IPV4 }, { "IPv6 Address", C_RV_IPV6 },
	{ "Adapter", C_NONE }, { "Network", C_NONE },
};

/* The template's name of a column, for messages about a column the file lacks. */
static const char *mhub_name(enum col c)
{
	for (size_t i = 0; i < sizeof(mhub_cols) / sizeof(mhub_cols[0]); i++)
		if (mhub_cols[i].col == c)
			return mhub_cols[i].name;
	return "?";
}

static void fold_name(const char *s, char *out, size_t n)
{
	size_t o = 0;
	for (; *s && o + 1 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '.' || c == '_' || c == ' ' || c == '-' || c == '/')
			continue;
		out[o++] = (char)tolower(c);
	}
	out[o] = 0;
}

struct header {
	enum col *cols;     /* per file column */
	char **names;       /* as written */
	size_t n;
	int at[C_NCOLS];    /* file column of each known column, -1 */
};

static void header_free(struct header *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->names[i]);
	free(h->names);
	free(h->cols);
	memset(h, 0, sizeof(*h));
}

/* Maps the header record; unknown columns become notes. */
static int header_read(const struct csv_record *rec, const struct col_name *known, size_t nknown,
		       const char *file, bool quiet, struct import_file *out, struct header *h)
{
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < C_NCOLS; i++)
		h->at[i] = -1;
	if (rec->n == 1 && (strchr(rec->f[0], ';') || strchr(rec->f[0], '\t')))
		return -EPROTO; /* told by the caller: a semicolon- or tab-separated file */
	h->cols = calloc(rec->n + 1, sizeof(*h->cols));
	h->names = calloc(rec->n + 1, sizeof(*h->names));
	if (!h->cols || !h->names)
		return -ENOMEM;
	h->n = rec->n;
	char unknown[512] = "";
	size_t nunknown = 0;
	for (size_t i = 0; i < rec->n; i++) {
		const char *name = rec->f[i];
		if (i == 0 && !strncmp(name, "\xEF\xBB\xBF", 3))
			name += 3;
		if (!(h->names[i] = strdup(trim((char *)name))))
			return -ENOMEM;
		char a[128], b[128];
		fold_name(name, a, sizeof(a));
		h->cols[i] = C_NCOLS;
		for (size_t k = 0; k < nknown; k++) {
			fold_name(known[k].name, b, sizeof(b));
			if (!strcmp(a, b)) {
				h->cols[i] = known[k].col;
				break;
			}
		}
		if (h->cols[i] == C_NCOLS) {
			h->cols[i] = C_NONE;
			if (*h->names[i] && nunknown++ < 8) {
				size_t u = strlen(unknown);
				snprintf(unknown + u, sizeof(unknown) - u, "%s'%.40s'", u ? ", " : "", h->names[i]);
			}
		} else if (h->cols[i] != C_NONE && h->at[h->cols[i]] < 0) {
			h->at[h->cols[i]] = (int)i;
		}
	}
	if (nunknown && quiet)
		return 0; /* RVTools writes ~90 columns per tab: cairn uses the ones docs/import.md lists */
	if (nunknown)
		return push_str(&out->notes, &out->nnotes,
				fmt("%s: %zu column(s) not known, ignored: %s%s", file, nunknown,
				    unknown, nunknown > 8 ? ", ..." : ""));
	return 0;
}

static const char *cell(const struct header *h, const struct csv_record *rec, enum col c)
{
	int i = h->at[c];
	return i >= 0 && (size_t)i < rec->n ? rec->f[i] : "";
}

static const char *col_label(const struct header *h, enum col c, const char *fallback)
{
	int i = h->at[c];
	return i >= 0 ? h->names[i] : fallback;
}

/* Every cell within IMPORT_FIELD_MAX, trimmed in place; the row's raw cells. */
static int row_cells(const struct header *h, struct csv_record *rec, struct import_row *row,
		     struct cell_err *e)
{
	for (size_t i = 0; i < rec->n; i++) {
		char *t = trim(rec->f[i]);
		if (t != rec->f[i])
			memmove(rec->f[i], t, strlen(t) + 1);
		if (strlen(rec->f[i]) > IMPORT_FIELD_MAX)
			return bad(e, i < h->n ? h->names[i] : "?", "longer than %d bytes",
				   IMPORT_FIELD_MAX);
		if (!*rec->f[i] || i >= h->n)
			continue;
		Cairn__Store__ImportField **v = realloc(row->raw, (row->nraw + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		row->raw = v;
		Cairn__Store__ImportField *fld = malloc(sizeof(*fld));
		if (!fld)
			return -ENOMEM;
		cairn__store__import_field__init(fld);
		fld->name = strdup(h->names[i]);
		fld->value = strdup(rec->f[i]);
		row->raw[row->nraw++] = fld;
		if (!fld->name || !fld->value)
			return -ENOMEM;
	}
	return 0;
}

static Cairn__Store__ImportFigure *figure(const char *avg_s, const char *avg_col, const char *max_s,
					  const char *max_col, double max, struct cell_err *e, int *rc)
{
	double a, m;
	bool ha, hm;
	if ((*rc = parse_num(avg_s, avg_col, max, &a, &ha, e)) ||
	    (*rc = parse_num(max_s, max_col, max, &m, &hm, e)))
		return NULL;
	if (!ha && !hm)
		return NULL;
	if (ha && hm && a > m) {
		*rc = bad(e, avg_col, "average %.2f above the maximum %.2f", a, m);
		return NULL;
	}
	Cairn__Store__ImportFigure *f = malloc(sizeof(*f));
	if (!f) {
		*rc = -ENOMEM;
		return NULL;
	}
	cairn__store__import_figure__init(f);
	f->avg = a, f->max = m, f->has_avg = ha, f->has_max = hm;
	return f;
}

static int hostname_set(Cairn__Store__ImportFacts *f, const char *name, const char *column,
			struct cell_err *e)
{
	if (!*name)
		return 0;
	if (strlen(name) > 253)
		return bad(e, column, "host name longer than 253 bytes");
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return bad(e, column, "'%.60s' is not a host name (letters, digits, '-', '.', '_')",
				   name);
	char shortname[256];
	size_t n = strcspn(name, ".");
	snprintf(shortname, sizeof(shortname), "%.*s", (int)n, name);
	int rc = set_str(&f->hostname, shortname);
	if (!rc && name[n])
		rc = set_str(&f->fqdn, name);
	return rc;
}

/* One mhub-csv row into facts. */
static int mhub_facts(const struct header *h, const struct csv_record *rec,
		      struct import_row *row, struct cell_err *e)
{
	Cairn__Store__ImportFacts *f = row->facts;
	int rc;
#define CELL(c) cell(h, rec, (c))
#define LABEL(c, d) col_label(h, (c), (d))
	const char *ext = CELL(C_EXTERNAL_ID);
	if ((rc = set_str(&f->external_id, ext)))
		return rc;
	char uuid[128];
	snprintf(uuid, sizeof(uuid), "%s", CELL(C_SMBIOS));
	for (char *c = uuid; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (*uuid && strspn(uuid, "0123456789abcdef-") != strlen(uuid))
		return bad(e, LABEL(C_SMBIOS, "SMBiosId"), "'%.60s' is not an SMBIOS uuid", uuid);
	if ((rc = set_str(&f->smbios_id, uuid)))
		return rc;
	char buf[IMPORT_FIELD_MAX + 1];
	struct list_ctx lc = { f, LABEL(C_IP, "IPAddress"), e };
	snprintf(buf, sizeof(buf), "%s", CELL(C_IP));
	if ((rc = split(buf, ",; ", ip_item, &lc)))
		return rc;
	lc.column = LABEL(C_MAC, "MACAddress");
	snprintf(buf, sizeof(buf), "%s", CELL(C_MAC));
	if ((rc = split(buf, ",; ", mac_item, &lc)))
		return rc;
	if ((rc = hostname_set(f, CELL(C_HOSTNAME), LABEL(C_HOSTNAME, "HostName"), e)) ||
	    (rc = set_str(&f->vmware_moref, CELL(C_MOREF))) ||
	    (rc = set_str(&f->vcenter_id, CELL(C_VCENTER))) ||
	    (rc = set_str(&f->vm_name, CELL(C_VMNAME))) ||
	    (rc = set_str(&f->os_name, CELL(C_OS_NAME))) ||
	    (rc = set_str(&f->os_version, CELL(C_OS_VERSION))))
		return rc;
	if ((*f->vmware_moref || *f->vcenter_id) && (rc = set_str(&f->virt, "vm")))
		return rc;
	if ((rc = version_from_name(f)))
		return rc;
	if ((rc = parse_count(CELL(C_SOCKETS), LABEL(C_SOCKETS, "CPU.NumberOfProcessors"), &f->cpu_sockets, e)) ||
	    (rc = parse_count(CELL(C_CORES), LABEL(C_CORES, "CPU.NumberOfCores"), &f->cpu_cores, e)) ||
	    (rc = parse_count(CELL(C_THREADS), LABEL(C_THREADS, "CPU.NumberOfLogicalCores"), &f->cpu_threads, e)))
		return rc;
	bool have;
	if ((rc = parse_num(CELL(C_RAM), LABEL(C_RAM, "RAM.TotalSizeInMB"), 1e9, &f->ram_mib, &have, e)))
		return rc;
	struct {
		enum col a, m;
		Cairn__Store__ImportFigure **dst;
		double max;
	} figs[] = {
		{ C_CPU_AVG, C_CPU_MAX, &f->cpu_pct, 100 },
		{ C_RAM_AVG, C_RAM_MAX, &f->ram_used_mib, 1e9 },
		{ C_DR_AVG, C_DR_MAX, &f->disk_read_kbps, 1e12 },
		{ C_DW_AVG, C_DW_MAX, &f->disk_write_kbps, 1e12 },
		{ C_DRO_AVG, C_DRO_MAX, &f->disk_read_ops, 1e12 },
		{ C_DWO_AVG, C_DWO_MAX, &f->disk_write_ops, 1e12 },
		{ C_NR_AVG, C_NR_MAX, &f->net_rx_kbps, 1e12 },
		{ C_NW_AVG, C_NW_MAX, &f->net_tx_kbps, 1e12 },
	};
	for (size_t i = 0; i < sizeof(figs) / sizeof(figs[0]); i++) {
		*figs[i].dst = figure(CELL(figs[i].a), LABEL(figs[i].a, mhub_name(figs[i].a)),
				      CELL(figs[i].m), LABEL(figs[i].m, mhub_name(figs[i].m)),
				      figs[i].max, e, &rc);
		if (rc)
			return rc;
	}
	if (f->ram_used_mib && f->ram_mib > 0 && f->ram_used_mib->max > f->ram_mib * 1.01)
		return bad(e, LABEL(C_RAM_MAX, "RAM.UsedSizeInMB.Max"), "%.2f MB used of %.2f MB total",
			   f->ram_used_mib->max, f->ram_mib);
	/* a file cairn exported itself: Applications and ApplicationWave are the
	 * computed grouping and plan, not decisions (docs/import.md) */
	bool ours = false;
	snprintf(buf, sizeof(buf), "%s", CELL(C_TAGS));
	for (char *t = buf; (t = strcasestr(t, "source:cairn")); t++)
		ours = true;
	lc.column = LABEL(C_TAGS, "Tags");
	if ((rc = split(buf, ";,", tag_item, &lc)))
		return rc;
	row->cairn_export = ours;
	if (!ours) {
		lc.column = LABEL(C_APPS, "Applications");
		snprintf(buf, sizeof(buf), "%s", CELL(C_APPS));
		if ((rc = split(buf, ";", app_item, &lc)) ||
		    (rc = parse_wave(CELL(C_WAVE), LABEL(C_WAVE, "ApplicationWave"), &f->wave, e)))
			return rc;
	}
	if (!*f->external_id && !*f->smbios_id && !f->n_macs && !*f->hostname)
		return bad(e, LABEL(C_EXTERNAL_ID, "ExternalId"),
			   "no identity: give ExternalId, SMBiosId, MACAddress or HostName");
	return 0;
#undef CELL
#undef LABEL
}

/* ------------------------------------------------------------ files */

static int reject(struct import_file *out, const char *file, unsigned line, const struct cell_err *e)
{
	return push_str(&out->errors, &out->nerrors,
			fmt("%s:%u: %s: %s", file, line, e->column ? e->column : "row", e->reason));
}

static const char *skip_bom(const char *buf, size_t *len)
{
	if (*len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
		*len -= 3;
		return buf + 3;
	}
	return buf;
}

/* Duplicate ExternalIds in one file: sorted (id, line) pairs. */
struct ext_seen {
	const char *id;
	unsigned line;
	size_t row;
};

static int cmp_ext(const void *a, const void *b)
{
	const struct ext_seen *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Drops every row whose ExternalId an earlier row of the file has. */
static int reject_duplicates(struct import_file *out, const char *file)
{
	struct ext_seen *v = malloc((out->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < out->n; i++)
		if (*out->rows[i].facts->external_id)
			v[n++] = (struct ext_seen){ out->rows[i].facts->external_id, out->rows[i].line, i };
	qsort(v, n, sizeof(*v), cmp_ext);
	bool *drop = calloc(out->n + 1, 1);
	if (!drop) {
		free(v);
		return -ENOMEM;
	}
	int rc = 0;
	for (size_t i = 1; i < n && !rc; i++) {
		size_t first = i - 1;
		while (first > 0 && !strcmp(v[first - 1].id, v[i].id))
			first--;
		if (strcmp(v[first].id, v[i].id))
			continue;
		struct cell_err e = { 0 };
		bad(&e, "ExternalId", "'%.60s' already on line %u", v[i].id, v[first].line);
		rc = reject(out, file, v[i].line, &e);
		drop[v[i].row] = true;
	}
	free(v);
	size_t o = 0;
	for (size_t i = 0; i < out->n; i++) {
		if (drop[i])
			row_free(&out->rows[i]);
		else
			out->rows[o++] = out->rows[i];
	}
	out->n = o;
	free(drop);
	return rc;
}

static int new_facts(struct import_row *row, unsigned line)
{
	memset(row, 0, sizeof(*row));
	row->line = line;
	row->facts = malloc(sizeof(*row->facts));
	if (!row->facts)
		return -ENOMEM;
	cairn__store__import_facts__init(row->facts);
	return 0;
}

int import_parse_mhub(const char *buf, size_t len, const char *name, struct import_file *out,
		      struct errbuf *eb)
{
	out->format = "mhub-csv";
	if ((!out->path && !(out->path = strdup(name))) ||
	    (!out->rows_file && !(out->rows_file = strdup(name))))
		return -ENOMEM;
	buf = skip_bom(buf, &len);
	struct csv_reader rd;
	csv_reader_init(&rd, buf, len, name);
	struct csv_record rec = { 0 };
	int rc = csv_next(&rd, &rec, eb);
	if (rc <= 0) {
		csv_record_free(&rec);
		return rc ? rc : errbuf_set(eb, -EINVAL, "%s: empty file (no header line)", name);
	}
	struct header h;
	rc = header_read(&rec, mhub_cols, sizeof(mhub_cols) / sizeof(mhub_cols[0]), name, false, out, &h);
	csv_record_free(&rec);
	if (rc == -EPROTO)
		rc = errbuf_set(eb, -EINVAL, "%s:1: the header is one column with ';' or tabs in it: save the file comma-separated (CSV)", name);
	if (!rc && h.at[C_EXTERNAL_ID] < 0 && h.at[C_SMBIOS] < 0 && h.at[C_MAC] < 0 &&
	    h.at[C_HOSTNAME] < 0)
		rc = errbuf_set(eb, -EINVAL, "%s:1: no identity column: the header needs ExternalId, SMBiosId, MACAddress or HostName", name);
	while (!rc) {
		rc = csv_next(&rd, &rec, eb);
		if (rc <= 0)
			break;
		rc = 0;
		out->lines++;
		struct import_row row;
		struct cell_err e = { 0 };
		if ((rc = new_facts(&row, rec.line)))
			break;
		int bad_row = row_cells(&h, &rec, &row, &e);
		if (!bad_row)
			bad_row = mhub_facts(&h, &rec, &row, &e);
		csv_record_free(&rec);
		if (bad_row == -ENOMEM) {
			rc = -ENOMEM;
		} else if (bad_row) {
			rc = reject(out, name, row.line, &e);
		} else {
			rc = push_row(out, &row);
		}
		row_free(&row);
	}
	csv_record_free(&rec);
	header_free(&h);
	if (!rc)
		rc = reject_duplicates(out, name);
	if (rc == -ENOMEM)
		errbuf_set(eb, rc, "%s: out of memory", name);
	return rc;
}

int import_load_mhub(const char *path, struct import_file *out, struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	char *buf;
	size_t len;
	int rc = file_read_all(path, IMPORT_FILE_MAX, &buf, &len, eb);
	if (rc)
		return rc;
	rc = import_parse_mhub(buf, len, path, out, eb);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ RVTools */

/* A table of one RVTools file: its records and header. */
struct rv_table {
	char path[4096];
	struct csv_record *recs;
	size_t n;
	struct header h;
	bool present;
};

static void rv_table_free(struct rv_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		csv_record_free(&t->recs[i]);
	free(t->recs);
	header_free(&t->h);
}

static int rv_table_load(const char *dir, const char *tab, struct import_file *out,
			 struct rv_table *t, struct errbuf *eb)
{
	memset(t, 0, sizeof(*t));
	struct stat st;
	snprintf(t->path, sizeof(t->path), "%s/RVTools_tab%s.csv", dir, tab);
	if (stat(t->path, &st))
		snprintf(t->path, sizeof(t->path), "%s/%s.csv", dir, tab);
	if (stat(t->path, &st))
		return 0;
	t->present = true;
	char *buf;
	size_t len;
	int rc = file_read_all(t->path, IMPORT_FILE_MAX, &buf, &len, eb);
	if (rc)
		return rc;
	const char *p = skip_bom(buf, &len);
	struct csv_reader rd;
	csv_reader_init(&rd, p, len, t->path);
	struct csv_record rec = { 0 };
	rc = csv_next(&rd, &rec, eb);
	if (rc > 0)
		rc = header_read(&rec, rv_cols, sizeof(rv_cols) / sizeof(rv_cols[0]), t->path, true, out, &t->h);
	else if (!rc)
		rc = errbuf_set(eb, -EINVAL, "%s: empty file (no header line)", t->path);
	if (rc == -EPROTO)
		rc = errbuf_set(eb, -EINVAL, "%s:1: the header is one column with ';' or tabs in it: export the tab comma-separated (CSV)", t->path);
	csv_record_free(&rec);
	size_t cap = 0;
	while (!rc) {
		rc = csv_next(&rd, &rec, eb);
		if (rc <= 0)
			break;
		rc = 0;
		if (t->n == cap) {
			cap = cap ? cap * 2 : 256;
			struct csv_record *v = realloc(t->recs, cap * sizeof(*v));
			if (!v) {
				csv_record_free(&rec);
				rc = -ENOMEM;
				break;
			}
			t->recs = v;
		}
		t->recs[t->n++] = rec;
		memset(&rec, 0, sizeof(rec));
	}
	free(buf);
	return rc;
}

/* VM name (and uuid) -> vInfo row, for the joins. */
struct rv_key {
	const char *vm;
	const char *uuid;
	size_t row;
};

static int cmp_rv_key(const void *a, const void *b)
{
	const struct rv_key *x = a, *y = b;
	return strcmp(x->vm, y->vm);
}

/* The vInfo row of a record of another table: by VM name; when several VMs
 * share the name (two vCenters), by VM UUID. */
static const struct rv_key *rv_find(const struct rv_key *keys, size_t n, const char *vm,
				    const char *uuid)
{
	struct rv_key k = { vm, NULL, 0 };
	const struct rv_key *hit = bsearch(&k, keys, n, sizeof(*keys), cmp_rv_key);
	if (!hit)
		return NULL;
	while (hit > keys && !strcmp(hit[-1].vm, vm))
		hit--;
	if (hit + 1 < keys + n && !strcmp(hit[1].vm, vm) && uuid && *uuid) {
		for (const struct rv_key *p = hit; p < keys + n && !strcmp(p->vm, vm); p++)
			if (!strcasecmp(p->uuid, uuid))
				return p;
	}
	return hit;
}

static int rv_info_row(const struct rv_table *t, struct csv_record *rec, struct import_row *row,
		       struct cell_err *e)
{
	const struct header *h = &t->h;
	Cairn__Store__ImportFacts *f = row->facts;
	int rc;
	if ((rc = row_cells(h, rec, row, e)))
		return rc;
	const char *vm = cell(h, rec, C_RV_VM);
	if (!*vm)
		return bad(e, col_label(h, C_RV_VM, "VM"), "no VM name");
	if ((rc = set_str(&f->vm_name, vm)) || (rc = set_str(&f->virt, "vm")))
		return rc;
	const char *dns = cell(h, rec, C_RV_DNS);
	if ((rc = hostname_set(f, *dns ? dns : "", col_label(h, C_RV_DNS, "DNS Name"), e)))
		return rc;
	if (!*f->hostname) {
		/* no DNS name (VMware Tools not running): the VM name, when it is a host name */
		char name[256];
		snprintf(name, sizeof(name), "%s", vm);
		bool ok = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == strlen(name);
		if (ok && (rc = hostname_set(f, name, "VM", e)))
			return rc;
	}
	char uuid[128];
	snprintf(uuid, sizeof(uuid), "%s", *cell(h, rec, C_RV_SMBIOS) ? cell(h, rec, C_RV_SMBIOS)
								     : cell(h, rec, C_RV_VM_UUID));
	for (char *c = uuid; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (*uuid && strspn(uuid, "0123456789abcdef-") != strlen(uuid))
		return bad(e, col_label(h, *cell(h, rec, C_RV_SMBIOS) ? C_RV_SMBIOS : C_RV_VM_UUID, "VM UUID"),
			   "'%.60s' is not a uuid", uuid);
	if ((rc = set_str(&f->smbios_id, uuid)) ||
	    (rc = set_str(&f->external_id, cell(h, rec, C_RV_VM_ID))) ||
	    (rc = set_str(&f->vmware_moref, cell(h, rec, C_RV_VM_ID))) ||
	    (rc = set_str(&f->vcenter_id, cell(h, rec, C_RV_SDK))) ||
	    (rc = set_str(&f->esx_host, cell(h, rec, C_RV_HOST))) ||
	    (rc = set_str(&f->cluster, cell(h, rec, C_RV_CLUSTER))) ||
	    (rc = set_str(&f->datacenter, cell(h, rec, C_RV_DATACENTER))) ||
	    (rc = set_str(&f->annotation, cell(h, rec, C_RV_ANNOTATION))))
		return rc;
	/* the VM ID (vm-123) is unique within one vCenter only */
	if (*f->external_id && *f->vcenter_id) {
		char *s = fmt("%s/%s", f->vcenter_id, f->external_id);
		if (!s)
			return -ENOMEM;
		free(f->external_id);
		f->external_id = s;
	}
	const char *os = *cell(h, rec, C_RV_OS_TOOLS) ? cell(h, rec, C_RV_OS_TOOLS)
						       : cell(h, rec, C_RV_OS_CONFIG);
	if ((rc = set_str(&f->os_name, os)) || (rc = version_from_name(f)))
		return rc;
	const char *power = cell(h, rec, C_RV_POWER);
	f->powered_off = *power && strcasecmp(power, "poweredOn");
	if ((rc = parse_count(cell(h, rec, C_RV_CPUS), col_label(h, C_RV_CPUS, "CPUs"), &f->cpu_threads, e)))
		return rc;
	f->cpu_cores = f->cpu_threads;
	bool have;
	if ((rc = parse_num(cell(h, rec, C_RV_MEMORY), col_label(h, C_RV_MEMORY, "Memory"), 1e9, &f->ram_mib, &have, e)) ||
	    (rc = parse_num(cell(h, rec, C_RV_PROVISIONED), col_label(h, C_RV_PROVISIONED, "Provisioned MiB"), 1e12, &f->disk_mib, &have, e)) ||
	    (rc = parse_num(cell(h, rec, C_RV_INUSE), col_label(h, C_RV_INUSE, "In Use MiB"), 1e12, &f->disk_used_mib, &have, e)))
		return rc;
	struct list_ctx lc = { f, col_label(h, C_RV_PRIMARY_IP, "Primary IP Address"), e };
	char buf[IMPORT_FIELD_MAX + 1];
	snprintf(buf, sizeof(buf), "%s", cell(h, rec, C_RV_PRIMARY_IP));
	return split(buf, ",; ", ip_item, &lc);
}

/* One record of vCPU / vMemory / vDisk / vNetwork into the joined row. */
static int rv_detail(const char *tab, const struct rv_table *t, struct csv_record *rec,
		     Cairn__Store__ImportFacts *f, struct cell_err *e)
{
	const struct header *h = &t->h;
	int rc = 0;
	bool have;
	for (size_t i = 0; i < rec->n; i++) {
		char *s = trim(rec->f[i]);
		if (s != rec->f[i])
			memmove(rec->f[i], s, strlen(s) + 1);
		if (strlen(rec->f[i]) > IMPORT_FIELD_MAX)
			return bad(e, i < h->n ? h->names[i] : "?", "longer than %d bytes", IMPORT_FIELD_MAX);
	}
	if (!strcmp(tab, "vCPU")) {
		uint32_t sockets = 0, cpus = 0, cps = 0;
		if ((rc = parse_count(cell(h, rec, C_RV_SOCKETS), col_label(h, C_RV_SOCKETS, "Sockets"), &sockets, e)) ||
		    (rc = parse_count(cell(h, rec, C_RV_CPUS), col_label(h, C_RV_CPUS, "CPUs"), &cpus, e)) ||
		    (rc = parse_count(cell(h, rec, C_RV_CORES_PS), col_label(h, C_RV_CORES_PS, "Cores p/s"), &cps, e)))
			return rc;
		if (sockets)
			f->cpu_sockets = sockets;
		if (cpus)
			f->cpu_threads = f->cpu_cores = cpus;
		else if (sockets && cps)
			f->cpu_threads = f->cpu_cores = sockets * cps;
	} else if (!strcmp(tab, "vMemory")) {
		double mib;
		if ((rc = parse_num(cell(h, rec, C_RV_SIZE_MIB), col_label(h, C_RV_SIZE_MIB, "Size MiB"), 1e9, &mib, &have, e)))
			return rc;
		if (have)
			f->ram_mib = mib;
	} else if (!strcmp(tab, "vDisk")) {
		double mib;
		if ((rc = parse_num(cell(h, rec, C_RV_CAPACITY), col_label(h, C_RV_CAPACITY, "Capacity MiB"), 1e12, &mib, &have, e)))
			return rc;
		if (have && f->n_disk_names < 16) {
			const char *d = *cell(h, rec, C_RV_DISK) ? cell(h, rec, C_RV_DISK) : "disk";
			if ((rc = push_str(&f->disk_names, &f->n_disk_names, strdup(d))))
				return rc;
			double *v = realloc(f->disk_sizes_mib, (f->n_disk_sizes_mib + 1) * sizeof(*v));
			if (!v)
				return -ENOMEM;
			f->disk_sizes_mib = v;
			v[f->n_disk_sizes_mib++] = mib;
		}
	} else if (!strcmp(tab, "vNetwork")) {
		char buf[IMPORT_FIELD_MAX + 1];
		struct list_ctx lc = { f, col_label(h, C_RV_MAC, "Mac Address"), e };
		snprintf(buf, sizeof(buf), "%s", cell(h, rec, C_RV_MAC));
		if ((rc = split(buf, ",; ", mac_item, &lc)))
			return rc;
		lc.column = col_label(h, C_RV_IPV4, "IPv4 Address");
		snprintf(buf, sizeof(buf), "%s", cell(h, rec, C_RV_IPV4));
		if ((rc = split(buf, ",; ", ip_item, &lc)))
			return rc;
		lc.column = col_label(h, C_RV_IPV6, "IPv6 Address");
		snprintf(buf, sizeof(buf), "%s", cell(h, rec, C_RV_IPV6));
		if ((rc = split(buf, ",; ", ip_item, &lc)))
			return rc;
	}
	return 0;
}

int import_load_rvtools(const char *dir, struct import_file *out, struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	out->format = "rvtools";
	if (!(out->path = strdup(dir)))
		return -ENOMEM;
	static const char *const tabs[] = { "vCPU", "vMemory", "vDisk", "vNetwork" };
	struct rv_table info, det[4];
	memset(det, 0, sizeof(det));
	struct rv_key *keys = NULL;
	bool *dead = NULL;
	int rc = rv_table_load(dir, "vInfo", out, &info, eb);
	if (!rc && !info.present)
		rc = errbuf_set(eb, -ENOENT, "%s: no vInfo.csv (or RVTools_tabvInfo.csv): export the vInfo tab of RVTools as CSV", dir);
	if (!rc && !(out->rows_file = strdup(info.path)))
		rc = -ENOMEM;
	if (!rc && info.h.at[C_RV_VM] < 0)
		rc = errbuf_set(eb, -EINVAL, "%s:1: no VM column", info.path);
	for (size_t i = 0; i < 4 && !rc; i++) {
		rc = rv_table_load(dir, tabs[i], out, &det[i], eb);
		if (!rc && !det[i].present)
			rc = push_str(&out->notes, &out->nnotes,
				      fmt("%s: no %s.csv: its columns stay as vInfo gives them", dir, tabs[i]));
	}
	if (rc)
		goto out;
	/* vInfo rows first (rejected ones are kept dead so details do not complain twice) */
	keys = malloc((info.n + 1) * sizeof(*keys));
	dead = calloc(info.n + 1, 1);
	if (!keys || !dead) {
		rc = -ENOMEM;
		goto out;
	}
	size_t nkeys = 0, templates = 0;
	for (size_t i = 0; i < info.n && !rc; i++) {
		struct import_row row;
		struct cell_err e = { 0 };
		out->lines++;
		if ((rc = new_facts(&row, info.recs[i].line)))
			break;
		const char *tmpl = cell(&info.h, &info.recs[i], C_RV_TEMPLATE);
		if (!strcasecmp(tmpl, "true")) {
			row_free(&row);
			templates++;
			continue; /* a template is not a server */
		}
		int b = rv_info_row(&info, &info.recs[i], &row, &e);
		if (b == -ENOMEM) {
			rc = b;
		} else if (b) {
			rc = reject(out, info.path, row.line, &e);
		} else {
			keys[nkeys++] = (struct rv_key){ row.facts->vm_name, row.facts->smbios_id, out->n };
			rc = push_row(out, &row);
		}
		row_free(&row);
	}
	if (!rc && templates)
		rc = push_str(&out->notes, &out->nnotes,
			      fmt("%s: %zu template(s) skipped (Template = True: not servers)", info.path, templates));
	/* row pointers move while pushing: re-point keys now that rows are fixed */
	for (size_t i = 0; i < nkeys; i++) {
		keys[i].vm = out->rows[keys[i].row].facts->vm_name;
		keys[i].uuid = out->rows[keys[i].row].facts->smbios_id;
	}
	qsort(keys, nkeys, sizeof(*keys), cmp_rv_key);
	for (size_t d = 0; d < 4 && !rc; d++) {
		struct rv_table *t = &det[d];
		for (size_t i = 0; i < t->n && !rc; i++) {
			struct csv_record *rec = &t->recs[i];
			const char *vm = cell(&t->h, rec, C_RV_VM);
			const struct rv_key *k = rv_find(keys, nkeys, vm, cell(&t->h, rec, C_RV_VM_UUID));
			if (!k)
				continue; /* a template, or a VM rejected in vInfo */
			if (dead[k->row])
				continue;
			struct cell_err e = { 0 };
			int b = rv_detail(tabs[d], t, rec, out->rows[k->row].facts, &e);
			if (b == -ENOMEM) {
				rc = b;
			} else if (b) {
				dead[k->row] = true;
				char *msg = fmt("%s:%u: %s: %s (VM '%s', %s:%u)", t->path, rec->line,
						e.column, e.reason, vm, info.path, out->rows[k->row].line);
				rc = push_str(&out->errors, &out->nerrors, msg);
			}
		}
	}
	if (!rc) {
		size_t o = 0;
		for (size_t i = 0; i < out->n; i++) {
			if (dead[i])
				row_free(&out->rows[i]);
			else
				out->rows[o++] = out->rows[i];
		}
		out->n = o;
		rc = reject_duplicates(out, info.path);
	}
out:
	free(keys);
	free(dead);
	rv_table_free(&info);
	for (size_t i = 0; i < 4; i++)
		rv_table_free(&det[i]);
	if (rc == -ENOMEM)
		errbuf_set(eb, rc, "%s: out of memory", dir);
	return rc;
}
