/* Package collector: dpkg/rpm/apk fixtures with exact lists, content hash,
 * unchanged detection, rpm timeouts and failures, malformed databases and the
 * live dpkg database against dpkg-query. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collect.h"
#include "collect_pkg.h"
#include "collect_testutil.h"
#include "util.h"

static Cairn__PackageInventory **collect(struct collect_ctx *ctx, struct pkg_state *st, size_t *n)
{
	Cairn__PackageInventory **inv = NULL;
	cr_assert_eq(collect_pkg(ctx, st, &inv, n), 0);
	return inv;
}

static void free_all(Cairn__PackageInventory **inv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cairn__package_inventory__free_unpacked(inv[i], NULL);
	free(inv);
}

static void check_pkg(const Cairn__Package *p, const char *name, const char *ver, const char *arch,
		      const char *src, uint64_t size)
{
	cr_assert_str_eq(p->name, name);
	cr_assert_str_eq(p->version, ver, "%s", name);
	cr_assert_str_eq(p->architecture, arch, "%s", name);
	cr_assert_str_eq(p->source, src, "%s", name);
	cr_assert_eq(p->installed_size, size, "%s", name);
}

/* The hash as documented: BLAKE2b-256 over sorted "name\0version\0arch\n". */
static void expected_hash(const Cairn__PackageInventory *inv, uint8_t out[32])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, 32);
	for (size_t i = 0; i < inv->n_packages; i++) {
		char line[4096];
		const Cairn__Package *p = inv->packages[i];
		int l = snprintf(line, sizeof(line), "%s%c%s%c%s\n", p->name, 0, p->version, 0,
				 p->architecture);
		crypto_generichash_update(&h, (const uint8_t *)line, (size_t)l);
	}
	crypto_generichash_final(&h, out, 32);
}

Test(pkg_fixture, dpkg_installed_only)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/debian12");
	size_t n;
	Cairn__PackageInventory **inv = collect(&ctx, NULL, &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(inv[0]->manager, "dpkg");
	cr_assert_not(inv[0]->unchanged);
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, 0, "%s", ctx.stats[COLLECT_PKG].last_error);
	cr_assert_eq(inv[0]->n_packages, 6, "config-files and half-installed are not installed");
	Cairn__Package **p = inv[0]->packages;
	check_pkg(p[0], "base-files", "12.4+deb12u5", "amd64", "base-files", 341 * 1024);
	check_pkg(p[1], "libc6", "2.36-9+deb12u4", "amd64", "glibc", 12985 * 1024);
	check_pkg(p[2], "libc6", "2.36-9+deb12u4", "i386", "glibc", 12113 * 1024);
	check_pkg(p[3], "libssl3", "3.0.13-1~deb12u1", "amd64", "openssl", 6191 * 1024);
	check_pkg(p[4], "nginx", "1.22.1-9", "amd64", "nginx", 1218 * 1024);
	check_pkg(p[5], "postgresql-15", "15.6-0+deb12u1", "amd64", "postgresql-15", 58231 * 1024);
	uint8_t h[32];
	expected_hash(inv[0], h);
	cr_assert_eq(inv[0]->content_hash.len, 32);
	cr_assert_eq(memcmp(inv[0]->content_hash.data, h, 32), 0);
	free_all(inv, n);
}

