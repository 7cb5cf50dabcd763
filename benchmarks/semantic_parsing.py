"""Semantic parsing to SQL: plain vs grammar-constrained decoding of the same model.

Trains `SemanticParser` (attention seq2seq) on the generated NL -> SQL data
(`keras_dlss.datasets.nl2sql`) with several training-set sizes and epoch
budgets, then decodes the test questions with plain greedy search and with
greedy search under the LL(1) SQL grammar mask, and reports exact match,
execution accuracy (sqlite3 result equals the gold query's) and the rate of SQL
that sqlite3 rejects. Also times both decoders (the mask's cost per query).

    .venv/bin/python benchmarks/semantic_parsing.py [--train 300,3000 --epochs 2,8]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_dlss.applications.base import TaskData  # noqa: E402
from keras_dlss.applications.semantic_parser_task import (  # noqa: E402
    SemanticParserTask,
    decode_sql,
    score_predictions,
)
from keras_dlss.datasets import nl2sql  # noqa: E402


def subset(data, n):
    x, y = data.train
    return TaskData(
        ({k: v[:n] for k, v in x.items()}, y[:n]), data.validation, data.test, data.info
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", default="300,3000")
    parser.add_argument("--epochs", default="2,8")
    parser.add_argument("--units", type=int, default=64)
    args = parser.parse_args()
    task = SemanticParserTask()
    data = task.load_data()
    task._info = data.info
    db = nl2sql.connect([tuple(r) for r in data.info["table"]])
    source = data.test[0]["source"]
    truth = decode_sql(data.test[1], data.info)
    print(f"backend={keras.config.backend()} test={len(truth)} questions, shared machine")
    header = (
        "| train pairs | epochs | decoding | exact match | execution acc. | invalid SQL | "
        "decode ms/query |"
    )
    print(header)
    print("|---|---|---|---|---|---|---|")
    for n in [int(v) for v in args.train.split(",")]:
        for epochs in [int(v) for v in args.epochs.split(",")]:
            keras.utils.set_random_seed(0)
            model = task.build_model(data, jit_compile=False, units=args.units)
            model.fit(*subset(data, n).train, batch_size=64, epochs=epochs, verbose=0)
            for name, constrained in (("plain", False), ("grammar", True)):
                task.decode(model, source[:8], constrained)  # trace once
                start = time.perf_counter()
                predictions = task.decode(model, source, constrained)
                ms = 1000 * (time.perf_counter() - start) / len(source)
                s = score_predictions(predictions, truth, db)
                print(
                    f"| {n} | {epochs} | {name} | {s['exact_match']:.3f} | "
                    f"{s['execution_accuracy']:.3f} | {s['invalid_rate']:.3f} | {ms:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
