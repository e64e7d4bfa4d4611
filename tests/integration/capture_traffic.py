#!/usr/bin/env python3
"""Short-lived traffic for the capture tests (tests/integration/capture.sh,
tests/bench/capture.sh): TCP connections that each send REQ bytes and read
RESP bytes, and UDP request/response exchanges over unconnected sockets.

  tcp-server HOST PORT REQ RESP READYFILE     serves until killed
  tcp-client HOST PORT N REQ RESP [HOLD_MS]   N connections, one after the other
  udp-server HOST PORT REQ RESP READYFILE     answers every datagram until killed
  udp-client HOST PORT N REQ RESP             N exchanges from one unconnected socket

HOLD_MS keeps each client connection open that long (the benchmark's 1-20 ms
connections: "1-20" picks uniformly). Clients exit non-zero when an exchange
fails, so a test never counts traffic that did not happen."""
import os
import random
import socket
import sys
import time


def ready(path):
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(path + ".tmp", path)


def recv_exact(sock, n):
    got = 0
    while got < n:
        chunk = sock.recv(min(65536, n - got))
        if not chunk:
            raise RuntimeError("peer closed after %d of %d bytes" % (got, n))
        got += len(chunk)


def tcp_server(host, port, req, resp, readyfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1024)
    ready(readyfile)
    payload = b"r" * resp
    while True:
        c, _ = s.accept()
        try:
            recv_exact(c, req)
            c.sendall(payload)
        except (OSError, RuntimeError):
            pass
        c.close()


def hold_seconds(spec):
    if not spec:
        return 0.0
    if "-" in spec:
        lo, hi = (float(x) for x in spec.split("-"))
        return random.uniform(lo, hi) / 1000.0
    return float(spec) / 1000.0


def tcp_client(host, port, n, req, resp, hold):
    payload = b"q" * req
    for _ in range(n):
        c = socket.create_connection((host, port), timeout=5)
        c.sendall(payload)
        recv_exact(c, resp)
        h = hold_seconds(hold)
        if h:
            time.sleep(h)
        if c.recv(1):
            raise RuntimeError("unexpected bytes after the response")
        c.close()


def udp_server(host, port, req, resp, readyfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    ready(readyfile)
    payload = b"r" * resp
    while True:
        _, addr = s.recvfrom(65536)
        s.sendto(payload, addr)


def udp_client(host, port, n, req, resp):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    payload = b"q" * req
    for _ in range(n):
        s.sendto(payload, (host, port))
        d, _ = s.recvfrom(65536)
        if len(d) != resp:
            raise RuntimeError("short answer: %d bytes" % len(d))


def main(argv):
    mode = argv[1]
    host, port = argv[2], int(argv[3])
    if mode == "tcp-server":
        tcp_server(host, port, int(argv[4]), int(argv[5]), argv[6])
    elif mode == "tcp-client":
        tcp_client(host, port, int(argv[4]), int(argv[5]), int(argv[6]),
                   argv[7] if len(argv) > 7 else "")
    elif mode == "udp-server":
        udp_server(host, port, int(argv[4]), int(argv[5]), argv[6])
    elif mode == "udp-client":
        udp_client(host, port, int(argv[4]), int(argv[5]), int(argv[6]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main(sys.argv)
