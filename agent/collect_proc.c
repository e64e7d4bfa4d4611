/* Process collector; see collect_proc.h for the contract. */
#include "collect_proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pbjson.h"
#include "util.h"

#define PF_KTHREAD_FLAG 0x00200000u
#define CMDLINE_READ_MAX 16384     /* raw bytes of /proc/PID/cmdline read at most */
#define STAT_READ_MAX 1024
#define CGROUP_READ_MAX 8192

/* ------------------------------------------------------------ /proc/PID/stat */

struct stat_fields {
	char comm[64];
	char state;
	uint32_t ppid;
	uint32_t flags;
	uint64_t utime, stime;
	uint32_t threads;
	uint64_t starttime;
	uint64_t rss_pages;
};

/* Parses "pid (comm) state ppid ... rss ..."; comm may hold spaces and ')',
 * so it ends at the last ')'. -EINVAL for anything truncated or malformed. */
static int parse_stat(const char *buf, struct stat_fields *f)
{
	const char *open = strchr(buf, '(');
	const char *close = strrchr(buf, ')');
	if (!open || !close || close < open || close[1] != ' ')
		return -EINVAL;
	size_t clen = (size_t)(close - open - 1);
	char raw[64];
	if (clen >= sizeof(raw))
		clen = sizeof(raw) - 1;
	memcpy(raw, open + 1, clen);
	pbjson_utf8_sanitize(f->comm, sizeof(f->comm), raw, clen);

	/* Fields 3..24 after ") ", numbered as in proc(5). */
	const char *p = close + 2;
	uint64_t v[25] = { 0 };
	if (!*p || p[1] != ' ')
		return -EINVAL;
	f->state = *p;
	p += 2;
	for (int field = 4; field <= 24; field++) {
		char *end;
		errno = 0;
		if (*p == '-') /* signed fields (priority, nice, cutime ...) are not used */
			(void)strtoll(p, &end, 10);
		else
			v[field] = strtoull(p, &end, 10);
		if (end == p || errno || (*end != ' ' && *end != '\n' && *end != '\0'))
			return -EINVAL;
		if (field < 24 && *end != ' ')
			return -EINVAL; /* truncated line */
		p = end + (*end == ' ');
	}
	f->ppid = (uint32_t)v[4];
	f->flags = (uint32_t)v[9];
	f->utime = v[14];
	f->stime = v[15];
	f->threads = (uint32_t)v[20];
	f->starttime = v[22];
	f->rss_pages = v[24];
	return 0;
}

static bool is_kernel_thread(uint32_t pid, const struct stat_fields *f)
{
	return (f->flags & PF_KTHREAD_FLAG) || pid == 2 || f->ppid == 2;
}

