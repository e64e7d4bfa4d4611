/* Helpers for the collector tests: temporary root trees, files, capabilities. */
#ifndef CAIRN_TEST_COLLECT_TESTUTIL_H
#define CAIRN_TEST_COLLECT_TESTUTIL_H

#include <errno.h>
#include <ftw.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must name tests/fixtures"
#endif

static inline void tu_mkdirs(const char *path)
{
	char tmp[8192];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	mkdir(tmp, 0755);
}

/* Writes len bytes to root/rel, creating directories; aborts the test on failure. */
static inline void tu_write_bytes(const char *root, const char *rel, const void *data, size_t len)
{
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", root, rel[0] == '/' ? rel + 1 : rel);
	char dir[8192];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	tu_mkdirs(dir);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		abort();
	}
}

static inline void tu_write(const char *root, const char *rel, const char *text)
{
	tu_write_bytes(root, rel, text, strlen(text));
}

static inline void tu_symlink(const char *root, const char *rel, const char *target)
{
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", root, rel[0] == '/' ? rel + 1 : rel);
	char dir[8192];
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	tu_mkdirs(dir);
	unlink(path);
	if (symlink(target, path))
		abort();
}

/* A fresh directory under /tmp (or $TMPDIR); returns a static-lifetime copy. */
static inline char *tu_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path = malloc(4096);
	snprintf(path, 4096, "%s/cairn-%s-XXXXXX", base && *base ? base : "/tmp", tag);
	if (!mkdtemp(path))
		abort();
	return path;
}

static inline int tu_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)ftw;
	/* Only directories (a test may have made one unreadable). Never chmod a
	 * symlink's path: chmod follows it, and fixture links point at real
	 * system files (proc/PID/exe -> /usr/bin/...). */
	if (flag == FTW_DP && S_ISDIR(sb->st_mode))
		chmod(p, 0700);
	return remove(p);
}

static inline void tu_rm_rf(const char *path)
{
	nftw(path, tu_rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

/* Copies a fixture tree (symlinks kept) into a new temporary directory. */
static inline char *tu_copy_fixture(const char *name)
{
	char *dst = tu_tmpdir(name);
	char cmd[16384];
	snprintf(cmd, sizeof(cmd), "cp -a '%s/%s/.' '%s/'", FIXTURE_DIR, name, dst);
	if (system(cmd))
		abort();
	return dst;
}

/* Drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from this process, so that
 * file modes apply even to root (Criterion runs each test in its own process). */
static inline void tu_drop_dac_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return;
	d[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
	syscall(SYS_capset, &h, d);
}

#endif
