/* The HTTP side of the console (web.h): libmicrohttpd with an internal
 * thread pool, TLS through GnuTLS, bearer tokens, static assets, and the
 * limits every request passes before web_api sees it. */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn-web-paths.h"
#include "log.h"
#include "token.h"
#include "web_api.h"
#include "webq.h"

struct web {
	struct MHD_Daemon *d;
	struct web_api api;
	bool allow_loopback, tls;
	char assets[4096];
	char d3[4096];
	char url[300];
	char *cert, *key;   /* PEM in memory (libmicrohttpd wants them so) */
};

/* One request's state across libmicrohttpd's calls (the body arrives in
 * pieces). */
struct req {
	char *body;
	size_t len;
	bool too_big;
	/* a task report waiting for its commit (connection suspended) */
	struct MHD_Connection *c;
	struct web_pending pend;
	struct web_reply reply;
	bool answered;
	char who[96];
};

/* The progress writer's thread: the report is stored; answer it from the
 * request thread. */
static void resume_req(void *arg)
{
	struct req *rq = arg;
	rq->answered = true;
	MHD_resume_connection(rq->c);
}

/* ---------------------------------------------------------------- paths */

static bool is_file(const char *p)
{
	struct stat st;
	return !stat(p, &st) && S_ISREG(st.st_mode);
}

int web_assets_dir(char *out, size_t n, struct errbuf *eb)
{
	char cand[4][4096];
	size_t nc = 0;
	const char *env = getenv("CAIRN_WEB_ASSETS");
	if (env && *env)
		snprintf(cand[nc++], sizeof(cand[0]), "%s", env);
	snprintf(cand[nc++], sizeof(cand[0]), "%s", CAIRN_WEB_DATADIR);
	char exe[4096];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len] = 0;
		snprintf(cand[nc++], sizeof(cand[0]), "%s/../share/cairn/web", dirname(exe));
	}
	snprintf(cand[nc++], sizeof(cand[0]), "%s", CAIRN_WEB_SRCDIR);
	for (size_t i = 0; i < nc; i++) {
		char probe[4200];
		snprintf(probe, sizeof(probe), "%s/index.html", cand[i]);
		if (is_file(probe)) {
			if (str_copy(out, cand[i], n) >= n)
				return errbuf_set(eb, -ENAMETOOLONG, "%s: path too long", cand[i]);
			return 0;
		}
	}
	return errbuf_set(eb, -ENOENT,
			  "the console's files (index.html) are not in $CAIRN_WEB_ASSETS, %s, "
			  "<binary>/../share/cairn/web or %s: reinstall cairn-collector",
			  CAIRN_WEB_DATADIR, CAIRN_WEB_SRCDIR);
}

int web_d3_path(char *out, size_t n, struct errbuf *eb)
{
	const char *env = getenv("CAIRN_D3_JS");
	const char *p = env && *env ? env : CAIRN_D3_JS;
	if (!is_file(p))
		return errbuf_set(eb, -ENOENT,
				  "d3 is not at %s: install Debian's node-d3 (apt-get install node-d3) "
				  "or set CAIRN_D3_JS", p);
	if (str_copy(out, p, n) >= n)
		return errbuf_set(eb, -ENAMETOOLONG, "%s: path too long", p);
	return 0;
}

bool web_addr_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}

static bool sockaddr_is_loopback(const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "";
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
	return web_addr_is_loopback(host);
}

