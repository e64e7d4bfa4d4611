/* Host facts collector: three fixture hosts with exact values, parsers,
 * a broken tree, and the live host. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "collect.h"
#include "collect_host.h"
#include "collect_testutil.h"
#include "pbjson.h"
#include "util.h"

static Cairn__HostInfo *host_of(const char *root, struct collect_ctx *ctx)
{
	collect_ctx_init(ctx, root);
	Cairn__HostInfo *h = NULL;
	cr_assert_eq(collect_host(ctx, &h), 0);
	cr_assert_not_null(h);
	/* always serializable */
	char *json = pbjson_dumps(&h->base, PBJSON_EMIT_DEFAULTS, 0);
	cr_assert_not_null(json);
	json_t *back = json_loads(json, 0, NULL);
	cr_assert_not_null(back);
	json_decref(back);
	free(json);
	return h;
}

static void check_addr(const Cairn__IpAddress *a, const char *addr, uint32_t prefix, uint32_t fam,
		       const char *scope)
{
	cr_assert_str_eq(a->address, addr);
	cr_assert_eq(a->prefix_len, prefix, "%s", addr);
	cr_assert_eq(a->family, fam, "%s", addr);
	cr_assert_str_eq(a->scope, scope, "%s", addr);
}

static void check_fs(const Cairn__Filesystem *f, const char *mnt, const char *dev, const char *type,
		     uint64_t size, uint64_t used, uint64_t it, uint64_t iu)
{
	cr_assert_str_eq(f->mountpoint, mnt);
	cr_assert_str_eq(f->device, dev, "%s", mnt);
	cr_assert_str_eq(f->fstype, type, "%s", mnt);
	cr_assert_eq(f->size_bytes, size, "%s", mnt);
	cr_assert_eq(f->used_bytes, used, "%s", mnt);
	cr_assert_eq(f->inodes_total, it, "%s", mnt);
	cr_assert_eq(f->inodes_used, iu, "%s", mnt);
}

static void check_disk(const Cairn__BlockDevice *d, const char *name, uint64_t sectors, bool rot,
		       const char *model, const char *kind)
{
	cr_assert_str_eq(d->name, name);
	cr_assert_eq(d->size_bytes, sectors * 512, "%s", name);
	cr_assert_eq(d->rotational, rot, "%s", name);
	cr_assert_str_eq(d->model, model, "%s", name);
	cr_assert_str_eq(d->kind, kind, "%s", name);
}

