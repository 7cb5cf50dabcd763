"""Generation speed of `keras_dlss.datasets.shapes`: 10,000 images at 32x32 (target < 5 s).

Run: python benchmarks/shapes_speed.py   (prints the median of 3 runs per task/background)
"""

import time

import numpy as np

from keras_dlss.datasets import shapes


def main(n=10_000, image_size=32, repeats=3):
    print(f"{'task':>9} {'background':>10} {'median s':>9} {'images/s':>10}")
    for task in ("classify", "segment", "count"):
        for background in ("noise", "texture", "plain"):
            times = []
            for seed in range(repeats):
                start = time.perf_counter()
                shapes(n, image_size=image_size, task=task, background=background, seed=seed)
                times.append(time.perf_counter() - start)
            median = float(np.median(times))
            print(f"{task:>9} {background:>10} {median:9.2f} {n / median:10.0f}")


if __name__ == "__main__":
    main()
