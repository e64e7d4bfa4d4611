/* Socket collector: /proc/net parsing, a fixture host, and live sockets opened
 * by child processes on loopback. */
#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collect_sock.h"
#include "commands.h"
#include "sock_parse.h"
#include "sockhash.h"
#include "util.h"
#include "window.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must be defined"
#endif

/* ------------------------------------------------------------ parsing */

struct collected {
	struct sock_entry e[16];
	size_t n;
};

static void collect_cb(void *arg, const struct sock_entry *e)
{
	struct collected *c = arg;
	if (c->n < 16)
		c->e[c->n++] = *e;
}

Test(sock_parse, ipv4_line_and_header)
{
	const char text[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 0100007F:1F90 0200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 20 4 30 10 -1\n";
	struct collected c = {0};
	uint32_t bad = 0;
	cr_assert_eq(sock_parse_proc_net(text, sizeof(text) - 1, IPPROTO_TCP, collect_cb, &c, &bad), 1);
	cr_assert_eq(bad, 0);
	char a[64];
	cr_assert_str_eq(sock_addr_str(&c.e[0].local, a, sizeof(a)), "127.0.0.1");
	cr_assert_str_eq(sock_addr_str(&c.e[0].remote, a, sizeof(a)), "127.0.0.2");
	cr_assert_eq(c.e[0].local_port, 8080);
	cr_assert_eq(c.e[0].remote_port, 54321);
	cr_assert_eq(c.e[0].state, 1);
	cr_assert_eq(c.e[0].inode, 4242);
	cr_assert_eq(c.e[0].protocol, IPPROTO_TCP);
}

Test(sock_parse, ipv6_and_v4_mapped)
{
	const char text[] =
		"  sl  local_address rem_address st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode\n"
		"   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 77 1\n"
		"   1: 0000000000000000FFFF00000100007F:0050 0000000000000000FFFF00000200007F:C000 01 00000000:00000000 00:00000000 00000000 0 0 78 1\n";
	struct collected c = {0};
	uint32_t bad = 0;
	cr_assert_eq(sock_parse_proc_net(text, sizeof(text) - 1, IPPROTO_TCP, collect_cb, &c, &bad), 2);
	char a[64];
	cr_assert_str_eq(sock_addr_str(&c.e[0].local, a, sizeof(a)), "::1");
	cr_assert_eq(c.e[0].local.family, AF_INET6);
	cr_assert_str_eq(sock_addr_str(&c.e[1].local, a, sizeof(a)), "127.0.0.1");
	cr_assert_eq(c.e[1].local.family, AF_INET);
	cr_assert_str_eq(sock_addr_str(&c.e[1].remote, a, sizeof(a)), "127.0.0.2");
}

Test(sock_parse, malformed_lines_are_counted_and_skipped)
{
	const char text[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 0100007F:1F90 0200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 1 1\n"
		"garbage\n"
		"   2: 0100007F:1F9 0200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 2 1\n"
		"   3: 0100007F:1F90 0200007F:D431 XX 00000000:00000000 00:00000000 00000000  1000        0 3 1\n"
		"   4: 0100007F:1F90 0200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4x 1\n"
		"   5: 0100007F:1F90 0200007F:D431 01 00000000:00000000\n"
		"   5: 0100007F:1F90 0200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 99999999999999999999 1\n"
		"\n"
		"   6: 0100007F:1F90 0200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 6 1\n"
		"   7: 0100007F:1F90 0200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 7";
	struct collected c = {0};
	uint32_t bad = 0;
	cr_assert_eq(sock_parse_proc_net(text, sizeof(text) - 1, IPPROTO_TCP, collect_cb, &c, &bad), 2);
	cr_assert_eq(bad, 7, "bad = %u", bad);
	cr_assert_eq(c.e[0].inode, 1);
	cr_assert_eq(c.e[1].inode, 6);
}

Test(sock_parse, empty_and_binary_input)
{
	uint32_t bad = 0;
	struct collected c = {0};
	cr_assert_eq(sock_parse_proc_net("", 0, IPPROTO_UDP, collect_cb, &c, &bad), 0);
	const char bin[] = "\x00\xff\xfe:\n\x01\x02 0100007F:0035\n";
	cr_assert_eq(sock_parse_proc_net(bin, sizeof(bin) - 1, IPPROTO_UDP, collect_cb, &c, &bad), 0);
	cr_assert_eq(bad, 2);
}

/* ------------------------------------------------------------ sockhash */

Test(sockhash, matches_a_reference_under_random_puts_and_deletes)
{
	/* Few distinct keys and many deletes: long probe runs that wrap around
	 * the end of the table, where backward-shift deletion goes wrong. */
	enum { NKEYS = 3000, OPS = 200000 };
	static uint64_t ref[NKEYS + 1];
	static bool present[NKEYS + 1];
	struct sockhash h = SOCKHASH_INIT;
	uint64_t x = 0x2545f4914f6cdd1dULL;
	size_t count = 0;
	for (int op = 0; op < OPS; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t key = 1 + x % NKEYS;
		/* Same low bits for many keys: collisions after the mixer too. */
		uint64_t hkey = key << 40 | 1;
		if ((x >> 32) % 3) {
			cr_assert_eq(sockhash_put(&h, hkey, x), 0);
			count += !present[key];
			present[key] = true;
			ref[key] = x;
		} else {
			cr_assert_eq(sockhash_del(&h, hkey), present[key], "op %d key %llu", op,
				     (unsigned long long)key);
			count -= present[key];
			present[key] = false;
		}
		cr_assert_eq(h.n, count, "op %d", op);
	}
	for (uint64_t key = 1; key <= NKEYS; key++) {
		uint64_t v = 0;
		cr_assert_eq(sockhash_get(&h, key << 40 | 1, &v), present[key], "key %llu",
			     (unsigned long long)key);
		if (present[key])
			cr_assert_eq(v, ref[key]);
	}
	size_t seen = 0;
	for (size_t i = 0; i < h.cap; i++)
		seen += h.keys[i] != 0;
	cr_assert_eq(seen, count);
	cr_assert_eq(sockhash_put(&h, 0, 1), -EINVAL, "key 0 is the empty marker");
	cr_assert_eq(h.n, count);
	sockhash_clear(&h);
	cr_assert_eq(h.n, 0);
	cr_assert_not(sockhash_get(&h, 2ULL << 40 | 1, NULL));
	sockhash_free(&h);
	cr_assert_neq(sockhash_bytes("a", 1, 0), sockhash_bytes("b", 1, 0));
	cr_assert_neq(sockhash_probe_key(77, 1), 77);
	cr_assert_eq(sockhash_probe_key(77, 0), 77);
}

/* The slot key lands in when alone in a fresh 64-slot table. */
static size_t home_slot(uint64_t key)
{
	struct sockhash h = SOCKHASH_INIT;
	cr_assert_eq(sockhash_put(&h, key, 1), 0);
	cr_assert_eq(h.cap, 64);
	size_t slot = 0;
	while (h.keys[slot] != key)
		slot++;
	sockhash_free(&h);
	return slot;
}

Test(sockhash, delete_keeps_a_run_that_wraps_around_the_end)
{
	/* a lives at 62; x and b both belong at 63, so b wraps to slot 0.
	 * Deleting a must leave b where it is: moving it to 62, before its
	 * home, would lose it. */
	uint64_t a = 0, x = 0, b = 0;
	for (uint64_t k = 1; k < 100000 && (!a || !x || !b); k++) {
		size_t home = home_slot(k);
		if (home == 62 && !a)
			a = k;
		else if (home == 63 && !x)
			x = k;
		else if (home == 63 && !b)
			b = k;
	}
	cr_assert(a && x && b);
	struct sockhash h = SOCKHASH_INIT;
	cr_assert_eq(sockhash_put(&h, a, 10), 0);
	cr_assert_eq(sockhash_put(&h, x, 20), 0);
	cr_assert_eq(sockhash_put(&h, b, 30), 0);
	cr_assert_eq(h.keys[0], b, "b wrapped to slot 0");
	cr_assert(sockhash_del(&h, a));
	uint64_t v = 0;
	cr_assert(sockhash_get(&h, x, &v));
	cr_assert_eq(v, 20);
	cr_assert(sockhash_get(&h, b, &v), "key of a wrapped run lost after a delete");
	cr_assert_eq(v, 30);
	cr_assert_not(sockhash_get(&h, a, NULL));
	cr_assert_eq(h.n, 2);
	sockhash_free(&h);
}

/* ------------------------------------------------------------ fixture host */

static const struct sock_entry *by_inode(const struct sock_sample *s, uint64_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->entries[i].inode == ino)
			return &s->entries[i];
	return NULL;
}

Test(sock_fixture, host1_owners_and_directions)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/net/host1");
	struct sock_scanner *s;
	const struct sock_sample *smp;
	cr_assert_eq(collect_sock_scanner_new(&s, &ctx, NULL), 0);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 1000, &smp), 0);
	/* 7 tcp (TIME_WAIT dropped), 2 tcp6, 2 udp; 3 malformed tcp lines. */
	cr_assert_eq(smp->n, 11, "n = %zu", smp->n);
	cr_assert_eq(ctx.stats[COLLECT_SOCK].errors, 3, "errors = %llu",
		     (unsigned long long)ctx.stats[COLLECT_SOCK].errors);
	struct {
		uint64_t ino;
		int32_t pid;
		uint8_t dir;
	} want[] = {
		{1001, 100, SOCK_DIR_LISTEN},   {1002, 100, SOCK_DIR_INBOUND},
		{1003, 200, SOCK_DIR_OUTBOUND}, {1004, 200, SOCK_DIR_OUTBOUND},
		{1005, 300, SOCK_DIR_LISTEN},   {1006, 200, SOCK_DIR_LOCAL},
		{1007, 300, SOCK_DIR_LOCAL},    {1010, 400, SOCK_DIR_LISTEN},
		{1011, 400, SOCK_DIR_INBOUND},  {1020, 500, SOCK_DIR_LISTEN},
		{1021, 200, SOCK_DIR_UNKNOWN},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct sock_entry *e = by_inode(smp, want[i].ino);
		cr_assert_not_null(e, "inode %llu missing", (unsigned long long)want[i].ino);
		cr_expect_eq(e->pid, want[i].pid, "inode %llu: pid %d", (unsigned long long)want[i].ino, e->pid);
		cr_expect_eq(e->dir, want[i].dir, "inode %llu: dir %u", (unsigned long long)want[i].ino, e->dir);
	}
	const struct sock_entry *client = by_inode(smp, 1006), *server = by_inode(smp, 1007);
	cr_assert(client->peer_found && !client->is_server);
	cr_assert_eq(client->peer_pid, 300);
	cr_assert(server->peer_found && server->is_server);
	char a[64];
	cr_assert_str_eq(sock_addr_str(&by_inode(smp, 1011)->remote, a, sizeof(a)), "10.0.0.9");
	const struct sock_proc *p = collect_sock_scanner_proc(s, 300);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->name, "redis-server");
	cr_assert_eq(smp->owners_missing, 0);
	collect_sock_scanner_free(s);
}

