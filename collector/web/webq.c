#include "webq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pbjson.h"

void webq_init(struct webq *q)
{
	memset(q, 0, sizeof(*q));
	q->level = DOCS_LEVEL_HOST;
}

static bool text_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return pbjson_utf8_valid(s, len);
}

static int copy_text(char *dst, const char *name, const char *v, struct errbuf *eb)
{
	size_t len = strlen(v);
	if (!len || len >= WEBQ_TEXT_MAX || !text_ok(v, len))
		return errbuf_set(eb, -EINVAL, "argument '%s': give 1 to %d characters of text", name,
				  WEBQ_TEXT_MAX - 1);
	memcpy(dst, v, len + 1);
	return 0;
}

static int parse_count(size_t *out, const char *name, const char *v, size_t max, struct errbuf *eb)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (!*v || *v == '-' || *v == '+' || *end || errno || n > max)
		return errbuf_set(eb, -EINVAL, "argument '%s': '%.40s' is not a number 0..%zu", name, v,
				  max);
	*out = (size_t)n;
	return 0;
}

int webq_arg(struct webq *q, const char *name, const char *value, struct errbuf *eb)
{
	if (!name)
		return errbuf_set(eb, -EINVAL, "an argument without a name");
	const char *v = value ? value : "";
	if (!strcmp(name, "level")) {
		if (docs_level_parse(v, &q->level))
			return errbuf_set(eb, -EINVAL, "argument 'level': '%.40s' is not host, service or app",
					  v);
		return 0;
	}
	if (!strcmp(name, "app"))
		return copy_text(q->app, name, v, eb);
	if (!strcmp(name, "host"))
		return copy_text(q->host, name, v, eb);
	if (!strcmp(name, "since")) {
		if (config_parse_duration(v, &q->since_ms) || !q->since_ms)
			return errbuf_set(eb, -EINVAL,
					  "argument 'since': '%.40s' is not a duration (use e.g. 30m, 12h, 7d)", v);
		return 0;
	}
	if (!strcmp(name, "limit")) {
		q->has_limit = true;
		int rc = parse_count(&q->limit, name, v, WEBQ_LIMIT_MAX, eb);
		if (!rc && !q->limit)
			return errbuf_set(eb, -EINVAL, "argument 'limit': give 1..%d", WEBQ_LIMIT_MAX);
		return rc;
	}
	if (!strcmp(name, "offset"))
		return parse_count(&q->offset, name, v, SIZE_MAX / 2, eb);
	if (!strcmp(name, "pending")) {
		if (!strcmp(v, "") || !strcmp(v, "1") || !strcmp(v, "true"))
			q->pending = true;
		else if (!strcmp(v, "0") || !strcmp(v, "false"))
			q->pending = false;
		else
			return errbuf_set(eb, -EINVAL, "argument 'pending': use 1 or 0");
		return 0;
	}
	char safe[48];
	size_t n = strlen(name);
	snprintf(safe, sizeof(safe), "%.40s", text_ok(name, n) ? name : "?");
	return errbuf_set(eb, -EINVAL,
			  "unknown argument '%s' (level, app, host, since, limit, offset, pending)", safe);
}

int webq_body(const char *body, size_t len, json_t **out, struct errbuf *eb)
{
	*out = NULL;
	if (len > WEBQ_BODY_MAX)
		return errbuf_set(eb, -E2BIG, "request body of %zu bytes: at most %d", len, WEBQ_BODY_MAX);
	if (!len)
		return errbuf_set(eb, -EINVAL, "the request needs a JSON object body");
	json_error_t je;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return errbuf_set(eb, -EINVAL, "request body: line %d column %d: %s", je.line, je.column,
				  je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return errbuf_set(eb, -EINVAL, "request body: expected a JSON object");
	}
	*out = j;
	return 0;
}

const char *webq_body_str(const json_t *body, const char *key, size_t max, struct errbuf *eb)
{
	const json_t *v = json_object_get(body, key);
	if (!v || !json_is_string(v)) {
		errbuf_set(eb, -EINVAL, "request body: \"%s\" must be a string", key);
		return NULL;
	}
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (!len || len > max || strlen(s) != len || !text_ok(s, len)) {
		errbuf_set(eb, -EINVAL, "request body: \"%s\": 1 to %zu characters of text", key, max);
		return NULL;
	}
	return s;
}

int webq_path(const char *path, char seg[][WEBQ_TEXT_MAX], int n)
{
	int k = 0;
	const char *p = path;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (!len || len >= WEBQ_TEXT_MAX || k == n || !text_ok(p, len) ||
		    (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		memcpy(seg[k], p, len);
		seg[k][len] = 0;
		k++;
		p += len;
		if (*p == '/') {
			p++;
			if (!*p)
				break; /* a trailing slash is the same resource */
		}
	}
	return k;
}
