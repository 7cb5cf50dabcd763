"""Arc-standard and arc-hybrid transition systems, with static and dynamic oracles.

A transition-based parser builds a tree left to right with a stack, a buffer
and three actions. Both systems start with the stack `[0]` (the root) and the
buffer `[1, ..., n]`, and end when the buffer is empty and only the root is on
the stack, after exactly `2n` actions:

| action | arc-standard (Nivre 2004) | arc-hybrid (Kuhlmann et al. 2011) |
|---|---|---|
| `SHIFT` | push the buffer's front | same |
| `LEFT_ARC` | `s1` <- `s0` (s1 a dependent of s0), pop `s1` | `s0` <- `b0`, pop `s0` |
| `RIGHT_ARC` | `s0` <- `s1`, pop `s0` | same |

Attaching a word to the root (`RIGHT_ARC` with `s1 = 0`) is legal only when the
buffer is empty, so every final tree has exactly one root word (UD's rule).

The static oracle gives the one canonical action sequence of a projective
tree (a non-projective tree raises `ValueError`: filter it first, e.g. with
`read_conllu_trees(..., projective_only=True)`). The arc-hybrid dynamic
oracle (Goldberg & Nivre 2012, 2013) gives, in *any* configuration, the
actions that lose no more gold arcs than are already lost, so a parser can be
trained on its own, possibly wrong, predictions ("exploration").

These are plain Python over one sentence; they build training targets and
check trees, and are not on a model's compiled path.

References:
    - Nivre, "Incrementality in Deterministic Dependency Parsing", 2004.
    - Kuhlmann, Gomez-Rodriguez & Satta, "Dynamic Programming Algorithms for
      Transition-Based Dependency Parsers", ACL 2011.
    - Goldberg & Nivre, "A Dynamic Oracle for Arc-Eager Dependency Parsing",
      COLING 2012; "Training Deterministic Parsers with Non-Deterministic
      Oracles", TACL 2013.
    - Dyer et al., "Transition-Based Dependency Parsing with Stack Long
      Short-Term Memory", ACL 2015.
"""

import numpy as np

from keras_dlss import _validation as v
from keras_dlss.datasets.dependency_trees import check_heads, is_projective

SHIFT, LEFT_ARC, RIGHT_ARC = 0, 1, 2
ACTION_NAMES = ("SHIFT", "LEFT_ARC", "RIGHT_ARC")
SYSTEMS = ("arc-standard", "arc-hybrid")


class Configuration:
    """A parser state: `stack` (top last), `buffer` (front first) and the `heads` found so far.

    Args:
        n: int. Number of words; `heads[i]` is -1 until word `i + 1` is attached.
        system: `"arc-standard"` or `"arc-hybrid"`. Defaults to `"arc-standard"`.

    Example:

    ```pycon
    >>> c = Configuration(2, "arc-hybrid")
    >>> for action in (SHIFT, LEFT_ARC, SHIFT, RIGHT_ARC):
    ...     c.apply(action)
    >>> c.heads, c.is_terminal()
    ([2, 0], True)
    ```
    """

    def __init__(self, n, system="arc-standard"):
        self.n = v.check_positive_int("n", n)
        self.system = v.check_one_of("system", system, SYSTEMS)
        self.stack, self.buffer = [0], list(range(1, n + 1))
        self.heads = [-1] * n

    def is_terminal(self):
        return not self.buffer and self.stack == [0]

    def legal(self):
        """The actions allowed here, as a list of action ids."""
        actions = [SHIFT] if self.buffer else []
        if self.system == "arc-standard":
            if len(self.stack) > 2:
                actions.append(LEFT_ARC)
        elif len(self.stack) > 1 and self.buffer:
            actions.append(LEFT_ARC)
        if len(self.stack) > 2 or (len(self.stack) == 2 and not self.buffer):
            actions.append(RIGHT_ARC)
        return actions

    def apply(self, action):
        """Applies `action` (an id); raises ValueError when it is not legal here."""
        if action not in self.legal():
            raise ValueError(
                f"Argument `action` is not legal in this configuration (legal: "
                f"{[ACTION_NAMES[a] for a in self.legal()]}). Received: action={action!r}"
            )
        if action == SHIFT:
            self.stack.append(self.buffer.pop(0))
        elif action == RIGHT_ARC:
            dependent = self.stack.pop()
            self.heads[dependent - 1] = self.stack[-1]
        elif self.system == "arc-standard":
            dependent = self.stack.pop(-2)
            self.heads[dependent - 1] = self.stack[-1]
        else:
            dependent = self.stack.pop()
            self.heads[dependent - 1] = self.buffer[0]