Test(pkg_fixture, rpm_through_fake_binary)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/rhel9");
	str_copy(ctx.rpm_path, FIXTURE_DIR "/bin/fake-rpm", sizeof(ctx.rpm_path));
	size_t n;
	Cairn__PackageInventory **inv = collect(&ctx, NULL, &n);
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, 0, "%s", ctx.stats[COLLECT_PKG].last_error);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(inv[0]->manager, "rpm");
	cr_assert_eq(inv[0]->n_packages, 7);
	Cairn__Package **p = inv[0]->packages;
	check_pkg(p[0], "bash", "5.1.8-6.el9_1", "x86_64", "bash-5.1.8-6.el9_1.src.rpm", 7738634);
	check_pkg(p[1], "glibc", "2.34-83.el9_3.7", "x86_64", "glibc-2.34-83.el9_3.7.src.rpm", 6394432);
	check_pkg(p[2], "gpg-pubkey", "fd431d51-4ae0493b", "", "", 0);
	check_pkg(p[3], "httpd", "2.4.57-5.el9", "x86_64", "httpd-2.4.57-5.el9.src.rpm", 4752593);
	check_pkg(p[4], "kernel", "5.14.0-362.8.1.el9_3", "x86_64",
		  "kernel-5.14.0-362.8.1.el9_3.src.rpm", 0);
	check_pkg(p[5], "openssl", "1:3.0.7-24.el9", "x86_64", "openssl-3.0.7-24.el9.src.rpm", 1921134);
	check_pkg(p[6], "tzdata", "2023c-1.el9", "noarch", "tzdata-2023c-1.el9.src.rpm", 1765234);
	free_all(inv, n);
}

Test(pkg_fixture, apk_installed)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/alpine");
	size_t n;
	Cairn__PackageInventory **inv = collect(&ctx, NULL, &n);
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, 0, "%s", ctx.stats[COLLECT_PKG].last_error);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(inv[0]->manager, "apk");
	cr_assert_eq(inv[0]->n_packages, 5);
	Cairn__Package **p = inv[0]->packages;
	check_pkg(p[0], "alpine-baselayout-data", "3.4.3-r2", "aarch64", "alpine-baselayout", 77824);
	check_pkg(p[1], "busybox", "1.36.1-r15", "aarch64", "busybox", 970752);
	check_pkg(p[2], "libcrypto3", "3.1.4-r5", "aarch64", "openssl", 4268032);
	check_pkg(p[3], "musl", "1.2.4_git20230717-r4", "aarch64", "musl", 655360);
	check_pkg(p[4], "nginx", "1.24.0-r15", "aarch64", "nginx", 1327104);
	free_all(inv, n);
}

Test(pkg_state, unchanged_until_the_content_changes)
{
	char *root = tu_copy_fixture("debian12");
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, root);
	struct pkg_state st = { 0 };
	size_t n;
	Cairn__PackageInventory **first = collect(&ctx, &st, &n);
	cr_assert_eq(first[0]->n_packages, 6);

	/* same file: not even read again */
	uint64_t runs_items = ctx.stats[COLLECT_PKG].items;
	Cairn__PackageInventory **again = collect(&ctx, &st, &n);
	cr_assert(again[0]->unchanged);
	cr_assert_eq(again[0]->n_packages, 0);
	cr_assert_eq(memcmp(again[0]->content_hash.data, first[0]->content_hash.data, 32), 0);
	cr_assert_eq(ctx.stats[COLLECT_PKG].items, runs_items, "nothing parsed");
	free_all(again, n);

	/* rewritten with the same packages (other description): unchanged by hash */
	char path[4200], *text;
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/status", root);
	cr_assert_eq(file_read_all(path, 1 << 20, &text, NULL, NULL), 0);
	char *copy = malloc(strlen(text) + 256);
	strcpy(copy, text);
	strcat(copy, "\n");
	usleep(20000);
	tu_write(root, "/var/lib/dpkg/status", copy);
	again = collect(&ctx, &st, &n);
	cr_assert(again[0]->unchanged);
	cr_assert_eq(again[0]->n_packages, 0);
	free_all(again, n);

	/* one more package: the full list again, new hash */
	strcpy(copy, text);
	strcat(copy, "\nPackage: zzz\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n");
	tu_write(root, "/var/lib/dpkg/status", copy);
	again = collect(&ctx, &st, &n);
	cr_assert_not(again[0]->unchanged);
	cr_assert_eq(again[0]->n_packages, 7);
	cr_assert_str_eq(again[0]->packages[6]->name, "zzz");
	cr_assert_neq(memcmp(again[0]->content_hash.data, first[0]->content_hash.data, 32), 0);
	free_all(again, n);
	free_all(first, 1);
	free(copy);
	free(text);
	tu_rm_rf(root);
	free(root);
}

