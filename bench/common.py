"""Helpers shared by the benchmarks."""
from __future__ import annotations

import json
import subprocess
import sys


def measure(cmd: list[str]) -> dict:
    """Wall time and peak RSS of ``cmd`` run in a fresh child process."""
    out = subprocess.run([sys.executable, "-m", "bench._measure", *cmd], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    if result["returncode"] not in (0, 1):
        raise RuntimeError(f"benchmark command failed ({result['returncode']}): {' '.join(cmd)}\n{result['stderr']}")
    return result


def python_snippet(code: str) -> list[str]:
    return [sys.executable, "-c", code]
