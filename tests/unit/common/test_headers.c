/* Linked with one translation unit per common header, each including only
 * that header: if any header misses an include, the build of this test
 * fails. At run time, check that the list covers every header on disk. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <string.h>

#ifndef COMMON_DIR
#error "COMMON_DIR must be defined"
#endif

static const char *const checked[] = { CHECKED_HEADERS };

Test(headers, every_common_header_is_checked)
{
	DIR *d = opendir(COMMON_DIR);
	cr_assert_not_null(d, "cannot open %s", COMMON_DIR);
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 3 || strcmp(de->d_name + len - 2, ".h"))
			continue;
		int found = 0;
		for (size_t i = 0; i < sizeof(checked) / sizeof(checked[0]); i++)
			if (!strcmp(checked[i], de->d_name))
				found = 1;
		cr_expect(found, "common/%s is not in tests/unit/common/meson.build's header list",
			  de->d_name);
	}
	closedir(d);
}
