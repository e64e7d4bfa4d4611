/* Host collector: collect_host(), and the internals it shares with the perf
 * collector and the tests. */
#ifndef CAIRN_AGENT_COLLECT_HOST_H
#define CAIRN_AGENT_COLLECT_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect.h"

/* Host facts: identity, OS, CPU, memory, virtualization, disks, filesystems,
 * NICs with addresses, default routes, DNS, time zone, uptime.
 * Live (root "/"): FQDN via getaddrinfo(AI_CANONNAME), addresses via
 * getifaddrs(), statvfs() on local filesystems. Under a fixture root:
 * FQDN from /etc/hostname, IPv6 addresses from /proc/net/if_inet6, IPv4 from
 * <root>/cairn-capture/ip-addr (`ip -o -4 addr show` output) and filesystem
 * sizes from <root>/cairn-capture/statvfs (see tests/fixtures/README.md).
 * Returns 0 (also when single facts were unreadable: counted in stats). */
int collect_host(struct collect_ctx *ctx, Cairn__HostInfo **out);

struct host_cpu {
	char model[256];
	uint32_t sockets, cores, threads, mhz;
	bool hypervisor_flag;
};

/* /proc/cpuinfo text -> counts. sockets = distinct "physical id" (1 when
 * absent), cores = distinct (physical id, core id) (threads when absent),
 * threads = "processor" entries. -ENODATA when no processor was listed. */
int collect_host_parse_cpuinfo(const char *text, struct host_cpu *cpu);

/* os-release text -> fields (malloc'd strings set on os). -ENODATA when none. */
int collect_host_parse_os_release(const char *text, Cairn__OsRelease *os);

/* The one line of /etc/redhat-release ("CentOS release 6.10 (Final)") ->
 * the os-release fields such a host lacks: ID (rhel, centos, scientific, ol),
 * ID_LIKE, NAME, VERSION_ID ("6.10"), PRETTY_NAME (the line). For hosts
 * without os-release (RHEL/CentOS 6). -ENODATA for another wording. */
int collect_host_parse_redhat_release(const char *line, Cairn__OsRelease *os);

struct host_mount {
	char device[256];
	char mountpoint[1024];
	char fstype[64];
	bool network;    /* nfs, cifs, ...: never statvfs'd (a hung server would block) */
	bool init_ns;    /* from pid 1's table: mountpoint resolves under /proc/1/root */
};

/* Opens (O_CLOEXEC) the mount table collect_host_mounts() reads: pid 1's
 * (<root>/proc/1/mounts) when <root>/proc/1/root is reachable, which is the
 * host's view even when the agent runs in a systemd sandbox or a container
 * with the host's pids; else <root>/proc/self/mounts, else /proc/mounts.
 * *init_ns tells which, *table names it ("/proc/1/mounts" ...). The fd
 * signals POLLPRI when the table changes. Returns the fd or a negative errno. */
int collect_host_mount_table_open(struct collect_ctx *ctx, bool *init_ns, const char **table);

/* Real filesystems from collect_host_mount_table_open()'s table: pseudo filesystems
 * skipped (proc, sysfs, tmpfs, cgroup, overlay except on "/", squashfs ...),
 * octal escapes undone, one entry per mountpoint (the last mount wins).
 * *out is malloc'd (free()). 0 or a negative errno. */
int collect_host_mounts(struct collect_ctx *ctx, struct host_mount **out, size_t *n);

bool collect_host_fs_is_pseudo(const char *fstype, const char *mountpoint);
bool collect_host_fs_is_network(const char *fstype);

struct host_fs_usage {
	uint64_t size_bytes, used_bytes, inodes_total, inodes_used;
};

/* statvfs() live; under a fixture root the line for the mountpoint in
 * <root>/cairn-capture/statvfs ("MOUNTPOINT SIZE USED INODES INODES_USED").
 * -EREMOTE for network filesystems (live), -ENOENT when not recorded. */
int collect_host_fs_usage(struct collect_ctx *ctx, const struct host_mount *m, struct host_fs_usage *u);

#endif
