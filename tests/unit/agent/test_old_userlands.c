/* The servers that get migrated: one fixture tree per old distribution
 * release (tests/fixtures/make_fixtures.py, OLD_HOSTS). On each, the host
 * facts (OS from os-release, or /etc/redhat-release where there is none;
 * kernel; names), the processes (users from /etc/passwd, container ids from
 * cgroup v1 paths of docker, podman, kubelet and ECS), the packages (dpkg, or
 * rpm's Berkeley DB era) and the OS lifecycle row readiness finds for the host
 * (collector/plan/data/os-lifecycle.csv) must be right. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "collect_host.h"
#include "collect_pkg.h"
#include "collect_proc.h"
#include "collect_testutil.h"
#include "readiness.h"
#include "util.h"

#ifndef LIFECYCLE_CSV
#error "LIFECYCLE_CSV must name collector/plan/data/os-lifecycle.csv"
#endif

struct want_proc {
	uint32_t pid;
	const char *user;
	const char *container_id; /* "" = not in a container */
};

struct old_host {
	const char *tree;
	const char *os_id, *version_id, *pretty_name;
	const char *kernel, *hostname, *fqdn;
	struct want_proc procs[4];
	size_t nprocs;               /* processes the tree holds, pid 1 included */
	const char *manager;
	size_t npkgs;
	const char *pkg0_name, *pkg0_version;
	const char *eol, *eoes;      /* the lifecycle row readiness must find */
};

static const struct old_host hosts[] = {
	{ "centos7", "centos", "7", "CentOS Linux 7 (Core)", "3.10.0-1160.119.1.el7.x86_64",
	  "legacy-app01", "legacy-app01.corp.example.com",
	  { { 1, "root", "" }, { 1200, "root", "" },
	    { 1300, "tomcat", "4b1f0e6a3c2d5e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7" },
	    { 1400, "root", "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc" } },
	  4, "rpm", 5, "bash", "4.2.46-35.el7_9", "2024-06-30", "" },
	{ "rhel8", "rhel", "8.10", "Red Hat Enterprise Linux 8.10 (Ootpa)", "4.18.0-553.el8_10.x86_64",
	  "erp-db02", "erp-db02.corp.example.com",
	  { { 1099, "root", "" },
	    { 1100, "postgres", "9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877665544" } },
	  3, "rpm", 4, "bash", "4.4.20-5.el8", "2029-05-31", "2033-05-31" },
	{ "sles12", "sles", "12.5", "SUSE Linux Enterprise Server 12 SP5", "4.12.14-122.201-default",
	  "sap-app03", "sap-app03.corp.example.com",
	  { { 2100, "hdbadm", "" },
	    { 2200, "root", "5e5e5e5e00000000111111112222222233333333444444445555555566666666" } },
	  3, "rpm", 4, "bash", "4.3-83.23.1", "2024-10-31", "2027-10-31" },
	{ "ubuntu1604", "ubuntu", "16.04", "Ubuntu 16.04.7 LTS", "4.4.0-210-generic",
	  "web-old01", "web-old01",
	  { { 900, "root", "" },
	    { 1500, "systemd-bus-proxy", "abcdefabcdef0123456789abcdefabcdef0123456789abcdefabcdef01234567" } },
	  3, "dpkg", 3, "base-files", "9.4ubuntu4.14", "2021-04-02", "2026-04-02" },
	{ "ubuntu1804", "ubuntu", "18.04", "Ubuntu 18.04.6 LTS", "4.15.0-213-generic",
	  "k8s-node07", "k8s-node07",
	  { { 3100, "root", "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed" } },
	  2, "dpkg", 3, "base-files", "10.1ubuntu2.12", "2023-05-31", "2028-04-01" },
	{ "amzn2", "amzn", "2", "Amazon Linux 2", "4.14.355-276.639.amzn2.x86_64",
	  "ip-10-0-3-17", "ip-10-0-3-17.ec2.internal",
	  { { 4100, "root", "0e0c5ec5ba5e0e0c5ec5ba5e0e0c5ec5ba5e0e0c5ec5ba5e0e0c5ec5ba5e0e0c" } },
	  2, "rpm", 4, "bash", "4.2.46-34.amzn2", "2026-06-30", "" },
	{ "debian9", "debian", "9", "Debian GNU/Linux 9 (stretch)", "4.9.0-19-amd64",
	  "mail01", "mail01",
	  { { 700, "root", "" },
	    { 800, "www-data", "de6ade6ade6ade6ade6ade6ade6ade6ade6ade6ade6ade6ade6ade6ade6ade6a" } },
	  3, "dpkg", 3, "base-files", "9.9+deb9u13", "2020-07-18", "2022-07-01" },
	/* SysV init, no os-release: everything from /etc/redhat-release. */
	{ "centos6", "centos", "6.10", "CentOS release 6.10 (Final)", "2.6.32-754.35.1.el6.x86_64",
	  "legacy-db01", "legacy-db01.corp.example.com",
	  { { 1, "root", "" }, { 1800, "mysql", "" },
	    { 1900, "root", "6666aaaa6666aaaa6666aaaa6666aaaa6666aaaa6666aaaa6666aaaa6666aaaa" } },
	  3, "rpm", 4, "bash", "4.1.2-48.el6", "2020-11-30", "" },
};

