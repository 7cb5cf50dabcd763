"""Generated natural-language questions -> SQL over a generated table, executable with sqlite3.

A table `employees(name, dept, city, salary, age)` of generated people and
templated questions about it ("how many employees in sales earn more than
50000") paired with SQL (`SELECT COUNT ( * ) FROM employees WHERE dept =
'sales' AND salary > 50000`). SQL is a space-separated token sequence that
sqlite3 (Python's standard library) executes as is, so predictions are scored
by exact match and by execution accuracy (same result set as the gold query).
`SQL_GRAMMAR` is the LL(1) grammar of every query the generator writes, for
grammar-constrained decoding (`keras_dlss.decoding.Grammar`). The data are
generated: no license applies.
"""

import sqlite3

import numpy as np

DEPTS = ("sales", "engineering", "marketing", "finance", "support")
CITIES = ("paris", "london", "berlin", "madrid", "rome")
SALARIES = tuple(range(30000, 100000, 10000))
AGES = tuple(range(25, 65, 5))
NAMES = (
    "ada alan barbara claude donald edsger frances grace john ken leslie linus margaret niklaus "
    "radia robin tim tony vint yann"
).split()

_AGGREGATES = {"average": "AVG", "highest": "MAX", "lowest": "MIN", "total": "SUM"}
_COLUMNS = {"salary": "salary", "age": "age"}
_COMPARE = {"more than": ">", "less than": "<", "over": ">", "under": "<"}

SQL_GRAMMAR = {
    "query": ["SELECT select FROM employees where"],
    "select": ["COUNT ( * )", "agg ( numcol )", "name", "dept", "city"],
    "agg": ["AVG", "MAX", "MIN", "SUM"],
    "numcol": ["salary", "age"],
    "where": ["", "WHERE cond conds"],
    "conds": ["", "AND cond conds"],
    "cond": ["dept = deptval", "city = cityval", "salary cmp salval", "age cmp ageval"],
    "cmp": [">", "<", "="],
    "deptval": [f"'{d}'" for d in DEPTS],
    "cityval": [f"'{c}'" for c in CITIES],
    "salval": [str(s) for s in SALARIES],
    "ageval": [str(a) for a in AGES],
}


def make_table(num_rows=60, seed=0):
    """Generated rows `(name, dept, city, salary, age)`."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(num_rows):
        rows.append(
            (
                f"{NAMES[i % len(NAMES)]}{i}",
                str(rng.choice(DEPTS)),
                str(rng.choice(CITIES)),
                int(rng.integers(25000, 105000) // 100 * 100),
                int(rng.integers(22, 66)),
            )
        )
    return rows


def connect(rows):
    """An in-memory sqlite3 database holding `rows` as table `employees`."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE employees (name TEXT, dept TEXT, city TEXT, salary INT, age INT)")
    db.executemany("INSERT INTO employees VALUES (?, ?, ?, ?, ?)", rows)
    return db


def execute(db, sql):
    """Sorted result rows of `sql`, or None when sqlite3 rejects it (syntax or semantics)."""
    try:
        return sorted(db.execute(sql).fetchall(), key=repr)
    except sqlite3.Error:
        return None


def _condition(rng):
    kind = rng.integers(4)
    if kind == 0:
        d = str(rng.choice(DEPTS))
        return (f"in {d}", f"dept = '{d}'")
    if kind == 1:
        c = str(rng.choice(CITIES))
        return (f"in {c}", f"city = '{c}'")
    words = str(rng.choice(list(_COMPARE)))
    if kind == 2:
        s = int(rng.choice(SALARIES))
        return (f"earning {words} {s}", f"salary {_COMPARE[words]} {s}")
    a = int(rng.choice(AGES))
    return (f"aged {words} {a}", f"age {_COMPARE[words]} {a}")


def _conditions(rng):
    n = int(rng.choice([0, 1, 1, 2, 2]))
    pairs = [_condition(rng) for _ in range(n)]
    if not pairs:
        return "", ""
    text = " and ".join(p[0] for p in pairs)
    sql = " AND ".join(p[1] for p in pairs)
    return " " + text, " WHERE " + sql


def make_example(rng):
    """One `(question, sql)` pair from a random template."""
    text, where = _conditions(rng)
    kind = rng.integers(4)
    if kind == 0:
        return f"how many employees{text}", f"SELECT COUNT ( * ) FROM employees{where}"
    if kind == 1:
        word = str(rng.choice(list(_AGGREGATES)))
        col = str(rng.choice(list(_COLUMNS)))
        return (
            f"what is the {word} {col} of employees{text}",
            f"SELECT {_AGGREGATES[word]} ( {col} ) FROM employees{where}",
        )
    col = str(rng.choice(["name", "dept", "city"]))
    noun = {"name": "names", "dept": "departments", "city": "cities"}[col]
    return f"list the {noun} of employees{text}", f"SELECT {col} FROM employees{where}"


def load_nl2sql(num_train=3000, num_validation=300, num_test=300, num_rows=60, seed=0):
    """Generated question/SQL pairs and the table they are about.

    Returns:
        dict with `"train"`, `"validation"`, `"test"`: lists of distinct
        `(question, sql)` string pairs (no pair is in two splits; questions
        lowercase, words separated by spaces),
        and `"table"`: the generated rows (see `connect`).

    Example:

    ```python
    from keras_dlss.datasets.nl2sql import connect, execute, load_nl2sql

    data = load_nl2sql(num_train=10, num_validation=2, num_test=2)
    question, sql = data["train"][0]
    rows = execute(connect(data["table"]), sql)
    ```
    """
    rng = np.random.default_rng(seed)
    total = num_train + num_validation + num_test
    # Distinct pairs, so test questions are compositions never seen in training.
    pairs, seen = [], set()
    for _ in range(50 * total):
        pair = make_example(rng)
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
            if len(pairs) == total:
                break
    return {
        "train": pairs[:num_train],
        "validation": pairs[num_train : num_train + num_validation],
        "test": pairs[num_train + num_validation :],
        "table": make_table(num_rows, seed),
    }


def sql_vocabulary():
    """Every token the generator and `SQL_GRAMMAR` use, sorted."""
    tokens = {t for alts in SQL_GRAMMAR.values() for alt in alts for t in alt.split()}
    return sorted(tokens - set(SQL_GRAMMAR))
