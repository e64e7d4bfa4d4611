/* Host facts collector; see collect_host() in collect.h. */
#include "collect.h"
#include "collect_host.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "pbjson.h"
#include "util.h"

static char *dup_clean(const char *s)
{
	size_t len = strlen(s);
	char *out = collect_alloc(len * 3 + 1);
	pbjson_utf8_sanitize(out, len * 3 + 1, s, len);
	return out;
}

/* Reads a one-line file; returns a malloc'd sanitized string, "" when missing. */
static char *read_value(struct collect_ctx *ctx, const char *path)
{
	char buf[1024];
	if (collect_read_line(ctx, path, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	return dup_clean(buf);
}

/* ----------------------------------------------------------------- os-release */

/* Unquotes an os-release value in place ("..." or '...' with \-escapes). */
static void unquote(char *v)
{
	size_t len = strlen(v);
	while (len && isspace((unsigned char)v[len - 1]))
		v[--len] = '\0';
	if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
		char q = v[0];
		char *w = v;
		for (size_t i = 1; i < len - 1; i++) {
			if (q == '"' && v[i] == '\\' && i + 1 < len - 1)
				i++;
			*w++ = v[i];
		}
		*w = '\0';
	}
}

int collect_host_parse_os_release(const char *text, Cairn__OsRelease *os)
{
	char *copy = collect_strdup(text);
	int found = 0;
	for (char *tsave_, *line = strtok_r(copy, "\n", &tsave_); line; line = strtok_r(NULL, "\n", &tsave_)) {
		while (isspace((unsigned char)*line))
			line++;
		char *eq = strchr(line, '=');
		if (line[0] == '#' || !eq)
			continue;
		*eq = '\0';
		char *val = eq + 1;
		unquote(val);
		char **slot = !strcmp(line, "NAME") ? &os->name
			: !strcmp(line, "ID") ? &os->id
			: !strcmp(line, "ID_LIKE") ? &os->id_like
			: !strcmp(line, "VERSION_ID") ? &os->version_id
			: !strcmp(line, "PRETTY_NAME") ? &os->pretty_name
			: !strcmp(line, "VERSION_CODENAME") ? &os->version_codename : NULL;
		if (!slot)
			continue;
		if (*slot && *slot != protobuf_c_empty_string)
			free(*slot); /* a repeated key: the last one wins */
		*slot = dup_clean(val);
		found++;
	}
	free(copy);
	return found ? 0 : -ENODATA;
}

/* The vendors' wordings of /etc/redhat-release, and the os-release ID each
 * host would have had (RHEL 7 and CentOS 7 ship both files and agree). */
static const struct {
	const char *prefix, *id, *name;
} redhat_names[] = {
	{ "Red Hat Enterprise Linux", "rhel", "Red Hat Enterprise Linux" },
	{ "CentOS Linux", "centos", "CentOS Linux" },
	{ "CentOS", "centos", "CentOS Linux" },
	{ "Scientific Linux", "scientific", "Scientific Linux" },
	{ "Oracle Linux", "ol", "Oracle Linux Server" },
};

int collect_host_parse_redhat_release(const char *line, Cairn__OsRelease *os)
{
	const char *id = NULL, *name = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(redhat_names) && !id; i++)
		if (!strncmp(line, redhat_names[i].prefix, strlen(redhat_names[i].prefix)))
			id = redhat_names[i].id, name = redhat_names[i].name;
	const char *rel = strstr(line, " release ");
	if (!id || !rel)
		return -ENODATA;
	rel += strlen(" release ");
	char version[32];
	size_t n = strspn(rel, "0123456789.");
	if (!n || n >= sizeof(version))
		return -ENODATA;
	memcpy(version, rel, n);
	version[n] = '\0';
	os->id = collect_strdup(id);
	os->id_like = collect_strdup(!strcmp(id, "rhel") ? "fedora" : "rhel fedora");
	os->name = collect_strdup(name);
	os->version_id = collect_strdup(version);
	os->pretty_name = dup_clean(line);
	return 0;
}

static void collect_os(struct collect_ctx *ctx, Cairn__HostInfo *h)
{
	Cairn__OsRelease *os = collect_alloc(sizeof(*os));
	cairn__os_release__init(os);
	h->os = os;
	static const char *const paths[] = { "/etc/os-release", "/usr/lib/os-release" };
	char buf[8192];
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		if (collect_read(ctx, paths[i], buf, sizeof(buf)) > 0 &&
		    collect_host_parse_os_release(buf, os) == 0)
			return;
	}
	/* RHEL/CentOS 6 and older have no os-release, only this one line. */
	if (collect_read_line(ctx, "/etc/redhat-release", buf, sizeof(buf)) > 0 &&
	    collect_host_parse_redhat_release(buf, os) == 0)
		return;
	collect_error(ctx, COLLECT_HOST, "no os-release in /etc/os-release or /usr/lib/os-release, "
		      "no /etc/redhat-release");
}

/* -------------------------------------------------------------------- cpu */

