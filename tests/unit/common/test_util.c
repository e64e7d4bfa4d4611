/* util: hex, string copy, atomic writes, bounded reads, mkdir -p, distance. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static char dir[64];

static void setup(void)
{
	str_copy(dir, "/tmp/cairn-test-util-XXXXXX", sizeof(dir));
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(util, .init = setup, .fini = teardown);

Test(util, hex_roundtrip_and_rejects)
{
	const uint8_t in[] = { 0x00, 0x7f, 0x80, 0xff, 0xab };
	char hex[11];
	hex_encode(hex, in, sizeof(in));
	cr_assert_str_eq(hex, "007f80ffab");
	uint8_t out[5];
	cr_assert_eq(hex_decode(out, 5, "007F80FFAB"), 0);
	cr_assert_eq(memcmp(in, out, 5), 0);
	cr_assert_eq(hex_decode(out, 5, "007f80ffa"), -EINVAL, "short input");
	cr_assert_eq(hex_decode(out, 5, "007f80ffab0"), -EINVAL, "long input");
	cr_assert_eq(hex_decode(out, 5, "007g80ffab"), -EINVAL, "non-hex");
	cr_assert_eq(hex_decode(out, 0, ""), 0);
}

Test(util, str_copy_truncates_and_terminates)
{
	char buf[4];
	cr_assert_eq(str_copy(buf, "abcdef", sizeof(buf)), 6);
	cr_assert_str_eq(buf, "abc");
	cr_assert_eq(str_copy(buf, "ab", sizeof(buf)), 2);
	cr_assert_str_eq(buf, "ab");
}

Test(util, errbuf_returns_rc)
{
	struct errbuf eb;
	cr_assert_eq(errbuf_set(&eb, -EIO, "x=%d", 5), -EIO);
	cr_assert_str_eq(eb.msg, "x=5");
	cr_assert_eq(errbuf_set(NULL, -EINVAL, "ignored"), -EINVAL);
}

Test(util, atomic_write_mode_and_content)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/file", dir);
	struct errbuf eb;
	cr_assert_eq(file_write_atomic(path, "one", 3, 0600, &eb), 0, "%s", eb.msg);
	cr_assert_eq(file_write_atomic(path, "second", 6, 0640, &eb), 0, "%s", eb.msg);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0640);
	char *text;
	size_t len;
	cr_assert_eq(file_read_all(path, 100, &text, &len, &eb), 0);
	cr_assert_eq(len, 6);
	cr_assert_str_eq(text, "second");
	free(text);
	/* No temporary file is left behind. */
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(util, read_all_limits)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/big", dir);
	struct errbuf eb;
	char data[10000];
	memset(data, 'x', sizeof(data));
	cr_assert_eq(file_write_atomic(path, data, sizeof(data), 0600, &eb), 0);
	char *text = NULL;
	size_t len;
	cr_assert_eq(file_read_all(path, 9999, &text, &len, &eb), -EFBIG);
	cr_assert_null(text);
	cr_assert_eq(file_read_all(path, 10000, &text, &len, &eb), 0);
	cr_assert_eq(len, 10000);
	cr_assert_eq(text[10000], '\0');
	free(text);
	cr_assert_eq(file_read_all("/nonexistent/x", 10, &text, &len, &eb), -ENOENT);
	cr_assert_not_null(strstr(eb.msg, "/nonexistent/x"));
}

Test(util, dir_make_nested)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/a/b/c/", dir);
	struct errbuf eb;
	cr_assert_eq(dir_make(path, 0700, &eb), 0, "%s", eb.msg);
	cr_assert_eq(dir_make(path, 0700, &eb), 0, "existing dirs are fine");
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	char file[160];
	snprintf(file, sizeof(file), "%s/f", dir);
	cr_assert_eq(file_write_atomic(file, "", 0, 0600, &eb), 0);
	cr_assert_lt(dir_make(file, 0700, &eb), 0, "a file is not a directory");
}

Test(util, distance)
{
	cr_assert_eq(str_distance("listen", "listen"), 0);
	cr_assert_eq(str_distance("listn", "listen"), 1);
	cr_assert_eq(str_distance("", "abc"), 3);
	cr_assert_eq(str_distance("kitten", "sitting"), 3);
}

Test(util, clocks)
{
	uint64_t a = time_mono_us();
	usleep(2000);
	uint64_t b = time_mono_us();
	cr_assert_geq(b - a, 2000);
	cr_assert_gt(time_now_ms(), 1600000000000LL);
	cr_assert_neq(os_user_name()[0], '\0');
}

Test(util, array_grow_doubles_and_refuses_overflow)
{
	int *a = NULL;
	size_t cap = 0;
	cr_assert_eq(array_grow((void **)&a, &cap, 1, sizeof(*a)), 0);
	cr_assert_eq(cap, 32);
	a[31] = 7;
	cr_assert_eq(array_grow((void **)&a, &cap, 32, sizeof(*a)), 0);
	cr_assert_eq(cap, 32, "no growth when there is room");
	cr_assert_eq(array_grow((void **)&a, &cap, 100, sizeof(*a)), 0);
	cr_assert_eq(cap, 128);
	cr_assert_eq(a[31], 7, "contents kept");
	int *before = a;
	cr_assert_eq(array_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof(*a)), -ENOMEM);
	cr_assert_eq(cap, 128);
	cr_assert_eq(a, before, "array untouched on failure");
	cr_assert_eq(array_grow((void **)&a, &cap, SIZE_MAX, 1), -ENOMEM);
	free(a);
}
