#include "format.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pbjson.h"
#include "util.h"

/* ------------------------------------------------------------ tables */

struct format_table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows x ncols, row 0 = headers */
	bool *right;
};

struct format_table *format_table_new(size_t ncols, const char *const headers[])
{
	struct format_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->right = calloc(ncols, sizeof(bool));
	if (!t->right || format_table_row(t, headers)) {
		format_table_free(t);
		return NULL;
	}
	return t;
}

int format_table_row(struct format_table *t, const char *const cells[])
{
	if (t->nrows == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		char **n2 = realloc(t->cells, nc * t->ncols * sizeof(char *));
		if (!n2)
			return -ENOMEM;
		t->cells = n2;
		t->cap = nc;
	}
	char **row = &t->cells[t->nrows * t->ncols];
	for (size_t i = 0; i < t->ncols; i++) {
		row[i] = strdup(cells[i] && *cells[i] ? cells[i] : "-");
		if (!row[i]) {
			while (i-- > 0)
				free(row[i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

int format_table_rowf(struct format_table *t, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	const char *cells[64];
	size_t n = 0;
	char *p = buf;
	while (n < t->ncols && n < 64) {
		cells[n++] = p;
		char *tab = strchr(p, '\t');
		if (!tab)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	while (n < t->ncols && n < 64)
		cells[n++] = "";
	return format_table_row(t, cells);
}

void format_table_align_right(struct format_table *t, size_t col)
{
	if (col < t->ncols)
		t->right[col] = true;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

void format_table_print(const struct format_table *t, FILE *f)
{
	size_t *wd = calloc(t->ncols, sizeof(size_t));
	if (!wd)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = width(t->cells[r * t->ncols + c]);
			if (w > wd[c])
				wd[c] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t pad = wd[c] - width(s);
			bool last = c + 1 == t->ncols;
			if (t->right[c])
				fprintf(f, "%*s%s", (int)pad, "", s);
			else
				fprintf(f, "%s%*s", s, last ? 0 : (int)pad, "");
			if (!last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
	free(wd);
}

void format_table_free(struct format_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->right);
	free(t);
}

/* ------------------------------------------------------------ formatting */

void format_time(int64_t ms, char *out, size_t n)
{
	if (ms <= 0) {
		str_copy(out, "-", n);
		return;
	}
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M", &tm);
}

void format_bytes(uint64_t b, char *out, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	size_t u = 0;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%llu B", (unsigned long long)b);
	else
		snprintf(out, n, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void format_age(int64_t ms, int64_t now_ms, char *out, size_t n)
{
	if (ms <= 0) {
		str_copy(out, "never", n);
		return;
	}
	int64_t d = (now_ms - ms) / 1000;
	if (d < 60)
		str_copy(out, "now", n);
	else if (d < 3600)
		snprintf(out, n, "%lldm ago", (long long)(d / 60));
	else if (d < 86400)
		snprintf(out, n, "%lldh ago", (long long)(d / 3600));
	else
		snprintf(out, n, "%lldd ago", (long long)(d / 86400));
}

void *format_json_str(const char *s)
{
	if (!s)
		s = "";
	size_t len = strlen(s);
	if (pbjson_utf8_valid(s, len))
		return json_stringn(s, len);
	size_t cap = len * 3 + 1;
	char *fixed = malloc(cap);
	if (!fixed)
		return NULL;
	size_t n = pbjson_utf8_sanitize(fixed, cap, s, len);
	json_t *j = json_stringn(fixed, n);
	free(fixed);
	return j;
}

int format_print_json(void *json)
{
	json_t *j = json;
	if (!j)
		return -ENOMEM;
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		return -ENOMEM;
	puts(s);
	free(s);
	return 0;
}
