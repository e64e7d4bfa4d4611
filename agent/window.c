/* Report-window aggregation: see window.h. */
#include "window.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
	const struct sock_proc *p = sock_scanner_proc(s->scanner, e->pid);
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
		if (e->has_bytes) {
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

/* Sockets not in this sample are gone: drop their counters. Swap-remove,
 * touching the index only for what moves: with churn, rebuilding the whole
 * index every sample cost as much as the steady sockets themselves. */
static int bytes_prune(struct window *w)
{
	for (size_t i = 0; i < w->nbytes;) {
		if (w->bytes[i].seen == w->total_samples) {
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

static int add_edge(struct window *w, const struct sock_sample *s, const struct sock_entry *e)
{
	const struct sock_proc *self = sock_scanner_proc(s->scanner, e->pid);
	const struct sock_proc *peer = e->peer_found ? sock_scanner_proc(s->scanner, e->peer_pid) : NULL;
	uint64_t sent, recv;
	long track;
	int rc = socket_bytes(w, e, &sent, &recv, &track);
	if (rc)
		return rc;
	if (e->dir != SOCK_DIR_OUTBOUND && e->dir != SOCK_DIR_INBOUND && e->dir != SOCK_DIR_LOCAL)
		return 0;

	/* Orient LOCAL connections client -> server. */
	const struct sock_proc *client = self, *server = peer;
	int32_t client_pid = e->pid, server_pid = e->peer_pid;
	const struct sock_addr *client_addr = &e->local, *server_addr = &e->remote;
	uint16_t server_port = e->remote_port;
	if (e->dir == SOCK_DIR_LOCAL && e->is_server) {
		if (e->peer_found)
			return 0; /* the client end carries this connection */
		client = NULL;
		client_pid = 0;
		server = self;
		server_pid = e->pid;
		client_addr = &e->remote;
		server_addr = &e->local;
		server_port = e->local_port;
		uint64_t t = sent;
		sent = recv;
		recv = t;
	}

	/* A socket that fed an edge of this window before, with the same
	 * owner and orientation, feeds the same edge: no key to build. */
	uint64_t sig = (uint64_t)e->dir | ((uint64_t)e->is_server << 3) | ((uint64_t)e->peer_found << 4) |
		       ((uint64_t)(uint32_t)e->pid << 8) | ((uint64_t)(uint32_t)e->peer_pid << 32);
	struct edge *ed;
	if (track >= 0 && w->bytes[track].edge && w->bytes[track].edge_gen == w->gen &&
	    w->bytes[track].edge_sig == sig) {
		ed = &w->edges[w->bytes[track].edge - 1];
		goto count;
	}

	char pk[300], peerk[300], ra[48], la[48], key[800];
	sock_addr_str(&e->remote, ra, sizeof(ra));
	sock_addr_str(&e->local, la, sizeof(la));
	switch (e->dir) {
	case SOCK_DIR_OUTBOUND:
		proc_key(pk, sizeof(pk), self, e->pid, e->netns);
		snprintf(key, sizeof(key), "O|%u|%s|%s|%u", e->protocol, pk, ra, e->remote_port);
		break;
	case SOCK_DIR_INBOUND:
		proc_key(pk, sizeof(pk), self, e->pid, e->netns);
		snprintf(key, sizeof(key), "I|%u|%s|%u|%s", e->protocol, pk, e->local_port, ra);
		break;
	case SOCK_DIR_LOCAL:
		proc_key(pk, sizeof(pk), client, client_pid, e->netns);
		proc_key(peerk, sizeof(peerk), server, server_pid, e->netns);
		snprintf(key, sizeof(key), "L|%u|%s|%s|%u", e->protocol, pk, peerk, server_port);
		break;
	default:
		return 0;
	}

	uint64_t slot = 0;
	long idx = find_key(&w->edge_idx, w->edges, sizeof(*w->edges), key, &slot);
	if (idx < 0) {
		if (array_grow((void **)&w->edges, &w->capedges, w->nedges + 1, sizeof(*w->edges)))
			return -ENOMEM;
		ed = &w->edges[w->nedges];
		memset(ed, 0, sizeof(*ed));
		ed->key = strdup(key);
		if (!ed->key || sockhash_put(&w->edge_idx, slot, w->nedges + 1)) {
			free(ed->key);
			return -ENOMEM;
		}
		w->nedges++;
		ed->dir = e->dir;
		ed->protocol = e->protocol;
		ed->netns = e->netns;
		ed->first_ms = s->taken_ms;
		if (e->dir == SOCK_DIR_LOCAL) {
			sock_addr_str(client_addr, ed->local_addr, sizeof(ed->local_addr));
			sock_addr_str(server_addr, ed->remote_addr, sizeof(ed->remote_addr));
			ed->remote_port = server_port;
		} else {
			str_copy(ed->local_addr, la, sizeof(ed->local_addr));
			str_copy(ed->remote_addr, ra, sizeof(ed->remote_addr));
			if (e->dir == SOCK_DIR_OUTBOUND)
				ed->remote_port = e->remote_port;
			else
				ed->local_port = e->local_port;
		}
		idx = (long)w->nedges - 1;
	} else {
		ed = &w->edges[idx];
	}
	if (track >= 0) {
		w->bytes[track].edge = (uint32_t)idx + 1;
		w->bytes[track].edge_gen = w->gen;
		w->bytes[track].edge_sig = sig;
	}
count:;
	/* The most recent process of the key names the edge. */
	const struct sock_proc *np = e->dir == SOCK_DIR_LOCAL ? client : self;
	int32_t npid = e->dir == SOCK_DIR_LOCAL ? client_pid : e->pid;
	if (!ed->name || ed->pid != npid) {
		free(ed->name);
		free(ed->identity);
		free(ed->container_id);
		ed->pid = npid;
		ed->name = dup_or_empty(np ? np->name : NULL);
		ed->identity = dup_or_empty(np ? np->identity : NULL);
		ed->container_id = dup_or_empty(np ? np->container_id : NULL);
		if (!ed->name || !ed->identity || !ed->container_id)
			return -ENOMEM;
	}
	if (e->dir == SOCK_DIR_LOCAL && (!ed->peer_name || ed->peer_pid != server_pid)) {
		free(ed->peer_name);
		free(ed->peer_identity);
		ed->peer_pid = server_pid;
		ed->peer_name = dup_or_empty(server ? server->name : NULL);
		ed->peer_identity = dup_or_empty(server ? server->identity : NULL);
		if (!ed->peer_name || !ed->peer_identity)
			return -ENOMEM;
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
	w->gen++;
	w->samples = 0;
	w->start_ms = end_ms;
	if (out)
		*out = cw;
	if (listeners)
		*listeners = ls;
	return 0;
}
