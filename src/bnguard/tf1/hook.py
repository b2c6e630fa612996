"""Check the graph at the first training ``run``: `BNGuardHook` and `guard(session)`.

Both look at each ``run`` until the first one whose fetches train (a ``TRAIN_OP`` member, an
optimizer apply op, or a write to a trainable variable among their ancestors), check that run's
fetches with its real ``feed_dict`` *before* the step runs, then step aside: `guard` rebinds ``run``
to the wrapped session's own method, and the hook returns at once.
"""
from __future__ import annotations

import warnings

from bnguard.result import BNProblem
from bnguard.tf1.env import import_tf
from bnguard.tf1.graph import check_graph
from bnguard.tf1.graph_index import GraphIndex, flatten_fetches, is_training_fetch, resolve_fetch_ops

tf = import_tf()

__all__ = ["BNGuardHook", "guard", "GuardedSession", "BNGuardWarning"]

_ON_PROBLEM = ("warn", "raise")


class BNGuardWarning(UserWarning):
    """A BN layer's moving statistics will not be updated by the training step."""


class _FirstTrainingRun:
    """Decides, per fetch structure, whether a run trains; checks the first one that does."""

    def __init__(self, on_problem: str, confirm: bool):
        if on_problem not in _ON_PROBLEM:
            raise ValueError(f"on_problem must be one of {_ON_PROBLEM}, not {on_problem!r}")
        self.on_problem = on_problem
        self.confirm = confirm
        self.report = None
        self._index = None
        self._not_training: set = set()

    def maybe_check(self, graph, fetches, feed_dict, session) -> bool:
        """Check if this run trains; returns True once the check has been done."""
        key = _fetch_key(fetches)
        if key is not None and key in self._not_training:
            return False
        if self._index is None or self._index.graph is not graph:
            self._index = GraphIndex(graph)
        try:
            fetch_ops = resolve_fetch_ops(graph, fetches)
        except (TypeError, ValueError, KeyError):
            return False  # the session itself will report a bad fetch
        if not fetch_ops or not is_training_fetch(self._index, fetch_ops):
            if key is not None:
                self._not_training.add(key)
            return False
        self.report = check_graph(graph, fetch_ops, feed_dict,
                                  session=session if self.confirm else None, confirm=self.confirm)
        self._index = None
        if not self.report.ok:
            if self.on_problem == "raise":
                raise BNProblem(self.report)
            warnings.warn(f"bnguard: {self.report}", BNGuardWarning, stacklevel=4)
        return True


def _fetch_key(fetches):
    try:
        return tuple(id(f) if not isinstance(f, str) else f for f in flatten_fetches(fetches))
    except Exception:
        return None


class BNGuardHook(tf.compat.v1.train.SessionRunHook):
    """``SessionRunHook`` for ``MonitoredTrainingSession`` (and Estimator-style loops).

    ``on_problem="warn"`` (default) emits a `BNGuardWarning`; ``"raise"`` raises `bnguard.BNProblem`
    before the first training step runs. ``confirm=True`` also runs one step on a copy of the
    variables (restored afterwards). The report is kept in ``hook.report``.
    """

    def __init__(self, on_problem: str = "warn", confirm: bool = False):
        self._first = _FirstTrainingRun(on_problem, confirm)
        self._done = False
        self._graph = None

    @property
    def report(self):
        return self._first.report

    def begin(self):
        self._graph = tf.compat.v1.get_default_graph()

    def before_run(self, run_context):
        if self._done:
            return None
        args = run_context.original_args
        self._done = self._first.maybe_check(self._graph or run_context.session.graph, args.fetches,
                                             args.feed_dict, run_context.session)
        return None


class GuardedSession:
    """A ``tf.compat.v1.Session`` wrapper: ``run`` checks the first training run, then is the
    session's own ``run``. Every other attribute is the session's."""

    def __init__(self, session, on_problem: str = "warn", confirm: bool = False):
        self._session = session
        self._first = _FirstTrainingRun(on_problem, confirm)

    @property
    def report(self):
        return self._first.report

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        if self._first.maybe_check(self._session.graph, fetches, feed_dict, self._session):
            self.run = self._session.run  # later runs go straight to the session
        return self._session.run(fetches, feed_dict=feed_dict, options=options, run_metadata=run_metadata)

    def __getattr__(self, name):
        return getattr(self._session, name)

    def __enter__(self):
        self._session.__enter__()
        return self

    def __exit__(self, *exc):
        return self._session.__exit__(*exc)


def guard(session, on_problem: str = "warn", confirm: bool = False) -> GuardedSession:
    """Wrap a plain ``Session``: the first training ``run`` is checked before it runs."""
    return GuardedSession(session, on_problem=on_problem, confirm=confirm)
