/* Tables of the collector's commands: --sort orders rows by a column, numbers
 * as numbers, "-" (nothing) last, and rows that tie keep the command's order
 * (a table of tens of thousands of hosts sorts like a small one). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

/* The printed table's rows (headers dropped), each cut at its first column. */
static char *print_table(struct format_table *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert(f);
	format_table_print(t, f);
	fclose(f);
	return buf;
}

Test(format, sort_is_numeric_stable_and_puts_nothing_last)
{
	const char *hdr[] = { "NAME", "COST" };
	struct format_table *t = format_table_new(2, hdr);
	cr_assert(t);
	const char *rows[][2] = { { "a", "10" }, { "b", "-" }, { "c", "9.5" }, { "d", "10" },
				  { "e", "x" }, { "f", "9.5" }, { "g", "-" }, { "h", "100" } };
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cr_assert_eq(format_table_row(t, rows[i]), 0);
	cr_assert_eq(format_table_sort(t, "cost"), 0, "a column by its name, any case");
	char *out = print_table(t);
	char order[16] = "";
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "NAME", 4))
			strncat(order, line, 1);
	cr_assert_str_eq(order, "cfadhebg", "9.5 9.5 10 10 100 x - -, ties in the given order");
	free(out);
	cr_assert_eq(format_table_sort(t, "nosuch"), -ENOENT);
	format_table_free(t);
}

Test(format, big_table_sorts_stably)
{
	enum { N = 20000 };
	const char *hdr[] = { "HOST", "GROUP" };
	struct format_table *t = format_table_new(2, hdr);
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(format_table_rowf(t, "h%05u\t%u", i, (i * 7919u) % 50u), 0);
	cr_assert_eq(format_table_sort(t, "GROUP"), 0);
	char *out = print_table(t);
	unsigned prev_g = 0, prev_h = 0, n = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned h, g;
		if (sscanf(line, "h%u %u", &h, &g) != 2)
			continue;
		cr_assert(g > prev_g || (g == prev_g && (n == 0 || h > prev_h)),
			  "row %u: h%05u group %u after h%05u group %u", n, h, g, prev_h, prev_g);
		prev_g = g, prev_h = h, n++;
	}
	cr_assert_eq(n, N);
	free(out);
	format_table_free(t);
}
