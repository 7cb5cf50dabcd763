"""Data-parallel training on the JAX backend through `keras.distribution` (JAX only).

`keras.distribution.DataParallel` replicates every variable on each device and
splits each batch along its first axis; JAX's compiler (GSPMD) inserts the
gradient all-reduce, so a step on R devices is the single-device step on the
same global batch. No code of a model changes: custom `train_step`s
(`CRFModel`, `GAN`, ...) are traced once and partitioned the same way.

Without accelerators, XLA can split the host CPU into R devices, which is how
this path is tested in CI (`tests/test_jax_distribution.py`):

```python
from keras_dlss import jax_distribution

jax_distribution.force_host_devices(2)      # before JAX is first imported
import keras
keras.distribution.set_distribution(jax_distribution.data_parallel(2))
model = build_and_compile_model()
model.fit(x, y, batch_size=GLOBAL_BATCH)    # a multiple of the device count
```

`keras-dlss train APP --strategy data-parallel [--devices N]` does the same
(`KERAS_BACKEND=jax`). On a multi-host cluster call
`keras.distribution.initialize()` first (docs/scaling.md).
"""

import os
import sys

_HOST_FLAG = "--xla_force_host_platform_device_count"


def force_host_devices(count):
    """Makes XLA expose the host CPU as `count` devices (call before JAX is imported).

    Only the CPU platform is split; GPUs and TPUs are listed as they are.

    Args:
        count: int >= 1.

    Raises:
        ValueError: `count` < 1, or JAX was already imported (its devices are fixed
            at import), unless it already exposes at least `count` devices.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"Argument `count` must be an int >= 1. Received: count={count!r}")
    if "jax" in sys.modules:
        import jax

        if len(jax.devices()) >= count:
            return
        raise ValueError(
            f"Argument `count`: JAX was imported with {len(jax.devices())} device(s); set "
            f"XLA_FLAGS={_HOST_FLAG}={count} before importing keras. Received: count={count}"
        )
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(_HOST_FLAG)]
    os.environ["XLA_FLAGS"] = " ".join(flags + [f"{_HOST_FLAG}={count}"])


def data_parallel(devices=None):
    """A `keras.distribution.DataParallel` over the first `devices` devices.

    Args:
        devices: int or None. How many devices to use; None uses all of them.

    Returns:
        A `keras.distribution.DataParallel`; activate it with
        `keras.distribution.set_distribution(...)` or its `scope()`.

    Raises:
        ValueError: the backend is not JAX, or fewer than `devices` devices exist.
    """
    import keras

    if keras.config.backend() != "jax":
        raise ValueError(
            "keras.distribution.DataParallel runs on the JAX backend (on TensorFlow use "
            f"keras_dlss.tf_distribute). Received: backend={keras.config.backend()!r}"
        )
    available = keras.distribution.list_devices()
    if devices is None:
        devices = len(available)
    if not isinstance(devices, int) or isinstance(devices, bool) or devices < 1:
        raise ValueError(f"Argument `devices` must be an int >= 1. Received: devices={devices!r}")
    if devices > len(available):
        raise ValueError(
            f"Argument `devices`: only {len(available)} device(s) exist ({', '.join(available)}); "
            f"on CPU call force_host_devices({devices}) before importing keras. "
            f"Received: devices={devices}"
        )
    return keras.distribution.DataParallel(devices=available[:devices])
