"""The documentation site (issue #19 item 3): `make docs` builds it with `--strict`.

Strict means every warning fails: a broken link or anchor, a guide left out of the
navigation, a docstring `Args:` entry naming no parameter, a cross-reference that
resolves to nothing. The second test proves the check bites: the same site with
one deliberately broken link, in a temporary copy, must fail to build.
"""

import ast
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")


def _build(root, site_dir):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def _subpackages():
    tree = ast.parse(open(os.path.join(ROOT, "keras_dlss", "__init__.py")).read())
    node = next(
        n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "_SUBPACKAGES"
    )
    return ast.literal_eval(node.value)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site_dir = tmp_path_factory.mktemp("site")
    result = _build(ROOT, site_dir)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    return site_dir


def test_every_guide_and_one_api_page_per_subpackage_are_built(site):
    guides = [f[:-3] for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md")]
    for guide in guides:
        page = "index.html" if guide == "index" else os.path.join(guide, "index.html")
        assert (site / page).is_file(), guide
    for name in _subpackages():
        html = (site / "api" / name / "index.html").read_text()
        assert f"keras_dlss.{name}" in html
    # The reference is rendered from docstrings, not just a title: the CRF's paper is cited.
    layers = (site / "api" / "layers" / "index.html").read_text()
    assert "CRF" in layers and "Lafferty" in layers


def test_a_broken_link_fails_the_strict_build(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(os.path.join(ROOT, "docs"), copy / "docs")
    shutil.copytree(
        os.path.join(ROOT, "keras_dlss"),
        copy / "keras_dlss",
        ignore=shutil.ignore_patterns("__pycache__", "data"),
    )
    shutil.copy(os.path.join(ROOT, "mkdocs.yml"), copy / "mkdocs.yml")
    with open(copy / "docs" / "crf.md", "a") as f:
        f.write("\nSee [the missing page](no-such-page.md).\n")
    result = _build(copy, tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-page.md" in result.stdout + result.stderr
