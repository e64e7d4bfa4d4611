#include "config.h"

#include <errno.h>
#include <ini.h>
#include <sodium.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"

/* ---- value parsers ---------------------------------------------------- */

/* Parses leading decimal digits of s into *v; returns the rest or NULL on
 * no digits or overflow. */
static const char *parse_u64_prefix(const char *s, uint64_t *v)
{
	uint64_t n = 0;
	const char *p = s;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return NULL;
		n = n * 10 + d;
		p++;
	}
	if (p == s)
		return NULL;
	*v = n;
	return p;
}

static int mul_check(uint64_t a, uint64_t b, uint64_t *out)
{
	if (b && a > UINT64_MAX / b)
		return -ERANGE;
	*out = a * b;
	return 0;
}

int config_parse_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "", 1000 },	   { "ms", 1 },	      { "s", 1000 },
		{ "m", 60000 },	   { "h", 3600000 }, { "d", 86400000 },
	};
	uint64_t n;
	const char *rest = parse_u64_prefix(s, &n);
	if (!rest)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(rest, units[i].unit))
			return mul_check(n, units[i].ms, ms) ? -ERANGE : 0;
	return -EINVAL;
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
		{ "", 1 },
		{ "b", 1 },
		{ "kib", 1ull << 10 },
		{ "mib", 1ull << 20 },
		{ "gib", 1ull << 30 },
		{ "tib", 1ull << 40 },
		{ "k", 1000ull },
		{ "kb", 1000ull },
		{ "m", 1000000ull },
		{ "mb", 1000000ull },
		{ "g", 1000000000ull },
		{ "gb", 1000000000ull },
		{ "t", 1000000000000ull },
		{ "tb", 1000000000000ull },
	};
	uint64_t n;
	const char *rest = parse_u64_prefix(s, &n);
	if (!rest || strlen(rest) > 3)
		return -EINVAL;
	char unit[4];
	size_t i;
	for (i = 0; rest[i]; i++)
		unit[i] = (char)(rest[i] >= 'A' && rest[i] <= 'Z' ? rest[i] - 'A' + 'a' : rest[i]);
	unit[i] = '\0';
	for (i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(unit, units[i].unit))
			return mul_check(n, units[i].mult, bytes) ? -ERANGE : 0;
	return -EINVAL;
}

void config_format_duration(uint64_t ms, char *out, size_t n)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
	if (ms == 0) {
		snprintf(out, n, "0s");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (ms % units[i].ms == 0) {
			snprintf(out, n, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
			return;
		}
	}
	snprintf(out, n, "%" PRIu64 "ms", ms);
}

void config_format_size(uint64_t bytes, char *out, size_t n)
{
	static const char *const units[] = { "TiB", "GiB", "MiB", "KiB" };
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		uint64_t mult = 1ull << (10 * (4 - i));
		if (bytes && bytes % mult == 0) {
			snprintf(out, n, "%" PRIu64 "%s", bytes / mult, units[i]);
			return;
		}
	}
	snprintf(out, n, "%" PRIu64 "B", bytes);
}

int config_split_hostport(const char *s, char *host, size_t hostn, uint16_t *port)
{
	const char *h = s, *hend, *p = NULL;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return -EINVAL;
		h = s + 1;
		hend = close;
		if (close[1] == ':')
			p = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
	} else {
		const char *colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			/* A bare IPv6 address: no port possible without brackets. */
			hend = s + strlen(s);
		} else if (colon) {
			hend = colon;
			p = colon + 1;
		} else {
			hend = s + strlen(s);
		}
	}
	size_t hlen = (size_t)(hend - h);
	if (hlen == 0 || hlen >= hostn)
		return -EINVAL;
	for (const char *c = h; c < hend; c++)
		if (*c == ' ' || *c == '\t' || *c == '/' || *c == '[' || *c == ']')
			return -EINVAL;
	*port = 0;
	if (p) {
		uint64_t v;
		const char *rest = parse_u64_prefix(p, &v);
		if (!rest || *rest || v > 65535)
			return -EINVAL;
		*port = (uint16_t)v;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
}

/* ---- key tables --------------------------------------------------------- */