static const Cairn__Edge *find_edge(const Cairn__ConnectionWindow *cw, Cairn__Direction dir,
				    const char *name, uint32_t port)
{
	for (size_t i = 0; i < cw->n_edges; i++) {
		const Cairn__Edge *e = cw->edges[i];
		uint32_t p = dir == CAIRN__DIRECTION__INBOUND ? e->local_port : e->remote_port;
		if (e->direction == dir && !strcmp(e->process_name, name) && p == port)
			return e;
	}
	return NULL;
}

Test(sock_fixture, one_shot_collect_builds_edges_and_listeners)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/net/host1");
	Cairn__ConnectionWindow *cw;
	Cairn__ListenerSet *ls;
	cr_assert_eq(cmd_collect_sock(&ctx, 5000, 0, 1000, NULL, &cw, &ls), 0);
	cr_assert_eq(cw->samples, 1);
	cr_assert_eq(cw->n_edges, 4, "edges = %zu", cw->n_edges);
	const Cairn__Edge *e = find_edge(cw, CAIRN__DIRECTION__OUTBOUND, "app", 5432);
	cr_assert_not_null(e);
	cr_assert_str_eq(e->remote_address, "10.0.0.7");
	cr_assert_eq(e->max_concurrent, 2);
	cr_assert_eq(e->local_port, 0);
	cr_assert_eq(e->pid, 200);
	e = find_edge(cw, CAIRN__DIRECTION__INBOUND, "nginx", 80);
	cr_assert_not_null(e);
	cr_assert_str_eq(e->remote_address, "10.0.0.9");
	cr_assert_eq(e->remote_port, 0);
	e = find_edge(cw, CAIRN__DIRECTION__INBOUND, "sshd", 22);
	cr_assert_not_null(e);
	cr_assert_str_eq(e->remote_address, "10.0.0.9");
	e = find_edge(cw, CAIRN__DIRECTION__LOCAL, "app", 6379);
	cr_assert_not_null(e);
	cr_assert_eq(e->peer_pid, 300);
	cr_assert_str_eq(e->peer_process_name, "redis-server");
	cr_assert_eq(ls->n_listeners, 4);
	cr_assert_eq(ls->listeners[0]->protocol, CAIRN__PROTOCOL__TCP);
	int udp53 = 0;
	for (size_t i = 0; i < ls->n_listeners; i++)
		if (ls->listeners[i]->protocol == CAIRN__PROTOCOL__UDP && ls->listeners[i]->port == 53 &&
		    !strcmp(ls->listeners[i]->process_name, "dnsmasq"))
			udp53 = 1;
	cr_assert(udp53);
	cairn__connection_window__free_unpacked(cw, NULL);
	cairn__listener_set__free_unpacked(ls, NULL);
}

