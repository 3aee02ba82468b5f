"""``make demo``: run the whole pipeline end to end on the bundled sample, through the real CLI.

Everything goes under ``<out>/demo/`` (its own database included), which is cleared first so the demo
never touches data an analyst keeps elsewhere in ``outputs/``. Every step's command must exist: a missing
one stops the demo before anything runs, with exit 1, so a command that disappears cannot go unnoticed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from trust_survey import settings
from trust_survey.cli import cli

SAMPLE_ORGS = settings.PACKAGE_DATA / "sample" / "orgs.csv"
ROUNDS_BACK = 2  # simulate earlier rounds too, so trends across rounds show
INDIVIDUALS = 60  # respondents to the individual review questionnaire each round
#: (what, path under the demo folder) listed at the end so people can open them
KEY_OUTPUTS = (
    ("candidate departments (ranked)", "candidates.xlsx"),
    ("commissioning demand by region", "demand.xlsx"),
    ("offline map", "map.html"),
    ("review-cycle report", "report"),
    ("whom to chase", "chase_list.csv"),
    ("the round's emails (.eml outbox)", "outbox"),
    ("reminders (.eml outbox)", "chase_outbox"),
    ("feedback workbooks for trusts", "feedback"),
    ("job titles to review", "review.xlsx"),
    ("tidy export", "export"),
    ("database", "trust_survey.duckdb"),
)


def _steps(out: Path, round_: int) -> list[tuple[str, list[str], tuple[int, ...]]]:
    """(title, CLI arguments, acceptable exit codes). Ingest exits 1 when some returns have errors,
    which the simulated messy round is meant to contain."""
    orgs = str(SAMPLE_ORGS)
    steps: list[tuple[str, list[str], tuple[int, ...]]] = [
        ("Check the instrument definitions", ["instruments", "check"], (0,)),
        ("Write the codebook", ["instruments", "codebook", "trust_capability", "--out",
                                str(out / "codebook_trust_capability.xlsx"), "--force"], (0,)),
    ]
    for r in range(round_ - ROUNDS_BACK, round_ + 1):
        sent, received = out / f"round_{r}" / "sent", out / f"round_{r}" / "received"
        individuals = out / f"round_{r}" / "individuals"
        steps += [
            (f"Round {r}: build every organisation's return",
             ["instruments", "build", "trust_capability", "--orgs", orgs, "--round", str(r), "--out", str(sent),
              "--format", "all", "--force", "--quiet"], (0,)),
        ] + ([
            (f"Round {r}: write every organisation's email, its return attached, to an outbox",
             ["send", "--round", str(r), "--out", str(out / "outbox"), "--quiet"], (0,)),
        ] if r == round_ else []) + [
            (f"Round {r}: simulate what comes back",
             ["simulate", "--round", str(r), "--orgs", orgs, "--out", str(received), "--seed", str(r),
              "--messiness", "0.3", "--force"], (0,)),
            (f"Round {r}: ingest and validate the returns", ["ingest", str(received), "--round", str(r)], (0, 1)),
            (f"Round {r}: simulate the individual review questionnaires",
             ["simulate", "--instrument", "individual_review", "--round", str(r), "--respondents",
              str(INDIVIDUALS), "--out", str(individuals), "--seed", str(r), "--force"], (0,)),
            (f"Round {r}: ingest the individual responses", ["ingest", str(individuals), "--round", str(r)], (0,)),
            (f"Round {r}: code job titles to STP streams", ["match", "run", "--round", str(r)], (0,)),
        ]
    steps += [
        ("Who has returned, and whom to chase",
         ["status", "--round", str(round_), "--chase-list", str(out / "chase_list.csv")], (0,)),
        ("Remind those still owing a valid return (reminders to an outbox)",
         ["chase", "--round", str(round_), "--out", str(out / "chase_outbox"), "--quiet"], (0,)),
        ("Feedback workbooks for organisations with issues",
         ["feedback", "--round", str(round_), "--out", str(out / "feedback"), "--force"], (0,)),
        ("Export the round's tidy data",
         ["export", "--round", str(round_), "--format", "xlsx", "--out", str(out / "export"), "--force"], (0,)),
        ("Queue doubtful codings for review",
         ["match", "review-export", "--round", str(round_), "--out", str(out / "review.xlsx"), "--force"], (0,)),
        ("Rank candidate training departments",
         ["candidates", "--round", str(round_), "--out", str(out / "candidates.xlsx"), "--force"], (0,)),
        ("Estimate commissioning demand",
         ["demand", "--round", str(round_), "--by", "region", "--out", str(out / "demand.xlsx"), "--force"], (0,)),
        ("Draw the offline map", ["map", "--round", str(round_), "--out", str(out / "map.html"), "--force"], (0,)),
        ("Write the review-cycle report", ["report", "--round", str(round_), "--out", str(out / "report"), "--force"],
         (0,)),
    ]
    return steps


def _available(args: list[str]) -> bool:
    """Whether the command that ``args`` start with exists (a group's subcommand included)."""
    command = cli
    for word in args:
        if not hasattr(command, "commands"):
            return True
        command = command.commands.get(word)
        if command is None:
            return False
    return True


def missing_steps(steps: list[tuple[str, list[str], tuple[int, ...]]]) -> list[str]:
    """The steps whose command this version of the toolkit lacks, as ``title (trust-survey words)``."""
    return [f"{title} (trust-survey {' '.join(w for w in args[:2] if not w.startswith('-'))})"
            for title, args, _ in steps if not _available(args)]


def run_demo(out: Path, round_: int) -> int:
    demo = out / "demo"
    if demo.exists():
        shutil.rmtree(demo)
    demo.mkdir(parents=True)
    os.environ["TRUST_SURVEY_DB"] = str(demo / "trust_survey.duckdb")
    os.environ["TRUST_SURVEY_OUTPUTS"] = str(demo)
    steps = _steps(demo, round_)
    missing = missing_steps(steps)
    if missing:
        print("demo: these steps' commands are missing from this version: " + "; ".join(missing), file=sys.stderr)
        return 1
    for title, args, ok_codes in steps:
        print(f"\n== {title}\n$ trust-survey {' '.join(args)}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            # without standalone mode click returns the exit code of ctx.exit() instead of raising
            code = cli.main(args=args, prog_name="trust-survey", standalone_mode=False) or 0
            code = code if isinstance(code, int) else 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:  # click exceptions carry their own exit codes
            code = getattr(exc, "exit_code", 1)
            if hasattr(exc, "show"):
                exc.show()
        print(f"   (exit {code}, {time.perf_counter() - started:.1f} s)", file=sys.stderr)
        if code not in ok_codes:
            print(f"demo: step failed: {title}", file=sys.stderr)
            return 1
    print(f"\nDemo finished. Everything it wrote is under {demo}; the main results:", file=sys.stderr)
    for what, name in KEY_OUTPUTS:
        if (demo / name).exists():
            print(f"  {what:<34} {demo / name}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trust_survey.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=settings.outputs_dir())
    parser.add_argument("--round", type=int, default=2026)
    ns = parser.parse_args(argv)
    return run_demo(ns.out.resolve(), ns.round)


if __name__ == "__main__":
    sys.exit(main())
