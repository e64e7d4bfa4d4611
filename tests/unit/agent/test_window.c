/* Window aggregation: ephemeral port collapse, LOCAL orientation, counts, bytes. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "window.h"

static struct sock_entry sock(uint8_t dir, int32_t pid, const char *laddr, uint16_t lport,
			      const char *raddr, uint16_t rport)
{
	struct sock_entry e;
	memset(&e, 0, sizeof(e));
	e.protocol = IPPROTO_TCP;
	e.state = 1;
	e.dir = dir;
	e.pid = pid;
	e.netns = 4026531992ULL;
	e.local.family = e.remote.family = AF_INET;
	inet_pton(AF_INET, laddr, e.local.bytes);
	inet_pton(AF_INET, raddr, e.remote.bytes);
	e.local_port = lport;
	e.remote_port = rport;
	/* Unique per socket, like the kernel's inode numbers. */
	static uint64_t next_inode = 1000;
	e.inode = next_inode++;
	return e;
}

static struct sock_sample sample(struct sock_entry *e, size_t n, int64_t ms)
{
	struct sock_sample s;
	memset(&s, 0, sizeof(s));
	s.entries = e;
	s.n = n;
	s.taken_ms = ms;
	return s;
}

static const Cairn__Edge *edge(const Cairn__ConnectionWindow *cw, Cairn__Direction dir, uint32_t pid,
			       const char *raddr)
{
	for (size_t i = 0; i < cw->n_edges; i++)
		if (cw->edges[i]->direction == dir && cw->edges[i]->pid == pid &&
		    !strcmp(cw->edges[i]->remote_address, raddr))
			return cw->edges[i];
	return NULL;
}

Test(window, outbound_ephemeral_ports_collapse)
{
	struct window *w;
	cr_assert_eq(window_new(&w, 0), 0);
	struct sock_entry a[] = {
		sock(SOCK_DIR_OUTBOUND, 10, "10.0.0.5", 40001, "10.1.1.1", 5432),
		sock(SOCK_DIR_OUTBOUND, 10, "10.0.0.5", 40002, "10.1.1.1", 5432),
		sock(SOCK_DIR_OUTBOUND, 10, "10.0.0.5", 40003, "10.1.1.1", 5432),
		sock(SOCK_DIR_OUTBOUND, 10, "10.0.0.5", 40004, "10.1.1.1", 6379),
		sock(SOCK_DIR_OUTBOUND, 11, "10.0.0.5", 40005, "10.1.1.1", 5432),
	};
	struct sock_sample s1 = sample(a, 5, 1000);
	cr_assert_eq(window_add_sample(w, &s1), 0);
	struct sock_sample s2 = sample(a, 1, 2000);
	cr_assert_eq(window_add_sample(w, &s2), 0);
	cr_assert_eq(window_edge_count(w), 3);
	Cairn__ConnectionWindow *cw;
	cr_assert_eq(window_close(w, 3000, &cw, NULL), 0);
	cr_assert_eq(cw->samples, 2);
	cr_assert_eq(cw->window_start_ms, 0);
	cr_assert_eq(cw->window_end_ms, 3000);
	cr_assert_eq(cw->n_edges, 3);
	const Cairn__Edge *e = NULL;
	for (size_t i = 0; i < cw->n_edges; i++)
		if (cw->edges[i]->pid == 10 && cw->edges[i]->remote_port == 5432)
			e = cw->edges[i];
	cr_assert_not_null(e);
	cr_assert_eq(e->direction, CAIRN__DIRECTION__OUTBOUND);
	cr_assert_eq(e->protocol, CAIRN__PROTOCOL__TCP);
	cr_assert_eq(e->samples_seen, 2);
	cr_assert_eq(e->max_concurrent, 3);
	cr_assert_eq(e->first_seen_ms, 1000);
	cr_assert_eq(e->last_seen_ms, 2000);
	cr_assert_eq(e->local_port, 0);
	cr_assert_str_eq(e->remote_address, "10.1.1.1");
	cairn__connection_window__free_unpacked(cw, NULL);

	/* The next window starts empty at the previous end. */
	cr_assert_eq(window_edge_count(w), 0);
	cr_assert_eq(window_close(w, 4000, &cw, NULL), 0);
	cr_assert_eq(cw->window_start_ms, 3000);
	cr_assert_eq(cw->n_edges, 0);
	cr_assert_eq(cw->samples, 0);
	cairn__connection_window__free_unpacked(cw, NULL);
	window_free(w);
}