static int read_stat(struct collect_ctx *ctx, uint32_t pid, struct stat_fields *f)
{
	char path[64], buf[STAT_READ_MAX];
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	ssize_t n = collect_read(ctx, path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ENOENT; /* a zombie being reaped reads empty */
	return parse_stat(buf, f);
}

/* --------------------------------------------------------------- identity */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

enum interp { I_NONE, I_JAVA, I_PYTHON, I_NODE, I_RUBY, I_PHP, I_PERL, I_SHELL };

static const char *const shells[] = { "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", NULL };

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static enum interp interpreter_of(const char *base)
{
	if (in_list(base, shells))
		return I_SHELL;
	if (!strcmp(base, "java"))
		return I_JAVA;
	if (has_prefix(base, "python") || has_prefix(base, "pypy"))
		return I_PYTHON;
	if (!strcmp(base, "node") || !strcmp(base, "nodejs"))
		return I_NODE;
	if (has_prefix(base, "ruby"))
		return I_RUBY;
	if (has_prefix(base, "php") && !has_prefix(base, "php-fpm"))
		return I_PHP;
	if (has_prefix(base, "perl"))
		return I_PERL;
	return I_NONE;
}

/* Options of each interpreter that take the next argument as their value. */
static const char *const java_value_opts[] = { "-cp", "-classpath", "--class-path", "-p",
	"--module-path", "--add-opens", "--add-exports", "--add-modules", "--add-reads",
	"--patch-module", "--upgrade-module-path", "--limit-modules", "-splash", NULL };
static const char *const python_value_opts[] = { "-W", "-X", "-Q", "--check-hash-based-pycs",
	NULL };
static const char *const node_value_opts[] = { "-r", "--require", "--loader", "--import",
	"--experimental-loader", "--env-file", "--title", NULL };
static const char *const ruby_value_opts[] = { "-r", "-I", "-C", "-E", "--encoding", NULL };
static const char *const php_value_opts[] = { "-c", "-d", "-z", "-S", "-t", NULL };
static const char *const perl_value_opts[] = { "-I", "-M", "-m", "-x", NULL };
static const char *const shell_value_opts[] = { "-o", "-O", "+O", "--rcfile", "--init-file",
	NULL };

/* The "what it runs" part for an interpreter, or "" (fills tgt). Returns
 * the index of the first argument after it (nargs when there is none, or
 * when what it runs is inline code, which takes no subcommand). */
static size_t interpreter_target(enum interp in, char *const *args, size_t nargs, char *tgt,
				 size_t n)
{
	const char *const *value_opts = in == I_JAVA ? java_value_opts
		: in == I_PYTHON ? python_value_opts
		: in == I_NODE ? node_value_opts
		: in == I_RUBY ? ruby_value_opts
		: in == I_PHP ? php_value_opts
		: in == I_SHELL ? shell_value_opts : perl_value_opts;
	tgt[0] = '\0';
	for (size_t i = 1; i < nargs; i++) {
		const char *a = args[i];
		if (!strcmp(a, "--")) {
			if (i + 1 < nargs)
				str_copy(tgt, args[i + 1], n);
			return i + 2;
		}
		if (in == I_JAVA) {
			if (!strcmp(a, "-jar") || !strcmp(a, "-m") || !strcmp(a, "--module")) {
				if (i + 1 < nargs)
					str_copy(tgt, args[i + 1], n);
				return i + 2;
			}
			if (has_prefix(a, "--module=")) {
				str_copy(tgt, a + 9, n);
				return i + 1;
			}
		}
		if (in == I_PYTHON && (!strcmp(a, "-m") || has_prefix(a, "-m"))) {
			const char *mod = a[2] ? a + 2 : (i + 1 < nargs ? args[i + 1] : "");
			snprintf(tgt, n, "-m %s", mod);
			return a[2] ? i + 1 : i + 2;
		}
		if (in == I_SHELL && !strcmp(a, "-c"))
			return nargs; /* inline command: the shell is all one can name */
		if ((in == I_PYTHON && !strcmp(a, "-c")) ||
		    ((in == I_NODE || in == I_RUBY || in == I_PERL) &&
		     (!strcmp(a, "-e") || !strcmp(a, "--eval"))) ||
		    (in == I_PHP && !strcmp(a, "-r"))) {
			str_copy(tgt, a, n);
			return nargs;
		}
		if (in == I_PHP && !strcmp(a, "-f")) {
			if (i + 1 < nargs)
				str_copy(tgt, args[i + 1], n);
			return i + 2;
		}
		if (a[0] == '-' || a[0] == '@' || (in == I_SHELL && a[0] == '+')) {
			if (in_list(a, value_opts))
				i++;
			continue;
		}
		str_copy(tgt, a, n);
		return i + 1;
	}
	return nargs;
}

/* A subcommand, role or app name: starts with a letter, then letters,
 * digits and "_.:-", at most 64 bytes. Paths, numbers, addresses, URLs and
 * key=value settings are not: they are per-instance values that may change
 * at a restart (a port, a temp file, a date). */
static bool is_word(const char *a)
{
	if (!((a[0] >= 'a' && a[0] <= 'z') || (a[0] >= 'A' && a[0] <= 'Z')))
		return false;
	size_t len = 0;
	for (const char *c = a; *c; c++, len++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == ':' ||
			  *c == '-';
		if (!ok || len >= 64)
			return false;
	}
	return true;
}

/* The dispatcher rule: scripts such as `services.py billing`, `manage.py
 * runserver`, `artisan queue:work` or `run.sh worker` are different
 * programs per first argument. Returns the first non-option argument from
 * args[from] on when it is a word (see is_word), or NULL. Option values that
 * are not words (`--port 8000 billing`) are skipped; a word right after an
 * option (`-A proj worker`) cannot be told from a subcommand and is taken:
 * either way it is stable across restarts and tells programs apart. */
static const char *dispatcher_subcommand(char *const *args, size_t nargs, size_t from)
{
	bool after_option = false;
	for (size_t i = from; i < nargs; i++) {
		const char *a = args[i];
		if (!strcmp(a, "--"))
			return i + 1 < nargs && is_word(args[i + 1]) ? args[i + 1] : NULL;
		if (a[0] == '-') {
			after_option = !strchr(a, '=');
			continue;
		}
		if (is_word(a))
			return a;
		if (!after_option)
			return NULL; /* a file, number or address as the argument: no dispatcher */
		after_option = false;
	}
	return NULL;
}

/* --------------------------------------------------- python app servers */

/* gunicorn's and uWSGI's options that take a value, so that the value is
 * not mistaken for the application. */
static const char *const gunicorn_value_opts[] = { "-c", "--config", "-b", "--bind", "-w",
	"--workers", "-k", "--worker-class", "--threads", "--chdir", "--access-logfile",
	"--error-logfile", "--log-file", "--log-level", "-t", "--timeout", "--graceful-timeout",
	"--keep-alive", "-p", "--pid", "-u", "--user", "-g", "--group", "-n", "--name",
	"--max-requests", "--max-requests-jitter", "--worker-connections", "--log-config", "-e",
	"--env", "--forwarded-allow-ips", "--pythonpath", "--umask", "--backlog",
	"--worker-tmp-dir", "--access-logformat", "--certfile", "--keyfile", "--statsd-host",
	NULL };
static const char *const uwsgi_app_opts[] = { "--module", "-w", "--wsgi", "--wsgi-file",
	"--file", "--mount", "--ini", "--yaml", "-y", "--xml", "-x", "--json", "-j", NULL };

enum app_server { AS_NONE, AS_GUNICORN, AS_UWSGI };

static enum app_server app_server_of(const char *name)
{
	const char *b = base_name(name);
	if (!strcmp(b, "gunicorn") || !strcmp(b, "gunicorn3") || !strcmp(b, "-m gunicorn"))
		return AS_GUNICORN;
	if (!strcmp(b, "uwsgi") || has_prefix(b, "uwsgi-") || has_prefix(b, "uWSGI"))
		return AS_UWSGI;
	return AS_NONE;
}

/* The application an app server runs: gunicorn's positional APP_MODULE
 * ("myapp.wsgi:application"), or the "[...]" of its rewritten title
 * ("gunicorn: worker [myapp.wsgi:application]"); uWSGI's --module, --wsgi-file
 * or config file (--ini ...). "" when none is given. */
static void app_server_app(enum app_server as, char *const *args, size_t nargs, size_t from,
			   char *app, size_t n)
{
	app[0] = '\0';
	if (nargs && strchr(args[0], '[')) {
		const char *open = strchr(args[0], '[');
		size_t len = strcspn(open + 1, "]");
		if (open[1 + len] == ']' && len && len < n) {
			memcpy(app, open + 1, len);
			app[len] = '\0';
			return;
		}
	}
	for (size_t i = from; i < nargs; i++) {
		const char *a = args[i];
		if (as == AS_UWSGI) {
			for (const char *const *o = uwsgi_app_opts; *o; o++) {
				size_t ol = strlen(*o);
				if (!strncmp(a, *o, ol) && a[ol] == '=') {
					str_copy(app, a + ol + 1, n);
					return;
				}
			}
			if (in_list(a, uwsgi_app_opts)) {
				if (i + 1 < nargs)
					str_copy(app, args[i + 1], n);
				return;
			}
			if (a[0] != '-' && (i == from || args[i - 1][0] != '-')) {
				str_copy(app, a, n); /* `uwsgi app.ini` */
				return;
			}
			continue;
		}
		if (a[0] == '-') {
			if (in_list(a, gunicorn_value_opts))
				i++;
			continue;
		}
		str_copy(app, a, n);
		return;
	}
}

/* Splits a NUL-separated buffer into at most max pointers (buffer stays
 * owned by the caller and must end with NUL). */
static size_t split_args(const char *argv, size_t len, char **args, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n < max;) {
		args[n++] = (char *)argv + i;
		i += strnlen(argv + i, len - i) + 1;
	}
	return n;
}

