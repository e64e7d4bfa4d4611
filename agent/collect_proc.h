/* Process collector: snapshots of /proc/<pid> and deltas between them.
 *
 * A process is identified over time by (pid, start time): the same pid with
 * another start time is another process. Facts that do not change during a
 * process's life (exe, cmdline, user, container, identity, netns) are read
 * once per process (again when its comm changes: an exec) and cached in
 * struct proc_state; a steady-state snapshot
 * only reads /proc/<pid>/stat of each process (CPU, RSS, threads, ppid).
 * Kernel threads (PF_KTHREAD, or children of kthreadd) are skipped.
 */
#ifndef CAIRN_AGENT_COLLECT_PROC_H
#define CAIRN_AGENT_COLLECT_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "collect.h"

#define PROC_CMDLINE_MAX 4096     /* bytes of redacted cmdline kept (a "..." marks cuts) */
/* The per-process cache of a struct proc_state holds at most about this many
 * bytes; beyond it, new processes keep only PROC_CMDLINE_SHORT bytes of their
 * command line (20,000 Java processes must not cost the agent 80 MiB). */
#define PROC_CACHE_BUDGET (8u << 20)
#define PROC_CMDLINE_SHORT 256
#define PROC_IDENTITY_MAX 256
#define PROC_CONTAINER_ID_MAX 65  /* 64 hex digits + NUL */

/* What the socket collector needs to name a socket's owner: cheap, no heap. */
struct proc_info {
	uint32_t pid;
	uint32_t ppid;
	uint32_t uid;
	uint32_t threads;
	uint64_t start_ticks;                 /* stat field 22, clock ticks after boot */
	uint64_t cpu_ticks;                   /* utime + stime */
	uint64_t rss_bytes;
	uint64_t netns;                       /* inode of /proc/<pid>/ns/net, 0 if unreadable */
	char name[64];                        /* comm, valid UTF-8 */
	char exe[1024];                       /* /proc/<pid>/exe target, "" if unreadable */
	char identity[PROC_IDENTITY_MAX];     /* see collect_proc_identity() */
	char container_id[PROC_CONTAINER_ID_MAX];
	bool kernel_thread;
};

/* Reads one process (stat, comm, exe, cmdline for the identity, cgroup, ns/net)
 * without touching any cache. Returns 0, -ENOENT when the process is gone
 * (or its stat is missing), -EACCES, or -EINVAL for a malformed stat. */
int collect_proc_info_read(struct collect_ctx *ctx, uint32_t pid, struct proc_info *out);

/* Restart-stable identity of a program: the exe basename ("nginx"), and for
 * interpreters (java, python, node, ruby, php, perl, shells) also what they
 * run: "java org.example.Main", "java app.jar", "node server.js",
 * "python3 /srv/app/manage.py runserver" (a dispatcher script's first word
 * argument is part of it), "gunicorn shop.wsgi:application" (app servers
 * are named by their app); docs/inventory.md has the rule. exe may be "" (unreadable),
 * then argv[0] and finally comm name it. argv is the raw NUL-separated
 * /proc/<pid>/cmdline (argv_len bytes). Always NUL-terminates out. */
void collect_proc_identity(const char *exe, const char *comm, const char *argv, size_t argv_len,
		   char *out, size_t n);

/* Container id (64 hex digits) from /proc/<pid>/cgroup text: docker,
 * containerd (cri-containerd-), cri-o (crio-), podman (libpod-), kubepods
 * layouts. Returns true and fills out[65] when one is found. */
bool collect_proc_container_id(const char *cgroup_text, char out[static PROC_CONTAINER_ID_MAX]);

/* Turns a raw NUL-separated cmdline into one printable line: arguments joined
 * by spaces, secrets redacted (--password X, --password=X, password=X, token,
 * secret, api-key/apikey, credential(s), mysql -pX, URL user:pass@ -> user:***@),
 * bytes that are not UTF-8 replaced by U+FFFD, at most out_n - 1 bytes (cut at
 * a character boundary and marked with "..."). exe_base selects program
 * specific rules (mysql -p); may be "". */
void collect_proc_cmdline_format(const char *argv, size_t argv_len, bool truncated, const char *exe_base,
			 char *out, size_t out_n);

struct proc_state;

int collect_proc_state_new(struct proc_state **out);
void collect_proc_state_free(struct proc_state *st);

/* Scans <root>/proc. CPU % is the process's CPU time since the previous
 * snapshot with the same state over the elapsed /proc/uptime (0 for processes
 * new since then). Returns 0 or a negative errno when /proc itself cannot be
 * read. st may not be NULL. */
int collect_proc_snapshot(struct collect_ctx *ctx, struct proc_state *st, Cairn__ProcessSnapshot **out);

/* Changes from prev to cur: started = processes in cur that are new (pid not in
 * prev, or the pid has another start time) or whose pid-stable facts changed
 * (ppid, name, exe, cmdline, user, container, identity); exited_pids = pids of
 * prev that are gone or were reused. CPU and RSS changes alone are not
 * changes. Copies what it needs; prev and cur stay owned by the caller. */
int collect_proc_delta(const Cairn__ProcessSnapshot *prev, const Cairn__ProcessSnapshot *cur,
	       Cairn__ProcessDelta **out);

#endif
