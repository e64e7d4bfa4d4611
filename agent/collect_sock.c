/* Socket collector: see collect_sock.h for the contract. */
#include "collect_sock.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>

#include "collect_proc.h"
#include "log.h"
#include "netlink.h"
#include "sock_parse.h"
#include "sockhash.h"
#include "util.h"


#define SLOT_UNREAD UINT64_MAX  /* fd slot whose link must be read again */
#define SLOT_FREE (UINT64_MAX - 1) /* fd number seen closed: the next open may take it */
#define SLOT_HOLDS(ino) ((ino) != 0 && (ino) < SLOT_FREE)
#define DEFAULT_FULL_RESCAN 40
#define SLOW_PASS_EVERY 4       /* samples between "re-read non-inet slots" passes */
#define NL_BUF_SIZE 32768       /* the kernel fills dump skbs up to 32 KiB */
#define PROCNET_CHUNK 65536     /* /proc/net files are parsed this much at a time */

struct fd_slot {
	int32_t fd;
	uint64_t inode;         /* socket inode, 0 = not a socket, SLOT_UNREAD, SLOT_FREE */
};

struct proc_ent {
	int32_t pid;
	uint64_t netns;
	uint64_t listed_gen;    /* last /proc listing that showed this pid */
	bool netns_read;
	bool info_loaded;
	bool fd_denied;         /* EACCES on the fd dir: retried at full rescans only */
	bool fds_read;          /* slots hold a listing */
	uint64_t refreshed_seq; /* sample of the last REREAD_NEW listing */
	uint64_t probed_seq;    /* sample of the last REREAD_PROBE */
	bool has_unread;        /* some slot lost its socket since the last read */
	uint32_t nfree;         /* SLOT_FREE slots among nslots */
	struct sock_proc pub;
	char *name, *identity, *container_id;
	struct fd_slot *slots;
	uint32_t nslots, cap;
};

struct netns_ent {
	uint64_t ino;
	int32_t pid;            /* a process living in it, for /proc/PID/net */
	uint64_t seen_gen;
	struct netlink_sock *nl;
	bool nl_failed;         /* setns or socket refused: procfs from now on */
	bool is_own;
};

struct sock_scanner {
	struct sock_scanner_opts opts;
	char root[4096];
	bool live;
	int procfd;             /* <root>/proc */
	uint64_t own_netns;
	uint64_t seq;
	uint64_t last_slow_pass;
	uint16_t ephemeral_lo;

	struct sockhash procs;  /* pid -> struct proc_ent * */
	struct sockhash owners; /* socket inode -> pid << 32 | fd */
	struct sockhash orphans;/* inode -> seq when given up */
	struct sockhash cur;    /* inode -> entry index + 1, this sample */
	struct sockhash tuples; /* tuple hash -> entry index + 1 */
	struct sockhash listen; /* (netns, proto, port) -> entry index + 1 */
	struct sockhash hints;  /* (netns, proto, port) / remote endpoint -> pid */

	struct netns_ent *ns;
	size_t nns, capns;
	struct sockhash ns_idx; /* namespace inode -> index + 1 into ns (netns_update) */
	/* The agent runs in a PID namespace of its own (a container, a lab
	 * host): the kernel's other network namespaces are other machines'. */
	bool own_pidns;

	struct sock_entry *entries;
	size_t n, cap;
	uint64_t *prev_inodes;
	size_t nprev, capprev;

	struct sock_addr *own_addrs;
	size_t nown, capown;
	struct sock_addr *if_addrs;
	size_t nif, capif;
	uint64_t if_addrs_seq;
	uint32_t cache_nomem;   /* cache entries not kept for lack of memory, this sample */

	uint32_t *pending;
	size_t npending, cappending;
	int *fdbuf;
	size_t capfdbuf;

	struct sock_sample sample;
	char *nlbuf;
	char *pnbuf;            /* PROCNET_CHUNK bytes, allocated on first use */
};

/* ------------------------------------------------------------ small arrays */

static int entry_push(struct sock_scanner *s, const struct sock_entry *e)
{
	/* A TCP socket without a file in a closing state was closed by its
	 * program and only finishes its shutdown in the kernel: not a connection
	 * any more. (Without a file and established, it waits in a listener's
	 * accept queue: kept, see classify().) */
	if (e->protocol == IPPROTO_TCP && !e->inode &&
	    (e->state == ST_FIN_WAIT1 || e->state == ST_FIN_WAIT2 || e->state == ST_CLOSING ||
	     e->state == ST_LAST_ACK))
		return 0;
	if (array_grow((void **)&s->entries, &s->cap, s->n + 1, sizeof(*s->entries)))
		return -ENOMEM;
	s->entries[s->n++] = *e;
	return 0;
}

/* ------------------------------------------------------------ /proc/net files */

struct procnet_ctx {
	struct sock_scanner *s;
	uint64_t netns;
	int err;
};

static void procnet_add(void *arg, const struct sock_entry *e)
{
	struct procnet_ctx *pc = arg;
	struct sock_entry x = *e;
	x.netns = pc->netns;
	if (entry_push(pc->s, &x))
		pc->err = -ENOMEM;
}

/* Parses one /proc/net file in PROCNET_CHUNK pieces, whole lines at a time:
 * a container with a million sockets has a table of ~150 MB, which must not
 * be held in memory at once. Returns 0 or -errno of read(); malformed lines
 * (also a line longer than a chunk) are added to *bad. */
static int parse_proc_net_fd(struct sock_scanner *s, int fd, uint8_t protocol,
			     struct procnet_ctx *pc, uint32_t *bad)
{
	char *buf = s->pnbuf;
	size_t have = 0;
	bool skipping = false; /* inside an over-long line, until its newline */
	for (;;) {
		ssize_t r = read(fd, buf + have, PROCNET_CHUNK - have);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		have += (size_t)r;
		char *nl = memrchr(buf, '\n', have);
		if (!nl) {
			if (have == PROCNET_CHUNK) {
				if (!skipping)
					(*bad)++;
				skipping = true;
				have = 0;
			}
			continue;
		}
		size_t done = (size_t)(nl - buf) + 1, from = 0;
		if (skipping) {
			from = (size_t)((char *)memchr(buf, '\n', have) - buf) + 1;
			skipping = false;
		}
		sock_parse_proc_net(buf + from, done - from, protocol, procnet_add, pc, bad);
		if (pc->err)
			return pc->err;
		memmove(buf, buf + done, have - done);
		have -= done;
	}
	/* What is left has no newline: a cut-off line, counted as malformed. */
	if (have && !skipping)
		sock_parse_proc_net(buf, have, protocol, procnet_add, pc, bad);
	return pc->err;
}

