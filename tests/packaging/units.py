#!/usr/bin/env python3
"""Every cairn-agent unit uses only directives its systemd generation knows.

For each unit (the hand-written packaging/cairn-agent.service for systemd 246
and newer; packaging/systemd/cairn-agent.service.systemdN for generation N),
every Key=value must be in packaging/systemd/directives.tsv (the table of
directives by systemd release, with its sources) with since <= the
generation; the generated units must be what gen-units.py writes today; and
the capabilities the agent needs must reach it in every generation (ambient
capabilities, or file capabilities where systemd has none).
Usage: units.py SOURCE_ROOT
"""
import os
import subprocess
import sys

root = sys.argv[1]
sys.path.insert(0, os.path.join(root, 'packaging', 'systemd'))
import importlib
gen_units = importlib.import_module('gen-units')

table = gen_units.load_table()
units = {os.path.join(root, 'packaging', 'cairn-agent.service'): 246}
for gen in gen_units.GENERATIONS:
    units[gen_units.target(gen)] = gen
fails = []
for path, gen in units.items():
    lines = gen_units.parse(path)
    keys = {k for _, k, _ in lines}
    for section, key, value in lines:
        s = gen_units.since(table, key, value)
        if s is None:
            fails.append('%s: %s %s=%s is not in directives.tsv' % (path, section, key, value))
        elif s > gen:
            fails.append('%s: %s=%s needs systemd %d, the unit is for %d' % (path, key, value, s, gen))
    caps = dict((k, v) for _, k, v in lines if k in ('AmbientCapabilities', 'CapabilityBoundingSet'))
    for k, v in caps.items():
        for c in v.split():
            if table.get(c, 0) > gen:
                fails.append('%s: %s=%s: systemd %d does not know %s (needs %d) and would '
                             'ignore the whole list' % (path, k, v, gen, c, table[c]))
    filters = [v for _, k, v in lines if k == 'SystemCallFilter' and not v.startswith('~')]
    if filters and not any(v.startswith('@') for v in filters):
        fails.append('%s: SystemCallFilter= allows only %s: every other system call would fail'
                     % (path, ' '.join(filters)))
    want = {'CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE'}
    if not want <= set(caps.get('CapabilityBoundingSet', '').split()):
        fails.append('%s: CapabilityBoundingSet lacks %s' % (path, want))
    if gen >= table['AmbientCapabilities']:
        if not want <= set(caps.get('AmbientCapabilities', '').split()):
            fails.append('%s: AmbientCapabilities lacks %s' % (path, want))
    else:
        for k in sorted(keys & set(gen_units.NNP_IMPLIED_BY + ('NoNewPrivileges',))):
            fails.append('%s: %s= implies NoNewPrivileges=, which keeps the file capabilities '
                         'from applying' % (path, k))
        if 'file capabilities' not in open(path).read():
            fails.append('%s: does not say the package sets file capabilities' % path)
    if gen < table['StateDirectory'] and not keys & {'ReadWritePaths', 'ReadWriteDirectories'}:
        fails.append('%s: no writable state directory' % path)
    print('%-60s systemd %d: %d directives' % (os.path.relpath(path, root), gen, len(lines)))

rc = subprocess.call([sys.executable, os.path.join(root, 'packaging', 'systemd', 'gen-units.py'), '--check'])
if rc:
    fails.append('generated units are stale')
for f in fails:
    print('FAIL: ' + f)
sys.exit(1 if fails else 0)
