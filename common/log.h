/* Logging to stderr.
 *
 * Under journald (JOURNAL_STREAM names our stderr) every line is prefixed with
 * its syslog priority ("<3>") so the journal keeps levels; otherwise lines read
 * "2026-11-26T05:38:21.123Z cairn-agent[123] error: ...". Thread-safe: each
 * line is written with one write(2). */
#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

/* Syslog priorities; names chosen not to clash with <syslog.h>. */
enum log_level {
	LOGL_ERR = 3,
	LOGL_WARN = 4,
	LOGL_NOTICE = 5,
	LOGL_INFO = 6,
	LOGL_DEBUG = 7,
};

/* prog appears in plain-text lines; level is the most verbose level shown. */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warning", "notice", "info", "debug"; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out);
/* True when stderr is connected to journald. */
int log_is_journal(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOGL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOGL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOGL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOGL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOGL_DEBUG, __VA_ARGS__)

#endif
