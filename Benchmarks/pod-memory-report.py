#!/usr/bin/env python3
"""Tables for pod-memory-benchmark.sh: pod-memory-report.py MEMORY_JSONL CONTAINERS_PER_POD.

Per-pod PSS is what running the pods added on the node, divided by the pods: the growth of the
daemon's anonymous memory over its "ready" state (images pulled, one pod made and removed) plus the monitors, the pause
processes and any other helper; the workloads (`sleep`, the same for both runtimes) are shown
apart and not counted. Per-container PSS is the per-pod figure over the containers of a pod.
"""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
per_pod_containers = int(sys.argv[2])
runtimes = ["skiff", "containerd"]


def find(runtime, phase, mode="-"):
    for r in rows:
        if r["runtime"] == runtime and r["phase"] == phase and r["mode"] == mode:
            return r
    return None


def mib(kib):
    return "%.2f" % (kib / 1024)


def costs(runtime, mode):
    """{name: (RSS KiB, PSS KiB, count)} for one runtime's running pods, and the pod count."""
    ready, running = find(runtime, "ready"), find(runtime, "running", mode)
    if not ready or not running:
        return None, 0
    kinds = running["kinds"]
    pods = kinds.get("workload", {}).get("count", 0) // per_pod_containers
    # The daemon's anonymous memory only: its file pages (code) come and go with the page cache
    # (other builds on the machine evict them), which would swamp a per-pod figure.
    out = {"daemon growth (anonymous)": (running["daemon"].get("Anonymous", 0) - ready["daemon"].get("Anonymous", 0),
                                         running["daemon"]["Pss_Anon"] - ready["daemon"]["Pss_Anon"], 1)}
    for k in sorted(kinds):
        if k != "workload":
            out[k] = (kinds[k]["Rss"], kinds[k]["Pss"], kinds[k]["count"])
    total_rss = sum(v[0] for v in out.values())
    total_pss = sum(v[1] for v in out.values())
    out["node total (without workloads)"] = (total_rss, total_pss, pods)
    w = kinds.get("workload", {})
    out["workloads (sleep), not counted"] = (w.get("Rss", 0), w.get("Pss", 0), w.get("count", 0))
    out["page tables of monitors + pause (VmPTE), not counted"] = (
        sum(kinds[k]["VmPTE"] for k in kinds if k != "workload"), 0, 0)
    return out, pods


modes = []
for r in rows:
    if r["phase"] == "running" and r["mode"] not in modes:
        modes.append(r["mode"])

print("### Daemon (KiB RSS / PSS / anonymous PSS)\n")
print("| phase | " + " | ".join(runtimes) + " |\n|---|" + "---|" * len(runtimes))
for phase, mode in [("idle", "-"), ("ready", "-")] + [(p, m) for m in modes for p in ("running", "removed")]:
    cells = []
    for rt in runtimes:
        r = find(rt, phase, mode)
        cells.append("%d / %d / %d" % (r["daemon"]["Rss"], r["daemon"]["Pss"], r["daemon"]["Pss_Anon"]) if r and r["daemon"] else "–")
    print("| %s%s | %s |" % (phase, "" if mode == "-" else " (PID mode %s)" % mode, " | ".join(cells)))

for mode in modes:
    results = {rt: costs(rt, mode) for rt in runtimes}
    print("\n### PID mode %s: what the pods add on the node (MiB RSS / PSS, count)\n" % mode)
    print("| | " + " | ".join(runtimes) + " |\n|---|" + "---|" * len(runtimes))
    names = []
    for rt in runtimes:
        for n in (results[rt][0] or {}):
            if n not in names:
                names.append(n)
    for n in names:
        cells = []
        for rt in runtimes:
            v = (results[rt][0] or {}).get(n)
            cells.append("%s / %s (%d)" % (mib(v[0]), mib(v[1]), v[2]) if v else "–")
        print("| %s | %s |" % (n, " | ".join(cells)))
    per = {}
    for rt in runtimes:
        c, pods = results[rt]
        if c and pods:
            total = c["node total (without workloads)"]
            per[rt] = (total[1] / pods, total[1] / pods / per_pod_containers,
                       c.get("monitor", (0, 0, 0))[1] / max(c.get("monitor", (0, 0, 1))[2], 1))
    print("\n| PID mode %s, PSS | %s | Skiff/containerd |\n|---|%s---|" % (mode, " | ".join(runtimes), "---|" * len(runtimes)))
    for i, label in enumerate(("per pod", "per container", "per monitor process")):
        cells = [("%.2f MiB" % (per[rt][i] / 1024)) if rt in per else "–" for rt in runtimes]
        ratio = "%.2f" % (per["skiff"][i] / per["containerd"][i]) if "skiff" in per and "containerd" in per and per["containerd"][i] else "–"
        print("| %s | %s | %s |" % (label, " | ".join(cells), ratio))

print("\n### One monitor and one pause process by mapping (KiB: Rss, Pss, Private_Dirty)\n")
for rt in runtimes:
    for mode in modes:
        r = find(rt, "running", mode)
        for k, s in sorted((r or {}).get("samples", {}).items()):
            ru = s["rollup"]
            print("- %s, PID mode %s, %s `%s`: Rss %d, Pss %d (anon %d, file %d), Private_Dirty %d, Shared_Clean %d; %s" % (
                rt, mode, k, s["comm"], ru["Rss"], ru["Pss"], ru["Pss_Anon"], ru["Pss_File"], ru["Private_Dirty"],
                ru["Shared_Clean"], ", ".join("%s %d/%d/%d" % tuple(m) for m in s["mappings"])))
