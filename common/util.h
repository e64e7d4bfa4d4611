/* Small helpers every module uses: error buffers, time, hex, files.
 *
 * Functions that can fail return 0 or a negative errno and, when given a
 * struct errbuf, leave there one line for a person: what failed, on what input,
 * and what to do about it. */
#ifndef CAIRN_UTIL_H
#define CAIRN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct errbuf {
	char msg[512];
};

/* Formats into eb->msg (eb may be NULL) and returns rc, so a caller can write
 * `return errbuf_set(eb, -ENOENT, "%s: not found", path);`. */
int errbuf_set(struct errbuf *eb, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Wall clock, Unix epoch milliseconds. */
int64_t time_now_ms(void);
/* Monotonic clock, milliseconds and microseconds since an arbitrary point. */
uint64_t time_mono_ms(void);
uint64_t time_mono_us(void);

/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void hex_encode(char *out, const uint8_t *in, size_t len);
/* Value of one hex digit (either case), or -1. */
int hex_digit(char c);
/* Decodes exactly 2*len hex digits (either case) from in; -EINVAL otherwise. */
int hex_decode(uint8_t *out, size_t len, const char *in);

/* Makes room for need elements of elem bytes in the realloc'd array *arr of
 * *cap elements (doubling, starting at 32). 0, or -ENOMEM (also when the
 * size would overflow) with *arr and *cap unchanged. */
int array_grow(void **arr, size_t *cap, size_t need, size_t elem);

/* Copies src into dst of size n, always NUL-terminated; returns strlen(src)
 * (truncation when >= n). */
size_t str_copy(char *dst, const char *src, size_t n);

/* Writes data to path atomically: a temporary file in the same directory with
 * the given mode, fsync, rename, fsync of the directory. An error from the
 * last step is returned although path then holds the new data (its rename
 * may not be durable). */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct errbuf *eb);

/* Reads at most max bytes of path into a malloc'd, NUL-terminated buffer.
 * -EFBIG when the file is larger than max. */
int file_read_all(const char *path, size_t max, char **out, size_t *out_len,
		  struct errbuf *eb);

/* mkdir -p with the given mode for directories it creates. */
int dir_make(const char *path, mode_t mode, struct errbuf *eb);

/* For the calling thread only: os_user_name() returns name until called
 * with NULL (the web console acts for the person whose token it checked, so
 * decisions and audit entries carry that name). */
void os_user_act_as(const char *name);
/* Name of the OS user running this process (for audit logs); never NULL. */
const char *os_user_name(void);

/* Levenshtein distance, for "did you mean" suggestions. */
size_t str_distance(const char *a, const char *b);

/* The directory part of path ("a/b" -> "a", "/b" -> "/", "b" -> "."):
 * 0, or -ENAMETOOLONG when it does not fit n. */
int path_dirname(const char *path, char *out, size_t n);

/* A byte count for people: "17 B", "1.5 KiB", "730 MiB", "12 GiB". */
void str_bytes(uint64_t b, char *out, size_t n);

#endif
