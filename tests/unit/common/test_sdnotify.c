/* sdnotify: the datagram systemd would receive, path and abstract sockets,
 * and the watchdog environment (WATCHDOG_PID for another process ignored). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

static int listener(const char *name, bool abstract)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	memcpy(sa.sun_path + (abstract ? 1 : 0), name, n);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, len), 0, "bind %s: %s", name, strerror(errno));
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	cr_assert_gt(n, 0, "no datagram received: %s", strerror(errno));
	buf[n] = '\0';
	cr_assert_str_eq(buf, want);
}

Test(sdnotify, path_socket_gets_the_state)
{
	char dir[] = "/tmp/cairn-sdnotify-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/notify", dir);
	int fd = listener(path, false);
	setenv("NOTIFY_SOCKET", path, 1);
	cr_assert(sdnotify_enabled());
	cr_assert_eq(sdnotify_send("READY=1"), 0);
	expect_datagram(fd, "READY=1");
	cr_assert_eq(sdnotify_send("WATCHDOG=1"), 0);
	expect_datagram(fd, "WATCHDOG=1");
	close(fd);
	unlink(path);
	rmdir(dir);
	/* The manager went away: an error, not a crash or a hang. */
	cr_assert_lt(sdnotify_send("READY=1"), 0);
}

Test(sdnotify, abstract_socket)
{
	char name[64];
	snprintf(name, sizeof(name), "cairn-sdnotify-%d", (int)getpid());
	int fd = listener(name, true);
	char env[80];
	snprintf(env, sizeof(env), "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	cr_assert_eq(sdnotify_send("STOPPING=1"), 0);
	expect_datagram(fd, "STOPPING=1");
	close(fd);
}

Test(sdnotify, without_a_manager)
{
	unsetenv("NOTIFY_SOCKET");
	cr_assert_not(sdnotify_enabled());
	cr_assert_eq(sdnotify_send("READY=1"), -ENOTCONN);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	cr_assert_eq(sdnotify_send("READY=1"), -EINVAL);
}

Test(sdnotify, watchdog_environment)
{
	char pid[32];
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	cr_assert_eq(sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "60000000", 1);
	cr_assert_eq(sdnotify_watchdog_usec(), 60000000);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	cr_assert_eq(sdnotify_watchdog_usec(), 60000000);
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	cr_assert_eq(sdnotify_watchdog_usec(), 0, "a watchdog meant for another process");
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "sixty", 1);
	cr_assert_eq(sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "-5", 1);
	cr_assert_eq(sdnotify_watchdog_usec(), 0);
}
