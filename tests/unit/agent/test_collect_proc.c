/* Process collector: fixtures (exact values), redaction, identity, container
 * ids, CPU %, deltas, malformed /proc entries and the live /proc. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect.h"
#include "collect_proc.h"
#include "collect_testutil.h"
#include "pbjson.h"

#define DOCKER_ID "a3f1c2e4b5d6978812345678901234567890abcdefabcdefabcdef0123456789"
#define PODMAN_ID "7e5c0d9a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789"

static Cairn__ProcessSnapshot *snap_of(const char *root, struct collect_ctx *ctx,
				       struct proc_state **stp)
{
	collect_ctx_init(ctx, root);
	struct proc_state *st;
	cr_assert_eq(collect_proc_state_new(&st), 0);
	Cairn__ProcessSnapshot *s = NULL;
	cr_assert_eq(collect_proc_snapshot(ctx, st, &s), 0);
	cr_assert_not_null(s);
	if (stp)
		*stp = st;
	else
		collect_proc_state_free(st);
	return s;
}

static const Cairn__Process *find(const Cairn__ProcessSnapshot *s, uint32_t pid)
{
	for (size_t i = 0; i < s->n_processes; i++)
		if (s->processes[i]->pid == pid)
			return s->processes[i];
	return NULL;
}

static int64_t start_ms(int64_t btime, uint64_t ticks)
{
	return btime * 1000 + (int64_t)(ticks * 1000 / (uint64_t)sysconf(_SC_CLK_TCK));
}

Test(proc_fixture, debian12_exact)
{
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = snap_of(FIXTURE_DIR "/debian12", &ctx, NULL);
	uint32_t want[] = { 1, 512, 1200, 1300, 1400, 1500, 1600 };
	cr_assert_eq(s->n_processes, 7, "kernel threads 2 and 15 must be skipped");
	for (size_t i = 0; i < 7; i++)
		cr_assert_eq(s->processes[i]->pid, want[i]);
	cr_assert_eq(ctx.stats[COLLECT_PROC].errors, 0, "%s", ctx.stats[COLLECT_PROC].last_error);
	long page = sysconf(_SC_PAGESIZE);

	const Cairn__Process *j = find(s, 1200);
	cr_assert_eq(j->ppid, 1);
	cr_assert_str_eq(j->name, "java");
	cr_assert_str_eq(j->exe, "/usr/lib/jvm/java-17-openjdk-amd64/bin/java");
	cr_assert_str_eq(j->cmdline,
			 "java -Xmx2g -Ddb.password=*** -cp /opt/app/lib/* -jar /opt/app/app.jar "
			 "--spring.datasource.url=jdbc:postgresql://app:***@db01:5432/app --token ***");
	cr_assert_str_eq(j->user, "app");
	cr_assert_eq(j->uid, 1000);
	cr_assert_eq(j->start_time_ms, start_ms(1700000000, 4000));
	cr_assert_eq(j->rss_bytes, 262144ull * (uint64_t)page);
	cr_assert_str_eq(j->identity, "java /opt/app/app.jar");
	cr_assert_eq(j->threads, 57);
	cr_assert_eq(j->netns, 4026531840ull);
	cr_assert_str_eq(j->container_id, "");
	cr_assert_float_eq(j->cpu_pct, 0.0, 1e-9, "no previous snapshot: no CPU %%");

	const Cairn__Process *py = find(s, 1300);
	cr_assert_str_eq(py->identity, "python3.11 -m celery proj", "-A's value names the app");
	cr_assert_str_eq(py->cmdline, "/usr/bin/python3 -m celery -A proj worker "
				      "--broker=redis://:***@redis:6379/0 api_key=***");
	cr_assert_str_eq(py->user, "www-data");

	const Cairn__Process *pg = find(s, 1400);
	cr_assert_str_eq(pg->container_id, DOCKER_ID);
	cr_assert_str_eq(pg->user, "999", "uid without a passwd entry is shown as a number");
	cr_assert_eq(pg->netns, 4026532500ull);
	cr_assert_str_eq(pg->identity, "postgres");
	cr_assert_str_eq(pg->cmdline, "postgres -c config_file=/etc/postgresql/postgresql.conf");

	cr_assert_str_eq(find(s, 1500)->cmdline, "mysql -uroot -p*** -h db");
	cr_assert_str_eq(find(s, 1600)->identity, "node /srv/web/server.js");
	cr_assert_str_eq(find(s, 1600)->cmdline,
			 "node --require dotenv/config /srv/web/server.js --password=***");
	cr_assert_str_eq(find(s, 512)->identity, "sshd");
	cr_assert_str_eq(find(s, 1)->user, "root");
	cr_assert_str_eq(find(s, 1)->cmdline, "/sbin/init splash");
	cairn__process_snapshot__free_unpacked(s, NULL);
}

Test(proc_fixture, rhel9_podman_perl)
{
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = snap_of(FIXTURE_DIR "/rhel9", &ctx, NULL);
	cr_assert_eq(s->n_processes, 6);
	cr_assert_str_eq(find(s, 1099)->container_id, "", "conmon runs beside the container");
	cr_assert_str_eq(find(s, 1100)->container_id, PODMAN_ID);
	cr_assert_eq(find(s, 1100)->netns, 4026532777ull);
	cr_assert_str_eq(find(s, 1200)->identity, "perl /opt/scripts/monitor.pl");
	cr_assert_str_eq(find(s, 1200)->cmdline, "/usr/bin/perl -w /opt/scripts/monitor.pl --secret=*** "
						  "--url=https://monitor:***@status.example.com/api");
	cr_assert_str_eq(find(s, 1200)->user, "monitor");
	cr_assert_str_eq(find(s, 1000)->identity, "php-fpm");
	cr_assert_str_eq(find(s, 900)->user, "apache");
	cr_assert_eq(find(s, 900)->threads, 65);
	cr_assert_eq(find(s, 900)->start_time_ms, start_ms(1701000000, 2000));
	cairn__process_snapshot__free_unpacked(s, NULL);
}

Test(proc_fixture, alpine_container_view)
{
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = snap_of(FIXTURE_DIR "/alpine", &ctx, NULL);
	cr_assert_eq(s->n_processes, 2);
	cr_assert_eq(find(s, 1)->ppid, 0, "pid 1 of a container has ppid 0 and is no kernel thread");
	cr_assert_str_eq(find(s, 1)->identity, "nginx");
	cr_assert_str_eq(find(s, 1)->cmdline, "nginx: master process nginx -g daemon off;");
	cr_assert_str_eq(find(s, 7)->user, "nginx");
	cairn__process_snapshot__free_unpacked(s, NULL);
}

Test(proc_fixture, info_read_single_pid)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/debian12");
	struct proc_info pi;
	cr_assert_eq(collect_proc_info_read(&ctx, 1400, &pi), 0);
	cr_assert_eq(pi.ppid, 1390);
	cr_assert_eq(pi.uid, 999);
	cr_assert_str_eq(pi.name, "postgres");
	cr_assert_str_eq(pi.identity, "postgres");
	cr_assert_str_eq(pi.container_id, DOCKER_ID);
	cr_assert_eq(pi.netns, 4026532500ull);
	cr_assert_eq(pi.start_ticks, 6000);
	cr_assert_eq(pi.cpu_ticks, 150);
	cr_assert_not(pi.kernel_thread);
	cr_assert_eq(collect_proc_info_read(&ctx, 2, &pi), 0);
	cr_assert(pi.kernel_thread);
	cr_assert_eq(collect_proc_info_read(&ctx, 99999, &pi), -ENOENT);
}

/* User names: the first passwd entry of a uid wins (as getpwuid), whatever
 * the order of uids in the file; unknown uids are numbers. */
