/* RFC 4180 reading and writing; see csv.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

void csv_reader_init(struct csv_reader *r, const char *buf, size_t len, const char *name)
{
	r->p = buf;
	r->end = buf + len;
	r->name = name ? name : "csv";
	r->line = 1;
}

void csv_record_free(struct csv_record *rec)
{
	for (size_t i = 0; i < rec->n; i++)
		free(rec->f[i]);
	free(rec->f);
	rec->f = NULL;
	rec->n = 0;
}

struct sbuf {
	char *s;
	size_t len, cap;
};

static int sbuf_put(struct sbuf *b, char c)
{
	if (b->len + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;
		char *s = realloc(b->s, cap);
		if (!s)
			return -ENOMEM;
		b->s = s;
		b->cap = cap;
	}
	b->s[b->len++] = c;
	b->s[b->len] = 0;
	return 0;
}

static int rec_push(struct csv_record *rec, struct sbuf *b)
{
	char **f = realloc(rec->f, (rec->n + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	rec->f = f;
	rec->f[rec->n] = b->s ? b->s : strdup("");
	if (!rec->f[rec->n])
		return -ENOMEM;
	rec->n++;
	b->s = NULL;
	b->len = b->cap = 0;
	return 0;
}

int csv_next(struct csv_reader *r, struct csv_record *rec, struct errbuf *eb)
{
	rec->f = NULL;
	rec->n = 0;
	/* skip blank lines */
	while (r->p < r->end && (*r->p == '\n' || *r->p == '\r')) {
		if (*r->p == '\n')
			r->line++;
		r->p++;
	}
	if (r->p >= r->end)
		return 0;
	rec->line = r->line;
	struct sbuf b = { 0 };
	int rc;
	for (;;) {
		/* one field */
		if (r->p < r->end && *r->p == '"') {
			r->p++;
			for (;;) {
				if (r->p >= r->end) {
					free(b.s);
					return errbuf_set(eb, -EINVAL,
							  "%s:%u: quoted field never closed (add the closing '\"')",
							  r->name, rec->line);
				}
				char c = *r->p++;
				if (c == '"') {
					if (r->p < r->end && *r->p == '"') {
						r->p++;
					} else {
						break;
					}
				}
				if (c == '\n')
					r->line++;
				if ((rc = sbuf_put(&b, c))) {
					free(b.s);
					return rc;
				}
			}
			if (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r') {
				free(b.s);
				return errbuf_set(eb, -EINVAL,
						  "%s:%u: text after a closing quote (quote the whole field)",
						  r->name, r->line);
			}
		} else {
			while (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r') {
				if ((rc = sbuf_put(&b, *r->p++))) {
					free(b.s);
					return rc;
				}
			}
		}
		if ((rc = rec_push(rec, &b))) {
			free(b.s);
			return rc;
		}
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == '\r')
			r->p++;
		if (r->p < r->end && *r->p == '\n') {
			r->p++;
			r->line++;
		}
		return 1;
	}
}

void csv_field(FILE *f, const char *s, int first)
{
	if (!first)
		putc_unlocked(',', f);
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs_unlocked(s, f);
		return;
	}
	putc_unlocked('"', f);
	for (; *s; s++) {
		if (*s == '"')
			putc_unlocked('"', f);
		putc_unlocked(*s, f);
	}
	putc_unlocked('"', f);
}

void csv_field_num(FILE *f, double v, int first)
{
	if (!first)
		putc_unlocked(',', f);
	if (isnan(v) || isinf(v))
		return;
	if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.2f", v);
}

/* Decimal digits of v at the end of buf (20 bytes are enough); returns the
 * first. */
static char *u64_digits(unsigned long long v, char *end)
{
	char *p = end;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}

void csv_put_u64(FILE *f, unsigned long long v)
{
	char buf[24], *p = u64_digits(v, buf + sizeof(buf));
	fwrite_unlocked(p, 1, (size_t)(buf + sizeof(buf) - p), f);
}

void csv_put_fixed2(FILE *f, double v)
{
	double x = round(v * 100);
	if (!(fabs(x) < 1e15) || x == 0) {
		/* the edge cases as printf writes them ("-0" included) */
		double r = x / 100;
		fprintf(f, r == floor(r) ? "%.0f" : "%.2f", r);
		return;
	}
	/* x / 100 has exactly two decimals, and below 1e13 the double nearest
	 * it prints as them: write the integer's digits with the point put in */
	unsigned long long a = (unsigned long long)fabs(x);
	char buf[32], *end = buf + sizeof(buf), *p;
	if (a % 100) {
		end[-1] = (char)('0' + a % 10);
		end[-2] = (char)('0' + a / 10 % 10);
		end[-3] = '.';
		p = u64_digits(a / 100, end - 3);
	} else {
		p = u64_digits(a / 100, end);
	}
	if (x < 0)
		*--p = '-';
	fwrite_unlocked(p, 1, (size_t)(end - p), f);
}

void csv_field_u64(FILE *f, unsigned long long v, int first)
{
	if (!first)
		putc_unlocked(',', f);
	csv_put_u64(f, v);
}

void csv_end(FILE *f)
{
	fputs_unlocked("\r\n", f);
}

int csv_load_file(const char *path, size_t max, csv_parse_fn parse, void *out,
		  struct errbuf *eb)
{
	char *buf;
	size_t len;
	int rc = file_read_all(path, max, &buf, &len, eb);
	if (rc)
		return rc;
	rc = parse(buf, len, path, out, eb);
	free(buf);
	return rc;
}
