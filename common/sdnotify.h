/* sdnotify: systemd's service notification protocol (sd_notify(3)), spoken
 * directly so a program needs no libsystemd: the portable agent links
 * statically and Debian ships no libsystemd.a. The protocol is one datagram
 * of "KEY=VALUE\n" lines to the AF_UNIX socket named in $NOTIFY_SOCKET (a
 * path, or an abstract name when it starts with '@'); systemd documents it as
 * a stable interface ("Interface Portability and Stability", systemd.io).
 */
#ifndef CAIRN_SDNOTIFY_H
#define CAIRN_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* True when $NOTIFY_SOCKET is set (the service manager listens). */
bool sdnotify_enabled(void);

/* Sends `state` ("READY=1", "WATCHDOG=1", ...). 0, -ENOTCONN when there is no
 * $NOTIFY_SOCKET, -EINVAL for an unusable one, or the socket's -errno. */
int sdnotify_send(const char *state);

/* The watchdog interval systemd asks for ($WATCHDOG_USEC, honoured only when
 * $WATCHDOG_PID is unset or names this process), in microseconds; 0 when
 * there is none or it does not parse. */
uint64_t sdnotify_watchdog_usec(void);

#endif
