#!/usr/bin/env bash
# Removes the node-wide nat chains Debian's portmap creates on its first ADD and never removes
# (CNI-HOSTPORT-DNAT, -MASQ, -SETMARK), once no pod's rule is left in them: what the tests, critest
# runs and benchmarks leave on a node that had none. The next ADD creates them again.
#
# Runs with a portmap network in progress hold a shared flock(2) on this file (IntegrationTests'
# `PortmapChains.whileInUse`); while any does, this script does nothing, and one that starts waits
# until this script is done, so the chains never go from under an ADD of the tests.
set -u
exec 9<"${BASH_SOURCE[0]}"
flock --nonblock --exclusive 9 || exit 0
iptables -w -t nat -S CNI-HOSTPORT-DNAT 2>/dev/null | grep -q '^-A' && exit 0
iptables -w -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null
iptables -w -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null
iptables -w -t nat -D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ 2>/dev/null
for chain in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do
  iptables -w -t nat -F "$chain" 2>/dev/null
  iptables -w -t nat -X "$chain" 2>/dev/null
done
exit 0
