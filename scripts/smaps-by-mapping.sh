#!/usr/bin/env bash
# Prints a process's memory per mapped file (from /proc/PID/smaps), largest Rss first, in KiB:
#   Rss      resident pages of the mapping (what VmRSS adds up)
#   Pss      Rss with each page divided by the number of processes mapping it
#   ShClean  / ShDirty   pages also mapped by another process (clean: can be dropped and re-read)
#   PrClean  / PrDirty   pages mapped by this process only; PrDirty of a file mapping is mostly
#                        what the dynamic loader relocated (copy-on-write copies, also in Anon) —
#                        a file written moments ago also shows its not yet written-back pages here
#   Anon     anonymous pages (heap, stacks, copy-on-write copies of file pages)
#   Ref      pages accessed since they were mapped, or since `echo 1 > /proc/PID/clear_refs`
#            (clear, wait, run again: Ref is then the mapping's working set over the wait)
#   Size     virtual size of the mappings
# Mappings without a file are grouped as [anon]; [heap], [stack], [vdso] keep their names.
# A file's Rss counts every page the kernel mapped, not only the pages touched: a fault maps the
# cached neighbours too (fault-around, 64 KiB windows; whole large folios), so compare binaries
# from the same page-cache state (e.g. evicted first: fsync + POSIX_FADV_DONTNEED on the file).
# Usage: bash smaps-by-mapping.sh PID [-p]     (-p: one row per file *and* permission, e.g. r-xp
#        for code, r--p for read-only data, rw-p for relocated data and .bss)
# Needs read access to /proc/PID/smaps (root for another user's process).
set -euo pipefail
pid=${1:?usage: $0 PID [-p]}
by_perm=${2:-}
case "$by_perm" in ''|-p) ;; *) echo "usage: $0 PID [-p]" >&2; exit 2 ;; esac
[ -r "/proc/$pid/smaps" ] || { echo "cannot read /proc/$pid/smaps" >&2; exit 1; }
awk -v by_perm="$by_perm" '
  /^[0-9a-f]+-[0-9a-f]+ / {
    name = "[anon]"
    if (NF >= 6) { name = $6; for (i = 7; i <= NF; i++) name = name " " $i }
    if (by_perm == "-p") name = name " " $2
    next
  }
  $1 ~ /^(Size|Rss|Pss|Shared_Clean|Shared_Dirty|Private_Clean|Private_Dirty|Anonymous|Referenced):$/ {
    key = substr($1, 1, length($1) - 1)
    v[name, key] += $2; tot[key] += $2; seen[name] = 1
  }
  END {
    n = split("Rss Pss Shared_Clean Shared_Dirty Private_Clean Private_Dirty Anonymous Referenced Size", k, " ")
    fmt = "%8s %8s %8s %8s %8s %8s %8s %8s %9s  %s\n"
    printf fmt, "Rss", "Pss", "ShClean", "ShDirty", "PrClean", "PrDirty", "Anon", "Ref", "Size", "mapping (KiB)"
    for (m in seen) {
      line = ""
      for (i = 1; i <= n; i++) line = line sprintf(i == n ? "%9d" : "%8d ", v[m, k[i]])
      printf "%s  %s\n", line, m | "sort -k1,1nr"
    }
    close("sort -k1,1nr")
    line = ""
    for (i = 1; i <= n; i++) line = line sprintf(i == n ? "%9d" : "%8d ", tot[k[i]])
    printf "%s  %s\n", line, "TOTAL"
  }
' "/proc/$pid/smaps"
grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|Threads):' "/proc/$pid/status" | tr -s ' \t' ' ' | paste -sd' ' -