Test(window, inbound_key_is_listen_port_and_remote_ip)
{
	struct window *w;
	cr_assert_eq(window_new(&w, 0), 0);
	struct sock_entry a[] = {
		sock(SOCK_DIR_INBOUND, 20, "10.0.0.5", 80, "10.0.0.9", 51000),
		sock(SOCK_DIR_INBOUND, 20, "10.0.0.5", 80, "10.0.0.9", 51001),
		sock(SOCK_DIR_INBOUND, 20, "10.0.0.5", 80, "10.0.0.8", 51000),
		sock(SOCK_DIR_INBOUND, 20, "10.0.0.5", 443, "10.0.0.9", 51002),
		sock(SOCK_DIR_UNKNOWN, 20, "0.0.0.0", 45000, "0.0.0.0", 0),
	};
	struct sock_sample s1 = sample(a, 5, 1000);
	cr_assert_eq(window_add_sample(w, &s1), 0);
	Cairn__ConnectionWindow *cw;
	cr_assert_eq(window_close(w, 2000, &cw, NULL), 0);
	cr_assert_eq(cw->n_edges, 3);
	int n80from9 = 0;
	for (size_t i = 0; i < cw->n_edges; i++) {
		const Cairn__Edge *e = cw->edges[i];
		cr_assert_eq(e->remote_port, 0);
		if (e->local_port == 80 && !strcmp(e->remote_address, "10.0.0.9")) {
			n80from9++;
			cr_assert_eq(e->max_concurrent, 2);
		}
	}
	cr_assert_eq(n80from9, 1);
	cairn__connection_window__free_unpacked(cw, NULL);
	window_free(w);
}

Test(window, local_connection_counted_once_from_client)
{
	struct window *w;
	cr_assert_eq(window_new(&w, 0), 0);
	struct sock_entry a[] = {
		sock(SOCK_DIR_LOCAL, 30, "127.0.0.1", 40000, "127.0.0.1", 6379),
		sock(SOCK_DIR_LOCAL, 31, "127.0.0.1", 6379, "127.0.0.1", 40000),
		/* server end whose client was not seen (other namespace) */
		sock(SOCK_DIR_LOCAL, 31, "127.0.0.1", 6379, "127.0.0.1", 40001),
	};
	a[0].peer_found = true;
	a[0].peer_pid = 31;
	a[1].peer_found = true;
	a[1].peer_pid = 30;
	a[1].is_server = true;
	a[2].is_server = true;
	struct sock_sample s1 = sample(a, 3, 1000);
	cr_assert_eq(window_add_sample(w, &s1), 0);
	Cairn__ConnectionWindow *cw;
	cr_assert_eq(window_close(w, 2000, &cw, NULL), 0);
	cr_assert_eq(cw->n_edges, 2);
	const Cairn__Edge *e = edge(cw, CAIRN__DIRECTION__LOCAL, 30, "127.0.0.1");
	cr_assert_not_null(e);
	cr_assert_eq(e->peer_pid, 31);
	cr_assert_eq(e->remote_port, 6379);
	cr_assert_eq(e->max_concurrent, 1);
	e = edge(cw, CAIRN__DIRECTION__LOCAL, 0, "127.0.0.1");
	cr_assert_not_null(e, "server-only end gives an edge with an unknown client");
	cr_assert_eq(e->peer_pid, 31);
	cr_assert_eq(e->remote_port, 6379);
	cairn__connection_window__free_unpacked(cw, NULL);
	window_free(w);
}

