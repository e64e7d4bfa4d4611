/* Report-window aggregation: see window.h. */
#include "window.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sock_parse.h"
#include "sockhash.h"
#include "util.h"

struct edge {
	char *key;              /* canonical key text, for exact matching */
	uint8_t dir, protocol;
	int32_t pid, peer_pid;
	char *name, *identity, *container_id;
	char *peer_name, *peer_identity;
	char local_addr[48], remote_addr[48];
	uint16_t local_port, remote_port;
	uint64_t netns;
	uint32_t samples_seen, max_concurrent, cur;
	uint64_t cur_seq;
	int64_t first_ms, last_ms;
	uint64_t bytes_sent, bytes_received;
	/* From event capture (window_add_flows). */
	uint64_t opened, closed, short_lived, duration_total_us, duration_max_us;
	uint64_t datagrams_sent, datagrams_received;
	bool bytes_known;       /* some socket of the edge had tcp_info counters */
};

struct listener {
	char *key;
	uint8_t protocol;
	char addr[48];
	uint16_t port;
	int32_t pid;
	char *name, *identity, *container_id;
	uint64_t netns;
};

/* Per-socket byte counters between samples. */
/* Per socket across samples (and windows): byte counters, and which edge of
 * the open window it fed, so that a steady socket skips building its key. */
struct sock_bytes {
	uint64_t id;            /* cookie, or inode when the kernel gave no cookie */
	uint64_t acked, received;
	uint64_t seen;          /* window's sample counter when last seen */
	uint64_t edge_gen;      /* w->gen when edge was set */
	uint64_t edge_sig;      /* what the key depends on besides the tuple */
	uint32_t edge;          /* index + 1 into w->edges, 0 = none */
	bool closed;            /* its close event counted everything: samples add nothing */
	uint64_t added_acked, added_received; /* what samples put into edges, ever */
};

struct window {
	int64_t start_ms;
	uint64_t gen;           /* windows closed so far */
	uint32_t samples;       /* in the open window */
	uint64_t total_samples; /* ever, for the byte baseline */
	struct edge *edges;
	size_t nedges, capedges;
	struct sockhash edge_idx;   /* key hash (probed) -> index + 1 */
	struct listener *ls;
	size_t nls, capls;
	struct sockhash ls_idx;
	struct sockhash bytes_idx;  /* socket id -> index + 1 into bytes */
	struct sock_bytes *bytes;
	size_t nbytes, capbytes;
	/* Server ends of event flows whose client end carried them (this window
	 * and the previous one): later takes skip them too. */
	struct sockhash paired, paired_prev;
	uint32_t short_lived_ms;
};

int window_new(struct window **out, int64_t start_ms)
{
	struct window *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->start_ms = start_ms;
	*out = w;
	return 0;
}

static void edges_clear(struct window *w)
{
	for (size_t i = 0; i < w->nedges; i++) {
		struct edge *e = &w->edges[i];
		free(e->key);
		free(e->name);
		free(e->identity);
		free(e->container_id);
		free(e->peer_name);
		free(e->peer_identity);
	}
	w->nedges = 0;
	sockhash_clear(&w->edge_idx);
	for (size_t i = 0; i < w->nls; i++) {
		free(w->ls[i].key);
		free(w->ls[i].name);
		free(w->ls[i].identity);
		free(w->ls[i].container_id);
	}
	w->nls = 0;
	sockhash_clear(&w->ls_idx);
}

void window_free(struct window *w)
{
	if (!w)
		return;
	edges_clear(w);
	free(w->edges);
	free(w->ls);
	free(w->bytes);
	sockhash_free(&w->edge_idx);
	sockhash_free(&w->ls_idx);
	sockhash_free(&w->bytes_idx);
	sockhash_free(&w->paired);
	sockhash_free(&w->paired_prev);
	free(w);
}

size_t window_edge_count(const struct window *w)
{
	return w->nedges;
}

/* "process" part of a key: identity within its namespace, or the pid. */
static void proc_key(char *out, size_t n, const struct sock_proc *p, int32_t pid, uint64_t netns)
{
	if (p && p->identity[0])
		snprintf(out, n, "%s@%llu", p->identity, (unsigned long long)netns);
	else
		snprintf(out, n, "pid:%d", (int)pid);
}

/* Finds key in an index over items of stride elem whose first member is the
 * key text; returns the index or -1 and in *slot_key the key to insert under. */