static const Cairn__Process *find(const Cairn__ProcessSnapshot *s, uint32_t pid)
{
	for (size_t i = 0; i < s->n_processes; i++)
		if (s->processes[i]->pid == pid)
			return s->processes[i];
	return NULL;
}

static void check_host(const struct old_host *w, const struct readiness_lifecycle *lc)
{
	char root[4096];
	snprintf(root, sizeof(root), "%s/%s", FIXTURE_DIR, w->tree);

	struct collect_ctx ctx;
	collect_ctx_init(&ctx, root);
	Cairn__HostInfo *h = NULL;
	cr_assert_eq(collect_host(&ctx, &h), 0, "%s", w->tree);
	cr_expect_str_eq(h->os->id, w->os_id, "%s", w->tree);
	cr_expect_str_eq(h->os->version_id, w->version_id, "%s", w->tree);
	cr_expect_str_eq(h->os->pretty_name, w->pretty_name, "%s", w->tree);
	cr_expect_str_eq(h->kernel_release, w->kernel, "%s", w->tree);
	cr_expect_str_eq(h->hostname, w->hostname, "%s", w->tree);
	cr_expect_str_eq(h->fqdn, w->fqdn, "%s", w->tree);
	cr_expect_str_eq(h->architecture, "x86_64", "%s", w->tree);

	/* Readiness finds the release in the dated lifecycle table. */
	int via_like = 0;
	const struct readiness_os *o = readiness_os_find(lc, h->os, &via_like);
	cr_expect_not_null(o, "%s: %s %s not in %s", w->tree, h->os->id, h->os->version_id, lc->path);
	if (o) {
		cr_expect_str_eq(o->id, w->os_id, "%s", w->tree);
		cr_expect_eq(via_like, 0, "%s matched through ID_LIKE", w->tree);
		cr_expect_str_eq(o->eol, w->eol, "%s", w->tree);
		cr_expect_str_eq(o->eoes, w->eoes, "%s", w->tree);
	}
	cairn__host_info__free_unpacked(h, NULL);

	collect_ctx_init(&ctx, root);
	struct proc_state *st;
	cr_assert_eq(collect_proc_state_new(&st), 0);
	Cairn__ProcessSnapshot *s = NULL;
	cr_assert_eq(collect_proc_snapshot(&ctx, st, &s), 0, "%s", w->tree);
	cr_expect_eq(s->n_processes, w->nprocs, "%s: %zu processes", w->tree, s->n_processes);
	cr_expect_eq(ctx.stats[COLLECT_PROC].errors, 0, "%s: %s", w->tree,
		     ctx.stats[COLLECT_PROC].last_error);
	for (size_t i = 0; i < ARRAY_SIZE(w->procs) && w->procs[i].pid; i++) {
		const Cairn__Process *p = find(s, w->procs[i].pid);
		cr_assert_not_null(p, "%s: pid %u", w->tree, w->procs[i].pid);
		cr_expect_str_eq(p->user, w->procs[i].user, "%s pid %u", w->tree, p->pid);
		cr_expect_str_eq(p->container_id, w->procs[i].container_id, "%s pid %u", w->tree, p->pid);
	}
	cairn__process_snapshot__free_unpacked(s, NULL);
	collect_proc_state_free(st);

	collect_ctx_init(&ctx, root);
	str_copy(ctx.rpm_path, FIXTURE_DIR "/bin/fake-rpm", sizeof(ctx.rpm_path));
	Cairn__PackageInventory **inv = NULL;
	size_t n = 0;
	cr_assert_eq(collect_pkg(&ctx, NULL, &inv, &n), 0, "%s", w->tree);
	cr_expect_eq(ctx.stats[COLLECT_PKG].errors, 0, "%s: %s", w->tree, ctx.stats[COLLECT_PKG].last_error);
	cr_assert_eq(n, 1, "%s: %zu package managers", w->tree, n);
	cr_expect_str_eq(inv[0]->manager, w->manager, "%s", w->tree);
	cr_expect_eq(inv[0]->n_packages, w->npkgs, "%s: %zu packages", w->tree, inv[0]->n_packages);
	if (inv[0]->n_packages) {
		cr_expect_str_eq(inv[0]->packages[0]->name, w->pkg0_name, "%s", w->tree);
		cr_expect_str_eq(inv[0]->packages[0]->version, w->pkg0_version, "%s", w->tree);
	}
	for (size_t i = 0; i < n; i++)
		cairn__package_inventory__free_unpacked(inv[i], NULL);
	free(inv);
}