/* Reads <dir>/{tcp,tcp6,udp,udp6} relative to procfd ("net" or "PID/net"). */
static int read_proc_net(struct sock_scanner *s, struct collect_ctx *ctx, const char *dir,
			 uint64_t netns, unsigned *files_read)
{
	static const struct {
		const char *name;
		uint8_t protocol;
	} files[] = {
		{"tcp", IPPROTO_TCP}, {"tcp6", IPPROTO_TCP}, {"udp", IPPROTO_UDP}, {"udp6", IPPROTO_UDP},
	};
	struct procnet_ctx pc = {.s = s, .netns = netns};
	*files_read = 0;
	if (!s->pnbuf && !(s->pnbuf = malloc(PROCNET_CHUNK)))
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "%s/%s", dir, files[i].name);
		int fd = openat(s->procfd, rel, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			/* No IPv6 in the kernel is normal; anything else is worth a count. */
			if (errno != ENOENT)
				collect_error(ctx, COLLECT_SOCK, "%s/proc/%s: %s", s->root, rel,
					      strerror(errno));
			continue;
		}
		uint32_t bad = 0;
		int rc = parse_proc_net_fd(s, fd, files[i].protocol, &pc, &bad);
		close(fd);
		if (rc == -ENOMEM)
			return rc;
		if (rc) {
			collect_error(ctx, COLLECT_SOCK, "%s/proc/%s: read: %s", s->root, rel,
				      strerror(-rc));
			continue;
		}
		if (bad) {
			ctx->stats[COLLECT_SOCK].errors += bad - 1;
			collect_error(ctx, COLLECT_SOCK, "%s/proc/%s: %u malformed line(s) skipped",
				      s->root, rel, bad);
		}
		(*files_read)++;
	}
	return 0;
}

/* ------------------------------------------------------------ netlink */

struct nl_dump_ctx {
	struct sock_scanner *s;
	uint64_t netns;
	uint8_t protocol;
};

static int nl_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_dump_ctx *dc = data;
	struct sock_entry e;
	if (!sock_parse_diag(nlh, &e))
		return 0;
	e.netns = dc->netns;
	e.protocol = dc->protocol;
	if (entry_push(dc->s, &e))
		return -ENOMEM;
	return 0;
}

static int nl_dump(struct sock_scanner *s, struct netlink_sock *nl, uint64_t netns,
		   uint8_t family, uint8_t protocol)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = NLMSG_LENGTH(sizeof(req.r));
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	uint32_t seq = (uint32_t)(s->seq * 8 + family + protocol);
	req.nlh.nlmsg_seq = seq;
	req.r.sdiag_family = family;
	req.r.sdiag_protocol = protocol;
	req.r.idiag_states = sock_state_mask(protocol);
	if (protocol == IPPROTO_TCP)
		req.r.idiag_ext = 1u << (INET_DIAG_INFO - 1);
	int rc = netlink_send(nl, &req.nlh);
	if (rc)
		return rc;
	struct nl_dump_ctx dc = {.s = s, .netns = netns, .protocol = protocol};
	for (;;) {
		ssize_t len = netlink_recv(nl, s->nlbuf, NL_BUF_SIZE);
		if (len < 0)
			return (int)len;
		rc = netlink_walk(s->nlbuf, (size_t)len, seq, nl->portid, nl_dump_cb, &dc);
		if (rc < 0)
			return rc;
		if (rc == 1)
			return 0;
	}
}

static void nl_close(struct netlink_sock *nl)
{
	netlink_close(nl);
	free(nl);
}

static struct netlink_sock *nl_open(int *err)
{
	struct netlink_sock *nl = malloc(sizeof(*nl));
	if (!nl) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = netlink_open(nl, NETLINK_SOCK_DIAG);
	if (*err) {
		free(nl);
		return NULL;
	}
	return nl;
}

struct nsopen {
	int nsfd;
	struct netlink_sock *nl;
	int err;
};

/* Runs in its own thread: enters the namespace, opens the netlink socket there
 * (a socket keeps the namespace it was created in), and ends, so the
 * namespace change dies with the thread. */
static void *nsopen_thread(void *arg)
{
	struct nsopen *o = arg;
	if (setns(o->nsfd, CLONE_NEWNET) < 0) {
		o->err = -errno;
		return NULL;
	}
	o->nl = nl_open(&o->err);
	return NULL;
}

static struct netlink_sock *nl_open_in(struct sock_scanner *s, struct netns_ent *ns, int *err,
				     const char **what)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%d/ns/net", (int)ns->pid);
	*what = "open";
	int nsfd = openat(s->procfd, rel, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		*err = -errno;
		return NULL;
	}
	struct stat st;
	if (fstat(nsfd, &st) < 0 || (uint64_t)st.st_ino != ns->ino) {
		close(nsfd);
		*err = -ESTALE; /* that process has moved to another namespace */
		return NULL;
	}
	struct nsopen o = {.nsfd = nsfd};
	pthread_t t;
	int rc = pthread_create(&t, NULL, nsopen_thread, &o);
	if (rc) {
		close(nsfd);
		*what = "pthread_create";
		*err = -rc;
		return NULL;
	}
	pthread_join(t, NULL);
	close(nsfd);
	*what = "setns";
	*err = o.err;
	return o.nl;
}

/* ------------------------------------------------------------ processes */

static struct proc_ent *proc_get(struct sock_scanner *s, int32_t pid)
{
	uint64_t v;
	if (!sockhash_get(&s->procs, (uint64_t)pid, &v))
		return NULL;
	return (struct proc_ent *)(uintptr_t)v;
}

static void owner_forget(struct sock_scanner *s, uint64_t inode, int32_t pid, int32_t fd)
{
	uint64_t v;
	if (SLOT_HOLDS(inode) && sockhash_get(&s->owners, inode, &v) &&
	    v == ((uint64_t)(uint32_t)pid << 32 | (uint32_t)fd))
		sockhash_del(&s->owners, inode);
}

static void proc_drop(struct sock_scanner *s, struct proc_ent *p)
{
	for (uint32_t i = 0; i < p->nslots; i++)
		owner_forget(s, p->slots[i].inode, p->pid, p->slots[i].fd);
	sockhash_del(&s->procs, (uint64_t)p->pid);
	free(p->slots);
	free(p->name);
	free(p->identity);
	free(p->container_id);
	free(p);
}

static struct proc_ent *proc_add(struct sock_scanner *s, int32_t pid)
{
	struct proc_ent *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	if (sockhash_put(&s->procs, (uint64_t)pid, (uint64_t)(uintptr_t)p)) {
		free(p);
		return NULL;
	}
	return p;
}

static uint64_t read_netns(struct sock_scanner *s, int32_t pid)
{
	char rel[64];
	struct stat st;
	if (pid)
		snprintf(rel, sizeof(rel), "%d/ns/net", (int)pid);
	else
		str_copy(rel, "self/ns/net", sizeof(rel));
	if (fstatat(s->procfd, rel, &st, 0) < 0)
		return 0;
	return (uint64_t)st.st_ino;
}

