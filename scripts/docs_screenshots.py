"""Screenshots of the built documentation site with headless Chromium (issue #19 item 3).

Builds the site (`mkdocs build --strict`, as `make docs`), serves it on a free
loopback port, and takes a 1280x900 screenshot of the home page and of one API
reference page, so a reader can see that the theme, the navigation, the code
highlighting and the reference generated from docstrings render, not just that
the HTML files exist. Each picture is quantized to 128 colours (the pages are
flat colour: no visible loss, a quarter of the bytes) and checked not to be
blank (the standard deviation of its grey levels).

    python scripts/docs_screenshots.py                  # writes docs/images/docs_*.png
    python scripts/docs_screenshots.py --out /tmp/shots --site-dir /tmp/site

Needs a Chromium (`--chromium`, or `chromium`/`chromium-browser`/`google-chrome`
on PATH); exits with status 2 and says so when there is none.
"""

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = {
    "docs_home.png": "index.html",
    "docs_api_layers.png": "api/layers/index.html",
}
WINDOW = (1280, 900)
MIN_STDDEV = 20.0  # a blank or error page is nearly one colour; a rendered page is far above


def find_chromium(explicit=None):
    """The Chromium executable: `explicit`, or the first of the usual names on PATH."""
    if explicit:
        return explicit if shutil.which(explicit) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def build_site(site_dir):
    """`mkdocs build --strict` into `site_dir`; returns the seconds it took."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", site_dir],
        cwd=ROOT,
        check=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return time.perf_counter() - start


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site_dir):
    """An HTTP server for `site_dir` on a free loopback port, in a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=site_dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def screenshot(chromium, url, path, window=WINDOW):
    """One headless Chromium screenshot of `url` into the PNG `path`."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",  # root in a container has no user namespace for the sandbox
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--window-size={window[0]},{window[1]}",
                f"--screenshot={path}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    if not os.path.isfile(path):
        raise RuntimeError(f"Chromium wrote no screenshot of {url}")


def shrink(path, colors=128):
    """Quantizes the PNG in place (flat-colour pages lose nothing visible)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=colors)
    small.save(path, optimize=True)


def grey_stddev(path):
    """The standard deviation of the picture's grey levels: ~0 for a blank page."""
    from PIL import Image, ImageStat

    with Image.open(path) as image:
        return ImageStat.Stat(image.convert("L")).stddev[0]


def take_screenshots(out_dir, site_dir=None, chromium=None, build=True):
    """Builds (unless `build=False`) and screenshots the site; returns `{png: (bytes, stddev)}`."""
    chromium = find_chromium(chromium)
    if chromium is None:
        raise FileNotFoundError("no Chromium found (chromium, chromium-browser, google-chrome)")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        site_dir = site_dir or os.path.join(scratch, "site")
        if build:
            print(f"mkdocs build --strict: {build_site(site_dir):.1f} s")
        server = serve(site_dir)
        results = {}
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}/"
            for name, page in PAGES.items():
                path = os.path.join(out_dir, name)
                screenshot(chromium, base + page, path)
                shrink(path)
                results[name] = (os.path.getsize(path), grey_stddev(path))
        finally:
            server.shutdown()
            server.server_close()
    for name, (size, stddev) in results.items():
        print(f"{name}: {size / 1024:.0f} KiB, grey-level std {stddev:.1f}")
        if stddev < MIN_STDDEV:
            raise RuntimeError(f"{name} looks blank: grey-level std {stddev:.1f} < {MIN_STDDEV}")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "images"))
    parser.add_argument("--site-dir", help="build into (or, with --no-build, read) this folder")
    parser.add_argument("--no-build", action="store_true", help="screenshot an existing build")
    parser.add_argument("--chromium", help="the Chromium executable")
    args = parser.parse_args(argv)
    if args.no_build and not args.site_dir:
        parser.error("--no-build needs --site-dir")
    try:
        take_screenshots(args.out, args.site_dir, args.chromium, build=not args.no_build)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