enum cf_type {
	CF_STR,      /* char[size] */
	CF_SECRET,   /* char[size], never printed */
	CF_DURATION, /* uint64_t milliseconds */
	CF_SIZE,     /* uint64_t bytes */
	CF_U32,      /* uint32_t */
	CF_CHOICE,   /* char[size], one of choices ("a|b|c") */
	CF_LOGLEVEL, /* char[size], a log_level_parse() name */
};

struct cf_key {
	const char *name;
	enum cf_type type;
	size_t offset;
	size_t size;
	const char *choices;
};

struct cf_schema {
	const char *section;
	const struct cf_key *keys;
	size_t nkeys;
};

#define KEY(st, type, field, choices) \
	{ #field, type, offsetof(struct st, field), sizeof(((struct st *)0)->field), choices }
#define KEYN(st, name, type, field) \
	{ name, type, offsetof(struct st, field), sizeof(((struct st *)0)->field), NULL }

static const struct cf_key agent_keys[] = {
	KEY(agent_config, CF_STR, collector, NULL),
	KEY(agent_config, CF_STR, collector_key, NULL),
	KEY(agent_config, CF_SECRET, enroll_token, NULL),
	KEY(agent_config, CF_STR, enroll_token_file, NULL),
	KEY(agent_config, CF_STR, state_dir, NULL),
	KEYN(agent_config, "sample_interval", CF_DURATION, sample_interval_ms),
	KEYN(agent_config, "report_interval", CF_DURATION, report_interval_ms),
	KEYN(agent_config, "inventory_interval", CF_DURATION, inventory_interval_ms),
	KEY(agent_config, CF_SIZE, spool_max, NULL),
	KEY(agent_config, CF_STR, root, NULL),
	KEY(agent_config, CF_LOGLEVEL, log_level, NULL),
	KEY(agent_config, CF_U32, max_inflight, NULL),
	KEY(agent_config, CF_CHOICE, capture, "auto|poll"),
};

static const struct cf_key collector_keys[] = {
	KEY(collector_config, CF_STR, listen, NULL),
	KEY(collector_config, CF_STR, state_dir, NULL),
	KEY(collector_config, CF_CHOICE, accept, "explicit|token|any"),
	KEY(collector_config, CF_STR, enroll_token_file, NULL),
	KEY(collector_config, CF_U32, max_connections, NULL),
	KEYN(collector_config, "retention", CF_DURATION, retention_ms),
	KEYN(collector_config, "retention_raw", CF_DURATION, retention_raw_ms),
	KEY(collector_config, CF_LOGLEVEL, log_level, NULL),
	KEY(collector_config, CF_SIZE, max_frame, NULL),
	KEY(collector_config, CF_U32, max_records, NULL),
	KEY(collector_config, CF_U32, max_string, NULL),
	KEYN(collector_config, "handshake_timeout", CF_DURATION, handshake_timeout_ms),
	KEYN(collector_config, "idle_timeout", CF_DURATION, idle_timeout_ms),
	KEY(collector_config, CF_SIZE, map_size, NULL),
	KEY(collector_config, CF_SIZE, map_max, NULL),
	KEYN(collector_config, "commit_interval", CF_DURATION, commit_interval_ms),
	KEY(collector_config, CF_U32, commit_batches, NULL),
	KEYN(collector_config, "recompute_interval", CF_DURATION, recompute_interval_ms),
	KEY(collector_config, CF_STR, catalog, NULL),
	KEY(collector_config, CF_U32, wave_max_hosts, NULL),
	KEY(collector_config, CF_U32, wave_min_hosts, NULL),
	KEY(collector_config, CF_U32, wave_critical_after, NULL),
	KEY(collector_config, CF_STR, web_listen, NULL),
	KEY(collector_config, CF_STR, web_tls_cert, NULL),
	KEY(collector_config, CF_STR, web_tls_key, NULL),
	KEY(collector_config, CF_CHOICE, web_allow_loopback, "true|false"),
};

static const struct cf_schema agent_schema = { "agent", agent_keys, ARRAY_SIZE(agent_keys) };
static const struct cf_schema collector_schema = { "collector", collector_keys,
						   ARRAY_SIZE(collector_keys) };

void config_agent_defaults(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	str_copy(c->state_dir, "/var/lib/cairn-agent", sizeof(c->state_dir));
	c->sample_interval_ms = 15 * 1000;
	c->report_interval_ms = 5 * 60 * 1000;
	c->inventory_interval_ms = 6 * 3600 * 1000;
	c->spool_max = 256ull << 20;
	str_copy(c->root, "/", sizeof(c->root));
	str_copy(c->log_level, "info", sizeof(c->log_level));
	c->max_inflight = 8;
	str_copy(c->capture, "auto", sizeof(c->capture));
}

void config_collector_defaults(struct collector_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "[::]:%d", COLLECTOR_DEFAULT_PORT);
	str_copy(c->state_dir, "/var/lib/cairn-collector", sizeof(c->state_dir));
	str_copy(c->accept, "explicit", sizeof(c->accept));
	c->max_connections = 20000;
	c->retention_ms = 90ull * 86400 * 1000;
	c->retention_raw_ms = 14ull * 86400 * 1000;
	str_copy(c->log_level, "info", sizeof(c->log_level));
	c->max_frame = FRAME_MAX_DEFAULT;
	c->max_records = 100000;
	c->max_string = 64 << 10;
	c->handshake_timeout_ms = 10 * 1000;
	c->idle_timeout_ms = 15 * 60 * 1000;
	c->map_size = 64ull << 20;
	/* The map is address space, not memory: 1 TiB costs nothing on 64-bit. */
	c->map_max = sizeof(size_t) >= 8 ? (uint64_t)1 << 40 : (uint64_t)1 << 30;
	c->commit_interval_ms = 5;
	c->commit_batches = 256;
	c->recompute_interval_ms = 60 * 1000;
	c->wave_max_hosts = 25;
	c->wave_min_hosts = 0;
	c->wave_critical_after = 1;
	str_copy(c->web_listen, "127.0.0.1:7480", sizeof(c->web_listen));
	str_copy(c->web_allow_loopback, "false", sizeof(c->web_allow_loopback));
}