/* Name, identity and container of an owner, once per process. */
static void proc_load_info(struct sock_scanner *s, struct collect_ctx *ctx, struct proc_ent *p)
{
	if (p->info_loaded)
		return;
	p->info_loaded = true;
	struct proc_info *pi = malloc(sizeof(*pi));
	if (!pi)
		return;
	int rc = collect_proc_info_read(ctx, (uint32_t)p->pid, pi);
	if (rc == 0) {
		p->name = strdup(pi->name);
		p->identity = strdup(pi->identity);
		p->container_id = strdup(pi->container_id);
		p->pub.start_time = pi->start_ticks;
		if (!p->netns_read && pi->netns) {
			p->netns = pi->netns;
			p->netns_read = true;
		}
	} else if (rc != -ENOENT) {
		collect_error(ctx, COLLECT_SOCK, "%s/proc/%d: %s", s->root, (int)p->pid, strerror(-rc));
	}
	free(pi);
	p->pub.pid = p->pid;
	p->pub.netns = p->netns;
	p->pub.name = p->name ? p->name : "";
	p->pub.identity = p->identity ? p->identity : "";
	p->pub.container_id = p->container_id ? p->container_id : "";
}

/* Field 22 of /proc/PID/stat, 0 when unreadable. comm (field 2) may hold
 * spaces and parentheses: parse after the last ')'. */