/* ARM cpuinfo has no model name, only implementer and part numbers. */
static void arm_model_name(long implementer, long part, char *out, size_t n)
{
	static const struct { long impl, part; const char *name; } parts[] = {
		{ 0x41, 0xd03, "ARM Cortex-A53" }, { 0x41, 0xd07, "ARM Cortex-A57" },
		{ 0x41, 0xd08, "ARM Cortex-A72" }, { 0x41, 0xd0b, "ARM Cortex-A76" },
		{ 0x41, 0xd0c, "ARM Neoverse-N1" }, { 0x41, 0xd40, "ARM Neoverse-V1" },
		{ 0x41, 0xd49, "ARM Neoverse-N2" }, { 0x41, 0xd4f, "ARM Neoverse-V2" },
		{ 0x61, 0x022, "Apple M1" }, { 0xc0, 0xac3, "Ampere-1" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		if (parts[i].impl == implementer && parts[i].part == part) {
			str_copy(out, parts[i].name, n);
			return;
		}
	snprintf(out, n, "ARM implementer 0x%02lx part 0x%03lx", implementer, part < 0 ? 0 : part);
}

/* Distinct sockets and (socket, core) pairs of /proc/cpuinfo; bounded:
 * 4096 cores is plenty. */
struct cpu_topology {
	uint32_t pairs[4096], npairs;
	uint32_t sockets[256], nsockets;
};

static void add_unique(uint32_t *set, uint32_t *n, uint32_t cap, uint32_t v)
{
	for (uint32_t i = 0; i < *n; i++)
		if (set[i] == v)
			return;
	if (*n < cap)
		set[(*n)++] = v;
}

/* One logical CPU's block ended with its physical id and core id (-1 unknown). */
static void topology_add(struct cpu_topology *t, long phys, long core)
{
	if (phys < 0)
		return;
	add_unique(t->sockets, &t->nsockets, ARRAY_SIZE(t->sockets), (uint32_t)phys);
	if (core >= 0)
		add_unique(t->pairs, &t->npairs, ARRAY_SIZE(t->pairs),
			   (uint32_t)phys << 16 | ((uint32_t)core & 0xffff));
}

int collect_host_parse_cpuinfo(const char *text, struct host_cpu *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
	struct cpu_topology topo;
	topo.npairs = topo.nsockets = 0;
	long phys = -1, core = -1, arm_implementer = -1, arm_part = -1;
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[4096];
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		p = eol ? eol + 1 : p + strlen(p);

		if (!line[0]) { /* end of one logical CPU's block */
			topology_add(&topo, phys, core);
			phys = core = -1;
			continue;
		}
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		char *key_end = colon;
		while (key_end > line && isspace((unsigned char)key_end[-1]))
			key_end--;
		*key_end = '\0';
		char *val = colon + 1;
		while (isspace((unsigned char)*val))
			val++;
		if (!strcmp(line, "processor"))
			cpu->threads++;
		else if (!strcmp(line, "physical id"))
			phys = strtol(val, NULL, 10);
		else if (!strcmp(line, "core id"))
			core = strtol(val, NULL, 10);
		else if ((!strcmp(line, "model name") || !strcmp(line, "Hardware") ||
			  !strcmp(line, "cpu model") || !strcmp(line, "cpu")) && !cpu->model[0])
			pbjson_utf8_sanitize(cpu->model, sizeof(cpu->model), val, strlen(val));
		else if (!strcmp(line, "CPU implementer") && arm_implementer < 0)
			arm_implementer = strtol(val, NULL, 0);
		else if (!strcmp(line, "CPU part") && arm_part < 0)
			arm_part = strtol(val, NULL, 0);
		else if (!strcmp(line, "cpu MHz") && !cpu->mhz) {
			double mhz = strtod(val, NULL);
			if (mhz > 0 && mhz < 1e6) /* anything else is not a clock rate */
				cpu->mhz = (uint32_t)(mhz + 0.5);
		} else if (!strcmp(line, "flags") || !strcmp(line, "Features")) {
			char *w = strstr(val, "hypervisor");
			if (w && (w == val || w[-1] == ' ') && (w[10] == ' ' || w[10] == '\0'))
				cpu->hypervisor_flag = true;
		}
	}
	topology_add(&topo, phys, core); /* the last block may lack its blank line */
	if (!cpu->model[0] && arm_implementer >= 0)
		arm_model_name(arm_implementer, arm_part, cpu->model, sizeof(cpu->model));
	cpu->sockets = topo.nsockets ? topo.nsockets : (cpu->threads ? 1 : 0);
	cpu->cores = topo.npairs ? topo.npairs : cpu->threads;
	return cpu->threads ? 0 : -ENODATA;
}

static uint64_t meminfo_value(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == ':')
			return strtoull(p + kl + 1, NULL, 10) * 1024;
	}
	return 0;
}

/* --------------------------------------------------------- virtualization */

struct vendor_map {
	const char *match;    /* substring of sys_vendor or product_name */
	const char *hypervisor;
};

static const struct vendor_map vendors[] = {
	{ "VMware", "vmware" },
	{ "innotek", "virtualbox" },
	{ "VirtualBox", "virtualbox" },
	{ "Amazon EC2", "amazon" },
	{ "Google", "google" },
	{ "Xen", "xen" },
	{ "Microsoft Corporation", "hyperv" },
	{ "Parallels", "parallels" },
	{ "OpenStack", "openstack" },
	{ "KVM", "kvm" },
	{ "QEMU", "qemu" },
	{ "Bochs", "bochs" },
	{ "oVirt", "kvm" },
	{ "RHEV", "kvm" },
	{ "Nutanix", "kvm" },
	{ "DigitalOcean", "kvm" },
	{ "Hetzner", "kvm" },
	{ "Alibaba Cloud", "kvm" },
	{ "Apple Virtualization", "apple" },
	{ "BHYVE", "bhyve" },
};

