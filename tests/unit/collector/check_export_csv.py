#!/usr/bin/env python3
"""Parses every CSV export under the given directories with Python's csv
module (strict RFC 4180 dialect) and checks their shape: a header with unique
names, every row as wide as the header, the Migration Hub template columns
exactly as documented, and the Application Discovery files' headers.
Exit 0 when all parse; 1 with one line per problem otherwise."""
import csv
import os
import sys

MHUB = ("ExternalId,SMBiosId,IPAddress,MACAddress,HostName,VMware.MoRefId,VMware.VCenterId,"
        "CPU.NumberOfProcessors,CPU.NumberOfCores,CPU.NumberOfLogicalCores,OS.Name,OS.Version,"
        "VMware.VMName,RAM.TotalSizeInMB,RAM.UsedSizeInMB.Avg,RAM.UsedSizeInMB.Max,"
        "CPU.UsagePct.Avg,CPU.UsagePct.Max,DiskReadsPerSecondInKB.Avg,DiskReadsPerSecondInKB.Max,"
        "DiskWritesPerSecondInKB.Avg,DiskWritesPerSecondInKB.Max,DiskReadsOpsPerSecond.Avg,"
        "DiskReadsOpsPerSecond.Max,DiskWritesOpsPerSecond.Avg,DiskWritesOpsPerSecond.Max,"
        "NetworkReadsPerSecondInKB.Avg,NetworkReadsPerSecondInKB.Max,"
        "NetworkWritesPerSecondInKB.Avg,NetworkWritesPerSecondInKB.Max,Applications,"
        "ApplicationWave,Tags,ServerId").split(",")

ADS_FIRST = {
    "osInfo": ["accountNumber", "agentId", "osName", "osVersion", "cpuType", "hostName",
               "hypervisor", "timestamp"],
    "networkInterface": ["accountNumber", "agentId", "name", "macAddress", "family",
                         "ipAddress", "gateway", "netMask", "timestamp"],
    "process": ["accountNumber", "agentId", "agentAssignedProcessId", "isSystem", "name",
                "cmdLine", "path", "agentProvidedTimeStamp"],
    "sourceProcessConnection": ["accountNumber", "agentId", "sourceIp", "sourcePort",
                                "destinationIp", "destinationPort", "ipVersion",
                                "transportProtocol", "agentAssignedProcessId",
                                "agentCreationDate"],
}
ADS_FIRST["destinationProcessConnection"] = ADS_FIRST["sourceProcessConnection"]

# plan export (docs/exports.md "Wave plan CSV")
PLAN = ["Wave", "Application", "AppId", "Hosts", "Environment", "Criticality", "Score",
        "Confidence", "Rules", "Reasons", "Pinned"]


class Strict(csv.excel):
    strict = True


def check(path, problems):
    with open(path, newline="", encoding="utf-8") as f:
        data = f.read()
    if data and not data.endswith("\r\n"):
        problems.append(f"{path}: records must end with CRLF")
    try:
        rows = list(csv.reader(data.splitlines(keepends=True), dialect=Strict))
    except csv.Error as e:
        problems.append(f"{path}: not parseable: {e}")
        return 0
    if not rows:
        problems.append(f"{path}: empty")
        return 0
    header = rows[0]
    if len(set(header)) != len(header):
        problems.append(f"{path}: duplicate column names")
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            problems.append(f"{path}:{i}: {len(row)} fields, header has {len(header)}")
    base = os.path.basename(path)[:-4]
    if base.startswith("mhub") or header[:1] == ["ExternalId"]:
        if header != MHUB:
            problems.append(f"{path}: Migration Hub header differs from the template")
        for i, row in enumerate(rows[1:], start=2):
            if not row[0]:
                problems.append(f"{path}:{i}: ExternalId empty")
            for col in ("RAM.TotalSizeInMB", "CPU.UsagePct.Avg", "CPU.UsagePct.Max"):
                v = row[header.index(col)]
                if v:
                    float(v)
        if len(rows) - 1 > 25000 or len(data.encode()) > 10 * 1000 * 1000:
            problems.append(f"{path}: beyond the import limits")
    if base == "plan":
        if header != PLAN:
            problems.append(f"{path}: plan header {header} differs from the documented columns")
        for i, row in enumerate(rows[1:], start=2):
            if row[0] and not row[0].isdigit():
                problems.append(f"{path}:{i}: Wave '{row[0]}' is not a number")
            if row[10] not in ("yes", "no"):
                problems.append(f"{path}:{i}: Pinned '{row[10]}' is not yes/no")
    if base in ADS_FIRST and header != ADS_FIRST[base]:
        problems.append(f"{path}: header {header} differs from the agent export columns")
    return len(rows) - 1


def main():
    problems = []
    files = 0
    for top in sys.argv[1:]:
        for root, _, names in os.walk(top):
            for name in sorted(names):
                if name.endswith(".csv"):
                    check(os.path.join(root, name), problems)
                    files += 1
    if not files:
        problems.append("no CSV files found in " + " ".join(sys.argv[1:]))
    for p in problems:
        print(p)
    print(f"{files} CSV files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
