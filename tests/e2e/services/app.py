"""Application server of the "shop" application: an HTTP service on :8000 that
keeps one PostgreSQL connection and one Redis connection open and uses both on
every request (the pattern of a typical three-tier web app)."""
import http.server
import socket
import sys

import psycopg2

DB, CACHE = sys.argv[1], sys.argv[2]
db = psycopg2.connect(host=DB, port=5432, user="postgres", dbname="postgres", connect_timeout=5)
db.autocommit = True
cache = socket.create_connection((CACHE, 6379), timeout=5)


def redis(*args):
    cmd = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    cache.sendall(cmd)
    return cache.recv(4096)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with db.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity")
            n = cur.fetchone()[0]
        hits = redis(b"INCR", b"hits")
        body = b"sessions=%d hits=%s\n" % (n, hits.strip())
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