void collect_proc_identity(const char *exe, const char *comm, const char *argv, size_t argv_len,
		   char *out, size_t n)
{
	char base[256] = "";
	char copy[2048];
	char *args[64];
	size_t nargs = 0;
	if (n == 0)
		return;
	out[0] = '\0';
	if (argv && argv_len) {
		size_t cl = argv_len < sizeof(copy) - 1 ? argv_len : sizeof(copy) - 1;
		memcpy(copy, argv, cl);
		copy[cl] = '\0';
		nargs = split_args(copy, cl + 1, args, ARRAY_SIZE(args));
		if (nargs && !args[nargs - 1][0] && nargs > 1)
			nargs--; /* trailing NUL terminator yields an empty last arg */
	}
	if (exe && *exe) {
		str_copy(base, base_name(exe), sizeof(base));
		char *deleted = strstr(base, " (deleted)");
		if (deleted)
			*deleted = '\0';
	} else if (nargs && args[0][0]) {
		/* argv[0] may be a rewritten title ("nginx: worker process"). */
		char first[256];
		str_copy(first, args[0], sizeof(first));
		first[strcspn(first, " :")] = '\0';
		str_copy(base, base_name(first), sizeof(base));
	}
	if (!base[0])
		str_copy(base, comm ? comm : "", sizeof(base));
	/* Multi-call binaries: Debian's redis-server is a link to redis-check-rdb,
	 * busybox serves sh, ls ... The name it was started as (argv[0], which
	 * the kernel's comm confirms unless the title was rewritten) is what a
	 * person knows the service by, and it stays the same across restarts. */
	if (nargs && args[0][0] && comm && *comm) {
		char first[256];
		str_copy(first, args[0], sizeof(first));
		first[strcspn(first, " :")] = '\0';
		const char *invoked = base_name(first);
		/* python3.11 started as "python3" keeps its exact name; busybox
		 * started as "sh" is the shell. */
		if (*invoked && strcmp(invoked, base) &&
		    (interpreter_of(invoked) == I_NONE || interpreter_of(base) == I_NONE) &&
		    !strncmp(invoked, comm, strlen(comm)))
			str_copy(base, invoked, sizeof(base));
	}

	enum interp in = interpreter_of(base);
	char target[PROC_IDENTITY_MAX] = "";
	const char *subcommand = NULL;
	size_t next = 1;
	if (in != I_NONE && nargs)
		next = interpreter_target(in, args, nargs, target, sizeof(target));
	/* An app server is named by the application it serves, the same
	 * whether or not it rewrote its title and whichever python runs it. */
	char title[256] = "";
	if (nargs) {
		str_copy(title, args[0], sizeof(title));
		title[strcspn(title, " :")] = '\0';
	}
	enum app_server as = app_server_of(base);
	if (as == AS_NONE)
		as = app_server_of(title);
	if (as == AS_NONE && target[0])
		as = app_server_of(target);
	if (as != AS_NONE) {
		char app[PROC_IDENTITY_MAX] = "";
		app_server_app(as, args, nargs, target[0] ? next : 1, app, sizeof(app));
		char tmp[PROC_IDENTITY_MAX * 2];
		snprintf(tmp, sizeof(tmp), "%s%s%s", as == AS_GUNICORN ? "gunicorn" : "uwsgi",
			 app[0] ? " " : "", app);
		pbjson_utf8_sanitize(out, n, tmp, strlen(tmp));
		return;
	}
	if (in != I_NONE && nargs) {
		if (target[0] && in != I_JAVA && in != I_NODE)
			subcommand = dispatcher_subcommand(args, nargs, next);
		if (!target[0] && args[0][0] && in != I_SHELL) {
			/* A rewritten process title ("puma 6.4 (tcp://...)") names the app. */
			const char *tb = base_name(title);
			if (*tb && interpreter_of(tb) == I_NONE)
				str_copy(target, tb, sizeof(target));
		}
	}
	char tmp[PROC_IDENTITY_MAX * 2];
	if (target[0] && subcommand)
		snprintf(tmp, sizeof(tmp), "%s %s %s", base, target, subcommand);
	else if (target[0])
		snprintf(tmp, sizeof(tmp), "%s %s", base, target);
	else
		str_copy(tmp, base, sizeof(tmp));
	pbjson_utf8_sanitize(out, n, tmp, strlen(tmp));
}

