/* sdnotify: see sdnotify.h for the contract. */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

bool sdnotify_enabled(void)
{
	const char *s = getenv("NOTIFY_SOCKET");
	return s && *s;
}

int sdnotify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return -ENOTCONN;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
				      (path[0] == '/' ? 1 : 0));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = 0;
	ssize_t sent;
	do
		sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		rc = -errno;
	close(fd);
	return rc;
}

uint64_t sdnotify_watchdog_usec(void)
{
	const char *pid = getenv("WATCHDOG_PID");
	if (pid && *pid) {
		char *end;
		errno = 0;
		unsigned long long p = strtoull(pid, &end, 10);
		if (errno || *end || p != (unsigned long long)getpid())
			return 0;
	}
	const char *usec = getenv("WATCHDOG_USEC");
	if (!usec || !*usec)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(usec, &end, 10);
	if (errno || *end || usec[0] == '-')
		return 0;
	return v;
}