/* container= of pid 1's environment (into kind[64]), or "kubernetes". */
static const char *container_from_environ(const char *env, size_t len, char kind[static 64])
{
	for (size_t i = 0; i < len;) {
		const char *e = env + i;
		size_t l = strnlen(e, len - i);
		if (l > 10 && !strncmp(e, "container=", 10)) {
			size_t vl = l - 10 < 63 ? l - 10 : 63;
			memcpy(kind, e + 10, vl);
			kind[vl] = '\0';
			return kind;
		}
		i += l + 1;
	}
	for (size_t i = 0; i < len;) {
		const char *e = env + i;
		size_t l = strnlen(e, len - i);
		if (!strncmp(e, "KUBERNETES_SERVICE_HOST=", 24))
			return "kubernetes";
		i += l + 1;
	}
	return NULL;
}

static void collect_virt(struct collect_ctx *ctx, Cairn__HostInfo *h, bool hypervisor_flag)
{
	Cairn__Virtualization *v = collect_alloc(sizeof(*v));
	cairn__virtualization__init(v);
	h->virt = v;
	v->dmi_sys_vendor = read_value(ctx, "/sys/class/dmi/id/sys_vendor");
	v->dmi_product_name = read_value(ctx, "/sys/class/dmi/id/product_name");
	v->dmi_product_uuid = read_value(ctx, "/sys/class/dmi/id/product_uuid");
	v->cpu_hypervisor_flag = hypervisor_flag;

	const char *hv = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(vendors) && !hv; i++)
		if (strstr(v->dmi_sys_vendor, vendors[i].match) ||
		    strstr(v->dmi_product_name, vendors[i].match))
			hv = vendors[i].hypervisor;
	if (!strcmp(hv ? hv : "", "hyperv") && !strstr(v->dmi_product_name, "Virtual"))
		hv = NULL; /* Microsoft also makes physical machines (Surface) */
	if (!hv) {
		char t[64];
		if (collect_read_line(ctx, "/sys/hypervisor/type", t, sizeof(t)) > 0 && !strcmp(t, "xen"))
			hv = "xen";
	}

	const char *container = NULL;
	char path[4200], kind[64];
	struct stat sb;
	if (!stat(collect_path(ctx, path, sizeof(path), "/.dockerenv"), &sb))
		container = "docker";
	else if (!stat(collect_path(ctx, path, sizeof(path), "/run/.containerenv"), &sb))
		container = "podman";
	if (!container) {
		char env[16384];
		ssize_t n = collect_read(ctx, "/proc/1/environ", env, sizeof(env));
		if (n > 0)
			container = container_from_environ(env, (size_t)n, kind);
	}
	if (!container) {
		char cg[4096];
		if (collect_read(ctx, "/proc/1/cgroup", cg, sizeof(cg)) > 0) {
			if (strstr(cg, "kubepods"))
				container = "kubernetes";
			else if (strstr(cg, "/docker"))
				container = "docker";
			else if (strstr(cg, "/lxc"))
				container = "lxc";
			else if (strstr(cg, "libpod"))
				container = "podman";
		}
	}
	if (container) {
		v->kind = collect_strdup("container");
		v->container = dup_clean(container);
	} else if (hv || hypervisor_flag) {
		v->kind = collect_strdup("vm");
	} else {
		v->kind = collect_strdup("none");
	}
	if (hv)
		v->hypervisor = collect_strdup(hv);
}

/* ---------------------------------------------------------------- disks */

