#include "server.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "log.h"
#include "session.h"

#define LOG_LINES_PER_SECOND 20
#define SWEEP_MS 250

void server_params_from_config(struct server_params *p, const struct collector_config *c)
{
	memset(p, 0, sizeof(*p));
	str_copy(p->listen, c->listen, sizeof(p->listen));
	p->max_connections = c->max_connections ? c->max_connections : 20000;
	p->handshake_timeout_ms = c->handshake_timeout_ms ? c->handshake_timeout_ms : 10000;
	p->idle_timeout_ms = c->idle_timeout_ms ? c->idle_timeout_ms : 900000;
	p->max_frame = c->max_frame && c->max_frame <= UINT32_MAX ? (uint32_t)c->max_frame
								     : FRAME_MAX_DEFAULT;
	ingest_limits_default(&p->limits);
	if (c->max_records)
		p->limits.max_records = c->max_records;
	if (c->max_string)
		p->limits.max_string = c->max_string;
	enum accept_mode m = ACCEPT_EXPLICIT;
	config_accept_mode(c, &m);
	p->accept = m;
	p->commit_interval_ms = c->commit_interval_ms ? c->commit_interval_ms : 20;
	p->commit_batches = c->commit_batches ? c->commit_batches : 512;
	p->queue_max = 2048;
	p->session_inflight_max = 64;
}

__attribute__((format(printf, 2, 0)))
static void log_conn_v(struct server *s, const char *fmt, va_list ap)
{
	uint64_t now = time_mono_ms();
	if (now - s->log_window_ms >= 1000) {
		if (s->log_in_window > LOG_LINES_PER_SECOND)
			log_warn("%u similar connection messages suppressed in the last second",
				 s->log_in_window - LOG_LINES_PER_SECOND);
		s->log_window_ms = now;
		s->log_in_window = 0;
	}
	if (++s->log_in_window > LOG_LINES_PER_SECOND) {
		s->stats.log_suppressed++;
		return;
	}
	char line[768];
	vsnprintf(line, sizeof(line), fmt, ap);
	log_warn("%s", line);
}

void server_log_conn(struct server *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_conn_v(s, fmt, ap);
	va_end(ap);
}

void server_record_latency(struct server *s, uint64_t us)
{
	s->stats.ack_latency_us_sum += us;
	s->stats.ack_latency_n++;
	s->lat[s->lat_n++ % ARRAY_SIZE(s->lat)] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void set_paused(struct server *s, bool paused)
{
	if (s->hub.paused == paused)
		return;
	s->hub.paused = paused;
	if (paused)
		s->stats.pauses++;
	for (struct session *se = s->sessions; se; se = se->next)
		session_update_reading(se);
}

void server_submit(struct server *s, struct ingest_item *it)
{
	ingest_writer_submit(&s->writer, it);
	if (!s->hub.paused && ingest_writer_full(&s->writer))
		set_paused(s, true);
}

void server_prune(struct server *s, int64_t cutoff_ms)
{
	if (s->hub.stopping || !s->writer_started)
		return;
	struct ingest_item *it = calloc(1, sizeof(*it));
	if (!it)
		return;
	it->kind = INGEST_KIND_PRUNE;
	it->cutoff_ms = cutoff_ms;
	ingest_writer_submit(&s->writer, it);
}

void server_session_closed(struct server *s, struct session *se)
{
	if (se->prev)
		se->prev->next = se->next;
	else if (s->sessions == se)
		s->sessions = se->next;
	if (se->next)
		se->next->prev = se->prev;
	se->prev = se->next = NULL;
	s->nsessions--;
}

/* Writer thread: hand finished items to the loop. */
static void on_writer_done(struct ingest_item *list, void *arg)
{
	struct server *s = arg;
	struct ingest_item *last = list;
	while (last->next)
		last = last->next;
	pthread_mutex_lock(&s->done_mu);
	if (s->done_tail)
		s->done_tail->next = list;
	else
		s->done_head = list;
	s->done_tail = last;
	pthread_mutex_unlock(&s->done_mu);
	uv_async_send(&s->done_async);
}

static void drain_done(struct server *s)
{
	pthread_mutex_lock(&s->done_mu);
	struct ingest_item *list = s->done_head;
	s->done_head = s->done_tail = NULL;
	pthread_mutex_unlock(&s->done_mu);
	bool stored = false;
	while (list) {
		struct ingest_item *it = list;
		list = it->next;
		struct session *se = it->owner;
		if (it->kind == INGEST_KIND_BATCH && it->result == INGEST_OK)
			stored = true;
		if (se) {
			session_on_done(se, it);
			session_unref(se);
		} else if (it->kind == INGEST_KIND_PRUNE) {
			if (it->result != INGEST_OK)
				log_warn("retention sweep failed: %s", it->detail);
			else if (it->pruned)
				log_info("retention: deleted %llu raw batches and perf windows older "
					 "than the retention period", (unsigned long long)it->pruned);
		}
		ingest_item_free(it);
	}
	/* one cumulative ACK per connection for everything this round made durable */
	while (s->hub.ack_head) {
		struct session *se = s->hub.ack_head;
		s->hub.ack_head = se->ack_next;
		se->ack_next = NULL;
		session_flush_ack(se);
		session_unref(se);
	}
	if (s->hub.paused && !s->hub.stopping && ingest_writer_queued(&s->writer) <= s->p.queue_max / 2 &&
	    !ingest_writer_full(&s->writer))
		set_paused(s, false);
	if (stored && s->on_stored)
		s->on_stored(s, s->on_stored_arg);
}

static void on_done_async(uv_async_t *a)
{
	drain_done(a->data);
}

static void on_sweep(uv_timer_t *t)
{
	struct server *s = t->data;
	uint64_t now = time_mono_ms();
	for (struct session *se = s->sessions, *next; se; se = next) {
		next = se->next;
		session_check_timeout(se, now);
	}
	/* storage-full recovery does not produce done items until it commits;
	 * keep the pause state honest meanwhile */
	if (s->hub.paused && !ingest_writer_full(&s->writer) &&
	    ingest_writer_queued(&s->writer) <= s->p.queue_max / 2)
		set_paused(s, false);
}

static void refuse_busy(struct server *s, uv_tcp_t *tcp);

static void on_busy_close(uv_handle_t *h)
{
	free(h);
}

static void on_busy_write(uv_write_t *req, int status)
{
	(void)status;
	uv_close((uv_handle_t *)req->handle, on_busy_close);
	free(req->data);
	free(req);
}

static void refuse_busy(struct server *s, uv_tcp_t *tcp)
{
	s->stats.refused_busy++;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
		else
			uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
	}
	server_log_conn(s, "connection from %s refused: max_connections (%u) reached", host,
			s->p.max_connections);
	uint8_t *buf;
	size_t blen;
	uv_write_t *req = malloc(sizeof(*req));
	if (!req || channel_error_frame_plain(PROTO_ERR_BUSY, "max_connections reached: retry later",
					      &buf, &blen) != 0) {
		free(req);
		uv_close((uv_handle_t *)tcp, on_busy_close);
		return;
	}
	req->data = buf;
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)blen);
	if (uv_write(req, (uv_stream_t *)tcp, &b, 1, on_busy_write) != 0) {
		free(buf);
		free(req);
		uv_close((uv_handle_t *)tcp, on_busy_close);
	}
}

