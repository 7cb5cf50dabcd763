"""SemanticParser: constrained decoding is always grammatical; config and .keras round trips."""

import os

import keras
import numpy as np
import pytest

from keras_dlss.applications import SemanticParser
from keras_dlss.applications.semantic_parser_task import SPECIALS, decode_sql, score_predictions
from keras_dlss.datasets import nl2sql
from keras_dlss.decoding import Grammar


@pytest.fixture(scope="module")
def parser():
    grammar = Grammar(nl2sql.SQL_GRAMMAR, "query", SPECIALS + nl2sql.sql_vocabulary())
    model = SemanticParser(
        grammar,
        source_vocab_size=20,
        target_vocab_size=len(grammar.vocabulary),
        embedding_dim=8,
        units=8,
        max_output_length=12,
        seed=0,
    )
    source = np.random.default_rng(0).integers(1, 20, size=(6, 7)).astype("int32")
    return model, grammar, source


def test_constrained_outputs_are_grammatical_and_execute(parser):
    model, grammar, source = parser
    info = {"target_vocab": grammar.vocabulary}
    db = nl2sql.connect(nl2sql.make_table(20))
    greedy = decode_sql(
        keras.ops.convert_to_numpy(model.constrained_greedy_search(source)[0]), info
    )
    # Constrained beam search is checked on a grammar in tests/decoding/test_constrained.py.
    for sql in greedy:
        assert grammar.accepts(sql.split()), sql
        assert nl2sql.execute(db, sql) is not None, sql
    # An untrained plain decoder writes token salad that sqlite3 rejects.
    plain = decode_sql(keras.ops.convert_to_numpy(model.greedy_search(source)[0]), info)
    assert score_predictions(plain, greedy, db)["invalid_rate"] > 0
    assert score_predictions(greedy, greedy, db) == {
        "exact_match": 1.0,
        "execution_accuracy": 1.0,
        "invalid_rate": 0.0,
    }


def test_keras_round_trip(parser, tmp_path):
    model, _, source = parser
    target = np.full((6, 12), 2, "int32")
    model((source, target))
    path = os.path.join(tmp_path, "parser.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.grammar.get_config() == model.grammar.get_config()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.constrained_greedy_search(source)[0]),
        keras.ops.convert_to_numpy(model.constrained_greedy_search(source)[0]),
    )


def test_bad_grammar_raises():
    with pytest.raises(ValueError, match="`grammar`"):
        SemanticParser("sql", source_vocab_size=5, target_vocab_size=5)
    grammar = Grammar({"s": ["a"]}, "s", ["<pad>", "<start>", "<end>", "a"])
    with pytest.raises(ValueError, match="`grammar`"):
        SemanticParser(grammar, source_vocab_size=5, target_vocab_size=9)
