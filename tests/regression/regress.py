#!/usr/bin/env python3
"""Golden regression of imcsim on the reference experiments (configs/regression/*.yaml).

Used by scripts/nightly (compare) and scripts/update-goldens (write). Each experiment is run
with `imcsim run`; its summary.json is normalised (see normalise()) and compared metric by
metric with tests/golden/<experiment>.json under the tolerances of
tests/regression/tolerances.json. A difference names the experiment, the layer, the metric,
the golden and the new value.

Exit codes: 0 all equal within tolerance, 1 some metric differs (or is missing/extra),
2 an experiment failed to run or has no golden.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = os.path.join(ROOT, "configs", "regression")
GOLDENS = os.path.join(ROOT, "tests", "golden")
TOLERANCES = os.path.join(ROOT, "tests", "regression", "tolerances.json")

# Keys whose values describe the machine or the invocation, not the simulated result.
VOLATILE_KEYS = {"wall_ms", "wall_s", "elapsed_ms", "elapsed_s", "host", "date", "timestamp"}


def experiments(names, fast_only):
    out = []
    for f in sorted(os.listdir(CONFIGS)):
        if not f.endswith(".yaml"):
            continue
        name = f[:-5]
        path = os.path.join(CONFIGS, f)
        with open(path) as fh:
            fast = any(line.strip() == "# regression: fast" for line in fh)
        if names and name not in names:
            continue
        if fast_only and not fast:
            continue
        out.append((name, path))
    missing = set(names or []) - {n for n, _ in out}
    if missing:
        sys.exit(f"regress: no experiment {', '.join(sorted(missing))} in {CONFIGS}")
    return out


def normalise(value):
    """Drops volatile keys and makes paths under the source root relative to it."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str) and value.startswith(ROOT + os.sep):
        return os.path.relpath(value, ROOT)
    return value


def run_experiment(binary, name, config, scratch):
    out = os.path.join(scratch, name)
    start = time.monotonic()
    proc = subprocess.run([binary, "run", config, "-q", "-o", out], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        return None, seconds, proc.stderr.strip()
    runs = [d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d))]
    if len(runs) != 1:
        return None, seconds, f"expected one run folder in {out}, found {runs}"
    with open(os.path.join(out, runs[0], "summary.json")) as fh:
        summary = json.load(fh)
    return normalise(summary), seconds, None


# ---- comparison -------------------------------------------------------------------------

def flatten(value, path=(), layer=None, out=None):
    """(layer, metric) -> leaf value. A list of objects carrying a "name" (or "layer") is
    indexed by that name, which becomes the layer of every metric below it."""
    if out is None:
        out = {}
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, path + (k,), layer, out)
    elif isinstance(value, list) and value and all(
            isinstance(v, dict) and isinstance(v.get("name", v.get("layer")), str) for v in value):
        for v in value:
            key = v.get("name", v.get("layer"))
            inner_layer = key if layer is None else f"{layer}/{key}"
            flatten(v, path, inner_layer, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            flatten(v, path + (f"[{i}]",), layer, out)
    else:
        out[(layer or "-", ".".join(path))] = value
    return out


class Tolerances:
    def __init__(self, path):
        with open(path) as fh:
            spec = json.load(fh)
        self.rules = [(re.compile(r["metric"]), float(r.get("rel", 0)), float(r.get("abs", 0)),
                       r["metric"]) for r in spec["rules"]]
        self.default_rel = float(spec["default_float"]["rel"])
        self.default_abs = float(spec["default_float"]["abs"])

    def for_metric(self, metric):
        for regex, rel, abs_, text in self.rules:
            if regex.search(metric):
                return rel, abs_, text
        return self.default_rel, self.default_abs, "default_float"

    def equal(self, metric, golden, new):
        if isinstance(golden, bool) or isinstance(new, bool) or isinstance(golden, str) \
                or isinstance(new, str) or golden is None or new is None:
            return golden == new, "exact"
        if isinstance(golden, int) and isinstance(new, int):
            rel, abs_, text = self.for_metric(metric)
            if rel == 0 and abs_ == 0:
                return golden == new, "exact"
        rel, abs_, text = self.for_metric(metric)
        g, n = float(golden), float(new)
        if math.isnan(g) or math.isnan(n):
            return math.isnan(g) and math.isnan(n), text
        ok = abs(g - n) <= max(abs_, rel * max(abs(g), abs(n)))
        return ok, (f"rel {rel:g}, abs {abs_:g}" if (rel or abs_) else "exact")


def compare(name, golden, new, tol):
    g, n = flatten(golden), flatten(new)
    diffs = []
    for key in sorted(set(g) | set(n), key=lambda k: (k[0], k[1])):
        layer, metric = key
        where = f"{name}: layer {layer}: {metric}"
        if key not in n:
            diffs.append(f"{where}: golden {json.dumps(g[key])}, new (missing)")
        elif key not in g:
            diffs.append(f"{where}: golden (missing), new {json.dumps(n[key])}")
        else:
            ok, how = tol.equal(metric, g[key], n[key])
            if not ok:
                diffs.append(f"{where}: golden {json.dumps(g[key])}, new {json.dumps(n[key])} "
                             f"(tolerance: {how})")
    return diffs, len(g)


def golden_path(name):
    return os.path.join(GOLDENS, name + ".json")


def write_json(path, value):
    with open(path, "w") as fh:
        json.dump(value, fh, indent=1, sort_keys=False)
        fh.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["compare", "update"])
    ap.add_argument("names", nargs="*", help="experiments (config file stems); default all")
    ap.add_argument("--fast", action="store_true", help="only configs marked '# regression: fast'")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "imcsim"), help="imcsim binary")
    ap.add_argument("--keep", help="keep the run folders in this directory")
    ap.add_argument("--max-diffs", type=int, default=50, help="differences printed per experiment")
    args = ap.parse_intermixed_args()  # names may follow options (scripts/update-goldens --bin B NAME)

    tol = Tolerances(TOLERANCES)
    scratch = args.keep or tempfile.mkdtemp(prefix="imcsim-regress-")
    os.makedirs(scratch, exist_ok=True)
    status = 0
    try:
        for name, config in experiments(args.names, args.fast):
            summary, seconds, error = run_experiment(args.bin, name, config, scratch)
            rel_config = os.path.relpath(config, ROOT)
            if error:
                print(f"FAIL {name}: {rel_config} did not run: {error}")
                status = max(status, 2)
                continue
            if args.action == "update":
                os.makedirs(GOLDENS, exist_ok=True)
                write_json(golden_path(name), {"experiment": name, "config": rel_config,
                                               "summary": summary})
                print(f"wrote tests/golden/{name}.json ({seconds:.1f} s)")
                continue
            if not os.path.exists(golden_path(name)):
                print(f"FAIL {name}: no golden tests/golden/{name}.json "
                      f"(scripts/update-goldens {name} writes it)")
                status = max(status, 2)
                continue
            with open(golden_path(name)) as fh:
                golden = json.load(fh)["summary"]
            diffs, count = compare(name, golden, summary, tol)
            if diffs:
                status = max(status, 1)
                print(f"FAIL {name}: {len(diffs)} of {count} metrics differ ({seconds:.1f} s)")
                for d in diffs[: args.max_diffs]:
                    print("  " + d)
                if len(diffs) > args.max_diffs:
                    print(f"  ... {len(diffs) - args.max_diffs} more")
            else:
                print(f"ok   {name}: {count} metrics equal ({seconds:.1f} s)")
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
