"""Every host ships its log lines to the shared syslog server over one
long-lived TCP connection (RFC 6587 octet-stuffed lines), like an rsyslog
forwarder does."""
import socket
import sys
import time

server, host = sys.argv[1], sys.argv[2]
while True:
    try:
        s = socket.create_connection((server, 514), timeout=5)
        n = 0
        while True:
            n += 1
            s.sendall(b"<14>1 - %s logship - - - line %d\n" % (host.encode(), n))
            time.sleep(1)
    except OSError as e:
        print("logship:", e, flush=True)
        time.sleep(1)
