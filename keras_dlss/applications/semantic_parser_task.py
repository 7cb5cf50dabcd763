"""`keras-dlss train semantic-parser`: questions -> SQL, plain vs grammar-constrained decoding.

The embedded default data is generated (`keras_dlss.datasets.nl2sql`: templated
questions about a generated `employees` table); `--data` takes a tab-separated
file of `question<TAB>sql` lines whose SQL the default grammar derives
(`nl2sql.SQL_GRAMMAR`), executed against the generated table. Metrics are
exact match, execution accuracy (sqlite3) and the rate of SQL that sqlite3
rejects, for plain and for grammar-constrained greedy decoding.
"""

import keras
import numpy as np

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.semantic_parser import SemanticParser
from keras_dlss.applications.seq2seq_task import compile_translator
from keras_dlss.datasets import nl2sql
from keras_dlss.decoding import Grammar

UNK = 1
START, END = 1, 2
SPECIALS = ["<pad>", "<start>", "<end>"]


def _read_pairs(path, grammar):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            if "\t" not in line:
                raise ValueError(
                    "Argument `path` must be a file of `question<TAB>sql` lines. Received: line "
                    f"{number} of {path!r} without a tab"
                )
            question, sql = line.rstrip("\n").split("\t", 1)
            if not grammar.accepts(sql.split()):
                raise ValueError(
                    f"Argument `path` must hold SQL that nl2sql.SQL_GRAMMAR derives. Received: "
                    f"line {number}: {sql!r}"
                )
            pairs.append((question.lower(), sql))
    if len(pairs) < 10:
        raise ValueError(f"Argument `path` must hold at least 10 pairs. Received: {len(pairs)}")
    return pairs


def encode_questions(questions, info):
    index = {w: i for i, w in enumerate(info["source_vocab"])}
    out = np.zeros((len(questions), info["source_length"]), "int32")
    for row, question in enumerate(questions):
        ids = [index.get(w, UNK) for w in question.lower().split()][: info["source_length"]]
        out[row, : len(ids)] = ids
    return out


def encode_sql(queries, info):
    index = {t: i for i, t in enumerate(info["target_vocab"])}
    out = np.zeros((len(queries), info["target_length"]), "int32")
    for row, sql in enumerate(queries):
        ids = [index[t] for t in sql.split()][: info["target_length"] - 1] + [END]
        out[row, : len(ids)] = ids
    return out


def decode_sql(ids, info):
    """`[N, L]` target ids -> SQL strings, cut at the first end token."""
    vocab, texts = info["target_vocab"], []
    for row in np.asarray(ids):
        tokens = []
        for i in row:
            if i == END:
                break
            tokens.append(vocab[i])
        texts.append(" ".join(tokens))
    return texts


def score_predictions(predictions, truth, db):
    """Exact match, execution accuracy and rejected-SQL rate of SQL strings."""
    exact = executed = invalid = 0
    for predicted, gold in zip(predictions, truth):
        exact += predicted == gold
        result = nl2sql.execute(db, predicted)
        invalid += result is None
        executed += result is not None and result == nl2sql.execute(db, gold)
    n = max(1, len(truth))
    return {
        "exact_match": exact / n,
        "execution_accuracy": executed / n,
        "invalid_rate": invalid / n,
    }


class SemanticParserTask(Task):
    name = "semantic-parser"
    summary = "seq2seq questions -> SQL with plain vs grammar-constrained decoding (sqlite3)"
    default_data = "generated: keras_dlss.datasets.nl2sql (templated questions about a table)"
    data_license = "generated"
    default_epochs = 10
    default_batch_size = 64
    monitor = "val_loss"
    patience = 3
    options = {
        "units": {"type": int, "help": "decoder LSTM units (default 64)"},
        "embedding-dim": {"type": int, "help": "embedding size (default 32)"},
    }

    def load_data(self, path=None, seed=0):
        grammar = Grammar(nl2sql.SQL_GRAMMAR, "query", SPECIALS + nl2sql.sql_vocabulary())
        data = nl2sql.load_nl2sql(num_train=3000, num_validation=300, num_test=300, seed=seed)
        if path is not None:
            pairs = _read_pairs(path, grammar)
            order = np.random.default_rng(seed).permutation(len(pairs))
            n_test = max(1, len(pairs) // 10)
            data["test"] = [pairs[i] for i in order[:n_test]]
            data["validation"] = [pairs[i] for i in order[n_test : 2 * n_test]]
            data["train"] = [pairs[i] for i in order[2 * n_test :]]
        train = data["train"]
        words = sorted({w for q, _ in train for w in q.split()})
        info = {
            "source_vocab": ["<pad>", "<unk>", *words],
            "target_vocab": grammar.vocabulary,
            "grammar": grammar.get_config(),
            "source_length": max(len(q.split()) for q, _ in train),
            "target_length": max(len(s.split()) for _, s in train) + 1,
            "table": [list(r) for r in data["table"]],
        }

        def arrays(pairs):
            target = encode_sql([s for _, s in pairs], info)
            source = encode_questions([q for q, _ in pairs], info)
            return {"source": source, "target": target}, target

        info["test_sql"] = [s for _, s in data["test"]]
        return TaskData(arrays(train), arrays(data["validation"]), arrays(data["test"]), info)

    def build_model(
        self, data, *, jit_compile=True, seed=0, units=64, embedding_dim=32, learning_rate=3e-3
    ):
        info = data.info
        model = SemanticParser(
            info["grammar"],
            source_vocab_size=len(info["source_vocab"]),
            target_vocab_size=len(info["target_vocab"]),
            embedding_dim=embedding_dim,
            units=units,
            start_id=START,
            end_id=END,
            max_output_length=info["target_length"],
            seed=seed,
        )
        return compile_translator(model, learning_rate, jit_compile)

    def decode(self, model, source, constrained, batch_size=256):
        info, out = self._info, []
        for i in range(0, len(source), batch_size):
            chunk = source[i : i + batch_size]
            run = model.constrained_greedy_search if constrained else model.greedy_search
            out += decode_sql(keras.ops.convert_to_numpy(run(chunk)[0]), info)
        return out

    def evaluate(self, model, data):
        metrics = super().evaluate(model, data)
        self._info = data.info
        source, target = data.test[0]["source"], data.test[1]
        truth = decode_sql(target, data.info)
        db = nl2sql.connect([tuple(r) for r in data.info["table"]])
        for name, constrained in (("plain", False), ("constrained", True)):
            scores = score_predictions(self.decode(model, source, constrained), truth, db)
            metrics.update({f"test_{k}_{name}": v for k, v in scores.items()})
        return metrics

    def predict(self, model, inputs, metadata):
        self._info = metadata
        source = encode_questions(list(inputs), metadata)
        db = nl2sql.connect([tuple(r) for r in metadata["table"]])
        lines = []
        for question, sql in zip(inputs, self.decode(model, source, constrained=True)):
            result = nl2sql.execute(db, sql)
            shown = result if result is None or len(result) <= 5 else result[:5] + ["..."]
            lines.append(f"{question} -> {sql} -> {shown}")
        return lines

    def search_space(self, hp):
        return {
            "units": hp.Choice("units", [32, 64, 128]),
            "learning_rate": hp.Float("learning_rate", 1e-3, 1e-2, sampling="log"),
        }