/* ------------------------------------------------------------- container id */

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool collect_proc_container_id(const char *text, char out[static PROC_CONTAINER_ID_MAX])
{
	const char *line = text;
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *found = NULL;
		for (size_t i = 0; i + 64 <= len; i++) {
			if (!is_hex(line[i]))
				continue;
			size_t j = i;
			while (j < len && is_hex(line[j]))
				j++;
			char before = i ? line[i - 1] : '/';
			char after = j < len ? line[j] : '\n';
			bool bounded = (before == '/' || before == '-' || before == ':') &&
				       (after == '/' || after == '.' || after == '\n');
			if (j - i == 64 && bounded) {
				/* podman's conmon runs beside the container, not in it. */
				const char *seg = line + i;
				while (seg > line && seg[-1] != '/')
					seg--;
				if (!memmem(seg, (size_t)(line + i - seg), "conmon", 6))
					found = line + i;
			}
			i = j;
		}
		if (found) {
			memcpy(out, found, 64);
			out[64] = '\0';
			return true;
		}
		line = eol ? eol + 1 : NULL;
	}
	out[0] = '\0';
	return false;
}

/* ---------------------------------------------------------------- cmdline */

struct outbuf {
	char *buf;
	size_t len, cap;
	bool cut;
};

static void out_append(struct outbuf *o, const char *s, size_t len)
{
	if (o->len + len > o->cap) {
		len = o->cap - o->len;
		o->cut = true;
	}
	memcpy(o->buf + o->len, s, len);
	o->len += len;
}

static void out_str(struct outbuf *o, const char *s)
{
	out_append(o, s, strlen(s));
}

static bool key_is_secret(const char *key, size_t len)
{
	static const char *const contains[] = { "password", "passwd", "passphrase", "secret",
		"token", "apikey", "api-key", "api_key", "credential", "private-key", "private_key",
		"privatekey", "access-key", "access_key", "accesskey", "auth-key", "authkey", NULL };
	static const char *const exact[] = { "pass", "pwd", "pw", "p12pass", NULL };
	char low[128];
	if (len == 0 || len >= sizeof(low))
		return false;
	for (size_t i = 0; i < len; i++)
		low[i] = (char)tolower((unsigned char)key[i]);
	low[len] = '\0';
	for (const char *const *c = contains; *c; c++)
		if (strstr(low, *c))
			return true;
	/* The last dotted/dashed component: "db.pass", "--pass", "PGPASS". */
	const char *last = low;
	for (const char *p = low; *p; p++)
		if (*p == '.' || *p == '_' || *p == '-')
			last = p + 1;
	return in_list(last, exact) || in_list(low, exact);
}

static bool key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Copies one argument, redacting key=value secrets and URL credentials. */
static void redact_inline(struct outbuf *o, const char *a)
{
	size_t len = strlen(a);
	size_t i = 0, copied = 0;
	while (i < len) {
		if (a[i] == ':' && i + 2 < len && a[i + 1] == '/' && a[i + 2] == '/') {
			size_t auth = i + 3;
			size_t end = auth;
			while (end < len && !strchr("/?#", a[end]) && a[end] != ' ')
				end++;
			const char *at = NULL;
			for (size_t k = auth; k < end; k++)
				if (a[k] == '@')
					at = a + k;
			if (at) {
				const char *colon = memchr(a + auth, ':', (size_t)(at - (a + auth)));
				if (colon) {
					out_append(o, a + copied, (size_t)(colon + 1 - (a + copied)));
					out_str(o, "***");
					copied = (size_t)(at - a);
				}
			}
			i = end;
			continue;
		}
		if (a[i] == '=') {
			size_t ks = i;
			while (ks > 0 && key_char(a[ks - 1]))
				ks--;
			while (ks < i && a[ks] == '-')
				ks++;
			if (ks < i && key_is_secret(a + ks, i - ks)) {
				size_t ve = i + 1;
				while (ve < len && !strchr("&; ,", a[ve]))
					ve++;
				if (ve > i + 1) {
					out_append(o, a + copied, i + 1 - copied);
					out_str(o, "***");
					copied = ve;
				}
				i = ve;
				continue;
			}
		}
		i++;
	}
	out_append(o, a + copied, len - copied);
}

static bool is_mysql_client(const char *b)
{
	static const char *const names[] = { "mysql", "mysqldump", "mysqladmin", "mysqlimport",
		"mysqlshow", "mysqlcheck", "mysqlslap", "mariadb", "mariadb-dump", "mariadb-admin",
		NULL };
	return in_list(b, names);
}