/* A one-number sysfs file; 0 when missing. */
static uint64_t read_u64(struct collect_ctx *ctx, const char *path)
{
	char buf[64];
	if (collect_read_line(ctx, path, buf, sizeof(buf)) <= 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

static int cmp_disk(const void *a, const void *b)
{
	return strcmp((*(Cairn__BlockDevice *const *)a)->name, (*(Cairn__BlockDevice *const *)b)->name);
}

static void collect_disks(struct collect_ctx *ctx, Cairn__HostInfo *h)
{
	char path[4200];
	DIR *d = opendir(collect_path(ctx, path, sizeof(path), "/sys/block"));
	if (!d) {
		collect_error(ctx, COLLECT_HOST, "cannot list %s: %s", path, strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (n[0] == '.' || strlen(n) > 200)
			continue;
		char p[512];
		const char *kind = "disk";
		if (!strncmp(n, "ram", 3))
			continue;
		if (!strncmp(n, "loop", 4)) {
			/* Unused loop devices exist by the dozen; keep attached ones. */
			snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", n);
			char bf[8];
			if (collect_read(ctx, p, bf, sizeof(bf)) <= 0)
				continue;
			kind = "loop";
		} else if (!strncmp(n, "md", 2)) {
			kind = "raid";
		} else if (!strncmp(n, "dm-", 3)) {
			char uuid[128];
			snprintf(p, sizeof(p), "/sys/block/%s/dm/uuid", n);
			kind = collect_read_line(ctx, p, uuid, sizeof(uuid)) > 0 && !strncmp(uuid, "LVM-", 4)
				? "lvm" : "dm";
		} else if (!strncmp(n, "sr", 2)) {
			kind = "rom";
		} else if (!strncmp(n, "zram", 4)) {
			kind = "zram";
		}
		Cairn__BlockDevice *b = collect_alloc(sizeof(*b));
		cairn__block_device__init(b);
		b->name = dup_clean(n);
		snprintf(p, sizeof(p), "/sys/block/%s/size", n);
		b->size_bytes = read_u64(ctx, p) * 512;
		snprintf(p, sizeof(p), "/sys/block/%s/queue/rotational", n);
		b->rotational = read_u64(ctx, p) == 1;
		snprintf(p, sizeof(p), "/sys/block/%s/device/model", n);
		b->model = read_value(ctx, p);
		b->kind = collect_strdup(kind);
		*COLLECT_PUSH(h, disks) = b;
	}
	closedir(d);
	qsort(h->disks, h->n_disks, sizeof(*h->disks), cmp_disk);
}

/* ------------------------------------------------------------ filesystems */

#define HOST_MAX_MOUNTS 4096

static const char *const pseudo_fs[] = { "proc", "sysfs", "devtmpfs", "devpts", "tmpfs",
	"cgroup", "cgroup2", "securityfs", "debugfs", "tracefs", "configfs", "fusectl", "mqueue",
	"hugetlbfs", "pstore", "bpf", "autofs", "binfmt_misc", "rpc_pipefs", "nsfs", "efivarfs",
	"selinuxfs", "ramfs", "squashfs", "overlay", "nfsd", "fuse.gvfsd-fuse", "fuse.lxcfs",
	"fuse.portal", "devfs", "rootfs", "sockfs", "pipefs", "iso9660", "none", NULL };

static const char *const network_fs[] = { "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph",
	"glusterfs", "fuse.sshfs", "fuse.glusterfs", "9p", "afs", "lustre", "gpfs", "ocfs2", NULL };

bool collect_host_fs_is_pseudo(const char *fstype, const char *mountpoint)
{
	for (size_t i = 0; pseudo_fs[i]; i++)
		if (!strcmp(fstype, pseudo_fs[i]))
			return !(!strcmp(fstype, "overlay") && !strcmp(mountpoint, "/"));
	return false;
}

bool collect_host_fs_is_network(const char *fstype)
{
	/* FUSE filesystems (s3fs, rclone, gcsfuse, sshfs ...) mostly talk to a
	 * server; fuseblk (ntfs-3g, exfat) sits on a local disk. */
	if (!strncmp(fstype, "fuse.", 5))
		return true;
	for (size_t i = 0; network_fs[i]; i++)
		if (!strcmp(fstype, network_fs[i]))
			return true;
	return false;
}

/* Undoes the octal escapes of /proc/mounts ("\040" for a space) in place. */
static void unescape_mount(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Where pid 1's mountpoints are reached from this process's mount namespace. */
#define INIT_ROOT "/proc/1/root"

int collect_host_mount_table_open(struct collect_ctx *ctx, bool *init_ns, const char **table)
{
	char path[4200];
	struct stat sb;
	*init_ns = false;
	*table = "/proc/1/mounts";
	/* /proc/1/root needs ptrace access to pid 1 (CAP_SYS_PTRACE): without
	 * it pid 1's mountpoints could be listed but not measured. */
	if (!stat(collect_path(ctx, path, sizeof(path), INIT_ROOT "/"), &sb)) {
		int fd = open(collect_path(ctx, path, sizeof(path), *table), O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			*init_ns = true;
			return fd;
		}
	}
	static const char *const own[] = { "/proc/self/mounts", "/proc/mounts" };
	int err = ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
		*table = own[i];
		int fd = open(collect_path(ctx, path, sizeof(path), own[i]), O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			return fd;
		err = errno;
	}
	return -err;
}

/* Path of a mountpoint as this process reaches it (root-relative, for collect_path). */
static const char *mount_path(const struct host_mount *m, char *out, size_t n)
{
	snprintf(out, n, "%s%s", m->init_ns ? INIT_ROOT : "", m->mountpoint);
	return out;
}

int collect_host_mounts(struct collect_ctx *ctx, struct host_mount **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	bool init_ns;
	const char *table;
	int fd = collect_host_mount_table_open(ctx, &init_ns, &table);
	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "r");
	if (!f) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	char line[8192];
	while (fgets(line, sizeof(line), f)) {
		char dev[4096], mnt[4096], type[64];
		if (!strchr(line, '\n') && !feof(f)) {
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			collect_error(ctx, COLLECT_HOST, "%s: overlong line skipped", table);
			continue;
		}
		if (sscanf(line, "%4095s %4095s %63s", dev, mnt, type) != 3) {
			collect_error(ctx, COLLECT_HOST, "%s: malformed line skipped", table);
			continue;
		}
		unescape_mount(dev);
		unescape_mount(mnt);
		if (collect_host_fs_is_pseudo(type, mnt))
			continue;
		struct host_mount cand = { .init_ns = init_ns, .network = collect_host_fs_is_network(type) };
		str_copy(cand.mountpoint, mnt, sizeof(cand.mountpoint));
		/* Containers bind-mount single files (/etc/hosts, /etc/resolv.conf).
		 * Never stat a network mount: a hung server would block the agent. */
		struct stat sb;
		char rel[1200], full[8400];
		if (!cand.network &&
		    !stat(collect_path(ctx, full, sizeof(full), mount_path(&cand, rel, sizeof(rel))), &sb) &&
		    !S_ISDIR(sb.st_mode))
			continue;
		/* A later mount on the same point hides the earlier one; a block
		 * device seen before is a bind mount of a filesystem already listed
		 * (counting it twice would double the host's storage). */
		struct host_mount *m = NULL;
		bool bind = false;
		for (size_t i = 0; i < *n; i++) {
			if (!strcmp((*out)[i].mountpoint, mnt))
				m = &(*out)[i];
			else if (!strncmp(dev, "/dev/", 5) && !strcmp((*out)[i].device, dev))
				bind = true;
		}
		if (bind && !m)
			continue;
		if (!m) {
			if (*n >= HOST_MAX_MOUNTS) {
				collect_error(ctx, COLLECT_HOST, "%s: more than %d filesystems; the rest are not listed",
					      table, HOST_MAX_MOUNTS);
				break;
			}
			m = collect_push(out, n, sizeof(**out));
		}
		str_copy(cand.device, dev, sizeof(cand.device));
		str_copy(cand.fstype, type, sizeof(cand.fstype));
		*m = cand;
	}
	int rc = ferror(f) ? -EIO : 0;
	fclose(f);
	if (rc) { /* a partial table would make filesystems come and go */
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int collect_host_fs_usage(struct collect_ctx *ctx, const struct host_mount *m, struct host_fs_usage *u)
{
	memset(u, 0, sizeof(*u));
	if (ctx->live) {
		if (m->network)
			return -EREMOTE; /* a hung server would block the agent */
		char rel[1200], path[4200];
		struct statvfs sv;
		if (statvfs(collect_path(ctx, path, sizeof(path), mount_path(m, rel, sizeof(rel))), &sv))
			return -errno;
		u->size_bytes = (uint64_t)sv.f_blocks * sv.f_frsize;
		u->used_bytes = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
		u->inodes_total = sv.f_files;
		u->inodes_used = sv.f_files - sv.f_ffree;
		return 0;
	}
	/* Fixture: "<mountpoint> <size> <used> <inodes_total> <inodes_used>" lines. */
	char buf[16384];
	if (collect_read(ctx, "/cairn-capture/statvfs", buf, sizeof(buf)) <= 0)
		return -ENOENT;
	for (char *tsave_, *line = strtok_r(buf, "\n", &tsave_); line; line = strtok_r(NULL, "\n", &tsave_)) {
		char mp[4096];
		unsigned long long s, us, it, iu;
		if (sscanf(line, "%4095s %llu %llu %llu %llu", mp, &s, &us, &it, &iu) != 5)
			continue;
		unescape_mount(mp); /* escaped like /proc/mounts (\040 = space) */
		if (!strcmp(mp, m->mountpoint)) {
			u->size_bytes = s;
			u->used_bytes = us;
			u->inodes_total = it;
			u->inodes_used = iu;
			return 0;
		}
	}
	return -ENOENT;
}

static void collect_filesystems(struct collect_ctx *ctx, Cairn__HostInfo *h)
{
	struct host_mount *m;
	size_t n;
	int rc = collect_host_mounts(ctx, &m, &n);
	if (rc) {
		collect_error(ctx, COLLECT_HOST, "cannot read the mount table: %s", strerror(-rc));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		Cairn__Filesystem *fs = collect_alloc(sizeof(*fs));
		cairn__filesystem__init(fs);
		fs->mountpoint = dup_clean(m[i].mountpoint);
		fs->device = dup_clean(m[i].device);
		fs->fstype = dup_clean(m[i].fstype);
		struct host_fs_usage u;
		if (collect_host_fs_usage(ctx, &m[i], &u) == 0) {
			fs->size_bytes = u.size_bytes;
			fs->used_bytes = u.used_bytes;
			fs->inodes_total = u.inodes_total;
			fs->inodes_used = u.inodes_used;
		}
		*COLLECT_PUSH(h, filesystems) = fs;
	}
	free(m);
}

/* ------------------------------------------------------------------ NICs */

static Cairn__Nic *find_nic(Cairn__HostInfo *h, const char *name)
{
	for (size_t i = 0; i < h->n_nics; i++)
		if (!strcmp(h->nics[i]->name, name))
			return h->nics[i];
	return NULL;
}

static void add_address(Cairn__Nic *nic, const char *addr, uint32_t prefix, uint32_t family,
			const char *scope)
{
	for (size_t i = 0; i < nic->n_addresses; i++)
		if (!strcmp(nic->addresses[i]->address, addr))
			return;
	Cairn__IpAddress *a = collect_alloc(sizeof(*a));
	cairn__ip_address__init(a);
	a->address = collect_strdup(addr);
	a->prefix_len = prefix;
	a->family = family;
	a->scope = collect_strdup(scope);
	*COLLECT_PUSH(nic, addresses) = a;
}

static const char *v6_scope(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_LOOPBACK(a))
		return "host";
	if (IN6_IS_ADDR_LINKLOCAL(a))
		return "link";
	return "global";
}

static const char *v4_scope(const struct in_addr *a)
{
	uint32_t v = ntohl(a->s_addr);
	if ((v >> 24) == 127)
		return "host";
	if ((v >> 16) == 0xa9fe)
		return "link";
	return "global";
}

static uint32_t mask_prefix(const struct sockaddr *sa)
{
	uint32_t bits = 0;
	if (!sa)
		return 0;
	const uint8_t *b;
	size_t len;
	if (sa->sa_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		len = 4;
	} else if (sa->sa_family == AF_INET6) {
		b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		len = 16;
	} else {
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		bits += (uint32_t)__builtin_popcount(b[i]);
	return bits;
}

static void addresses_live(struct collect_ctx *ctx, Cairn__HostInfo *h)
{
	struct ifaddrs *ifa;
	if (getifaddrs(&ifa)) {
		collect_error(ctx, COLLECT_HOST, "getifaddrs: %s", strerror(errno));
		return;
	}
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		Cairn__Nic *nic = find_nic(h, i->ifa_name);
		if (!nic)
			continue;
		char text[INET6_ADDRSTRLEN];
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct in_addr *a = &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
			inet_ntop(AF_INET, a, text, sizeof(text));
			add_address(nic, text, mask_prefix(i->ifa_netmask), 4, v4_scope(a));
		} else {
			const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
			inet_ntop(AF_INET6, a, text, sizeof(text));
			add_address(nic, text, mask_prefix(i->ifa_netmask), 6, v6_scope(a));
		}
	}
	freeifaddrs(ifa);
}

/* Fixture: IPv6 from /proc/net/if_inet6, IPv4 from `ip -o -4 addr show` output. */
static void addresses_captured(struct collect_ctx *ctx, Cairn__HostInfo *h)
{
	char buf[65536];
	if (collect_read(ctx, "/cairn-capture/ip-addr", buf, sizeof(buf)) > 0) {
		for (char *tsave_, *line = strtok_r(buf, "\n", &tsave_); line; line = strtok_r(NULL, "\n", &tsave_)) {
			char name[64], fam[8], cidr[64], scope[16] = "global";
			unsigned idx;
			if (sscanf(line, "%u: %63s %7s %63s", &idx, name, fam, cidr) != 4 || strcmp(fam, "inet"))
				continue;
			char *sc = strstr(line, " scope ");
			if (sc)
				sscanf(sc + 7, "%15s", scope);
			char *slash = strchr(cidr, '/');
			uint32_t prefix = 32;
			if (slash) {
				*slash = '\0';
				prefix = (uint32_t)strtoul(slash + 1, NULL, 10);
			}
			struct in_addr a;
			Cairn__Nic *nic = find_nic(h, name);
			if (inet_pton(AF_INET, cidr, &a) != 1 || prefix > 32) {
				collect_error(ctx, COLLECT_HOST, "cairn-capture/ip-addr: bad address %s", cidr);
				continue;
			}
			if (nic)
				add_address(nic, cidr, prefix, 4, scope);
		}
	}
	if (collect_read(ctx, "/proc/net/if_inet6", buf, sizeof(buf)) > 0) {
		for (char *tsave_, *line = strtok_r(buf, "\n", &tsave_); line; line = strtok_r(NULL, "\n", &tsave_)) {
			char hex[33], name[64];
			unsigned idx, plen, scope, flags;
			if (sscanf(line, "%32s %x %x %x %x %63s", hex, &idx, &plen, &scope, &flags, name) != 6 ||
			    strlen(hex) != 32) {
				collect_error(ctx, COLLECT_HOST, "/proc/net/if_inet6: malformed line");
				continue;
			}
			struct in6_addr a;
			if (hex_decode(a.s6_addr, 16, hex)) {
				collect_error(ctx, COLLECT_HOST, "/proc/net/if_inet6: bad address %s", hex);
				continue;
			}
			Cairn__Nic *nic = find_nic(h, name);
			char text[INET6_ADDRSTRLEN];
			inet_ntop(AF_INET6, &a, text, sizeof(text));
			if (nic)
				add_address(nic, text, plen, 6, v6_scope(&a));
		}
	}
}

static int cmp_nic(const void *a, const void *b)
{
	return strcmp((*(Cairn__Nic *const *)a)->name, (*(Cairn__Nic *const *)b)->name);
}

static void collect_nics(struct collect_ctx *ctx, Cairn__HostInfo *h)
{
	char path[4200];
	DIR *d = opendir(collect_path(ctx, path, sizeof(path), "/sys/class/net"));
	if (!d) {
		collect_error(ctx, COLLECT_HOST, "cannot list %s: %s", path, strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (n[0] == '.' || strlen(n) >= IFNAMSIZ + 8)
			continue;
		char p[512], buf[64];
		Cairn__Nic *nic = collect_alloc(sizeof(*nic));
		cairn__nic__init(nic);
		nic->name = dup_clean(n);
		snprintf(p, sizeof(p), "/sys/class/net/%s/address", n);
		nic->mac = read_value(ctx, p);
		if (!strcmp(nic->mac, "00:00:00:00:00:00")) {
			free(nic->mac);
			nic->mac = collect_strdup("");
		}
		snprintf(p, sizeof(p), "/sys/class/net/%s/mtu", n);
		nic->mtu = (uint32_t)read_u64(ctx, p);
		snprintf(p, sizeof(p), "/sys/class/net/%s/speed", n);
		nic->speed_mbps = -1;
		if (collect_read_line(ctx, p, buf, sizeof(buf)) > 0) {
			long s = strtol(buf, NULL, 10);
			if (s > 0)
				nic->speed_mbps = (int32_t)s;
		}
		snprintf(p, sizeof(p), "/sys/class/net/%s/operstate", n);
		if (collect_read_line(ctx, p, buf, sizeof(buf)) > 0)
			nic->up = !strcmp(buf, "up") || (!strcmp(buf, "unknown") && !strcmp(n, "lo"));
		char dev[4200];
		struct stat sb;
		snprintf(p, sizeof(p), "/sys/class/net/%s/device", n);
		nic->virtual_ = stat(collect_path(ctx, dev, sizeof(dev), p), &sb) != 0;
		*COLLECT_PUSH(h, nics) = nic;
	}
	closedir(d);
	qsort(h->nics, h->n_nics, sizeof(*h->nics), cmp_nic);
	if (ctx->live)
		addresses_live(ctx, h);
	else
		addresses_captured(ctx, h);
}

/* ---------------------------------------------------------------- routes */

static void push_route(Cairn__HostInfo *h, uint32_t family, const char *dst, const char *gw,
		       const char *dev)
{
	Cairn__Route *r = collect_alloc(sizeof(*r));
	cairn__route__init(r);
	r->family = family;
	r->destination = collect_strdup(dst);
	r->gateway = collect_strdup(gw);
	r->interface = dup_clean(dev);
	*COLLECT_PUSH(h, routes) = r;
}

static void collect_routes(struct collect_ctx *ctx, Cairn__HostInfo *h)
{
	char buf[65536];
	if (collect_read(ctx, "/proc/net/route", buf, sizeof(buf)) > 0) {
		char *save;
		for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char dev[64];
			unsigned dst, gw, flags, refc, use, metric, mask;
			if (!strncmp(line, "Iface", 5))
				continue;
			if (sscanf(line, "%63s %x %x %x %u %u %u %x", dev, &dst, &gw, &flags, &refc, &use,
				   &metric, &mask) != 8) {
				collect_error(ctx, COLLECT_HOST, "/proc/net/route: malformed line");
				continue;
			}
			if (dst != 0 || mask != 0 || gw == 0)
				continue;
			struct in_addr a = { .s_addr = gw }; /* the file holds network order */
			char text[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &a, text, sizeof(text));
			push_route(h, 4, "default", text, dev);
		}
	}
	if (collect_read(ctx, "/proc/net/ipv6_route", buf, sizeof(buf)) > 0) {
		char *save;
		for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char dst[33], src[33], nh[33], dev[64];
			unsigned dplen, splen, metric, refc, use, flags;
			if (sscanf(line, "%32s %x %32s %x %32s %x %x %x %x %63s", dst, &dplen, src, &splen,
				   nh, &metric, &refc, &use, &flags, dev) != 10) {
				collect_error(ctx, COLLECT_HOST, "/proc/net/ipv6_route: malformed line");
				continue;
			}
			struct in6_addr g;
			if (dplen != 0 || strspn(dst, "0") != 32 || hex_decode(g.s6_addr, 16, nh) ||
			    IN6_IS_ADDR_UNSPECIFIED(&g) || !strcmp(dev, "lo"))
				continue;
			char text[INET6_ADDRSTRLEN];
			inet_ntop(AF_INET6, &g, text, sizeof(text));
			push_route(h, 6, "default", text, dev);
		}
	}
}

/* ------------------------------------------------------------------- DNS */

static void parse_resolv(const char *text, Cairn__HostInfo *h, bool servers_only)
{
	char *copy = collect_strdup(text);
	char *save;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[32], rest[1024];
		if (sscanf(line, "%31s %1023[^\n]", key, rest) != 2)
			continue;
		if (!strcmp(key, "nameserver")) {
			char addr[256];
			sscanf(rest, "%255s", addr);
			bool dup = false;
			for (size_t i = 0; i < h->n_dns_servers; i++)
				dup |= !strcmp(h->dns_servers[i], addr);
			if (!dup && h->n_dns_servers < 16)
				*COLLECT_PUSH(h, dns_servers) = dup_clean(addr);
		} else if ((!strcmp(key, "search") || !strcmp(key, "domain")) && !servers_only) {
			char *s2;
			for (char *w = strtok_r(rest, " \t", &s2); w; w = strtok_r(NULL, " \t", &s2)) {
				if (w[0] == '#' || w[0] == ';')
					break;
				if (h->n_dns_search < 16)
					*COLLECT_PUSH(h, dns_search) = dup_clean(w);
			}
		}
	}
	free(copy);
}

static void collect_dns(struct collect_ctx *ctx, Cairn__HostInfo *h)
{
	char buf[16384];
	if (collect_read(ctx, "/etc/resolv.conf", buf, sizeof(buf)) < 0)
		return;
	parse_resolv(buf, h, false);
	/* systemd-resolved's stub hides the real servers; its upstream list is here. */
	bool stub_only = h->n_dns_servers == 1 && !strcmp(h->dns_servers[0], "127.0.0.53");
	if (stub_only && collect_read(ctx, "/run/systemd/resolve/resolv.conf", buf, sizeof(buf)) > 0)
		parse_resolv(buf, h, true);
}

/* -------------------------------------------------------- time zone etc. */

static char *collect_timezone(struct collect_ctx *ctx)
{
	char buf[256];
	if (collect_read_line(ctx, "/etc/timezone", buf, sizeof(buf)) > 0)
		return dup_clean(buf);
	if (collect_readlink(ctx, "/etc/localtime", buf, sizeof(buf)) > 0) {
		const char *z = strstr(buf, "zoneinfo/");
		if (z)
			return dup_clean(z + 9);
	}
	char clock[1024];
	if (collect_read(ctx, "/etc/sysconfig/clock", clock, sizeof(clock)) > 0) {
		const char *z = strstr(clock, "ZONE=");
		char v[256];
		if (z && sscanf(z + 5, "%255[^\n]", v) == 1) {
			unquote(v);
			return dup_clean(v);
		}
	}
	return collect_strdup("");
}

static void collect_names(struct collect_ctx *ctx, Cairn__HostInfo *h)
{
	char name[256] = "";
	if (collect_read_line(ctx, "/proc/sys/kernel/hostname", name, sizeof(name)) <= 0 || !ctx->live)
		collect_read_line(ctx, "/etc/hostname", name, sizeof(name));
	if (!name[0])
		collect_read_line(ctx, "/proc/sys/kernel/hostname", name, sizeof(name));
	char shortname[256];
	str_copy(shortname, name, sizeof(shortname));
	shortname[strcspn(shortname, ".")] = '\0';
	h->hostname = dup_clean(shortname);
	char fqdn[256];
	str_copy(fqdn, name, sizeof(fqdn));
	if (ctx->live && name[0]) {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_flags = AI_CANONNAME };
		struct addrinfo *res;
		if (!getaddrinfo(name, NULL, &hints, &res)) {
			if (res->ai_canonname && strchr(res->ai_canonname, '.'))
				str_copy(fqdn, res->ai_canonname, sizeof(fqdn));
			freeaddrinfo(res);
		}
	}
	h->fqdn = dup_clean(fqdn);
}