Test(sock_fixture, missing_root_is_an_error)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/net/does-not-exist");
	Cairn__ConnectionWindow *cw;
	Cairn__ListenerSet *ls;
	cr_assert_lt(cmd_collect_sock(&ctx, 5000, 0, 1000, NULL, &cw, &ls), 0);
	cr_assert_null(cw);
	cr_assert_gt(ctx.stats[COLLECT_SOCK].errors, 0);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(text, 1, len, f), len);
	fclose(f);
}

Test(sock_fixture, large_table_read_in_pieces)
{
	/* A /proc/net/tcp far larger than the collector's read buffer, with an
	 * over-long line and a cut-off last line: every good line is found
	 * once, wherever the buffer boundaries fall. */
	char root[] = "/tmp/cairn-test-procnet-XXXXXX";
	cr_assert_not_null(mkdtemp(root));
	char path[128];
	snprintf(path, sizeof(path), "%s/proc", root);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/proc/net", root);
	cr_assert_eq(mkdir(path, 0700), 0);
	enum { NLINES = 5000 };
	size_t cap = 200 * (NLINES + 10) + 300000, len = 0;
	char *text = malloc(cap);
	len += (size_t)snprintf(text + len, cap - len,
				"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
				"retrnsmt   uid  timeout inode\n");
	for (int i = 0; i < NLINES; i++) {
		if (i == NLINES / 2) {
			/* 200 KB without a newline in the middle of the table. */
			memset(text + len, 'x', 200000);
			len += 200000;
			text[len++] = '\n';
		}
		len += (size_t)snprintf(text + len, cap - len,
					"%4d: 0500000A:%04X 0700000A:1538 01 00000000:00000000 "
					"00:00000000 00000000  1000        0 %d 1 0 20 4 30 10 -1\n",
					i, 10000 + i, 100000 + i);
	}
	len += (size_t)snprintf(text + len, cap - len, "9999: 0500000A:0001 0700000A:1538 01 000");
	snprintf(path, sizeof(path), "%s/proc/net/tcp", root);
	write_file(path, text, len);
	free(text);

	struct collect_ctx ctx;
	collect_ctx_init(&ctx, root);
	struct sock_scanner *s;
	const struct sock_sample *smp;
	cr_assert_eq(collect_sock_scanner_new(&s, &ctx, NULL), 0);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 1000, &smp), 0);
	cr_assert_eq(smp->n, NLINES, "n = %zu", smp->n);
	for (size_t i = 0; i < smp->n; i++)
		cr_assert_eq(smp->entries[i].inode, 100000 + i, "entry %zu: inode %llu", i,
			     (unsigned long long)smp->entries[i].inode);
	cr_assert_eq(ctx.stats[COLLECT_SOCK].errors, 2, "errors = %llu",
		     (unsigned long long)ctx.stats[COLLECT_SOCK].errors);
	collect_sock_scanner_free(s);
	snprintf(path, sizeof(path), "%s/proc/net/tcp", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/proc/net", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/proc", root);
	rmdir(path);
	rmdir(root);
}

