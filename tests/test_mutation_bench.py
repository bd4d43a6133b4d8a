"""benchmarks/mutation.py: its config is validated at the edge and mutmut's results are tallied right.

mutmut itself is not run here (that is `make mutation`, minutes per file); these check the parts
that turn its .meta files into the README's table.
"""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("mutation_bench", ROOT / "benchmarks" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _pyproject(tmp_path, body: str) -> Path:
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "test_x.py").write_text("")
    path = tmp_path / "pyproject.toml"
    path.write_text(body)
    return path


def test_the_repos_own_table_names_every_core_file_with_existing_tests(bench):
    targets = bench.load_targets(ROOT / "pyproject.toml")
    patterns = {t.pattern for t in targets}
    assert {"src/provgan/losses.py", "src/provgan/optim.py", "src/provgan/levels.py", "src/provgan/nn/*",
            "src/provgan/metrics/scores.py", "src/provgan/metrics/swd.py", "src/provgan/metrics/resize.py",
            "src/provgan/train/step.py"} <= patterns
    assert all(e.reason for t in targets for e in t.equivalent)


@pytest.mark.parametrize("body, message", [
    ("[tool.other]\n", "no \\[tool.provgan-mutation.targets\\]"),
    ('[tool.provgan-mutation.targets]\n"src/a.py" = []\n', "non-empty list"),
    ('[tool.provgan-mutation.targets]\n"src/a.py" = ["tests/nope.py"]\n', "no such test path tests/nope.py"),
    ('[tool.provgan-mutation.targets]\n"src/a.py" = ["tests/test_x.py"]\n'
     '[[tool.provgan-mutation.equivalent]]\nfile = "src/a.py"\nmatch = "x"\n', "equivalent\\[0\\] needs"),
])
def test_bad_config_is_one_clear_error(bench, tmp_path, body, message):
    with pytest.raises(bench.MutationSetupError, match=message):
        bench.load_targets(_pyproject(tmp_path, body))


def test_equivalent_marks_go_to_the_targets_they_match(bench, tmp_path):
    path = _pyproject(tmp_path, '[tool.provgan-mutation.targets]\n"src/p/nn/*" = ["tests/test_x.py"]\n'
                                '"src/p/a.py" = ["tests/test_x.py"]\n[[tool.provgan-mutation.equivalent]]\n'
                                'file = "src/p/nn/b.py"\nmatch = "y = 2"\nreason = "r"\n')
    nn, a = bench.load_targets(path)
    assert [e.match for e in nn.equivalent] == ["y = 2"] and a.equivalent == ()
    assert nn.slug == "src-p-nn" and a.slug == "src-p-a-py"  # one scratch folder per target


def test_tally_counts_each_status_and_scores_without_the_equivalents(bench, tmp_path, monkeypatch):
    meta = tmp_path / "mutants" / "src" / "p"
    meta.mkdir(parents=True)
    codes = {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 1, "m.x_f__mutmut_3": 3, "m.x_f__mutmut_4": 36,
             "m.x_f__mutmut_5": 0, "m.x_f__mutmut_6": 0, "m.x_f__mutmut_7": 33}
    (meta / "a.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    diffs = {"m.x_f__mutmut_5": ["return q / s"], "m.x_f__mutmut_6": ["return q - s"]}
    monkeypatch.setattr(bench, "added_lines", lambda work, name: diffs[name])
    target = bench.Target("src/p/a.py", ("tests",), (bench.Equivalent("src/p/a.py", "q / s", "why"),))
    t, shown = bench.tally(target, tmp_path)
    assert (t.killed, t.timeout, t.survived, t.equivalent, t.other, t.total) == (3, 1, 1, 1, 1, 7)
    assert t.survivors == ["m.x_f__mutmut_6", "m.x_f__mutmut_7"]
    assert t.score == pytest.approx(100 * 4 / 6)
    assert shown["m.x_f__mutmut_7"] == ["(status: no tests)"]


def test_an_equivalent_mark_may_be_limited_to_one_function(bench):
    mark = bench.Equivalent("src/p/a.py", "if a > 1:", "why", function="g")
    assert mark.covers("p.a.x_g__mutmut_3", ["if a > 1:"])
    assert not mark.covers("p.a.x_gg__mutmut_3", ["if a > 1:"]) and not mark.covers("p.a.x_f__mutmut_1", ["if a > 1:"])
    assert not mark.covers("p.a.x_g__mutmut_3", ["if a >= 1:"])


def test_a_glob_targets_mutants_are_also_tallied_file_by_file(bench, tmp_path):
    meta = tmp_path / "mutants" / "src" / "p" / "nn"
    meta.mkdir(parents=True)
    (meta / "a.py.meta").write_text(json.dumps({"exit_code_by_key": {"p.nn.a.x_f__mutmut_1": 1}}))
    (meta / "b.py.meta").write_text(json.dumps({"exit_code_by_key": {"p.nn.b.x_g__mutmut_1": 1,
                                                                     "p.nn.b.x_g__mutmut_2": 36}}))
    (meta / "__init__.py.meta").write_text(json.dumps({"exit_code_by_key": {}}))
    assert bench.mutated_files(tmp_path) == ["src/p/nn/a.py", "src/p/nn/b.py"]
    target = bench.Target("src/p/nn/*", ("tests",))
    whole, _ = bench.tally(target, tmp_path)
    b, _ = bench.tally(target, tmp_path, "src/p/nn/b.py")
    assert (whole.killed, whole.timeout) == (2, 1) and (b.killed, b.timeout, b.total) == (1, 1, 2)