Test(old_userlands, every_tree)
{
	struct readiness_lifecycle lc;
	struct errbuf eb = {{0}};
	cr_assert_eq(readiness_lifecycle_load(LIFECYCLE_CSV, &lc, &eb), 0, "%s", eb.msg);
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++)
		check_host(&hosts[i], &lc);
	readiness_lifecycle_free(&lc);
}

Test(old_userlands, redhat_release_wordings)
{
	static const struct {
		const char *line, *id, *version;
	} cases[] = {
		{ "CentOS release 6.10 (Final)", "centos", "6.10" },
		{ "CentOS Linux release 7.9.2009 (Core)", "centos", "7.9.2009" },
		{ "Red Hat Enterprise Linux Server release 6.10 (Santiago)", "rhel", "6.10" },
		{ "Red Hat Enterprise Linux Server release 7.9 (Maipo)", "rhel", "7.9" },
		{ "Scientific Linux release 6.10 (Carbon)", "scientific", "6.10" },
		{ "Oracle Linux Server release 6.10", "ol", "6.10" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		Cairn__OsRelease os;
		cairn__os_release__init(&os);
		cr_assert_eq(collect_host_parse_redhat_release(cases[i].line, &os), 0, "%s", cases[i].line);
		cr_expect_str_eq(os.id, cases[i].id, "%s", cases[i].line);
		cr_expect_str_eq(os.version_id, cases[i].version, "%s", cases[i].line);
		cr_expect_str_eq(os.pretty_name, cases[i].line);
		free(os.id);
		free(os.id_like);
		free(os.name);
		free(os.version_id);
		free(os.pretty_name);
	}
	Cairn__OsRelease os;
	cairn__os_release__init(&os);
	cr_expect_eq(collect_host_parse_redhat_release("Fedora release 39 (Thirty Nine)", &os), -ENODATA);
	cr_expect_eq(collect_host_parse_redhat_release("CentOS release (Final)", &os), -ENODATA);
	cr_expect_eq(collect_host_parse_redhat_release("", &os), -ENODATA);
}
