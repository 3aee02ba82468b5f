"""`make bench`: run every bench/bench_*.py, print a table, and write outputs/bench.json."""
from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import sys
from pathlib import Path


def report(results: list[dict]) -> None:
    print(f"{'benchmark':<48} {'seconds':>8} {'peak MB':>8} {'baseline s':>10} {'ratio':>7}  baseline")
    for r in results:
        print(f"{r['name'][:48]:<48} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f} {r['baseline_seconds']:>10.2f} "
              f"{r['ratio']:>7.2f}  {r['baseline_name']}")
        if r.get("notes"):
            print(f"{'':<50}{r['notes']}")


def main() -> int:
    here = Path(__file__).resolve().parent
    only = sys.argv[1:]
    results = []
    for path in sorted(here.glob("bench_*.py")):
        if only and path.stem not in only and path.stem.removeprefix("bench_") not in only:
            continue
        print(f"running {path.stem} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"bench.{path.stem}")
        results.extend(module.run())
    report(results)
    out = Path(os.environ.get("TRUST_SURVEY_OUTPUTS", "outputs")) / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}"
    out.write_text(json.dumps({"when": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine,
                               "results": results}, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