/* ------------------------------------------------------------ live sockets */

/* A child that runs fn(arg, ready_fd) and then waits to be killed. */
struct child {
	pid_t pid;
	int ctl;                /* parent's end: read ready bytes, write commands */
};

typedef void (*child_fn)(int ctl, void *arg);

static struct child spawn(child_fn fn, void *arg)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Dies with the test even when an assertion ends it early. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		fn(sv[1], arg);
		for (;;)
			pause();
	}
	close(sv[1]);
	return (struct child){pid, sv[0]};
}

static void stop(struct child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	close(c->ctl);
}

static void send_u32(int fd, uint32_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(3);
}

static uint32_t recv_u32(int fd)
{
	uint32_t v = 0;
	ssize_t n = read(fd, &v, sizeof(v));
	cr_assert_eq(n, (ssize_t)sizeof(v), "child did not answer");
	return v;
}

struct listen_arg {
	int family;
	int type;
	uint16_t port;          /* 0: any */
};

/* Listens (or binds, for UDP), reports the port, accepts forever. */
static void listener_child(int ctl, void *arg)
{
	struct listen_arg *a = arg;
	int fd = socket(a->family, a->type, 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(a->port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(a->port);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
		send_u32(ctl, 0);
		_exit(1);
	}
	if (a->type == SOCK_STREAM && listen(fd, 1024) < 0)
		_exit(1);
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	uint16_t port = a->family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
					     : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	send_u32(ctl, port);
	if (a->type != SOCK_STREAM)
		return;
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c < 0 && errno != EINTR)
			_exit(2);
	}
}

struct connect_arg {
	int family;
	uint16_t port;
};

static int connect_to(int family, uint16_t port)
{
	int fd = socket(family, SOCK_STREAM, 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
		return -1;
	return fd;
}

/* Connects, reports its local port; on each command byte 1 closes the
 * connection and opens a new one (reporting the new port). */
static void client_child(int ctl, void *arg)
{
	struct connect_arg *a = arg;
	int fd = connect_to(a->family, a->port);
	for (;;) {
		if (fd < 0) {
			send_u32(ctl, 0);
			_exit(1);
		}
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		uint16_t port = a->family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
						     : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		send_u32(ctl, port);
		uint32_t cmd;
		if (read(ctl, &cmd, sizeof(cmd)) != sizeof(cmd))
			_exit(0);
		/* Connect before closing: the new socket gets a new fd number
		 * and the old number becomes free. */
		int nfd = connect_to(a->family, a->port);
		close(fd);
		fd = nfd;
	}
}

static const struct sock_entry *find_sock(const struct sock_sample *s, uint8_t proto, int family,
					  uint16_t lport, uint16_t rport, uint8_t dir)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct sock_entry *e = &s->entries[i];
		if (e->protocol == proto && e->local.family == family && e->local_port == lport &&
		    e->remote_port == rport && e->dir == dir)
			return e;
	}
	return NULL;
}

