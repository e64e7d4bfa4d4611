/* Package inventories: dpkg, rpm, apk; see collect_pkg() in collect.h. */
#include "collect.h"
#include "collect_pkg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pbjson.h"
#include "util.h"

#define PKG_DB_MAX (256u << 20)   /* largest status/installed file read */
#define PKG_FIELD_MAX 1024        /* longest name/version/arch kept */

static const char *const manager_names[PKG_NMANAGERS] = { "dpkg", "rpm", "apk" };

struct field {
	const char *v;
	size_t len;
};

/* ------------------------------------------------------------- records */

static char *clean_dup(const char *s, size_t len)
{
	if (len > PKG_FIELD_MAX)
		len = PKG_FIELD_MAX;
	char *out = collect_alloc(len * 3 + 1);
	pbjson_utf8_sanitize(out, len * 3 + 1, s, len);
	return out;
}

static Cairn__Package *pkg_add(Cairn__PackageInventory *inv, const char *name, size_t nl,
			       const char *version, size_t vl, const char *arch, size_t al,
			       const char *source, size_t sl, uint64_t size)
{
	Cairn__Package *p = collect_alloc(sizeof(*p));
	cairn__package__init(p);
	p->name = clean_dup(name, nl);
	p->version = clean_dup(version, vl);
	p->architecture = clean_dup(arch, al);
	p->source = clean_dup(source, sl);
	p->installed_size = size;
	*COLLECT_PUSH(inv, packages) = p;
	return p;
}

static int cmp_pkg(const void *a, const void *b)
{
	const Cairn__Package *x = *(Cairn__Package *const *)a, *y = *(Cairn__Package *const *)b;
	int c = strcmp(x->name, y->name);
	if (!c)
		c = strcmp(x->version, y->version);
	if (!c)
		c = strcmp(x->architecture, y->architecture);
	return c;
}

/* Sorts and hashes: BLAKE2b-256 over "name\0version\0arch\n" lines. */
static void finish_inventory(Cairn__PackageInventory *inv)
{
	qsort(inv->packages, inv->n_packages, sizeof(*inv->packages), cmp_pkg);
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, 32);
	for (size_t i = 0; i < inv->n_packages; i++) {
		const Cairn__Package *p = inv->packages[i];
		crypto_generichash_update(&h, (const uint8_t *)p->name, strlen(p->name) + 1);
		crypto_generichash_update(&h, (const uint8_t *)p->version, strlen(p->version) + 1);
		crypto_generichash_update(&h, (const uint8_t *)p->architecture, strlen(p->architecture));
		crypto_generichash_update(&h, (const uint8_t *)"\n", 1);
	}
	inv->content_hash.data = collect_alloc(32);
	inv->content_hash.len = 32;
	crypto_generichash_final(&h, inv->content_hash.data, 32);
}

/* Decimal field (digits only; the text after it is not looked at, so the
 * field may end the input). 0 with an error counted when it is not a number;
 * UINT64_MAX when it is too large. */
static uint64_t field_u64(struct collect_ctx *ctx, struct field f, const char *what)
{
	uint64_t v = 0;
	bool over = false;
	for (size_t i = 0; i < f.len; i++) {
		unsigned d = (unsigned)(f.v[i] - '0');
		if (d > 9) {
			collect_error(ctx, COLLECT_PKG, "%s: size '%.*s' is not a number", what,
				      (int)(f.len > 32 ? 32 : f.len), f.v);
			return 0;
		}
		if (v > (UINT64_MAX - d) / 10)
			over = true;
		v = over ? UINT64_MAX : v * 10 + d;
	}
	if (over)
		collect_error(ctx, COLLECT_PKG, "%s: size '%.*s' is too large", what,
			      (int)(f.len > 32 ? 32 : f.len), f.v);
	return v;
}

/* Next line of text[0..len) from *pos (without '\n' and a trailing '\r'). */
static bool next_line(const char *text, size_t len, size_t *pos, struct field *line)
{
	if (*pos >= len)
		return false;
	const char *start = text + *pos;
	const char *eol = memchr(start, '\n', len - *pos);
	size_t ll = eol ? (size_t)(eol - start) : len - *pos;
	*pos += ll + (eol ? 1 : 0);
	if (ll && start[ll - 1] == '\r')
		ll--;
	line->v = start;
	line->len = ll;
	return true;
}