static void on_unaccepted_close(uv_handle_t *h)
{
	session_unref(h->data);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct server *s = listener->data;
	if (status < 0) {
		server_log_conn(s, "accept on %s failed: %s", s->bound, uv_strerror(status));
		return;
	}
	if (s->nsessions >= s->p.max_connections || s->hub.stopping) {
		uv_tcp_t *tcp = malloc(sizeof(*tcp));
		if (!tcp)
			return;
		uv_tcp_init(s->loop, tcp);
		if (uv_accept(listener, (uv_stream_t *)tcp) != 0) {
			uv_close((uv_handle_t *)tcp, on_busy_close);
			return;
		}
		refuse_busy(s, tcp);
		return;
	}
	struct session *se = calloc(1, sizeof(*se));
	if (!se) {
		log_error("out of memory accepting a connection");
		return;
	}
	session_init(se, &s->hub);
	uv_tcp_init(s->loop, &se->tcp);
	if (uv_accept(listener, (uv_stream_t *)&se->tcp) != 0) {
		se->closing = true;
		uv_close((uv_handle_t *)&se->tcp, on_unaccepted_close);
		return;
	}
	uv_tcp_nodelay(&se->tcp, 1);
	se->next = s->sessions;
	if (s->sessions)
		s->sessions->prev = se;
	s->sessions = se;
	s->nsessions++;
	s->stats.accepted++;
	session_start(se);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, struct errbuf *eb)
{
	char host[CONFIG_STR_MAX];
	uint16_t port = 0;
	if (config_split_hostport(listen, host, sizeof(host), &port) != 0)
		return errbuf_set(eb, -EINVAL, "listen '%s': expected ADDR:PORT or [V6ADDR]:PORT",
				  listen);
	if (!*host)
		str_copy(host, "::", sizeof(host));
	if (strchr(host, ':')) {
		if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) != 0)
			return errbuf_set(eb, -EINVAL, "listen '%s': '%s' is not an IPv6 address",
					  listen, host);
	} else if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) != 0) {
		return errbuf_set(eb, -EINVAL,
				  "listen '%s': '%s' is not an IPv4 address (use an address, not "
				  "a name)", listen, host);
	}
	return 0;
}

/* ------------------------------------------------------------ the hub */

static struct server *hub_server(struct session_hub *hub)
{
	return (struct server *)((char *)hub - offsetof(struct server, hub));
}

static void hub_submit(struct session_hub *hub, struct ingest_item *it)
{
	server_submit(hub_server(hub), it);
}

static void hub_closed(struct session_hub *hub, struct session *se)
{
	server_session_closed(hub_server(hub), se);
}