void collect_proc_cmdline_format(const char *argv, size_t argv_len, bool truncated, const char *exe_base,
			 char *out, size_t out_n)
{
	if (out_n < 8) {
		if (out_n)
			out[0] = '\0';
		return;
	}
	char *raw = malloc(out_n);
	char *args_copy = malloc(argv_len + 1);
	if (!raw || !args_copy) {
		free(raw);
		free(args_copy);
		out[0] = '\0';
		return;
	}
	memcpy(args_copy, argv, argv_len);
	args_copy[argv_len] = '\0';
	/* Drop the terminating NUL(s) so no empty argument appears at the end. */
	size_t alen = argv_len;
	while (alen && args_copy[alen - 1] == '\0')
		alen--;

	struct outbuf o = { raw, 0, out_n - 1, false };
	bool mysql = exe_base && is_mysql_client(exe_base);
	bool redact_next = false;
	size_t i = 0, argi = 0;
	while (i < alen && !o.cut) {
		const char *a = args_copy + i;
		size_t l = strnlen(a, alen - i);
		i += l + 1;
		if (argi++)
			out_str(&o, " ");
		if (redact_next) {
			out_str(&o, "***");
			redact_next = false;
			continue;
		}
		if (a[0] == '-' && a[1]) {
			const char *name = a;
			while (*name == '-')
				name++;
			const char *eq = strchr(name, '=');
			size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
			if (key_is_secret(name, nlen)) {
				if (eq) {
					out_append(&o, a, (size_t)(eq + 1 - a));
					out_str(&o, "***");
				} else {
					out_str(&o, a);
					redact_next = i < alen;
				}
				continue;
			}
			if (mysql && a[1] == 'p' && a[2]) {
				out_str(&o, "-p***");
				continue;
			}
		}
		redact_inline(&o, a);
	}
	/* Replace bad bytes (may grow the text), then cut at a character boundary. */
	size_t fcap = o.len * 3 + 1;
	char *fixed = malloc(fcap);
	if (!fixed) {
		out[0] = '\0';
		free(raw);
		free(args_copy);
		return;
	}
	size_t w = pbjson_utf8_sanitize(fixed, fcap, raw, o.len);
	/* One printable line: C0 controls, DEL and C1 controls (U+0080..U+009F)
	 * become '?' (same byte count, so the cut below stays right). */
	for (size_t k = 0; k < w; k++) {
		unsigned char c = (unsigned char)fixed[k];
		if (c < 0x20 || c == 0x7f)
			fixed[k] = '?';
		else if (c == 0xc2 && k + 1 < w && (unsigned char)fixed[k + 1] <= 0x9f)
			fixed[k] = fixed[k + 1] = '?', k++;
	}
	bool cut = o.cut || truncated;
	if (w + (cut ? 3 : 0) > out_n - 1) {
		cut = true;
		w = out_n - 4;
		while (w > 0 && ((unsigned char)fixed[w] & 0xc0) == 0x80)
			w--;
	}
	memcpy(out, fixed, w);
	if (cut)
		memcpy(out + w, "...", 3), w += 3;
	out[w] = '\0';
	free(fixed);
	free(raw);
	free(args_copy);
}

/* ----------------------------------------------------------- one process */

struct proc_raw {
	struct stat_fields st;
	uint32_t uid;
	bool have_uid;
	char exe[1024];
	char *argv;           /* malloc'd, NUL-separated */
	size_t argv_len;
	bool argv_truncated;
	char container_id[PROC_CONTAINER_ID_MAX];
	uint64_t netns;
};

static int read_cmdline(struct collect_ctx *ctx, uint32_t pid, struct proc_raw *r)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	char *buf = malloc(CMDLINE_READ_MAX + 2);
	if (!buf)
		return -ENOMEM;
	ssize_t n = collect_read(ctx, path, buf, CMDLINE_READ_MAX + 2);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	r->argv_truncated = n > CMDLINE_READ_MAX;
	if (r->argv_truncated)
		n = CMDLINE_READ_MAX;
	buf[n] = '\0';
	r->argv = buf;
	r->argv_len = (size_t)n;
	return 0;
}

static uint64_t parse_ns_link(const char *link)
{
	const char *b = strchr(link, '[');
	return b ? strtoull(b + 1, NULL, 10) : 0;
}

/* Reads the pid-stable facts (everything but stat). Missing pieces stay empty:
 * exe needs ptrace access, a process may vanish between reads. */
static void read_facts(struct collect_ctx *ctx, uint32_t pid, struct proc_raw *r)
{
	char path[64], buf[CGROUP_READ_MAX];
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	if (collect_readlink(ctx, path, r->exe, sizeof(r->exe)) < 0)
		r->exe[0] = '\0';
	read_cmdline(ctx, pid, r);
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (collect_read(ctx, path, buf, sizeof(buf)) > 0) {
		const char *u = strstr(buf, "\nUid:");
		unsigned long real, eff;
		if (u && sscanf(u + 5, "%lu %lu", &real, &eff) == 2) {
			r->uid = (uint32_t)eff;
			r->have_uid = true;
		}
	}
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	if (collect_read(ctx, path, buf, sizeof(buf)) > 0)
		collect_proc_container_id(buf, r->container_id);
	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	char link[128];
	if (collect_readlink(ctx, path, link, sizeof(link)) > 0)
		r->netns = parse_ns_link(link);
}

/* sysconf(name) read once into *cache; dflt when the system does not say. */
static long sysconf_cached(long *cache, int name, long dflt)
{
	if (!*cache) {
		long v = sysconf(name);
		*cache = v > 0 ? v : dflt;
	}
	return *cache;
}

static long page_size(void)
{
	static long ps;
	return sysconf_cached(&ps, _SC_PAGESIZE, 4096);
}

static long clock_ticks(void)
{
	static long hz;
	return sysconf_cached(&hz, _SC_CLK_TCK, 100);
}

int collect_proc_info_read(struct collect_ctx *ctx, uint32_t pid, struct proc_info *out)
{
	struct proc_raw r;
	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	int rc = read_stat(ctx, pid, &r.st);
	if (rc)
		return rc;
	read_facts(ctx, pid, &r);
	out->pid = pid;
	out->ppid = r.st.ppid;
	out->uid = r.uid;
	out->threads = r.st.threads;
	out->start_ticks = r.st.starttime;
	out->cpu_ticks = r.st.utime + r.st.stime;
	out->rss_bytes = r.st.rss_pages * (uint64_t)page_size();
	out->netns = r.netns;
	out->kernel_thread = is_kernel_thread(pid, &r.st);
	str_copy(out->name, r.st.comm, sizeof(out->name));
	pbjson_utf8_sanitize(out->exe, sizeof(out->exe), r.exe, strlen(r.exe));
	str_copy(out->container_id, r.container_id, sizeof(out->container_id));
	collect_proc_identity(r.exe, r.st.comm, r.argv, r.argv_len, out->identity, sizeof(out->identity));
	free(r.argv);
	return 0;
}