static long find_key(const struct sockhash *idx, const void *items, size_t elem, const char *key,
		     uint64_t *slot_key)
{
	uint64_t h = sockhash_bytes(key, strlen(key), 7), v;
	for (unsigned k = 0;; k++) {
		uint64_t probe = sockhash_probe_key(h, k);
		if (!sockhash_get(idx, probe, &v)) {
			*slot_key = probe;
			return -1;
		}
		const char *have = *(char *const *)((const char *)items + (v - 1) * elem);
		if (strcmp(have, key) == 0)
			return (long)(v - 1);
	}
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static int add_listener(struct window *w, const struct sock_sample *s, const struct sock_entry *e)
{
	char addr[48], key[160];
	sock_addr_str(&e->local, addr, sizeof(addr));
	snprintf(key, sizeof(key), "%u|%s|%u|%d|%llu", e->protocol, addr, e->local_port, (int)e->pid,
		 (unsigned long long)e->netns);
	uint64_t slot = 0;
	if (find_key(&w->ls_idx, w->ls, sizeof(*w->ls), key, &slot) >= 0)
		return 0;
	if (array_grow((void **)&w->ls, &w->capls, w->nls + 1, sizeof(*w->ls)))
		return -ENOMEM;
	const struct sock_proc *p = collect_sock_scanner_proc(s->scanner, e->pid);
	struct listener *l = &w->ls[w->nls];
	memset(l, 0, sizeof(*l));
	l->key = strdup(key);
	l->protocol = e->protocol;
	str_copy(l->addr, addr, sizeof(l->addr));
	l->port = e->local_port;
	l->pid = e->pid;
	l->netns = e->netns;
	l->name = dup_or_empty(p ? p->name : NULL);
	l->identity = dup_or_empty(p ? p->identity : NULL);
	l->container_id = dup_or_empty(p ? p->container_id : NULL);
	if (!l->key || !l->name || !l->identity || !l->container_id ||
	    sockhash_put(&w->ls_idx, slot, w->nls + 1)) {
		free(l->key);
		free(l->name);
		free(l->identity);
		free(l->container_id);
		return -ENOMEM;
	}
	w->nls++;
	return 0;
}

/* Bytes this socket moved since the window last saw it; *track (may stay
 * -1) is its tracking record's index. */
static int socket_bytes(struct window *w, const struct sock_entry *e, uint64_t *sent, uint64_t *recv,
			long *track)
{
	*sent = *recv = 0;
	*track = -1;
	uint64_t id = e->cookie ? e->cookie : e->inode;
	if (!id)
		return 0;
	uint64_t v;
	if (sockhash_get(&w->bytes_idx, id, &v)) {
		struct sock_bytes *b = &w->bytes[v - 1];
		/* A sample without counters (its namespace fell back to
		 * /proc/net) keeps the last known ones: resetting them to 0
		 * would count the socket's whole history again later. */
		if (e->has_bytes && !b->closed) {
			*sent = e->bytes_acked >= b->acked ? e->bytes_acked - b->acked : 0;
			*recv = e->bytes_received >= b->received ? e->bytes_received - b->received : 0;
			b->acked = e->bytes_acked;
			b->received = e->bytes_received;
		}
		b->seen = w->total_samples;
		*track = (long)(v - 1);
		return 0;
	}
	/* New since the last sample: everything it carried is new traffic,
	 * unless this is the first sample (then it is the baseline). */
	if (e->has_bytes && w->total_samples > 1) {
		*sent = e->bytes_acked;
		*recv = e->bytes_received;
	}
	if (array_grow((void **)&w->bytes, &w->capbytes, w->nbytes + 1, sizeof(*w->bytes)))
		return -ENOMEM;
	w->bytes[w->nbytes] = (struct sock_bytes){.id = id, .acked = e->bytes_acked,
						  .received = e->bytes_received,
						  .seen = w->total_samples};
	if (sockhash_put(&w->bytes_idx, id, w->nbytes + 1))
		return -ENOMEM;
	*track = (long)w->nbytes++;
	return 0;
}

/* Sockets in neither this sample nor the one before are gone: drop their
 * counters. One sample of grace, because a socket leaves the samples before
 * its close event arrives (closed by its program, it is dropped while the
 * kernel still finishes the shutdown), and that event must still find what
 * the samples counted. Swap-remove, touching the index only for what moves:
 * with churn, rebuilding the whole index every sample cost as much as the
 * steady sockets themselves. */
static int bytes_prune(struct window *w)
{
	for (size_t i = 0; i < w->nbytes;) {
		if (w->bytes[i].seen + 1 >= w->total_samples) {
			i++;
			continue;
		}
		sockhash_del(&w->bytes_idx, w->bytes[i].id);
		if (i != --w->nbytes) {
			w->bytes[i] = w->bytes[w->nbytes];
			if (sockhash_put(&w->bytes_idx, w->bytes[i].id, i + 1))
				return -ENOMEM;
		}
	}
	return 0;
}

/* What names an edge: its direction and, for LOCAL, client and server. */
struct edge_in {
	uint8_t dir, protocol;
	const struct sock_proc *self;   /* LOCAL: the client */
	int32_t pid;
	const struct sock_proc *peer;   /* LOCAL: the server */
	int32_t peer_pid;
	uint64_t netns;
	const struct sock_addr *local, *remote; /* LOCAL: client's, server's */
	uint16_t local_port, remote_port;       /* INBOUND: local; OUTBOUND, LOCAL: remote */
	int64_t when_ms;
};

static int edge_name(struct edge *ed, const struct edge_in *in);

/* Finds or creates the edge and lets the most recent process name it.
 * *idx_out is its index. NULL on ENOMEM. */
static struct edge *edge_get(struct window *w, const struct edge_in *in, long *idx_out)
{
	char pk[300], peerk[300], ra[48], key[800];
	sock_addr_str(in->remote, ra, sizeof(ra));
	proc_key(pk, sizeof(pk), in->self, in->pid, in->netns);
	switch (in->dir) {
	case SOCK_DIR_OUTBOUND:
		snprintf(key, sizeof(key), "O|%u|%s|%s|%u", in->protocol, pk, ra, in->remote_port);
		break;
	case SOCK_DIR_INBOUND:
		snprintf(key, sizeof(key), "I|%u|%s|%u|%s", in->protocol, pk, in->local_port, ra);
		break;
	default:
		proc_key(peerk, sizeof(peerk), in->peer, in->peer_pid, in->netns);
		snprintf(key, sizeof(key), "L|%u|%s|%s|%u", in->protocol, pk, peerk, in->remote_port);
		break;
	}
	struct edge *ed;
	uint64_t slot = 0;
	long idx = find_key(&w->edge_idx, w->edges, sizeof(*w->edges), key, &slot);
	if (idx < 0) {
		if (array_grow((void **)&w->edges, &w->capedges, w->nedges + 1, sizeof(*w->edges)))
			return NULL;
		ed = &w->edges[w->nedges];
		memset(ed, 0, sizeof(*ed));
		ed->key = strdup(key);
		if (!ed->key || sockhash_put(&w->edge_idx, slot, w->nedges + 1)) {
			free(ed->key);
			return NULL;
		}
		w->nedges++;
		ed->dir = in->dir;
		ed->protocol = in->protocol;
		ed->netns = in->netns;
		ed->first_ms = in->when_ms;
		ed->last_ms = in->when_ms;
		sock_addr_str(in->local, ed->local_addr, sizeof(ed->local_addr));
		str_copy(ed->remote_addr, ra, sizeof(ed->remote_addr));
		if (in->dir == SOCK_DIR_INBOUND)
			ed->local_port = in->local_port;
		else
			ed->remote_port = in->remote_port;
		idx = (long)w->nedges - 1;
	} else {
		ed = &w->edges[idx];
	}
	*idx_out = idx;
	return edge_name(ed, in) ? NULL : ed;
}

/* The most recent process of the key names the edge. */
static int edge_name(struct edge *ed, const struct edge_in *in)
{
	if (!ed->name || ed->pid != in->pid) {
		free(ed->name);
		free(ed->identity);
		free(ed->container_id);
		ed->pid = in->pid;
		ed->name = dup_or_empty(in->self ? in->self->name : NULL);
		ed->identity = dup_or_empty(in->self ? in->self->identity : NULL);
		ed->container_id = dup_or_empty(in->self ? in->self->container_id : NULL);
		if (!ed->name || !ed->identity || !ed->container_id)
			return -ENOMEM;
	}
	if (in->dir == SOCK_DIR_LOCAL && (!ed->peer_name || ed->peer_pid != in->peer_pid)) {
		free(ed->peer_name);
		free(ed->peer_identity);
		ed->peer_pid = in->peer_pid;
		ed->peer_name = dup_or_empty(in->peer ? in->peer->name : NULL);
		ed->peer_identity = dup_or_empty(in->peer ? in->peer->identity : NULL);
		if (!ed->peer_name || !ed->peer_identity)
			return -ENOMEM;
	}
	return 0;
}

static int add_edge(struct window *w, const struct sock_sample *s, const struct sock_entry *e)
{
	const struct sock_proc *self = collect_sock_scanner_proc(s->scanner, e->pid);
	const struct sock_proc *peer = e->peer_found ? collect_sock_scanner_proc(s->scanner, e->peer_pid) : NULL;
	uint64_t sent, recv;
	long track;
	int rc = socket_bytes(w, e, &sent, &recv, &track);
	if (rc)
		return rc;
	if (e->dir != SOCK_DIR_OUTBOUND && e->dir != SOCK_DIR_INBOUND && e->dir != SOCK_DIR_LOCAL)
		return 0;

	/* Orient LOCAL connections client -> server. */
	struct edge_in in = { .dir = e->dir, .protocol = e->protocol, .self = self, .pid = e->pid,
			      .peer = peer, .peer_pid = e->peer_pid, .netns = e->netns,
			      .local = &e->local, .remote = &e->remote,
			      .local_port = e->dir == SOCK_DIR_INBOUND ? e->local_port : 0,
			      .remote_port = e->dir == SOCK_DIR_INBOUND ? 0 : e->remote_port,
			      .when_ms = s->taken_ms };
	uint64_t own_sent = sent, own_recv = recv;
	if (e->dir == SOCK_DIR_LOCAL && e->is_server) {
		if (e->peer_found)
			return 0; /* the client end carries this connection */
		in.self = NULL;
		in.pid = 0;
		in.peer = self;
		in.peer_pid = e->pid;
		in.local = &e->remote;
		in.remote = &e->local;
		in.remote_port = e->local_port;
		uint64_t t = sent;
		sent = recv;
		recv = t;
	}

	/* A socket that fed an edge of this window before, with the same
	 * owner and orientation, feeds the same edge: no key to build. */
	uint64_t sig = (uint64_t)e->dir | ((uint64_t)e->is_server << 3) | ((uint64_t)e->peer_found << 4) |
		       ((uint64_t)(uint32_t)e->pid << 8) | ((uint64_t)(uint32_t)e->peer_pid << 32);
	struct edge *ed;
	long idx;
	if (track >= 0 && w->bytes[track].edge && w->bytes[track].edge_gen == w->gen &&
	    w->bytes[track].edge_sig == sig) {
		ed = &w->edges[w->bytes[track].edge - 1];
		if (edge_name(ed, &in))
			return -ENOMEM;
	} else {
		ed = edge_get(w, &in, &idx);
		if (!ed)
			return -ENOMEM;
		if (track >= 0) {
			w->bytes[track].edge = (uint32_t)idx + 1;
			w->bytes[track].edge_gen = w->gen;
			w->bytes[track].edge_sig = sig;
		}
	}
	if (ed->cur_seq != w->total_samples) {
		ed->cur_seq = w->total_samples;
		ed->cur = 0;
		ed->samples_seen++;
	}
	ed->cur++;
	if (ed->cur > ed->max_concurrent)
		ed->max_concurrent = ed->cur;
	ed->last_ms = s->taken_ms;
	ed->bytes_sent += sent;
	ed->bytes_received += recv;
	ed->bytes_known |= e->has_bytes;
	if (track >= 0) {
		w->bytes[track].added_acked += own_sent;
		w->bytes[track].added_received += own_recv;
	}
	return 0;
}

int window_add_sample(struct window *w, const struct sock_sample *s)
{
	w->samples++;
	w->total_samples++;
	for (size_t i = 0; i < s->n; i++) {
		const struct sock_entry *e = &s->entries[i];
		int rc = e->dir == SOCK_DIR_LISTEN ? add_listener(w, s, e) : add_edge(w, s, e);
		if (rc)
			return rc;
	}
	return bytes_prune(w);
}

/* ------------------------------------------------------------ event flows */

struct added {
	uint64_t acked, received;
};

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return b < a ? a - b : 0;
}

