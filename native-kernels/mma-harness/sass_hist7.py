#!/usr/bin/env python3
"""Opcode histogram of the hottest loop of kernels in a binary (round 3 of version 7; run where cuobjdump exists):
   sass_hist7.py BINARY KERNEL [KERNEL...]  -> per kernel: the longest backward-branch loop, its opcodes by count."""
import collections, re, subprocess, sys

binary = sys.argv[1]
for fn in sys.argv[2:]:
    try:
        txt = subprocess.run(["cuobjdump", "-sass", "-fun", fn, binary], capture_output=True, text=True).stdout
    except FileNotFoundError:
        print("no cuobjdump"); sys.exit(0)
    ins = []
    for l in txt.split("\n"):
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?);", l)
        if m:
            ins.append((int(m.group(1), 16), m.group(2).strip()))
    loops = []
    for a, t in ins:
        if "BRA" in t:
            mm = re.search(r"0x([0-9a-f]+)", t.split("BRA", 1)[1])
            if mm and int(mm.group(1), 16) < a:
                loops.append((a - int(mm.group(1), 16), int(mm.group(1), 16), a))
    print(f"== {fn}: {len(ins)} instructions")
    if not loops:
        continue
    loops.sort(reverse=True)
    _, lo, hi = loops[0]
    body = [t for a, t in ins if lo <= a <= hi]
    ops = collections.Counter()
    for t in body:
        w = t.split()
        op = w[1] if w[0].startswith("@") else w[0]
        ops[op.split(".")[0]] += 1
    print(f"   loop [{lo:#x}, {hi:#x}]: {len(body)} instructions; " +
          ", ".join(f"{k} {v}" for k, v in ops.most_common()))
    ldl = [t for t in body if t.startswith("LDL") or t.startswith("STL") or " LDL" in t or " STL" in t]
    print(f"   local memory in the loop: {len(ldl)}")
