# Sourced by scripts/critest/run.sh and Benchmarks/side-by-side-common.sh: the CNI conflist both
# put critest's pods on (bridge with a gateway and hairpin, no masquerade; host-local addresses
# with a default route; portmap; loopback), so the runtimes compared see the same network.
#
#   write_bridge_conflist FILE NAME BRIDGE SUBNET IPAM_DIR
write_bridge_conflist() {
  cat > "$1" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$2",
  "plugins": [
    { "type": "bridge", "bridge": "$3", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$5",
                "routes": [{ "dst": "0.0.0.0/0" }], "ranges": [[{ "subnet": "$4" }]] } },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" }
  ]
}
JSON
}