Test(host_fixture, debian12)
{
	struct collect_ctx ctx;
	Cairn__HostInfo *h = host_of(FIXTURE_DIR "/debian12", &ctx);
	cr_assert_eq(ctx.stats[COLLECT_HOST].errors, 0, "%s", ctx.stats[COLLECT_HOST].last_error);
	cr_assert_str_eq(h->hostname, "db01");
	cr_assert_str_eq(h->fqdn, "db01.example.internal");
	cr_assert_str_eq(h->machine_id, "4c4c4544003510448058b4c04f4b4d32");
	cr_assert_str_eq(h->boot_id, "9f3c2a1e-5b7d-4e8f-a1b2-c3d4e5f60718");
	cr_assert_str_eq(h->os->name, "Debian GNU/Linux");
	cr_assert_str_eq(h->os->id, "debian");
	cr_assert_str_eq(h->os->id_like, "");
	cr_assert_str_eq(h->os->version_id, "12");
	cr_assert_str_eq(h->os->pretty_name, "Debian GNU/Linux 12 (bookworm)");
	cr_assert_str_eq(h->os->version_codename, "bookworm");
	cr_assert_str_eq(h->kernel_release, "6.1.0-18-amd64");
	cr_assert_str_eq(h->architecture, "x86_64");
	cr_assert_str_eq(h->cpu_model, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz");
	cr_assert_eq(h->cpu_sockets, 2);
	cr_assert_eq(h->cpu_cores, 4);
	cr_assert_eq(h->cpu_threads, 8);
	cr_assert_eq(h->cpu_mhz, 2095);
	cr_assert_eq(h->mem_total_bytes, 16326428ull * 1024);
	cr_assert_eq(h->swap_total_bytes, 2097148ull * 1024);

	cr_assert_str_eq(h->virt->kind, "vm");
	cr_assert_str_eq(h->virt->hypervisor, "qemu");
	cr_assert_str_eq(h->virt->container, "");
	cr_assert_str_eq(h->virt->dmi_sys_vendor, "QEMU");
	cr_assert_str_eq(h->virt->dmi_product_name, "Standard PC (Q35 + ICH9, 2009)");
	cr_assert_str_eq(h->virt->dmi_product_uuid, "6b1f2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d");
	cr_assert(h->virt->cpu_hypervisor_flag);

	cr_assert_eq(h->n_disks, 4, "loop0 (unused) and ram0 are skipped");
	check_disk(h->disks[0], "dm-0", 100663296, true, "", "lvm");
	check_disk(h->disks[1], "loop1", 131072, false, "", "loop");
	check_disk(h->disks[2], "sda", 104857600, true, "QEMU HARDDISK", "disk");
	check_disk(h->disks[3], "sdb", 2147483648ull, false, "QEMU HARDDISK", "disk");

	cr_assert_eq(h->n_filesystems, 4, "pseudo filesystems and docker overlays are skipped");
	check_fs(h->filesystems[0], "/", "/dev/mapper/vg0-root", "ext4", 52710469632ull,
		 21474836480ull, 3276800, 250000);
	check_fs(h->filesystems[1], "/boot", "/dev/sda1", "ext2", 509640704, 104857600, 131072, 350);
	check_fs(h->filesystems[2], "/srv/data dir", "/dev/sdb1", "xfs", 1099511627776ull,
		 549755813888ull, 536870912, 1000);
	check_fs(h->filesystems[3], "/mnt/share", "fileserver:/export", "nfs4", 0, 0, 0, 0);

	cr_assert_eq(h->n_nics, 3);
	const Cairn__Nic *d0 = h->nics[0], *eth = h->nics[1], *lo = h->nics[2];
	cr_assert_str_eq(d0->name, "docker0");
	cr_assert_str_eq(d0->mac, "02:42:ac:11:00:01");
	cr_assert_eq(d0->speed_mbps, -1);
	cr_assert_not(d0->up);
	cr_assert(d0->virtual_);
	cr_assert_eq(d0->n_addresses, 1);
	check_addr(d0->addresses[0], "172.17.0.1", 16, 4, "global");
	cr_assert_str_eq(eth->name, "eth0");
	cr_assert_str_eq(eth->mac, "52:54:00:12:34:56");
	cr_assert_eq(eth->mtu, 1500);
	cr_assert_eq(eth->speed_mbps, 1000);
	cr_assert(eth->up);
	cr_assert_not(eth->virtual_);
	cr_assert_eq(eth->n_addresses, 3);
	check_addr(eth->addresses[0], "10.20.30.40", 24, 4, "global");
	check_addr(eth->addresses[1], "2001:db8:10::5", 64, 6, "global");
	check_addr(eth->addresses[2], "fe80::5054:ff:fe12:3456", 64, 6, "link");
	cr_assert_str_eq(lo->name, "lo");
	cr_assert_str_eq(lo->mac, "");
	cr_assert_eq(lo->mtu, 65536);
	cr_assert(lo->up);
	cr_assert(lo->virtual_);
	cr_assert_eq(lo->n_addresses, 2);
	check_addr(lo->addresses[0], "127.0.0.1", 8, 4, "host");
	check_addr(lo->addresses[1], "::1", 128, 6, "host");

	cr_assert_eq(h->n_routes, 2);
	cr_assert_eq(h->routes[0]->family, 4);
	cr_assert_str_eq(h->routes[0]->destination, "default");
	cr_assert_str_eq(h->routes[0]->gateway, "10.20.30.1");
	cr_assert_str_eq(h->routes[0]->interface, "eth0");
	cr_assert_eq(h->routes[1]->family, 6);
	cr_assert_str_eq(h->routes[1]->gateway, "2001:db8:10::1");
	cr_assert_eq(h->n_dns_servers, 2);
	cr_assert_str_eq(h->dns_servers[0], "10.20.0.2");
	cr_assert_str_eq(h->dns_servers[1], "10.20.0.3");
	cr_assert_eq(h->n_dns_search, 2);
	cr_assert_str_eq(h->dns_search[0], "example.internal");
	cr_assert_str_eq(h->dns_search[1], "corp.example");
	cr_assert_str_eq(h->timezone, "Europe/Berlin");
	cr_assert_eq(h->uptime_s, 86400);
	cr_assert_eq(h->boot_time_ms, 1700000000000ll);
	cairn__host_info__free_unpacked(h, NULL);
}

Test(host_fixture, rhel9)
{
	struct collect_ctx ctx;
	Cairn__HostInfo *h = host_of(FIXTURE_DIR "/rhel9", &ctx);
	cr_assert_eq(ctx.stats[COLLECT_HOST].errors, 0, "%s", ctx.stats[COLLECT_HOST].last_error);
	cr_assert_str_eq(h->hostname, "app02");
	cr_assert_str_eq(h->fqdn, "app02.corp.example.com");
	cr_assert_str_eq(h->os->id, "rhel");
	cr_assert_str_eq(h->os->id_like, "fedora");
	cr_assert_str_eq(h->os->version_id, "9.3");
	cr_assert_str_eq(h->os->pretty_name, "Red Hat Enterprise Linux 9.3 (Plow)");
	cr_assert_str_eq(h->os->version_codename, "");
	cr_assert_str_eq(h->kernel_release, "5.14.0-362.8.1.el9_3.x86_64");
	cr_assert_eq(h->cpu_sockets, 4);
	cr_assert_eq(h->cpu_cores, 4);
	cr_assert_eq(h->cpu_threads, 4);
	cr_assert_eq(h->cpu_mhz, 2400);
	cr_assert_eq(h->swap_total_bytes, 0);
	cr_assert_str_eq(h->virt->kind, "vm");
	cr_assert_str_eq(h->virt->hypervisor, "vmware");
	cr_assert_eq(h->n_disks, 3);
	check_disk(h->disks[0], "dm-0", 146800640, false, "", "lvm");
	check_disk(h->disks[2], "nvme0n1", 209715200, false, "VMware Virtual NVMe Disk", "disk");
	cr_assert_eq(h->n_filesystems, 2, "tmpfs, selinuxfs, proc, sysfs skipped");
	check_fs(h->filesystems[0], "/", "/dev/mapper/rhel-root", "xfs", 75125227520ull, 10737418240ull,
		 36700160, 120000);
	check_fs(h->filesystems[1], "/boot", "/dev/nvme0n1p1", "xfs", 1063256064, 268435456, 524288, 400);
	cr_assert_eq(h->n_nics, 2);
	cr_assert_str_eq(h->nics[0]->name, "ens192");
	cr_assert_eq(h->nics[0]->mtu, 9000);
	cr_assert_eq(h->nics[0]->speed_mbps, 10000);
	cr_assert_eq(h->nics[0]->n_addresses, 2);
	check_addr(h->nics[0]->addresses[0], "192.168.50.12", 24, 4, "global");
	check_addr(h->nics[0]->addresses[1], "fe80::250:56ff:feaa:bbcc", 64, 6, "link");
	cr_assert_eq(h->n_routes, 1, "no IPv6 default route");
	cr_assert_str_eq(h->routes[0]->gateway, "192.168.50.1");
	cr_assert_str_eq(h->routes[0]->interface, "ens192");
	cr_assert_eq(h->n_dns_servers, 2);
	cr_assert_eq(h->n_dns_search, 1);
	cr_assert_str_eq(h->dns_search[0], "corp.example.com");
	cr_assert_str_eq(h->timezone, "America/New_York", "from the /etc/localtime link");
	cr_assert_eq(h->uptime_s, 1234567);
	cairn__host_info__free_unpacked(h, NULL);
}

Test(host_fixture, alpine_container_on_arm)
{
	struct collect_ctx ctx;
	Cairn__HostInfo *h = host_of(FIXTURE_DIR "/alpine", &ctx);
	cr_assert_str_eq(h->hostname, "3f2a1b0c9d8e");
	cr_assert_str_eq(h->os->name, "Alpine Linux");
	cr_assert_str_eq(h->os->id, "alpine");
	cr_assert_str_eq(h->os->version_id, "3.19.1");
	cr_assert_str_eq(h->os->pretty_name, "Alpine Linux v3.19");
	cr_assert_str_eq(h->architecture, "aarch64");
	cr_assert_str_eq(h->cpu_model, "ARM Neoverse-N1");
	cr_assert_eq(h->cpu_sockets, 1);
	cr_assert_eq(h->cpu_cores, 2);
	cr_assert_eq(h->cpu_threads, 2);
	cr_assert_str_eq(h->machine_id, "");
	cr_assert_str_eq(h->virt->kind, "container");
	cr_assert_str_eq(h->virt->container, "docker");
	cr_assert_str_eq(h->virt->hypervisor, "");
	cr_assert_not(h->virt->cpu_hypervisor_flag);
	cr_assert_eq(h->n_disks, 0);
	cr_assert_eq(ctx.stats[COLLECT_HOST].errors, 1, "only /sys/block is missing");
	cr_assert(strstr(ctx.stats[COLLECT_HOST].last_error, "/sys/block"));
	cr_assert_eq(h->n_filesystems, 2, "overlay root kept, /etc/hosts bind mount skipped");
	check_fs(h->filesystems[0], "/", "overlay", "overlay", 32196739072ull, 4294967296ull, 2000000,
		 90000);
	cr_assert_str_eq(h->filesystems[1]->mountpoint, "/data");
	cr_assert_eq(h->n_nics, 2);
	cr_assert_str_eq(h->nics[0]->name, "eth0");
	cr_assert(h->nics[0]->virtual_);
	cr_assert_eq(h->nics[0]->n_addresses, 1);
	check_addr(h->nics[0]->addresses[0], "172.17.0.2", 16, 4, "global");
	cr_assert_eq(h->n_routes, 1);
	cr_assert_str_eq(h->routes[0]->gateway, "172.17.0.1");
	cr_assert_eq(h->n_dns_servers, 1);
	cr_assert_str_eq(h->dns_servers[0], "127.0.0.11");
	cr_assert_str_eq(h->timezone, "");
	cairn__host_info__free_unpacked(h, NULL);
}

Test(host_parse, os_release_quoting)
{
	Cairn__OsRelease os = CAIRN__OS_RELEASE__INIT;
	cr_assert_eq(collect_host_parse_os_release("# comment\nNAME='Single Quoted'\nID=plain\n"
					   "PRETTY_NAME=\"Escaped \\\"quote\\\" \\$x\"\n"
					   "ID_LIKE=\"rhel centos fedora\"\nGARBAGE LINE\n", &os), 0);
	cr_assert_str_eq(os.name, "Single Quoted");
	cr_assert_str_eq(os.id, "plain");
	cr_assert_str_eq(os.pretty_name, "Escaped \"quote\" $x");
	cr_assert_str_eq(os.id_like, "rhel centos fedora");
	free(os.name);
	free(os.id);
	free(os.pretty_name);
	free(os.id_like);
	Cairn__OsRelease empty = CAIRN__OS_RELEASE__INIT;
	cr_assert_eq(collect_host_parse_os_release("nothing here\n", &empty), -ENODATA);
}

Test(host_parse, cpuinfo_without_topology)
{
	struct host_cpu c;
	cr_assert_eq(collect_host_parse_cpuinfo("processor : 0\nmodel name : Foo\n\nprocessor : 1\n"
					"model name : Foo\n", &c), 0);
	cr_assert_eq(c.threads, 2);
	cr_assert_eq(c.sockets, 1);
	cr_assert_eq(c.cores, 2);
	cr_assert_str_eq(c.model, "Foo");
	cr_assert_not(c.hypervisor_flag);
	cr_assert_eq(collect_host_parse_cpuinfo("\x01\xff garbage without colons\n\n::::\n", &c), -ENODATA);
	cr_assert_eq(c.threads, 0);
}

Test(host_malformed, empty_tree_counts_errors_and_never_crashes)
{
	char *root = tu_tmpdir("host");
	tu_write(root, "/proc/cpuinfo", "garbage\n");
	tu_write(root, "/proc/net/route", "Iface\tDestination\nbroken line\n");
	tu_write(root, "/etc/os-release", "\xff\xfe=\xff\n");
	tu_write(root, "/proc/mounts", "short\n/dev/sda1 /x ext4 rw 0 0\n");
	struct collect_ctx ctx;
	Cairn__HostInfo *h = host_of(root, &ctx);
	cr_assert_geq(ctx.stats[COLLECT_HOST].errors, 5, "%lu", (unsigned long)ctx.stats[COLLECT_HOST].errors);
	cr_assert_eq(h->n_filesystems, 1);
	cr_assert_str_eq(h->filesystems[0]->mountpoint, "/x");
	cr_assert_eq(h->n_routes, 0);
	cr_assert_eq(h->cpu_threads, 0);
	cairn__host_info__free_unpacked(h, NULL);
	tu_rm_rf(root);
	free(root);
}

/* pid 1's mount table is the host's: the agent's own can be a systemd sandbox
 * (ProtectHome= hides /home behind tmpfs, PrivateTmp= binds /tmp) or a
 * container's. It is used whenever /proc/1/root is reachable, and its
 * mountpoints are looked at through /proc/1/root. */
Test(host_mounts, init_ns_table_when_reachable)
{
	char *root = tu_tmpdir("mounts");
	tu_write(root, "/proc/self/mounts",
		 "/dev/sda1 / ext4 rw 0 0\ntmpfs /home tmpfs ro 0 0\n/dev/sda1 /tmp ext4 rw 0 0\n");
	tu_write(root, "/proc/1/mounts",
		 "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /home ext4 rw 0 0\n/dev/sdc1 /data xfs rw 0 0\n"
		 "/dev/sdd1 /etc/hostname ext4 rw 0 0\nsrv:/x /mnt/nfs nfs4 rw 0 0\n");
	/* /etc/hostname is a bind-mounted file in pid 1's view only. */
	tu_write(root, "/proc/1/root/etc/hostname", "h\n");
	char own[4200];
	snprintf(own, sizeof(own), "%s/etc/hostname", root);
	tu_mkdirs(own); /* a directory in the agent's own view */
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, root);
	struct host_mount *m;
	size_t n;
	cr_assert_eq(collect_host_mounts(&ctx, &m, &n), 0);
	const char *want[] = { "/", "/home", "/data", "/mnt/nfs" };
	cr_assert_eq(n, 4, "%zu mounts", n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(m[i].mountpoint, want[i]);
		cr_assert(m[i].init_ns, "%s", want[i]);
	}
	cr_assert_str_eq(m[1].device, "/dev/sdb1");
	cr_assert(m[3].network);
	cr_assert_eq(ctx.stats[COLLECT_HOST].errors, 0, "%s", ctx.stats[COLLECT_HOST].last_error);
	free(m);

	/* Without access to pid 1's root: the agent's own view. */
	char p1[4200];
	snprintf(p1, sizeof(p1), "%s/proc/1/root", root);
	tu_rm_rf(p1);
	cr_assert_eq(collect_host_mounts(&ctx, &m, &n), 0);
	cr_assert_eq(n, 1, "%zu mounts", n);
	cr_assert_str_eq(m[0].mountpoint, "/");
	cr_assert_not(m[0].init_ns);
	free(m);
	tu_rm_rf(root);
	free(root);
}