/* A closed connection a netlink sample saw: its samples already counted the
 * bytes up to the last sample; the close event counted all of them. The
 * flow keeps only what came after the last sample. A server end's samples
 * may have fed a LOCAL edge of their own (the client end was not in that
 * sample): what they added is in srv_added, for the client end it pairs
 * with to subtract. */
static void sampled_dedup(struct window *w, struct capture_take *t, struct added *srv_added)
{
	for (size_t i = 0; i < t->nsampled; i++) {
		const struct capture_sampled *cs = &t->sampled[i];
		uint64_t v;
		if (cs->flow >= t->nflows || !sockhash_get(&w->bytes_idx, cs->cookie, &v))
			continue;
		struct sock_bytes *b = &w->bytes[v - 1];
		struct capture_flow *f = &t->flows[cs->flow];
		if (!b->closed && f->role == CAPTURE_ROLE_SERVER) {
			srv_added[cs->flow].acked += b->added_acked < cs->bytes_acked ? b->added_acked
										      : cs->bytes_acked;
			srv_added[cs->flow].received += b->added_received < cs->bytes_received
								? b->added_received : cs->bytes_received;
		}
		if (!b->closed) {
			uint64_t a = b->acked < cs->bytes_acked ? b->acked : cs->bytes_acked;
			uint64_t r = b->received < cs->bytes_received ? b->received : cs->bytes_received;
			f->bytes_sent -= a <= f->bytes_sent ? a : f->bytes_sent;
			f->bytes_received -= r <= f->bytes_received ? r : f->bytes_received;
		}
		b->closed = true;
		b->acked = cs->bytes_acked;
		b->received = cs->bytes_received;
	}
}

