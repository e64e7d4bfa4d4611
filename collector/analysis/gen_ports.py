#!/usr/bin/env python3
"""Turns data/ports.csv into the rows of depmap.c's port table (a C initializer
list, sorted by port). Fails the build, naming file:line, on a malformed row."""
import csv
import re
import sys


def fail(path, line, msg):
    sys.exit(f"{path}:{line}: {msg}")


def main():
    src, out = sys.argv[1], sys.argv[2]
    rows, header, last = [], None, 0
    with open(src, encoding="utf-8", newline="") as f:
        for lineno, text in enumerate(f, 1):
            if text.startswith("#") or not text.strip():
                continue
            fields = next(csv.reader([text]))
            if header is None:
                header = fields
                if header[:3] != ["port", "label", "infra"]:
                    fail(src, lineno, "header must start with port,label,infra")
                continue
            if len(fields) != len(header):
                fail(src, lineno, f"{len(fields)} fields, the header has {len(header)}")
            rec = dict(zip(header, fields))
            if not rec["port"].isdigit() or not 0 < int(rec["port"]) < 65536:
                fail(src, lineno, f"port '{rec['port']}' is not 1..65535")
            port = int(rec["port"])
            if port <= last:
                fail(src, lineno, f"port {port} is out of order or repeated (rows sorted by port)")
            last = port
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,23}", rec["label"]):
                fail(src, lineno, f"label '{rec['label']}': lower-case letters, digits, '-' (at most 24)")
            if rec["infra"] not in ("yes", "no"):
                fail(src, lineno, f"infra '{rec['infra']}' is not yes or no")
            if rec.get("source", "iana") not in ("iana", "de-facto"):
                fail(src, lineno, f"source '{rec['source']}' is not iana or de-facto")
            rows.append((port, rec["label"], rec["infra"] == "yes"))
    if not rows:
        fail(src, 1, "no rows")
    with open(out, "w", encoding="utf-8") as f:
        f.write(f"/* Generated from {src.split('/collector/')[-1]} by gen_ports.py: edit the CSV. */\n")
        for port, label, infra in rows:
            f.write(f'\t{{ {port}, "{label}", {"true" if infra else "false"} }},\n')


if __name__ == "__main__":
    main()
