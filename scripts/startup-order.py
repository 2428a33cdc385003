#!/usr/bin/env python3
"""Prints the functions of BINARY that a callgrind profile ran, one symbol per line, in the
binary's address order (scripts/generate-startup-order.sh).
Usage: startup-order.py BINARY PROFILE"""
import re
import subprocess
import sys

binary, profile = sys.argv[1], sys.argv[2]


def functions_ran(profile):
    """callgrind names an object or function once as "(id) name" and afterwards by "(id)" alone;
    "fn=" lines belong to the last "ob=", "cfn=" lines to the last "cob=" (or the "ob=")."""
    objects, functions, ran = {}, {}, set()
    current_object = called_object = None
    entry = re.compile(r"^(ob|cob|fn|cfn)=\((\d+)\)(?: (.*))?$")
    with open(profile, errors="replace") as lines:
        for line in lines:
            match = entry.match(line.rstrip("\n"))
            if not match:
                continue
            kind, number, name = match.groups()
            if kind in ("ob", "cob"):
                if name:
                    objects[number] = name
                if kind == "ob":
                    current_object = called_object = objects[number]
                else:
                    called_object = objects[number]
                continue
            if name:
                functions[number] = name
            owner = current_object if kind == "fn" else called_object
            if owner == binary:
                # callgrind marks recursion depth as name'N.
                ran.add(functions[number].split("'")[0])
            if kind == "fn":
                called_object = current_object
    return ran


address = {}
symbols = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True)
for line in symbols.stdout.splitlines():
    fields = line.split()
    if len(fields) == 3 and fields[1] in "tTwW":
        address.setdefault(fields[2], int(fields[0], 16))
for name in sorted((name for name in functions_ran(profile) if name in address), key=lambda name: address[name]):
    print(name)