/* ----------------------------------------------------------- users (passwd) */

struct user_entry {
	uint32_t uid;
	uint32_t line;     /* order in the file: the first entry of a uid wins */
	char *name;
};

struct user_table {
	struct user_entry *e;
	size_t n;
	uint64_t sig[3];   /* inode, size, mtime of <root>/etc/passwd */
};

static void users_free(struct user_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].name);
	free(t->e);
	t->e = NULL;
	t->n = 0;
}

static int cmp_user(const void *a, const void *b)
{
	const struct user_entry *x = a, *y = b;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Re-reads <root>/etc/passwd when it changed. Reading the file (not NSS) keeps
 * --root honest and never blocks on a directory service. */
static void users_refresh(struct collect_ctx *ctx, struct user_table *t)
{
	char path[4200];
	struct stat sb;
	collect_path(ctx, path, sizeof(path), "/etc/passwd");
	if (stat(path, &sb)) {
		users_free(t);
		memset(t->sig, 0, sizeof(t->sig));
		return;
	}
	uint64_t sig[3] = { (uint64_t)sb.st_ino, (uint64_t)sb.st_size,
			    (uint64_t)sb.st_mtim.tv_sec * 1000000000u + (uint64_t)sb.st_mtim.tv_nsec };
	if (!memcmp(sig, t->sig, sizeof(sig)) && t->e)
		return;
	users_free(t);
	memcpy(t->sig, sig, sizeof(sig));
	char *text = NULL;
	struct errbuf eb;
	if (file_read_all(path, 16u << 20, &text, NULL, &eb)) {
		/* Users show as numbers until the file changes. */
		collect_error(ctx, COLLECT_PROC, "%s", eb.msg);
		return;
	}
	for (char *tsave_, *line = strtok_r(text, "\n", &tsave_); line; line = strtok_r(NULL, "\n", &tsave_)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c1 || !c2 || c1 == line)
			continue;
		char *end;
		unsigned long uid = strtoul(c2 + 1, &end, 10);
		if (end == c2 + 1 || *end != ':')
			continue;
		struct user_entry *e = collect_push(&t->e, &t->n, sizeof(*t->e));
		e->uid = (uint32_t)uid;
		e->line = (uint32_t)t->n;
		e->name = collect_strndup(line, (size_t)(c1 - line));
	}
	free(text);
	qsort(t->e, t->n, sizeof(*t->e), cmp_user);
}

/* Once per process per snapshot: a binary search over the sorted table. */
static void user_name(const struct user_table *t, uint32_t uid, char *out, size_t n)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) { /* first entry with e.uid >= uid */
		size_t mid = lo + (hi - lo) / 2;
		if (t->e[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->n && t->e[lo].uid == uid)
		pbjson_utf8_sanitize(out, n, t->e[lo].name, strlen(t->e[lo].name));
	else
		snprintf(out, n, "%u", uid);
}

/* ------------------------------------------------------------- snapshots */

struct proc_entry {
	uint32_t pid;
	uint64_t start_ticks;
	uint64_t cpu_ticks;
	/* pid-stable facts, read once (again after an exec, seen as a new comm) */
	char comm[64];
	char *exe, *cmdline, *identity;
	uint32_t uid;
	char container_id[PROC_CONTAINER_ID_MAX];
	uint64_t netns;
};

struct proc_table {
	struct proc_entry **slot;
	size_t cap;     /* power of two */
	size_t n;
};

struct proc_state {
	struct proc_table t;
	double uptime_s;        /* of the previous snapshot, 0 = none */
	int64_t btime;          /* boot time (s), 0 = not read yet; fixed until reboot */
	struct user_table users;
	size_t cached_bytes;    /* strings held by the entries of t */
};

static void entry_free(struct proc_entry *e)
{
	if (!e)
		return;
	free(e->exe);
	free(e->cmdline);
	free(e->identity);
	free(e);
}

static void table_free(struct proc_table *t)
{
	for (size_t i = 0; i < t->cap; i++)
		entry_free(t->slot[i]);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static size_t pid_hash(uint32_t pid, size_t cap)
{
	return (size_t)(pid * 2654435761u) & (cap - 1);
}

static struct proc_entry **table_find(struct proc_table *t, uint32_t pid)
{
	if (!t->cap)
		return NULL;
	for (size_t i = pid_hash(pid, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (!t->slot[i])
			return NULL;
		if (t->slot[i]->pid == pid)
			return &t->slot[i];
	}
}

/* Removes and returns the entry for pid (keeps the probe chains intact). */
static struct proc_entry *table_take(struct proc_table *t, uint32_t pid)
{
	struct proc_entry **s = table_find(t, pid);
	if (!s)
		return NULL;
	struct proc_entry *e = *s;
	size_t i = (size_t)(s - t->slot);
	t->slot[i] = NULL;
	t->n--;
	/* Re-insert the rest of the cluster (backward-shift deletion). */
	for (size_t j = (i + 1) & (t->cap - 1); t->slot[j]; j = (j + 1) & (t->cap - 1)) {
		struct proc_entry *m = t->slot[j];
		t->slot[j] = NULL;
		size_t k = pid_hash(m->pid, t->cap);
		while (t->slot[k])
			k = (k + 1) & (t->cap - 1);
		t->slot[k] = m;
	}
	return e;
}

static void table_put(struct proc_table *t, struct proc_entry *e)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 256;
		struct proc_entry **ns = collect_alloc(ncap * sizeof(*ns));
		for (size_t i = 0; i < t->cap; i++) {
			struct proc_entry *m = t->slot[i];
			if (!m)
				continue;
			size_t k = pid_hash(m->pid, ncap);
			while (ns[k])
				k = (k + 1) & (ncap - 1);
			ns[k] = m;
		}
		free(t->slot);
		t->slot = ns;
		t->cap = ncap;
	}
	size_t k = pid_hash(e->pid, t->cap);
	while (t->slot[k])
		k = (k + 1) & (t->cap - 1);
	t->slot[k] = e;
	t->n++;
}

int collect_proc_state_new(struct proc_state **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void collect_proc_state_free(struct proc_state *st)
{
	if (!st)
		return;
	table_free(&st->t);
	users_free(&st->users);
	free(st);
}

static int read_uptime(struct collect_ctx *ctx, double *out)
{
	char buf[128];
	if (collect_read(ctx, "/proc/uptime", buf, sizeof(buf)) <= 0)
		return -ENOENT;
	char *end;
	double v = strtod(buf, &end);
	if (end == buf || v <= 0)
		return -EINVAL;
	*out = v;
	return 0;
}

/* btime (boot time, seconds since the epoch) from /proc/stat. */
static int64_t read_btime(struct collect_ctx *ctx)
{
	char path[4200];
	collect_path(ctx, path, sizeof(path), "/proc/stat");
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char line[512];
	int64_t bt = 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "btime ", 6)) {
			bt = strtoll(line + 6, NULL, 10);
			if (bt < 0 || bt > 100000000000ll)
				bt = 0; /* not a plausible epoch second */
			break;
		}
	fclose(f);
	return bt;
}

