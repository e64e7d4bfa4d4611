/* Config: defaults, value syntax, file:line errors with suggestions, -o
 * overrides, validation and dump round trips. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char path[64];

static void write_conf(const char *text)
{
	str_copy(path, "/tmp/cairn-test-conf-XXXXXX", sizeof(path));
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	size_t len = strlen(text);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void teardown(void)
{
	if (path[0])
		unlink(path);
	path[0] = '\0';
}

TestSuite(config, .fini = teardown);

Test(config, agent_defaults)
{
	struct agent_config c;
	config_agent_defaults(&c);
	cr_assert_eq(c.sample_interval_ms, 15000);
	cr_assert_eq(c.report_interval_ms, 300000);
	cr_assert_eq(c.inventory_interval_ms, 6 * 3600000ull);
	cr_assert_eq(c.spool_max, 256ull << 20);
	cr_assert_eq(c.max_inflight, 8);
	cr_assert_str_eq(c.state_dir, "/var/lib/cairn-agent");
	cr_assert_str_eq(c.root, "/");
	struct errbuf eb;
	cr_assert_eq(config_agent_validate(&c, &eb), 0, "%s", eb.msg);
}

Test(config, collector_defaults)
{
	struct collector_config c;
	config_collector_defaults(&c);
	cr_assert_str_eq(c.listen, "[::]:7415");
	cr_assert_str_eq(c.accept, "explicit");
	cr_assert_str_eq(c.state_dir, "/var/lib/cairn-collector");
	cr_assert_eq(c.max_connections, 20000);
	cr_assert_eq(c.retention_ms, 90ull * 86400000);
	cr_assert_eq(c.retention_raw_ms, 14ull * 86400000);
	cr_assert_eq(c.max_frame, 4u << 20);
	cr_assert_eq(c.max_records, 100000);
	cr_assert_eq(c.max_string, 64u << 10);
	cr_assert_eq(c.handshake_timeout_ms, 10000);
	cr_assert_eq(c.idle_timeout_ms, 15 * 60000);
	cr_assert_eq(c.map_size, 64ull << 20);
	if (sizeof(size_t) >= 8)
		cr_assert_eq(c.map_max, 1ull << 40);
	cr_assert_eq(c.commit_interval_ms, 5);
	cr_assert_eq(c.commit_batches, 256);
	cr_assert_eq(c.recompute_interval_ms, 60000);
	enum accept_mode m;
	cr_assert_eq(config_accept_mode(&c, &m), 0);
	cr_assert_eq(m, ACCEPT_EXPLICIT);
	struct errbuf eb;
	cr_assert_eq(config_collector_validate(&c, &eb), 0, "%s", eb.msg);
}

Test(config, durations)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} ok[] = {
		{ "15s", 15000 }, { "5m", 300000 }, { "6h", 21600000 },	{ "90d", 7776000000ull },
		{ "250ms", 250 }, { "10", 10000 },  { "0", 0 },		{ "0ms", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		uint64_t v = 1;
		cr_assert_eq(config_parse_duration(ok[i].s, &v), 0, "'%s' rejected", ok[i].s);
		cr_assert_eq(v, ok[i].ms, "'%s' = %llu", ok[i].s, (unsigned long long)v);
	}
	static const char *const bad[] = { "",	 "s",	"15q", "-5s", "1.5h", "15 s", " 15s",
					   "15S", "5mm", "h5", "0x10", "18446744073709551616",
					   "999999999999999999d" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t v;
		cr_assert_lt(config_parse_duration(bad[i], &v), 0, "'%s' accepted", bad[i]);
	}
}

Test(config, sizes)
{
	static const struct {
		const char *s;
		uint64_t b;
	} ok[] = {
		{ "256MiB", 256ull << 20 }, { "1KiB", 1024 },	   { "2GiB", 2ull << 30 },
		{ "1TiB", 1ull << 40 },	    { "100", 100 },	   { "100B", 100 },
		{ "1k", 1000 },		    { "2GB", 2000000000 }, { "3M", 3000000 },
		{ "64kib", 65536 },	    { "0", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		uint64_t v = 1;
		cr_assert_eq(config_parse_size(ok[i].s, &v), 0, "'%s' rejected", ok[i].s);
		cr_assert_eq(v, ok[i].b, "'%s' = %llu", ok[i].s, (unsigned long long)v);
	}
	static const char *const bad[] = { "", "MiB", "12XB", "1.5G", "-1", "1 MiB", "1MiBs",
					   "99999999TiB", "256Mi" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t v;
		cr_assert_lt(config_parse_size(bad[i], &v), 0, "'%s' accepted", bad[i]);
	}
}

Test(config, formatting)
{
	char buf[32];
	config_format_duration(15000, buf, sizeof(buf));
	cr_assert_str_eq(buf, "15s");
	config_format_duration(90ull * 86400000, buf, sizeof(buf));
	cr_assert_str_eq(buf, "90d");
	config_format_duration(250, buf, sizeof(buf));
	cr_assert_str_eq(buf, "250ms");
	config_format_duration(90 * 60000, buf, sizeof(buf));
	cr_assert_str_eq(buf, "90m");
	config_format_size(256ull << 20, buf, sizeof(buf));
	cr_assert_str_eq(buf, "256MiB");
	config_format_size(1000, buf, sizeof(buf));
	cr_assert_str_eq(buf, "1000B");
}

Test(config, hostport)
{
	char host[64];
	uint16_t port;
	cr_assert_eq(config_split_hostport("collector.example.net:7415", host, sizeof(host), &port), 0);
	cr_assert_str_eq(host, "collector.example.net");
	cr_assert_eq(port, 7415);
	cr_assert_eq(config_split_hostport("[::1]:99", host, sizeof(host), &port), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(port, 99);
	cr_assert_eq(config_split_hostport("[fe80::1]", host, sizeof(host), &port), 0);
	cr_assert_str_eq(host, "fe80::1");
	cr_assert_eq(port, 0);
	cr_assert_eq(config_split_hostport("10.0.0.1", host, sizeof(host), &port), 0);
	cr_assert_str_eq(host, "10.0.0.1");
	cr_assert_eq(port, 0);
	static const char *const bad[] = { "", ":80", "host:", "host:99999", "host:8x",
					   "[::1", "[::1]x", "[]:80", "a b:1" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		cr_assert_lt(config_split_hostport(bad[i], host, sizeof(host), &port), 0,
			     "'%s' accepted", bad[i]);
	cr_assert_lt(config_split_hostport("averyveryverylonghostname:1", host, 8, &port), 0);
}

Test(config, file_loads_with_comments)
{
	write_conf("# cairn agent\n"
		   "[agent]\n"
		   "collector = collector.example.net:7415   # host:port, pinned below\n"
		   "collector_key = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
		   "sample_interval = 30s ; inline\n"
		   "report_interval=10m\n"
		   "spool_max = 1GiB\r\n"
		   "state_dir = /srv/cairn\n"
		   "\n"
		   "max_inflight = 16\n");
	struct agent_config c;
	config_agent_defaults(&c);
	struct errbuf eb;
	cr_assert_eq(config_agent_load(&c, path, &eb), 0, "%s", eb.msg);
	cr_assert_str_eq(c.collector, "collector.example.net:7415");
	cr_assert_eq(c.sample_interval_ms, 30000);
	cr_assert_eq(c.report_interval_ms, 600000);
	cr_assert_eq(c.spool_max, 1ull << 30);
	cr_assert_str_eq(c.state_dir, "/srv/cairn");
	cr_assert_eq(c.max_inflight, 16);
	cr_assert_eq(c.inventory_interval_ms, 6 * 3600000ull, "untouched keys keep defaults");
	cr_assert_eq(config_agent_validate(&c, &eb), 0, "%s", eb.msg);
}

Test(config, unknown_key_names_file_line_and_suggests)
{
	write_conf("[collector]\n"
		   "\n"
		   "listn = [::]:7000\n");
	struct collector_config c;
	config_collector_defaults(&c);
	struct errbuf eb;
	cr_assert_eq(config_collector_load(&c, path, &eb), -EINVAL);
	char want[128];
	snprintf(want, sizeof(want), "%s:3: unknown key 'listn' in [collector] (did you mean 'listen'?)",
		 path);
	cr_assert_str_eq(eb.msg, want);
}

Test(config, no_suggestion_for_unrelated_key)
{
	write_conf("[agent]\nfrobnicate_everything = 1\n");
	struct agent_config c;
	config_agent_defaults(&c);
	struct errbuf eb;
	cr_assert_eq(config_agent_load(&c, path, &eb), -EINVAL);
	cr_assert_null(strstr(eb.msg, "did you mean"), "%s", eb.msg);
	cr_assert_not_null(strstr(eb.msg, ":2: unknown key"), "%s", eb.msg);
}

static void collect(const char *msg, void *arg)
{
	char *all = arg;
	strncat(all, msg, 4000 - strlen(all));
	strncat(all, "\n", 4000 - strlen(all));
}

Test(config, every_error_reported_with_its_line)
{
	write_conf("[agent]\n"
		   "sample_interval = 15q\n"
		   "spool_max = lots\n"
		   "max_inflight = -1\n"
		   "log_level = loud\n"
		   "this line has no equals sign\n"
		   "[agnet]\n"
		   "root = /\n");
	struct agent_config c;
	config_agent_defaults(&c);
	char all[4001] = "";
	struct errbuf eb;
	int n = config_agent_load_report(&c, path, collect, all, &eb);
	cr_assert_eq(n, 6, "errors: %d\n%s", n, all);
	const char *lines[] = { ":2: sample_interval: '15q' is not a duration",
				":3: spool_max: 'lots' is not a size", ":4: max_inflight",
				":5: log_level", ":6: syntax error", ":7: unknown section [agnet]" };
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		cr_assert_not_null(strstr(all, lines[i]), "missing '%s' in:\n%s", lines[i], all);
	cr_assert_eq(c.sample_interval_ms, 15000, "a bad value must not change the field");
}

Test(config, over_long_line_is_an_error_not_a_split)
{
	char text[1200];
	char longval[1000];
	memset(longval, 'a', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	snprintf(text, sizeof(text), "[agent]\nroot = /%s\nspool_max = 2MiB\n", longval);
	write_conf(text);
	struct agent_config c;
	config_agent_defaults(&c);
	char all[4001] = "";
	struct errbuf eb;
	int n = config_agent_load_report(&c, path, collect, all, &eb);
	cr_assert_eq(n, 1, "%s", all);
	cr_assert_not_null(strstr(all, ":2: line is too long"), "%s", all);
	cr_assert_eq(c.spool_max, 2u << 20, "the next line is read normally");
	cr_assert_str_eq(c.root, "/");
}

Test(config, missing_file)
{
	struct agent_config c;
	config_agent_defaults(&c);
	struct errbuf eb;
	cr_assert_eq(config_agent_load(&c, "/nonexistent/cairn.conf", &eb), -ENOENT);
	cr_assert_not_null(strstr(eb.msg, "/nonexistent/cairn.conf"));
}

Test(config, overrides)
{
	struct collector_config c;
	config_collector_defaults(&c);
	struct errbuf eb;
	cr_assert_eq(config_collector_set(&c, "retention=30d", &eb), 0, "%s", eb.msg);
	cr_assert_eq(c.retention_ms, 30ull * 86400000);
	cr_assert_eq(config_collector_set(&c, "collector.accept=any", &eb), 0, "%s", eb.msg);
	cr_assert_str_eq(c.accept, "any");
	cr_assert_eq(config_collector_set(&c, "map_size = 1MiB", &eb), 0, "%s", eb.msg);
	cr_assert_eq(c.map_size, 1u << 20);
	cr_assert_eq(config_collector_set(&c, "accept=sometimes", &eb), -EINVAL);
	cr_assert_not_null(strstr(eb.msg, "explicit|token|any"), "%s", eb.msg);
	cr_assert_eq(config_collector_set(&c, "agent.listen=x", &eb), -EINVAL);
	cr_assert_eq(config_collector_set(&c, "max_conections=5", &eb), -EINVAL);
	cr_assert_not_null(strstr(eb.msg, "did you mean 'max_connections'"), "%s", eb.msg);
	cr_assert_eq(config_collector_set(&c, "listen", &eb), -EINVAL);
	cr_assert_eq(config_collector_set(&c, "=5", &eb), -EINVAL);
	cr_assert_eq(config_collector_set(&c, "max_records=4294967296", &eb), -EINVAL);
}

Test(config, string_too_long_rejected)
{
	struct agent_config c;
	config_agent_defaults(&c);
	char a[CONFIG_STR_MAX + 20];
	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(a, "collector=", 10);
	struct errbuf eb;
	cr_assert_eq(config_agent_set(&c, a, &eb), -EINVAL);
	cr_assert_str_eq(c.collector, "");
}

Test(config, agent_validation)
{
	struct agent_config c;
	struct errbuf eb;
	static const char *const bad[] = {
		"report_interval=1s",	  "collector_key=abcd",	  "collector=host:99999",
		"root=relative/dir",	  "spool_max=1KiB",	  "sample_interval=0",
		"max_inflight=0",	  "inventory_interval=1s",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		config_agent_defaults(&c);
		cr_assert_eq(config_agent_set(&c, bad[i], &eb), 0, "%s: %s", bad[i], eb.msg);
		cr_assert_eq(config_agent_validate(&c, &eb), -EINVAL, "'%s' passed validation",
			     bad[i]);
	}
	config_agent_defaults(&c);
	config_agent_set(&c, "enroll_token=s3cret", &eb);
	config_agent_set(&c, "enroll_token_file=/etc/cairn/token", &eb);
	cr_assert_eq(config_agent_validate(&c, &eb), -EINVAL);
}

Test(config, collector_validation)
{
	struct collector_config c;
	struct errbuf eb;
	static const char *const bad[] = {
		"accept=token",		"max_connections=0", "max_frame=1KiB",
		"map_max=1MiB",		"listen=[::1",	     "commit_batches=0",
		"handshake_timeout=0", "max_records=0",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		config_collector_defaults(&c);
		cr_assert_eq(config_collector_set(&c, bad[i], &eb), 0, "%s: %s", bad[i], eb.msg);
		cr_assert_eq(config_collector_validate(&c, &eb), -EINVAL, "'%s' passed validation",
			     bad[i]);
	}
	config_collector_defaults(&c);
	config_collector_set(&c, "accept=token", &eb);
	config_collector_set(&c, "enroll_token_file=/etc/cairn/enroll.token", &eb);
	cr_assert_eq(config_collector_validate(&c, &eb), 0, "%s", eb.msg);
}

static void collect_msg(const char *msg, void *arg)
{
	char *all = arg;
	strncat(all, msg, 4095 - strlen(all));
	strncat(all, "\n", 4095 - strlen(all));
}

/* check-config reports every cross-key problem in one run, not the first. */
Test(config, check_reports_every_problem)
{
	struct agent_config c;
	struct errbuf eb;
	config_agent_defaults(&c);
	cr_assert_eq(config_agent_check(&c, collect_msg, (char[4096]){ 0 }), 0);
	const char *bad[] = { "collector_key=abcd", "root=relative", "spool_max=1KiB",
			      "max_inflight=0" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		cr_assert_eq(config_agent_set(&c, bad[i], &eb), 0, "%s", eb.msg);
	char all[4096] = "";
	cr_assert_eq(config_agent_check(&c, collect_msg, all), 4, "%s", all);
	cr_assert(strstr(all, "collector_key: not a 64-digit hex public key"), "%s", all);
	cr_assert(strstr(all, "root: 'relative' must be an absolute path"), "%s", all);
	cr_assert(strstr(all, "spool_max"), "%s", all);
	cr_assert(strstr(all, "max_inflight"), "%s", all);
	cr_assert_eq(config_agent_validate(&c, &eb), -EINVAL);
	cr_assert(strstr(eb.msg, "collector_key"), "validate keeps the first error: %s", eb.msg);

	struct collector_config cc;
	config_collector_defaults(&cc);
	config_collector_set(&cc, "accept=token", &eb);
	config_collector_set(&cc, "max_connections=0", &eb);
	all[0] = '\0';
	cr_assert_eq(config_collector_check(&cc, collect_msg, all), 2, "%s", all);
	cr_assert(strstr(all, "accept = token needs enroll_token_file"), "%s", all);
}

Test(config, dump_reloads_identically)
{
	struct collector_config c, back;
	struct errbuf eb;
	config_collector_defaults(&c);
	cr_assert_eq(config_collector_set(&c, "retention=36h", &eb), 0);
	cr_assert_eq(config_collector_set(&c, "commit_interval=250ms", &eb), 0);
	cr_assert_eq(config_collector_set(&c, "map_size=3000", &eb), 0);
	cr_assert_eq(config_collector_set(&c, "catalog=/srv/catalog.csv", &eb), 0);
	str_copy(path, "/tmp/cairn-test-dump-XXXXXX", sizeof(path));
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	config_collector_dump(&c, f);
	fclose(f);
	config_collector_defaults(&back);
	cr_assert_eq(config_collector_load(&back, path, &eb), 0, "%s", eb.msg);
	cr_assert_eq(memcmp(&c, &back, sizeof(c)), 0, "dumped config reads back differently");

	struct agent_config a, aback;
	config_agent_defaults(&a);
	cr_assert_eq(config_agent_set(&a, "enroll_token=s3cret", &eb), 0);
	f = fopen(path, "w");
	config_agent_dump(&a, f);
	fclose(f);
	char *text;
	cr_assert_eq(file_read_all(path, 1 << 16, &text, NULL, &eb), 0);
	cr_assert_null(strstr(text, "s3cret"), "the dump shows a secret:\n%s", text);
	free(text);
	config_agent_defaults(&aback);
	cr_assert_eq(config_agent_load(&aback, path, &eb), 0, "%s", eb.msg);
	cr_assert_str_eq(aback.enroll_token, "");
	str_copy(aback.enroll_token, "s3cret", sizeof(aback.enroll_token));
	cr_assert_eq(memcmp(&a, &aback, sizeof(a)), 0);
}

Test(config, keys_outside_a_section_belong_to_the_program)
{
	write_conf("state_dir = /srv/x\n[agent]\nroot = /mnt/fixture\n");
	struct agent_config c;
	config_agent_defaults(&c);
	struct errbuf eb;
	cr_assert_eq(config_agent_load(&c, path, &eb), 0, "%s", eb.msg);
	cr_assert_str_eq(c.state_dir, "/srv/x");
	cr_assert_str_eq(c.root, "/mnt/fixture");
}

Test(config, error_on_a_very_long_path_stays_in_bounds)
{
	/* "/tmp/./././..." names /tmp with a path longer than any message
	 * buffer: the error must still be reported, truncated, never written
	 * past its buffer (ASan). */
	char longpath[3000];
	size_t n = str_copy(longpath, "/tmp", sizeof(longpath));
	while (n < 2000)
		n += str_copy(longpath + n, "/.", sizeof(longpath) - n);
	str_copy(longpath + n, "/cairn-test-conf-XXXXXX", sizeof(longpath) - n);
	int fd = mkstemp(longpath);
	cr_assert_geq(fd, 0);
	const char *text = "[agent]\nsample_intervl = 5s\n";
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct agent_config c;
	config_agent_defaults(&c);
	struct errbuf eb;
	int rc = config_agent_load(&c, longpath, &eb);
	unlink(longpath);
	cr_assert_eq(rc, -EINVAL);
	cr_assert_eq(strncmp(eb.msg, "/tmp/./.", 8), 0, "%s", eb.msg);
	cr_assert_lt(strlen(eb.msg), sizeof(eb.msg));
}

Test(config, misspelled_secret_override_is_not_echoed)
{
	struct agent_config c;
	config_agent_defaults(&c);
	struct errbuf eb;
	cr_assert_eq(config_agent_set(&c, "enrol_token=hunter2-s3cret", &eb), -EINVAL);
	cr_assert_null(strstr(eb.msg, "hunter2"), "secret echoed: %s", eb.msg);
	cr_assert_not_null(strstr(eb.msg, "did you mean 'enroll_token'"), "%s", eb.msg);
	char big[PATH_MAX + 40];
	int n = snprintf(big, sizeof(big), "enroll_token=hunter2");
	memset(big + n, 'x', sizeof(big) - (size_t)n - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(config_agent_set(&c, big, &eb), -EINVAL);
	cr_assert_null(strstr(eb.msg, "hunter2"), "secret echoed: %s", eb.msg);
}
