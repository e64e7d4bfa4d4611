/* RFC 4180 reader and writer: round trips of awkward fields, line numbers in
 * errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

static const char *const awkward[] = {
	"plain", "", "with,comma", "with \"quotes\"", "multi\nline", "crlf\r\nline", " spaced ",
	"\"", ",", "ünïcode €",
};

Test(csv, writer_reader_round_trip)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	size_t n = sizeof(awkward) / sizeof(awkward[0]);
	for (int row = 0; row < 3; row++) {
		for (size_t i = 0; i < n; i++)
			csv_field(f, awkward[i], i == 0);
		csv_end(f);
	}
	fclose(f);
	struct csv_reader r;
	struct csv_record rec;
	struct errbuf eb = { { 0 } };
	csv_reader_init(&r, buf, len, "mem");
	for (int row = 0; row < 3; row++) {
		cr_assert_eq(csv_next(&r, &rec, &eb), 1, "%s", eb.msg);
		cr_assert_eq(rec.n, n);
		for (size_t i = 0; i < n; i++)
			cr_expect_str_eq(rec.f[i], awkward[i], "field %zu", i);
		csv_record_free(&rec);
	}
	cr_expect_eq(csv_next(&r, &rec, &eb), 0);
	free(buf);
}

Test(csv, only_needed_fields_are_quoted)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	csv_field(f, "a", 1);
	csv_field(f, "b c", 0);
	csv_field(f, "d,e", 0);
	csv_field(f, "say \"hi\"", 0);
	csv_field_num(f, 12.5, 0);
	csv_field_num(f, 3, 0);
	csv_field_u64(f, 18446744073709551615ull, 0);
	csv_end(f);
	fclose(f);
	cr_expect_str_eq(buf, "a,b c,\"d,e\",\"say \"\"hi\"\"\",12.50,3,18446744073709551615\r\n");
	free(buf);
}

Test(csv, blank_lines_lf_and_empty_fields)
{
	const char *in = "a,b,\n\n\r\nc,,d\nlast";
	struct csv_reader r;
	struct csv_record rec;
	struct errbuf eb = { { 0 } };
	csv_reader_init(&r, in, strlen(in), "t.csv");
	cr_assert_eq(csv_next(&r, &rec, &eb), 1);
	cr_expect_eq(rec.n, 3);
	cr_expect_str_eq(rec.f[2], "");
	cr_expect_eq(rec.line, 1);
	csv_record_free(&rec);
	cr_assert_eq(csv_next(&r, &rec, &eb), 1);
	cr_expect_eq(rec.line, 4);
	cr_expect_str_eq(rec.f[1], "");
	cr_expect_str_eq(rec.f[2], "d");
	csv_record_free(&rec);
	cr_assert_eq(csv_next(&r, &rec, &eb), 1);
	cr_expect_str_eq(rec.f[0], "last");
	csv_record_free(&rec);
	cr_expect_eq(csv_next(&r, &rec, &eb), 0);
}

Test(csv, errors_name_the_line)
{
	struct csv_reader r;
	struct csv_record rec;
	struct errbuf eb = { { 0 } };
	const char *open_quote = "a,b\nc,\"never closed\nmore\n";
	csv_reader_init(&r, open_quote, strlen(open_quote), "x.csv");
	cr_assert_eq(csv_next(&r, &rec, &eb), 1);
	csv_record_free(&rec);
	cr_expect_eq(csv_next(&r, &rec, &eb), -EINVAL);
	csv_record_free(&rec);
	cr_expect(strstr(eb.msg, "x.csv:2:"), "%s", eb.msg);
	const char *after = "\"ok\"x,b\n";
	csv_reader_init(&r, after, strlen(after), "y.csv");
	cr_expect_eq(csv_next(&r, &rec, &eb), -EINVAL);
	csv_record_free(&rec);
	cr_expect(strstr(eb.msg, "y.csv:1: text after a closing quote"), "%s", eb.msg);
}