/* ----------------------------------------------------------------- dpkg */

static bool status_installed(struct field st)
{
	/* "want flag status": installed when the third word is "installed"
	 * (held packages read "hold ok installed"). */
	const char *last = st.v;
	size_t words = 0;
	for (size_t i = 0; i < st.len;) {
		while (i < st.len && st.v[i] == ' ')
			i++;
		if (i >= st.len)
			break;
		last = st.v + i;
		words++;
		while (i < st.len && st.v[i] != ' ')
			i++;
	}
	size_t ll = (size_t)(st.v + st.len - last);
	while (ll && last[ll - 1] == ' ')
		ll--;
	return words == 3 && ll == 9 && !memcmp(last, "installed", 9);
}

/* One "Key: value" paragraph of the dpkg status file. */
struct dpkg_para {
	struct field package, version, arch, source, status, size;
	size_t lines;
};

static void dpkg_flush(struct collect_ctx *ctx, Cairn__PackageInventory *inv, struct dpkg_para *p,
		       size_t lineno)
{
	if (!p->lines)
		return;
	if (!p->package.len || !p->status.len) {
		collect_error(ctx, COLLECT_PKG, "dpkg status: paragraph ending at line %zu has no %s",
			      lineno, p->package.len ? "Status" : "Package");
	} else if (status_installed(p->status)) {
		if (!p->version.len) {
			collect_error(ctx, COLLECT_PKG, "dpkg status: installed package %.*s has no Version",
				      (int)(p->package.len > 64 ? 64 : p->package.len), p->package.v);
		} else {
			struct field src = p->source.len ? p->source : p->package;
			/* "Source: glibc (2.36-9)" names the source package and its version. */
			size_t sl = 0;
			while (sl < src.len && src.v[sl] != ' ')
				sl++;
			uint64_t kib = field_u64(ctx, p->size, "dpkg status Installed-Size");
			pkg_add(inv, p->package.v, p->package.len, p->version.v, p->version.len,
				p->arch.v, p->arch.len, src.v, sl,
				kib > UINT64_MAX / 1024 ? UINT64_MAX : kib * 1024);
		}
	}
	memset(p, 0, sizeof(*p));
}

