"""Every docstring example of a public name runs as written, unless it is a listed fragment.

Examples live in ```python fences or `>>>` lines. Fragments (below) show a
call inside the user's own code (their `model`, their `x`) and are not run;
every other example must run with only `np`, `keras`, `ops`, `keras_dlss`
and its module's public names in scope, so a renamed argument or a changed
return value breaks this test instead of a user's first try.
"""

import importlib
import inspect
import os
import pkgutil
import re

import keras
import numpy as np
import pytest
from keras import ops

import keras_dlss

FRAGMENTS = {
    "keras_dlss.autodiff.hessian",
    "keras_dlss.autodiff.hvp",
    "keras_dlss.callbacks.GradientCheck",
    "keras_dlss.callbacks.LearningRateLogger",
    "keras_dlss.callbacks.ScheduledBatchDataset",
    "keras_dlss.callbacks.StochasticWeightAveraging",
    "keras_dlss.callbacks.TrainingDiagnostics",
    "keras_dlss.debugging.layer_gradient_norms",
    "keras_dlss.debugging.overfit_batch",
    "keras_dlss.debugging.saturation_fractions",
    "keras_dlss.metrics.TokenAccuracy",
    "keras_dlss.ops.implicit_fixed_point",
    "keras_dlss.optimizers.HypergradientAdam",
    "keras_dlss.optimizers.HypergradientSGD",
    "keras_dlss.optimizers.KFACModel",
    "keras_dlss.training.EvolutionStrategiesModel",
    "keras_dlss.training.lbfgs_fit",
    "keras_dlss.training.newton_cg_fit",
    "keras_dlss.training.pretrain_autoencoder_stack",
    "keras_dlss.tuners.PopulationBasedTraining",
    "keras_dlss.tuners.get_tuner",
}

_FENCE = re.compile(r"```python\n(.*?)```", re.S)
_DOCTEST = re.compile(r"((?:^\s*>>> .*\n(?:^\s*\.\.\. .*\n)*)+)", re.M)


def _examples():
    """(public name, module, code) for each example in a public docstring."""
    seen = set()
    for info in pkgutil.walk_packages(keras_dlss.__path__, "keras_dlss."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if obj is None or id(obj) in seen:
                continue
            seen.add(id(obj))
            doc = inspect.getdoc(obj) or ""
            blocks = _FENCE.findall(doc)
            for lines in _DOCTEST.findall(doc):
                if "doctest: +SKIP" in lines:  # needs the user's files, as doctest itself would skip
                    continue
                blocks.append(
                    "\n".join(re.sub(r"^\s*(>>>|\.\.\.) ?", "", x) for x in lines.splitlines())
                )
            for code in blocks:
                yield f"{info.name}.{name}", module, code


EXAMPLES = list(_examples())


def test_examples_were_found():
    assert len(EXAMPLES) > 50
    names = {name for name, _, _ in EXAMPLES}
    assert FRAGMENTS <= names, f"listed fragments without an example: {FRAGMENTS - names}"


@pytest.mark.parametrize(
    "name, module, code",
    [e for e in EXAMPLES if e[0] not in FRAGMENTS],
    ids=lambda x: x if isinstance(x, str) and x.startswith("keras_dlss") else "",
)
def test_example_runs(name, module, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace = {"np": np, "keras": keras, "ops": ops, "keras_dlss": keras_dlss}
    namespace.update({n: getattr(module, n) for n in module.__all__})
    exec(compile(code, f"<example of {name}>", "exec"), namespace)
    assert os.getcwd() == str(tmp_path)
