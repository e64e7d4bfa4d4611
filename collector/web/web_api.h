/* The /api/v1/ endpoints of the web server (web.h): what each returns is a
 * document of docs.h, so the API and the CLI's --json agree. Internal to
 * collector/web. */
#ifndef CAIRN_WEB_API_H
#define CAIRN_WEB_API_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "progress.h"
#include "read.h"
#include "token.h"
#include "webq.h"

/* The latest snapshot, unpacked once and shared by the request threads
 * until a newer version is stored. */
struct web_snap_cache {
	pthread_mutex_t lock;
	struct web_snap *cur;
};

/* Serialized answers of the snapshot documents by request and ETag: 200
 * clients asking for the same map get one JSON encoding, not 200. */
#define WEB_BODY_CACHE 32
struct web_body {
	char key[1400];
	char etag[96];
	char *body;
	bool paged, has_next;
	size_t total, next_offset;
	uint64_t used;
};

struct web_body_cache {
	pthread_mutex_t lock;
	struct web_body v[WEB_BODY_CACHE];
	uint64_t tick;
};

struct web_api {
	struct read_ctx *rd;
	int (*enroll)(struct read_ctx *rd, const char *needle, const char *verb,
		      char id_hex[static 65], struct errbuf *eb);
	struct web_snap_cache cache;
	struct web_body_cache bodies;
	struct progress_writer progress;   /* PUT .../tasks/TASK: grouped into shared commits */
};

struct web_reply {
	unsigned status;       /* HTTP status */
	json_t *body;          /* owned; {"error": ...} for errors */
	char *raw;             /* owned: the body already serialized (from the cache), or NULL */
	char etag[96];         /* "" = none */
	bool paged;
	size_t total, next_offset;
	bool has_next;
};

void web_api_init(struct web_api *a, struct read_ctx *rd);
void web_api_free(struct web_api *a);

/* Handles method path (below /api/v1/, without the query) for the caller.
 * Always fills r (status and body), also for errors. body/blen: the request
 * body of a POST or PUT (NULL/0 otherwise). */
void web_api_handle(struct web_api *a, const struct token_info *caller, const char *method,
		    const char *path, const struct webq *q, const char *body, size_t blen,
		    struct web_reply *r);

/* A task report (PUT .../tasks/TASK) queued to the progress writer's
 * thread: the request thread need not wait for the commit. Owned by the
 * caller (the request's state) until resume(arg) is called. */
struct web_pending {
	struct web_api *api;
	struct progress_update *u;
	struct progress_result res;
	char actor[96];
	int64_t now_ms;
	struct web_reply *r;
	bool queued;
	int rc;                     /* the commit's result ... */
	char msg[1100];             /* ... and what failed */
	void (*resume)(void *arg);  /* set by the caller: stored, call web_api_pending_reply */
	void *arg;
};

/* web_api_handle, except that a task report is queued: true when it was
 * (after the commit the writer thread calls pend->resume(arg); the request
 * thread then fills r with web_api_pending_reply), false when r is filled
 * already. */
bool web_api_handle_async(struct web_api *a, const struct token_info *caller, const char *method,
			  const char *path, const struct webq *q, const char *body, size_t blen,
			  struct web_reply *r, struct web_pending *pend);

/* The answer to a queued report whose commit is done, into pend->r. */
void web_api_pending_reply(struct web_pending *pend);
/* A queued report whose commit is done but that is not answered (its
 * connection ended): frees what it holds. */
void web_api_pending_free(struct web_pending *pend);

/* Sets r to status with {"error": msg}. */
void web_reply_error(struct web_reply *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