static void hub_latency(struct session_hub *hub, uint64_t us)
{
	server_record_latency(hub_server(hub), us);
}

static unsigned hub_streaming(struct session_hub *hub, struct session *se)
{
	struct server *s = hub_server(hub);
	unsigned n = 0;
	for (struct session *o = s->sessions; o; o = o->next) {
		if (o == se || o->closing || o->state != SESSION_STREAM ||
		    memcmp(o->agent_id, se->agent_id, sizeof(o->agent_id)))
			continue;
		server_log_conn(s, "agent %s: the connection from %s replaces the one from %s "
				   "(one session per agent key; if this repeats, is the key used "
				   "by two machines?)", se->fp, se->peer, o->peer);
		session_fail(o, PROTO_ERR_REPLACED,
			     "a newer connection with this agent key took over");
		n++;
	}
	return n;
}

__attribute__((format(printf, 2, 0)))
static void hub_log(struct session_hub *hub, const char *fmt, va_list ap)
{
	log_conn_v(hub_server(hub), fmt, ap);
}

static void hub_init(struct server *s)
{
	struct session_hub *h = &s->hub;
	h->id = s->id;
	h->handshake_timeout_ms = s->p.handshake_timeout_ms;
	h->idle_timeout_ms = s->p.idle_timeout_ms;
	h->max_frame = s->p.max_frame;
	h->max_records = s->p.limits.max_records;
	h->inflight_max = s->p.session_inflight_max;
	h->accept = s->p.accept;
	h->have_enroll_key = s->p.have_enroll_key;
	memcpy(h->enroll_key, s->p.enroll_key, sizeof(h->enroll_key));
	h->submit = hub_submit;
	h->closed = hub_closed;
	h->latency = hub_latency;
	h->streaming = hub_streaming;
	h->log = hub_log;
}

int server_start(struct server *s, uv_loop_t *loop, const struct server_params *p,
		 const struct keypair *id, struct db_env *env, struct errbuf *eb)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->p = *p;
	s->id = id;
	s->env = env;
	if (!s->p.session_inflight_max)
		s->p.session_inflight_max = 256;
	if (!s->p.queue_max)
		s->p.queue_max = 4096;
	hub_init(s);
	struct sockaddr_storage ss;
	int rc = parse_listen(p->listen, &ss, eb);
	if (rc)
		return rc;
	pthread_mutex_init(&s->done_mu, NULL);
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&s->listener, 4096, on_connection);
	if (rc) {
		uv_close((uv_handle_t *)&s->listener, NULL);
		pthread_mutex_destroy(&s->done_mu);
		return errbuf_set(eb, rc, "cannot listen on %s: %s (is another collector running? "
				  "change 'listen' in collector.conf or --listen)",
				  p->listen, uv_strerror(rc));
	}
	s->listening = true;
	int len = sizeof(ss);
	uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
	char host[INET6_ADDRSTRLEN] = "";
	if (ss.ss_family == AF_INET6) {
		uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
		snprintf(s->bound, sizeof(s->bound), "[%s]:%d", host,
			 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	} else {
		uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
		snprintf(s->bound, sizeof(s->bound), "%s:%d", host,
			 ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}

	uv_async_init(loop, &s->done_async, on_done_async);
	s->done_async.data = s;
	uv_timer_init(loop, &s->sweep);
	s->sweep.data = s;
	uv_timer_start(&s->sweep, on_sweep, SWEEP_MS, SWEEP_MS);

	rc = ingest_writer_start(&s->writer, env, &s->p.limits, s->p.commit_interval_ms,
				 s->p.commit_batches, s->p.queue_max, on_writer_done, s);
	if (rc) {
		uv_close((uv_handle_t *)&s->listener, NULL);
		uv_close((uv_handle_t *)&s->done_async, NULL);
		uv_close((uv_handle_t *)&s->sweep, NULL);
		return errbuf_set(eb, rc, "cannot start the ingest writer thread: %s", strerror(-rc));
	}
	s->writer_started = true;
	return 0;
}

void server_stop(struct server *s, uint64_t drain_ms)
{
	if (s->hub.stopping)
		return;
	s->hub.stopping = true;
	if (s->listening) {
		uv_close((uv_handle_t *)&s->listener, NULL);
		s->listening = false;
	}
	for (struct session *se = s->sessions; se; se = se->next)
		session_update_reading(se);
	if (s->writer_started) {
		ingest_writer_stop(&s->writer, drain_ms);
		s->writer_started = false;
	}
	/* ACK what the last commit made durable, then close everything. */
	drain_done(s);
	for (struct session *se = s->sessions, *next; se; se = next) {
		next = se->next;
		if (se->state == SESSION_STREAM)
			session_fail(se, PROTO_ERR_SHUTDOWN, "collector shutting down");
		else
			session_close(se);
	}
	uv_timer_stop(&s->sweep);
	uv_close((uv_handle_t *)&s->sweep, NULL);
	uv_close((uv_handle_t *)&s->done_async, NULL);
}
