"""MkDocs hook: one API reference page per `keras_dlss` subpackage, generated at build time.

The pages are not files in the repository: each is `::: keras_dlss.NAME`, which
mkdocstrings renders from the docstrings of the names in that subpackage's
`__all__`. Generating them from `keras_dlss._SUBPACKAGES` means a new
subpackage gets its page without anyone remembering to add one.
"""

import ast
import os

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def subpackages():
    """`keras_dlss._SUBPACKAGES`, read without importing the package (no TensorFlow import)."""
    tree = ast.parse(open(os.path.join(ROOT, "keras_dlss", "__init__.py")).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_SUBPACKAGES":
            return list(ast.literal_eval(node.value))
    raise RuntimeError("keras_dlss/__init__.py no longer defines _SUBPACKAGES")


def api_page(name):
    return (
        f"# `keras_dlss.{name}`\n\n"
        f"::: keras_dlss.{name}\n"
        "    options:\n"
        "      show_root_heading: false\n"
        "      show_submodules: false\n"
    )


def on_files(files, config):
    for name in subpackages():
        files.append(File.generated(config, f"api/{name}.md", content=api_page(name)))
    return files


def on_nav(nav, config, files):
    return nav
