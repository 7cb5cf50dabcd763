"""Release artifacts (issue #19 item 5): the wheel and sdist a user would install.

`python -m build` makes both, `twine check` accepts their metadata, the wheel
carries every data file the package ships (the embedded corpora, their
licenses), and the README's quick-start examples run against the *installed
wheel* in a new virtual environment — not against this checkout.

The new environment reuses this one's third-party packages through a `.pth`
path entry (a path entry does not run the `.pth` files inside it, so the
editable install of this checkout stays invisible there); keras-dlss itself
comes only from the wheel, which the test asserts by `keras_dlss.__file__`.
"""

import glob
import os
import re
import subprocess
import sys
import sysconfig
import zipfile

import pytest

import keras_dlss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{args}\nstdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # A copy keeps build/ and *.egg-info out of the working tree other tests read.
    src = tmp_path_factory.mktemp("src")
    # Tracked and untracked-but-not-ignored files: what `python -m build .` would see here.
    tracked = _run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT
    ).split()
    if not tracked:
        pytest.skip("not a git checkout: the release test builds from the tracked files")
    tracked = [p for p in tracked if os.path.isfile(os.path.join(ROOT, p))]
    for path in tracked:
        target = src / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(os.path.join(ROOT, path), "rb") as f:
            target.write_bytes(f.read())
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)])
    wheels = glob.glob(str(out / "*.whl"))
    sdists = glob.glob(str(out / "*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, os.listdir(out)
    return {"wheel": wheels[0], "sdist": sdists[0], "tracked": tracked}


def test_version_comes_from_one_place(dist):
    name = os.path.basename(dist["wheel"])
    assert name.startswith(f"keras_dlss-{keras_dlss.__version__}-"), name
    pyproject = open(os.path.join(ROOT, "pyproject.toml")).read()
    assert not re.search(r'^version\s*=\s*"', pyproject, re.M), (
        "version must live only in keras_dlss/__init__.py"
    )


def test_twine_accepts_both_artifacts(dist):
    out = _run([sys.executable, "-m", "twine", "check", "--strict", dist["wheel"], dist["sdist"]])
    assert out.count("PASSED") == 2, out


def test_wheel_ships_every_data_file_of_the_package(dist):
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    data = [p for p in dist["tracked"] if p.startswith("keras_dlss/") and not p.endswith(".py")]
    assert data, "the package embeds corpora; none found among the tracked files"
    missing = [p for p in data if p not in names]
    assert not missing, f"package data missing from the wheel (pyproject package-data): {missing}"
    assert "keras_dlss/cli/__init__.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def _readme_quick_start():
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 3, "the README's quick start lost its examples"
    return "\n".join(blocks)


def test_readme_quick_start_runs_against_the_installed_wheel(dist, tmp_path):
    env_dir = tmp_path / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)])
    python = str(env_dir / "bin" / "python")
    fresh_site = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).strip()
    with open(os.path.join(fresh_site, "_deps_from_test_env.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            dist["wheel"],
        ]
    )

    script = tmp_path / "quick_start.py"
    script.write_text(
        "import keras_dlss, sys\n"
        f"assert keras_dlss.__file__.startswith({str(env_dir)!r}), keras_dlss.__file__\n"
        "from keras_dlss.datasets import ud_english_ewt\n"
        "assert len(ud_english_ewt.load_ud_english_ewt('dev')[0]) == 2001\n" + _readme_quick_start()
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    out = _run([python, str(script)], cwd=tmp_path, env=env)
    assert "max abs difference" in out
    cli = _run([str(env_dir / "bin" / "keras-dlss"), "list"], cwd=tmp_path, env=env)
    assert "mlp" in cli and "tagger" in cli
