"""Users of the shop: HTTP requests to the load balancer in a loop."""
import sys
import time
import urllib.request

ok = fail = 0
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        urllib.request.urlopen("http://%s/" % sys.argv[1], timeout=3).read()
        ok += 1
    except Exception:
        fail += 1
    time.sleep(0.1)
print("requests ok=%d failed=%d" % (ok, fail), flush=True)