Test(pkg_rpm, hanging_rpm_is_killed)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/rhel9");
	str_copy(ctx.rpm_path, FIXTURE_DIR "/bin/hanging-rpm", sizeof(ctx.rpm_path));
	ctx.rpm_timeout_ms = 300;
	uint64_t t0 = time_mono_ms();
	size_t n;
	Cairn__PackageInventory **inv = collect(&ctx, NULL, &n);
	uint64_t took = time_mono_ms() - t0;
	cr_assert_eq(n, 0);
	cr_assert_lt(took, 3000, "took %lu ms", (unsigned long)took);
	cr_assert_geq(took, 300);
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, 1);
	cr_assert(strstr(ctx.stats[COLLECT_PKG].last_error, "did not finish within 300 ms"),
		  "%s", ctx.stats[COLLECT_PKG].last_error);
	free_all(inv, n);
}

/* A fake rpm in a new temporary directory, returned for tu_rm_rf (the
 * fixture's rpm database is used). */
static char *fake_rpm(char *path, size_t n, const char *tag, const char *script)
{
	char *dir = tu_tmpdir(tag);
	tu_write(dir, "/rpm", script);
	snprintf(path, n, "%s/rpm", dir);
	cr_assert_eq(chmod(path, 0755), 0);
	return dir;
}

Test(pkg_rpm, rpm_that_closes_its_output_and_hangs_is_killed, .timeout = 30)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/rhel9");
	char *dir = fake_rpm(ctx.rpm_path, sizeof(ctx.rpm_path), "rpmhang",
		 "#!/bin/sh\nprintf 'a\\t1-1\\tx86_64\\ta.src.rpm\\t1\\n'\nexec >&-\nexec sleep 300\n");
	ctx.rpm_timeout_ms = 300;
	uint64_t t0 = time_mono_ms();
	size_t n;
	Cairn__PackageInventory **inv = collect(&ctx, NULL, &n);
	uint64_t took = time_mono_ms() - t0;
	cr_assert_eq(n, 0);
	cr_assert_lt(took, 3000, "took %lu ms", (unsigned long)took);
	cr_assert(strstr(ctx.stats[COLLECT_PKG].last_error, "did not finish within 300 ms"),
		  "%s", ctx.stats[COLLECT_PKG].last_error);
	free_all(inv, n);
	tu_rm_rf(dir);
	free(dir);
}

Test(pkg_rpm, rpm_inherits_no_agent_descriptor)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/rhel9");
	/* The size field says whether fd 57 (left open without O_CLOEXEC) reached rpm. */
	char *dir = fake_rpm(ctx.rpm_path, sizeof(ctx.rpm_path), "rpmfd",
		 "#!/bin/sh\nif [ -e /proc/$$/fd/57 ]; then s=1; else s=0; fi\n"
		 "printf 'a\\t1-1\\tx86_64\\ta.src.rpm\\t%s\\n' $s\n");
	cr_assert_eq(dup2(1, 57), 57);
	size_t n;
	Cairn__PackageInventory **inv = collect(&ctx, NULL, &n);
	close(57);
	cr_assert_eq(n, 1, "%s", ctx.stats[COLLECT_PKG].last_error);
	cr_assert_eq(inv[0]->n_packages, 1);
	cr_assert_eq(inv[0]->packages[0]->installed_size, 0, "fd 57 was inherited by rpm");
	free_all(inv, n);
	tu_rm_rf(dir);
	free(dir);
}

Test(pkg_rpm, failing_and_overlong_rpm)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/rhel9");
	str_copy(ctx.rpm_path, "/bin/false", sizeof(ctx.rpm_path));
	size_t n;
	Cairn__PackageInventory **inv = collect(&ctx, NULL, &n);
	cr_assert_eq(n, 0);
	cr_assert(strstr(ctx.stats[COLLECT_PKG].last_error, "exited with status 1"),
		  "%s", ctx.stats[COLLECT_PKG].last_error);
	free_all(inv, n);

	str_copy(ctx.rpm_path, FIXTURE_DIR "/bin/fake-rpm", sizeof(ctx.rpm_path));
	ctx.rpm_max_output = 100;
	inv = collect(&ctx, NULL, &n);
	cr_assert_eq(n, 0);
	cr_assert(strstr(ctx.stats[COLLECT_PKG].last_error, "more than 100 bytes"),
		  "%s", ctx.stats[COLLECT_PKG].last_error);
	free_all(inv, n);

	str_copy(ctx.rpm_path, "/nonexistent/rpm", sizeof(ctx.rpm_path));
	ctx.rpm_max_output = 1 << 20;
	inv = collect(&ctx, NULL, &n);
	cr_assert_eq(n, 0);
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, 3);
	free_all(inv, n);
}

