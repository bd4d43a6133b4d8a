import shutil
from pathlib import Path

import provgan_tests_cdp_client as cdp  # registered by tests/conftest.py
import pytest
from provgan_tests_tiny_run import tiny_run



@pytest.fixture(scope="session")
def report_run(tmp_path_factory) -> Path:
    """A copy of the session's tiny run with an interpolation video and a real metrics file added."""
    from provgan.data.video_io import write_video
    from provgan.metrics.evaluate import EvalOptions, evaluate_checkpoint
    from provgan.sampling import interpolation_grid
    from provgan.train.checkpoint import load_sampler

    trained = tiny_run(tmp_path_factory.getbasetemp())
    run = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(trained.run, run)
    frames = interpolation_grid(load_sampler(run), [0, 1, 2], steps=5)
    for ext in (".mp4", ".gif"):
        write_video(run / "samples" / f"interpolation{ext}", frames, fps=8)
    evaluate_checkpoint(run, trained.store, EvalOptions(metrics=("swd",), num=16))
    return run


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """Headless Debian chromium driven over DevTools; skipped with the reason when it is missing."""
    exe = cdp.find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed: `make test` installs Debian's chromium package with apt-get; "
                    "install it by hand with `apt-get install chromium` where apt is not available")
    browser = cdp.Chromium(exe, tmp_path_factory.mktemp("chromium") / "profile")
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def media_check() -> str:
    """The script that waits for the page's videos and images and reports on them."""
    return cdp.CHECK_MEDIA_JS
