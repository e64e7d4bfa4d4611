"""Batch job of the "reports" application: keeps a connection to its own
PostgreSQL and runs a report query every half second."""
import sys
import time

import psycopg2

while True:
    try:
        db = psycopg2.connect(host=sys.argv[1], port=5432, user="postgres", dbname="postgres",
                              connect_timeout=5)
        db.autocommit = True
        while True:
            with db.cursor() as cur:
                cur.execute("SELECT now(), count(*) FROM pg_class")
                cur.fetchall()
            time.sleep(0.5)
    except Exception as e:  # the database restarting is not the job's end
        print("report:", e, flush=True)
        time.sleep(1)