static void live_tcp(int family)
{
	struct listen_arg la = {family, SOCK_STREAM, 0};
	struct child srv = spawn(listener_child, &la);
	uint16_t port = (uint16_t)recv_u32(srv.ctl);
	cr_assert_neq(port, 0, "listener could not bind");
	struct connect_arg ca = {family, port};
	struct child cli = spawn(client_child, &ca);
	uint16_t cport = (uint16_t)recv_u32(cli.ctl);
	cr_assert_neq(cport, 0, "client could not connect");

	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	struct sock_scanner *s;
	const struct sock_sample *smp;
	cr_assert_eq(collect_sock_scanner_new(&s, &ctx, NULL), 0);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 1000, &smp), 0);

	const struct sock_entry *l = find_sock(smp, IPPROTO_TCP, family, port, 0, SOCK_DIR_LISTEN);
	cr_assert_not_null(l, "listener on port %u not found", port);
	cr_assert_eq(l->pid, srv.pid);
	const struct sock_entry *c = find_sock(smp, IPPROTO_TCP, family, cport, port, SOCK_DIR_LOCAL);
	cr_assert_not_null(c, "client socket not found");
	cr_assert_eq(c->pid, cli.pid);
	cr_assert(!c->is_server && c->peer_found);
	cr_assert_eq(c->peer_pid, srv.pid);
	cr_assert(c->has_bytes, "netlink gives tcp_info byte counters");
	const struct sock_entry *a = find_sock(smp, IPPROTO_TCP, family, port, cport, SOCK_DIR_LOCAL);
	cr_assert_not_null(a, "accepted socket not found");
	cr_assert_eq(a->pid, srv.pid);
	cr_assert(a->is_server);
	cr_assert_gt(smp->netns_netlink, 0);
	const struct sock_proc *p = collect_sock_scanner_proc(s, cli.pid);
	cr_assert_not_null(p);
	cr_assert_gt(p->start_time, 0);
	/* The children are forks of this test: same comm. */
	char comm[64] = "";
	FILE *f = fopen("/proc/self/comm", "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	cr_assert_str_eq(p->name, comm);
	cr_assert_str_eq(collect_sock_scanner_proc(s, srv.pid)->name, comm);

	/* Warm sample: our sockets did not change, so (other programs on the
	 * machine aside) no fd link is read again. */
	uint32_t cold_links = smp->fd_links_read;
	cr_assert_gt(cold_links, 2);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 2000, &smp), 0);
	/* the slack is for other programs opening sockets meanwhile (a busy
	 * test machine); tests/bench/run-sock-bench measures the real ratio */
	cr_assert_leq(smp->fd_links_read, cold_links / 4 + 16, "warm sample read %u of %u links",
		      smp->fd_links_read, cold_links);
	c = find_sock(smp, IPPROTO_TCP, family, cport, port, SOCK_DIR_LOCAL);
	cr_assert_not_null(c);
	cr_assert_eq(c->pid, cli.pid);

	/* Churn: the client reconnects; the new sockets are found with few reads. */
	send_u32(cli.ctl, 1);
	uint16_t cport2 = (uint16_t)recv_u32(cli.ctl);
	cr_assert_neq(cport2, 0);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 3000, &smp), 0);
	c = find_sock(smp, IPPROTO_TCP, family, cport2, port, SOCK_DIR_LOCAL);
	cr_assert_not_null(c, "new client socket not found");
	cr_assert_eq(c->pid, cli.pid);
	a = find_sock(smp, IPPROTO_TCP, family, port, cport2, SOCK_DIR_LOCAL);
	cr_assert_not_null(a);
	cr_assert_eq(a->pid, srv.pid);
	cr_assert_null(find_sock(smp, IPPROTO_TCP, family, cport, port, SOCK_DIR_LOCAL),
		       "old connection still reported");
	cr_assert_lt(smp->fd_links_read, cold_links / 2, "churn read %u of %u links", smp->fd_links_read,
		     cold_links);

	collect_sock_scanner_free(s);
	stop(&cli);
	stop(&srv);
}

Test(sock_live, tcp_ipv4_loopback, .timeout = 60)
{
	live_tcp(AF_INET);
}