static size_t entry_bytes(const struct proc_entry *e)
{
	return sizeof(*e) + strlen(e->exe) + strlen(e->cmdline) + strlen(e->identity) + 3;
}

/* cmd_max: command lines are cut shorter once the cache is over its budget. */
static struct proc_entry *entry_new(struct collect_ctx *ctx, uint32_t pid,
				    const struct stat_fields *sf, size_t cmd_max)
{
	struct proc_raw r;
	memset(&r, 0, sizeof(r));
	r.st = *sf;
	read_facts(ctx, pid, &r);
	struct proc_entry *e = collect_alloc(sizeof(*e));
	e->pid = pid;
	e->start_ticks = sf->starttime;
	str_copy(e->comm, sf->comm, sizeof(e->comm));
	e->uid = r.uid;
	e->netns = r.netns;
	str_copy(e->container_id, r.container_id, sizeof(e->container_id));
	char tmp[PROC_CMDLINE_MAX];
	pbjson_utf8_sanitize(tmp, sizeof(tmp), r.exe, strlen(r.exe));
	e->exe = collect_strdup(tmp);
	const char *eb = base_name(r.exe);
	collect_proc_cmdline_format(r.argv ? r.argv : "", r.argv_len, r.argv_truncated, eb, tmp,
			    cmd_max < sizeof(tmp) ? cmd_max : sizeof(tmp));
	e->cmdline = collect_strdup(tmp);
	collect_proc_identity(r.exe, sf->comm, r.argv, r.argv_len, tmp, PROC_IDENTITY_MAX);
	e->identity = collect_strdup(tmp);
	free(r.argv);
	return e;
}