Test(proc_fixture, user_names_from_passwd)
{
	char *root = tu_tmpdir("users");
	tu_write(root, "/etc/passwd", "b:x:5:5::/:/bin/sh\nroot:x:0:0::/:/bin/sh\ntoor:x:0:0::/:/bin/sh\n"
		 "a:x:3:3::/:/bin/sh\nbroken line\n");
	tu_write(root, "/proc/uptime", "100.0 90.0\n");
	const uint32_t uids[] = { 0, 3, 4, 5 };
	for (size_t i = 0; i < 4; i++) {
		char rel[64], text[512];
		snprintf(rel, sizeof(rel), "/proc/%zu/stat", 100 + i);
		snprintf(text, sizeof(text), "%zu (p) S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 50 0 0 0\n",
			 100 + i);
		tu_write(root, rel, text);
		snprintf(rel, sizeof(rel), "/proc/%zu/status", 100 + i);
		snprintf(text, sizeof(text), "Name:\tp\nUid:\t%u\t%u\t%u\t%u\n", uids[i], uids[i], uids[i],
			 uids[i]);
		tu_write(root, rel, text);
	}
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = snap_of(root, &ctx, NULL);
	cr_assert_eq(s->n_processes, 4);
	cr_assert_str_eq(find(s, 100)->user, "root");
	cr_assert_str_eq(find(s, 101)->user, "a");
	cr_assert_str_eq(find(s, 102)->user, "4");
	cr_assert_str_eq(find(s, 103)->user, "b");
	cairn__process_snapshot__free_unpacked(s, NULL);
	tu_rm_rf(root);
	free(root);
}

/* ------------------------------------------------------------- redaction */

/* Joins nargs strings of ap into a raw NUL-separated cmdline; returns its length. */
static size_t raw_argv(char *raw, size_t cap, int nargs, va_list ap)
{
	size_t len = 0;
	for (int i = 0; i < nargs; i++) {
		const char *a = va_arg(ap, const char *);
		size_t l = strlen(a) + 1;
		cr_assert_leq(len + l, cap);
		memcpy(raw + len, a, l);
		len += l;
	}
	return len;
}

static void check_cmd(const char *exe_base, const char *out_want, int nargs, ...)
{
	char raw[4096];
	va_list ap;
	va_start(ap, nargs);
	size_t len = raw_argv(raw, sizeof(raw), nargs, ap);
	va_end(ap);
	char out[PROC_CMDLINE_MAX];
	collect_proc_cmdline_format(raw, len, false, exe_base, out, sizeof(out));
	cr_assert_str_eq(out, out_want);
}

