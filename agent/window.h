/* Report-window aggregation of socket samples into connection edges.
 *
 * Ephemeral ports are collapsed (DESIGN.md, proto Edge):
 *   OUTBOUND key (process, remote address, remote port)
 *   INBOUND  key (process, local/listen port, remote address)
 *   LOCAL    key (client process, server process, server port); a connection
 *            whose both ends were seen is counted once, from its client end.
 * "process" is the identity (restart-stable) plus netns when known, the pid
 * otherwise; the edge reports the most recently seen pid.
 * Per edge: samples in which it existed, most sockets at once, first/last
 * seen, and bytes = growth of each socket's tcp_info counters between
 * samples. A socket first seen after the first sample counts from zero (it
 * was opened in between); sockets present in the very first sample are only a
 * baseline. Per-socket counters survive window_close(), so no bytes are lost
 * or double-counted across windows.
 * Listeners: union of every listener seen during the window.
 */
#ifndef CAIRN_AGENT_WINDOW_H
#define CAIRN_AGENT_WINDOW_H

#include <stdint.h>

#include "cairn.pb-c.h"
#include "capture.h"
#include "collect_sock.h"

struct window;

/* New window starting at start_ms. 0 or -ENOMEM. */
int window_new(struct window **out, int64_t start_ms);
void window_free(struct window *w);

/* Adds one sample. Process names/identities are copied from the sample's
 * scanner, so the sample may be discarded afterwards. 0 or -ENOMEM. */
int window_add_sample(struct window *w, const struct sock_sample *s);

/* Adds the flows of one capture take (connections opened/closed, short-lived
 * counts, durations, bytes at close, UDP datagrams). s (may be NULL) is the
 * scanner of the samples: its listeners name server ends whose listener
 * predates the capture, its addresses tell LOCAL from OUTBOUND. A client
 * flow whose server end is in the same take becomes one LOCAL edge (the
 * server's process as peer, UDP replies as received); the server end is not
 * counted again, in this take or a later one of this or the next window.
 * Closed connections that samples saw have the bytes the samples counted
 * subtracted, and their later samples add none. May change t. 0 or -ENOMEM. */
int window_add_flows(struct window *w, const struct sock_scanner *s, struct capture_take *t,
		     uint32_t short_lived_ms);

/* Closes the window at end_ms: builds the ConnectionWindow (edges sorted by
 * direction, process, remote) and the ListenerSet, then starts the next
 * window at end_ms. Either out pointer may be NULL. Free the results with
 * cairn__connection_window__free_unpacked(x, NULL) and
 * cairn__listener_set__free_unpacked(x, NULL). 0 or -ENOMEM. */
int window_close(struct window *w, int64_t end_ms, Cairn__ConnectionWindow **out,
		 Cairn__ListenerSet **listeners);

/* Number of distinct edges in the open window. */
size_t window_edge_count(const struct window *w);

#endif