static int cmp_process(const void *a, const void *b)
{
	const Cairn__Process *x = *(Cairn__Process *const *)a, *y = *(Cairn__Process *const *)b;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int collect_proc_snapshot(struct collect_ctx *ctx, struct proc_state *st, Cairn__ProcessSnapshot **out)
{
	uint64_t t0 = collect_begin(ctx, COLLECT_PROC);
	char path[4200];
	*out = NULL;
	collect_path(ctx, path, sizeof(path), "/proc");
	DIR *d = opendir(path);
	if (!d) {
		int rc = -errno;
		collect_error(ctx, COLLECT_PROC, "cannot list %s: %s", path, strerror(errno));
		collect_end(ctx, COLLECT_PROC, t0, 0);
		return rc;
	}
	users_refresh(ctx, &st->users);
	double uptime = 0;
	bool have_uptime = read_uptime(ctx, &uptime) == 0;
	double elapsed = have_uptime && st->uptime_s > 0 ? uptime - st->uptime_s : 0;
	/* btime sits after every cpu and interrupt line of /proc/stat (tens of
	 * KiB on a large host): read it once per boot, not per snapshot. A
	 * reboot is seen as uptime going backwards. */
	if (!st->btime || (have_uptime && uptime < st->uptime_s))
		st->btime = read_btime(ctx);
	int64_t btime = st->btime;
	long hz = clock_ticks();

	Cairn__ProcessSnapshot *snap = collect_alloc(sizeof(*snap));
	cairn__process_snapshot__init(snap);
	snap->taken_ms = time_now_ms();

	struct proc_table next = { 0 };
	size_t next_bytes = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		if (*end || !pid || pid > UINT32_MAX || de->d_name[0] == '0')
			continue;
		struct stat_fields sf;
		int rc = read_stat(ctx, (uint32_t)pid, &sf);
		if (rc) {
			if (rc == -ENOENT || rc == -ESRCH)
				collect_error(ctx, COLLECT_PROC, "pid %lu vanished during the scan", pid);
			else if (rc == -EINVAL)
				collect_error(ctx, COLLECT_PROC, "pid %lu: malformed /proc/%lu/stat", pid, pid);
			else
				collect_error(ctx, COLLECT_PROC, "pid %lu: cannot read stat: %s", pid,
					      strerror(-rc));
			continue;
		}
		if (is_kernel_thread((uint32_t)pid, &sf))
			continue;
		struct proc_entry *e = table_take(&st->t, (uint32_t)pid);
		uint64_t prev_cpu = 0;
		bool have_prev = false;
		if (e && e->start_ticks != sf.starttime) {
			entry_free(e); /* pid reused by another process */
			e = NULL;
		}
		if (e) {
			prev_cpu = e->cpu_ticks;
			have_prev = true;
		}
		if (e && strcmp(e->comm, sf.comm)) {
			/* Same process, new program: exec() changed exe and cmdline. */
			entry_free(e);
			e = NULL;
		}
		if (!e) {
			size_t cmd_max = next_bytes < PROC_CACHE_BUDGET ? PROC_CMDLINE_MAX
								       : PROC_CMDLINE_SHORT;
			e = entry_new(ctx, (uint32_t)pid, &sf, cmd_max);
		}
		next_bytes += entry_bytes(e);
		e->cpu_ticks = sf.utime + sf.stime;
		table_put(&next, e);

		Cairn__Process *p = collect_alloc(sizeof(*p));
		cairn__process__init(p);
		p->pid = (uint32_t)pid;
		p->ppid = sf.ppid;
		p->name = collect_strdup(sf.comm);
		p->exe = collect_strdup(e->exe);
		p->cmdline = collect_strdup(e->cmdline);
		char uname[128];
		user_name(&st->users, e->uid, uname, sizeof(uname));
		p->user = collect_strdup(uname);
		p->uid = e->uid;
		if (btime && sf.starttime < (UINT64_MAX / 1000))
			p->start_time_ms = btime * 1000 + (int64_t)(sf.starttime / (uint64_t)hz * 1000 +
								    sf.starttime % (uint64_t)hz * 1000 / (uint64_t)hz);
		if (have_prev && elapsed > 0 && e->cpu_ticks >= prev_cpu)
			p->cpu_pct = (double)(e->cpu_ticks - prev_cpu) / (double)hz / elapsed * 100.0;
		p->rss_bytes = sf.rss_pages * (uint64_t)page_size();
		p->container_id = collect_strdup(e->container_id);
		p->identity = collect_strdup(e->identity);
		p->netns = e->netns;
		p->threads = sf.threads;
		*(Cairn__Process **)COLLECT_PUSH(snap, processes) = p;
	}
	closedir(d);
	table_free(&st->t); /* processes that exited */
	st->t = next;
	st->cached_bytes = next_bytes;
	if (have_uptime)
		st->uptime_s = uptime;
	qsort(snap->processes, snap->n_processes, sizeof(*snap->processes), cmp_process);
	collect_end(ctx, COLLECT_PROC, t0, snap->n_processes);
	*out = snap;
	return 0;
}

/* ------------------------------------------------------------------ delta */

static bool same_str(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static bool stable_facts_differ(const Cairn__Process *a, const Cairn__Process *b)
{
	return a->ppid != b->ppid || a->uid != b->uid || !same_str(a->name, b->name) ||
	       !same_str(a->exe, b->exe) || !same_str(a->cmdline, b->cmdline) ||
	       !same_str(a->user, b->user) || !same_str(a->container_id, b->container_id) ||
	       !same_str(a->identity, b->identity);
}

static Cairn__Process *process_copy(const Cairn__Process *s)
{
	Cairn__Process *p = collect_alloc(sizeof(*p));
	*p = *s;
	p->name = collect_strdup(s->name);
	p->exe = collect_strdup(s->exe);
	p->cmdline = collect_strdup(s->cmdline);
	p->user = collect_strdup(s->user);
	p->container_id = collect_strdup(s->container_id);
	p->identity = collect_strdup(s->identity);
	return p;
}

static bool sorted_by_pid(const Cairn__ProcessSnapshot *s)
{
	for (size_t i = 1; i < s->n_processes; i++)
		if (s->processes[i - 1]->pid > s->processes[i]->pid)
			return false;
	return true;
}

/* Snapshots from collect_proc_snapshot() are sorted by pid: binary search. Others
 * (sorted false) are scanned. */
static const Cairn__Process *find_pid(const Cairn__ProcessSnapshot *s, bool sorted, uint32_t pid)
{
	if (!sorted) {
		for (size_t i = 0; i < s->n_processes; i++)
			if (s->processes[i]->pid == pid)
				return s->processes[i];
		return NULL;
	}
	size_t lo = 0, hi = s->n_processes;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint32_t m = s->processes[mid]->pid;
		if (m == pid)
			return s->processes[mid];
		if (m < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int collect_proc_delta(const Cairn__ProcessSnapshot *prev, const Cairn__ProcessSnapshot *cur,
	       Cairn__ProcessDelta **out)
{
	Cairn__ProcessDelta *d = collect_alloc(sizeof(*d));
	cairn__process_delta__init(d);
	d->taken_ms = cur->taken_ms;
	bool prev_sorted = prev && sorted_by_pid(prev), cur_sorted = sorted_by_pid(cur);
	for (size_t i = 0; i < cur->n_processes; i++) {
		const Cairn__Process *c = cur->processes[i];
		const Cairn__Process *p = prev ? find_pid(prev, prev_sorted, c->pid) : NULL;
		bool reused = p && p->start_time_ms != c->start_time_ms;
		if (!p || reused || stable_facts_differ(p, c))
			*(Cairn__Process **)COLLECT_PUSH(d, started) = process_copy(c);
		if (reused)
			*(uint32_t *)COLLECT_PUSH(d, exited_pids) = p->pid;
	}
	for (size_t i = 0; prev && i < prev->n_processes; i++) {
		const Cairn__Process *p = prev->processes[i];
		if (!find_pid(cur, cur_sorted, p->pid))
			*(uint32_t *)COLLECT_PUSH(d, exited_pids) = p->pid;
	}
	*out = d;
	return 0;
}