Test(pkg_malformed, garbage_in_dpkg_status)
{
	const char text[] =
		"Package: good\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n"
		" continuation of nothing\n"
		"\n"
		"\x01\x02\xff binary garbage without a colon\n"
		": value without a key\n"
		"Package: noversion\nStatus: install ok installed\n"
		"\n"
		"Status: install ok installed\nVersion: 2\n"
		"\n"
		"Package: bad\xff" "utf8\nStatus: install ok installed\nVersion: 3\xfe\n"
		"\n"
		"Package: cut\nStatus: install ok inst";
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/nonexistent");
	Cairn__PackageInventory inv = CAIRN__PACKAGE_INVENTORY__INIT;
	cr_assert_eq(collect_pkg_parse_dpkg_status(&ctx, text, sizeof(text) - 1, &inv), 0);
	cr_assert_eq(inv.n_packages, 2);
	cr_assert_str_eq(inv.packages[0]->name, "good");
	cr_assert_str_eq(inv.packages[1]->name, "bad\xef\xbf\xbdutf8");
	cr_assert_str_eq(inv.packages[1]->version, "3\xef\xbf\xbd");
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, 4, "2 bad lines, 1 without Version, 1 without Package");
	for (size_t i = 0; i < inv.n_packages; i++)
		cairn__package__free_unpacked(inv.packages[i], NULL);
	free(inv.packages);
}

Test(pkg_malformed, garbage_in_apk_and_rpm_output)
{
	const char apk[] = "P:ok\nV:1\n\nthis is not apk\nP:nover\n\nV:2\nA:x86_64\n\nP:last\nV:9";
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/nonexistent");
	Cairn__PackageInventory inv = CAIRN__PACKAGE_INVENTORY__INIT;
	collect_pkg_parse_apk_installed(&ctx, apk, sizeof(apk) - 1, &inv);
	cr_assert_eq(inv.n_packages, 2);
	cr_assert_str_eq(inv.packages[0]->name, "ok");
	cr_assert_str_eq(inv.packages[1]->name, "last", "last entry without a trailing newline");
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, 3);
	const char rpm[] = "a\t1-1\tx86_64\ta.src.rpm\t5\nshort line\n\t\t\t\t\nb\t2-1\tnoarch\t(none)\t0";
	collect_pkg_parse_rpm_output(&ctx, rpm, sizeof(rpm) - 1, &inv);
	cr_assert_eq(inv.n_packages, 4);
	cr_assert_str_eq(inv.packages[3]->name, "b");
	cr_assert_str_eq(inv.packages[3]->source, "");
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, 5);
	for (size_t i = 0; i < inv.n_packages; i++)
		cairn__package__free_unpacked(inv.packages[i], NULL);
	free(inv.packages);
}

/* The parsers take text[0..len) with nothing after it (a fuzzer's buffer, a
 * mapped file): a number that ends the input must not be read past its end.
 * Each input ends right before an inaccessible page, so an over-read crashes
 * (ASan does not see reads inside libc's strtoull). Sizes that are not
 * numbers are counted and read as 0 (or the largest value when too long). */