Test(proc_redact, secrets)
{
	check_cmd("", "app --password ***", 3, "app", "--password", "hunter2");
	check_cmd("", "app --password=*** -v", 3, "app", "--password=hunter2", "-v");
	check_cmd("", "app --db-password=***", 2, "app", "--db-password=x");
	check_cmd("", "app password=*** user=bob", 3, "app", "password=x", "user=bob");
	check_cmd("", "app --token ***", 3, "app", "--token", "t0k");
	check_cmd("", "app --client-secret=***", 2, "app", "--client-secret=abc");
	check_cmd("", "app --api-key ***", 3, "app", "--api-key", "k");
	check_cmd("", "app --apikey=***", 2, "app", "--apikey=k");
	check_cmd("", "app API_KEY=***", 2, "app", "API_KEY=k");
	check_cmd("", "app --credentials ***", 3, "app", "--credentials", "/x");
	check_cmd("", "app PGPASSWORD=***", 2, "app", "PGPASSWORD=pw");
	check_cmd("", "curl https://bob:***@example.com/x", 2, "curl", "https://bob:pw@example.com/x");
	check_cmd("", "app redis://:***@r:6379", 2, "app", "redis://:pw@r:6379");
	check_cmd("", "app http://user@example.com/", 2, "app", "http://user@example.com/");
	check_cmd("", "app jdbc:mysql://h/db?user=a&password=***&ssl=1", 2, "app",
		  "jdbc:mysql://h/db?user=a&password=b&ssl=1");
	check_cmd("", "app -Djavax.net.ssl.keyStorePassword=***", 2, "app",
		  "-Djavax.net.ssl.keyStorePassword=changeit");
	check_cmd("mysql", "mysql -p*** db", 3, "mysql", "-pS3cr3t", "db");
	check_cmd("", "tool -pS3cr3t", 2, "tool", "-pS3cr3t"); /* -p means other things elsewhere */
	check_cmd("", "app --password", 2, "app", "--password"); /* nothing follows */
	check_cmd("", "app --verbose --port 8080", 4, "app", "--verbose", "--port", "8080");
}

/* One printable line: controls from the process's own arguments become '?'. */
Test(proc_redact, control_characters)
{
	check_cmd("", "echo ?[2J ?red ?? tab?x \xc2\xa0ok", 6, "echo", "\x1b[2J", "\nred", "\xc2\x9b",
		  "tab\tx", "\xc2\xa0ok");
	check_cmd("", "app --password ***", 3, "app", "--password", "\x1b[31m");
}

