"""LL(1) context-free grammars as token masks for constrained decoding.

`Grammar` checks a small context-free grammar over a decoder's vocabulary
(every nonterminal reachable and productive, LL(1): one production per
lookahead token) and compiles it into lookup tables. `Grammar.constraint` turns
those tables into an `allowed_tokens_fn` for `greedy_decode` / `beam_search`
whose state is a pushdown automaton held in tensors: a static-size stack of
grammar symbols and its depth per row. Each fed token replaces the symbol that
consumes it by a precomputed derivative (the rest of its leftmost derivation),
so a step is a few gathers, with no inner loop, inside the XLA decoding loop.

The mask allows a token only if the derivation can still be completed within
`max_length` tokens (from the minimal yield length of every stacked symbol),
so decoding with it never emits a string outside the grammar, even when cut
at `max_length`. This is the syntax-constrained decoding of Yin & Neubig 2017
("A Syntactic Neural Model for General-Purpose Code Generation",
https://arxiv.org/abs/1704.01696) in its LL(1) token-level form.
"""

import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.decoding import _common

_INF = 1 << 20


def _normalize(productions):
    if not isinstance(productions, dict) or not productions:
        raise ValueError(
            "Argument `productions` must be a non-empty dict nonterminal -> list of "
            f"alternatives. Received: productions={productions!r}"
        )
    out = {}
    for head, alternatives in productions.items():
        if not isinstance(head, str) or not isinstance(alternatives, (list, tuple)):
            raise ValueError(
                "Argument `productions` must map nonterminal names to lists of alternatives. "
                f"Received: productions[{head!r}]={alternatives!r}"
            )
        if not alternatives:
            raise ValueError(
                f"Argument `productions` must give every nonterminal an alternative. "
                f"Received: productions[{head!r}]=[]"
            )
        out[head] = [
            tuple(alt.split()) if isinstance(alt, str) else tuple(alt) for alt in alternatives
        ]
    return out