def _checked(heads, system):
    heads = check_heads(heads).tolist()
    v.check_one_of("system", system, SYSTEMS)
    if not is_projective(heads):
        raise ValueError(
            f"Argument `heads` is a non-projective tree, which {system} cannot build "
            f"(filter it, e.g. read_conllu_trees(..., projective_only=True)). Received: heads={heads}"
        )
    return heads


def static_oracle(heads, system="arc-standard"):
    """The canonical action sequence that builds the projective tree `heads`.

    Args:
        heads: sequence of int. 1-based heads, 0 = root; must be a projective tree.
        system: `"arc-standard"` or `"arc-hybrid"`. Defaults to `"arc-standard"`.

    Returns:
        list of `2 * len(heads)` action ids (`SHIFT`, `LEFT_ARC`, `RIGHT_ARC`).

    Example:

    ```pycon
    >>> [ACTION_NAMES[a] for a in static_oracle([2, 0, 2])]
    ['SHIFT', 'SHIFT', 'LEFT_ARC', 'SHIFT', 'RIGHT_ARC', 'RIGHT_ARC']
    ```
    """
    heads = _checked(heads, system)
    config = Configuration(len(heads), system)
    pending = [0] * (len(heads) + 1)  # dependents not yet attached, per word (0 = root)
    for h in heads:
        pending[h] += 1
    actions = []
    while not config.is_terminal():
        stack, buffer = config.stack, config.buffer
        s0 = stack[-1]
        s1 = stack[-2] if len(stack) > 1 else None
        if system == "arc-standard":
            left = s1 is not None and s1 != 0 and heads[s1 - 1] == s0 and pending[s1] == 0
        else:
            left = s0 != 0 and buffer and heads[s0 - 1] == buffer[0] and pending[s0] == 0
        right = s1 is not None and s0 != 0 and heads[s0 - 1] == s1 and pending[s0] == 0
        action = LEFT_ARC if left else RIGHT_ARC if right else SHIFT
        if action not in config.legal():  # only a tree the system cannot build gets here
            raise ValueError(
                f"Argument `heads` cannot be built by {system}. Received: heads={heads}"
            )
        if action != SHIFT:
            dependent = (s1 if system == "arc-standard" else s0) if action == LEFT_ARC else s0
            pending[heads[dependent - 1]] -= 1
        config.apply(action)
        actions.append(action)
    return actions


def apply_transitions(n, actions, system="arc-standard"):
    """The heads built by `actions` from the initial configuration of `n` words.

    Example:

    ```pycon
    >>> apply_transitions(3, [0, 0, 1, 0, 2, 2])
    [2, 0, 2]
    ```
    """
    config = Configuration(n, system)
    for action in actions:
        config.apply(action)
    if not config.is_terminal():
        raise ValueError(
            f"Argument `actions` does not end in a terminal configuration. Received: actions={list(actions)}"
        )
    return config.heads