Test(host_malformed, time_zone_sources)
{
	char *root = tu_tmpdir("tz");
	struct collect_ctx ctx;
	tu_write(root, "/etc/sysconfig/clock", "UTC=true\nZONE=\n");
	Cairn__HostInfo *h = host_of(root, &ctx);
	cr_assert_str_eq(h->timezone, "", "an empty ZONE= names no zone");
	cairn__host_info__free_unpacked(h, NULL);
	tu_write(root, "/etc/sysconfig/clock", "ZONE=\"America/Sao Paulo\"\n");
	h = host_of(root, &ctx);
	cr_assert_str_eq(h->timezone, "America/Sao Paulo");
	cairn__host_info__free_unpacked(h, NULL);
	tu_write(root, "/etc/timezone", "Asia/Tokyo\n");
	h = host_of(root, &ctx);
	cr_assert_str_eq(h->timezone, "Asia/Tokyo", "/etc/timezone first");
	cairn__host_info__free_unpacked(h, NULL);
	tu_rm_rf(root);
	free(root);
}

Test(host_live, matches_the_machine)
{
	struct collect_ctx ctx;
	Cairn__HostInfo *h = host_of("/", &ctx);
	struct utsname u;
	cr_assert_eq(uname(&u), 0);
	cr_assert_str_eq(h->kernel_release, u.release);
	cr_assert_str_eq(h->architecture, u.machine);
	char hn[256];
	gethostname(hn, sizeof(hn));
	hn[strcspn(hn, ".")] = '\0';
	cr_assert_str_eq(h->hostname, hn);
	cr_assert_eq(h->cpu_threads, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
	struct sysinfo si;
	sysinfo(&si);
	cr_assert_eq(h->mem_total_bytes, (uint64_t)si.totalram * si.mem_unit);
	char boot[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	cr_assert(f && fgets(boot, sizeof(boot), f));
	fclose(f);
	boot[strcspn(boot, "\n")] = '\0';
	cr_assert_str_eq(h->boot_id, boot);
	bool lo_ok = false;
	for (size_t i = 0; i < h->n_nics; i++)
		if (!strcmp(h->nics[i]->name, "lo"))
			for (size_t k = 0; k < h->nics[i]->n_addresses; k++)
				lo_ok |= !strcmp(h->nics[i]->addresses[k]->address, "127.0.0.1") &&
					 h->nics[i]->addresses[k]->prefix_len == 8;
	cr_assert(lo_ok, "lo 127.0.0.1/8 (getifaddrs)");
	bool root_fs = false;
	for (size_t i = 0; i < h->n_filesystems; i++)
		root_fs |= !strcmp(h->filesystems[i]->mountpoint, "/") && h->filesystems[i]->size_bytes > 0;
	cr_assert(root_fs, "/ with a statvfs size");
	cr_assert_gt(h->uptime_s, 0);
	int64_t now = time_now_ms();
	cr_assert(h->collected_ms <= now && h->collected_ms > now - 60000);
	cairn__host_info__free_unpacked(h, NULL);
}

static void check_container(const char *rel, const void *data, size_t len, const char *want)
{
	char *root = tu_tmpdir("virt");
	tu_write_bytes(root, rel, data, len);
	struct collect_ctx ctx;
	Cairn__HostInfo *h = host_of(root, &ctx);
	cr_assert_str_eq(h->virt->kind, "container", "%s", rel);
	cr_assert_str_eq(h->virt->container, want, "%s", rel);
	cairn__host_info__free_unpacked(h, NULL);
	tu_rm_rf(root);
	free(root);
}

Test(host_virt, container_detection)
{
	check_container("/proc/1/environ", "HOME=/\0container=lxc\0", 21, "lxc");
	check_container("/proc/1/environ", "container=systemd-nspawn\0", 25, "systemd-nspawn");
	check_container("/proc/1/environ", "KUBERNETES_SERVICE_HOST=10.96.0.1\0", 34, "kubernetes");
	check_container("/run/.containerenv", "", 0, "podman");
	check_container("/proc/1/cgroup", "0::/kubepods/burstable/pod1/abc\n", 32, "kubernetes");
	check_container("/proc/1/cgroup", "12:pids:/docker/abc\n", 20, "docker");
}