/* Key of a server end as its client sees it: (protocol, server address and
 * port, client address, namespace when loopback). */
static uint64_t server_key(uint8_t protocol, const struct sock_addr *server, uint16_t port,
			   const struct sock_addr *client, uint64_t netns)
{
	struct {
		struct sock_addr s, c;
		uint64_t scope;
		uint16_t port;
		uint8_t proto;
	} k;
	memset(&k, 0, sizeof(k));
	k.s = *server;
	if (client && !sock_addr_is_any(client))
		k.c = *client;
	k.port = port;
	k.proto = protocol;
	k.scope = sock_addr_is_loopback(server) ? netns : 0;
	return sockhash_bytes(&k, sizeof(k), 5);
}

/* The owner of a flow: resolved by the capture, else the scanner's, else a
 * stand-in named after the kernel's comm (the process is gone). */
static const struct sock_proc *flow_proc(const struct sock_scanner *s, const struct capture_flow *f,
					 int32_t pid, struct sock_proc *tmp)
{
	if (f->proc && f->proc->pid == pid)
		return f->proc;
	const struct sock_proc *p = collect_sock_scanner_proc(s, pid);
	if (p)
		return p;
	if (!pid || !f->comm[0])
		return NULL;
	*tmp = (struct sock_proc){ .pid = pid, .netns = f->netns, .name = f->comm,
				   .identity = f->comm, .container_id = "" };
	return tmp;
}

