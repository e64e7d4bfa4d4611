#!/usr/bin/env python3
"""Writes cairn-agent.service for older systemd generations from the one
hand-written unit, packaging/cairn-agent.service (systemd 245 and newer),
using the directive table directives.tsv (the hand-written unit is for 246+):

    python3 packaging/systemd/gen-units.py          rewrite the units
    python3 packaging/systemd/gen-units.py --check  exit 1 if one is stale

Each generation keeps what its systemd knows and replaces what it does not:
  219 (219-228: RHEL/CentOS 7, Amazon Linux 2, SLES 12)  no ambient
      capabilities: the package sets file capabilities on /usr/sbin/cairn-agent
      (mode 0750 root:cairn-agent, so only the service user can run it) and
      NoNewPrivileges= goes, with every setting that implies it (seccomp
      filters, PrivateDevices=: NNP_IMPLIED_BY), which would stop the exec
      from gaining them;
      ProtectSystem=full plus ReadWriteDirectories= for the state directory;
      MemoryLimit= for MemoryMax=
  229 (229-234: Ubuntu 16.04, Debian 9, SLES 15 SP0/SP1)  ambient
      capabilities; the same file system protection as 219
  235 (235-244: Ubuntu 18.04, RHEL 8, Debian 10)  StateDirectory= and
      ProtectSystem=strict; no @system-service filter, ProtectKernelLogs=,
      ProtectClock=, RestrictSUIDSGID=
  245 (Ubuntu 20.04)  everything but the capability names of Linux 5.8
      (CAP_BPF, CAP_PERFMON: known from systemd 246); event capture needs
      them, so the agent polls there (its kernel 5.4 has neither anyway)
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, '..', 'cairn-agent.service')
GENERATIONS = {
    219: '219-228 (RHEL/CentOS 7, Amazon Linux 2, SLES 12)',
    229: '229-234 (Ubuntu 16.04, Debian 9, SLES 15 SP0/SP1)',
    235: '235-244 (Ubuntu 18.04, RHEL 8, Debian 10)',
    245: '245 (Ubuntu 20.04)',
}
# Capability names a systemd only knows from a release on (a list holding an
# unknown name is ignored whole: the agent would lose every capability);
# directives.tsv has the release and its source. Dropped from older units.
CAP_NAMES = ('CAP_BPF', 'CAP_PERFMON')
# An allow-list addition (SystemCallFilter=bpf ...) kept after the group it
# adds to was dropped would become the whole allow list: it goes with it.
STATE_DIR = '/var/lib/cairn-agent'
# Settings that make systemd set no_new_privs for a service running as a
# user without CAP_SYS_ADMIN (they install seccomp filters or imply them;
# systemd.exec(5), NoNewPrivileges=). Where the agent's capabilities are file
# capabilities, any of them would keep the exec from gaining those, so the
# file-capability generation goes without them.
NNP_IMPLIED_BY = ('SystemCallFilter', 'SystemCallArchitectures', 'SystemCallErrorNumber',
                  'RestrictAddressFamilies', 'RestrictNamespaces', 'RestrictRealtime',
                  'RestrictSUIDSGID', 'MemoryDenyWriteExecute', 'LockPersonality',
                  'PrivateDevices', 'ProtectKernelTunables', 'ProtectKernelModules',
                  'ProtectKernelLogs', 'ProtectClock', 'ProtectHostname')


def load_table(path=os.path.join(HERE, 'directives.tsv')):
    table = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith('#'):
                continue
            cols = line.rstrip('\n').split('\t')
            if len(cols) != 3 or not cols[1].isdigit():
                raise SystemExit('%s:%d: want "directive<TAB>since<TAB>source"' % (path, n))
            table[cols[0]] = int(cols[1])
    return table


def since(table, key, value):
    """The systemd release that knows key=value; None when the table lacks it."""
    if '%s=%s' % (key, value) in table:
        return table['%s=%s' % (key, value)]
    return table.get(key)


def parse(path):
    """[(section, key, value)] of a unit file, comments and blanks dropped."""
    out, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in '#;':
                continue
            if line.startswith('['):
                section = line
                continue
            key, _, value = line.partition('=')
            out.append((section, key, value))
    return out


def generate(table, gen):
    lines = parse(SOURCE)
    keep = []
    dropped_allow = False
    for section, key, value in lines:
        if key in ('AmbientCapabilities', 'CapabilityBoundingSet'):
            value = ' '.join(c for c in value.split() if table.get(c, 0) <= gen)
        if key == 'SystemCallFilter' and not value.startswith('~') and dropped_allow:
            continue
        s = since(table, key, value)
        if s is None:
            raise SystemExit('%s: %s=%s is not in directives.tsv' % (SOURCE, key, value))
        if s <= gen:
            if key in NNP_IMPLIED_BY + ('NoNewPrivileges',) and gen < table['AmbientCapabilities']:
                continue  # file capabilities need the exec to gain privileges
            keep.append((section, key, value))
            continue
        # What replaces a directive this systemd does not know.
        if key == 'SystemCallFilter' and not value.startswith('~'):
            dropped_allow = True
        if key == 'ProtectSystem' and value == 'strict':
            keep.append((section, 'ProtectSystem', 'full'))
            rw = 'ReadWritePaths' if gen >= table['ReadWritePaths'] else 'ReadWriteDirectories'
            keep.append((section, rw, STATE_DIR))
        elif key == 'MemoryMax':
            keep.append((section, 'MemoryLimit', value))
        # Dropped without replacement: StateDirectory*, ConfigurationDirectory*
        # (the package creates both directories), MemoryHigh, the hardening
        # this systemd lacks, AmbientCapabilities (file capabilities instead).
    head = ['# cairn-agent for systemd %s.' % GENERATIONS[gen],
            '# GENERATED by packaging/systemd/gen-units.py from packaging/cairn-agent.service',
            '# (read that file for why each setting is there); do not edit.']
    if gen < table['AmbientCapabilities']:
        head += ['# This systemd has no AmbientCapabilities=: the package gives',
                 '# /usr/sbin/cairn-agent the file capabilities cap_dac_read_search and',
                 '# cap_sys_ptrace (mode 0750 root:cairn-agent: only the service user runs it),',
                 '# and the unit avoids every setting that implies NoNewPrivileges= (seccomp',
                 '# filters, PrivateDevices=), which would keep the exec from gaining them.']
    if gen < table['StateDirectory']:
        head += ['# No StateDirectory=: the package creates %s (0700).' % STATE_DIR]
    out, section = head, None
    for sec, key, value in keep:
        if sec != section:
            out += ['', sec]
            section = sec
        out.append('%s=%s' % (key, value))
    return '\n'.join(out) + '\n'


def target(gen):
    return os.path.join(HERE, 'cairn-agent.service.systemd%d' % gen)


def main():
    table = load_table()
    stale = []
    for gen in GENERATIONS:
        text = generate(table, gen)
        path = target(gen)
        if '--check' in sys.argv[1:]:
            try:
                with open(path) as f:
                    if f.read() != text:
                        stale.append(path)
            except FileNotFoundError:
                stale.append(path)
        else:
            with open(path, 'w') as f:
                f.write(text)
    if stale:
        print('stale (rerun packaging/systemd/gen-units.py): ' + ' '.join(stale))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
