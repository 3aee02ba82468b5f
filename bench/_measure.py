"""Run a command as a child process and report its wall time and peak memory (max RSS) as JSON.

Used by the benchmarks so every figure comes from a fresh process: ``python -m bench._measure CMD...``.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> int:
    cmd = sys.argv[1:]
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024, "returncode": proc.returncode,
                      "stderr": proc.stderr[-2000:]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
