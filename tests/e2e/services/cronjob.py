"""A cron-like job of the "reports" application: each run is a new process
that connects to PostgreSQL, asks one question and exits within
milliseconds; a sampling agent sees almost none of these connections."""
import sys

import psycopg2

db = psycopg2.connect(host=sys.argv[1], port=5432, user="postgres", dbname="postgres",
                      connect_timeout=5)
with db.cursor() as cur:
    cur.execute("SELECT 1")
    cur.fetchall()
db.close()
