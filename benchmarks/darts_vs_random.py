"""DARTS (first and second order) vs random search vs a REINFORCE controller, equal budget.

Li & Talwalkar (2019) showed that random search over the DARTS space, given
the same budget, is a strong baseline. Here every searcher gets the same
number of *trained candidate-epochs* on the same `datasets.shapes` images:

* DARTS trains one search network for `--budget` epochs (weights on half A of
  the training images, architecture on half B): `budget` candidate-epochs;
* random search (`tuners.DARTSRandomSearchOracle`) and the REINFORCE controller
  (`tuners.REINFORCEOracle`, Zoph & Le 2017) each train `budget /
  --trial-epochs` sampled genotypes for `--trial-epochs` epochs on half A,
  scored by validation accuracy on half B.

Each found genotype is then retrained with one recipe (`--retrain-epochs` on
all training images) and evaluated on held-out test images. Printed: the
genotype search time, the retrained test accuracy and the genotype of each arm.
A DARTS epoch costs more wall time than a candidate epoch (eight operations per
edge, and for the second order five passes per step): the search-time column
shows it.

    python benchmarks/darts_vs_random.py --budget 6 --trial-epochs 2
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from keras_dlss.cli.search import (  # noqa: E402
    darts_search,
    load_shapes,
    network_kwargs,
    retrain,
)


def tuner_search(oracle_name, train, kwargs, budget, trial_epochs, batch_size, jit, seed):
    import keras
    import keras_tuner as kt

    from keras_dlss.applications import DARTSNetwork
    from keras_dlss.tuners import DARTSRandomSearchOracle, REINFORCEOracle
    from keras_dlss.tuners.darts_space import darts_decisions, genotype_from_values

    steps = kwargs["steps"]
    trials = max(1, budget // trial_epochs)
    objective = kt.Objective("val_accuracy", "max")
    cls = DARTSRandomSearchOracle if oracle_name == "random" else REINFORCEOracle
    oracle = cls(objective=objective, max_trials=trials, steps=steps, seed=seed)

    def build(hp):
        values = {name: hp.Choice(name, options) for name, options in darts_decisions(steps)}
        model = DARTSNetwork.from_genotype(genotype_from_values(values, steps), **kwargs)
        model.compile(
            optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=jit,
        )
        return model

    x, y = train
    half = len(x) // 2
    directory = tempfile.mkdtemp(prefix=f"darts_{oracle_name}_")
    tuner = kt.Tuner(
        oracle=oracle, hypermodel=build, directory=directory, project_name="p", overwrite=True
    )
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    tuner.search(
        x[:half],
        y[:half],
        validation_data=(x[half:], y[half:]),
        epochs=trial_epochs,
        batch_size=batch_size,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    best = tuner.oracle.get_best_trials(1)[0]
    return oracle.genotype(best), seconds, trials


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=int, default=6, help="candidate-epochs per searcher")
    parser.add_argument("--trial-epochs", type=int, default=2)
    parser.add_argument("--retrain-epochs", type=int, default=6)
    parser.add_argument("--n", type=int, default=512, help="training images (test: n / 2)")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--num-classes", type=int, default=4)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--cells", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--xla", action="store_true", help="jit_compile=True (slower to compile)")
    parser.add_argument("--arms", default="darts1,darts2,random,reinforce")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import keras

    train, test = load_shapes(args.n, args.image_size, args.num_classes, args.seed)
    shape = (args.image_size, args.image_size, 3)
    kwargs = network_kwargs(vars(args), shape, args.num_classes)
    print(
        f"backend {keras.config.backend()}, shapes n={args.n} {args.image_size}x{args.image_size} "
        f"{args.num_classes} classes, network {kwargs}, budget {args.budget} candidate-epochs, "
        f"XLA {args.xla}",
        flush=True,
    )
    rows = []
    for arm in args.arms.split(","):
        if arm.startswith("darts"):
            genotype, seconds = darts_search(
                train, kwargs, int(arm[-1]), args.budget, args.batch_size, args.xla, args.seed
            )
            label, detail = f"DARTS order {arm[-1]}", f"1 network x {args.budget} epochs"
        else:
            genotype, seconds, trials = tuner_search(
                arm,
                train,
                kwargs,
                args.budget,
                args.trial_epochs,
                args.batch_size,
                args.xla,
                args.seed,
            )
            label = "random search" if arm == "random" else "REINFORCE controller"
            detail = f"{trials} networks x {args.trial_epochs} epochs"
        _, accuracy, _ = retrain(
            genotype,
            train,
            test,
            kwargs,
            args.retrain_epochs,
            args.batch_size,
            args.xla,
            args.seed,
        )
        rows.append((label, detail, seconds, accuracy, genotype))
        print(
            f"{label}: search {seconds:.1f} s, retrained test accuracy {accuracy:.3f}", flush=True
        )

    print()
    print("| searcher | budget (candidate-epochs) | search time (s) | retrained test accuracy |")
    print("|---|---|---|---|")
    for label, detail, seconds, accuracy, _ in rows:
        print(f"| {label} | {detail} | {seconds:.1f} | {accuracy:.3f} |")
    print()
    for label, _, _, _, genotype in rows:
        print(f"{label}: {json.dumps(genotype)}")


if __name__ == "__main__":
    main()
