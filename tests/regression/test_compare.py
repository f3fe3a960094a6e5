#!/usr/bin/env python3
"""Self-test of the golden comparison (tests/regression/regress.py): a perturbed golden is
reported with experiment, layer, metric and both values; changes inside a metric's tolerance
pass; missing and extra metrics are reported. Runs on a committed golden (the real
summary.json structure) and on a small hand-built summary."""
import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import regress  # noqa: E402

tol = regress.Tolerances(regress.TOLERANCES)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


# A hand-built summary: per-mapper layer lists, totals, energy.
base = {"workload": {"name": "net"},
        "mappers": [{"name": "vwsdk", "total_cycles": 100,
                     "layers": [{"name": "conv1", "cycles": 60, "utilization": 0.5},
                                {"name": "conv2", "cycles": 40, "utilization": 0.25}]}],
        "totals": {"energy_pj": {"adc": 1000.0}, "latency_ns": 12.5}}
diffs, _ = regress.compare("exp", base, copy.deepcopy(base), tol)
check(diffs == [], f"identical summaries differ: {diffs}")

new = copy.deepcopy(base)
new["mappers"][0]["layers"][1]["cycles"] = 41
diffs, _ = regress.compare("exp", base, new, tol)
check(len(diffs) == 1 and diffs[0].startswith("exp: layer vwsdk/conv2: mappers.layers.cycles: golden 40, new 41"),
      f"a cycle change of 1 must be named: {diffs}")

new = copy.deepcopy(base)
new["totals"]["energy_pj"]["adc"] = 1000.0 * (1 + 1e-12)
diffs, _ = regress.compare("exp", base, new, tol)
check(diffs == [], f"energy within 1e-9 relative must pass: {diffs}")
new["totals"]["energy_pj"]["adc"] = 1000.0 * (1 + 1e-6)
diffs, _ = regress.compare("exp", base, new, tol)
check(len(diffs) == 1 and diffs[0].startswith("exp: layer -: totals.energy_pj.adc: golden 1000.0, new 1000.000999"),
      f"energy 1e-6 relative off must be named: {diffs}")

new = copy.deepcopy(base)
del new["totals"]["latency_ns"]
new["totals"]["extra"] = 1
diffs, _ = regress.compare("exp", base, new, tol)
check(any("latency_ns: golden 12.5, new (missing)" in d for d in diffs)
      and any("extra: golden (missing), new 1" in d for d in diffs), f"missing/extra: {diffs}")

# Every committed golden of configs/regression: equal to itself, and each integer leaf changed by one is reported.
goldens = [name + ".json" for name, _ in regress.experiments([], False)
           if os.path.exists(regress.golden_path(name))]
for f in goldens:
    golden = json.load(open(os.path.join(regress.GOLDENS, f)))["summary"]
    diffs, count = regress.compare(f, golden, copy.deepcopy(golden), tol)
    check(diffs == [] and count > 0, f"{f}: golden differs from itself or is empty")
    flat = regress.flatten(golden)
    ints = [k for k, v in flat.items() if isinstance(v, int) and not isinstance(v, bool)
            and "cycles" in k[1]]
    check(ints, f"{f}: no cycle metric found")
    for layer, metric in ints[:: max(1, len(ints) // 5)]:
        # Perturb through the flattened view: rebuild by walking the structure.
        def bump(v, path, lay):
            if isinstance(v, dict):
                return {k: bump(x, path + (k,), lay) for k, x in v.items()}
            if isinstance(v, list) and v and all(isinstance(x, dict) and isinstance(
                    x.get("name", x.get("layer")), str) for x in v):
                out = []
                for x in v:
                    key = x.get("name", x.get("layer"))
                    out.append(bump(x, path, key if lay is None else f"{lay}/{key}"))
                return out
            if isinstance(v, list):
                return [bump(x, path + (f"[{i}]",), lay) for i, x in enumerate(v)]
            if (lay or "-") == layer and ".".join(path) == metric:
                return v + 1
            return v
        diffs, _ = regress.compare(f, golden, bump(golden, (), None), tol)
        want = f"{f}: layer {layer}: {metric}: golden {flat[(layer, metric)]}, new {flat[(layer, metric)] + 1}"
        check(any(d.startswith(want) for d in diffs), f"not reported: {want}\n  got {diffs[:3]}")

if failures:
    print("\n".join("FAIL " + f for f in failures))
    sys.exit(1)
print(f"ok: comparison self-test ({len(goldens)} goldens)")