static void client_text(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	snprintf(out, n, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
}

/* ---------------------------------------------------------------- responses */

static void common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

/* A JSON error body and the log line every refused request gets. */
static enum MHD_Result send_error(struct MHD_Connection *c, const char *method, const char *url,
				  unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum MHD_Result send_error(struct MHD_Connection *c, const char *method, const char *url,
				  unsigned status, const char *fmt, ...)
{
	char msg[600], ip[INET6_ADDRSTRLEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_text(c, ip, sizeof(ip));
	log_msg(status >= 500 ? LOGL_ERR : LOGL_NOTICE, "web: %s %s %.120s: %u %s", ip, method, url,
		status, msg);
	json_t *j = json_pack("{s:o}", "error", docs_json_str(msg));
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return MHD_NO;
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(s);
		return MHD_NO;
	}
	common_headers(resp);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"cairn\"");
	enum MHD_Result rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static const char *mime_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return "application/octet-stream";
	if (!strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (!strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (!strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (!strcmp(dot, ".svg"))
		return "image/svg+xml";
	if (!strcmp(dot, ".png"))
		return "image/png";
	return "application/octet-stream";
}

static enum MHD_Result send_file(struct web *w, struct MHD_Connection *c, const char *method,
				 const char *url, const char *path, const char *name)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return send_error(c, method, url, 404, "no such file");
	}
	struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	common_headers(resp);
	MHD_add_response_header(resp, "Content-Type", mime_of(name));
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	if (!strcmp(mime_of(name), "text/html; charset=utf-8"))
		MHD_add_response_header(resp, "Content-Security-Policy",
					"default-src 'self'; img-src 'self' data:; style-src 'self'; "
					"script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	(void)w;
	return rc;
}

/* /assets/NAME: one plain file name of the assets directory (no '/', no
 * leading '.'), or d3. */
static enum MHD_Result serve_asset(struct web *w, struct MHD_Connection *c, const char *method,
				   const char *url, const char *name)
{
	if (!strcmp(name, "d3.min.js"))
		return send_file(w, c, method, url, w->d3, name);
	size_t len = strlen(name);
	if (!len || len > 100 || name[0] == '.' || strchr(name, '/') || strchr(name, '\\'))
		return send_error(c, method, url, 404, "no such asset");
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '.' || name[i] == '-' || name[i] == '_'))
			return send_error(c, method, url, 404, "no such asset");
	char path[4300];
	snprintf(path, sizeof(path), "%s/%s", w->assets, name);
	return send_file(w, c, method, url, path, name);
}

/* ---------------------------------------------------------------- requests */

struct args_ctx {
	struct webq *q;
	struct errbuf *eb;
	int rc;
};

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct args_ctx *a = cls;
	(void)kind;
	if (!a->rc)
		a->rc = webq_arg(a->q, key, value, a->eb);
	return a->rc ? MHD_NO : MHD_YES;
}

