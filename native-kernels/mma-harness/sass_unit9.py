#!/usr/bin/env python3
"""Per-unit SASS counts of version 7's quantized unit loop (round 6; run where cuobjdump exists):
   sass_unit9.py BINARY KERNEL [KERNEL...]   (or sass_unit9.py --file SASS.txt ...)
The unit loop is the backward branch whose range holds the unit's HMMA (HMMA_PER_UNIT, default 32 = head dim 128,
TM 2); inside it the longest forward conditional branch is the key-group block (run once per group) and forward
branches of <= 40 instructions the lazy-rescale blocks (skipped when no running max moved). Prints the instructions
executed per unit without the group block and with the lazy blocks skipped, by opcode, and the group block."""
import collections, os, re, subprocess, sys

PER = int(os.environ.get("HMMA_PER_UNIT", "32"))


def load(args):
    if args[0] == "--file":
        for f in args[1:]:
            yield os.path.basename(f), open(f).read()
        return
    for fn in args[1:]:
        try:
            yield fn, subprocess.run(["cuobjdump", "-sass", "-fun", fn, args[0]], capture_output=True, text=True).stdout
        except FileNotFoundError:
            print("no cuobjdump"); return


def op(t):
    w = t.split()
    return (w[1] if w[0].startswith("@") else w[0]).split(".")[0]


for name, txt in load(sys.argv[1:]):
    ins = [(int(m.group(1), 16), m.group(2).strip()) for m in
           (re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?);", l) for l in txt.split("\n")) if m]
    brs = []
    for a, t in ins:
        if "BRA" in t and "BRA.DIV" not in t:
            mm = re.search(r"0x([0-9a-f]+)\s*$", t)
            if mm:
                brs.append((a, int(mm.group(1), 16), t))
    hm = [a for a, t in ins if "HMMA" in t]
    best = None
    for a, tg, t in brs:
        if tg < a and sum(1 for h in hm if tg <= h <= a) == PER and (best is None or tg < best[0]):
            best = (tg, a)
    if not best:
        print(f"== {name}: no unit loop with {PER} HMMA"); continue
    lo, hi = best
    skips = sorted(((sum(1 for x, _ in ins if a < x < tg), a, tg) for a, tg, t in brs if lo <= a <= hi and a < tg <= hi + 16),
                   reverse=True)
    grp = skips[0]
    excl = [(grp[1], grp[2])] + [(s[1], s[2]) for s in skips[1:] if s[0] <= 40]
    body = [t for x, t in ins if lo <= x <= hi and not any(a < x < b for a, b in excl)]
    g = [t for x, t in ins if grp[1] < x < grp[2]]
    c = collections.Counter(op(t) for t in body)
    print(f"== {name}: unit loop [{lo:#x}, {hi:#x}] {sum(1 for x, _ in ins if lo <= x <= hi)} static; per unit "
          f"{len(body)} (group block {len(g)} more per key group, lazy-rescale blocks {sum(s[0] for s in skips[1:] if s[0] <= 40)} when taken)")
    print("   unit: " + ", ".join(f"{k} {v}" for k, v in c.most_common()))
    print("   group: " + ", ".join(f"{k} {v}" for k, v in collections.Counter(op(t) for t in g).most_common(14)))
