"""The whole pipeline on real videos: a face video, a face-less one and a broken file, in one folder."""

from __future__ import annotations

import json
import os
import shutil

import dlib
import numpy as np
import pytest

from provgan.cli import main
from provgan.data.video_io import read_video
from provgan.errors import ProvganError
from provgan.faces.align import template_points
from provgan.faces.build import build_faces, find_jobs
from provgan.faces.landmarks import five_points
from provgan.faces.options import FacesOptions

SIZE = 128
OPTIONS = FacesOptions(size=SIZE, min_frames=31)
EYE_TOLERANCE = 0.04 * SIZE  # pixels: the smoothed alignment may lag the landmarks slightly


@pytest.fixture(scope="module")
def source(carphone, joined_video, tmp_path_factory):
    src = tmp_path_factory.mktemp("faces_src")
    shutil.copy(carphone, src / "carphone.mp4")
    shutil.copy(joined_video, src / "noface.mp4")
    (src / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 50)
    return src


@pytest.fixture(scope="module")
def built(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("faces_out") / "faces"
    events = []
    summary = build_faces(source, out, OPTIONS, report=lambda *e: events.append(e))
    return out, summary, events


def test_summary_counts_every_outcome(built):
    out, summary, _ = built
    assert summary.videos == 3 and summary.processed == 3 and summary.skipped_done == 0
    assert summary.status_counts == {"clips": 1, "no-face": 1, "no-track": 0, "failed": 1}
    assert len(summary.failed) == 1 and "broken.mp4" in summary.failed[0][1]
    assert summary.clips >= 1 and sum(summary.histogram.values()) == summary.clips
    stats = json.loads((out / "statistics.json").read_text())
    assert stats["status"] == summary.status_counts and stats["histogram_table_7_2"] == summary.histogram
    videos = {v["key"]: v for v in json.loads((out / "manifest.json").read_text())["videos"]}
    assert videos["noface"]["status"] == "no-face" and videos["noface"]["clips"] == 0
    assert videos["noface"]["shots"] == 2 and videos["noface"]["face_frames"] == 0


def test_clips_respect_min_frames_and_the_manifest(built):
    out, summary, _ = built
    clips = json.loads((out / "manifest.json").read_text())["clips"]
    assert len(clips) == summary.clips and sorted(p.name for p in (out / "clips").iterdir()) == \
        sorted(c["file"].split("/")[-1] for c in clips)
    for clip in clips:
        frames = read_video(out / clip["file"])
        start, stop = clip["frames"]
        assert frames.shape == (clip["num_frames"], SIZE, SIZE, 3)
        assert clip["num_frames"] == stop - start >= OPTIONS.min_frames
        assert clip["shot_frames"][0] <= start < stop <= clip["shot_frames"][1]
        assert len(clip["boxes"]) == clip["num_frames"] and clip["source"].endswith("carphone.mp4")


def test_every_output_frame_has_its_eyes_on_the_template(built):
    out, _, _ = built
    from provgan.faces.landmarks import LandmarkPredictor

    hog, predictor = dlib.get_frontal_face_detector(), LandmarkPredictor()
    eyes = template_points(SIZE, OPTIONS.margin)[:2]
    for clip in json.loads((out / "manifest.json").read_text())["clips"]:
        for frame in read_video(out / clip["file"]):
            found = hog(frame, 0)  # an independent detector finds the face in the aligned crop...
            assert len(found) == 1
            r = found[0]
            marks = predictor(frame, (r.left(), r.top(), r.width(), r.height()))
            error = np.linalg.norm(five_points(marks)[:2] - eyes, axis=1)
            assert error.max() < EYE_TOLERANCE  # ...with its eye centres on the template's


def test_progress_events(built):
    _, summary, events = built
    assert events[0] == ("found", "", 3)
    frames = {}
    for event, key, value in events:
        if event == "advance":
            frames[key] = frames.get(key, 0) + value
    assert frames == {"carphone": 120, "noface": 60}
    assert sorted(k for e, k, _ in events if e == "done") == ["broken", "carphone", "noface"]


def test_progress_bars_follow_the_events(built, capsys):
    from provgan.faces.cli import ProgressBars, format_summary

    _, summary, events = built
    bars = ProgressBars(workers=2)
    for event in events:
        bars(*event)
    assert bars.overall.n == 3 and not bars.bars and bars.free == [1, 2]
    bars.close()
    assert "broken.mp4" in capsys.readouterr().err  # the failed video is reported on its own line
    text = format_summary(summary)
    assert "no face: 1" in text and "failed: 1" in text and "30-33" in text


def test_rerun_skips_done_videos_and_prepares_a_store(built, source):
    out, first, _ = built
    clip_files = sorted((out / "clips").iterdir())
    stamps = [p.stat().st_mtime_ns for p in clip_files]
    os.utime(source / "noface.mp4", ns=(1, 1))  # a changed source is done again
    again = build_faces(source, out, OPTIONS, plan="digits-32")
    assert (again.processed, again.skipped_done) == (2, 1)  # broken (retried) and noface
    assert again.status_counts == first.status_counts and again.histogram == first.histogram
    assert [p.stat().st_mtime_ns for p in sorted((out / "clips").iterdir())] == stamps
    from provgan.data.store import open_store

    store = open_store(out / "store")
    assert store.num_clips == first.clips and store.shapes[-1] == (16, 32, 32)
    assert store.level((16, 32, 32)).shape == (first.clips, 16, 32, 32, 3)


def test_other_options_into_the_same_folder_are_refused(built, source):
    out, _, _ = built
    with pytest.raises(ProvganError, match="other videos or options"):
        build_faces(source, out, FacesOptions(size=64))


def test_two_workers_give_the_same_clips(built, source, tmp_path):
    out, _, _ = built
    src = tmp_path / "src"
    src.mkdir()
    for name in ("carphone.mp4", "noface.mp4"):
        shutil.copy(source / name, src / name)
    two = build_faces(src, tmp_path / "faces2", FacesOptions(size=SIZE, min_frames=31, workers=2))
    assert two.status_counts == {"clips": 1, "no-face": 1, "no-track": 0, "failed": 0}
    clips = [json.loads((o / "manifest.json").read_text())["clips"] for o in (out, tmp_path / "faces2")]
    assert [(c["frames"], c["boxes"]) for c in clips[0]] == [(c["frames"], c["boxes"]) for c in clips[1]]
    # a video removed from SRC leaves the output folder too
    (src / "carphone.mp4").unlink()
    mirror = build_faces(src, tmp_path / "faces2", FacesOptions(size=SIZE, min_frames=31, workers=2))
    assert (mirror.videos, mirror.processed, mirror.clips) == (1, 0, 0)
    assert not list((tmp_path / "faces2" / "clips").iterdir())
    with pytest.raises(ProvganError, match="other videos"):
        build_faces(source, tmp_path / "faces2", FacesOptions(size=SIZE, min_frames=31))


def test_cli_errors_are_one_line_and_write_nothing(source, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["faces", str(source), str(tmp_path / "o"), "--size", "64", "--plan", "thesis-256"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and err.startswith("error: --size 64") and "\n" not in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):
        main(["faces", str(tmp_path / "missing"), str(tmp_path / "o")])
    assert "no such file" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_cli_dry_run(built, source, capsys):
    out, _, _ = built
    main(["faces", str(source), str(out), "--size", str(SIZE), "--dry-run"])
    assert "3 videos" in capsys.readouterr().out


def test_job_keys_are_unique(tmp_path):
    for name in ("a.mp4", "a.avi", "b c.mkv"):
        (tmp_path / name).write_bytes(b"x")
    keys = [job.key for job in find_jobs(tmp_path)]
    assert len(set(keys)) == 3 and "b_c" in keys