static void collect_arch(struct collect_ctx *ctx, Cairn__HostInfo *h)
{
	char buf[64];
	if (collect_read_line(ctx, "/proc/sys/kernel/arch", buf, sizeof(buf)) > 0) {
		h->architecture = dup_clean(buf);
		return;
	}
	struct utsname u;
	if (ctx->live && !uname(&u)) {
		h->architecture = dup_clean(u.machine);
		return;
	}
	h->architecture = collect_strdup("");
	collect_error(ctx, COLLECT_HOST, "architecture unknown: no /proc/sys/kernel/arch");
}

int collect_host(struct collect_ctx *ctx, Cairn__HostInfo **out)
{
	uint64_t t0 = collect_begin(ctx, COLLECT_HOST);
	Cairn__HostInfo *h = collect_alloc(sizeof(*h));
	cairn__host_info__init(h);
	h->collected_ms = time_now_ms();

	collect_names(ctx, h);
	h->machine_id = read_value(ctx, "/etc/machine-id");
	if (!h->machine_id[0]) {
		free(h->machine_id);
		h->machine_id = read_value(ctx, "/var/lib/dbus/machine-id");
	}
	h->boot_id = read_value(ctx, "/proc/sys/kernel/random/boot_id");
	collect_os(ctx, h);
	h->kernel_release = read_value(ctx, "/proc/sys/kernel/osrelease");
	collect_arch(ctx, h);

	enum { TEXT_MAX = 1 << 20 };
	char *text = collect_alloc(TEXT_MAX);
	struct host_cpu cpu = { 0 };
	if (collect_read(ctx, "/proc/cpuinfo", text, TEXT_MAX) > 0)
		collect_host_parse_cpuinfo(text, &cpu);
	else
		collect_error(ctx, COLLECT_HOST, "cannot read /proc/cpuinfo");
	h->cpu_model = dup_clean(cpu.model);
	h->cpu_sockets = cpu.sockets;
	h->cpu_cores = cpu.cores;
	h->cpu_threads = cpu.threads;
	h->cpu_mhz = cpu.mhz;

	if (collect_read(ctx, "/proc/meminfo", text, TEXT_MAX) > 0) {
		h->mem_total_bytes = meminfo_value(text, "MemTotal");
		h->swap_total_bytes = meminfo_value(text, "SwapTotal");
	} else {
		collect_error(ctx, COLLECT_HOST, "cannot read /proc/meminfo");
	}
	collect_virt(ctx, h, cpu.hypervisor_flag);
	collect_disks(ctx, h);
	collect_filesystems(ctx, h);
	collect_nics(ctx, h);
	collect_routes(ctx, h);
	collect_dns(ctx, h);
	h->timezone = collect_timezone(ctx);

	char up[128];
	if (collect_read(ctx, "/proc/uptime", up, sizeof(up)) > 0)
		h->uptime_s = (uint64_t)strtod(up, NULL);
	if (collect_read(ctx, "/proc/stat", text, TEXT_MAX) > 0) {
		const char *b = strstr(text, "\nbtime ");
		long long bt = b ? strtoll(b + 7, NULL, 10) : 0;
		if (bt > 0 && bt < 100000000000ll) /* else not a plausible epoch second */
			h->boot_time_ms = bt * 1000;
	}
	free(text);
	collect_end(ctx, COLLECT_HOST, t0, 1);
	*out = h;
	return 0;
}
