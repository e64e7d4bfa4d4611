/* export html: the console as one self-contained file that opens from disk
 * without a server (for e-mailing a plan): the console's page, style and
 * script with d3 (node-d3) inlined, and the documents its pages read
 * (overview, map at application level with every application expandable,
 * applications, readiness, sizing, cost, waves and progress) as inline data.
 * Decisions and host pages need the console itself. */
#ifndef CAIRN_WEB_HTML_H
#define CAIRN_WEB_HTML_H

#include <stdio.h>

#include "read.h"
#include "store.pb-c.h"
#include "util.h"

/* Writes the file for snapshot s (t: the read transaction the agents, hosts
 * and statuses come from). app_id (may be NULL): the map shows that
 * application and what it talks to. */
int web_html_write(FILE *f, const struct read_txn *t, const Cairn__Store__Snapshot *s,
		   const char *app_id, struct errbuf *eb);

#endif
