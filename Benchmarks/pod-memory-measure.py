#!/usr/bin/env python3
"""Memory of a CRI daemon and of every process it runs, for pod-memory-benchmark.sh.

    pod-memory-measure.py DAEMON_PID SELF_PID RUNTIME PHASE MODE   one JSON line on stdout
    pod-memory-measure.py --list DAEMON_PID SELF_PID               the run's processes but the daemon

The run's directory comes in $MEASURE_WORK (not in argv, so that this process is not one of the
run's). The run's processes are the daemon, every process whose command line names the run's
directory (conmon and containerd-shim-runc-v2 do), and all their descendants; SELF_PID (the
benchmark's shell) and this process are left out. Figures in KiB from /proc/PID/smaps_rollup
(Rss, Pss, Anonymous, Pss_Anon, Pss_File) and /proc/PID/status (VmPTE, page tables, which PSS leaves out).
"""
import json
import os
import sys

FIELDS = ("Rss", "Pss", "Anonymous", "Pss_Anon", "Pss_File", "Private_Clean", "Private_Dirty", "Shared_Clean")


def processes():
    """pid -> (ppid, comm, cmdline) of every process still there."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # exited meanwhile
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        table[int(name)] = (ppid, comm, cmdline)
    return table


def runs_processes(daemon, excluded):
    work = os.environ["MEASURE_WORK"]
    table = processes()
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    roots = [p for p, (_, _, cmd) in table.items() if work in cmd] + ([daemon] if daemon in table else [])
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in found or pid in excluded:
            continue
        found.add(pid)
        todo.extend(children.get(pid, []))
    return {p: table[p] for p in found}


def kind(comm):
    if comm == "conmon" or comm.startswith("containerd-shim"):
        return "monitor"
    if comm in ("pause", "skiff-pause"):
        return "pause"
    if comm == "sleep":
        return "workload"
    return "other:" + comm


def rollup(pid):
    values = dict.fromkeys(FIELDS, 0)
    values["VmPTE"] = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in values:
                    values[key] = int(rest.split()[0])
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmPTE:"):
                    values["VmPTE"] = int(line.split()[1])
    except OSError:
        return None
    return values


def by_mapping(pid, top=12):
    """The mappings of one process with the most PSS: [name, Rss, Pss, Private_Dirty]."""
    totals, name = {}, None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split()
                if "-" in first[0] and not first[0].endswith(":"):
                    name = os.path.basename(first[5]) if len(first) > 5 else "[anon]"
                    totals.setdefault(name, [0, 0, 0])
                elif first[0] in ("Rss:", "Pss:", "Private_Dirty:"):
                    totals[name][("Rss:", "Pss:", "Private_Dirty:").index(first[0])] += int(first[1])
    except OSError:
        return []
    return sorted(([n] + v for n, v in totals.items()), key=lambda r: -r[2])[:top]


def main():
    if sys.argv[1] == "--list":
        daemon, excluded = int(sys.argv[2]), {int(sys.argv[3]), os.getpid()}
        for pid, (_, comm, cmd) in sorted(runs_processes(daemon, excluded).items()):
            if pid != daemon:
                print("process %d %s: %s" % (pid, comm, cmd[:160]))
        return
    daemon, self_pid, runtime, phase, mode = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:6]
    found = runs_processes(daemon, {self_pid, os.getpid()})
    result = {"runtime": runtime, "phase": phase, "mode": mode, "daemon": rollup(daemon), "kinds": {}, "samples": {}}
    for pid, (_, comm, _) in sorted(found.items()):
        if pid == daemon:
            continue
        k, values = kind(comm), rollup(pid)
        if values is None:
            continue
        entry = result["kinds"].setdefault(k, dict.fromkeys(("count",) + FIELDS + ("VmPTE",), 0))
        entry["count"] += 1
        for key, value in values.items():
            entry[key] += value
        if k in ("monitor", "pause") and k not in result["samples"]:
            result["samples"][k] = {"pid": pid, "comm": comm, "rollup": values, "mappings": by_mapping(pid)}
    print(json.dumps(result))


main()
