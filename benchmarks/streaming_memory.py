"""Peak memory of `policycheck assess` as the number of cases grows (streaming check).

Plain script (not a pytest test: 10,000 cases take a few minutes):

    .venv/bin/python benchmarks/streaming_memory.py [--small 100] [--large 10000] [--formats jsonl]

Every streamed format: ``--formats jsonl,sarif,junit,markdown,table`` (about 5 to 8 minutes
a format at 10,000 cases on one core; run two invocations side by side on two cores). The
last full run is in docs/ci.md ("Large runs: streaming").

Generates ``--large`` small case files (tests/data/cases/minimal.yaml, each with its own id)
in a temporary folder, then runs, each in a fresh process measured on its own
(``os.wait4``'s ``ru_maxrss``):

- floor: ``policycheck assess ONE_CASE``  (interpreter, rule pack, engine: paid once);
- small: ``policycheck assess DIR_OF_SMALL --format F -o out``;
- large: ``policycheck assess DIR_OF_LARGE --format F -o out``;

and prints the peak RSS of each, the growth (large - small) and the ratio to the floor. The
target is a growth under 50 MB: memory flat in the number of cases. Timings are printed for
information only (the machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "data" / "cases" / "minimal.yaml"
CLI = [sys.executable, "-m", "policycheck"]


def make_cases(folder: Path, n: int) -> None:
    text = SOURCE.read_text(encoding="utf-8")
    (original,) = re.findall(r"^id: (\S+)$", text, flags=re.M)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"case-{i:05d}.yaml").write_text(text.replace(f"id: {original}", f"id: {original}-{i:05d}", 1),
                                                   encoding="utf-8")


def peak_rss(argv: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit code) of one command in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "POLICYCHECK_TODAY": "2026-01-01"})
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(argv)} exited {proc.returncode}:\n{err.decode(errors='replace')[-2000:]}")
    return usage.ru_maxrss / 1024, seconds, proc.returncode   # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--formats", default="jsonl", help="comma-separated, e.g. jsonl,sarif,markdown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="policycheck-bench-") as tmp:
        base = Path(tmp)
        small, large = base / "small", base / "large"
        make_cases(small, args.small)
        make_cases(large, args.large)
        floor, floor_s, _ = peak_rss(CLI + ["assess", "--no-config", str(SOURCE), "-o", str(base / "one.txt")])
        print(f"floor (1 case, table): {floor:7.1f} MB  {floor_s:6.1f} s")
        for fmt in args.formats.split(","):
            rows = []
            for label, folder, n in (("small", small, args.small), ("large", large, args.large)):
                out = base / f"out-{label}.{fmt}"
                mb, secs, _ = peak_rss(CLI + ["assess", "--no-config", str(folder), "--format", fmt, "-o", str(out)])
                rows.append((label, n, mb, secs, out.stat().st_size))
            for label, n, mb, secs, size in rows:
                print(f"{fmt:8s} {label:5s} {n:6d} cases: {mb:7.1f} MB peak RSS (x{mb / floor:4.2f} floor)  "
                      f"{secs:6.1f} s  output {size / 1e6:7.1f} MB")
            growth = rows[1][2] - rows[0][2]
            verdict = "flat" if growth < 50 else "NOT flat"
            print(f"{fmt:8s} growth {args.small} -> {args.large} cases: {growth:+.1f} MB ({verdict}; target < 50 MB)")


if __name__ == "__main__":
    main()
