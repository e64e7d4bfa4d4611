/* cairn-kernel310: runs a command as if on Linux 3.10 (RHEL/CentOS 7) as far
 * as system calls go: a seccomp filter answers ENOSYS, like a kernel that
 * does not have them, for every x86_64 system call added after 3.10.
 *
 *   cairn-kernel310 [--list] [--] COMMAND [ARG...]
 *
 * x86_64 system call numbers are handed out in order, and 3.10's table ends
 * at 313 (finit_module, 3.8): every number from 314 up is newer. The filter
 * therefore refuses nr >= 314 (and the x32 ABI, bit 30), which also covers
 * calls added after this list was written. The list below names each one
 * with the release that added it, for --list and for the docs; sources:
 * the kernel's arch/x86/entry/syscalls/syscall_64.tbl history and the
 * "Kernel" column of syscalls(2) (man-pages 6.x).
 *
 * Not covered: new flags on old calls (O_TMPFILE 3.11, MAP_FIXED_NOREPLACE
 * 4.17, ...), which an old kernel rejects with EINVAL; /proc and netlink
 * content (tested separately, see docs/operations.md).
 *
 * The filter is installed with PR_SET_NO_NEW_PRIVS, so no privilege is
 * needed; it is inherited by every child (forks, execs, threads).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FIRST_AFTER_310 314
#define X32_SYSCALL_BIT 0x40000000u

static const struct {
	unsigned nr;
	const char *name, *since;
} newer[] = {
	{314, "sched_setattr", "3.14"}, {315, "sched_getattr", "3.14"},
	{316, "renameat2", "3.15"}, {317, "seccomp", "3.17"},
	{318, "getrandom", "3.17"}, {319, "memfd_create", "3.17"},
	{320, "kexec_file_load", "3.17"}, {321, "bpf", "3.18"},
	{322, "execveat", "3.19"}, {323, "userfaultfd", "4.3"},
	{324, "membarrier", "4.3"}, {325, "mlock2", "4.4"},
	{326, "copy_file_range", "4.5"}, {327, "preadv2", "4.6"},
	{328, "pwritev2", "4.6"}, {329, "pkey_mprotect", "4.9"},
	{330, "pkey_alloc", "4.9"}, {331, "pkey_free", "4.9"},
	{332, "statx", "4.11"}, {333, "io_pgetevents", "4.18"},
	{334, "rseq", "4.18"}, {335, "uretprobe", "6.11"},
	{424, "pidfd_send_signal", "5.1"}, {425, "io_uring_setup", "5.1"},
	{426, "io_uring_enter", "5.1"}, {427, "io_uring_register", "5.1"},
	{428, "open_tree", "5.2"}, {429, "move_mount", "5.2"},
	{430, "fsopen", "5.2"}, {431, "fsconfig", "5.2"},
	{432, "fsmount", "5.2"}, {433, "fspick", "5.2"},
	{434, "pidfd_open", "5.3"}, {435, "clone3", "5.3"},
	{436, "close_range", "5.9"}, {437, "openat2", "5.6"},
	{438, "pidfd_getfd", "5.6"}, {439, "faccessat2", "5.8"},
	{440, "process_madvise", "5.10"}, {441, "epoll_pwait2", "5.11"},
	{442, "mount_setattr", "5.12"}, {443, "quotactl_fd", "5.14"},
	{444, "landlock_create_ruleset", "5.13"}, {445, "landlock_add_rule", "5.13"},
	{446, "landlock_restrict_self", "5.13"}, {447, "memfd_secret", "5.14"},
	{448, "process_mrelease", "5.15"}, {449, "futex_waitv", "5.16"},
	{450, "set_mempolicy_home_node", "5.17"}, {451, "cachestat", "6.5"},
	{452, "fchmodat2", "6.6"}, {453, "map_shadow_stack", "6.6"},
	{454, "futex_wake", "6.7"}, {455, "futex_wait", "6.7"},
	{456, "futex_requeue", "6.7"}, {457, "statmount", "6.8"},
	{458, "listmount", "6.8"}, {459, "lsm_get_self_attr", "6.8"},
	{460, "lsm_set_self_attr", "6.8"}, {461, "lsm_list_modules", "6.8"},
	{462, "mseal", "6.10"}, {463, "setxattrat", "6.13"},
	{464, "getxattrat", "6.13"}, {465, "listxattrat", "6.13"},
	{466, "removexattrat", "6.13"}, {467, "open_tree_attr", "6.15"},
};

static int install_filter(void)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, FIRST_AFTER_310, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = {.len = sizeof(prog) / sizeof(prog[0]), .filter = prog};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0)
		return -errno;
	return 0;
}

int main(int argc, char *argv[])
{
#if !defined(__x86_64__)
	fprintf(stderr, "cairn-kernel310: the syscall table is x86_64's\n");
	return 77;
#endif
	int i = 1;
	if (i < argc && !strcmp(argv[i], "--list")) {
		for (size_t k = 0; k < sizeof(newer) / sizeof(newer[0]); k++)
			printf("%u\t%s\t%s\n", newer[k].nr, newer[k].name, newer[k].since);
		return 0;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc) {
		fprintf(stderr, "usage: cairn-kernel310 [--list] [--] COMMAND [ARG...]\n");
		return 2;
	}
	int rc = install_filter();
	if (rc) {
		fprintf(stderr, "cairn-kernel310: installing the seccomp filter: %s\n", strerror(-rc));
		return 1;
	}
	/* Proof the filter is in place before handing over. */
	if (syscall(318 /* getrandom */, &rc, sizeof(rc), 0) != -1 || errno != ENOSYS) {
		fprintf(stderr, "cairn-kernel310: getrandom still answers: filter not effective\n");
		return 1;
	}
	execvp(argv[i], argv + i);
	fprintf(stderr, "cairn-kernel310: %s: %s\n", argv[i], strerror(errno));
	return 127;
}