Test(sock_live, tcp_ipv6_loopback, .timeout = 60)
{
	int probe = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	if (probe < 0 || bind(probe, (struct sockaddr *)&in6, sizeof(in6)) < 0) {
		if (probe >= 0)
			close(probe);
		cr_skip_test("no IPv6 loopback here");
	}
	close(probe);
	live_tcp(AF_INET6);
}

/* Waits for a command, then listens on a loopback port moved to fd 700, far
 * above its other fds (where probing the numbers above the top does not
 * reach), and reports the port. */
static void late_high_fd_listener_child(int ctl, void *arg)
{
	(void)arg;
	send_u32(ctl, 1);
	uint32_t cmd;
	if (read(ctl, &cmd, sizeof(cmd)) != sizeof(cmd))
		_exit(0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(in);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, len) < 0 || listen(fd, 16) < 0 ||
	    dup2(fd, 700) != 700) {
		send_u32(ctl, 0);
		_exit(1);
	}
	close(fd);
	getsockname(700, (struct sockaddr *)&in, &len);
	send_u32(ctl, ntohs(in.sin_port));
}

Test(sock_live, warm_sample_lists_a_process_whose_fd_count_changed, .timeout = 60)
{
	/* Between two samples (no full rescan, no slow pass), a known process
	 * opens a socket that no hint points to, at an fd number probing does
	 * not reach: only listing the processes whose number of open fds
	 * changed finds it in the very next sample. */
	struct child c = spawn(late_high_fd_listener_child, NULL);
	cr_assert_eq(recv_u32(c.ctl), 1);
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	struct sock_scanner_opts opts = {.full_rescan_every = 1000};
	struct sock_scanner *s;
	const struct sock_sample *smp;
	cr_assert_eq(collect_sock_scanner_new(&s, &ctx, &opts), 0);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 1000, &smp), 0);
	cr_assert(smp->full_rescan);
	send_u32(c.ctl, 1);
	uint16_t port = (uint16_t)recv_u32(c.ctl);
	cr_assert_neq(port, 0);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 2000, &smp), 0);
	cr_assert_not(smp->full_rescan);
	const struct sock_entry *l = NULL;
	for (size_t i = 0; i < smp->n; i++)
		if (smp->entries[i].dir == SOCK_DIR_LISTEN && smp->entries[i].local_port == port &&
		    smp->entries[i].protocol == IPPROTO_TCP)
			l = &smp->entries[i];
	cr_assert_not_null(l, "listener on %u not in the sample", port);
	cr_assert_eq(l->pid, c.pid, "listener on %u: owner %d, want %d", port, l->pid, (int)c.pid);
	collect_sock_scanner_free(s);
	stop(&c);
}

Test(sock_live, udp_listener_below_ephemeral_range, .timeout = 60)
{
	struct child srv = {0};
	uint16_t port = 0;
	/* A fixed port below 32768; try a few in case one is taken. */
	for (uint16_t p = 23456; p < 23470 && !port; p++) {
		struct listen_arg la = {AF_INET, SOCK_DGRAM, p};
		srv = spawn(listener_child, &la);
		port = (uint16_t)recv_u32(srv.ctl);
		if (!port)
			stop(&srv);
	}
	cr_assert_neq(port, 0);
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	Cairn__ConnectionWindow *cw;
	Cairn__ListenerSet *ls;
	cr_assert_eq(cmd_collect_sock(&ctx, 1000, 0, 1000, NULL, &cw, &ls), 0);
	bool found = false;
	for (size_t i = 0; i < ls->n_listeners; i++) {
		const Cairn__Listener *l = ls->listeners[i];
		if (l->protocol == CAIRN__PROTOCOL__UDP && l->port == port) {
			cr_assert_eq(l->pid, (uint32_t)srv.pid);
			cr_assert_str_eq(l->address, "127.0.0.1");
			found = true;
		}
	}
	cr_assert(found, "UDP listener on %u not reported", port);
	cairn__connection_window__free_unpacked(cw, NULL);
	cairn__listener_set__free_unpacked(ls, NULL);
	stop(&srv);
}

Test(sock_live, procfs_fallback_finds_the_same_sockets, .timeout = 60)
{
	struct listen_arg la = {AF_INET, SOCK_STREAM, 0};
	struct child srv = spawn(listener_child, &la);
	uint16_t port = (uint16_t)recv_u32(srv.ctl);
	cr_assert_neq(port, 0);
	struct connect_arg ca = {AF_INET, port};
	struct child cli = spawn(client_child, &ca);
	uint16_t cport = (uint16_t)recv_u32(cli.ctl);

	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	struct sock_scanner_opts opts = {.no_netlink = true};
	struct sock_scanner *s;
	const struct sock_sample *smp;
	cr_assert_eq(collect_sock_scanner_new(&s, &ctx, &opts), 0);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 1000, &smp), 0);
	cr_assert_eq(smp->netns_netlink, 0);
	cr_assert_gt(smp->netns_procfs, 0);
	const struct sock_entry *c = find_sock(smp, IPPROTO_TCP, AF_INET, cport, port, SOCK_DIR_LOCAL);
	cr_assert_not_null(c);
	cr_assert_eq(c->pid, cli.pid);
	cr_assert_eq(c->peer_pid, srv.pid);
	cr_assert(!c->has_bytes);
	collect_sock_scanner_free(s);
	stop(&cli);
	stop(&srv);
}

