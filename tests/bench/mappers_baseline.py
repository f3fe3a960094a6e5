#!/usr/bin/env python3
"""Straightforward Python implementation of the im2col / SDK / VW-SDK search
(REFERENCE §2-§4), the baseline the C++ mappers are measured against.

Reads layer shapes from `imcsim map --format csv` (so both sides map the same layers),
maps every layer on every array size with each method, checks that its cycle counts
equal imcsim's, and prints the throughput in layer-mappings per second as JSON.
"""
import csv
import io
import json
import subprocess
import sys
import time


def cdiv(a, b):
    return -(-a // b)


def im2col(L, ar, ac):
    return L["O_h"] * L["O_w"] * cdiv(L["K_h"] * L["K_w"] * L["IC"], ar) * cdiv(L["OC"], ac)


def sdk(L, ar, ac):
    u_r = cdiv(L["K_h"] * L["K_w"] * L["IC"], ar)
    u_c = cdiv(L["OC"], ac)
    best = im2col(L, ar, ac)
    i = 2
    while i <= min(L["O_h"], L["O_w"]):
        pw_h = (i - 1) * L["S"] + L["K_h"]
        pw_w = (i - 1) * L["S"] + L["K_w"]
        if pw_h * pw_w * L["IC"] > ar * u_r or i * i * L["OC"] > ac * u_c:
            break
        best = min(best, cdiv(L["O_h"], i) * cdiv(L["O_w"], i) * u_r * u_c)
        i += 1
    return best


def vwsdk(L, ar, ac):
    best = None
    for i in range(1, L["O_w"] + 1):
        for j in range(1, L["O_h"] + 1):
            pw_w = (i - 1) * L["S"] + L["K_w"]
            pw_h = (j - 1) * L["S"] + L["K_h"]
            ict = ar // (pw_h * pw_w)
            oct_ = ac // (i * j)
            if ict < 1 or oct_ < 1:
                continue
            cc = cdiv(L["O_w"], i) * cdiv(L["O_h"], j) * cdiv(L["IC"], ict) * cdiv(L["OC"], oct_)
            if best is None or cc < best:
                best = cc
    flat = im2col(L, ar, ac)
    return flat if best is None or flat < best else best


METHODS = {"im2col": im2col, "sdk": sdk, "vwsdk": vwsdk}


def layers_of(imcsim, workload, size):
    out = subprocess.run([imcsim, "map", "--workload", workload, "--array", f"{size}x{size}",
                          "--mapper", "all", "--format", "csv"],
                         check=True, capture_output=True, text=True).stdout
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["layer"] != "TOTAL"]
    shapes, expected = {}, {}
    for r in rows:
        L = {k: int(r[k]) for k in ("K_h", "K_w", "IC", "OC", "O_h", "O_w", "groups")}
        L["S"] = int(r["stride"])
        L["IC"] //= L["groups"]
        L["OC"] //= L["groups"]
        shapes[r["layer"]] = L
        expected[(r["layer"], r["mapper"])] = int(r["cycles"]) // L["groups"]
    return shapes, expected


def main():
    imcsim = sys.argv[1] if len(sys.argv) > 1 else "build/imcsim"
    work = []
    for workload in ("resnet20", "wrn16_4", "vgg13", "resnet18"):
        for size in (64, 128, 256, 512):
            shapes, expected = layers_of(imcsim, workload, size)
            for name, L in shapes.items():
                work.append((L, size, {m: expected[(name, m)] for m in METHODS}))
    mismatches = 0
    result = {}
    for method, fn in METHODS.items():
        t0 = time.perf_counter()
        got = [fn(L, size, size) for L, size, _ in work]
        dt = time.perf_counter() - t0
        mismatches += sum(g != exp[method] for g, (_, _, exp) in zip(got, work))
        result[method] = {"mappings": len(work), "seconds": dt, "per_second": len(work) / dt}
    total = sum(r["mappings"] for r in result.values())
    secs = sum(r["seconds"] for r in result.values())
    result["all"] = {"mappings": total, "seconds": secs, "per_second": total / secs}
    result["cycle_mismatches_vs_imcsim"] = mismatches
    print(json.dumps(result, indent=2))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
