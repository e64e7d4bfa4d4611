/* The web console and JSON API (`cairn-collector web`): an HTTP(S) server
 * over libmicrohttpd in its own process, reading the store like every read
 * command (one read transaction per request, in the request's thread) and
 * writing decisions through decide.h like the CLI.
 *
 *   GET  /                         the console (assets/index.html), no token
 *   GET  /assets/NAME              its scripts and styles, d3 from node-d3
 *   GET  /api/v1/...               the read commands' --json documents (docs.h)
 *   POST /api/v1/...               decisions (operator), enrollment (admin)
 *
 * Every /api/ request needs `Authorization: Bearer TOKEN` (token.h) unless it
 * comes from loopback and web_allow_loopback = true. Bad input gets a 4xx with
 * a JSON body {"error": "..."} and a log line. Limits: 64 KiB of request line
 * and headers, 64 headers, 64 KiB of body, 100 connections per client
 * address, 30 s without progress closes a connection. */
#ifndef CAIRN_WEB_H
#define CAIRN_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "read.h"
#include "util.h"

#define WEB_PER_IP_CONNECTIONS 100
#define WEB_CONNECTIONS 1000
#define WEB_TIMEOUT_S 30
#define WEB_HEADER_BYTES 65536
#define WEB_HEADERS_MAX 64
#define WEB_THREADS 4

struct web;

struct web_opts {
	const struct collector_config *cfg;  /* web_listen, web_tls_*, web_allow_loopback */
	struct read_ctx *rd;                 /* opened writable (decisions); outlives the server */
	unsigned threads;                    /* 0 = WEB_THREADS */
	/* Enrollment (admin): agents accept|reject|revoke belong to ingest, which
	 * web may not reach (docs/architecture.md); the command line passes the
	 * same function `agents accept` uses. verb is "accept", "reject" or
	 * "revoke"; id_hex receives the agent. NULL: enrollment answers 501. */
	int (*enroll)(struct read_ctx *rd, const char *needle, const char *verb,
		      char id_hex[static 65], struct errbuf *eb);
};

/* Starts serving. -EINVAL with eb saying why for a bad address or a
 * non-loopback address without TLS, -EACCES for a key file others can read,
 * -EADDRINUSE etc. when the socket cannot be bound. */
int web_start(struct web **out, const struct web_opts *o, struct errbuf *eb);
/* "http://127.0.0.1:7480/" (the bound port, also when 0 was asked for). */
const char *web_url(const struct web *w);
void web_stop(struct web *w);

/* Where the console's files are: $CAIRN_WEB_ASSETS, the installed
 * <datadir>/cairn/web, <binary>/../share/cairn/web, then the source tree.
 * d3: $CAIRN_D3_JS, else Debian's node-d3 (/usr/share/nodejs/d3/dist). */
int web_assets_dir(char *out, size_t n, struct errbuf *eb);
int web_d3_path(char *out, size_t n, struct errbuf *eb);

/* true for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 written as text. */
bool web_addr_is_loopback(const char *host);

#endif
