#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int errbuf_set(struct errbuf *eb, int rc, const char *fmt, ...)
{
	if (eb) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
		va_end(ap);
	}
	return rc;
}

int64_t time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t time_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t time_mono_ms(void)
{
	return time_mono_us() / 1000u;
}

void hex_encode(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(uint8_t *out, size_t len, const char *in)
{
	for (size_t i = 0; i < len; i++) {
		int hi = hex_digit(in[2 * i]);
		if (hi < 0)
			return -EINVAL;
		int lo = hex_digit(in[2 * i + 1]);
		if (lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return in[2 * len] == '\0' ? 0 : -EINVAL;
}

int array_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 32;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (elem && ncap > SIZE_MAX / elem)
		return -ENOMEM;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

size_t str_copy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);
	if (n) {
		size_t c = len < n - 1 ? len : n - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return len;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	if (path_dirname(path, dir, sizeof(dir)))
		return -ENAMETOOLONG;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct errbuf *eb)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
		return errbuf_set(eb, -ENAMETOOLONG, "%s: path too long", path);
	/* A unique name (created 0600), so concurrent writers of one path in
	 * one process never share a temporary file. */
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(eb, -errno, "cannot create a temporary file next to %s: %s", path,
				  strerror(errno));
	int rc = 0;
	if (fchmod(fd, mode)) {
		rc = errbuf_set(eb, -errno, "cannot chmod %s: %s", tmp, strerror(errno));
		goto fail;
	}
	const uint8_t *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = errbuf_set(eb, -errno, "cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fsync(fd)) {
		rc = errbuf_set(eb, -errno, "cannot fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path)) {
		rc = errbuf_set(eb, -errno, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	/* Without this the rename itself may not survive a crash. */
	rc = fsync_dir_of(path);
	if (rc)
		return errbuf_set(eb, rc, "wrote %s but cannot fsync its directory: %s", path,
				  strerror(-rc));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int file_read_all(const char *path, size_t max, char **out, size_t *out_len, struct errbuf *eb)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(eb, -errno, "cannot open %s: %s", path, strerror(errno));
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	int rc = 0;
	if (!buf) {
		rc = errbuf_set(eb, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= max + 1) {
				rc = errbuf_set(eb, -EFBIG, "%s: larger than %zu bytes", path, max);
				goto out;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *n = realloc(buf, ncap + 1);
			if (!n) {
				rc = errbuf_set(eb, -ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = n;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = errbuf_set(eb, -errno, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max) {
		rc = errbuf_set(eb, -EFBIG, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	if (out_len)
		*out_len = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int dir_make(const char *path, mode_t mode, struct errbuf *eb)
{
	char tmp[PATH_MAX];
	if (str_copy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
		return errbuf_set(eb, -ENAMETOOLONG, "%s: path too long", path);
	for (char *p = tmp + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return errbuf_set(eb, -errno, "cannot create directory %s: %s", tmp,
					  strerror(errno));
		*p = c;
		if (!c)
			break;
	}
	struct stat st;
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return errbuf_set(eb, -ENOTDIR, "%s exists and is not a directory", path);
	return 0;
}

static _Thread_local char acting_user[96];

void os_user_act_as(const char *name)
{
	if (name)
		snprintf(acting_user, sizeof(acting_user), "%s", name);
	else
		acting_user[0] = 0;
}

const char *os_user_name(void)
{
	static char name[64];
	if (acting_user[0])
		return acting_user;
	if (name[0])
		return name;
	/* sudo leaves the person who ran it in SUDO_USER; record both. */
	struct passwd *pw = getpwuid(geteuid());
	const char *sudo = getenv("SUDO_USER");
	if (pw && sudo && *sudo)
		snprintf(name, sizeof(name), "%s (sudo by %s)", pw->pw_name, sudo);
	else if (pw)
		str_copy(name, pw->pw_name, sizeof(name));
	else
		snprintf(name, sizeof(name), "uid %ld", (long)geteuid());
	return name;
}

size_t str_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return la > lb ? la : lb;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

void str_bytes(uint64_t b, char *out, size_t n)
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

int path_dirname(const char *path, char *out, size_t n)
{
	if (str_copy(out, path, n) >= n)
		return -ENAMETOOLONG;
	char *slash = strrchr(out, '/');
	if (!slash)
		str_copy(out, ".", n);
	else if (slash == out)
		out[1] = '\0';
	else
		*slash = '\0';
	return 0;
}