static int flow_count(struct window *w, const struct edge_in *in, const struct capture_flow *f,
		      const struct capture_flow *reply)
{
	long idx;
	struct edge *ed = edge_get(w, in, &idx);
	if (!ed)
		return -ENOMEM;
	if (f->first_ms < ed->first_ms)
		ed->first_ms = f->first_ms;
	if (f->last_ms > ed->last_ms)
		ed->last_ms = f->last_ms;
	ed->opened += f->opened;
	ed->closed += f->closed;
	ed->short_lived += f->short_lived;
	ed->duration_total_us += f->duration_total_us;
	if (f->duration_max_us > ed->duration_max_us)
		ed->duration_max_us = f->duration_max_us;
	/* A LOCAL edge seen from its server end only counts from the client's side. */
	bool swap = in->dir == SOCK_DIR_LOCAL && f->role == CAPTURE_ROLE_SERVER;
	ed->bytes_sent += swap ? f->bytes_received : f->bytes_sent;
	ed->bytes_received += swap ? f->bytes_sent : f->bytes_received;
	/* bytes at close (TCP) and datagram sizes (UDP) are measured, not unknown */
	ed->bytes_known |= f->closed > 0 || f->datagrams_sent > 0 || reply;
	if (swap)
		ed->datagrams_received += f->datagrams_sent;
	else
		ed->datagrams_sent += f->datagrams_sent;
	if (reply && reply->protocol == IPPROTO_UDP) {
		ed->datagrams_received += reply->datagrams_sent;
		ed->bytes_received += reply->bytes_sent;
	}
	return 0;
}

static uint64_t udp_dir_key(const struct sock_addr *from, uint16_t fport, const struct sock_addr *to,
			    uint16_t tport, uint64_t netns)
{
	return server_key(IPPROTO_UDP, to, tport, from, netns) ^ ((uint64_t)fport << 17);
}

/* UDP flows come without a role. A listener on the local port, or a port
 * below the ephemeral range talking to one inside it, makes the server end.
 * Otherwise, when both directions of the flow are here, the end that sent
 * first is the client (a request precedes its answer). */