/* ------------------------------------------------------------ namespaces */

/* In a new network namespace: loopback up, a listener and a connection to
 * it, all in this one process. Reports the port, or 0 when namespaces are
 * not allowed here. */
static void netns_child(int ctl, void *arg)
{
	(void)arg;
	if (unshare(CLONE_NEWNET) < 0) {
		send_u32(ctl, 0);
		return;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	str_copy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		send_u32(ctl, 0);
		return;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		send_u32(ctl, 0);
		return;
	}
	close(fd);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(in);
	if (l < 0 || bind(l, (struct sockaddr *)&in, sizeof(in)) || listen(l, 8) ||
	    getsockname(l, (struct sockaddr *)&in, &len)) {
		send_u32(ctl, 0);
		return;
	}
	uint16_t port = ntohs(in.sin_port);
	int c = connect_to(AF_INET, port);
	int a = accept(l, NULL, NULL);
	if (c < 0 || a < 0) {
		send_u32(ctl, 0);
		return;
	}
	send_u32(ctl, port);
}

static void live_netns(bool no_netlink)
{
	struct child ch = spawn(netns_child, NULL);
	uint16_t port = (uint16_t)recv_u32(ch.ctl);
	if (!port) {
		stop(&ch);
		cr_skip_test("cannot create a network namespace here");
	}
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	struct sock_scanner_opts opts = {.no_netlink = no_netlink};
	struct sock_scanner *s;
	const struct sock_sample *smp;
	cr_assert_eq(collect_sock_scanner_new(&s, &ctx, &opts), 0);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 1000, &smp), 0);
	cr_assert_geq(smp->netns_seen, 2);
	const struct sock_entry *l = NULL;
	int conns = 0;
	for (size_t i = 0; i < smp->n; i++) {
		const struct sock_entry *e = &smp->entries[i];
		if (e->pid != ch.pid)
			continue;
		if (e->dir == SOCK_DIR_LISTEN && e->local_port == port)
			l = e;
		if (e->dir == SOCK_DIR_LOCAL && (e->local_port == port || e->remote_port == port)) {
			conns++;
			cr_assert(e->peer_found);
			cr_assert_eq(e->peer_pid, ch.pid);
		}
	}
	cr_assert_not_null(l, "listener in the child's namespace not found");
	cr_assert_neq(l->netns, 0);
	const struct sock_proc *p = collect_sock_scanner_proc(s, ch.pid);
	cr_assert_not_null(p);
	cr_assert_eq(l->netns, p->netns);
	cr_assert_eq(conns, 2, "both ends of the connection: %d", conns);
	/* The namespace is entered once: a second sample opens nothing new. */
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 2000, &smp), 0);
	cr_assert_geq(smp->netns_seen, 2);
	cr_assert_eq(smp->netns_failed, 0);
	collect_sock_scanner_free(s);
	stop(&ch);
}

Test(sock_live, other_namespace_via_setns, .timeout = 60)
{
	live_netns(false);
}

Test(sock_live, other_namespace_via_proc_pid_net, .timeout = 60)
{
	live_netns(true);
}

/* ------------------------------------------------------------ owner cache on a changing tree */

struct tree {
	char root[64];
};

static void tree_init(struct tree *t)
{
	snprintf(t->root, sizeof(t->root), "/tmp/cairn-sock-test-%d", (int)getpid());
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s && cp -a %s/net/host1/proc %s/", t->root,
		 t->root, FIXTURE_DIR, t->root);
	cr_assert_eq(system(cmd), 0);
}

static void tree_free(struct tree *t)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->root);
	cr_assert_eq(system(cmd), 0);
}

/* Points <root>/proc/PID/fd/FD at target ("socket:[N]" or a path); NULL removes it. */
static void tree_fd(struct tree *t, int pid, int fd, const char *target)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/proc/%d/fd/%d", t->root, pid, fd);
	unlink(path);
	if (target)
		cr_assert_eq(symlink(target, path), 0, "%s", path);
}

/* Rewrites proc/net/tcp with established 10.0.0.5:lport -> 10.0.0.7:5432 sockets. */
static void tree_tcp(struct tree *t, const uint64_t *inodes, const uint16_t *lports, size_t n)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/proc/net/tcp", t->root);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
	fprintf(f, "   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1001 1\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %2zu: 0500000A:%04X 0700000A:1538 01 00000000:00000000 00:00000000 00000000 0 0 %llu 1\n",
			i + 1, lports[i], (unsigned long long)inodes[i]);
	fclose(f);
}

