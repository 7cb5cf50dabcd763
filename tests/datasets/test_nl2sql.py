"""The generated NL -> SQL data: grammatical, executable, correct against a Python reference."""

from keras_dlss.datasets import nl2sql
from keras_dlss.decoding import Grammar


def test_every_query_is_grammatical_executable_and_splits_are_disjoint():
    data = nl2sql.load_nl2sql(num_train=300, num_validation=50, num_test=50, seed=3)
    grammar = Grammar(nl2sql.SQL_GRAMMAR, "query", ["<end>", *nl2sql.sql_vocabulary()])
    db = nl2sql.connect(data["table"])
    pairs = data["train"] + data["validation"] + data["test"]
    assert len(set(pairs)) == len(pairs) == 400
    for _, sql in pairs:
        assert grammar.accepts(sql.split()), sql
        assert nl2sql.execute(db, sql) is not None, sql
    assert nl2sql.execute(db, "SELECT FROM employees") is None


def test_query_results_match_a_python_reference():
    rows = nl2sql.make_table(40, seed=1)
    db = nl2sql.connect(rows)
    sql = "SELECT COUNT ( * ) FROM employees WHERE dept = 'sales' AND salary > 50000"
    expected = sum(1 for r in rows if r[1] == "sales" and r[3] > 50000)
    assert nl2sql.execute(db, sql) == [(expected,)]
    sql = "SELECT MAX ( age ) FROM employees WHERE city = 'paris'"
    assert nl2sql.execute(db, sql) == [(max(r[4] for r in rows if r[2] == "paris"),)]