static int udp_roles(const struct sock_scanner *s, struct capture_take *t)
{
	struct sockhash dirs = SOCKHASH_INIT;
	int rc = 0;
	for (size_t i = 0; !rc && i < t->nflows; i++) {
		const struct capture_flow *f = &t->flows[i];
		if (f->role != CAPTURE_ROLE_UNKNOWN)
			continue;
		uint64_t h = udp_dir_key(&f->local, f->local_port, &f->remote, f->remote_port, f->netns);
		for (unsigned k = 0;; k++) {
			uint64_t probe = sockhash_probe_key(h, k);
			if (!sockhash_get(&dirs, probe, NULL)) {
				rc = sockhash_put(&dirs, probe, i + 1);
				break;
			}
		}
	}
	for (size_t i = 0; !rc && i < t->nflows; i++) {
		struct capture_flow *f = &t->flows[i];
		if (f->role != CAPTURE_ROLE_UNKNOWN)
			continue;
		if (collect_sock_scanner_is_server_port(s, f->netns, f->protocol, f->local_port,
							f->remote_port)) {
			f->role = CAPTURE_ROLE_SERVER;
			continue;
		}
		f->role = CAPTURE_ROLE_CLIENT;
		uint64_t h = udp_dir_key(&f->remote, f->remote_port, &f->local, f->local_port, f->netns), v;
		for (unsigned k = 0; sockhash_get(&dirs, sockhash_probe_key(h, k), &v); k++) {
			const struct capture_flow *m = &t->flows[v - 1];
			if (m->local_port != f->remote_port || m->remote_port != f->local_port ||
			    sock_addr_cmp(&m->local, &f->remote) || sock_addr_cmp(&m->remote, &f->local))
				continue;
			bool mirror_server = collect_sock_scanner_is_server_port(
				s, m->netns, m->protocol, m->local_port, m->remote_port);
			if (!mirror_server && f->first_ns > m->first_ns)
				f->role = CAPTURE_ROLE_SERVER;
			break;
		}
	}
	sockhash_free(&dirs);
	return rc;
}

int window_add_flows(struct window *w, const struct sock_scanner *s, struct capture_take *t,
		     uint32_t short_lived_ms)
{
	w->short_lived_ms = short_lived_ms;
	/* flows of network namespaces that are not this host's go */
	size_t kept = 0;
	for (size_t i = 0; i < t->nflows; i++)
		if (collect_sock_scanner_has_netns(s, t->flows[i].netns))
			t->flows[kept++] = t->flows[i];
	t->nflows = kept;
	struct added *srv_added = calloc(t->nflows ? t->nflows : 1, sizeof(*srv_added));
	if (!srv_added)
		return -ENOMEM;
	sampled_dedup(w, t, srv_added);
	int rc = udp_roles(s, t);
	for (size_t i = 0; i < t->nflows; i++) {
		struct capture_flow *f = &t->flows[i];
		if (f->role == CAPTURE_ROLE_SERVER && !f->pid)
			f->pid = collect_sock_scanner_listener(s, f->netns, f->protocol, f->local_port);
	}
	struct sockhash servers = SOCKHASH_INIT;
	uint8_t *used = calloc(t->nflows ? t->nflows : 1, 1);
	if (!rc && !used)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < t->nflows; i++) {
		const struct capture_flow *f = &t->flows[i];
		if (f->role != CAPTURE_ROLE_SERVER)
			continue;
		/* Also under "any client address": a client's sendto() on an
		 * unbound socket knows no source address. */
		for (int any = 0; !rc && any < 2; any++) {
			uint64_t h = server_key(f->protocol, &f->local, f->local_port,
						any ? NULL : &f->remote, f->netns);
			for (unsigned k = 0;; k++) {
				uint64_t probe = sockhash_probe_key(h, k);
				if (!sockhash_get(&servers, probe, NULL)) {
					rc = sockhash_put(&servers, probe, i + 1);
					break;
				}
			}
		}
	}
	/* Client ends: LOCAL when their server end is here too (or the address
	 * is ours), else OUTBOUND. */
	for (size_t i = 0; !rc && i < t->nflows; i++) {
		struct capture_flow *f = &t->flows[i];
		if (f->role != CAPTURE_ROLE_CLIENT)
			continue;
		const struct capture_flow *srv = NULL;
		uint64_t h = server_key(f->protocol, &f->remote, f->remote_port, &f->local, f->netns), v;
		for (unsigned k = 0; sockhash_get(&servers, sockhash_probe_key(h, k), &v); k++) {
			const struct capture_flow *c = &t->flows[v - 1];
			if (c->protocol == f->protocol && c->local_port == f->remote_port &&
			    !sock_addr_cmp(&c->local, &f->remote) &&
			    (f->protocol == IPPROTO_TCP || c->remote_port == f->local_port)) {
				srv = c;
				break;
			}
		}
		struct sock_proc tmp_c, tmp_s;
		struct edge_in in = { .protocol = f->protocol, .pid = f->pid, .netns = f->netns,
				      .local = &f->local, .remote = &f->remote,
				      .remote_port = f->remote_port, .when_ms = f->last_ms };
		in.self = flow_proc(s, f, f->pid, &tmp_c);
		const struct capture_flow *reply = NULL;
		if (srv) {
			size_t si = (size_t)(srv - t->flows);
			in.dir = SOCK_DIR_LOCAL;
			in.peer_pid = srv->pid;
			in.peer = flow_proc(s, srv, srv->pid, &tmp_s);
			if (!used[si]) {
				reply = srv;
				/* The server end's samples counted these bytes already. */
				f->bytes_sent = sub_sat(f->bytes_sent, srv_added[si].received);
				f->bytes_received = sub_sat(f->bytes_received, srv_added[si].acked);
			}
			used[si] = 1;
			uint64_t pk = server_key(srv->protocol, &srv->local, srv->local_port,
						 &srv->remote, srv->netns);
			rc = sockhash_put(&w->paired, pk, 1);
		} else if (collect_sock_scanner_is_local(s, &f->remote)) {
			in.dir = SOCK_DIR_LOCAL;
			in.peer_pid = collect_sock_scanner_listener(s, f->netns, f->protocol, f->remote_port);
			in.peer = collect_sock_scanner_proc(s, in.peer_pid);
		} else {
			in.dir = SOCK_DIR_OUTBOUND;
		}
		if (!rc)
			rc = flow_count(w, &in, f, reply);
	}
	/* Server ends no client end here carried. */
	for (size_t i = 0; !rc && i < t->nflows; i++) {
		const struct capture_flow *f = &t->flows[i];
		if (f->role != CAPTURE_ROLE_SERVER || used[i])
			continue;
		uint64_t pk = server_key(f->protocol, &f->local, f->local_port, &f->remote, f->netns);
		if (sockhash_get(&w->paired, pk, NULL) || sockhash_get(&w->paired_prev, pk, NULL))
			continue; /* its client end was counted in an earlier take */
		struct sock_proc tmp;
		const struct sock_proc *self = flow_proc(s, f, f->pid, &tmp);
		struct edge_in in = { .protocol = f->protocol, .netns = f->netns, .when_ms = f->last_ms };
		if (collect_sock_scanner_is_local(s, &f->remote)) {
			in.dir = SOCK_DIR_LOCAL; /* the client is here but was not seen */
			in.peer = self;
			in.peer_pid = f->pid;
			in.local = &f->remote;
			in.remote = &f->local;
			in.remote_port = f->local_port;
		} else {
			in.dir = SOCK_DIR_INBOUND;
			in.self = self;
			in.pid = f->pid;
			in.local = &f->local;
			in.remote = &f->remote;
			in.local_port = f->local_port;
		}
		rc = flow_count(w, &in, f, NULL);
	}
	free(used);
	free(srv_added);
	sockhash_free(&servers);
	return rc;
}

