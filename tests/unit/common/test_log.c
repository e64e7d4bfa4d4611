/* log: plain lines with timestamp and level; syslog priority prefixes when
 * stderr is the journal stream; level filtering. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static char path[64];

/* Points stderr at a fresh file and returns what was logged after fn(). */
static char *capture(void (*fn)(void))
{
	str_copy(path, "/tmp/cairn-test-log-XXXXXX", sizeof(path));
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	return buf;
}

static void plain(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init("cairn-test", LOGL_INFO);
	log_error("disk %s failed", "sda");
	log_debug("hidden");
	log_info("shown");
}

Test(log, plain_text)
{
	char *out = capture(plain);
	cr_assert_not_null(strstr(out, "Z cairn-test["), "%s", out);
	cr_assert_not_null(strstr(out, "] error: disk sda failed\n"), "%s", out);
	cr_assert_not_null(strstr(out, "] info: shown\n"), "%s", out);
	cr_assert_null(strstr(out, "hidden"), "debug shown at info level");
	cr_assert_eq(out[4], '-', "no ISO date at the start: %s", out);
}

/* Makes JOURNAL_STREAM name the current stderr, as systemd does. */
static void stderr_is_journal(void)
{
	struct stat st;
	fstat(STDERR_FILENO, &st);
	char js[64];
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
}

static void journal(void)
{
	stderr_is_journal();
	log_init("cairn-test", LOGL_DEBUG);
	log_error("e");
	log_warn("w");
	log_debug("d");
}

Test(log, journal_priorities)
{
	char *out = capture(journal);
	cr_assert_str_eq(out, "<3>e\n<4>w\n<7>d\n");
}

static void journal_elsewhere(void)
{
	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init("cairn-test", LOGL_INFO);
	log_warn("w");
}

Test(log, journal_stream_of_another_fd_ignored)
{
	char *out = capture(journal_elsewhere);
	cr_assert_null(strstr(out, "<4>"), "%s", out);
	cr_assert_not_null(strstr(out, "warning: w"), "%s", out);
}

Test(log, level_names)
{
	enum log_level l;
	cr_assert_eq(log_level_parse("debug", &l), 0);
	cr_assert_eq(l, LOGL_DEBUG);
	cr_assert_eq(log_level_parse("warning", &l), 0);
	cr_assert_eq(l, LOGL_WARN);
	cr_assert_lt(log_level_parse("loud", &l), 0);
}

static void journal_injection(void)
{
	stderr_is_journal();
	log_init("cairn-test", LOGL_INFO);
	/* A process or host name from outside, trying to forge an emergency line. */
	log_warn("process '%s' skipped", "x\n<0>forged\r\x1b[2J");
}

Test(log, control_characters_cannot_forge_lines)
{
	char *out = capture(journal_injection);
	cr_assert_str_eq(out, "<4>process 'x?<0>forged??[2J' skipped\n");
}