Test(proc_redact, bounded_and_marked)
{
	size_t big = 1 << 20;
	char *raw = malloc(big);
	memset(raw, 'x', big);
	raw[big - 1] = '\0';
	char out[64];
	collect_proc_cmdline_format(raw, big, false, "", out, sizeof(out));
	cr_assert_eq(strlen(out), 63);
	cr_assert_str_eq(out + 60, "...");
	free(raw);
	/* a cut never splits a UTF-8 character */
	char euro[64];
	for (int i = 0; i < 21; i++)
		memcpy(euro + 3 * i, "\xe2\x82\xac", 3);
	euro[63] = '\0';
	char o2[16];
	collect_proc_cmdline_format(euro, 64, false, "", o2, sizeof(o2));
	cr_assert(pbjson_utf8_valid(o2, strlen(o2)));
	cr_assert_str_eq(o2, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac...");
}

/* -------------------------------------------------------------- identity */

static void check_id(const char *exe, const char *comm, const char *want, int nargs, ...)
{
	char raw[2048];
	va_list ap;
	va_start(ap, nargs);
	size_t len = raw_argv(raw, sizeof(raw), nargs, ap);
	va_end(ap);
	char out[PROC_IDENTITY_MAX];
	collect_proc_identity(exe, comm, raw, len, out, sizeof(out));
	cr_assert_str_eq(out, want);
}

Test(proc_identity, interpreters)
{
	check_id("/usr/bin/java", "java", "java org.apache.catalina.startup.Bootstrap", 6, "java",
		 "-Xms1g", "-classpath", "/a:/b", "-Dx=y", "org.apache.catalina.startup.Bootstrap");
	check_id("/usr/bin/java", "java", "java app.jar", 3, "java", "-jar", "app.jar");
	check_id("/usr/bin/java", "java", "java com.x/com.x.Main", 4, "java", "-p", "mods", "--module=com.x/com.x.Main");
	check_id("/usr/bin/python3.12", "python3", "python3.12 manage.py runserver", 3, "python3", "manage.py", "runserver");
	check_id("/usr/bin/python3.12", "python3", "python3.12 -m http.server", 3, "python3", "-m", "http.server");
	check_id("/usr/bin/python3.12", "python3", "python3.12 -c", 3, "python3", "-c", "print(1)");
	check_id("/usr/bin/python3.12", "gunicorn", "gunicorn app:app", 3,
		 "/usr/bin/python3", "/usr/local/bin/gunicorn", "app:app");
	check_id("/usr/bin/node", "node", "node dist/main.js", 4, "node", "--max-old-space-size=512", "dist/main.js", "x");
	check_id("/usr/bin/ruby3.1", "ruby", "ruby3.1 puma", 1, "puma 6.4.0 (tcp://0.0.0.0:3000) [app]");
	check_id("/usr/bin/php8.2", "php", "php8.2 artisan queue:work", 3, "php", "artisan", "queue:work");
	check_id("/usr/bin/perl", "perl", "perl -e", 3, "perl", "-e", "print 1");
	check_id("/usr/sbin/nginx", "nginx", "nginx", 1, "nginx: worker process");
	check_id("/usr/bin/java (deleted)", "java", "java Main", 2, "java", "Main");
	check_id("", "kworker", "sshd", 1, "sshd: root@pts/0"); /* exe unreadable: argv[0] */
	check_id("", "agetty", "agetty", 0);                    /* nothing but comm */
}

/* A program is named by what it was started as when the kernel's comm
 * confirms it (multi-call binaries), never by a rewritten title. */
Test(proc_identity, multi_call_binaries_and_titles)
{
	/* Debian: /usr/bin/redis-server -> redis-check-rdb; redis rewrites argv[0]. */
	check_id("/usr/bin/redis-check-rdb", "redis-server", "redis-server", 2,
		 "/usr/bin/redis-server", "/etc/redis/redis.conf");
	check_id("/usr/bin/redis-check-rdb", "redis-server", "redis-server", 1,
		 "/usr/bin/redis-server 127.0.0.1:6379");
	check_id("/usr/bin/redis-check-rdb", "redis-check-rdb", "redis-check-rdb", 2,
		 "/usr/bin/redis-check-rdb", "/var/lib/redis/dump.rdb");
	/* busybox applets; comm is cut at 15 bytes, argv[0] is not. */
	check_id("/bin/busybox", "httpd", "httpd", 3, "/usr/sbin/httpd", "-f", "-p8080");
	check_id("/usr/libexec/multitool", "longservicename", "longservicename-daemon", 1,
		 "/usr/sbin/longservicename-daemon");
	/* Renamed titles: the binary's name stays. */
	check_id("/usr/lib/postgresql/15/bin/postgres", "postgres", "postgres", 1,
		 "postgres: checkpointer ");
	check_id("/usr/lib/postgresql/15/bin/postgres", "postgres", "postgres", 1,
		 "postgres: 15/main: walwriter");
	check_id("/usr/sbin/sshd", "sshd", "sshd", 1, "sshd: root@pts/0");
	/* argv[0] that comm does not confirm is a title, not a name. */
	check_id("/usr/bin/foo", "foo", "foo", 2, "bar", "--x");
	/* Interpreters keep their exe name and add what they run. */
	check_id("/usr/bin/python3.11", "python3", "python3.11 /srv/app/worker.py", 3,
		 "/usr/bin/python3", "/srv/app/worker.py", "--queue=high");
	check_id("/usr/bin/python3.11", "python3", "python3.11 -m celery", 5,
		 "python3", "-X", "dev", "-m", "celery");
}

/* One script that runs different programs by its first argument is as
 * many identities: otherwise one program's dependencies are another's. */
Test(proc_identity, dispatcher_scripts)
{
	check_id("/usr/bin/python3.11", "python3", "python3.11 /srv/shop/services.py billing", 3,
		 "python3", "/srv/shop/services.py", "billing");
	check_id("/usr/bin/python3.11", "python3", "python3.11 /srv/shop/services.py catalog", 5,
		 "python3", "/srv/shop/services.py", "--port", "8081", "catalog");
	check_id("/usr/bin/python3.11", "python3", "python3.11 services.py stock", 5,
		 "python3", "-u", "services.py", "--log=/var/log/s.log", "stock");
	/* values that change at a restart are not part of the identity */
	check_id("/usr/bin/python3.11", "python3", "python3.11 job.py", 3, "python3", "job.py",
		 "/tmp/job-4711.json");
	check_id("/usr/bin/python3.11", "python3", "python3.11 job.py", 3, "python3", "job.py",
		 "2026-12-02");
	check_id("/usr/bin/python3.11", "python3", "python3.11 job.py", 3, "python3", "job.py",
		 "key=value");
	check_id("/usr/bin/python3.11", "python3", "python3.11 -m flask run", 5, "python3", "-m",
		 "flask", "run", "--port=5000");
	check_id("/usr/bin/perl", "perl", "perl /opt/tools/ctl.pl poll", 4, "perl", "-w",
		 "/opt/tools/ctl.pl", "poll");
	check_id("/usr/bin/ruby3.1", "ruby", "ruby3.1 bin/rake jobs:work", 3, "ruby", "bin/rake",
		 "jobs:work");
	check_id("/usr/bin/bash", "bash", "bash /opt/app/run.sh worker", 4, "/bin/bash", "-e",
		 "/opt/app/run.sh", "worker");
	check_id("/usr/bin/dash", "sh", "dash /etc/init.d/x", 2, "/bin/sh", "/etc/init.d/x");
	check_id("/usr/bin/bash", "bash", "bash", 3, "bash", "-c", "sleep 5; echo done");
	check_id("/usr/bin/bash", "bash", "bash", 1, "-bash"); /* a login shell */
	check_id("/bin/busybox", "sh", "sh /init.sh serve", 3, "sh", "/init.sh", "serve");
	/* java and node: main class, jar or script only */
	check_id("/usr/bin/java", "java", "java /opt/app.jar", 4, "java", "-jar", "/opt/app.jar",
		 "server");
	check_id("/usr/bin/node", "node", "node /srv/web/server.js", 3, "node", "/srv/web/server.js",
		 "prod");
}

/* gunicorn and uWSGI are named by the application they serve, the same for
 * master and workers, with or without a rewritten title. */
Test(proc_identity, app_servers)
{
	const char *want = "gunicorn shop.wsgi:application";
	check_id("/usr/bin/python3.11", "gunicorn", want, 9, "/usr/bin/python3",
		 "/usr/local/bin/gunicorn", "-w", "4", "-b", "0.0.0.0:8000", "-c",
		 "/etc/gunicorn.conf.py", "shop.wsgi:application");
	check_id("/usr/bin/python3.11", "gunicorn", want, 7, "/usr/bin/python3",
		 "/usr/local/bin/gunicorn", "-w", "4", "--bind", "0.0.0.0:8000",
		 "shop.wsgi:application");
	check_id("/usr/bin/python3.11", "gunicorn", want, 1,
		 "gunicorn: master [shop.wsgi:application]");
	check_id("/usr/bin/python3.11", "gunicorn", want, 1,
		 "gunicorn: worker [shop.wsgi:application]");
	check_id("/usr/bin/python3.12", "python3", want, 5, "python3", "-m", "gunicorn",
		 "--workers=2", "shop.wsgi:application");
	check_id("/usr/bin/python3.11", "gunicorn", "gunicorn", 2, "/usr/bin/python3",
		 "/usr/local/bin/gunicorn");
	check_id("/usr/bin/uwsgi-core", "uwsgi", "uwsgi shop.wsgi:application", 5, "uwsgi",
		 "--http", ":8000", "--module", "shop.wsgi:application");
	check_id("/usr/bin/uwsgi-core", "uwsgi", "uwsgi /etc/uwsgi/apps-enabled/shop.ini", 2,
		 "/usr/bin/uwsgi", "--ini=/etc/uwsgi/apps-enabled/shop.ini");
	check_id("/usr/bin/uwsgi-core", "uwsgi", "uwsgi /srv/app/wsgi.py", 5, "uwsgi", "--master",
		 "--wsgi-file", "/srv/app/wsgi.py", "--processes=4");
}

/* ---------------------------------------------------------- container id */

Test(proc_container, layouts)
{
	char id[PROC_CONTAINER_ID_MAX];
	cr_assert(collect_proc_container_id("12:memory:/docker/" DOCKER_ID "\n11:cpu:/docker/" DOCKER_ID "\n", id));
	cr_assert_str_eq(id, DOCKER_ID);
	cr_assert(collect_proc_container_id("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
				    "pod1b2c.slice/cri-containerd-" PODMAN_ID ".scope\n", id));
	cr_assert_str_eq(id, PODMAN_ID);
	cr_assert(collect_proc_container_id("0::/kubepods/besteffort/pod0f1e2d3c-aaaa-bbbb-cccc-0123456789ab/"
				    DOCKER_ID "\n", id));
	cr_assert_str_eq(id, DOCKER_ID);
	cr_assert(collect_proc_container_id("0::/machine.slice/crio-" DOCKER_ID ".scope\n", id));
	cr_assert_str_eq(id, DOCKER_ID);
	cr_assert_not(collect_proc_container_id("0::/user.slice/user-1000.slice/session-2.scope\n", id));
	cr_assert_str_eq(id, "");
	cr_assert_not(collect_proc_container_id("0::/machine.slice/libpod-conmon-" DOCKER_ID ".scope\n", id));
	/* 63 or 65 hex digits are not an id */
	cr_assert_not(collect_proc_container_id("0::/docker/a3f1c2e4b5d6978812345678901234567890abcdefabcdefabcdef012345678\n", id));
	cr_assert_not(collect_proc_container_id("0::/docker/" DOCKER_ID "0\n", id));
}

/* -------------------------------------------------------- CPU and delta */

static void set_stat(const char *root, uint32_t pid, const char *comm, uint32_t ppid, uint64_t utime,
		     uint64_t starttime)
{
	char rel[64], line[512];
	snprintf(rel, sizeof(rel), "/proc/%u/stat", pid);
	snprintf(line, sizeof(line),
		 "%u (%s) S %u %u %u 0 -1 4194560 120 0 3 0 %lu 0 0 0 20 0 1 0 %lu 123456789 100 "
		 "18446744073709551615 1 1 0 0 0 0 0 4096 17635 0 0 0 17 1 0 0 0 0 0\n",
		 pid, comm, ppid, pid, pid, (unsigned long)utime, (unsigned long)starttime);
	tu_write(root, rel, line);
}

Test(proc_cpu, percent_between_snapshots)
{
	char *root = tu_copy_fixture("debian12");
	struct collect_ctx ctx;
	struct proc_state *st;
	Cairn__ProcessSnapshot *a = snap_of(root, &ctx, &st);
	long hz = sysconf(_SC_CLK_TCK);
	/* 10 s later pid 1200 used hz*5 more ticks (utime+stime): 50 % of one core. */
	tu_write(root, "/proc/uptime", "86410.50 650000.10\n");
	set_stat(root, 1200, "java", 1, 360000 + 12000 + (uint64_t)hz * 5 - 0, 4000);
	Cairn__ProcessSnapshot *b;
	cr_assert_eq(collect_proc_snapshot(&ctx, st, &b), 0);
	/* the rewritten stat line has stime 0: utime carries the whole total */
	cr_assert_float_eq(find(b, 1200)->cpu_pct, 50.0, 1e-6);
	cr_assert_float_eq(find(b, 512)->cpu_pct, 0.0, 1e-9);
	cr_assert_str_eq(find(b, 1200)->cmdline, find(a, 1200)->cmdline, "cached facts reused");
	cairn__process_snapshot__free_unpacked(a, NULL);
	cairn__process_snapshot__free_unpacked(b, NULL);
	collect_proc_state_free(st);
	tu_rm_rf(root);
	free(root);
}

Test(proc_delta, started_changed_exited_reused)
{
	char *root = tu_copy_fixture("debian12");
	struct collect_ctx ctx;
	struct proc_state *st;
	Cairn__ProcessSnapshot *a = snap_of(root, &ctx, &st);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/proc/1600'", root);
	cr_assert_eq(system(cmd), 0);
	set_stat(root, 1700, "worker", 1, 0, 9000);      /* new */
	tu_write_bytes(root, "/proc/1700/cmdline", "worker\0", 7);
	set_stat(root, 1500, "mysql", 512, 0, 9500);     /* pid reused: new start time */
	set_stat(root, 512, "sshd", 1, 100, 900);        /* CPU only: not a change */
	Cairn__ProcessSnapshot *b;
	cr_assert_eq(collect_proc_snapshot(&ctx, st, &b), 0);
	Cairn__ProcessDelta *d;
	cr_assert_eq(collect_proc_delta(a, b, &d), 0);
	cr_assert_eq(d->n_started, 2);
	cr_assert_eq(d->started[0]->pid, 1500);
	cr_assert_eq(d->started[1]->pid, 1700);
	cr_assert_str_eq(d->started[1]->cmdline, "worker");
	cr_assert_eq(d->n_exited_pids, 2);
	cr_assert_eq(d->exited_pids[0], 1500);
	cr_assert_eq(d->exited_pids[1], 1600);
	cairn__process_delta__free_unpacked(d, NULL);
	/* no change at all: empty delta */
	cr_assert_eq(collect_proc_delta(b, b, &d), 0);
	cr_assert_eq(d->n_started + d->n_exited_pids, 0);
	cairn__process_delta__free_unpacked(d, NULL);
	/* first delta ever: everything started */
	cr_assert_eq(collect_proc_delta(NULL, b, &d), 0);
	cr_assert_eq(d->n_started, b->n_processes);
	cairn__process_delta__free_unpacked(d, NULL);
	/* snapshots not in pid order (not from collect_proc_snapshot) still compare right */
	Cairn__Process *tmp = b->processes[0];
	b->processes[0] = b->processes[b->n_processes - 1];
	b->processes[b->n_processes - 1] = tmp;
	cr_assert_eq(collect_proc_delta(a, b, &d), 0);
	cr_assert_eq(d->n_started, 2);
	cr_assert_eq(d->n_exited_pids, 2);
	cairn__process_delta__free_unpacked(d, NULL);
	cr_assert_eq(collect_proc_delta(b, a, &d), 0);
	cr_assert_eq(d->n_started, 2, "1500 (reused) and 1600 come back");
	cr_assert_eq(d->n_exited_pids, 2, "1500 (reused) and 1700");
	cairn__process_delta__free_unpacked(d, NULL);
	cairn__process_snapshot__free_unpacked(a, NULL);
	cairn__process_snapshot__free_unpacked(b, NULL);
	collect_proc_state_free(st);
	tu_rm_rf(root);
	free(root);
}

/* ------------------------------------------------------------- malformed */

static char *tiny_root(void)
{
	char *root = tu_tmpdir("proc");
	tu_write(root, "/proc/uptime", "100.00 100.00\n");
	tu_write(root, "/proc/stat", "cpu  1 2 3 4 5 6 7 8 0 0\nbtime 1700000000\n");
	tu_write(root, "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
	set_stat(root, 10, "good", 1, 5, 50);
	tu_write_bytes(root, "/proc/10/cmdline", "good\0", 5);
	tu_write(root, "/proc/10/status", "Name:\tgood\nUid:\t0\t0\t0\t0\n");
	return root;
}

static Cairn__ProcessSnapshot *tiny_snap(const char *root, struct collect_ctx *ctx)
{
	return snap_of(root, ctx, NULL);
}

/* Three programs started as `python3 services.py ROLE` (the e2e estate's
 * shape) are three identities in a snapshot. */
Test(proc_fixture, dispatcher_roles_are_distinct)
{
	char *root = tiny_root();
	const char *roles[] = { "orders", "billing", "stock" };
	for (uint32_t i = 0; i < 3; i++) {
		char rel[64], argv[128];
		set_stat(root, 30 + i, "python3", 1, 5, 60);
		int len = snprintf(argv, sizeof(argv), "python3%c/srv/shop/services.py%c%s%c--port%c%u",
				   0, 0, roles[i], 0, 0, 8000 + i);
		snprintf(rel, sizeof(rel), "/proc/%u/cmdline", 30 + i);
		tu_write_bytes(root, rel, argv, (size_t)len + 1);
		snprintf(rel, sizeof(rel), "/proc/%u/exe", 30 + i);
		tu_symlink(root, rel, "/usr/bin/python3.11");
	}
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = tiny_snap(root, &ctx);
	cr_assert_str_eq(find(s, 30)->identity, "python3.11 /srv/shop/services.py orders");
	cr_assert_str_eq(find(s, 31)->identity, "python3.11 /srv/shop/services.py billing");
	cr_assert_str_eq(find(s, 32)->identity, "python3.11 /srv/shop/services.py stock");
	cairn__process_snapshot__free_unpacked(s, NULL);
	tu_rm_rf(root);
	free(root);
}

Test(proc_malformed, truncated_stat_line)
{
	char *root = tiny_root();
	tu_write(root, "/proc/20/stat", "20 (cut) S 1 20 20 0 -1 4194560 120 0 3 0 5");
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = tiny_snap(root, &ctx);
	cr_assert_eq(s->n_processes, 1);
	cr_assert_eq(s->processes[0]->pid, 10);
	cr_assert_eq(ctx.stats[COLLECT_PROC].errors, 1);
	cr_assert(strstr(ctx.stats[COLLECT_PROC].last_error, "malformed"));
	cairn__process_snapshot__free_unpacked(s, NULL);
	tu_rm_rf(root);
	free(root);
}

Test(proc_malformed, vanished_process)
{
	char *root = tiny_root();
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/proc/30", root);
	tu_mkdirs(dir); /* the directory is listed but its files are gone */
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = tiny_snap(root, &ctx);
	cr_assert_eq(s->n_processes, 1);
	cr_assert_eq(ctx.stats[COLLECT_PROC].errors, 1);
	cr_assert(strstr(ctx.stats[COLLECT_PROC].last_error, "vanished"));
	cairn__process_snapshot__free_unpacked(s, NULL);
	tu_rm_rf(root);
	free(root);
}

Test(proc_malformed, megabyte_cmdline)
{
	char *root = tiny_root();
	size_t big = 1u << 20;
	char *raw = malloc(big);
	for (size_t i = 0; i < big; i++)
		raw[i] = (i % 100 == 99) ? '\0' : 'a';
	set_stat(root, 40, "big", 1, 0, 60);
	tu_write_bytes(root, "/proc/40/cmdline", raw, big);
	free(raw);
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = tiny_snap(root, &ctx);
	const Cairn__Process *p = find(s, 40);
	cr_assert_not_null(p);
	cr_assert_leq(strlen(p->cmdline), PROC_CMDLINE_MAX - 1);
	cr_assert_str_eq(p->cmdline + strlen(p->cmdline) - 3, "...");
	cairn__process_snapshot__free_unpacked(s, NULL);
	tu_rm_rf(root);
	free(root);
}

Test(proc_malformed, non_utf8_bytes_and_tricky_comm)
{
	char *root = tiny_root();
	set_stat(root, 50, "we) (ird\xff", 1, 0, 70);
	tu_write_bytes(root, "/proc/50/cmdline", "caf\xe9\0--name=\xff\xfe\0", 16);
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = tiny_snap(root, &ctx);
	const Cairn__Process *p = find(s, 50);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->name, "we) (ird\xef\xbf\xbd");
	cr_assert_str_eq(p->cmdline, "caf\xef\xbf\xbd --name=\xef\xbf\xbd\xef\xbf\xbd");
	cr_assert_eq(p->ppid, 1);
	char *json = pbjson_dumps(&s->base, 0, 0);
	json_t *back = json_loads(json, 0, NULL);
	cr_assert_not_null(back);
	json_decref(back);
	free(json);
	cairn__process_snapshot__free_unpacked(s, NULL);
	tu_rm_rf(root);
	free(root);
}

Test(proc_malformed, unreadable_process_dir)
{
	char *root = tiny_root();
	set_stat(root, 60, "secret", 1, 0, 80);
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/proc/60", root);
	tu_drop_dac_caps();
	cr_assert_eq(chmod(dir, 0), 0);
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = tiny_snap(root, &ctx);
	cr_assert_eq(s->n_processes, 1);
	cr_assert_eq(ctx.stats[COLLECT_PROC].errors, 1);
	cr_assert(strstr(ctx.stats[COLLECT_PROC].last_error, "Permission denied"),
		  "%s", ctx.stats[COLLECT_PROC].last_error);
	chmod(dir, 0755);
	cairn__process_snapshot__free_unpacked(s, NULL);
	tu_rm_rf(root);
	free(root);
}

/* ------------------------------------------------------------------ live */

static bool is_kthread(const char *pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long ppid = 0, flags = 0;
	if (!p || sscanf(p + 2, "%*c %lu %*d %*d %*d %*d %lu", &ppid, &flags) != 2)
		return true;
	return (flags & 0x00200000) || ppid == 2 || !strcmp(pid, "2");
}

/* The user processes in /proc, each with its start time (field 22 of
 * /proc/PID/stat) so that a pid reused between two listings is not taken for
 * the same process; zombies (exited, not yet reaped) get start time 0: they
 * have no exe or cmdline to report and may be skipped by the scan. */
struct pid_seen {
	uint32_t pid;
	unsigned long long start;
};

static unsigned long long pid_start(const char *pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	unsigned long long start = 0;
	/* after ") S": fields 4 .. 22; start time is the 20th after the state */
	if (sscanf(p + 4, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
		   &start) != 1)
		return 0;
	return start;
}

static size_t list_pids(struct pid_seen *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || is_kthread(de->d_name))
			continue;
		out[n].pid = (uint32_t)strtoul(de->d_name, NULL, 10);
		out[n++].start = pid_start(de->d_name);
	}
	closedir(d);
	return n;
}

