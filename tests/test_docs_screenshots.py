"""The built site renders (issue #19 item 3): headless Chromium screenshots are not blank.

`scripts/docs_screenshots.py` builds the site, serves it on a loopback port and
screenshots the home page and the `keras_dlss.layers` API page. Skipped when
no Chromium is installed (CI images may have none); the committed pictures in
docs/images/ come from the same script.
"""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytest.importorskip("mkdocs")
pytest.importorskip("PIL")


def _script():
    path = os.path.join(ROOT, "scripts", "docs_screenshots.py")
    spec = importlib.util.spec_from_file_location("docs_screenshots", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_home_and_api_page_screenshots_are_not_blank(tmp_path):
    script = _script()
    if script.find_chromium() is None:
        pytest.skip("no Chromium on this machine (chromium, chromium-browser, google-chrome)")
    results = script.take_screenshots(str(tmp_path / "shots"), str(tmp_path / "site"))
    assert set(results) == {"docs_home.png", "docs_api_layers.png"}
    for name, (size, stddev) in results.items():
        assert 5_000 < size < 200_000, (name, size)
        assert stddev > script.MIN_STDDEV, (name, stddev)


def test_a_blank_page_is_detected(tmp_path):
    from PIL import Image

    script = _script()
    Image.new("RGB", (64, 48), "white").save(tmp_path / "blank.png")
    assert script.grey_stddev(str(tmp_path / "blank.png")) < script.MIN_STDDEV


def test_the_committed_screenshots_are_small_and_not_blank():
    script = _script()
    for name in script.PAGES:
        path = os.path.join(ROOT, "docs", "images", name)
        assert os.path.getsize(path) < 200_000, name
        assert script.grey_stddev(path) > script.MIN_STDDEV, name