Test(window, bytes_are_counter_growth_across_windows)
{
	struct window *w;
	cr_assert_eq(window_new(&w, 0), 0);
	struct sock_entry a = sock(SOCK_DIR_OUTBOUND, 40, "10.0.0.5", 40000, "10.1.1.1", 443);
	a.has_bytes = true;
	a.cookie = 1;
	a.bytes_acked = 1000;
	a.bytes_received = 5000;
	struct sock_sample s = sample(&a, 1, 1000);
	cr_assert_eq(window_add_sample(w, &s), 0); /* baseline only */
	struct sock_entry b[2] = {a, sock(SOCK_DIR_OUTBOUND, 40, "10.0.0.5", 40001, "10.1.1.1", 443)};
	b[0].bytes_acked = 1500;
	b[0].bytes_received = 5100;
	b[1].has_bytes = true;
	b[1].cookie = 2;
	b[1].bytes_acked = 30;
	b[1].bytes_received = 70;
	s = sample(b, 2, 2000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	Cairn__ConnectionWindow *cw;
	cr_assert_eq(window_close(w, 2500, &cw, NULL), 0);
	cr_assert_eq(cw->n_edges, 1);
	cr_assert_eq(cw->edges[0]->bytes_sent, 500 + 30);
	cr_assert_eq(cw->edges[0]->bytes_received, 100 + 70);
	cairn__connection_window__free_unpacked(cw, NULL);

	/* Next window: growth since the last sample of the previous one. The
	 * socket with cookie 2 closed; a counter that went backwards (new
	 * socket reusing an id) counts nothing rather than wrapping. */
	b[0].bytes_acked = 1600;
	b[0].bytes_received = 5100;
	s = sample(b, 1, 3000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	b[0].bytes_acked = 10;
	s = sample(b, 1, 4000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	cr_assert_eq(window_close(w, 4500, &cw, NULL), 0);
	cr_assert_eq(cw->edges[0]->bytes_sent, 100);
	cr_assert_eq(cw->edges[0]->bytes_received, 0);
	cr_assert_eq(cw->edges[0]->samples_seen, 2);
	cairn__connection_window__free_unpacked(cw, NULL);
	window_free(w);
}

Test(window, listeners_are_the_union_over_the_window)
{
	struct window *w;
	cr_assert_eq(window_new(&w, 0), 0);
	struct sock_entry l1 = sock(SOCK_DIR_LISTEN, 50, "0.0.0.0", 80, "0.0.0.0", 0);
	struct sock_entry l2 = sock(SOCK_DIR_LISTEN, 51, "127.0.0.1", 8080, "0.0.0.0", 0);
	l2.protocol = IPPROTO_UDP;
	struct sock_sample s = sample(&l1, 1, 1000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	cr_assert_eq(window_add_sample(w, &s), 0);
	s = sample(&l2, 1, 2000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	Cairn__ListenerSet *ls;
	cr_assert_eq(window_close(w, 3000, NULL, &ls), 0);
	cr_assert_eq(ls->taken_ms, 3000);
	cr_assert_eq(ls->n_listeners, 2);
	cr_assert_eq(ls->listeners[0]->protocol, CAIRN__PROTOCOL__TCP);
	cr_assert_eq(ls->listeners[0]->port, 80);
	cr_assert_str_eq(ls->listeners[0]->address, "0.0.0.0");
	cr_assert_eq(ls->listeners[0]->pid, 50);
	cr_assert_eq(ls->listeners[1]->protocol, CAIRN__PROTOCOL__UDP);
	cr_assert_str_eq(ls->listeners[1]->address, "127.0.0.1");
	cairn__listener_set__free_unpacked(ls, NULL);
	window_free(w);
}

Test(window, steady_socket_follows_owner_changes_and_window_ends)
{
	struct window *w;
	cr_assert_eq(window_new(&w, 0), 0);
	struct sock_entry a = sock(SOCK_DIR_OUTBOUND, 60, "10.0.0.5", 40000, "10.1.1.1", 443);
	struct sock_sample s = sample(&a, 1, 1000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	cr_assert_eq(window_add_sample(w, &s), 0);
	/* The same socket now owned by another process (passed over a unix socket). */
	a.pid = 61;
	s = sample(&a, 1, 2000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	Cairn__ConnectionWindow *cw;
	cr_assert_eq(window_close(w, 2500, &cw, NULL), 0);
	cr_assert_eq(cw->n_edges, 2);
	const Cairn__Edge *e60 = edge(cw, CAIRN__DIRECTION__OUTBOUND, 60, "10.1.1.1");
	const Cairn__Edge *e61 = edge(cw, CAIRN__DIRECTION__OUTBOUND, 61, "10.1.1.1");
	cr_assert(e60 && e61);
	cr_assert_eq(e60->samples_seen, 2);
	cr_assert_eq(e61->samples_seen, 1);
	cairn__connection_window__free_unpacked(cw, NULL);

	/* Next window: the socket's remembered edge belonged to the old one. */
	s = sample(&a, 1, 3000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	cr_assert_eq(window_close(w, 3500, &cw, NULL), 0);
	cr_assert_eq(cw->n_edges, 1);
	cr_assert_eq(cw->edges[0]->pid, 61);
	cr_assert_eq(cw->edges[0]->samples_seen, 1);
	cr_assert_eq(cw->edges[0]->first_seen_ms, 3000);
	cairn__connection_window__free_unpacked(cw, NULL);
	window_free(w);
}

Test(window, sample_without_counters_keeps_the_last_ones)
{
	/* A namespace whose netlink socket failed falls back to /proc/net for
	 * one sample (no tcp_info): the socket's counters must not restart
	 * from zero and be counted twice when they come back. */
	struct window *w;
	cr_assert_eq(window_new(&w, 0), 0);
	struct sock_entry a = sock(SOCK_DIR_OUTBOUND, 70, "10.0.0.5", 40000, "10.1.1.1", 443);
	a.has_bytes = true;
	a.bytes_acked = 1000000;
	a.bytes_received = 2000000;
	struct sock_sample s = sample(&a, 1, 1000);
	cr_assert_eq(window_add_sample(w, &s), 0); /* baseline */
	struct sock_entry b = a;
	b.has_bytes = false;
	b.bytes_acked = b.bytes_received = 0;
	s = sample(&b, 1, 2000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	a.bytes_acked += 10;
	a.bytes_received += 20;
	s = sample(&a, 1, 3000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	Cairn__ConnectionWindow *cw;
	cr_assert_eq(window_close(w, 3500, &cw, NULL), 0);
	cr_assert_eq(cw->n_edges, 1);
	cr_assert_eq(cw->edges[0]->bytes_sent, 10);
	cr_assert_eq(cw->edges[0]->bytes_received, 20);
	cr_assert_eq(cw->edges[0]->samples_seen, 3);
	cairn__connection_window__free_unpacked(cw, NULL);
	window_free(w);
}

Test(window, counters_stay_with_their_socket_when_others_close)
{
	/* Sockets closing between samples are dropped from the middle of the
	 * tracking table; the survivors must keep their own counters. */
	struct window *w;
	cr_assert_eq(window_new(&w, 0), 0);
	struct sock_entry a[6];
	for (int i = 0; i < 6; i++) {
		a[i] = sock(SOCK_DIR_OUTBOUND, 80, "10.0.0.5", (uint16_t)(41000 + i), "10.1.1.1", 443);
		a[i].has_bytes = true;
		a[i].cookie = 500 + (uint64_t)i;
		a[i].bytes_acked = 1000u * (uint64_t)(i + 1);
		a[i].bytes_received = 7;
	}
	struct sock_sample s = sample(a, 6, 1000);
	cr_assert_eq(window_add_sample(w, &s), 0); /* baseline */
	/* 0, 2, 4 stay (+10 each); 1, 3, 5 close. */
	struct sock_entry b[3] = {a[0], a[2], a[4]};
	for (int i = 0; i < 3; i++)
		b[i].bytes_acked += 10;
	s = sample(b, 3, 2000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	/* Two new sockets (taking the freed table slots first), then the
	 * survivors reordered, +1 each: still matched by cookie. */
	struct sock_entry c[5] = {
		sock(SOCK_DIR_OUTBOUND, 80, "10.0.0.5", 42000, "10.1.1.1", 443),
		sock(SOCK_DIR_OUTBOUND, 80, "10.0.0.5", 42001, "10.1.1.1", 443),
		b[2], b[0], b[1],
	};
	c[0].has_bytes = c[1].has_bytes = true;
	c[0].cookie = 600;
	c[1].cookie = 601;
	for (int i = 2; i < 5; i++)
		c[i].bytes_acked += 1;
	s = sample(c, 5, 3000);
	cr_assert_eq(window_add_sample(w, &s), 0);
	Cairn__ConnectionWindow *cw;
	cr_assert_eq(window_close(w, 3500, &cw, NULL), 0);
	cr_assert_eq(cw->n_edges, 1);
	cr_assert_eq(cw->edges[0]->bytes_sent, 3 * 10 + 3 * 1);
	cr_assert_eq(cw->edges[0]->bytes_received, 0);
	cr_assert_eq(cw->edges[0]->max_concurrent, 6);
	cairn__connection_window__free_unpacked(cw, NULL);
	window_free(w);
}

Test(window, bytes_unknown_when_no_socket_had_counters)
{
	/* Kernels before 4.1 (RHEL 7) have no tcp_info byte counters: an edge
	 * seen only through such sockets says its bytes are unknown, while an
	 * edge with counters (even 0 bytes moved) says they are known. */
	struct window *w;
	cr_assert_eq(window_new(&w, 0), 0);
	struct sock_entry e[2] = {
		sock(SOCK_DIR_OUTBOUND, 70, "10.0.0.5", 40000, "10.1.1.1", 443),
		sock(SOCK_DIR_OUTBOUND, 71, "10.0.0.5", 40001, "10.1.1.2", 5432),
	};
	e[1].has_bytes = true;
	for (int64_t t = 1000; t <= 3000; t += 1000) {
		struct sock_sample s = sample(e, 2, t);
		cr_assert_eq(window_add_sample(w, &s), 0);
	}
	Cairn__ConnectionWindow *cw;
	cr_assert_eq(window_close(w, 3500, &cw, NULL), 0);
	cr_assert_eq(cw->n_edges, 2);
	for (size_t i = 0; i < cw->n_edges; i++) {
		const Cairn__Edge *x = cw->edges[i];
		bool counted = x->remote_port == 5432;
		cr_assert_eq(x->bytes_unknown, !counted, "edge to port %u", x->remote_port);
		cr_assert_eq(x->bytes_sent, 0);
	}
	cairn__connection_window__free_unpacked(cw, NULL);
	window_free(w);
}
