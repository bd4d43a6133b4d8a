"""The report page in a real browser: headless Chromium loads it without console errors and plays its videos."""

from pathlib import Path

from provgan.report import build_report


def check_loads_cleanly(chromium, media_check, page: Path, num_videos: int) -> dict:
    result = chromium.open(page, media_check)
    assert result.errors == [], result.errors
    value = result.value
    assert value["canPlayH264"], "this chromium cannot play H.264: the page would fall back to gifs"
    assert len(value["videos"]) == num_videos
    for video in value["videos"]:
        assert video["error"] is None and video["duration"] > 0 and video["width"] > 0, video
    assert value["images"] and all(img["width"] > 0 for img in value["images"]), value["images"]
    return value


def test_report_page_loads_without_errors_and_its_videos_play(chromium, media_check, report_run, tmp_path):
    value = check_loads_cleanly(chromium, media_check, build_report(report_run).page, num_videos=5)
    durations = {Path(v["src"]).name: v["duration"] for v in value["videos"]}
    assert durations["level2-8x16x16-final.mp4"] == 1.0  # 8 frames at 8 fps
    assert durations["level0-4x4x4-final.mp4"] == 0.5
    # the copy written outside the run folder works as well
    copy = build_report(report_run, tmp_path / "out" / "copy.html").page
    check_loads_cleanly(chromium, media_check, copy, num_videos=5)


def test_the_browser_check_sees_broken_pages(chromium, media_check, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                    '<img src="missing.png"><video><source src="missing.mp4" type="video/mp4"></video>'
                    '<script>console.error("boom")</script></body></html>')
    result = chromium.open(page, media_check)
    assert any("boom" in e for e in result.errors)
    assert any("missing.png" in e for e in result.errors)
    assert result.value["videos"][0]["duration"] is None or result.value["videos"][0]["width"] == 0


def test_videos_fall_back_to_their_gifs_where_mp4_cannot_play(chromium, media_check, report_run):
    page = build_report(report_run).page
    unplayable = page.with_name("report-unplayable.html")  # same folder: the same relative paths
    unplayable.write_text(page.read_text().replace('type="video/mp4"', 'type="video/x-unplayable"'))
    result = chromium.open(unplayable, media_check)
    assert result.errors == []
    assert result.value["videos"] == []
    gifs = sorted(Path(img["src"]).name for img in result.value["images"] if img["src"].endswith(".gif"))
    assert gifs == ["interpolation.gif", "level0-4x4x4-final.gif", "level1-4x8x8-final.gif",
                    "level2-8x16x16-final.gif", "samples-000000.gif"]
    assert all(img["width"] > 0 for img in result.value["images"])