static const struct cf_key *schema_find(const struct cf_schema *s, const char *name)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (!strcmp(s->keys[i].name, name))
			return &s->keys[i];
	return NULL;
}

/* ", did you mean 'x'?" or "" when nothing is close. */
static void suggest(const struct cf_schema *s, const char *name, char *out, size_t n)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	for (size_t i = 0; i < s->nkeys; i++) {
		size_t d = str_distance(name, s->keys[i].name);
		if (d < best_d) {
			best_d = d;
			best = s->keys[i].name;
		}
	}
	size_t len = strlen(name);
	size_t limit = len / 3 > 2 ? len / 3 : 2;
	if (best && best_d <= limit)
		snprintf(out, n, " (did you mean '%s'?)", best);
	else
		out[0] = '\0';
}

static bool choice_ok(const char *choices, const char *v)
{
	size_t vl = strlen(v);
	const char *p = choices;
	while (*p) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		if (l == vl && !strncmp(p, v, l))
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

/* Stores value into obj's field for k. On error returns -EINVAL and writes a
 * message without location (the caller prefixes file:line or -o). */
static int cf_set(const struct cf_key *k, void *obj, const char *value, struct errbuf *eb)
{
	char *field = (char *)obj + k->offset;
	uint64_t v;
	int rc;
	switch (k->type) {
	case CF_STR:
	case CF_SECRET:
		if (strlen(value) >= k->size)
			return errbuf_set(eb, -EINVAL, "%s: value is too long (at most %zu characters)",
					  k->name, k->size - 1);
		str_copy(field, value, k->size);
		return 0;
	case CF_CHOICE:
		if (!choice_ok(k->choices, value))
			return errbuf_set(eb, -EINVAL, "%s: '%s' is not one of %s", k->name, value,
					  k->choices);
		str_copy(field, value, k->size);
		return 0;
	case CF_LOGLEVEL: {
		enum log_level lvl;
		if (log_level_parse(value, &lvl) || strlen(value) >= k->size)
			return errbuf_set(eb, -EINVAL,
					  "%s: '%s' is not a log level (use error, warning, notice, "
					  "info or debug)",
					  k->name, value);
		str_copy(field, value, k->size);
		return 0;
	}
	case CF_DURATION:
	case CF_SIZE: {
		bool dur = k->type == CF_DURATION;
		rc = dur ? config_parse_duration(value, &v) : config_parse_size(value, &v);
		if (rc == -ERANGE)
			return errbuf_set(eb, -EINVAL, "%s: '%s' is too large", k->name, value);
		if (rc)
			return errbuf_set(eb, -EINVAL, "%s: '%s' is not a %s (use e.g. %s)", k->name,
					  value, dur ? "duration" : "size",
					  dur ? "250ms, 15s, 5m, 6h, 90d" : "512KiB, 256MiB, 2GiB");
		memcpy(field, &v, sizeof(v));
		return 0;
	}
	case CF_U32: {
		const char *rest = parse_u64_prefix(value, &v);
		if (!rest || *rest || v > UINT32_MAX)
			return errbuf_set(eb, -EINVAL,
					  "%s: '%s' is not a whole number between 0 and %" PRIu32,
					  k->name, value, UINT32_MAX);
		uint32_t u = (uint32_t)v;
		memcpy(field, &u, sizeof(u));
		return 0;
	}
	}
	return -EINVAL;
}

/* ---- loading files -------------------------------------------------------- */

struct cf_load {
	const struct cf_schema *schema;
	void *obj;
	const char *path;
	config_report_fn report;
	void *report_arg;
	int errors;
	/* reader state */
	const char *text;
	size_t pos, len;
	int line;
	int long_line; /* line number of a line too long for inih, 0 if none */
	int in_bad_section;
};

static void cf_error(struct cf_load *ld, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cf_error(struct cf_load *ld, int line, const char *fmt, ...)
{
	char msg[600];
	int n = snprintf(msg, sizeof(msg), "%s:%d: ", ld->path, line);
	/* A path longer than msg leaves no room for the text: keep the
	 * truncated prefix rather than writing past the buffer. */
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(msg)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	ld->errors++;
	if (ld->report)
		ld->report(msg, ld->report_arg);
}

/* inih's reader: one line per call, so ld->line is the line the handler is
 * about to see. It also does what inih cannot: reports an unknown section and
 * a malformed line at their own line numbers (and hands inih a blank line
 * instead), strips "#" comments that follow white space (inih only knows ";"
 * inline comments), removes leading white space (so an indented line is never
 * taken as a continuation of the previous value) and turns an over-long line
 * into an error instead of letting inih split it. */
static char *cf_reader(char *str, int num, void *stream)
{
	struct cf_load *ld = stream;
	if (ld->pos >= ld->len)
		return NULL;
	const char *start = ld->text + ld->pos;
	const char *nl = memchr(start, '\n', ld->len - ld->pos);
	size_t linelen = nl ? (size_t)(nl - start) : ld->len - ld->pos;
	ld->pos += linelen + (nl ? 1 : 0);
	ld->line++;
	if (ld->line == 1 && linelen >= 3 && !memcmp(start, "\xef\xbb\xbf", 3)) {
		start += 3; /* UTF-8 byte order mark */
		linelen -= 3;
	}
	while (linelen && (*start == ' ' || *start == '\t')) {
		start++;
		linelen--;
	}
	while (linelen && (start[linelen - 1] == '\r' || start[linelen - 1] == ' ' ||
			   start[linelen - 1] == '\t'))
		linelen--;
	if (linelen + 2 > (size_t)num) {
		cf_error(ld, ld->line, "line is too long (at most %d characters)", num - 2);
		linelen = 0;
	}
	memcpy(str, start, linelen);
	str[linelen] = '\0';
	if (str[0] == '#' || str[0] == ';')
		linelen = 0;
	for (size_t i = 1; i < linelen; i++) {
		if (str[i] == '#' && (str[i - 1] == ' ' || str[i - 1] == '\t')) {
			linelen = i;
			break;
		}
	}
	str[linelen] = '\0';
	if (str[0] == '[') {
		char *close = strchr(str, ']');
		if (!close) {
			cf_error(ld, ld->line, "syntax error: '[' without ']'");
			linelen = 0;
		} else {
			*close = '\0';
			const char *name = str + 1;
			if (strcmp(name, ld->schema->section)) {
				cf_error(ld, ld->line, "unknown section [%s] (this file takes [%s])",
					 name, ld->schema->section);
				ld->in_bad_section = 1;
			} else {
				ld->in_bad_section = 0;
			}
			*close = ']';
		}
	} else if (linelen && !strpbrk(str, "=:")) {
		cf_error(ld, ld->line, "syntax error: expected 'key = value', '[section]' or a "
				       "comment");
		linelen = 0;
	}
	str[linelen] = '\n';
	str[linelen + 1] = '\0';
	return str;
}

static int cf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cf_load *ld = user;
	const struct cf_schema *s = ld->schema;
	if (ld->in_bad_section)
		return 1; /* the reader reported the section once */
	const struct cf_key *k = schema_find(s, name);
	if (!k) {
		char hint[96];
		suggest(s, name, hint, sizeof(hint));
		cf_error(ld, ld->line, "unknown key '%s' in [%s]%s", name, s->section, hint);
		return 1;
	}
	struct errbuf eb;
	if (cf_set(k, ld->obj, value, &eb))
		cf_error(ld, ld->line, "%s", eb.msg);
	return 1;
}

static int cf_load_file(const struct cf_schema *s, void *obj, const char *path,
			config_report_fn report, void *arg, struct errbuf *eb)
{
	char *text;
	size_t len;
	int rc = file_read_all(path, 1 << 20, &text, &len, eb);
	if (rc)
		return rc;
	struct cf_load ld = {
		.schema = s, .obj = obj, .path = path, .report = report, .report_arg = arg,
		.text = text, .len = len,
	};
	int bad = ini_parse_stream(cf_reader, &ld, cf_handler, &ld);
	if (bad > 0)
		cf_error(&ld, bad, "syntax error");
	else if (bad < 0)
		cf_error(&ld, 0, "out of memory while parsing");
	/* The text may hold enroll_token: wipe it before it returns to the heap. */
	sodium_memzero(text, len);
	free(text);
	return ld.errors;
}

struct first_error {
	struct errbuf *eb;
	int seen;
};

static void keep_first(const char *msg, void *arg)
{
	struct first_error *fe = arg;
	if (!fe->seen++ && fe->eb)
		str_copy(fe->eb->msg, msg, sizeof(fe->eb->msg));
}

static int cf_load_first(const struct cf_schema *s, void *obj, const char *path,
			 struct errbuf *eb)
{
	struct first_error fe = { eb, 0 };
	int n = cf_load_file(s, obj, path, keep_first, &fe, eb);
	if (n < 0)
		return n;
	return n ? -EINVAL : 0;
}

int config_agent_load(struct agent_config *c, const char *path, struct errbuf *eb)
{
	return cf_load_first(&agent_schema, c, path, eb);
}

int config_collector_load(struct collector_config *c, const char *path, struct errbuf *eb)
{
	return cf_load_first(&collector_schema, c, path, eb);
}

int config_agent_load_report(struct agent_config *c, const char *path, config_report_fn report,
			     void *arg, struct errbuf *eb)
{
	return cf_load_file(&agent_schema, c, path, report, arg, eb);
}

int config_collector_load_report(struct collector_config *c, const char *path,
				 config_report_fn report, void *arg, struct errbuf *eb)
{
	return cf_load_file(&collector_schema, c, path, report, arg, eb);
}

/* ---- -o overrides ------------------------------------------------------ */

static int cf_assign(const struct cf_schema *s, void *obj, const char *assignment,
		     struct errbuf *eb)
{
	const char *eq = strchr(assignment, '=');
	if (!eq)
		return errbuf_set(eb, -EINVAL, "-o '%s': expected key=value", assignment);
	char name[128];
	size_t nlen = (size_t)(eq - assignment);
	while (nlen && (assignment[nlen - 1] == ' ' || assignment[nlen - 1] == '\t'))
		nlen--;
	if (nlen == 0 || nlen >= sizeof(name))
		return errbuf_set(eb, -EINVAL, "-o '%s': expected key=value", assignment);
	memcpy(name, assignment, nlen);
	name[nlen] = '\0';
	const char *key = name;
	char *dot = strchr(name, '.');
	if (dot) {
		*dot = '\0';
		if (strcmp(name, s->section))
			return errbuf_set(eb, -EINVAL, "-o '%s': unknown section '%s' (use %s.KEY)",
					  assignment, name, s->section);
		key = dot + 1;
	}
	const char *value = eq + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	char vbuf[PATH_MAX + 1];
	if (str_copy(vbuf, value, sizeof(vbuf)) >= sizeof(vbuf))
		return errbuf_set(eb, -EINVAL, "-o %s: value is too long", key);
	size_t vlen = strlen(vbuf);
	while (vlen && (vbuf[vlen - 1] == ' ' || vbuf[vlen - 1] == '\t'))
		vbuf[--vlen] = '\0';
	value = vbuf;
	const struct cf_key *k = schema_find(s, key);
	if (!k) {
		char hint[96];
		suggest(s, key, hint, sizeof(hint));
		/* The value is not echoed: a misspelled enroll_token would
		 * otherwise print the secret. */
		sodium_memzero(vbuf, sizeof(vbuf));
		return errbuf_set(eb, -EINVAL, "-o %s=...: unknown key '%s' in [%s]%s", key, key,
				  s->section, hint);
	}
	struct errbuf inner;
	int rc = cf_set(k, obj, value, &inner) ? errbuf_set(eb, -EINVAL, "-o: %s", inner.msg) : 0;
	sodium_memzero(vbuf, sizeof(vbuf));
	return rc;
}

int config_agent_set(struct agent_config *c, const char *assignment, struct errbuf *eb)
{
	return cf_assign(&agent_schema, c, assignment, eb);
}

int config_collector_set(struct collector_config *c, const char *assignment, struct errbuf *eb)
{
	return cf_assign(&collector_schema, c, assignment, eb);
}

/* ---- validation ------------------------------------------------------- */

/* Reports one cross-key error; the check functions count them. */
#define BAD(...)                                                                     \
	do {                                                                         \
		char msg_[512];                                                      \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                           \
		report(msg_, arg);                                                   \
		n++;                                                                 \
	} while (0)

static bool bad_hostport(const char *v)
{
	char host[CONFIG_STR_MAX];
	uint16_t port;
	return config_split_hostport(v, host, sizeof(host), &port) != 0;
}

#define HOSTPORT_HINT "is not host:port (write IPv6 addresses as [addr]:port)"

int config_agent_check(const struct agent_config *c, config_report_fn report, void *arg)
{
	int n = 0;
	if (c->collector[0] && bad_hostport(c->collector))
		BAD("collector: '%s' " HOSTPORT_HINT, c->collector);
	uint8_t pk[KEY_PUBLIC_LEN];
	if (c->collector_key[0] && keys_public_from_hex(c->collector_key, pk))
		BAD("collector_key: not a 64-digit hex public key (copy it from "
		    "'cairn-collector key show')");
	if (c->enroll_token[0] && c->enroll_token_file[0])
		BAD("enroll_token and enroll_token_file are both set; keep one");
	if (!c->state_dir[0])
		BAD("state_dir: must not be empty");
	if (c->root[0] != '/')
		BAD("root: '%.200s' must be an absolute path", c->root);
	if (c->sample_interval_ms < 10)
		BAD("sample_interval: must be at least 10ms");
	if (c->report_interval_ms < c->sample_interval_ms)
		BAD("report_interval must be at least sample_interval (a report window holds "
		    "one or more samples)");
	if (c->inventory_interval_ms < c->sample_interval_ms)
		BAD("inventory_interval must be at least sample_interval");
	if (c->spool_max < (1u << 20))
		BAD("spool_max: must be at least 1MiB");
	if (c->max_inflight < 1 || c->max_inflight > 4096)
		BAD("max_inflight: must be between 1 and 4096");
	enum log_level lvl;
	if (log_level_parse(c->log_level, &lvl))
		BAD("log_level: '%s' is not a log level", c->log_level);
	return n;
}

int config_accept_mode(const struct collector_config *c, enum accept_mode *out)
{
	if (!strcmp(c->accept, "explicit"))
		*out = ACCEPT_EXPLICIT;
	else if (!strcmp(c->accept, "token"))
		*out = ACCEPT_TOKEN;
	else if (!strcmp(c->accept, "any"))
		*out = ACCEPT_ANY;
	else
		return -EINVAL;
	return 0;
}

int config_collector_check(const struct collector_config *c, config_report_fn report,
			   void *arg)
{
	int n = 0;
	if (bad_hostport(c->listen))
		BAD("listen: '%s' " HOSTPORT_HINT, c->listen);
	if (!c->state_dir[0])
		BAD("state_dir: must not be empty");
	enum accept_mode mode;
	if (config_accept_mode(c, &mode))
		BAD("accept: '%s' is not one of explicit|token|any", c->accept);
	else if (mode == ACCEPT_TOKEN && !c->enroll_token_file[0])
		BAD("accept = token needs enroll_token_file (a file holding the shared "
		    "enrollment token)");
	if (c->max_connections < 1)
		BAD("max_connections: must be at least 1");
	if (c->retention_ms < 1000)
		BAD("retention: must be at least 1s");
	if (c->retention_raw_ms < 1000)
		BAD("retention_raw: must be at least 1s");
	if (c->max_frame < FRAME_MAX_PREAUTH || c->max_frame > (1u << 30))
		BAD("max_frame: must be between 64KiB and 1GiB");
	if (c->max_records < 1)
		BAD("max_records: must be at least 1");
	if (c->max_string < 64)
		BAD("max_string: must be at least 64");
	if (c->handshake_timeout_ms < 100)
		BAD("handshake_timeout: must be at least 100ms");
	if (c->idle_timeout_ms < 1000)
		BAD("idle_timeout: must be at least 1s");
	if (c->map_size < (64u << 10))
		BAD("map_size: must be at least 64KiB");
	if (c->map_max < c->map_size)
		BAD("map_max: must be at least map_size");
	if (c->map_max > SIZE_MAX)
		BAD("map_max: larger than this machine's address space");
	if (c->commit_batches < 1)
		BAD("commit_batches: must be at least 1");
	if (c->wave_max_hosts < 1)
		BAD("wave_max_hosts: must be at least 1");
	if (c->wave_min_hosts > c->wave_max_hosts)
		BAD("wave_min_hosts: %u is more than wave_max_hosts %u", c->wave_min_hosts,
		    c->wave_max_hosts);
	enum log_level lvl;
	if (log_level_parse(c->log_level, &lvl))
		BAD("log_level: '%s' is not a log level", c->log_level);
	return n;
}

#undef BAD

/* The first error of a check, for the programs that stop there. */
static void first_error(const char *msg, void *arg)
{
	struct errbuf *eb = arg;
	if (!eb->msg[0])
		errbuf_set(eb, -EINVAL, "%s", msg);
}

int config_agent_validate(const struct agent_config *c, struct errbuf *eb)
{
	eb->msg[0] = '\0';
	return config_agent_check(c, first_error, eb) ? -EINVAL : 0;
}

int config_collector_validate(const struct collector_config *c, struct errbuf *eb)
{
	eb->msg[0] = '\0';
	return config_collector_check(c, first_error, eb) ? -EINVAL : 0;
}

/* ---- dump ---------------------------------------------------------------- */

static void cf_dump(const struct cf_schema *s, const void *obj, FILE *f)
{
	fprintf(f, "[%s]\n", s->section);
	for (size_t i = 0; i < s->nkeys; i++) {
		const struct cf_key *k = &s->keys[i];
		const char *field = (const char *)obj + k->offset;
		char buf[64];
		uint64_t v;
		uint32_t u;
		switch (k->type) {
		case CF_STR:
		case CF_CHOICE:
		case CF_LOGLEVEL:
			fprintf(f, "%s = %s\n", k->name, field);
			break;
		case CF_SECRET:
			fprintf(f, "# %s = %s\n", k->name, field[0] ? "(set, not shown)" : "");
			break;
		case CF_DURATION:
			memcpy(&v, field, sizeof(v));
			config_format_duration(v, buf, sizeof(buf));
			fprintf(f, "%s = %s\n", k->name, buf);
			break;
		case CF_SIZE:
			memcpy(&v, field, sizeof(v));
			config_format_size(v, buf, sizeof(buf));
			fprintf(f, "%s = %s\n", k->name, buf);
			break;
		case CF_U32:
			memcpy(&u, field, sizeof(u));
			fprintf(f, "%s = %" PRIu32 "\n", k->name, u);
			break;
		}
	}
}

void config_agent_dump(const struct agent_config *c, void *f)
{
	cf_dump(&agent_schema, c, f);
}

void config_collector_dump(const struct collector_config *c, void *f)
{
	cf_dump(&collector_schema, c, f);
}