static int cmp_edge(const void *a, const void *b)
{
	const Cairn__Edge *x = *(Cairn__Edge *const *)a, *y = *(Cairn__Edge *const *)b;
	int c;
	if (x->direction != y->direction)
		return x->direction < y->direction ? -1 : 1;
	if ((c = strcmp(x->identity, y->identity)) || (c = strcmp(x->process_name, y->process_name)))
		return c;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if ((c = strcmp(x->remote_address, y->remote_address)))
		return c;
	if (x->remote_port != y->remote_port)
		return x->remote_port < y->remote_port ? -1 : 1;
	if (x->local_port != y->local_port)
		return x->local_port < y->local_port ? -1 : 1;
	if (x->peer_pid != y->peer_pid)
		return x->peer_pid < y->peer_pid ? -1 : 1;
	return x->protocol < y->protocol ? -1 : x->protocol > y->protocol;
}

static Cairn__Protocol proto_of(uint8_t p)
{
	return p == IPPROTO_TCP ? CAIRN__PROTOCOL__TCP :
	       p == IPPROTO_UDP ? CAIRN__PROTOCOL__UDP : CAIRN__PROTOCOL__PROTOCOL_UNSPECIFIED;
}

static int build_edges(const struct window *w, int64_t end_ms, Cairn__ConnectionWindow **out)
{
	Cairn__ConnectionWindow *cw = malloc(sizeof(*cw));
	if (!cw)
		return -ENOMEM;
	cairn__connection_window__init(cw);
	cw->window_start_ms = w->start_ms;
	cw->window_end_ms = end_ms;
	cw->samples = w->samples;
	cw->short_lived_ms = w->short_lived_ms;
	if (w->nedges) {
		cw->edges = calloc(w->nedges, sizeof(*cw->edges));
		if (!cw->edges)
			goto oom;
	}
	for (size_t i = 0; i < w->nedges; i++) {
		const struct edge *ed = &w->edges[i];
		Cairn__Edge *x = malloc(sizeof(*x));
		if (!x)
			goto oom;
		cairn__edge__init(x);
		cw->edges[cw->n_edges++] = x;
		x->direction = (Cairn__Direction)ed->dir;
		x->protocol = proto_of(ed->protocol);
		x->pid = (uint32_t)ed->pid;
		x->local_port = ed->local_port;
		x->remote_port = ed->remote_port;
		x->samples_seen = ed->samples_seen;
		x->max_concurrent = ed->max_concurrent;
		x->first_seen_ms = ed->first_ms;
		x->last_seen_ms = ed->last_ms;
		x->bytes_sent = ed->bytes_sent;
		x->bytes_received = ed->bytes_received;
		x->bytes_unknown = !ed->bytes_known;
		x->netns = ed->netns;
		x->peer_pid = (uint32_t)ed->peer_pid;
		x->connections_opened = ed->opened;
		x->connections_closed = ed->closed;
		x->short_lived = ed->short_lived;
		x->duration_total_ms = ed->duration_total_us / 1000;
		x->duration_max_ms = ed->duration_max_us / 1000;
		x->datagrams_sent = ed->datagrams_sent;
		x->datagrams_received = ed->datagrams_received;
		/* Strings start as the shared empty default so a partial edge frees cleanly. */
		if (!(x->process_name = dup_or_empty(ed->name)) ||
		    !(x->identity = dup_or_empty(ed->identity)) ||
		    !(x->container_id = dup_or_empty(ed->container_id)) ||
		    !(x->local_address = strdup(ed->local_addr)) ||
		    !(x->remote_address = strdup(ed->remote_addr)) ||
		    !(x->peer_process_name = dup_or_empty(ed->peer_name)) ||
		    !(x->peer_identity = dup_or_empty(ed->peer_identity)))
			goto oom;
	}
	if (cw->n_edges > 1)
		qsort(cw->edges, cw->n_edges, sizeof(*cw->edges), cmp_edge);
	*out = cw;
	return 0;
oom:
	cairn__connection_window__free_unpacked(cw, NULL);
	return -ENOMEM;
}