static uint64_t proc_start_time(struct sock_scanner *s, int32_t pid)
{
	char rel[32], buf[1024];
	snprintf(rel, sizeof(rel), "%d/stat", (int)pid);
	int fd = openat(s->procfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* After ")": field 3 (state) ... field 22. */
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static struct fd_slot *slot_find(struct proc_ent *p, int32_t fd)
{
	size_t lo = 0, hi = p->nslots;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->slots[mid].fd == fd)
			return &p->slots[mid];
		if (p->slots[mid].fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

enum reread {
	REREAD_PROBE,    /* no listing: vanished slots and numbers above the top */
	REREAD_NEW,      /* read only fd numbers not seen before (or invalidated) */
	REREAD_NON_INET, /* also every slot not holding a socket of this sample */
	REREAD_ALL,
};

/* Decimal digits of v into out (>= 11 bytes); snprintf showed up in the
 * cold-sample profile, one call per fd. */
static void fmt_uint(char out[static 11], uint32_t v)
{
	char tmp[11];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

/* Reads /proc/PID/fd/<fd>: 0 and *ino (0 when not a socket), or -errno
 * (-ENOENT: the fd is closed). */
static int read_fd_link(int dirfd, int fd, uint32_t *nread, uint64_t *ino)
{
	char name[16], target[64];
	fmt_uint(name, (uint32_t)fd);
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	(*nread)++;
	*ino = 0;
	if (n < 0)
		return -errno;
	if (n < 9 || memcmp(target, "socket:[", 8) != 0)
		return 0;
	uint64_t v = 0;
	for (ssize_t i = 8; i < n && target[i] != ']'; i++) {
		if (target[i] < '0' || target[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(target[i] - '0');
	}
	*ino = v;
	return 0;
}

/* Records what the owner caches could not keep (allocation failures): owners
 * may then be missing until a later sample; counted, never silent. */
static void cache_put(struct sock_scanner *s, struct sockhash *h, uint64_t key, uint64_t val)
{
	if (sockhash_put(h, key, val))
		s->cache_nomem++;
}

static void owner_set(struct sock_scanner *s, uint64_t ino, int32_t pid, int32_t fd)
{
	cache_put(s, &s->owners, ino, (uint64_t)(uint32_t)pid << 32 | (uint32_t)fd);
}

#define PROBE_ABOVE_MAX 64

/* Reads only the fd numbers where a new socket most likely is, without
 * listing the directory (which costs as much as reading every entry): the
 * slots whose socket vanished, because the kernel hands out the lowest free
 * number, and the numbers right above the highest known one. Returns 0,
 * -EAGAIN when the process was never listed, or a negative errno from
 * opening its fd directory. */
static int proc_probe(struct sock_scanner *s, struct proc_ent *p, uint32_t *new_socks)
{
	if (!p->fds_read)
		return -EAGAIN;
	char rel[32];
	snprintf(rel, sizeof(rel), "%d/fd", (int)p->pid);
	int dfd = openat(s->procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	uint32_t nread = 0;
	p->nfree = 0;
	for (uint32_t i = 0; i < p->nslots; i++) {
		struct fd_slot *sl = &p->slots[i];
		if (sl->inode < SLOT_FREE)
			continue;
		uint64_t ino;
		if (read_fd_link(dfd, sl->fd, &nread, &ino) == -ENOENT) {
			/* Closed: keep the number, the lowest free one is where
			 * the next socket of this process will land. */
			sl->inode = SLOT_FREE;
			p->nfree++;
			continue;
		}
		sl->inode = ino;
		if (ino) {
			owner_set(s, ino, p->pid, sl->fd);
			(*new_socks)++;
		}
	}
	int32_t fd = p->nslots ? p->slots[p->nslots - 1].fd : -1;
	for (int k = 0; k < PROBE_ABOVE_MAX && fd < INT32_MAX; k++) {
		uint64_t ino;
		fd++;
		if (read_fd_link(dfd, fd, &nread, &ino) == -ENOENT)
			break;
		if (p->nslots == p->cap) {
			uint32_t ncap = p->cap ? p->cap * 2 : 16;
			struct fd_slot *ns = realloc(p->slots, ncap * sizeof(*ns));
			if (!ns) {
				s->cache_nomem++;
				break;
			}
			p->slots = ns;
			p->cap = ncap;
		}
		p->slots[p->nslots++] = (struct fd_slot){fd, ino};
		if (ino) {
			owner_set(s, ino, p->pid, fd);
			(*new_socks)++;
		}
	}
	close(dfd);
	s->sample.fd_links_read += nread;
	return 0;
}

/* Lists /proc/PID/fd and reads the links the mode asks for; keeps the others.
 * *new_socks counts sockets found in slots that were read. Returns 0, -ENOENT
 * (process gone), -EACCES, or -ENOMEM. */
static int proc_refresh_fds(struct sock_scanner *s, struct proc_ent *p, enum reread mode,
			    uint32_t *new_socks)
{
	char rel[32];
	snprintf(rel, sizeof(rel), "%d/fd", (int)p->pid);
	int dfd = openat(s->procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	/* CLOEXEC like every other fd here: the package collector forks and
	 * execs rpm, possibly from another thread while this runs. */
	int lfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (!d) {
		int rc = -errno;
		if (lfd >= 0)
			close(lfd);
		close(dfd);
		return rc;
	}
	size_t nfds = 0;
	bool sorted = true;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		long fd = strtol(de->d_name, NULL, 10);
		if (fd < 0 || fd > INT_MAX)
			continue;
		if (array_grow((void **)&s->fdbuf, &s->capfdbuf, nfds + 1, sizeof(int))) {
			rc = -ENOMEM;
			break;
		}
		if (nfds && s->fdbuf[nfds - 1] > (int)fd)
			sorted = false;
		s->fdbuf[nfds++] = (int)fd;
	}
	closedir(d);
	if (rc) {
		close(dfd);
		return rc;
	}
	if (!sorted)
		qsort(s->fdbuf, nfds, sizeof(int), cmp_int);

	struct fd_slot *ns = malloc((nfds ? nfds : 1) * sizeof(*ns));
	if (!ns) {
		close(dfd);
		return -ENOMEM;
	}
	uint32_t nread = 0;
	size_t j = 0;
	for (size_t i = 0; i < nfds; i++) {
		int fd = s->fdbuf[i];
		while (j < p->nslots && p->slots[j].fd < fd) {
			owner_forget(s, p->slots[j].inode, p->pid, p->slots[j].fd);
			j++;
		}
		uint64_t ino = SLOT_UNREAD;
		if (j < p->nslots && p->slots[j].fd == fd) {
			ino = p->slots[j].inode;
			j++;
		}
		bool read = ino >= SLOT_FREE || mode == REREAD_ALL ||
			    (mode == REREAD_NON_INET && (ino == 0 || !sockhash_get(&s->cur, ino, NULL)));
		if (read) {
			uint64_t old = ino;
			read_fd_link(dfd, fd, &nread, &ino);
			if (old != ino) {
				owner_forget(s, old, p->pid, fd);
				if (ino)
					(*new_socks)++;
			}
		}
		if (SLOT_HOLDS(ino) && (read || !sockhash_get(&s->owners, ino, NULL)))
			owner_set(s, ino, p->pid, fd);
		ns[i].fd = fd;
		ns[i].inode = ino;
	}
	for (; j < p->nslots; j++)
		owner_forget(s, p->slots[j].inode, p->pid, p->slots[j].fd);
	close(dfd);
	free(p->slots);
	p->slots = ns;
	p->nslots = (uint32_t)nfds;
	p->cap = (uint32_t)(nfds ? nfds : 1);
	p->nfree = 0;
	p->fds_read = true;
	s->sample.fd_dirs_read++;
	s->sample.fd_links_read += nread;
	return 0;
}

/* Refreshes one process, dropping it when it is gone. */
static void proc_refresh(struct sock_scanner *s, struct collect_ctx *ctx, struct proc_ent *p,
			 enum reread mode)
{
	if (p->fd_denied && mode != REREAD_ALL)
		return;
	if (mode == REREAD_NEW && p->refreshed_seq == s->seq)
		return;
	if (mode == REREAD_PROBE && p->probed_seq == s->seq)
		return;
	uint32_t new_socks = 0;
	int rc;
	if (mode == REREAD_PROBE) {
		rc = proc_probe(s, p, &new_socks);
		if (rc == -EAGAIN)
			return;
		p->probed_seq = s->seq;
	} else {
		rc = proc_refresh_fds(s, p, mode, &new_socks);
		if (!rc)
			p->refreshed_seq = s->seq;
	}
	/* New sockets in a process we know: is it still the same process, or
	 * was its pid reused since the last listing? */
	if (!rc && new_socks && p->info_loaded && proc_start_time(s, p->pid) != p->pub.start_time) {
		p->info_loaded = false;
		free(p->name);
		free(p->identity);
		free(p->container_id);
		p->name = p->identity = p->container_id = NULL;
		p->netns_read = false;
	}
	if (!rc)
		p->has_unread = false;
	if (rc == -ENOENT || rc == -ESRCH) {
		proc_drop(s, p);
	} else if (rc == -EACCES || rc == -EPERM) {
		if (!p->fd_denied)
			collect_error(ctx, COLLECT_SOCK,
				      "%s/proc/%d/fd: %s (owners of its sockets stay unknown; "
				      "run with CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE)",
				      s->root, (int)p->pid, strerror(-rc));
		p->fd_denied = true;
	} else if (rc) {
		collect_error(ctx, COLLECT_SOCK, "%s/proc/%d/fd: %s", s->root, (int)p->pid,
			      strerror(-rc));
	} else {
		p->fd_denied = false;
	}
}

/* Lists <root>/proc: adds new pids (reading their namespace on a live host),
 * drops vanished ones. */
static int scan_pids(struct sock_scanner *s)
{
	int lfd = openat(s->procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (!d) {
		int rc = -errno;
		if (lfd >= 0)
			close(lfd);
		return rc;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT32_MAX)
			continue;
		struct proc_ent *p = proc_get(s, (int32_t)pid);
		if (!p) {
			p = proc_add(s, (int32_t)pid);
			if (!p) {
				closedir(d);
				return -ENOMEM;
			}
		}
		p->listed_gen = s->seq;
		if (!p->netns_read && s->live && !s->opts.no_namespaces) {
			p->netns = read_netns(s, p->pid);
			p->netns_read = true;
		}
	}
	closedir(d);
	for (size_t i = 0; i < s->procs.cap; i++) {
		if (!s->procs.keys[i])
			continue;
		struct proc_ent *p = (struct proc_ent *)(uintptr_t)s->procs.vals[i];
		if (p->listed_gen != s->seq) {
			proc_drop(s, p);
			i--; /* backward shift may have moved a later key here */
		}
	}
	return 0;
}

/* ------------------------------------------------------------ namespaces */

/* The entry for namespace ino, added when new. s->ns_idx (ino -> index + 1)
 * is rebuilt by netns_update before its lookups: a linear search per process
 * costs processes x namespaces on a host with hundreds of containers. */
static struct netns_ent *netns_get_or_add(struct sock_scanner *s, uint64_t ino)
{
	uint64_t v;
	if (ino && sockhash_get(&s->ns_idx, ino, &v))
		return &s->ns[v - 1];
	for (size_t i = 0; !ino && i < s->nns; i++)
		if (s->ns[i].ino == 0)
			return &s->ns[i];
	if (array_grow((void **)&s->ns, &s->capns, s->nns + 1, sizeof(*s->ns)))
		return NULL;
	if (ino && sockhash_put(&s->ns_idx, ino, s->nns + 1))
		return NULL;
	struct netns_ent *ns = &s->ns[s->nns++];
	memset(ns, 0, sizeof(*ns));
	ns->ino = ino;
	ns->is_own = ino == s->own_netns;
	return ns;
}

/* The distinct namespaces of the listed processes (plus ours), each with a
 * live process in it. */
static int netns_update(struct sock_scanner *s)
{
	sockhash_clear(&s->ns_idx);
	for (size_t i = 0; i < s->nns; i++)
		if (s->ns[i].ino && sockhash_put(&s->ns_idx, s->ns[i].ino, i + 1))
			return -ENOMEM;
	for (size_t i = 0; i < s->procs.cap; i++) {
		if (!s->procs.keys[i])
			continue;
		struct proc_ent *p = (struct proc_ent *)(uintptr_t)s->procs.vals[i];
		if (!p->netns)
			continue;
		struct netns_ent *ns = netns_get_or_add(s, p->netns);
		if (!ns)
			return -ENOMEM;
		if (ns->seen_gen != s->seq) {
			ns->seen_gen = s->seq;
			ns->pid = p->pid;
		}
	}
	struct netns_ent *own = netns_get_or_add(s, s->own_netns);
	if (!own)
		return -ENOMEM;
	own->is_own = true;
	own->seen_gen = s->seq;
	own->pid = 0;
	/* Forget namespaces nobody lives in any more. */
	for (size_t i = 0; i < s->nns;) {
		if (s->ns[i].seen_gen != s->seq) {
			if (s->ns[i].nl)
				nl_close(s->ns[i].nl);
			s->ns[i] = s->ns[--s->nns];
		} else {
			i++;
		}
	}
	return 0;
}

/* A listed process other than not_pid living in namespace ino, or 0. */
static int32_t netns_other_pid(struct sock_scanner *s, uint64_t ino, int32_t not_pid)
{
	char rel[32];
	struct stat st;
	for (size_t i = 0; i < s->procs.cap; i++) {
		if (!s->procs.keys[i])
			continue;
		const struct proc_ent *p = (const struct proc_ent *)(uintptr_t)s->procs.vals[i];
		snprintf(rel, sizeof(rel), "%d", (int)p->pid);
		if (p->netns == ino && p->pid != not_pid && fstatat(s->procfd, rel, &st, 0) == 0)
			return p->pid;
	}
	return 0;
}

/* Dumps one namespace: netlink when possible, else its /proc/.../net files. */
static int dump_netns(struct sock_scanner *s, struct collect_ctx *ctx, struct netns_ent *ns)
{
	static const uint8_t fams[] = {AF_INET, AF_INET6};
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP};
	size_t before = s->n;
	if (!ns->nl && !ns->nl_failed && !s->opts.no_netlink) {
		int err = 0;
		const char *what = "socket";
		if (ns->is_own) {
			ns->nl = nl_open(&err);
		} else {
			/* The process may have exited (or moved) since the listing:
			 * another one of the namespace will do. */
			for (int attempt = 0; attempt < 3; attempt++) {
				ns->nl = nl_open_in(s, ns, &err, &what);
				if (ns->nl || (err != -ENOENT && err != -ESRCH && err != -ESTALE))
					break;
				int32_t other = netns_other_pid(s, ns->ino, ns->pid);
				if (!other)
					break;
				ns->pid = other;
			}
		}
		if (!ns->nl) {
			char via[16];
			if (ns->is_own)
				str_copy(via, "self", sizeof(via));
			else
				snprintf(via, sizeof(via), "%d", (int)ns->pid);
			ns->nl_failed = true;
			collect_error(ctx, COLLECT_SOCK,
				      "netns %llu (pid %d): %s: %s; reading %s/proc/%s/net instead%s",
				      (unsigned long long)ns->ino, (int)ns->pid, what, strerror(-err),
				      s->root, via,
				      err == -EPERM ? " (entering a namespace needs CAP_SYS_ADMIN)" : "");
		}
	}
	if (ns->nl) {
		int rc = 0;
		for (size_t f = 0; f < ARRAY_SIZE(fams) && !rc; f++)
			for (size_t pr = 0; pr < ARRAY_SIZE(protos) && !rc; pr++) {
				rc = nl_dump(s, ns->nl, ns->ino, fams[f], protos[pr]);
				/* A kernel without IPv6 or UDP diag says so per request. */
				if (rc == -ENOENT || rc == -EAFNOSUPPORT || rc == -EOPNOTSUPP)
					rc = 0;
			}
		if (rc == -ENOMEM)
			return rc;
		if (!rc) {
			s->sample.netns_netlink++;
			return 0;
		}
		collect_error(ctx, COLLECT_SOCK, "netns %llu: sock_diag dump: %s; using /proc",
			      (unsigned long long)ns->ino, strerror(-rc));
		s->n = before;
		nl_close(ns->nl);
		ns->nl = NULL;
		ns->nl_failed = true;
	}
	char dir[32];
	unsigned files = 0;
	int rc;
	for (int attempt = 0;; attempt++) {
		if (ns->is_own)
			str_copy(dir, s->live ? "self/net" : "net", sizeof(dir));
		else
			snprintf(dir, sizeof(dir), "%d/net", (int)ns->pid);
		rc = read_proc_net(s, ctx, dir, ns->ino, &files);
		if (rc)
			return rc;
		if (files || ns->is_own || attempt == 3)
			break;
		/* The process we read through may have exited since the listing:
		 * any other one in the namespace will do; none left means the
		 * namespace itself is gone, which is not an error. */
		char rel[32];
		struct stat st;
		snprintf(rel, sizeof(rel), "%d", (int)ns->pid);
		if (fstatat(s->procfd, rel, &st, 0) == 0)
			break;
		int32_t other = netns_other_pid(s, ns->ino, ns->pid);
		if (!other)
			return 0;
		ns->pid = other;
	}
	if (!files) {
		s->sample.netns_failed++;
		collect_error(ctx, COLLECT_SOCK, "netns %llu: no socket table readable under %s/proc/%s",
			      (unsigned long long)ns->ino, s->root, dir);
		return -ENOENT;
	}
	s->sample.netns_procfs++;
	return 0;
}

/* ------------------------------------------------------------ classification */

static uint64_t listen_key(uint64_t netns, uint8_t protocol, uint16_t port)
{
	return (netns & 0xffffffffffULL) << 24 | (uint64_t)protocol << 16 | port | 1ULL << 63;
}

/* Loopback addresses are only meaningful inside their namespace. */
static uint64_t tuple_hash(const struct sock_entry *e, bool reversed)
{
	struct {
		struct sock_addr a, b;
		uint16_t pa, pb;
		uint8_t proto;
		uint64_t scope;
	} t;
	memset(&t, 0, sizeof(t));
	t.a = reversed ? e->remote : e->local;
	t.b = reversed ? e->local : e->remote;
	t.pa = reversed ? e->remote_port : e->local_port;
	t.pb = reversed ? e->local_port : e->remote_port;
	t.proto = e->protocol;
	t.scope = sock_addr_is_loopback(&e->local) || sock_addr_is_loopback(&e->remote) ? e->netns : 0;
	return sockhash_bytes(&t, sizeof(t), 0);
}

static bool is_peer(const struct sock_entry *a, const struct sock_entry *b)
{
	if (a->protocol != b->protocol || a->local_port != b->remote_port ||
	    a->remote_port != b->local_port || sock_addr_cmp(&a->local, &b->remote) ||
	    sock_addr_cmp(&a->remote, &b->local))
		return false;
	if (sock_addr_is_loopback(&a->local) || sock_addr_is_loopback(&a->remote))
		return a->netns == b->netns;
	return true;
}

static bool is_unconnected(const struct sock_entry *e)
{
	return e->remote_port == 0 && sock_addr_is_any(&e->remote);
}

static bool own_addr(const struct sock_scanner *s, const struct sock_addr *a)
{
	return bsearch(a, s->own_addrs, s->nown, sizeof(*a), sock_addr_cmp) != NULL;
}

/* Interface addresses of our namespace (other namespaces' addresses come in
 * through their sockets' local addresses). getifaddrs() is two rtnetlink
 * dumps: refreshed at full-rescan pace, not every sample. */
static int if_addrs_refresh(struct sock_scanner *s)
{
	struct ifaddrs *ifa = NULL;
	s->if_addrs_seq = s->seq;
	s->nif = 0;
	if (getifaddrs(&ifa) != 0)
		return 0;
	for (struct ifaddrs *x = ifa; x; x = x->ifa_next) {
		if (!x->ifa_addr || (x->ifa_addr->sa_family != AF_INET && x->ifa_addr->sa_family != AF_INET6))
			continue;
		struct sock_addr a;
		if (x->ifa_addr->sa_family == AF_INET)
			sock_addr_set(&a, AF_INET, &((struct sockaddr_in *)(void *)x->ifa_addr)->sin_addr);
		else
			sock_addr_set(&a, AF_INET6, &((struct sockaddr_in6 *)(void *)x->ifa_addr)->sin6_addr);
		if (array_grow((void **)&s->if_addrs, &s->capif, s->nif + 1, sizeof(*s->if_addrs))) {
			freeifaddrs(ifa);
			return -ENOMEM;
		}
		s->if_addrs[s->nif++] = a;
	}
	freeifaddrs(ifa);
	return 0;
}

static int own_addrs_collect(struct sock_scanner *s)
{
	s->nown = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct sock_entry *e = &s->entries[i];
		if (sock_addr_is_any(&e->local))
			continue;
		/* A host has few addresses: most repeat one just seen, which keeps
		 * the list (and the sort below) short. */
		bool seen = false;
		for (size_t k = s->nown > 4 ? s->nown - 4 : 0; k < s->nown && !seen; k++)
			seen = !sock_addr_cmp(&s->own_addrs[k], &e->local);
		if (seen)
			continue;
		if (array_grow((void **)&s->own_addrs, &s->capown, s->nown + 1, sizeof(*s->own_addrs)))
			return -ENOMEM;
		s->own_addrs[s->nown++] = e->local;
	}
	if (s->live && (!s->if_addrs_seq || s->seq - s->if_addrs_seq >= s->opts.full_rescan_every)) {
		int rc = if_addrs_refresh(s);
		if (rc)
			return rc;
	}
	if (array_grow((void **)&s->own_addrs, &s->capown, s->nown + s->nif, sizeof(*s->own_addrs)))
		return -ENOMEM;
	if (s->nif)
		memcpy(s->own_addrs + s->nown, s->if_addrs, s->nif * sizeof(*s->if_addrs));
	s->nown += s->nif;
	qsort(s->own_addrs, s->nown, sizeof(*s->own_addrs), sock_addr_cmp);
	size_t u = 0;
	for (size_t i = 0; i < s->nown; i++)
		if (!u || sock_addr_cmp(&s->own_addrs[u - 1], &s->own_addrs[i]))
			s->own_addrs[u++] = s->own_addrs[i];
	s->nown = u;
	return 0;
}

static bool has_listener(const struct sock_scanner *s, const struct sock_entry *e)
{
	return sockhash_get(&s->listen, listen_key(e->netns, e->protocol, e->local_port), NULL);
}

static int classify(struct sock_scanner *s)
{
	int rc;
	sockhash_clear(&s->listen);
	sockhash_clear(&s->tuples);
	for (size_t i = 0; i < s->n; i++) {
		struct sock_entry *e = &s->entries[i];
		e->dir = SOCK_DIR_UNKNOWN;
		if (e->protocol == IPPROTO_TCP && e->state == ST_LISTEN)
			e->dir = SOCK_DIR_LISTEN;
		else if (e->protocol == IPPROTO_UDP && is_unconnected(e) && e->local_port &&
			 e->local_port < s->ephemeral_lo)
			e->dir = SOCK_DIR_LISTEN;
		if (e->dir == SOCK_DIR_LISTEN) {
			rc = sockhash_put(&s->listen, listen_key(e->netns, e->protocol, e->local_port),
					  i + 1);
			if (rc)
				return rc;
			continue;
		}
		if (is_unconnected(e))
			continue;
		/* Index the connection by its tuple for the peer search. */
		uint64_t h = tuple_hash(e, false);
		for (unsigned k = 0;; k++) {
			uint64_t key = sockhash_probe_key(h, k);
			if (!sockhash_get(&s->tuples, key, NULL)) {
				rc = sockhash_put(&s->tuples, key, i + 1);
				if (rc)
					return rc;
				break;
			}
		}
	}
	rc = own_addrs_collect(s);
	if (rc)
		return rc;
	/* Connections not accepted yet belong to the listener's process. */
	for (size_t i = 0; i < s->n; i++) {
		struct sock_entry *e = &s->entries[i];
		uint64_t v;
		if (!e->inode && !e->pid && e->protocol == IPPROTO_TCP && e->dir != SOCK_DIR_LISTEN &&
		    sockhash_get(&s->listen, listen_key(e->netns, e->protocol, e->local_port), &v))
			e->pid = s->entries[v - 1].pid;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct sock_entry *e = &s->entries[i];
		if (e->dir == SOCK_DIR_LISTEN || is_unconnected(e))
			continue;
		const struct sock_entry *peer = NULL;
		uint64_t h = tuple_hash(e, true), v;
		for (unsigned k = 0; sockhash_get(&s->tuples, sockhash_probe_key(h, k), &v); k++) {
			const struct sock_entry *c = &s->entries[v - 1];
			if (c != e && is_peer(e, c)) {
				peer = c;
				break;
			}
		}
		bool self_listens = has_listener(s, e);
		e->peer_found = peer != NULL;
		e->peer_pid = 0;
		if (peer) {
			bool peer_listens = has_listener(s, peer);
			e->dir = SOCK_DIR_LOCAL;
			e->peer_pid = peer->pid;
			if (self_listens != peer_listens)
				e->is_server = self_listens;
			else
				e->is_server = e->local_port < peer->local_port;
		} else if (sock_addr_is_loopback(&e->remote) || own_addr(s, &e->remote)) {
			e->dir = SOCK_DIR_LOCAL;
			e->is_server = self_listens;
		} else {
			e->dir = self_listens ? SOCK_DIR_INBOUND : SOCK_DIR_OUTBOUND;
			e->is_server = false;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ owners */

static uint64_t remote_hint_key(const struct sock_entry *e)
{
	struct {
		struct sock_addr a;
		uint16_t port;
		uint8_t proto;
		uint64_t netns;
	} t;
	memset(&t, 0, sizeof(t));
	t.a = e->remote;
	t.port = e->remote_port;
	t.proto = e->protocol;
	t.netns = e->netns;
	return sockhash_bytes(&t, sizeof(t), 1);
}

static bool lookup_owner(struct sock_scanner *s, struct sock_entry *e)
{
	uint64_t v;
	if (!e->inode || !sockhash_get(&s->owners, e->inode, &v))
		return false;
	e->pid = (int32_t)(v >> 32);
	return true;
}

/* Drops pending entries whose owner is now known. */
static void pending_settle(struct sock_scanner *s)
{
	size_t u = 0;
	for (size_t i = 0; i < s->npending; i++) {
		struct sock_entry *e = &s->entries[s->pending[i]];
		if (lookup_owner(s, e))
			s->sample.owners_new++;
		else
			s->pending[u++] = s->pending[i];
	}
	s->npending = u;
}

/* Sockets of the previous sample that are gone: their fd slots are read again
 * next time (the fd number may now hold something else). */
static void forget_vanished(struct sock_scanner *s)
{
	for (size_t i = 0; i < s->nprev; i++) {
		uint64_t ino = s->prev_inodes[i], v;
		if (sockhash_get(&s->cur, ino, NULL) || !sockhash_get(&s->owners, ino, &v))
			continue;
		sockhash_del(&s->owners, ino);
		struct proc_ent *p = proc_get(s, (int32_t)(v >> 32));
		struct fd_slot *slot = p ? slot_find(p, (int32_t)(uint32_t)v) : NULL;
		if (slot && slot->inode == ino) {
			slot->inode = SLOT_UNREAD;
			p->has_unread = true;
		}
	}
	for (size_t i = 0; i < s->orphans.cap; i++)
		if (s->orphans.keys[i] && !sockhash_get(&s->cur, s->orphans.keys[i], NULL) &&
		    sockhash_del(&s->orphans, s->orphans.keys[i]))
			i--;
}

/* Since Linux 6.2 the size of /proc/PID/fd is the number of open fds: equal
 * to what we hold means no fd was added (a close followed by an open that
 * reused a non-socket slot is left to the slow pass). Older kernels say 0:
 * then the directory is listed. */
static bool fd_count_unchanged(struct sock_scanner *s, const struct proc_ent *p)
{
	char rel[32];
	struct stat st;
	if (!s->live || !p->fds_read || p->has_unread)
		return false;
	snprintf(rel, sizeof(rel), "%d/fd", (int)p->pid);
	if (fstatat(s->procfd, rel, &st, 0) < 0 || st.st_size <= 0)
		return false;
	return (uint64_t)st.st_size == p->nslots - p->nfree;
}

static void refresh_all(struct sock_scanner *s, struct collect_ctx *ctx, enum reread mode)
{
	/* proc_refresh may drop entries, which reshuffles the table: collect pids first. */
	size_t npids = 0;
	int32_t *pids = malloc((s->procs.n ? s->procs.n : 1) * sizeof(*pids));
	if (!pids)
		return;
	for (size_t i = 0; i < s->procs.cap; i++)
		if (s->procs.keys[i])
			pids[npids++] = (int32_t)s->procs.keys[i];
	for (size_t i = 0; i < npids; i++) {
		struct proc_ent *p = proc_get(s, pids[i]);
		if (!p || (mode == REREAD_PROBE && !p->has_unread && !p->nfree) ||
		    (mode == REREAD_NEW && fd_count_unchanged(s, p)))
			continue;
		proc_refresh(s, ctx, p, mode);
	}
	free(pids);
}

static int resolve_owners(struct sock_scanner *s, struct collect_ctx *ctx, bool full)
{
	s->npending = 0;
	if (full)
		sockhash_clear(&s->orphans);
	for (size_t i = 0; i < s->n; i++) {
		struct sock_entry *e = &s->entries[i];
		e->pid = 0;
		if (!e->inode || lookup_owner(s, e) || sockhash_get(&s->orphans, e->inode, NULL))
			continue;
		if (array_grow((void **)&s->pending, &s->cappending, s->npending + 1, sizeof(*s->pending)))
			return -ENOMEM;
		s->pending[s->npending++] = (uint32_t)i;
	}
	if (full) {
		refresh_all(s, ctx, REREAD_ALL);
		pending_settle(s);
		s->last_slow_pass = s->seq;
		/* Every slot was just read: what is still unowned has no owner we
		 * can see (kernel sockets, unreadable processes). */
		for (size_t i = 0; i < s->npending; i++)
			cache_put(s, &s->orphans, s->entries[s->pending[i]].inode, s->seq);
		s->npending = 0;
	}
	if (s->npending) {
		/* 1. Processes that own the listener on the same local port, or
		 *    other sockets to the same remote endpoint. */
		sockhash_clear(&s->hints);
		for (size_t i = 0; i < s->n; i++) {
			const struct sock_entry *e = &s->entries[i];
			if (!e->pid)
				continue;
			cache_put(s, &s->hints, listen_key(e->netns, e->protocol, e->local_port),
				     (uint64_t)e->pid);
			if (!is_unconnected(e))
				cache_put(s, &s->hints, remote_hint_key(e), (uint64_t)e->pid);
		}
		/* Cheapest first: probe the hinted processes, then list them. */
		for (enum reread mode = REREAD_PROBE; mode <= REREAD_NEW && s->npending; mode++) {
			for (size_t i = 0; i < s->npending; i++) {
				const struct sock_entry *e = &s->entries[s->pending[i]];
				uint64_t keys[2] = {listen_key(e->netns, e->protocol, e->local_port),
						    remote_hint_key(e)};
				for (size_t k = 0; k < 2; k++) {
					uint64_t pid;
					struct proc_ent *p;
					if (sockhash_get(&s->hints, keys[k], &pid) &&
					    (p = proc_get(s, (int32_t)pid)))
						proc_refresh(s, ctx, p, mode);
				}
			}
			pending_settle(s);
		}
	}
	if (s->npending) {
		/* 2. Vanished slots anywhere, then processes whose number of
		 *    open fds changed. */
		refresh_all(s, ctx, REREAD_PROBE);
		pending_settle(s);
	}
	if (s->npending) {
		refresh_all(s, ctx, REREAD_NEW);
		pending_settle(s);
	}
	if (s->npending && s->seq - s->last_slow_pass >= SLOW_PASS_EVERY) {
		/* 3. An fd number that held a file or a unix socket before may
		 *    hold the new socket now: re-read those, not too often. */
		s->last_slow_pass = s->seq;
		refresh_all(s, ctx, REREAD_NON_INET);
		pending_settle(s);
		for (size_t i = 0; i < s->npending; i++)
			cache_put(s, &s->orphans, s->entries[s->pending[i]].inode, s->seq);
	}
	for (size_t i = 0; i < s->n; i++) {
		struct sock_entry *e = &s->entries[i];
		if (e->inode && !e->pid)
			s->sample.owners_missing++;
		if (e->pid) {
			struct proc_ent *p = proc_get(s, e->pid);
			if (p)
				proc_load_info(s, ctx, p);
		}
	}
	return 0;
}

/* ------------------------------------------------------------ public */

int collect_sock_scanner_new(struct sock_scanner **out, const struct collect_ctx *ctx,
		     const struct sock_scanner_opts *opts)
{
	struct sock_scanner *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (opts)
		s->opts = *opts;
	if (!s->opts.full_rescan_every)
		s->opts.full_rescan_every = DEFAULT_FULL_RESCAN;
	str_copy(s->root, strcmp(ctx->root, "/") ? ctx->root : "", sizeof(s->root));
	s->live = ctx->live;
	s->procfd = -1;
	s->ephemeral_lo = 32768;
	s->nlbuf = malloc(NL_BUF_SIZE);
	if (!s->nlbuf) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void collect_sock_scanner_free(struct sock_scanner *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->procs.cap; i++) {
		if (!s->procs.keys[i])
			continue;
		struct proc_ent *p = (struct proc_ent *)(uintptr_t)s->procs.vals[i];
		free(p->slots);
		free(p->name);
		free(p->identity);
		free(p->container_id);
		free(p);
	}
	for (size_t i = 0; i < s->nns; i++)
		if (s->ns[i].nl)
			nl_close(s->ns[i].nl);
	if (s->procfd >= 0)
		close(s->procfd);
	sockhash_free(&s->procs);
	sockhash_free(&s->owners);
	sockhash_free(&s->orphans);
	sockhash_free(&s->cur);
	sockhash_free(&s->tuples);
	sockhash_free(&s->listen);
	sockhash_free(&s->hints);
	sockhash_free(&s->ns_idx);
	free(s->ns);
	free(s->entries);
	free(s->prev_inodes);
	free(s->own_addrs);
	free(s->if_addrs);
	free(s->pending);
	free(s->fdbuf);
	free(s->nlbuf);
	free(s->pnbuf);
	free(s);
}

const struct sock_proc *collect_sock_scanner_proc(const struct sock_scanner *s, int32_t pid)
{
	uint64_t v;
	if (!s || pid <= 0 || !sockhash_get(&s->procs, (uint64_t)pid, &v))
		return NULL;
	const struct proc_ent *p = (const struct proc_ent *)(uintptr_t)v;
	return p->info_loaded ? &p->pub : NULL;
}

static void read_ephemeral_range(struct sock_scanner *s)
{
	int fd = openat(s->procfd, "sys/net/ipv4/ip_local_port_range", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	unsigned lo, hi;
	if (sscanf(buf, "%u %u", &lo, &hi) == 2 && lo > 0 && lo <= 65535)
		s->ephemeral_lo = (uint16_t)lo;
}

static int sample_sockets(struct sock_scanner *s, struct collect_ctx *ctx)
{
	if (!s->live) {
		struct netns_ent fixture = {.ino = 0, .is_own = true, .nl_failed = true};
		return dump_netns(s, ctx, &fixture);
	}
	int rc = netns_update(s);
	if (rc)
		return rc;
	bool any = false;
	for (size_t i = 0; i < s->nns; i++) {
		struct netns_ent *ns = &s->ns[i];
		s->sample.netns_seen++;
		rc = dump_netns(s, ctx, ns);
		if (rc == -ENOMEM)
			return rc;
		if (!rc)
			any = true;
	}
	return any ? 0 : -ENOENT;
}

int collect_sock_scanner_sample(struct sock_scanner *s, struct collect_ctx *ctx, int64_t now_ms,
			const struct sock_sample **out)
{
	uint64_t t0 = time_mono_us();
	struct collect_stat *st = &ctx->stats[COLLECT_SOCK];
	*out = NULL;
	st->runs++;
	if (s->procfd < 0) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/proc", s->root);
		s->procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->procfd < 0) {
			int rc = -errno;
			collect_error(ctx, COLLECT_SOCK, "%s: %s (is --root right?)", path, strerror(-rc));
			return rc;
		}
		s->own_netns = s->live ? read_netns(s, 0) : 0;
		struct stat pst;
		/* the initial PID namespace has a fixed inode (PROC_PID_INIT_INO) */
		s->own_pidns = s->live && fstatat(s->procfd, "self/ns/pid", &pst, 0) == 0 &&
			       pst.st_ino != 0xEFFFFFFCu;
		read_ephemeral_range(s);
	}
	s->seq++;
	memset(&s->sample, 0, sizeof(s->sample));
	s->sample.scanner = s;
	s->sample.seq = s->seq;
	s->sample.taken_ms = now_ms;
	s->n = 0;

	int rc = scan_pids(s);
	if (rc) {
		collect_error(ctx, COLLECT_SOCK, "%s/proc: %s", s->root, strerror(-rc));
		return rc;
	}
	rc = sample_sockets(s, ctx);
	if (rc)
		return rc;

	sockhash_clear(&s->cur);
	for (size_t i = 0; i < s->n; i++)
		if (s->entries[i].inode && sockhash_put(&s->cur, s->entries[i].inode, i + 1))
			return -ENOMEM;
	forget_vanished(s);
	bool full = s->seq == 1 || (s->seq - 1) % s->opts.full_rescan_every == 0;
	s->sample.full_rescan = full;
	s->cache_nomem = 0;
	rc = resolve_owners(s, ctx, full);
	if (!rc)
		rc = classify(s);
	if (rc)
		return rc;
	if (s->cache_nomem)
		collect_error(ctx, COLLECT_SOCK,
			      "out of memory: %u socket owner cache entries not kept; some owners "
			      "may stay unknown until a later sample",
			      s->cache_nomem);

	if (array_grow((void **)&s->prev_inodes, &s->capprev, s->n + 1, sizeof(*s->prev_inodes)))
		return -ENOMEM;
	s->nprev = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->entries[i].inode)
			s->prev_inodes[s->nprev++] = s->entries[i].inode;

	s->sample.n = s->n;
	s->sample.entries = s->entries;
	st->items += s->n;
	st->last_duration_us = time_mono_us() - t0;
	*out = &s->sample;
	return 0;
}

/* ------------------------------------------------------------ queries for event capture */

bool collect_sock_scanner_has_netns(const struct sock_scanner *s, uint64_t netns)
{
	if (!s || !s->own_pidns || !netns)
		return true;
	return netns == s->own_netns || sockhash_get(&s->ns_idx, netns, NULL);
}

bool collect_sock_scanner_is_local(const struct sock_scanner *s, const struct sock_addr *a)
{
	if (sock_addr_is_loopback(a))
		return true;
	return s && own_addr(s, a);
}

int32_t collect_sock_scanner_listener(const struct sock_scanner *s, uint64_t netns,
				      uint8_t protocol, uint16_t port)
{
	uint64_t v;
	if (!s || !s->n ||
	    !sockhash_get(&s->listen, listen_key(netns, protocol, port), &v) || v > s->n)
		return 0;
	return s->entries[v - 1].pid;
}

bool collect_sock_scanner_is_server_port(const struct sock_scanner *s, uint64_t netns,
					 uint8_t protocol, uint16_t local_port, uint16_t remote_port)
{
	if (s && s->n &&
	    sockhash_get(&s->listen, listen_key(netns, protocol, local_port), NULL))
		return true;
	uint16_t lo = s ? s->ephemeral_lo : 32768;
	return local_port < lo && remote_port >= lo;
}
