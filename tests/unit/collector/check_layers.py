#!/usr/bin/env python3
"""The collector's stages depend on each other one way (docs/architecture.md):

    cli, web -> export -> plan -> analysis -> read -> store
    cli      -> ingest -> store;   everything -> common

Every #include "x.h" of a file under collector/STAGE/ must name a header of
its own stage or of a stage below it. Exits 1 listing each include that
points the wrong way (file:line: include -> stage), 0 when there is none."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', '..')
collector = os.path.join(root, 'collector')

# What each stage may include (besides itself and common/, proto/, generated headers).
allowed = {
    'store': set(),
    'read': {'store'},
    'analysis': {'read', 'store'},
    'plan': {'analysis', 'read', 'store'},
    'export': {'plan', 'analysis', 'read', 'store'},
    'ingest': {'store'},
    'cli': {'export', 'plan', 'analysis', 'read', 'store', 'ingest', 'web'},
    'web': {'export', 'plan', 'analysis', 'read', 'store'},
}
STORE_FILES = {'store.h', 'audit.h', 'rollup.h', 'imports.h'}  # live in ingest/ but are the store layer


def stage_of(folder, name):
    if folder == 'ingest' and name in STORE_FILES:
        return 'store'
    return folder


headers = {}
for folder in sorted(os.listdir(collector)):
    path = os.path.join(collector, folder)
    if not os.path.isdir(path):
        continue
    for f in os.listdir(path):
        if f.endswith('.h'):
            headers[f] = stage_of(folder, f)

bad = 0
checked = 0
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
for folder in sorted(os.listdir(collector)):
    path = os.path.join(collector, folder)
    if not os.path.isdir(path) or folder not in allowed and folder != 'ingest':
        continue
    for f in sorted(os.listdir(path)):
        if not f.endswith(('.c', '.h')):
            continue
        me = stage_of(folder, f)
        with open(os.path.join(path, f), encoding='utf-8', errors='replace') as fh:
            for n, line in enumerate(fh, 1):
                m = inc.match(line)
                if not m:
                    continue
                target = headers.get(os.path.basename(m.group(1)))
                if target is None or target == me:
                    continue
                checked += 1
                if target not in allowed.get(me, set()):
                    print('collector/%s/%s:%d: includes %s (%s): %s may not depend on %s'
                          % (folder, f, n, m.group(1), target, me, target))
                    bad += 1
if checked == 0:
    print('check_layers: no cross-stage include found under %s: wrong root?' % collector)
    sys.exit(1)
print('check_layers: %d cross-stage includes, %d pointing the wrong way' % (checked, bad))
sys.exit(1 if bad else 0)
