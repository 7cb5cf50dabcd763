"""Per-tensor results of `gradient_check`, printable as a table."""

import dataclasses

import numpy as np


@dataclasses.dataclass
class TensorCheck:
    """The check of the derivative with respect to one tensor.

    Attributes:
        name: `"inputs[0]"`, `"inputs[0][1]"` for list arguments, or a variable's path.
        kind: `"input"` or `"variable"`.
        order: 1 (first derivatives) or 2 (derivatives of the gradient).
        shape: the tensor's shape.
        checked: how many Jacobian entries (full mode) or projections (fast mode)
            were compared.
        skipped: entries skipped as non-differentiable points (`skip_kinks=True`).
        max_abs_error: max |analytical - numerical|.
        max_rel_error: max |analytical - numerical| / max(|analytical|, |numerical|)
            over entries larger than `atol`.
        worst_index: index in the tensor of the worst element (full mode, and fast mode
            for failing tensors of at most 4096 elements, located by a full re-check), or None.
        worst_output: flat index of the output element of the worst entry, or None.
        analytical: the backend's value at the worst entry.
        numerical: the finite-difference value at the worst entry.
        passed: every entry satisfies |a - n| <= atol + rtol * |n|, and the
            gradient has the tensor's shape.
        problem: why the tensor failed before any entry could be compared (a
            gradient of the wrong shape), or None.
    """

    name: str
    kind: str
    order: int
    shape: tuple
    checked: int = 0
    skipped: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    worst_index: tuple | None = None
    worst_output: int | None = None
    analytical: float = 0.0
    numerical: float = 0.0
    passed: bool = True
    problem: str | None = None
    worst_ratio: float = dataclasses.field(default=-1.0, repr=False)


@dataclasses.dataclass
class GradientCheckReport:
    """The result of `gradient_check`: one `TensorCheck` per tensor and order.

    `str(report)` is a readable table; `report.passed` is the verdict.
    """

    results: list
    fast_mode: bool
    eps: float
    atol: float
    rtol: float

    @property
    def passed(self):
        return all(r.passed for r in self.results)

    @property
    def failures(self):
        """The `TensorCheck`s that failed."""
        return [r for r in self.results if not r.passed]

    def __getitem__(self, name):
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def __str__(self):
        mode = "fast mode (random projections vᵀJu)" if self.fast_mode else "full Jacobians"
        verdict = "passed" if self.passed else f"FAILED for {len(self.failures)} tensor(s)"
        head = (
            f"Gradient check, {mode}, eps={self.eps:g}, atol={self.atol:g}, "
            f"rtol={self.rtol:g}: {verdict}"
        )
        cols = [
            "tensor",
            "kind",
            "order",
            "shape",
            "checked",
            "skipped",
            "max abs err",
            "max rel err",
            "worst index",
            "analytical",
            "numerical",
            "status",
        ]
        rows = [cols] + [_row(r) for r in self.results]
        widths = [max(len(row[i]) for row in rows) for i in range(len(cols))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
        notes = [f"{r.name} (order {r.order}): {r.problem}" for r in self.results if r.problem]
        return "\n".join([head, *lines, *notes])

    def __repr__(self):
        return str(self)


def _row(r):
    idx = "-" if r.worst_index is None else str(tuple(int(i) for i in r.worst_index))
    if r.worst_index is not None and r.worst_output is not None:
        idx += f" -> out[{r.worst_output}]"
    return [
        r.name,
        r.kind,
        str(r.order),
        str(tuple(r.shape)),
        str(r.checked),
        str(r.skipped),
        f"{r.max_abs_error:.2e}",
        f"{r.max_rel_error:.2e}",
        idx,
        f"{r.analytical:.6g}",
        f"{r.numerical:.6g}",
        "ok" if r.passed else "FAILED",
    ]


class GradientCheckError(AssertionError):
    """Raised by `gradient_check` when a gradient is wrong; `.report` holds the details."""

    def __init__(self, report):
        self.report = report
        names = ", ".join(f"`{r.name}`" for r in report.failures)
        super().__init__(f"Gradient check failed for {names}.\n{report}")


def wrong_shape(result, gradient_shape):
    """Fails `result` (in place): the backend's gradient is not shaped like the tensor.

    TensorFlow's `custom_gradient` accepts a gradient of any shape; one that only
    broadcasts to the tensor (a bias gradient not summed over the batch) is a bug.
    """
    result.passed = False
    result.problem = (
        f"the gradient has shape {tuple(gradient_shape)} but the tensor has shape "
        f"{tuple(result.shape)}; a custom gradient must return one gradient per input, "
        "shaped like that input"
    )


def compare(result, analytical, numerical, atol, rtol, skip=None, index_offset=0, shape=None):
    """Folds a block of (analytical, numerical) entries into `result` (in place).

    `analytical`, `numerical`: arrays [k, n_out] (k tensor elements starting at
    flat index `index_offset`) or scalars in fast mode; `skip`: bool mask of the
    same shape marking non-differentiable entries.
    """
    a = np.atleast_2d(np.asarray(analytical, dtype=np.float64))
    n = np.atleast_2d(np.asarray(numerical, dtype=np.float64))
    keep = np.ones(a.shape, bool) if skip is None else ~np.atleast_2d(skip)
    result.skipped += int((~keep).sum())
    result.checked += int(keep.sum())
    if not keep.any():
        return
    err = np.where(keep, np.abs(a - n), 0.0)
    bad = np.where(keep, np.nan_to_num(err, nan=np.inf) / (atol + rtol * np.abs(n)), 0.0)
    scale = np.maximum(np.abs(a), np.abs(n))
    rel = np.where(keep & (scale > atol), err / np.where(scale > 0, scale, 1.0), 0.0)
    result.max_abs_error = max(result.max_abs_error, float(np.nan_to_num(err, nan=np.inf).max()))
    result.max_rel_error = max(result.max_rel_error, float(np.nan_to_num(rel, nan=np.inf).max()))
    worst = np.unravel_index(int(np.argmax(bad)), bad.shape)
    if bad[worst] > 1.0 or not np.isfinite(err[worst]):
        result.passed = False
    if bad[worst] > result.worst_ratio:
        result.worst_ratio = float(bad[worst])
        result.analytical, result.numerical = float(a[worst]), float(n[worst])
        if shape is not None:
            result.worst_index = np.unravel_index(index_offset + int(worst[0]), shape)
            result.worst_output = int(worst[1])