/* The caller's token: 0 with who filled, or the HTTP status to refuse with. */
static unsigned authenticate(struct web *w, struct MHD_Connection *c, struct token_info *who,
			     char *why, size_t whyn)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (!auth && w->allow_loopback) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && sockaddr_is_loopback(ci->client_addr)) {
			memset(who, 0, sizeof(*who));
			str_copy(who->name, "loopback", sizeof(who->name));
			who->role = TOKEN_ROLE_ADMIN;
			return 0;
		}
	}
	if (!auth) {
		snprintf(why, whyn, "this needs a token: send 'Authorization: Bearer TOKEN' "
				    "('cairn-collector token create NAME --role viewer' makes one)");
		return 401;
	}
	if (strncasecmp(auth, "Bearer ", 7)) {
		snprintf(why, whyn, "Authorization: use the Bearer scheme");
		return 401;
	}
	const char *tok = auth + 7;
	while (*tok == ' ')
		tok++;
	size_t len = strlen(tok);
	while (len && tok[len - 1] == ' ')
		len--;
	struct errbuf eb = { { 0 } };
	struct read_txn t;
	if (read_begin(w->api.rd, &t, &eb)) {
		snprintf(why, whyn, "%s", eb.msg);
		return 503;
	}
	int rc = token_verify(&t, tok, len, who);
	read_end(&t);
	if (rc) {
		snprintf(why, whyn, "the token is not valid (revoked, mistyped or never created)");
		return 401;
	}
	return 0;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, const char *method, const char *url,
				  struct web_reply *r)
{
	if (r->status >= 400) {
		const char *msg = json_string_value(json_object_get(r->body, "error"));
		enum MHD_Result rc = send_error(c, method, url, r->status, "%s", msg ? msg : "error");
		json_decref(r->body);
		free(r->raw);
		return rc;
	}
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
	if (r->etag[0] && inm && !strcmp(inm, r->etag)) {
		json_decref(r->body);
		free(r->raw);
		struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"",
									    MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		common_headers(resp);
		MHD_add_response_header(resp, "ETag", r->etag);
		enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, resp);
		MHD_destroy_response(resp);
		return rc;
	}
	char *s = r->raw ? r->raw : json_dumps(r->body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(r->body);
	if (!s)
		return send_error(c, method, url, 500, "out of memory");
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(s);
		return MHD_NO;
	}
	common_headers(resp);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	if (r->etag[0])
		MHD_add_response_header(resp, "ETag", r->etag);
	if (r->paged) {
		char n[32];
		snprintf(n, sizeof(n), "%zu", r->total);
		MHD_add_response_header(resp, "X-Total-Count", n);
		if (r->has_next) {
			snprintf(n, sizeof(n), "%zu", r->next_offset);
			MHD_add_response_header(resp, "X-Next-Offset", n);
		}
	}
	enum MHD_Result rc = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct web *w = cls;
	(void)version;
	/* POST and PUT carry a JSON body; DELETE and GET do not */
	bool post = !strcmp(method, "POST") || !strcmp(method, "PUT");
	bool write = post || !strcmp(method, "DELETE");
	if (post && !*con_cls) {
		/* the first call: only headers so far */
		struct req *rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	struct req *rq = *con_cls;
	if (rq && rq->pend.queued) {
		/* resumed: the report's group is committed */
		if (!rq->answered)
			return MHD_YES;
		rq->pend.queued = false;
		web_api_pending_reply(&rq->pend);
		char ip[INET6_ADDRSTRLEN];
		client_text(c, ip, sizeof(ip));
		if (rq->reply.status < 400)
			log_msg(LOGL_INFO, "web: %s %s %.120s by token '%s': done", ip, method, url, rq->who);
		return send_reply(c, method, url, &rq->reply);
	}
	if (post && *upload_size) {
		if (!rq->too_big && rq->len + *upload_size <= WEBQ_BODY_MAX) {
			char *b = realloc(rq->body, rq->len + *upload_size + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + rq->len, upload, *upload_size);
			rq->body = b;
			rq->len += *upload_size;
			rq->body[rq->len] = 0;
		} else {
			rq->too_big = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	int nheaders = MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL);
	if (nheaders > WEB_HEADERS_MAX)
		return send_error(c, method, url, 431, "%d request headers: at most %d", nheaders,
				  WEB_HEADERS_MAX);
	if (strcmp(method, "GET") && strcmp(method, "HEAD") && !write)
		return send_error(c, method, url, 405, "method %.20s: use GET, POST, PUT or DELETE",
				  method);
	if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
		return serve_asset(w, c, method, url, "index.html");
	if (!strncmp(url, "/assets/", 8))
		return serve_asset(w, c, method, url, url + 8);
	if (strncmp(url, "/api/v1/", 8))
		return send_error(c, method, url, 404, "no page here: the console is at /, the API below /api/v1/");
	if (rq && rq->too_big)
		return send_error(c, method, url, 413, "request body: at most %d bytes", WEBQ_BODY_MAX);
	struct token_info who;
	char why[600];
	unsigned st = authenticate(w, c, &who, why, sizeof(why));
	if (st)
		return send_error(c, method, url, st, "%s", why);
	struct webq q;
	webq_init(&q);
	struct errbuf eb = { { 0 } };
	struct args_ctx ac = { &q, &eb, 0 };
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_arg, &ac);
	if (ac.rc)
		return send_error(c, method, url, 400, "%s", eb.msg);
	if (rq && !strcmp(method, "PUT")) {
		rq->c = c;
		rq->pend.resume = resume_req;
		rq->pend.arg = rq;
		str_copy(rq->who, who.name, sizeof(rq->who));
		if (web_api_handle_async(&w->api, &who, method, url + 8, &q, rq->body, rq->len,
					 &rq->reply, &rq->pend)) {
			MHD_suspend_connection(c);
			return MHD_YES;
		}
		return send_reply(c, method, url, &rq->reply);
	}
	struct web_reply r;
	web_api_handle(&w->api, &who, method, url + 8, &q, rq ? rq->body : NULL, rq ? rq->len : 0, &r);
	if (write && r.status < 400) {
		char ip[INET6_ADDRSTRLEN];
		client_text(c, ip, sizeof(ip));
		log_msg(LOGL_INFO, "web: %s %s %.120s by token '%s': done", ip, method, url, who.name);
	}
	return send_reply(c, method, url, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct req *rq = *con_cls;
	if (rq) {
		if (rq->pend.queued && rq->answered)
			web_api_pending_free(&rq->pend); /* closed before it was answered */
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	log_msg(LOGL_NOTICE, "web: libmicrohttpd: %s", msg);
}

/* ---------------------------------------------------------------- start/stop */

static int read_pem(const char *path, bool secret, char **out, struct errbuf *eb)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(eb, -errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
		close(fd);
		return errbuf_set(eb, -EINVAL, "%s: not a PEM file of at most 1 MiB", path);
	}
	if (secret && (st.st_mode & 077)) {
		close(fd);
		return errbuf_set(eb, -EACCES,
				  "%s: the TLS key is readable by group or others (mode %03o): chmod 600 it",
				  path, (unsigned)(st.st_mode & 0777));
	}
	char *b = malloc((size_t)st.st_size + 1);
	ssize_t got = b ? read(fd, b, (size_t)st.st_size) : -1;
	close(fd);
	if (got != st.st_size) {
		free(b);
		return errbuf_set(eb, -EIO, "%s: could not read it", path);
	}
	b[got] = 0;
	*out = b;
	return 0;
}

int web_start(struct web **out, const struct web_opts *o, struct errbuf *eb)
{
	const struct collector_config *cfg = o->cfg;
	char host[256];
	uint16_t port = 0;
	if (config_split_hostport(cfg->web_listen, host, sizeof(host), &port) || !*host)
		return errbuf_set(eb, -EINVAL, "web_listen = %s: use HOST:PORT (e.g. 127.0.0.1:7480)",
				  cfg->web_listen);
	bool tls = *cfg->web_tls_cert || *cfg->web_tls_key;
	if (tls && (!*cfg->web_tls_cert || !*cfg->web_tls_key))
		return errbuf_set(eb, -EINVAL, "HTTPS needs both web_tls_cert and web_tls_key");
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	if (getaddrinfo(host, portstr, &hints, &ai) || !ai)
		return errbuf_set(eb, -EINVAL, "web_listen = %s: '%s' is not an IP address",
				  cfg->web_listen, host);
	if (!web_addr_is_loopback(host) && !tls) {
		freeaddrinfo(ai);
		return errbuf_set(eb, -EINVAL,
				  "web_listen = %s is not a loopback address: the console then needs "
				  "HTTPS (set web_tls_cert and web_tls_key) so tokens never cross the "
				  "network in clear; or listen on 127.0.0.1",
				  cfg->web_listen);
	}
	struct web *w = calloc(1, sizeof(*w));
	if (!w) {
		freeaddrinfo(ai);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	int rc;
	if ((rc = web_assets_dir(w->assets, sizeof(w->assets), eb)) ||
	    (rc = web_d3_path(w->d3, sizeof(w->d3), eb)) ||
	    (tls && ((rc = read_pem(cfg->web_tls_cert, false, &w->cert, eb)) ||
		     (rc = read_pem(cfg->web_tls_key, true, &w->key, eb))))) {
		freeaddrinfo(ai);
		free(w->cert);
		free(w->key);
		free(w);
		return rc;
	}
	w->tls = tls;
	w->allow_loopback = !strcmp(cfg->web_allow_loopback, "true");
	web_api_init(&w->api, o->rd);
	w->api.enroll = o->enroll;
	/* task reports wait for their commit suspended, not in a request thread */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL },
		{ MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr },
		{ MHD_OPTION_THREAD_POOL_SIZE, o->threads ? o->threads : WEB_THREADS, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, WEB_CONNECTIONS, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, WEB_PER_IP_CONNECTIONS, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, WEB_TIMEOUT_S, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, WEB_HEADER_BYTES, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
		{ tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, w->cert },
		{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, w->key },
		{ MHD_OPTION_END, 0, NULL },
	};
	progress_writer_start(&w->api.progress); /* else reports are written in request threads */
	w->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, w, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!w->d) {
		web_api_free(&w->api);
		free(w->cert);
		free(w->key);
		free(w);
		return errbuf_set(eb, -EADDRINUSE,
				  "could not listen on %s (in use, not an address of this host, or the "
				  "TLS certificate/key do not load): see the log line above",
				  cfg->web_listen);
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned bound = di ? di->port : port;
	bool v6 = strchr(host, ':') != NULL;
	snprintf(w->url, sizeof(w->url), "%s://%s%s%s:%u/", tls ? "https" : "http", v6 ? "[" : "",
		 host, v6 ? "]" : "", bound);
	*out = w;
	return 0;
}

const char *web_url(const struct web *w)
{
	return w->url;
}

void web_stop(struct web *w)
{
	if (!w)
		return;
	/* answers the queued reports (resuming their connections) first */
	progress_writer_stop(&w->api.progress);
	MHD_stop_daemon(w->d);
	web_api_free(&w->api);
	if (w->key) {
		memset(w->key, 0, strlen(w->key));
		free(w->key);
	}
	free(w->cert);
	free(w);
}
