/* What the web API reads from a request that is ours to parse: query
 * arguments (already split and percent-decoded by libmicrohttpd) and JSON
 * bodies. Pure functions over bytes from the network, so they have a fuzz
 * harness (tests/fuzz/fuzz_webq.c). Every error says which argument was wrong
 * and what is accepted; nothing here allocates except webq_body. */
#ifndef CAIRN_WEBQ_H
#define CAIRN_WEBQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "docs.h"
#include "util.h"

#define WEBQ_TEXT_MAX 256        /* an app or host as a person names it */
#define WEBQ_LIMIT_MAX 100000    /* rows per page at most */
#define WEBQ_ROWS_DEFAULT 10000  /* larger lists are paged even without limit */
#define WEBQ_BODY_MAX 65536      /* bytes of a JSON body */

struct webq {
	enum docs_level level;
	char app[WEBQ_TEXT_MAX];
	char host[WEBQ_TEXT_MAX];
	uint64_t since_ms;       /* a duration back from now; 0 = the stored map */
	size_t limit, offset;
	bool has_limit;
	bool pending;            /* agents?pending=1 */
};

void webq_init(struct webq *q);

/* One argument: level, app, host, since, limit, offset, pending. Unknown
 * names are refused (a typo should not silently return everything).
 * 0 or -EINVAL with eb naming the argument. value NULL = "name" without '='. */
int webq_arg(struct webq *q, const char *name, const char *value, struct errbuf *eb);

/* A request body: a JSON object of at most WEBQ_BODY_MAX bytes. *out is a new
 * reference. -EINVAL (eb says where it does not parse), -E2BIG. */
int webq_body(const char *body, size_t len, json_t **out, struct errbuf *eb);

/* A string member of a body object: 1..max bytes of UTF-8 without control
 * characters. NULL with eb set when missing or unfit. */
const char *webq_body_str(const json_t *body, const char *key, size_t max, struct errbuf *eb);

/* Splits a path below /api/v1/ (libmicrohttpd decoded it) into at most n
 * segments (none empty, none "." or "..", no control characters), written
 * into seg[i] (each WEBQ_TEXT_MAX).
 * Returns the number of segments or -EINVAL. */
int webq_path(const char *path, char seg[][WEBQ_TEXT_MAX], int n);

#endif
