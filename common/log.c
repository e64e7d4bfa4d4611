#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "cairn";
/* Read by every thread that logs, written by log_init/log_set_level (e.g. on
 * SIGHUP reload): atomics, so a level change is never a data race. */
static _Atomic int log_max = LOGL_INFO;
static _Atomic int log_journal = -1;

/* JOURNAL_STREAM is "DEV:INODE" of the stream journald gave us; it only
 * applies while stderr is still that very stream (not after a redirect). */
static int detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	if (!js || !*js)
		return 0;
	unsigned long long dev, ino;
	if (sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	struct stat st;
	if (fstat(STDERR_FILENO, &st))
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_max = level;
	log_journal = detect_journal();
}

void log_set_level(enum log_level level)
{
	log_max = level;
}

enum log_level log_get_level(void)
{
	return (enum log_level)log_max;
}

int log_is_journal(void)
{
	int j = log_journal;
	if (j < 0) {
		j = detect_journal();
		log_journal = j;
	}
	return j;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "error", LOGL_ERR }, { "err", LOGL_ERR },	    { "warning", LOGL_WARN },
		{ "warn", LOGL_WARN }, { "notice", LOGL_NOTICE }, { "info", LOGL_INFO },
		{ "debug", LOGL_DEBUG },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i].name)) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOGL_ERR:
		return "error";
	case LOGL_WARN:
		return "warning";
	case LOGL_NOTICE:
		return "notice";
	case LOGL_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int)level > log_max)
		return;
	int saved = errno;
	char line[2048];
	size_t n;
	if (log_is_journal()) {
		n = (size_t)snprintf(line, sizeof(line), "<%d>", (int)level);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%ld] %s: ",
				      ts.tv_nsec / 1000000, log_prog, (long)getpid(),
				      level_name(level));
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	size_t text = n;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += (size_t)m;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* Messages carry names from outside (process names, host names sent by
	 * agents, file contents): a newline or escape sequence in one must not
	 * start a forged log line (under journald, with a priority of its
	 * choosing) or drive the terminal. */
	for (size_t i = text; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			line[i] = '?';
	}
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
	errno = saved;
}
