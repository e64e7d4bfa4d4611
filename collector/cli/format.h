/* The output module of the command line: tables for people (aligned, fitted
 * to the terminal), times, ages, byte sizes, counts with their noun, and JSON
 * printing. Every command prints through here, so that one look is shared. */
#ifndef CAIRN_FORMAT_H
#define CAIRN_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Tables fit this many columns unless --wide: long cells (command lines, OS
 * names) are cut with an ellipsis. */
#define FORMAT_WIDTH_DEFAULT 100
#define FORMAT_CELL_MIN 12

/* --wide: tables print every cell whole, however wide. */
void format_set_wide(bool wide);
/* --sort COLUMN: every table printed after this orders its rows by the
 * column whose header is COLUMN (case-insensitive, or a prefix of it):
 * numbers by value, text case-insensitively, "-" last. NULL = the
 * command's own order. */
void format_set_sort(const char *column);

/* A progress line for long work ("export json: 120/500 hosts") on stderr,
 * rewritten in place at most every 200 ms and cleared at the end (done ==
 * total); nothing at all when stderr is not a terminal. arg: the label. */
void format_progress(size_t done, size_t total, void *arg);

/* ---- tables for people ---- */

struct format_table;

/* A table with ncols columns titled by the NULL-terminated header strings. */
struct format_table *format_table_new(size_t ncols, const char *const headers[]);
/* Adds one row: ncols strings (NULL prints as "-"). Copies them. */
int format_table_row(struct format_table *t, const char *const cells[]);
/* printf-style convenience: the format makes the whole row with '\t'
 * separating cells. */
int format_table_rowf(struct format_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Right-aligns column col (numbers). */
void format_table_align_right(struct format_table *t, size_t col);
/* Lets column col be cut with an ellipsis when the table is wider than the
 * terminal default (names, OS, command lines; never ids or numbers). */
void format_table_elastic(struct format_table *t, size_t col);
void format_table_print(const struct format_table *t, FILE *f);
void format_table_free(struct format_table *t);
/* Orders t's rows by the column headed column now (stable). -ENOENT when
 * no header matches, -ENOMEM. */
int format_table_sort(struct format_table *t, const char *column);

/* ---- small formatting helpers ---- */

/* "2026-11-26 05:38" (UTC), "-" for 0. */
void format_time(int64_t ms, char *out, size_t n);
/* "2026-11-26 05:38:12" (UTC), "-" for 0: where seconds matter (agents). */
void format_time_sec(int64_t ms, char *out, size_t n);
/* "1.5 GiB", "730 MiB", "12 KiB", "17 B". */
void format_bytes(uint64_t b, char *out, size_t n);
/* "3d ago", "5m ago", "now". */
void format_age(int64_t ms, int64_t now_ms, char *out, size_t n);

/* Prints a jansson value (json_t *) to stdout with a trailing newline and
 * decrements its reference. Returns 0 or -ENOMEM. */
int format_print_json(void *json);

/* The noun for count: one for 1, many otherwise ("%u %s" in a longer line). */
const char *format_noun(uint64_t count, const char *one, const char *many);
/* "1 host", "3 hosts", "0 hosts": the count with its noun. Returns out. */
const char *format_count(uint64_t count, const char *one, const char *many, char *out, size_t n);

#endif