class Grammar:
    """An LL(1) context-free grammar whose terminals are vocabulary tokens.

    Args:
        productions: dict mapping each nonterminal name to its alternatives;
            an alternative is a list of symbols or a space-separated string
            (`""` or `[]` is the empty string). Symbols that are not
            nonterminals must be tokens of `vocabulary`.
        start: str. The start nonterminal.
        vocabulary: list of str. The decoder's tokens; token `i` has id `i`.
            Tokens outside the grammar (padding, start, end) are never allowed
            except `end_id`, once the derivation is complete.

    Raises:
        ValueError: naming `productions` for an unknown symbol, an unreachable
            or unproductive nonterminal, or a grammar that is not LL(1)
            (including left recursion); naming `start` or `vocabulary`.

    Example:

    ```python
    from keras_dlss.decoding import Grammar

    vocabulary = ["<pad>", "<start>", "<end>", "(", ")", "x", "+"]
    grammar = Grammar(
        {"expr": ["term rest"], "rest": ["", "+ term rest"], "term": ["x", "( expr )"]},
        start="expr", vocabulary=vocabulary)
    grammar.accepts("( x + x ) + x".split())  # True
    allowed_tokens_fn, state = grammar.constraint(batch_size=2, end_id=2, max_length=9)
    ```

    References:
        - [Yin & Neubig, 2017](https://arxiv.org/abs/1704.01696)
    """

    def __init__(self, productions, start, vocabulary):
        self.productions = _normalize(productions)
        if not isinstance(vocabulary, (list, tuple)) or not vocabulary:
            raise ValueError(
                f"Argument `vocabulary` must be a non-empty list of tokens. "
                f"Received: vocabulary={vocabulary!r}"
            )
        self.vocabulary = [str(t) for t in vocabulary]
        if len(set(self.vocabulary)) != len(self.vocabulary):
            raise ValueError("Argument `vocabulary` must not repeat tokens. Received: duplicates")
        if start not in self.productions:
            raise ValueError(
                f"Argument `start` must be a nonterminal of `productions`. Received: start={start!r}"
            )
        self.start = start
        token_ids = {t: i for i, t in enumerate(self.vocabulary)}
        clash = sorted(set(self.productions) & set(token_ids))
        if clash:
            raise ValueError(
                "Argument `productions` must not use vocabulary tokens as nonterminals. "
                f"Received: nonterminals {clash}"
            )
        self.nonterminals = list(self.productions)
        v = len(self.vocabulary)
        ids = {**token_ids, **{n: v + k for k, n in enumerate(self.nonterminals)}}
        for head, alternatives in self.productions.items():
            for alt in alternatives:
                for symbol in alt:
                    if symbol not in ids:
                        raise ValueError(
                            f"Argument `productions` uses {symbol!r} (in {head!r}), which is "
                            f"neither a nonterminal nor a vocabulary token. Received: "
                            f"productions[{head!r}]={[' '.join(a) for a in alternatives]}"
                        )
        self._ids = ids
        self._rules = {
            ids[h]: [tuple(ids[s] for s in alt) for alt in alts]
            for h, alts in self.productions.items()
        }
        self._check_reachable()
        self._analyse()
        self._check_ll1()
        self._build_tables()

    # ------------------------------------------------------------ analysis

    def _name(self, symbol):
        v = len(self.vocabulary)
        return self.vocabulary[symbol] if symbol < v else self.nonterminals[symbol - v]

    def _check_reachable(self):
        seen, todo = {self._ids[self.start]}, [self._ids[self.start]]
        while todo:
            for alt in self._rules[todo.pop()]:
                for s in alt:
                    if s in self._rules and s not in seen:
                        seen.add(s)
                        todo.append(s)
        missing = [self._name(s) for s in self._rules if s not in seen]
        if missing:
            raise ValueError(
                f"Argument `productions` has nonterminals unreachable from {self.start!r}. "
                f"Received: unreachable {missing}"
            )

    def _analyse(self):
        """Minimal yield lengths, nullable set and FIRST sets, as fixpoints."""
        v, rules = len(self.vocabulary), self._rules
        n_symbols = v + len(self.nonterminals)
        min_len = np.full(n_symbols, _INF, np.int64)
        min_len[:v] = 1
        first = np.zeros((n_symbols, v), bool)
        first[np.arange(v), np.arange(v)] = True
        changed = True
        while changed:
            changed = False
            for head, alts in rules.items():
                for alt in alts:
                    length = min(_INF, int(sum(min_len[s] for s in alt)))
                    if length < min_len[head]:
                        min_len[head], changed = length, True
                    row = self._first_of(alt, first, min_len)
                    if (row & ~first[head]).any():
                        first[head] |= row
                        changed = True
        dead = [self._name(h) for h in rules if min_len[h] >= _INF]
        if dead:
            raise ValueError(
                "Argument `productions` has unproductive nonterminals (they derive no finite "
                f"token string). Received: unproductive {dead}"
            )
        self._min_len, self._first = min_len, first
        self._nullable = min_len == 0

    @staticmethod
    def _first_of(alt, first, min_len):
        row = np.zeros(first.shape[1], bool)
        for s in alt:
            row |= first[s]
            if min_len[s] != 0:
                break
        return row

    def _follow(self):
        v, rules = len(self.vocabulary), self._rules
        follow = {h: np.zeros(v, bool) for h in rules}
        changed = True
        while changed:
            changed = False
            for head, alts in rules.items():
                for alt in alts:
                    for i, s in enumerate(alt):
                        if s not in rules:
                            continue
                        rest = alt[i + 1 :]
                        row = self._first_of(rest, self._first, self._min_len)
                        if all(self._min_len[r] == 0 for r in rest):
                            row = row | follow[head]
                        if (row & ~follow[s]).any():
                            follow[s] |= row
                            changed = True
        return follow

    def _check_ll1(self):
        follow = self._follow()
        for head, alts in self._rules.items():
            seen = np.zeros(len(self.vocabulary), bool)
            nullable_alts = 0
            for alt in alts:
                row = self._first_of(alt, self._first, self._min_len)
                nullable_alts += all(self._min_len[s] == 0 for s in alt)
                if (row & seen).any() or nullable_alts > 1:
                    tokens = [self.vocabulary[i] for i in np.flatnonzero(row & seen)]
                    raise ValueError(
                        f"Argument `productions` must be LL(1): alternatives of "
                        f"{self._name(head)!r} start with the same tokens (or left recursion). "
                        f"Received: conflicts on {tokens or ['<empty>']}"
                    )
                seen |= row
            if self._nullable[head] and (self._first[head] & follow[head]).any():
                tokens = [
                    self.vocabulary[i] for i in np.flatnonzero(self._first[head] & follow[head])
                ]
                raise ValueError(
                    f"Argument `productions` must be LL(1): {self._name(head)!r} can be empty "
                    f"and both start and be followed by the same tokens. Received: {tokens}"
                )

    def _derivative(self, symbol, token, memo, active):
        """Symbols that replace `symbol` on the stack after it consumes `token` (top first)."""
        if symbol < len(self.vocabulary):
            return ()
        key = (symbol, token)
        if key in memo:
            return memo[key]
        if key in active:
            raise ValueError(
                f"Argument `productions` is left-recursive through {self._name(symbol)!r}. "
                f"Received: productions[{self._name(symbol)!r}]"
            )
        active.add(key)
        for alt in self._rules[symbol]:
            for i, s in enumerate(alt):
                if self._first[s, token]:
                    result = self._derivative(s, token, memo, active) + alt[i + 1 :]
                    active.discard(key)
                    memo[key] = result
                    return result
                if self._min_len[s] != 0:
                    break
        raise AssertionError("unreachable: token not in FIRST")

    def _build_tables(self):
        v, n = len(self.vocabulary), len(self.vocabulary) + len(self.nonterminals)
        memo = {}
        derivatives = {
            (s, t): self._derivative(s, t, memo, set())
            for s in range(n)
            for t in np.flatnonzero(self._first[s])
        }
        width = max(1, max(len(d) for d in derivatives.values()))
        deriv = np.zeros((n, v, width), np.int32)
        deriv_len = np.zeros((n, v), np.int32)
        deriv_min = np.full((n, v), _INF, np.int32)
        for (s, t), d in derivatives.items():
            # Stored bottom first: written at increasing stack positions.
            deriv[s, t, : len(d)] = d[::-1]
            deriv_len[s, t] = len(d)
            deriv_min[s, t] = sum(int(self._min_len[x]) for x in d)
        self._deriv, self._deriv_len, self._deriv_min = deriv, deriv_len, deriv_min
        self.max_derivative_length = width

    # ------------------------------------------------------------ python side

    def accepts(self, tokens):
        """True when the token strings (or ids) form a complete sentence of the grammar."""
        stack = [self._ids[self.start]]
        for token in tokens:
            t = self.vocabulary.index(token) if isinstance(token, str) else int(token)
            if not 0 <= t < len(self.vocabulary):
                return False
            while stack and not self._first[stack[-1], t] and self._nullable[stack[-1]]:
                stack.pop()
            if not stack or not self._first[stack[-1], t]:
                return False
            symbol = stack.pop()
            d = self._deriv[symbol, t, : self._deriv_len[symbol, t]]
            stack.extend(int(x) for x in d)
        return all(self._nullable[s] for s in stack)

    def get_config(self):
        return {
            "productions": {h: [" ".join(a) for a in alts] for h, alts in self.productions.items()},
            "start": self.start,
            "vocabulary": list(self.vocabulary),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ------------------------------------------------------------ tensor side

    def default_stack_size(self, max_length):
        """A stack that cannot overflow in `max_length` tokens (each grows it by < width)."""
        return 1 + max_length * max(1, self.max_derivative_length - 1)

    def constraint(self, batch_size, end_id, max_length, stack_size=None):
        """`(allowed_tokens_fn, constraint_state)` for `greedy_decode` / `beam_search`.

        Args:
            batch_size: int or scalar tensor. Rows of the initial state (`B`).
            end_id: int. The decoder's end token, allowed once the derivation
                is complete; it must not be a grammar terminal.
            max_length: int >= 1. The decoder's `max_length`: tokens that
                could not be completed into a sentence in time are masked.
            stack_size: int or None. Static pushdown depth. Defaults to
                `default_stack_size(max_length)`, which cannot overflow.

        Returns:
            `(allowed_tokens_fn, constraint_state)`; the state is `(stack [B,
            stack_size] int32, depth [B] int32, step [B] int32)`.
        """
        end_id = _common.check_token_id("end_id", end_id)
        if end_id >= len(self.vocabulary) or self._first[len(self.vocabulary) :, end_id].any():
            raise ValueError(
                "Argument `end_id` must be a vocabulary id that is not a grammar terminal. "
                f"Received: end_id={end_id}"
            )
        max_length = check_positive_int("max_length", max_length)
        size = stack_size or self.default_stack_size(max_length)
        size = check_positive_int("stack_size", size)
        v = len(self.vocabulary)
        first = ops.convert_to_tensor(self._first)
        first_flat = ops.reshape(first, (-1,))
        nullable = ops.convert_to_tensor(self._nullable)
        min_len = ops.convert_to_tensor(np.minimum(self._min_len, _INF).astype("int32"))
        deriv = ops.convert_to_tensor(self._deriv.reshape(-1, self.max_derivative_length))
        deriv_len = ops.convert_to_tensor(self._deriv_len.reshape(-1))
        deriv_min = ops.convert_to_tensor(self._deriv_min.reshape(-1))
        positions = ops.arange(size, dtype="int32")[None, :]

        def reachable(stack, depth):
            valid = positions < depth[:, None]
            blocking = ops.cast(ops.logical_and(valid, ~ops.take(nullable, stack)), "int32")
            total = ops.sum(blocking, axis=1, keepdims=True)
            above = total - ops.cumsum(blocking, axis=1)
            return ops.logical_and(valid, above == 0), valid, total[:, 0]

        def consume(tokens, stack, depth, step):
            ok, _, _ = reachable(stack, depth)
            hit = ops.logical_and(ok, ops.take(first_flat, stack * v + tokens[:, None]))
            j = ops.max(ops.where(hit, positions, -1), axis=1)
            active = ops.logical_and(j >= 0, step > 0)
            j = ops.maximum(j, 0)
            symbol = ops.take_along_axis(stack, j[:, None], axis=1)[:, 0]
            pair = symbol * v + tokens
            written = ops.take(deriv, pair, axis=0)  # [N, width]
            length = ops.take(deriv_len, pair)
            offset = ops.clip(positions - j[:, None], 0, self.max_derivative_length - 1)
            new = ops.where(
                positions < j[:, None],
                stack,
                ops.where(
                    positions < (j + length)[:, None],
                    ops.take_along_axis(written, offset, axis=1),
                    0,
                ),
            )
            stack = ops.where(active[:, None], new, stack)
            depth = ops.where(active, j + length, depth)
            return stack, depth

        def allowed_tokens_fn(tokens, state):
            stack, depth, step = state
            tokens = ops.cast(tokens, "int32")
            stack, depth = consume(tokens, stack, depth, step)
            ok, valid, blocking = reachable(stack, depth)
            hit = ops.logical_and(ok[:, :, None], ops.take(first, stack, axis=0))  # [N, S, V]
            j = ops.max(ops.where(hit, positions[:, :, None], -1), axis=1)  # [N, V]
            jc = ops.maximum(j, 0)
            lengths = ops.where(valid, ops.take(min_len, stack), 0)
            below = ops.cumsum(lengths, axis=1) - lengths
            symbol = ops.take_along_axis(stack, jc, axis=1)
            pair = symbol * v + ops.arange(v, dtype="int32")[None, :]
            cost = ops.take(deriv_min, pair) + ops.take_along_axis(below, jc, axis=1)
            remaining = (max_length - step)[:, None]
            mask = ops.logical_and(j >= 0, 1 + cost <= remaining)
            mask = ops.logical_and(mask, jc + ops.take(deriv_len, pair) <= size)
            is_end = ops.arange(v, dtype="int32")[None, :] == end_id
            mask = ops.where(is_end, (blocking == 0)[:, None], mask)
            return mask, (stack, depth, step + 1)

        start = self._ids[self.start]
        state = (
            ops.where(positions == 0, start, 0) + ops.zeros((batch_size, size), "int32"),
            ops.ones((batch_size,), "int32"),
            ops.zeros((batch_size,), "int32"),
        )
        return allowed_tokens_fn, state
