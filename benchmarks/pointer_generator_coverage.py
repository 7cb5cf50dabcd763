"""Coverage vs no coverage: repetition of copied words by a pointer-generator.

See et al. 2017 (https://arxiv.org/abs/1704.04368, section 2.3 and table 1)
report that coverage removes most of the pointer-generator's repetition. The
generated copy-heavy task here makes repetition easy to fall into: requests
listing invented names ("please add zorvaki , pemi and tulosa to the call at
7:45") become the names in order plus the time ("invite zorvaki pemi tulosa at
7:45 <end>"). Names are drawn from a pool of ~50,000, so nearly all are
outside the closed vocabulary and must be copied, and a copied name is fed
back to the decoder as `<unk>`: after copying a name the decoder's input says
nothing about *which* name it was, and only its state and attention can tell
it to move on. Training lists hold 3 to `--max-names` names; the test has a
split in that range and one of longer lists (`--longer`), where a decoder that
tracks its place by counting has never been, and where a decoder without
coverage copies a name twice or skips one.

Both arms: the same `PointerGeneratorTranslator` (Bahdanau attention), data,
seed, optimizer and number of updates; `coverage=True` adds the coverage
feature and the coverage loss (lambda 1, See et al.'s value). No model
selection: each arm trains for fixed budgets (`--eval-epochs`) and is scored
on both test splits after each, for greedy and beam-4 decoding:

- exact match of the whole output;
- repeated copies: output tokens that repeat a source word more often than
  the source holds it, per 100 output tokens, and the share of outputs with
  at least one;
- duplicate 1-grams: output tokens equal to an earlier token of the same
  output (the reference outputs have none), per 100 output tokens;
- name recall: share of the reference names that appear in the output.

    nice -n 5 .venv/bin/python benchmarks/pointer_generator_coverage.py \
        [--train 4000 --longer 8,14 --eval-epochs 3,10] [--arms off|on]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from pointer_generator_copy import (  # noqa: E402  (the sibling benchmark: same task family)
    END,
    START,
    UNK,
    decode,
    make_name_pool,
    vocabulary,
)

from keras_dlss.applications import PointerGeneratorTranslator  # noqa: E402
from keras_dlss.ops import extend_vocabulary  # noqa: E402

TEMPLATES = [
    "please add {names} to the call at {time}",
    "could you invite {names} for {time}",
    "at {time} i need {names} in the meeting",
    "set up a call with {names} at {time} please",
]


def generate(rng, n, pool, min_names, max_names):
    sources, targets = [], []
    for _ in range(n):
        k = int(rng.integers(min_names, max_names + 1))
        names = list(rng.choice(pool, size=k, replace=False))
        listed = " , ".join(names[:-1]) + " and " + names[-1]
        time_ = f"{rng.integers(1, 13)}:{rng.choice(['00', '15', '30', '45'])}"
        text = rng.choice(TEMPLATES).format(names=listed, time=time_)
        sources.append(text.split())
        targets.append(["invite", *names, "at", time_, "<end>"])
    return sources, targets


def build_data(args):
    """Training lists of 3..`--max-names` names; test lists in that range and longer ones."""
    rng = np.random.default_rng(args.seed)
    pool = make_name_pool(rng, args.names)
    low, high = (int(n) for n in args.longer.split(","))
    train = generate(rng, args.train, pool, 3, args.max_names)
    tests = {
        f"3-{args.max_names} names": generate(rng, args.test, pool, 3, args.max_names),
        f"{low}-{high} names (longer than trained)": generate(rng, args.test, pool, low, high),
    }
    vocab = vocabulary(train, args.min_count)
    length = max(high, args.max_names) + 4
    # Test sources share one padded length, so each decoder compiles once.
    source_length = max(len(s) for split in tests.values() for s in split[0])

    def arrays(split, source_length=None):
        batch = extend_vocabulary(
            split[0],
            vocab,
            length - 2,
            target_tokens=split[1],
            unk_id=UNK,
            source_length=source_length,
            target_length=length,
        )
        batch["sources"], batch["words"] = split
        return batch

    tests = {name: arrays(split, source_length) for name, split in tests.items()}
    return vocab, arrays(train), tests, length


def repetition_scores(predicted, batch):
    """Exact match, repeated copies, duplicate 1-grams, outputs with a repeat, name recall."""
    exact = repeats = duplicates = with_repeat = tokens = found = names = 0
    for output, source, truth in zip(predicted, batch["sources"], batch["words"]):
        truth = truth[:-1]
        exact += output == truth
        tokens += len(output)
        seen, copied, extra = set(), {}, 0
        for word in output:
            duplicates += word in seen
            seen.add(word)
            copied[word] = copied.get(word, 0) + 1
        for word, count in copied.items():
            if word in source:
                extra += max(0, count - source.count(word))
        repeats += extra
        with_repeat += extra > 0
        wanted = truth[1:-2]
        names += len(wanted)
        found += sum(w in output for w in wanted)
    n, per = len(predicted), 100.0 / max(1, tokens)
    return exact / n, repeats * per, with_repeat / n, duplicates * per, found / max(1, names)


def build(args, vocab, length, coverage):
    keras.utils.set_random_seed(args.seed)
    model = PointerGeneratorTranslator(
        len(vocab),
        len(vocab),
        max_oovs=length - 2,
        unk_id=UNK,
        coverage=coverage,
        coverage_loss_weight=args.coverage_loss_weight,
        embedding_dim=32,
        units=args.units,
        start_id=START,
        end_id=END,
        max_output_length=length,
        seed=args.seed,
    )
    model.compile(
        keras.optimizers.Adam(args.learning_rate, clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        jit_compile=True,
    )
    return model


def run_arm(args, vocab, data, tests, length, coverage):
    """Trains one arm; scores the test splits at each epoch of `--eval-epochs` (no selection)."""
    model = build(args, vocab, length, coverage)
    x = {k: data[k] for k in ("source", "source_extended", "target")}
    rows, done, seconds = [], 0, 0.0
    for epoch in sorted(int(e) for e in args.eval_epochs.split(",")):
        start = time.perf_counter()
        history = model.fit(
            x, data["target"], initial_epoch=done, epochs=epoch, batch_size=64, verbose=0
        )
        seconds += time.perf_counter() - start
        done = epoch
        loss = history.history["loss"][-1]
        for split, test in tests.items():
            for beam in (False, True):
                start = time.perf_counter()
                scores = repetition_scores(decode(model, test, vocab, beam, copy=True), test)
                took = time.perf_counter() - start
                kind = "beam 4" if beam else "greedy"
                rows.append((coverage, epoch, split, kind, *scores, seconds, loss))
                print(
                    f"coverage={coverage} epoch {epoch} {split} {kind}: "
                    f"{tuple(round(v, 3) for v in scores)} fit {seconds:.0f} s, "
                    f"decode {took:.0f} s, loss {loss:.3f}",
                    flush=True,
                )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--names", type=int, default=50000)
    parser.add_argument("--max-names", type=int, default=7, help="longest training list")
    parser.add_argument("--longer", default="8,12", help="name counts of the longer test lists")
    parser.add_argument("--min-count", type=int, default=3)
    parser.add_argument("--eval-epochs", default="3,8", help="score the test splits after these")
    parser.add_argument("--coverage-loss-weight", type=float, default=1.0)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arms", default="off,on", help="comma list of off,on")
    args = parser.parse_args()
    vocab, data, tests, length = build_data(args)
    for split, test in tests.items():
        oov = np.mean([w not in vocab for t in test["words"] for w in t[1:-3]])
        print(f"vocabulary {len(vocab)} words; {split}: test names outside it {oov:.1%}")
    rows = []
    for arm in args.arms.split(","):
        rows += run_arm(args, vocab, data, tests, length, coverage=arm == "on")
    print(
        f"\ntrain {args.train}, test {args.test} per split, units {args.units}, "
        f"seed {args.seed}, lambda {args.coverage_loss_weight}"
    )
    print(
        "| coverage | epochs | test lists | decoding | exact match | repeated copies / 100 "
        "tokens | outputs with a repeated copy | duplicate 1-grams / 100 tokens | name recall "
        "| fit (s, cumulative) | training loss |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for coverage, epoch, split, kind, exact, rep, with_rep, dup, recall, seconds, loss in rows:
        print(
            f"| {'yes' if coverage else 'no'} | {epoch} | {split} | {kind} | {exact:.3f} "
            f"| {rep:.2f} | {with_rep:.3f} | {dup:.2f} | {recall:.3f} | {seconds:.0f} "
            f"| {loss:.3f} |"
        )


if __name__ == "__main__":
    main()