static int cmp_listener(const void *a, const void *b)
{
	const Cairn__Listener *x = *(Cairn__Listener *const *)a, *y = *(Cairn__Listener *const *)b;
	if (x->protocol != y->protocol)
		return x->protocol < y->protocol ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	int c = strcmp(x->address, y->address);
	if (c)
		return c;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int build_listeners(const struct window *w, int64_t end_ms, Cairn__ListenerSet **out)
{
	Cairn__ListenerSet *set = malloc(sizeof(*set));
	if (!set)
		return -ENOMEM;
	cairn__listener_set__init(set);
	set->taken_ms = end_ms;
	if (w->nls) {
		set->listeners = calloc(w->nls, sizeof(*set->listeners));
		if (!set->listeners)
			goto oom;
	}
	for (size_t i = 0; i < w->nls; i++) {
		const struct listener *l = &w->ls[i];
		Cairn__Listener *x = malloc(sizeof(*x));
		if (!x)
			goto oom;
		cairn__listener__init(x);
		set->listeners[set->n_listeners++] = x;
		x->protocol = proto_of(l->protocol);
		x->port = l->port;
		x->pid = (uint32_t)l->pid;
		x->netns = l->netns;
		if (!(x->address = strdup(l->addr)) || !(x->process_name = strdup(l->name)) ||
		    !(x->identity = strdup(l->identity)) || !(x->container_id = strdup(l->container_id)))
			goto oom;
	}
	if (set->n_listeners > 1)
		qsort(set->listeners, set->n_listeners, sizeof(*set->listeners), cmp_listener);
	*out = set;
	return 0;
oom:
	cairn__listener_set__free_unpacked(set, NULL);
	return -ENOMEM;
}

int window_close(struct window *w, int64_t end_ms, Cairn__ConnectionWindow **out,
		 Cairn__ListenerSet **listeners)
{
	Cairn__ConnectionWindow *cw = NULL;
	Cairn__ListenerSet *ls = NULL;
	if (out) {
		*out = NULL;
		int rc = build_edges(w, end_ms, &cw);
		if (rc)
			return rc;
	}
	if (listeners) {
		*listeners = NULL;
		int rc = build_listeners(w, end_ms, &ls);
		if (rc) {
			if (cw)
				cairn__connection_window__free_unpacked(cw, NULL);
			return rc;
		}
	}
	edges_clear(w);
	/* Pairs of this window stay known for one more, for connections whose
	 * two ends close on either side of the boundary. */
	struct sockhash t = w->paired_prev;
	w->paired_prev = w->paired;
	w->paired = t;
	sockhash_clear(&w->paired);
	w->gen++;
	w->samples = 0;
	w->start_ms = end_ms;
	if (out)
		*out = cw;
	if (listeners)
		*listeners = ls;
	return 0;
}
