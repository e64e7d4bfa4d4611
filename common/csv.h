/* RFC 4180 CSV: a reader for catalogs people supply (errors name file:line)
 * and a writer for exports (fields quoted when they hold a comma, quote, CR or
 * LF; quotes doubled; records end with CRLF). */
#ifndef CAIRN_CSV_H
#define CAIRN_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "util.h"

struct csv_reader {
	const char *p, *end;
	const char *name; /* file name for messages */
	unsigned line;    /* line the next record starts on (1-based) */
};

struct csv_record {
	char **f;         /* n malloc'd, NUL-terminated fields */
	size_t n;
	unsigned line;    /* line the record started on */
};

void csv_reader_init(struct csv_reader *r, const char *buf, size_t len, const char *name);
/* 1 and a record, 0 at the end, -EINVAL (eb: "file:line: ...") on an
 * unterminated quote or text after a closing quote, -ENOMEM. Blank lines are
 * skipped. Free the record with csv_record_free (also after errors). */
int csv_next(struct csv_reader *r, struct csv_record *rec, struct errbuf *eb);
void csv_record_free(struct csv_record *rec);

/* Writes one field (with a leading comma unless first). */
void csv_field(FILE *f, const char *s, int first);
void csv_field_num(FILE *f, double v, int first); /* "%.6g"-style, "" for NaN */
void csv_field_u64(FILE *f, unsigned long long v, int first);
void csv_end(FILE *f);
/* v in decimal; round(v * 100) / 100 as printf's "%.0f" (a whole number) or
 * "%.2f" writes it, without printf. */
void csv_put_u64(FILE *f, unsigned long long v);
void csv_put_fixed2(FILE *f, double v);

/* Reads a whole CSV file of at most max bytes and hands it to parse(buf, len,
 * path, out, eb), the way every shipped table (catalog, lifecycle) is read.
 * Returns file_read_all's error or parse's result. */
typedef int (*csv_parse_fn)(const char *buf, size_t len, const char *name, void *out,
			    struct errbuf *eb);
int csv_load_file(const char *path, size_t max, csv_parse_fn parse, void *out,
		  struct errbuf *eb);

#endif