def action_costs(config, heads):
    """Arc-hybrid dynamic oracle: the gold arcs each legal action makes unreachable.

    Arc-hybrid is arc-decomposable (Goldberg & Nivre 2013), so an action's cost
    is the number of gold arcs, still reachable before it, that it rules out.
    The zero-cost actions are the dynamic oracle's answer; from any
    configuration, following them builds the best tree still reachable.

    Args:
        config: an arc-hybrid `Configuration`.
        heads: sequence of int. The gold heads (1-based, 0 = root).

    Returns:
        dict mapping each legal action id to its cost (an int >= 0).

    Example:

    ```pycon
    >>> c = Configuration(3, "arc-hybrid")
    >>> c.apply(SHIFT)
    >>> action_costs(c, [2, 0, 2])
    {0: 0, 1: 0}
    ```
    """
    if config.system != "arc-hybrid":
        raise ValueError(
            f"Argument `config` must be an arc-hybrid configuration. Received: config.system={config.system!r}"
        )
    head = {d: h for d, h in enumerate(heads, start=1)}
    stack, buffer = config.stack, config.buffer
    costs = {}
    for action in config.legal():
        if action == SHIFT:
            b = buffer[0]
            # b can no longer take a head below s0, nor any stack word as a dependent.
            cost = sum(head[b] == k for k in stack[:-1])
            cost += sum(head.get(k) == b for k in stack)
        else:
            s0 = stack[-1]
            # s0 leaves the stack: its buffer dependents are lost, and so is its gold
            # head unless the action attaches it there.
            cost = sum(head[k] == s0 for k in buffer)
            if action == LEFT_ARC:
                cost += head[s0] != buffer[0] and (
                    head[s0] in buffer[1:] or (len(stack) > 1 and head[s0] == stack[-2])
                )
            else:
                cost += head[s0] in buffer
        costs[action] = int(cost)
    return costs


def dynamic_oracle(config, heads):
    """The zero-cost actions of an arc-hybrid `config` for the gold `heads` (a list of ids)."""
    costs = action_costs(config, heads)
    best = min(costs.values())
    return [a for a, c in costs.items() if c == best]


def transition_targets(heads, labels, system="arc-standard"):
    """Static-oracle targets of encoded trees, for teacher-forced training.

    Args:
        heads: `[B, P]` int array. Heads of positions 1..n (1-based, 0 = root),
            -1 at position 0 and at padding (as `parser_task.encode_trees` gives).
        labels: `[B, P]` int array. Relation ids, -1 where there is none.
        system: `"arc-standard"` or `"arc-hybrid"`. Defaults to `"arc-standard"`.

    Returns:
        `(actions, relations, projective)`: `[B, 2 * (P - 1)]` int arrays (action
        ids; the dependent's relation id at arc steps; -1 elsewhere) and a `[B]`
        bool array. Non-projective rows, which the system cannot build, are all -1
        and False in `projective`: filter them out.

    Example:

    ```pycon
    >>> actions, relations, ok = transition_targets(
    ...     np.array([[-1, 2, 0, 2]]), np.array([[-1, 4, 1, 5]]))
    >>> actions.tolist(), relations.tolist(), ok.tolist()
    ([[0, 0, 1, 0, 2, 2]], [[-1, -1, 4, -1, 5, 1]], [True])
    ```
    """
    heads, labels = np.asarray(heads), np.asarray(labels)
    v.check_rank("heads", heads, 2)
    if labels.shape != heads.shape:
        raise ValueError(
            f"Argument `labels` must have the shape of `heads` {heads.shape}. "
            f"Received: labels.shape={labels.shape}"
        )
    steps = 2 * (heads.shape[1] - 1)
    actions = np.full((len(heads), steps), -1, "int32")
    relations = np.full((len(heads), steps), -1, "int32")
    projective = np.zeros(len(heads), bool)
    for row in range(len(heads)):
        n = int((heads[row, 1:] >= 0).sum())
        try:
            sequence = static_oracle(heads[row, 1 : n + 1].tolist(), system)
        except ValueError:
            continue
        config = Configuration(n, system)
        for t, action in enumerate(sequence):
            if action == RIGHT_ARC or (action == LEFT_ARC and system == "arc-hybrid"):
                dependent = config.stack[-1]
            elif action == LEFT_ARC:
                dependent = config.stack[-2]
            if action != SHIFT:
                relations[row, t] = labels[row, dependent]
            config.apply(action)
        actions[row, : len(sequence)] = sequence
        projective[row] = True
    return actions, relations, projective
