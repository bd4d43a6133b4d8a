"""`make demo` end to end, shrunk: prepare -> train -> interpolate -> evaluate -> report."""

import json
import subprocess
import sys


def test_demo_pipeline_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "provgan.demo", "--out", str(out), "--config", "tiny", "--kimg", "0.3",
           "--classifier-epochs", "1", "optim.ema_halflife_kimg=0.05"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run = out / "run"
    for level, shape in enumerate(["4x4x4", "4x8x8", "8x16x16"]):
        assert (run / "samples" / f"level{level}-{shape}-final.mp4").stat().st_size > 0
    assert (run / "samples" / "interpolation.mp4").stat().st_size > 0
    metrics = json.loads(next(run.glob("metrics-*.json")).read_text())
    assert "swd" in json.dumps(metrics).lower()
    assert (run / "report.html").stat().st_size > 0
    assert "level2-8x16x16-final.mp4" in result.stdout
    # the closing summary: SWD beside the classifier's sure share and effective digits (README figures)
    summary = [line for line in result.stdout.splitlines() if line.startswith("G_ema at ")]
    assert len(summary) == 1 and "effective digits" in summary[0] and "video SWD" in summary[0], result.stdout[-2000:]
    assert (out / "classifier.pt").is_file()
    assert "ema_halflife_kimg: 0.05" in (run / "config.yaml").read_text()  # overrides reach training
    # a second run continues (nothing left to train) and reuses the prepared data
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "prepare" not in again.stdout.split("$ provgan train")[0]
    # the demo's data: one larger white digit per clip, a slower bounce and a slide, in the manifest
    source = json.loads((out / "data" / "moving-digits" / "manifest.json").read_text())["source"]
    assert (source["max_digits"], source["colour"], source["digit_scale"], source["motion_speed"],
            source["motions"]) == (1, "white", 1.5, 0.3, ["bounce", "slide"])


def test_a_demo_folder_with_data_of_other_options_is_one_clear_line(tmp_path):
    from provgan.data.prepare import prepare_builtin

    out = tmp_path / "old-demo"
    prepare_builtin("moving-digits", out / "data" / "moving-digits", "tiny", num_clips=4)  # the old defaults
    result = subprocess.run([sys.executable, "-m", "provgan.demo", "--out", str(out), "--config", "tiny"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "prepared with" in lines[0] and "delete" in lines[0], result.stderr


def test_the_demo_data_of_all_four_motions_is_refused_and_its_own_passes(tmp_path):
    import pytest

    from provgan.data.moving_digits import MOTIONS
    from provgan.data.prepare import prepare_builtin
    from provgan.demo import DEMO_DATA, check_demo_data

    old, new = tmp_path / "old" / "data" / "moving-digits", tmp_path / "new" / "data" / "moving-digits"
    prepare_builtin("moving-digits", old, "digits-demo", num_clips=4, **{**DEMO_DATA, "motions": MOTIONS})
    with pytest.raises(SystemExit) as refused:
        check_demo_data(old, "digits-demo")
    assert "'motions': ('bounce', 'slide', 'zoom', 'rotate')" in str(refused.value)
    assert "the demo now uses" in str(refused.value) and "delete" in str(refused.value)
    prepare_builtin("moving-digits", new, "digits-demo", num_clips=4, **DEMO_DATA)
    check_demo_data(new, "digits-demo")  # its own data passes


def test_a_demo_folder_with_data_of_another_plan_is_one_clear_line(tmp_path):
    from provgan.data.prepare import prepare_builtin
    from provgan.demo import DEMO_DATA

    out = tmp_path / "old-demo"
    # the demo's data options, but the levels of another plan (a demo folder from before digits-demo)
    prepare_builtin("moving-digits", out / "data" / "moving-digits", "tiny", num_clips=4, **DEMO_DATA)
    result = subprocess.run([sys.executable, "-m", "provgan.demo", "--out", str(out), "--config", "digits-demo"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "holds the levels" in lines[0] and "digits-demo" in lines[0], result.stderr


def test_the_demo_preset_is_the_thesis_level_3_at_8x32x32():
    from provgan.config import load_config

    demo, before = load_config("digits-demo"), load_config("digits-32")
    assert [list(s) for s in demo.model.plan] == [[4, 4, 4], [8, 8, 8], [8, 16, 16], [8, 32, 32]]
    # only the top level's duration and its stable phase differ from the 16x32x32 plan
    assert demo.model.plan[:3] == before.model.plan[:3] and demo.model.g_channels == before.model.g_channels
    assert demo.schedule.total_kimg == before.schedule.total_kimg + demo.schedule.stable[32]
