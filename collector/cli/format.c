#include "format.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "pbjson.h"
#include "util.h"

/* ------------------------------------------------------------ tables */

struct format_table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows x ncols, row 0 = headers */
	bool *right;
	bool *elastic; /* may be cut with an ellipsis to fit the width */
};

struct format_table *format_table_new(size_t ncols, const char *const headers[])
{
	struct format_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->right = calloc(ncols, sizeof(bool));
	t->elastic = calloc(ncols, sizeof(bool));
	if (!t->right || !t->elastic || format_table_row(t, headers)) {
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

void format_table_elastic(struct format_table *t, size_t col)
{
	if (col < t->ncols)
		t->elastic[col] = true;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static size_t table_width = FORMAT_WIDTH_DEFAULT;

void format_progress(size_t done, size_t total, void *arg)
{
	static int tty = -1;
	static int64_t last_ms;
	if (tty < 0)
		tty = isatty(STDERR_FILENO);
	if (!tty)
		return;
	int64_t now = time_mono_us() / 1000;
	if (done < total && now - last_ms < 200)
		return;
	last_ms = now;
	fprintf(stderr, "\r%s: %zu/%zu hosts", (const char *)arg, done, total);
	if (done >= total)
		fputs("\r\033[K", stderr); /* finished: the line goes away */
	fflush(stderr);
}

static const char *sort_column; /* --sort, NULL = the command's order */

void format_set_sort(const char *column)
{
	sort_column = column && *column ? column : NULL;
}

/* A cell as a number when it is one ("12", "122.89", "80"), for --sort. */
static bool cell_number(const char *s, double *v)
{
	char *end;
	*v = strtod(s, &end);
	return end != s && *end == '\0';
}

/* A row as --sort compares it: its cell in the sort column, parsed once. */
struct sort_row {
	char **cells;
	const char *cell;
	double num;
	bool empty, is_num;
	size_t at;                  /* the command's order: ties keep it */
};

static int cmp_rows(const void *pa, const void *pb)
{
	const struct sort_row *a = pa, *b = pb;
	if (a->empty != b->empty)
		return a->empty ? 1 : -1; /* empty cells last */
	if (a->is_num && b->is_num && a->num != b->num)
		return a->num < b->num ? -1 : 1;
	int c = strcasecmp(a->cell, b->cell);
	if (!c)
		c = strcmp(a->cell, b->cell);
	return c ? c : (a->at > b->at) - (a->at < b->at);
}

int format_table_sort(struct format_table *t, const char *column)
{
	size_t col = t->ncols;
	for (size_t c = 0; c < t->ncols && col == t->ncols; c++)
		if (!strcasecmp(t->cells[c], column))
			col = c;
	for (size_t c = 0; c < t->ncols && col == t->ncols; c++)
		if (!strncasecmp(t->cells[c], column, strlen(column)))
			col = c; /* a prefix: "--sort conf" for CONFIDENCE */
	if (col == t->ncols)
		return -ENOENT;
	if (t->nrows < 3)
		return 0;
	/* sort row pointers (stable: ties keep the command's order), then
	 * lay the cells out again */
	size_t n = t->nrows - 1;
	struct sort_row *rows = malloc(n * sizeof(*rows));
	char **cells = malloc(t->nrows * t->ncols * sizeof(char *));
	if (!rows || !cells) {
		free(rows);
		free(cells);
		return -ENOMEM;
	}
	for (size_t r = 0; r < n; r++) {
		struct sort_row *w = &rows[r];
		w->cells = &t->cells[(r + 1) * t->ncols];
		w->cell = w->cells[col];
		w->empty = !strcmp(w->cell, "-");
		w->is_num = cell_number(w->cell, &w->num);
		w->at = r;
	}
	/* the position breaks ties: the sort is stable (tables of 100,000
	 * hosts: an insertion sort here was quadratic) */
	qsort(rows, n, sizeof(*rows), cmp_rows);
	memcpy(cells, t->cells, t->ncols * sizeof(char *));
	for (size_t r = 0; r < n; r++)
		memcpy(&cells[(r + 1) * t->ncols], rows[r].cells, t->ncols * sizeof(char *));
	free(t->cells);
	t->cells = cells;
	t->cap = t->nrows;
	free(rows);
	return 0;
}

void format_set_wide(bool wide)
{
	table_width = wide ? 0 : FORMAT_WIDTH_DEFAULT;
}

/* Prints s cut to w columns: the last column kept is an ellipsis. */
static void put_cut(FILE *f, const char *s, size_t w)
{
	size_t col = 0;
	const char *p = s;
	for (; *p; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80) {
			if (col + 1 == w && width(p) > 1)
				break;
			col++;
		}
	}
	fwrite(s, 1, (size_t)(p - s), f);
	if (*p)
		fputs("\xe2\x80\xa6", f); /* U+2026 HORIZONTAL ELLIPSIS */
}

void format_table_print(const struct format_table *t, FILE *f)
{
	if (sort_column && format_table_sort((struct format_table *)t, sort_column) == -ENOENT) {
		fprintf(stderr, "--sort: no column '%s' in this table (columns:", sort_column);
		for (size_t c = 0; c < t->ncols; c++)
			fprintf(stderr, " %s", t->cells[c]);
		fprintf(stderr, ")\n");
	}
	size_t *wd = calloc(t->ncols, sizeof(size_t));
	if (!wd)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = width(t->cells[r * t->ncols + c]);
			if (w > wd[c])
				wd[c] = w;
		}
	/* Fit the table into table_width columns: the widest elastic column
	 * (names, OS, command lines) gives up one column at a time, never below
	 * FORMAT_CELL_MIN or its header; ids, times and numbers are never cut. */
	size_t total = 2 * (t->ncols ? t->ncols - 1 : 0);
	for (size_t c = 0; c < t->ncols; c++)
		total += wd[c];
	while (table_width && total > table_width) {
		size_t widest = t->ncols;
		for (size_t c = 0; c < t->ncols; c++) {
			size_t floor = width(t->cells[c]);
			if (floor < FORMAT_CELL_MIN)
				floor = FORMAT_CELL_MIN;
			if (t->elastic[c] && wd[c] > floor && (widest == t->ncols || wd[c] > wd[widest]))
				widest = c;
		}
		if (widest == t->ncols)
			break;
		wd[widest]--;
		total--;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t w = width(s);
			bool last = c + 1 == t->ncols;
			if (w > wd[c]) {
				put_cut(f, s, wd[c]);
				w = wd[c];
			} else if (t->right[c]) {
				fprintf(f, "%*s%s", (int)(wd[c] - w), "", s);
				w = wd[c];
			} else {
				fputs(s, f);
			}
			if (!last)
				fprintf(f, "%*s", (int)(wd[c] - w + 2), "");
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
	free(t->elastic);
	free(t);
}

/* ------------------------------------------------------------ formatting */

static void time_as(int64_t ms, bool seconds, char *out, size_t n)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	if (ms <= 0 || !gmtime_r(&s, &tm) ||
	    !strftime(out, n, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm))
		str_copy(out, "-", n);
}

void format_time(int64_t ms, char *out, size_t n)
{
	time_as(ms, false, out, n);
}

void format_time_sec(int64_t ms, char *out, size_t n)
{
	time_as(ms, true, out, n);
}

void format_bytes(uint64_t b, char *out, size_t n)
{
	str_bytes(b, out, n);
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

const char *format_count(uint64_t count, const char *one, const char *many, char *out, size_t n)
{
	snprintf(out, n, "%llu %s", (unsigned long long)count, count == 1 ? one : many);
	return out;
}

const char *format_noun(uint64_t count, const char *one, const char *many)
{
	return count == 1 ? one : many;
}