static void parse_exact(int (*parse)(struct collect_ctx *, const char *, size_t,
				     Cairn__PackageInventory *),
			const char *text, uint64_t want_size, uint64_t want_errors)
{
	size_t len = strlen(text);
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map + page, (size_t)page, PROT_NONE), 0);
	char *exact = map + page - len;
	memcpy(exact, text, len);
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/nonexistent");
	Cairn__PackageInventory inv = CAIRN__PACKAGE_INVENTORY__INIT;
	parse(&ctx, exact, len, &inv);
	cr_assert_eq(inv.n_packages, 1, "%s", text);
	cr_assert_eq(inv.packages[0]->installed_size, want_size, "%s: %llu", text,
		     (unsigned long long)inv.packages[0]->installed_size);
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, want_errors, "%s: %s", text,
		     ctx.stats[COLLECT_PKG].last_error);
	cairn__package__free_unpacked(inv.packages[0], NULL);
	free(inv.packages);
	munmap(map, 2 * (size_t)page);
}

Test(pkg_malformed, numbers_at_the_very_end_and_not_numbers)
{
	parse_exact(collect_pkg_parse_dpkg_status,
		    "Package: a\nStatus: install ok installed\nVersion: 1\nInstalled-Size: 12", 12 * 1024, 0);
	parse_exact(collect_pkg_parse_apk_installed, "P:a\nV:1\nI:4096", 4096, 0);
	parse_exact(collect_pkg_parse_rpm_output, "a\t1-1\tx86_64\ta.src.rpm\t777", 777, 0);
	parse_exact(collect_pkg_parse_dpkg_status,
		    "Package: a\nStatus: install ok installed\nVersion: 1\nInstalled-Size: lots\n", 0, 1);
	parse_exact(collect_pkg_parse_apk_installed, "P:a\nV:1\nI:-5\n", 0, 1);
	parse_exact(collect_pkg_parse_rpm_output, "a\t1-1\tx86_64\ta.src.rpm\t99999999999999999999999\n",
		    UINT64_MAX, 1);
}

Test(pkg_malformed, no_package_manager)
{
	char *root = tu_tmpdir("pkg");
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, root);
	size_t n;
	Cairn__PackageInventory **inv = collect(&ctx, NULL, &n);
	cr_assert_eq(n, 0);
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, 0);
	free_all(inv, n);
	tu_rm_rf(root);
	free(root);
}

/* The installed packages as dpkg-query sees them, sorted like the collector. */
static char *dpkg_query(void)
{
	FILE *p = popen("dpkg-query -W -f '${db:Status-Status}\\t${Package}\\t${Version}\\t"
			"${Architecture}\\n' | awk -F'\\t' '$1==\"installed\" {print $2\"\\t\"$3\"\\t\"$4}' "
			"| LC_ALL=C sort", "r");
	cr_assert_not_null(p);
	size_t cap = 1 << 22, len = 0;
	char *buf = malloc(cap);
	size_t r;
	while ((r = fread(buf + len, 1, cap - 1 - len, p)) > 0)
		len += r;
	buf[len] = '\0';
	cr_assert_eq(pclose(p), 0);
	return buf;
}

Test(pkg_live, dpkg_equals_dpkg_query)
{
	if (access("/var/lib/dpkg/status", R_OK) || access("/usr/bin/dpkg-query", X_OK))
		cr_skip_test("no dpkg on this machine");
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	size_t n;
	Cairn__PackageInventory **inv = collect(&ctx, NULL, &n);
	Cairn__PackageInventory *dpkg = NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(inv[i]->manager, "dpkg"))
			dpkg = inv[i];
	cr_assert_not_null(dpkg);
	cr_assert_eq(ctx.stats[COLLECT_PKG].errors, 0, "%s", ctx.stats[COLLECT_PKG].last_error);
	size_t cap = dpkg->n_packages * 256 + 1, len = 0;
	char *ours = malloc(cap);
	ours[0] = '\0';
	for (size_t i = 0; i < dpkg->n_packages; i++)
		len += (size_t)snprintf(ours + len, cap - len, "%s\t%s\t%s\n", dpkg->packages[i]->name,
					dpkg->packages[i]->version, dpkg->packages[i]->architecture);
	char *theirs = dpkg_query();
	cr_assert_gt(dpkg->n_packages, 10);
	cr_assert_str_eq(ours, theirs);
	free(ours);
	free(theirs);
	free_all(inv, n);
}
