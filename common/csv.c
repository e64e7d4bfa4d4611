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
		fputc(',', f);
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void csv_field_num(FILE *f, double v, int first)
{
	if (!first)
		fputc(',', f);
	if (isnan(v) || isinf(v))
		return;
	if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.2f", v);
}

void csv_field_u64(FILE *f, unsigned long long v, int first)
{
	if (!first)
		fputc(',', f);
	fprintf(f, "%llu", v);
}

void csv_end(FILE *f)
{
	fputs("\r\n", f);
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
