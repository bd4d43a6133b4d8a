"""Mutation testing of the method's core: how many planted bugs the fast tests catch, per file.

For each target in ``[tool.provgan-mutation.targets]`` (pyproject.toml) this runs mutmut in a scratch
copy of the repo (``build/mutation/<target>/``) with mutation restricted to that file and pytest
restricted to that file's own tests, then prints one table row: mutants killed / survived / timeout /
equivalent and the score ``(killed + timeout) / (all - equivalent)``. A mutant counts as equivalent
when it survives and matches an entry of ``[[tool.provgan-mutation.equivalent]]`` (the file and a
substring of its changed line, with a one-line reason): a change no test can observe, such as a
default argument the callers always pass.

    nice -n 19 python benchmarks/mutation.py                      # every target, one after the other
    nice -n 19 python benchmarks/mutation.py --only losses optim  # targets whose path contains a word
    python benchmarks/mutation.py --only scores --survivors       # list the survivors' diffs too
    python benchmarks/mutation.py --only scores --rerun           # after adding tests: recheck survivors
    python benchmarks/mutation.py --tally-only                    # the last runs' table, nothing rerun

Targets run one at a time with ``--max-children`` workers (default 1; the core tests are CPU-bound
and single-threaded under OMP_NUM_THREADS=1). The score's target is >= 90% per file (issue 18).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KILLED_CODES = {1, 3}
TIMEOUT_CODES = {36, 24, -24, 152, 255}
OTHER_STATUS = {None: "not checked", 5: "no tests", 33: "no tests", 34: "skipped", 37: "caught by type check",
                -11: "segfault", -9: "segfault", 2: "interrupted"}


@dataclass(frozen=True)
class Equivalent:
    file: str
    match: str
    reason: str
    function: str = ""  # optional: only mutants of this function (mutmut names them ``x_<function>__mutmut_<k>``)

    def covers(self, mutant: str, lines: list[str]) -> bool:
        in_function = not self.function or f".x_{self.function}__mutmut_" in mutant
        return in_function and any(self.match in line for line in lines)


@dataclass(frozen=True)
class Target:
    pattern: str  # a path or glob under src/, as mutmut's only_mutate takes it
    tests: tuple[str, ...]
    equivalent: tuple[Equivalent, ...] = ()

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", self.pattern.removeprefix("src/provgan/")).strip("-")


@dataclass
class Tally:
    killed: int = 0
    survived: int = 0
    timeout: int = 0
    equivalent: int = 0
    other: int = 0  # no tests, not checked, suspicious, segfault: all count against the score
    survivors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.killed + self.survived + self.timeout + self.equivalent + self.other

    @property
    def score(self) -> float:
        tested = self.total - self.equivalent
        return 100.0 * (self.killed + self.timeout) / tested if tested else 0.0


class MutationSetupError(Exception):
    """The pyproject tables are missing or malformed; the message says which."""


def load_targets(pyproject: Path) -> list[Target]:
    """The targets and equivalent-mutant marks of pyproject.toml, validated here at the edge."""
    table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("provgan-mutation")
    if not table or not isinstance(table.get("targets"), dict) or not table["targets"]:
        raise MutationSetupError(f"{pyproject}: no [tool.provgan-mutation.targets] table")
    marks = []
    for i, e in enumerate(table.get("equivalent", [])):
        if not all(isinstance(e.get(k), str) and e[k].strip() for k in ("file", "match", "reason")):
            raise MutationSetupError(f"{pyproject}: equivalent[{i}] needs non-empty file, match and reason")
        if not isinstance(e.get("function", ""), str):
            raise MutationSetupError(f"{pyproject}: equivalent[{i}].function must be a string")
        marks.append(Equivalent(e["file"], e["match"], e["reason"], e.get("function", "")))
    targets = []
    for pattern, tests in table["targets"].items():
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
            raise MutationSetupError(f"{pyproject}: target {pattern!r} needs a non-empty list of test paths")
        missing = [t for t in tests if not (pyproject.parent / t.split("::")[0]).exists()]
        if missing:
            raise MutationSetupError(f"{pyproject}: target {pattern!r}: no such test path {missing[0]}")
        mine = tuple(m for m in marks if _matches_target(m.file, pattern))
        targets.append(Target(pattern, tuple(tests), mine))
    return targets


def _matches_target(file: str, pattern: str) -> bool:
    from fnmatch import fnmatch

    return fnmatch(file, pattern)


def _toml_value(v) -> str:
    """Strings, numbers, booleans and lists of them: JSON spells them as TOML does."""
    return json.dumps(v)


def prepare(target: Target, base: dict, work: Path, fresh: bool) -> None:
    """A scratch copy with src/, tests/ and a pyproject that points mutmut at this target alone."""
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests"):
        if (work / name).exists():
            shutil.rmtree(work / name)
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pytest_opts = base.get("tool", {}).get("pytest", {}).get("ini_options", {})
    mutmut = dict(base.get("tool", {}).get("mutmut", {}))
    mutmut["only_mutate"] = [target.pattern]
    mutmut["pytest_add_cli_args_test_selection"] = list(target.tests)
    lines = ["[tool.pytest.ini_options]"] + [f"{k} = {_toml_value(v)}" for k, v in pytest_opts.items()]
    lines += ["", "[tool.mutmut]"] + [f"{k} = {_toml_value(v)}" for k, v in mutmut.items()]
    (work / "pyproject.toml").write_text("\n".join(lines) + "\n")


def _mutmut(work: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    env.pop("PYTHONPATH", None)  # mutmut puts its mutated copy of src/ first on sys.path itself
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=work, env=env, text=True,
                          capture_output=capture)


def exit_codes(work: Path, file: str | None = None) -> dict[str, int | None]:
    """mutant name -> the exit code of its test run, from the .meta files mutmut writes (one file's
    mutants when ``file``, a path like ``src/provgan/nn/layers.py``, is given)."""
    codes: dict[str, int | None] = {}
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        if file is None or meta == work / "mutants" / f"{file}.meta":
            codes |= json.loads(meta.read_text()).get("exit_code_by_key", {})
    return codes


def mutated_files(work: Path) -> list[str]:
    """The source files of a run that have mutants, as paths relative to the repo."""
    root = work / "mutants"
    return [str(m.relative_to(root))[:-len(".meta")] for m in sorted(root.rglob("*.py.meta"))
            if json.loads(m.read_text()).get("exit_code_by_key")]


def added_lines(work: Path, mutant: str) -> list[str]:
    """The '+' lines of ``mutmut show`` for one mutant (its changed code)."""
    out = _mutmut(work, "show", mutant, capture=True).stdout
    return [ln[1:].strip() for ln in out.splitlines() if ln.startswith("+") and not ln.startswith("+++")]


def tally(target: Target, work: Path, file: str | None = None) -> tuple[Tally, dict[str, list[str]]]:
    t, diffs = Tally(), {}
    for name, code in sorted(exit_codes(work, file).items()):
        if code in KILLED_CODES:
            t.killed += 1
        elif code in TIMEOUT_CODES:
            t.timeout += 1
        elif code == 0:
            diffs[name] = added_lines(work, name)
            if any(m.covers(name, diffs[name]) for m in target.equivalent):
                t.equivalent += 1
            else:
                t.survived += 1
                t.survivors.append(name)
        else:
            t.other += 1
            t.survivors.append(name)
            diffs[name] = [f"(status: {OTHER_STATUS.get(code, 'suspicious')})"]
    return t, diffs


def _check(target: Target, proc: subprocess.CompletedProcess) -> None:
    if proc.returncode != 0:
        tail = (proc.stdout or "")[-2000:] + (proc.stderr or "")[-2000:]
        print(f"{target.pattern}: mutmut exited with {proc.returncode}\n{tail}", file=sys.stderr)


def run_target(target: Target, base: dict, args) -> tuple[Tally, dict[str, list[str]]]:
    work = args.workdir / target.slug
    rerun = args.rerun and (work / "mutants").exists()
    survivors = tally(target, work)[0].survivors if rerun else []
    prepare(target, base, work, fresh=not rerun)
    start = time.perf_counter()
    run = ["run", "--max-children", str(args.max_children)]
    _check(target, _mutmut(work, *run, *survivors, capture=not args.verbose))
    if rerun and any(code is None for code in exit_codes(work).values()):
        # a changed config or test list makes mutmut forget its verdicts: check those mutants again
        _check(target, _mutmut(work, *run, capture=not args.verbose))
    result, diffs = tally(target, work)
    result.seconds = time.perf_counter() - start
    return result, diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=[], help="run the targets whose path contains one of these words")
    ap.add_argument("--max-children", type=int, default=1, help="parallel mutmut workers (default 1)")
    ap.add_argument("--workdir", type=Path, default=ROOT / "build" / "mutation")
    ap.add_argument("--rerun", action="store_true", help="keep the last run's results; recheck its survivors")
    ap.add_argument("--survivors", action="store_true", help="print each survivor's changed line")
    ap.add_argument("--tally-only", action="store_true",
                    help="run nothing: print the table of the last run (after marking equivalents, say)")
    ap.add_argument("--verbose", action="store_true", help="show mutmut's own output")
    ap.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = ap.parse_args(argv)
    if args.max_children < 1:
        print("error: --max-children must be >= 1", file=sys.stderr)
        return 2
    try:
        targets = load_targets(ROOT / "pyproject.toml")
    except MutationSetupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.only:
        targets = [t for t in targets if any(w in t.pattern for w in args.only)]
        if not targets:
            print(f"error: no target matches {' '.join(args.only)}", file=sys.stderr)
            return 2
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())
    header = f"{'file':34} {'mutants':>7} {'killed':>6} {'survived':>8} {'timeout':>7} {'equiv':>5} {'other':>5} {'score':>6} {'time':>6}"
    rows, failed = [], False
    print(header)
    for target in targets:
        if args.tally_only:
            t, diffs = tally(target, args.workdir / target.slug)
        else:
            t, diffs = run_target(target, base, args)
        rows.append((target, t))
        failed |= t.score < 90.0
        print(f"{target.pattern:34} {t.total:7d} {t.killed:6d} {t.survived:8d} {t.timeout:7d} {t.equivalent:5d} "
              f"{t.other:5d} {t.score:5.1f}% {t.seconds:5.0f}s", flush=True)
        if args.survivors:
            for name in t.survivors:
                print(f"    {name}: {' | '.join(diffs.get(name, [])) or '(no diff)'}")
        files = mutated_files(args.workdir / target.slug)
        if any(ch in target.pattern for ch in "*?[") and len(files) > 1:  # a glob: one row per file too
            for file in files:
                ft = tally(target, args.workdir / target.slug, file)[0]
                rows.append((Target(file, target.tests, target.equivalent), ft))
                failed |= ft.score < 90.0
                print(f"  {file:32} {ft.total:7d} {ft.killed:6d} {ft.survived:8d} {ft.timeout:7d} "
                      f"{ft.equivalent:5d} {ft.other:5d} {ft.score:5.1f}%")
    if args.json:
        args.json.write_text(json.dumps([dict(file=tg.pattern, total=t.total, killed=t.killed, survived=t.survived,
                                              timeout=t.timeout, equivalent=t.equivalent, other=t.other,
                                              score=round(t.score, 1), survivors=t.survivors) for tg, t in rows],
                                        indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
