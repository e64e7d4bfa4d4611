/* cairn-connrate: short TCP connections at a steady rate on loopback, for the
 * capture's sustained-rate and drop benchmarks (tests/bench/capture_bench.py
 * rate, docs/benchmarks.md "Connection capture").
 *
 *   cairn-connrate RATE SECONDS [THREADS]
 *
 * A server thread accepts, reads the client's 64 bytes, answers 64 and
 * closes; THREADS client threads (default 4) each open, send, read and close
 * connections on a fixed schedule so the total is RATE per second. A client
 * that falls behind does not burst to catch up beyond one interval. Prints one
 * JSON line: connections completed, seconds, the rate reached, the server's
 * port and pid. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64

static atomic_ulong done, failed;
static atomic_int stop;
static int listen_fd;
static struct sockaddr_in addr;
static double rate_per_thread;
static double seconds;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int full_io(int fd, char *buf, size_t n, bool write_it)
{
	size_t off = 0;
	while (off < n) {
		ssize_t r = write_it ? write(fd, buf + off, n - off) : read(fd, buf + off, n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

static void *serve_one(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[MSG];
	if (!full_io(fd, buf, MSG, false))
		full_io(fd, buf, MSG, true);
	close(fd);
	return NULL;
}

static void *server(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		/* answered inline: 64 bytes each way never block on loopback */
		serve_one((void *)(intptr_t)fd);
	}
	return NULL;
}

static void *client(void *arg)
{
	(void)arg;
	int64_t step = (int64_t)(1e9 / rate_per_thread);
	int64_t start = now_ns(), next = start, end = start + (int64_t)(seconds * 1e9);
	char buf[MSG];
	memset(buf, 'c', sizeof(buf));
	while (next < end) {
		int64_t t = now_ns();
		if (t < next) {
			struct timespec ts = { (time_t)((next - t) / 1000000000LL),
					       (long)((next - t) % 1000000000LL) };
			nanosleep(&ts, NULL);
		} else if (t - next > step) {
			next = t - step; /* behind: no burst beyond one interval */
		}
		next += step;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			atomic_fetch_add(&failed, 1);
			continue;
		}
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) || full_io(fd, buf, MSG, true) ||
		    full_io(fd, buf, MSG, false))
			atomic_fetch_add(&failed, 1);
		else
			atomic_fetch_add(&done, 1);
		close(fd);
	}
	return NULL;
}

int main(int argc, char *argv[])
{
	if (argc < 3) {
		fprintf(stderr, "usage: cairn-connrate RATE SECONDS [THREADS]\n");
		return 2;
	}
	double rate = atof(argv[1]);
	seconds = atof(argv[2]);
	int threads = argc > 3 ? atoi(argv[3]) : 4;
	if (rate <= 0 || seconds <= 0 || threads < 1 || threads > 256) {
		fprintf(stderr, "cairn-connrate: RATE and SECONDS > 0, THREADS 1..256\n");
		return 2;
	}
	rate_per_thread = rate / threads;
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(addr);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(listen_fd, 4096) || getsockname(listen_fd, (struct sockaddr *)&addr, &len)) {
		perror("cairn-connrate: listen");
		return 1;
	}
	pthread_t srv, *cl = calloc((size_t)threads, sizeof(*cl));
	if (!cl)
		return 1;
	pthread_create(&srv, NULL, server, NULL);
	int64_t t0 = now_ns();
	for (int i = 0; i < threads; i++)
		pthread_create(&cl[i], NULL, client, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(cl[i], NULL);
	double took = (double)(now_ns() - t0) / 1e9;
	atomic_store(&stop, 1);
	/* wake the accept */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0) {
		connect(fd, (struct sockaddr *)&addr, sizeof(addr));
		close(fd);
	}
	pthread_join(srv, NULL);
	unsigned long n = atomic_load(&done);
	printf("{\"connections\": %lu, \"failed\": %lu, \"seconds\": %.3f, \"rate\": %.1f, "
	       "\"port\": %u, \"pid\": %d}\n",
	       n, atomic_load(&failed), took, (double)n / took, ntohs(addr.sin_port), (int)getpid());
	free(cl);
	return 0;
}