static bool has(const struct pid_seen *v, size_t n, uint32_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].pid == pid)
			return true;
	return false;
}

/* The same process (pid and start time, not a zombie) in both listings. */
static bool alive_throughout(const struct pid_seen *after, size_t n, const struct pid_seen *b)
{
	if (!b->start)
		return false;
	for (size_t i = 0; i < n; i++)
		if (after[i].pid == b->pid)
			return after[i].start == b->start;
	return false;
}

Test(proc_live, pid_set_matches_proc)
{
	static struct pid_seen before[65536], after[65536];
	size_t nb = list_pids(before, 65536);
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = snap_of("/", &ctx, NULL);
	size_t na = list_pids(after, 65536);
	cr_assert_geq(s->n_processes, 2);
	/* every process alive before and after the scan was found ... */
	for (size_t i = 0; i < nb; i++)
		if (alive_throughout(after, na, &before[i]))
			cr_assert_not_null(find(s, before[i].pid), "pid %u missing", before[i].pid);
	/* ... and nothing else, except processes born during the scan */
	uint32_t max_before = 0;
	for (size_t i = 0; i < nb; i++)
		if (before[i].pid > max_before)
			max_before = before[i].pid;
	for (size_t i = 0; i < s->n_processes; i++) {
		uint32_t pid = s->processes[i]->pid;
		cr_assert(has(before, nb, pid) || has(after, na, pid) || pid > max_before,
			  "pid %u is not in /proc", pid);
	}
	const Cairn__Process *self = find(s, (uint32_t)getpid());
	cr_assert_not_null(self);
	char exe[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[l > 0 ? l : 0] = '\0';
	cr_assert_str_eq(self->exe, exe);
	cr_assert_eq(self->ppid, (uint32_t)getppid());
	cr_assert_eq(self->uid, (uint32_t)geteuid());
	cr_assert_gt(self->rss_bytes, 0);
	cr_assert_gt(self->start_time_ms, 1000000000000ll);
	cairn__process_snapshot__free_unpacked(s, NULL);
}

Test(proc_malformed, cache_budget_bounds_memory)
{
	char *root = tiny_root();
	char *arg = malloc(4001);
	memset(arg, 'j', 4000);
	arg[4000] = '\0';
	const uint32_t n = 2300; /* 2300 x ~4.1 KB > PROC_CACHE_BUDGET */
	for (uint32_t pid = 1000; pid < 1000 + n; pid++) {
		char rel[64];
		set_stat(root, pid, "java", 1, 0, pid);
		snprintf(rel, sizeof(rel), "/proc/%u/cmdline", pid);
		tu_write_bytes(root, rel, arg, 4001);
	}
	free(arg);
	struct collect_ctx ctx;
	Cairn__ProcessSnapshot *s = tiny_snap(root, &ctx);
	cr_assert_eq(s->n_processes, n + 1);
	size_t total = 0, short_ones = 0;
	for (size_t i = 0; i < s->n_processes; i++) {
		size_t l = strlen(s->processes[i]->cmdline);
		total += l;
		short_ones += l < PROC_CMDLINE_SHORT;
	}
	cr_assert_gt(short_ones, 0, "the budget must cut some command lines");
	cr_assert_leq(total, PROC_CACHE_BUDGET + (size_t)PROC_CMDLINE_MAX * 2 + n * PROC_CMDLINE_SHORT);
	cairn__process_snapshot__free_unpacked(s, NULL);
	tu_rm_rf(root);
	free(root);
}

Test(proc_cpu, exec_refreshes_cached_facts)
{
	char *root = tiny_root();
	set_stat(root, 70, "sh", 1, 10, 500);
	tu_write_bytes(root, "/proc/70/cmdline", "sh\0-c\0exec java Main\0", 22);
	struct collect_ctx ctx;
	struct proc_state *st;
	Cairn__ProcessSnapshot *a = snap_of(root, &ctx, &st);
	cr_assert_str_eq(find(a, 70)->identity, "sh");
	/* the shell exec'd java: same pid and start time, new comm and cmdline */
	tu_write(root, "/proc/uptime", "110.00 100.00\n");
	set_stat(root, 70, "java", 1, 10 + (uint64_t)sysconf(_SC_CLK_TCK), 500);
	tu_write_bytes(root, "/proc/70/cmdline", "java\0Main\0", 10);
	Cairn__ProcessSnapshot *b;
	cr_assert_eq(collect_proc_snapshot(&ctx, st, &b), 0);
	cr_assert_str_eq(find(b, 70)->cmdline, "java Main");
	cr_assert_str_eq(find(b, 70)->identity, "java Main");
	cr_assert_float_eq(find(b, 70)->cpu_pct, 10.0, 1e-6, "CPU continues across the exec");
	cairn__process_snapshot__free_unpacked(a, NULL);
	cairn__process_snapshot__free_unpacked(b, NULL);
	collect_proc_state_free(st);
	tu_rm_rf(root);
	free(root);
}
