/* `cairn-agent collect`: the JSON document is valid and complete on every
 * fixture and on the live host; usage errors exit 2. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect_testutil.h"
#include "commands.h"

/* Runs collect_main with stdout captured into a file; returns the exit code. */
static int run(char **out, int argc, char **argv)
{
	char *dir = tu_tmpdir("cmd");
	char path[4200];
	snprintf(path, sizeof(path), "%s/out", dir);
	fflush(stdout);
	int saved = dup(1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(saved >= 0 && fd >= 0);
	dup2(fd, 1);
	close(fd);
	optind = 0; /* getopt state is global; every call parses afresh */
	int rc = collect_main(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	FILE *f = fopen(path, "r");
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	rewind(f);
	*out = malloc((size_t)len + 1);
	size_t got = fread(*out, 1, (size_t)len, f);
	(*out)[got] = '\0';
	fclose(f);
	tu_rm_rf(dir);
	free(dir);
	return rc;
}

static json_t *run_json(const char *root)
{
	char *argv[] = { "collect", "--json", "--interval", "50", "--root", (char *)root, NULL };
	char *out;
	int rc = run(&out, root ? 6 : 4, argv);
	cr_assert_eq(rc, 0, "%s", out);
	json_error_t err;
	json_t *doc = json_loads(out, 0, &err);
	cr_assert_not_null(doc, "line %d: %s", err.line, err.text);
	free(out);
	static const char *const keys[] = { "agent_version", "root", "collected_ms", "host", "perf",
		"processes", "process_delta", "listeners", "connections", "packages", "health" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		cr_assert_not_null(json_object_get(doc, keys[i]), "%s missing (root %s)", keys[i],
				   root ? root : "/");
	return doc;
}

Test(cmd_collect, json_on_fixtures)
{
	const char *const trees[] = { "debian12", "rhel9", "alpine" };
	for (size_t i = 0; i < 3; i++) {
		char root[4200];
		snprintf(root, sizeof(root), "%s/%s", FIXTURE_DIR, trees[i]);
		json_t *doc = run_json(root);
		json_t *host = json_object_get(doc, "host");
		cr_assert(json_is_string(json_object_get(host, "hostname")));
		json_t *procs = json_object_get(json_object_get(doc, "processes"), "processes");
		cr_assert_gt(json_array_size(procs), 0);
		json_t *stats = json_object_get(json_object_get(doc, "health"), "stats");
		cr_assert_eq(json_array_size(stats), 5);
		json_decref(doc);
	}
}

Test(cmd_collect, debian12_content)
{
	json_t *doc = run_json(FIXTURE_DIR "/debian12");
	json_t *pk = json_array_get(json_object_get(doc, "packages"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(pk, "manager")), "dpkg");
	cr_assert_eq(json_array_size(json_object_get(pk, "packages")), 6);
	cr_assert_eq(json_string_length(json_object_get(pk, "content_hash")), 64);
	json_t *listeners = json_object_get(json_object_get(doc, "listeners"), "listeners");
	cr_assert_geq(json_array_size(listeners), 1);
	bool tcp = false;
	size_t i;
	json_t *l;
	json_array_foreach(listeners, i, l)
		tcp |= !strcmp(json_string_value(json_object_get(l, "protocol")), "TCP");
	cr_assert(tcp, "enums are written by name");
	json_decref(doc);
}

Test(cmd_collect, json_live)
{
	json_t *doc = run_json(NULL);
	json_t *perf = json_object_get(doc, "perf");
	cr_assert(json_is_object(json_object_get(perf, "cpu_busy_pct")), "rates from two samples");
	json_t *procs = json_object_get(json_object_get(doc, "processes"), "processes");
	bool self = false;
	size_t i;
	json_t *p;
	json_array_foreach(procs, i, p)
		self |= json_integer_value(json_object_get(p, "pid")) == getpid();
	cr_assert(self);
	json_decref(doc);
}

Test(cmd_collect, only_and_people_output)
{
	char *argv[] = { "collect", "--only", "host,pkg", "--root", FIXTURE_DIR "/alpine", NULL };
	char *out;
	cr_assert_eq(run(&out, 5, argv), 0);
	cr_assert(strstr(out, "Host         3f2a1b0c9d8e"), "%s", out);
	cr_assert(strstr(out, "apk   5 installed"), "%s", out);
	cr_assert_null(strstr(out, "Processes"));
	free(out);
}

/* A process chooses its own name and command line: escape sequences, C1
 * controls and newlines in them never reach the terminal of whoever runs
 * `cairn-agent collect`. */
Test(cmd_collect, people_output_has_no_control_characters)
{
	char *root = tu_tmpdir("ctl");
	tu_write(root, "/proc/uptime", "1000.00 900.00\n");
	tu_write(root, "/proc/4242/stat",
		 "4242 (ev\x1b]0;pwn\x07il) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 "
		 "6000 1000000 250 18446744073709551615\n");
	static const char cmd[] = "sh\0-c\0echo \x1b[2J\xc2\x9b" "31mred\nline2\0";
	tu_write_bytes(root, "/proc/4242/cmdline", cmd, sizeof(cmd) - 1);
	char *argv[] = { "collect", "--only", "proc", "--root", root, NULL };
	char *out;
	cr_assert_eq(run(&out, 5, argv), 0);
	cr_assert(strstr(out, "4242"), "%s", out);
	cr_assert_null(strchr(out, '\x1b'), "ESC reached the terminal");
	cr_assert_null(strchr(out, '\x07'), "BEL reached the terminal");
	cr_assert_null(strstr(out, "\xc2\x9b"), "a C1 CSI reached the terminal");
	cr_assert(strstr(out, "red?line2"), "the command line stays on one line: %s", out);
	free(out);
	tu_rm_rf(root);
	free(root);
}

Test(cmd_collect, usage_errors_exit_2)
{
	char *bad_only[] = { "collect", "--only", "host,bogus", NULL };
	char *extra[] = { "collect", "stray", NULL };
	char *bad_root[] = { "collect", "--root", "/nonexistent/tree", NULL };
	char *bad_iv[] = { "collect", "--interval", "0", NULL };
	char *out;
	cr_assert_eq(run(&out, 3, bad_only), 2);
	free(out);
	cr_assert_eq(run(&out, 2, extra), 2);
	free(out);
	cr_assert_eq(run(&out, 3, bad_root), 2);
	free(out);
	cr_assert_eq(run(&out, 3, bad_iv), 2);
	free(out);
}
