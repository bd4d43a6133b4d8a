"""provgan report: a static page whose every reference is a local file, for real and partial runs."""

import json
import shutil
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest

from provgan.errors import ProvganError
from provgan.report import build_report
from provgan.report.curves import panels_for
from provgan.report.page import fmt_number, metric_cell, metric_columns
from provgan.report.run_folder import read_stats

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Collects every URL-valued attribute, the <video> elements and the text of a page."""

    def __init__(self, path: Path):
        super().__init__()
        self.refs: list[str] = []
        self.videos: list[dict] = []
        self.sources: list[str] = []
        self.text: list[str] = []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.refs += [v for k, v in attrs.items() if k in ("src", "href", "data-gif", "poster") and v]
        if tag == "video":
            self.videos.append(attrs)
        if tag == "source":
            self.sources.append(attrs["src"])

    def handle_data(self, data):
        self.text.append(data)


def local_files(page: Path) -> list[Path]:
    """The files a page references, checked to be relative local paths (no network, no absolute path)."""
    parsed = Page(page)
    files = []
    for ref in parsed.refs:
        url = urllib.parse.urlparse(ref)
        if url.scheme == "data":
            continue
        assert not url.scheme and not url.netloc and not ref.startswith("/"), ref
        files.append(page.parent / urllib.parse.unquote(url.path))
    return files


def test_page_in_the_run_folder_references_only_existing_files(report_run):
    result = build_report(report_run)
    page = result.page
    assert page == report_run / "report.html" and not result.copied_media
    files = local_files(page)
    missing = [f for f in files if not f.is_file()]
    assert files and not missing
    parsed = Page(page)
    names = sorted(Path(urllib.parse.unquote(s)).name for s in parsed.sources)
    assert names == ["interpolation.mp4", "level0-4x4x4-final.mp4", "level1-4x8x8-final.mp4",
                     "level2-8x16x16-final.mp4", "samples-000000.mp4"]
    assert all(v["data-gif"].endswith(".gif") for v in parsed.videos)
    # videos are the run's own files, not copies
    assert {f.resolve() for f in files if f.suffix == ".mp4"} == {
        p.resolve() for p in [*(report_run / "samples").glob("*.mp4")]}


def test_page_shows_curves_metrics_and_config(report_run):
    page = build_report(report_run).page
    text = " ".join(Page(page).text)
    pngs = [f for f in local_files(page) if f.suffix == ".png"]
    assert {p.stem for p in pngs} >= {"losses", "penalties", "terms", "schedule", "speed", "memory"}
    assert all(p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 5000 for p in pngs)
    (metrics_file,) = report_run.glob("metrics-*.json")
    values = json.loads(metrics_file.read_text())["metrics"]
    assert values and all(fmt_number(v) in text for v in values.values())
    assert "latent_dim: 16" in text and "swgan" in text
    assert "4x4x4 → 4x8x8 → 8x16x16" in text


def test_page_outside_the_run_folder_carries_its_media(report_run, tmp_path):
    result = build_report(report_run, tmp_path / "www" / "tiny.html")
    assert result.copied_media and result.assets == tmp_path / "www" / "tiny_files"
    assert not (report_run / "tiny.html").exists()
    moved = tmp_path / "elsewhere"
    shutil.move(tmp_path / "www", moved)  # page + assets folder travel together
    files = local_files(moved / "tiny.html")
    assert files and all(f.is_file() for f in files)
    assert all(f.resolve().is_relative_to(moved.resolve()) for f in files)


def test_rebuilding_replaces_the_assets_and_leaves_no_temporary_files(report_run, tmp_path):
    page = tmp_path / "r.html"
    build_report(report_run, page)
    (tmp_path / "r_files" / "stale.png").write_bytes(b"old")
    build_report(report_run, page)
    assert not (tmp_path / "r_files" / "stale.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r_files"]


def test_a_run_still_starting_gets_a_page(report_run, tmp_path):
    run = tmp_path / "young"
    run.mkdir()
    shutil.copy(report_run / "config.yaml", run)
    rows = (report_run / "stats.jsonl").read_text().splitlines()[:3]
    (run / "stats.jsonl").write_text("\n".join(rows) + '\n{"kimg": 0.03, "Loss/D/to')  # being written
    assert len(read_stats(run / "stats.jsonl")) == 3
    page = build_report(run).page
    text = " ".join(Page(page).text)
    assert "no sample videos yet" in text and "none yet" in text
    assert all(f.is_file() for f in local_files(page))


def test_cli_report(report_run, cli, tmp_path):
    code, out, err = cli("report", report_run, "--out", tmp_path / "x.html")
    assert code == 0, err
    assert "wrote" in out and "5 videos" in out and (tmp_path / "x.html").is_file()
    (tmp_path / "empty").mkdir()
    for args, message in [((tmp_path / "nothing",), "is not a folder"),
                          ((tmp_path / "empty",), "not a provgan run folder"),
                          ((report_run, "--out", tmp_path / "r.txt"), "give an .html file name")]:
        code, _, err = cli("report", *args)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and message in lines[0], err


def test_every_stat_lands_in_exactly_one_panel():
    keys = ["kimg", "Loss/D/total", "Loss/G/total", "Loss/D/gp", "Loss/D/drift", "Loss/D/wdist", "Loss/G/fake",
            "Progress/level", "Progress/alpha", "Progress/lr", "Timing/clips_per_sec", "Resources/peak_mem_gb",
            "Custom/thing"]
    panels = panels_for(keys)
    drawn = [k for p in panels for k in p.keys]
    assert sorted(drawn) == sorted(keys[1:])
    by_name = {p.name: p for p in panels}
    assert by_name["penalties"].keys == ("Loss/D/drift", "Loss/D/gp") and by_name["penalties"].log_y
    assert by_name["custom_thing"].keys == ("Custom/thing",)


def test_quality_metrics_are_drawn_beside_their_real_clip_ceiling(tmp_path):
    from provgan.report.curves import plot_curves

    keys = ["Metrics/swd", "Metrics/swd_16", "Metrics/sure", "Metrics/real/sure", "Metrics/classes",
            "Metrics/real/classes", "Metrics/is", "Metrics/real/is", "Metrics/fid"]
    by_name = {p.name: p for p in panels_for(keys)}
    assert by_name["quality_sure"].keys == ("Metrics/real/sure", "Metrics/sure")
    assert by_name["quality_swd"].keys == ("Metrics/swd", "Metrics/swd_16")
    assert sorted(k for p in by_name.values() for k in p.keys) == sorted(keys)
    rows = [{"kimg": k, "Progress/level": float(k > 1), "Metrics/sure": 0.1 * k, "Metrics/real/sure": 0.9}
            for k in (0.5, 1.0, 1.5, 2.0)]
    drawn = {panel.name: path for panel, path in plot_curves(rows, tmp_path)}
    assert drawn["quality_sure"].stat().st_size > 0


def test_metric_columns_pair_values_with_their_std():
    class R:
        values = {"is": 3.21, "is_std": 0.1234, "fvd": {"mean": 12.0, "std": 0.5}, "note": "x"}

    assert metric_columns([R]) == ["is", "fvd", "note"]
    assert metric_cell(R.values, "is") == "3.21 ± 0.1234"
    assert metric_cell(R.values, "fvd") == "12 ± 0.5"


def test_not_a_run_folder_is_one_error(tmp_path):
    with pytest.raises(ProvganError, match="not a provgan run folder"):
        build_report(tmp_path)
