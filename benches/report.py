#!/usr/bin/env python3
"""Markdown summary of the `jwt_verify` criterion bench.

Reads target/criterion/jwt_verify/<alg>/<function>/new/estimates.json (and the benchmark.json
beside it, for the unmangled names), takes each median, and prints:

1. the comparison table: core vs bare signature check, core vs jsonwebtoken, cached;
2. the absolute parse + claims overhead (core - bare) per backend;
3. whether each target in BENCHMARKS.md is met by these figures.

Usage: python3 benches/report.py [--baselines NAME,NAME,...] [CRITERION_DIR]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else <workspace>/target/criterion.
With --baselines, reads <function>/<NAME>/estimates.json for each named baseline (runs saved
with `cargo bench ... -- --save-baseline NAME`) instead of `new`, and takes for every benchmark
the smallest of the runs' medians: on a shared or virtualised machine, interference only ever
adds time, so the least disturbed run is the best estimate. The spread between runs is printed.
Standard library only.
"""

import argparse
import glob
import json
import os
import signal
import sys

GROUP = "jwt_verify"
ALGS = ["RS256", "PS256", "ES256", "EdDSA", "HS256"]
FUNCTIONS = [
    "core/aws-lc",
    "bare/aws-lc",
    "core/rustcrypto",
    "bare/rustcrypto",
    "jsonwebtoken",
    "cached",
]
# Targets (see BENCHMARKS.md).
MAX_RS256_OVERHEAD = 1.05  # core/aws-lc over bare/aws-lc
MAX_CACHED_NS = 500.0


def criterion_dir(arg):
    if arg:
        return arg
    target = os.environ.get("CARGO_TARGET_DIR")
    if not target:
        workspace = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        target = os.path.join(workspace, "target")
    return os.path.join(target, "criterion")


def load(root, run="new"):
    """{(alg, function): median ns} for one run (`new` or a saved baseline)."""
    medians = {}
    pattern = os.path.join(root, GROUP, "*", "*", run, "estimates.json")
    for path in sorted(glob.glob(pattern)):
        new_dir = os.path.dirname(path)
        func_dir = os.path.dirname(new_dir)
        alg = os.path.basename(os.path.dirname(func_dir))
        function = os.path.basename(func_dir)
        meta = os.path.join(new_dir, "benchmark.json")
        if os.path.exists(meta):
            with open(meta) as f:
                m = json.load(f)
            alg = m.get("function_id") or alg
            function = m.get("value_str") or function
        else:
            # criterion writes '/' in ids as '_' in directory names.
            function = {f.replace("/", "_"): f for f in FUNCTIONS}.get(function, function)
        with open(path) as f:
            medians[(alg, function)] = json.load(f)["median"]["point_estimate"]
    return medians


def fmt_time(ns):
    if ns is None:
        return "n/a"
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.2f} µs"
    return f"{ns / 1_000_000:.2f} ms"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}×"


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under `| head`
    parser = argparse.ArgumentParser(description="Summarise the jwt_verify criterion bench.")
    parser.add_argument("criterion_dir", nargs="?", help="criterion output directory")
    parser.add_argument(
        "--baselines",
        help="comma-separated saved baselines; each benchmark's figure is the minimum median",
    )
    args = parser.parse_args()
    root = criterion_dir(args.criterion_dir)
    runs = [r for r in (args.baselines or "new").split(",") if r]
    loaded = [load(root, run) for run in runs]
    for run, m in zip(runs, loaded):
        if not m:
            sys.exit(
                f"no '{run}' estimates under {os.path.join(root, GROUP)}; "
                "run `cargo bench -p oidc-benches --bench jwt_verify` first"
            )
    medians = {}
    for m in loaded:
        for k, v in m.items():
            medians[k] = min(v, medians.get(k, v))
    algs = [a for a in ALGS if any((a, f) in medians for f in FUNCTIONS)]
    algs += sorted({a for a, _ in medians} - set(algs))

    def get(alg, function):
        return medians.get((alg, function))

    print(
        "| algorithm | core/aws-lc | bare/aws-lc | overhead (core/bare) "
        "| core/rustcrypto | bare/rustcrypto | jsonwebtoken "
        "| core-aws-lc / jsonwebtoken | cached |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for alg in algs:
        core, bare = get(alg, "core/aws-lc"), get(alg, "bare/aws-lc")
        jwt = get(alg, "jsonwebtoken")
        cells = [
            alg,
            fmt_time(core),
            fmt_time(bare),
            fmt_ratio(ratio(core, bare)),
            fmt_time(get(alg, "core/rustcrypto")),
            fmt_time(get(alg, "bare/rustcrypto")),
            fmt_time(jwt),
            fmt_ratio(ratio(core, jwt)),
            fmt_time(get(alg, "cached")),
        ]
        print("| " + " | ".join(cells) + " |")

    print()
    print("| algorithm | core − bare (aws-lc) | core − bare (rustcrypto) | core/bare (rustcrypto) |")
    print("|---|--:|--:|--:|")
    for alg in algs:
        diffs = []
        for backend in ("aws-lc", "rustcrypto"):
            core, bare = get(alg, f"core/{backend}"), get(alg, f"bare/{backend}")
            diffs.append(None if core is None or bare is None else core - bare)
        rc = ratio(get(alg, "core/rustcrypto"), get(alg, "bare/rustcrypto"))
        print(f"| {alg} | {fmt_time(diffs[0])} | {fmt_time(diffs[1])} | {fmt_ratio(rc)} |")

    if len(loaded) > 1:
        spreads = []
        for k in sorted(medians):
            vals = [m[k] for m in loaded if k in m]
            spreads.append((max(vals) / min(vals), k))
        spreads.sort(reverse=True)
        worst = ", ".join(f"{a} {f} {r:.2f}×" for r, (a, f) in spreads[:3])
        print()
        print(
            f"Minimum of the medians of {len(loaded)} runs ({', '.join(runs)}). "
            f"Largest run-to-run spread (slowest ÷ fastest median): {worst}; "
            f"median spread {spreads[len(spreads) // 2][0]:.2f}×."
        )

    print()
    rs = ratio(get("RS256", "core/aws-lc"), get("RS256", "bare/aws-lc"))
    print(
        f"- RS256 parse + claims overhead ≤ {MAX_RS256_OVERHEAD - 1:.0%} of the signature check "
        f"(core/aws-lc ÷ bare/aws-lc = {fmt_ratio(rs)}): "
        f"{verdict(None if rs is None else rs <= MAX_RS256_OVERHEAD)}"
    )
    cached = [get(a, "cached") for a in algs if get(a, "cached") is not None]
    worst = max(cached) if cached else None
    print(
        f"- cached verify ≤ {fmt_time(MAX_CACHED_NS)} (slowest: {fmt_time(worst)}): "
        f"{verdict(None if worst is None else worst <= MAX_CACHED_NS)}"
    )
    slower = []
    for alg in algs:
        r = ratio(get(alg, "core/aws-lc"), get(alg, "jsonwebtoken"))
        if r is not None and r > 1.0:
            slower.append(f"{alg} {fmt_ratio(r)}")
    known = [a for a in algs if ratio(get(a, "core/aws-lc"), get(a, "jsonwebtoken")) is not None]
    print(
        "- uncached core/aws-lc no slower than jsonwebtoken for every algorithm: "
        + (verdict(None) if not known else verdict(not slower))
        + (f" (slower: {', '.join(slower)})" if slower else "")
    )


if __name__ == "__main__":
    main()