int collect_pkg_parse_dpkg_status(struct collect_ctx *ctx, const char *text, size_t len,
			  Cairn__PackageInventory *inv)
{
	struct dpkg_para p;
	memset(&p, 0, sizeof(p));
	size_t lineno = 0, pos = 0;
	struct field lf;
	while (next_line(text, len, &pos, &lf)) {
		const char *line = lf.v;
		size_t ll = lf.len;
		lineno++;
		if (ll == 0) {
			dpkg_flush(ctx, inv, &p, lineno);
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t')
			continue; /* continuation of a multi-line field */
		const char *colon = memchr(line, ':', ll);
		if (!colon || colon == line) {
			collect_error(ctx, COLLECT_PKG, "dpkg status: line %zu is not 'Field: value'", lineno);
			continue;
		}
		size_t kl = (size_t)(colon - line);
		const char *v = colon + 1;
		size_t vl = ll - kl - 1;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		struct field f = { v, vl };
		p.lines++;
#define KEY(k) (kl == sizeof(k) - 1 && !strncasecmp(line, k, kl))
		if (KEY("Package"))
			p.package = f;
		else if (KEY("Version"))
			p.version = f;
		else if (KEY("Architecture"))
			p.arch = f;
		else if (KEY("Source"))
			p.source = f;
		else if (KEY("Status"))
			p.status = f;
		else if (KEY("Installed-Size"))
			p.size = f;
#undef KEY
	}
	dpkg_flush(ctx, inv, &p, lineno);
	return 0;
}

/* ------------------------------------------------------------------ apk */

int collect_pkg_parse_apk_installed(struct collect_ctx *ctx, const char *text, size_t len,
			    Cairn__PackageInventory *inv)
{
	struct field name = { 0 }, ver = { 0 }, arch = { 0 }, origin = { 0 }, size = { 0 };
	size_t lineno = 0, pos = 0;
	bool any = false, more = true;
	while (more) {
		struct field lf = { "", 0 };
		more = next_line(text, len, &pos, &lf);
		lineno++;
		if (lf.len == 0) { /* blank line or end of file: one entry done */
			if (any) {
				if (name.len && ver.len)
					pkg_add(inv, name.v, name.len, ver.v, ver.len, arch.v, arch.len,
						origin.len ? origin.v : name.v, origin.len ? origin.len : name.len,
						field_u64(ctx, size, "apk installed I:"));
				else
					collect_error(ctx, COLLECT_PKG,
						      "apk installed: entry ending at line %zu lacks P: or V:", lineno);
			}
			name = ver = arch = origin = size = (struct field){ 0 };
			any = false;
			continue;
		}
		if (lf.len < 2 || lf.v[1] != ':') {
			collect_error(ctx, COLLECT_PKG, "apk installed: line %zu is not 'X:value'", lineno);
			continue;
		}
		struct field f = { lf.v + 2, lf.len - 2 };
		any = true;
		switch (lf.v[0]) {
		case 'P': name = f; break;
		case 'V': ver = f; break;
		case 'A': arch = f; break;
		case 'o': origin = f; break;
		case 'I': size = f; break;
		default: break;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ rpm */

int collect_pkg_parse_rpm_output(struct collect_ctx *ctx, const char *text, size_t len,
			 Cairn__PackageInventory *inv)
{
	size_t lineno = 0, pos = 0;
	struct field lf;
	while (next_line(text, len, &pos, &lf)) {
		const char *line = lf.v;
		size_t ll = lf.len;
		lineno++;
		if (!ll)
			continue;
		struct field f[5];
		size_t nf = 0, start = 0;
		for (size_t k = 0; k <= ll && nf < 5; k++) {
			if (k == ll || line[k] == '\t') {
				f[nf].v = line + start;
				f[nf].len = k - start;
				nf++;
				start = k + 1;
			}
		}
		if (nf != 5 || !f[0].len || !f[1].len) {
			collect_error(ctx, COLLECT_PKG, "rpm -qa output: line %zu is malformed", lineno);
			continue;
		}
		for (int k = 2; k <= 3; k++)
			if (f[k].len == 6 && !memcmp(f[k].v, "(none)", 6))
				f[k].len = 0;
		pkg_add(inv, f[0].v, f[0].len, f[1].v, f[1].len, f[2].v, f[2].len, f[3].v, f[3].len,
			field_u64(ctx, f[4], "rpm -qa output"));
	}
	return 0;
}

static const char *rpm_program(const struct collect_ctx *ctx)
{
	if (ctx->rpm_path[0])
		return ctx->rpm_path;
	static const char *const candidates[] = { "/usr/bin/rpm", "/bin/rpm" };
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++)
		if (!access(candidates[i], X_OK))
			return candidates[i];
	return NULL;
}

/* In a forked child: closes every descriptor above 2 (async-signal-safe). */
static void close_fds_from3(long max_fd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
		return;
#endif
	if (max_fd <= 0 || max_fd > 65536)
		max_fd = 65536;
	for (int fd = 3; fd < max_fd; fd++)
		close(fd);
}

/* Runs argv (no shell) with stdout captured, at most max bytes, killed after
 * timeout_ms. 0 and the output (malloc'd, NUL-terminated), or -ETIMEDOUT,
 * -EFBIG, -ENOEXEC (non-zero exit, *exit_status says which) with *out NULL. */
static int run_capture(char *const argv[], uint32_t timeout_ms, size_t max, char **out,
		       size_t *out_len, int *exit_status)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };
	*out = NULL;
	*out_len = 0;
	*exit_status = 0;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	long max_fd = sysconf(_SC_OPEN_MAX); /* not async-signal-safe: before fork */
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(pfd[0]);
		close(pfd[1]);
		if (devnull >= 0)
			close(devnull);
		return e;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec. */
		setpgid(0, 0);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 2);
		}
		dup2(pfd[1], 1);
		/* Nothing of the agent's (spool, collector connection, a descriptor
		 * a library opened without O_CLOEXEC) goes to rpm, and rpm starts
		 * with default signals whatever thread forked it. */
		close_fds_from3(max_fd);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(pfd[1]);
	if (devnull >= 0)
		close(devnull);
	size_t cap = max < 65536 ? max : 65536, len = 0;
	char *buf = malloc(cap + 1);
	int rc = buf ? 0 : -ENOMEM;
	uint64_t deadline = time_mono_ms() + timeout_ms;
	while (!rc) {
		uint64_t now = time_mono_ms();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = poll(&p, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			rc = -errno;
			break;
		}
		if (pr == 0)
			continue;
		if (len == cap) {
			if (cap >= max) {
				/* Full: only the end of the output may follow. */
				char probe;
				ssize_t r = read(pfd[0], &probe, 1);
				if (r < 0 && errno == EINTR)
					continue;
				if (r != 0)
					rc = r > 0 ? -EFBIG : -errno;
				break;
			}
			size_t ncap = cap * 2 > max ? max : cap * 2;
			char *nb = realloc(buf, ncap + 1);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(pfd[0], buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(pfd[0]);
	/* The output is complete, but rpm may still hang (or have closed its
	 * stdout early): the deadline holds for its exit too. */
	int status = 0;
	while (!rc) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (time_mono_ms() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		struct timespec nap = { 0, 5 * 1000 * 1000 };
		nanosleep(&nap, NULL);
	}
	if (rc) {
		kill(-pid, SIGKILL), kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (!rc && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		rc = -ENOEXEC;
		*exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

static int collect_rpm(struct collect_ctx *ctx, const char *dbpath, Cairn__PackageInventory *inv)
{
	const char *prog = rpm_program(ctx);
	if (!prog) {
		collect_error(ctx, COLLECT_PKG, "rpm database %s found but no rpm program to read it "
			      "(install rpm or set the rpm path)", dbpath);
		return -ENOENT;
	}
	char *argv[8];
	int a = 0;
	argv[a++] = (char *)prog;
	argv[a++] = "-qa";
	if (!ctx->live) {
		argv[a++] = "--dbpath";
		argv[a++] = (char *)dbpath;
	}
	argv[a++] = "--queryformat";
	argv[a++] = PKG_RPM_QUERYFORMAT;
	argv[a] = NULL;
	char *out;
	size_t len;
	int status;
	int rc = run_capture(argv, ctx->rpm_timeout_ms, ctx->rpm_max_output, &out, &len, &status);
	if (rc == -ETIMEDOUT) {
		collect_error(ctx, COLLECT_PKG, "%s -qa did not finish within %u ms; killed it",
			      prog, ctx->rpm_timeout_ms);
		return rc;
	}
	if (rc == -EFBIG) {
		collect_error(ctx, COLLECT_PKG, "%s -qa wrote more than %zu bytes; killed it", prog,
			      ctx->rpm_max_output);
		return rc;
	}
	if (rc == -ENOEXEC) {
		collect_error(ctx, COLLECT_PKG, "%s -qa exited with status %d", prog, status);
		return rc;
	}
	if (rc) {
		collect_error(ctx, COLLECT_PKG, "cannot run %s: %s", prog, strerror(-rc));
		return rc;
	}
	collect_pkg_parse_rpm_output(ctx, out, len, inv);
	free(out);
	return 0;
}

/* ------------------------------------------------------------- managers */

/* Database files whose (dev, inode, size, mtime) tell whether it changed. */
static const char *const dpkg_files[] = { "/var/lib/dpkg/status", NULL };
static const char *const apk_files[] = { "/lib/apk/db/installed", NULL };
static const char *const rpm_dirs[] = { "/var/lib/rpm", "/usr/lib/sysimage/rpm", NULL };
static const char *const rpm_db_names[] = { "rpmdb.sqlite", "Packages", "Packages.db", NULL };

static void stat_signature(const struct stat *sb, uint64_t sig[4])
{
	sig[0] = (uint64_t)sb->st_dev;
	sig[1] = (uint64_t)sb->st_ino;
	sig[2] = (uint64_t)sb->st_size;
	sig[3] = (uint64_t)sb->st_mtim.tv_sec * 1000000000u + (uint64_t)sb->st_mtim.tv_nsec;
}

/* Signature of the first existing file; false when none exists. */
static bool db_signature(struct collect_ctx *ctx, int mgr, char *found, size_t fn, uint64_t sig[4])
{
	char path[4200];
	struct stat sb;
	memset(sig, 0, 4 * sizeof(uint64_t));
	if (mgr == PKG_RPM) {
		for (size_t d = 0; rpm_dirs[d]; d++)
			for (size_t f = 0; rpm_db_names[f]; f++) {
				char rel[256];
				snprintf(rel, sizeof(rel), "%s/%s", rpm_dirs[d], rpm_db_names[f]);
				if (stat(collect_path(ctx, path, sizeof(path), rel), &sb))
					continue;
				collect_path(ctx, found, fn, rpm_dirs[d]);
				stat_signature(&sb, sig);
				/* sqlite writes its -wal file first; fold it in. */
				char wal[4300];
				snprintf(wal, sizeof(wal), "%s-wal", path);
				if (!stat(wal, &sb))
					sig[3] ^= (uint64_t)sb.st_mtim.tv_sec * 1000000000u + (uint64_t)sb.st_mtim.tv_nsec + (uint64_t)sb.st_size;
				return true;
			}
		return false;
	}
	const char *const *files = mgr == PKG_DPKG ? dpkg_files : apk_files;
	for (size_t i = 0; files[i]; i++) {
		if (stat(collect_path(ctx, path, sizeof(path), files[i]), &sb) || !S_ISREG(sb.st_mode))
			continue;
		str_copy(found, path, fn);
		stat_signature(&sb, sig);
		return true;
	}
	return false;
}

static int read_and_parse(struct collect_ctx *ctx, int mgr, const char *path,
			  Cairn__PackageInventory *inv)
{
	if (mgr == PKG_RPM)
		return collect_rpm(ctx, path, inv);
	char *text;
	size_t len;
	struct errbuf eb;
	int rc = file_read_all(path, PKG_DB_MAX, &text, &len, &eb);
	if (rc) {
		collect_error(ctx, COLLECT_PKG, "%s", eb.msg);
		return rc;
	}
	if (mgr == PKG_DPKG)
		collect_pkg_parse_dpkg_status(ctx, text, len, inv);
	else
		collect_pkg_parse_apk_installed(ctx, text, len, inv);
	free(text);
	return 0;
}

int collect_pkg(struct collect_ctx *ctx, struct pkg_state *st, Cairn__PackageInventory ***out,
		size_t *n)
{
	uint64_t t0 = collect_begin(ctx, COLLECT_PKG);
	*out = NULL;
	*n = 0;
	uint64_t items = 0;
	for (int mgr = 0; mgr < PKG_NMANAGERS; mgr++) {
		char path[4200];
		uint64_t sig[4];
		if (!db_signature(ctx, mgr, path, sizeof(path), sig))
			continue;
		struct pkg_manager_state *ms = st ? &st->m[mgr] : NULL;
		Cairn__PackageInventory *inv = collect_alloc(sizeof(*inv));
		cairn__package_inventory__init(inv);
		inv->manager = collect_strdup(manager_names[mgr]);
		inv->collected_ms = time_now_ms();
		if (ms && ms->have_hash && !memcmp(ms->sig, sig, sizeof(sig))) {
			/* Same file as last time: nothing to read. */
			inv->unchanged = true;
		} else if (read_and_parse(ctx, mgr, path, inv)) {
			cairn__package_inventory__free_unpacked(inv, NULL);
			continue;
		} else {
			finish_inventory(inv);
			items += inv->n_packages;
			if (ms && ms->have_hash && !memcmp(ms->hash, inv->content_hash.data, 32)) {
				for (size_t i = 0; i < inv->n_packages; i++)
					cairn__package__free_unpacked(inv->packages[i], NULL);
				free(inv->packages);
				inv->packages = NULL;
				inv->n_packages = 0;
				inv->unchanged = true;
			}
			if (ms) {
				memcpy(ms->hash, inv->content_hash.data, 32);
				ms->have_hash = true;
			}
		}
		if (ms && inv->unchanged && !inv->content_hash.len) {
			inv->content_hash.data = collect_alloc(32);
			inv->content_hash.len = 32;
			memcpy(inv->content_hash.data, ms->hash, 32);
		}
		if (ms)
			memcpy(ms->sig, sig, sizeof(sig));
		*(Cairn__PackageInventory **)collect_push(out, n, sizeof(**out)) = inv;
	}
	collect_end(ctx, COLLECT_PKG, t0, items);
	return 0;
}