static int32_t owner_of(const struct sock_sample *s, uint64_t ino)
{
	const struct sock_entry *e = by_inode(s, ino);
	cr_assert_not_null(e, "inode %llu not in the sample", (unsigned long long)ino);
	return e->pid;
}

Test(sock_cache, owners_follow_churn_without_rereading_everything)
{
	struct tree t;
	tree_init(&t);
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, t.root);
	struct sock_scanner_opts opts = {.full_rescan_every = 1000};
	struct sock_scanner *s;
	const struct sock_sample *smp;
	cr_assert_eq(collect_sock_scanner_new(&s, &ctx, &opts), 0);

	uint64_t ino[3] = {1003, 1004, 1006};
	uint16_t lp[3] = {43210, 43211, 40000};
	tree_tcp(&t, ino, lp, 3);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 1000, &smp), 0);
	cr_assert_eq(owner_of(smp, 1003), 200);
	cr_assert_eq(owner_of(smp, 1001), 100);
	uint32_t cold_links = smp->fd_links_read;

	/* Warm: nothing read. */
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 2000, &smp), 0);
	cr_assert_eq(smp->fd_links_read, 0);
	cr_assert_eq(smp->fd_dirs_read, 0);

	/* 1. app (200) closes 1004 on fd 4 and opens 1050 there, to the same
	 *    remote endpoint: found by probing that one slot. */
	tree_fd(&t, 200, 4, "socket:[1050]");
	ino[1] = 1050;
	lp[1] = 43300;
	tree_tcp(&t, ino, lp, 3);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 3000, &smp), 0);
	cr_assert_eq(owner_of(smp, 1050), 200);
	cr_assert_eq(smp->fd_dirs_read, 0, "probe, no listing");
	cr_assert_leq(smp->fd_links_read, 3);
	cr_assert_null(by_inode(smp, 1004));

	/* 2. the same socket given to another process (fd passing): owner
	 *    updated at the next full rescan only, but a brand-new socket in a
	 *    process with no hint is found by listing. */
	tree_fd(&t, 400, 9, "socket:[1060]");
	uint64_t ino2[4] = {1003, 1050, 1006, 1060};
	uint16_t lp2[4] = {43210, 43300, 40000, 50000};
	tree_tcp(&t, ino2, lp2, 4);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 4000, &smp), 0);
	cr_assert_eq(owner_of(smp, 1060), 400);
	cr_assert_lt(smp->fd_links_read, cold_links);

	/* 3. pid reuse: 300 exits and a new process gets pid 300 with
	 *    another start time and name; its new socket names it right. */
	char path[400];
	snprintf(path, sizeof(path), "%s/proc/300/stat", t.root);
	FILE *f = fopen(path, "w");
	fprintf(f, "300 (worker) S 1 300 300 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 99999 1000000 200 "
		   "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/proc/300/comm", t.root);
	f = fopen(path, "w");
	fprintf(f, "worker\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/proc/300/cmdline", t.root);
	f = fopen(path, "w");
	fprintf(f, "/usr/bin/worker");
	fputc(0, f);
	fclose(f);
	tree_fd(&t, 300, 3, NULL);
	tree_fd(&t, 300, 4, "socket:[1070]");
	tree_fd(&t, 300, 5, NULL);
	uint64_t ino3[2] = {1003, 1070};
	uint16_t lp3[2] = {43210, 43400};
	tree_tcp(&t, ino3, lp3, 2);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 5000, &smp), 0);
	cr_assert_eq(owner_of(smp, 1070), 300);
	const struct sock_proc *p = collect_sock_scanner_proc(s, 300);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->name, "worker");
	cr_assert_eq(p->start_time, 99999);

	/* 4. a slot that held a file now holds a socket, fd count unchanged:
	 *    found by the slow pass within a few samples. */
	tree_fd(&t, 500, 0, "socket:[1080]");
	uint64_t ino4[3] = {1003, 1070, 1080};
	uint16_t lp4[3] = {43210, 43400, 43500};
	tree_tcp(&t, ino4, lp4, 3);
	int32_t found = 0;
	for (int i = 0; i < 5 && !found; i++) {
		cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 6000 + i, &smp), 0);
		found = owner_of(smp, 1080);
	}
	cr_assert_eq(found, 500);

	/* 5. a process that vanished takes its sockets' owners with it. */
	snprintf(path, sizeof(path), "rm -rf %s/proc/200", t.root);
	cr_assert_eq(system(path), 0);
	cr_assert_eq(collect_sock_scanner_sample(s, &ctx, 7000, &smp), 0);
	cr_assert_eq(owner_of(smp, 1003), 0);
	cr_assert_null(collect_sock_scanner_proc(s, 200));
	cr_assert_eq(owner_of(smp, 1080), 500);

	collect_sock_scanner_free(s);
	tree_free(&t);
}
