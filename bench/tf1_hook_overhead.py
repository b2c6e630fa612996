"""Per-run cost of bnguard's TF1 guard after the first (checked) run, against the same loop without it.

Run: ``.venv/bin/python bench/tf1_hook_overhead.py [--runs 2000] [--repeats 5]``

Side by side, in one process, on the same tiny graph (BN + dense, GradientDescent, wired updates):
- plain ``Session.run`` vs ``guard(session).run``;
- ``MonitoredSession`` without hooks vs with ``BNGuardHook``.
Timings are interleaved blocks; the best and the median block are reported, in wall time and in
process CPU time (steadier on a shared machine), with ratios.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bnguard.tf1 import BNGuardHook, guard  # noqa: E402

tf1 = tf.compat.v1


def build():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 8], name="x")
        is_training = tf1.placeholder(tf.bool, [], name="is_training")
        h = tf1.layers.batch_normalization(x, training=is_training, name="bn1")
        loss = tf.reduce_mean(tf.square(tf1.layers.dense(h, 1) - 1.0))
        with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
            train_op = tf1.train.GradientDescentOptimizer(0.01).minimize(loss)
        init = tf1.global_variables_initializer()
    feed = {x: np.random.RandomState(0).randn(16, 8).astype(np.float32), is_training: True}
    return graph, train_op, init, feed


def per_run_us(run, train_op, feed, n):
    """(wall, process CPU) microseconds per run. CPU time (all of TF's threads) is barely touched
    by other processes on a shared machine, so it is the steadier of the two."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        run(train_op, feed_dict=feed)
    return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300, help="runs per timed block")
    ap.add_argument("--repeats", type=int, default=30, help="interleaved blocks per variant")
    args = ap.parse_args()

    graph, train_op, init, feed = build()
    plain = tf1.Session(graph=graph)
    plain.run(init)
    guarded_session = tf1.Session(graph=graph)
    guarded_session.run(init)
    guarded = guard(guarded_session, on_problem="raise")
    t0 = time.perf_counter()
    guarded.run(train_op, feed_dict=feed)  # the one checked run
    first_run_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    plain.run(train_op, feed_dict=feed)
    plain_first_ms = (time.perf_counter() - t0) * 1e3

    with graph.as_default():
        mon_plain = tf1.train.MonitoredSession()
        hook = BNGuardHook(on_problem="raise")
        mon_hooked = tf1.train.MonitoredSession(hooks=[hook])
    mon_hooked.run(train_op, feed_dict=feed)  # the one checked run
    mon_plain.run(train_op, feed_dict=feed)
    assert guarded.report.ok and hook.report.ok

    rows = {"Session.run": [], "guard(session).run": [], "MonitoredSession": [], "MonitoredSession+BNGuardHook": []}
    for _ in range(args.repeats):  # interleaved so drift hits all variants alike
        rows["Session.run"].append(per_run_us(plain.run, train_op, feed, args.runs))
        rows["guard(session).run"].append(per_run_us(guarded.run, train_op, feed, args.runs))
        rows["MonitoredSession"].append(per_run_us(mon_plain.run, train_op, feed, args.runs))
        rows["MonitoredSession+BNGuardHook"].append(per_run_us(mon_hooked.run, train_op, feed, args.runs))
    print(f"TF {tf.__version__}; blocks of {args.runs} runs x {args.repeats} interleaved; us per run")
    print(f"first checked run: guard {first_run_ms:.1f} ms vs plain first run {plain_first_ms:.1f} ms (one-time)")
    print(f"  {'variant':<30} {'wall best':>10} {'wall median':>12} {'CPU best':>9} {'CPU median':>11}")
    stats = {}
    for k, blocks in rows.items():
        walls, cpus = [b[0] for b in blocks], [b[1] for b in blocks]
        stats[k] = (min(walls), statistics.median(walls), min(cpus), statistics.median(cpus))
        print(f"  {k:<30} {stats[k][0]:10.1f} {stats[k][1]:12.1f} {stats[k][2]:9.1f} {stats[k][3]:11.1f}")
    for label, a, b in (("guard(session) / Session", "guard(session).run", "Session.run"),
                        ("BNGuardHook / no hook (MonitoredSession)", "MonitoredSession+BNGuardHook",
                         "MonitoredSession")):
        r = [x / y for x, y in zip(stats[a], stats[b])]
        print(f"ratio {label:<42} wall best {r[0]:.3f} median {r[1]:.3f} | CPU best {r[2]:.3f} median {r[3]:.3f}")
    for s in (plain, guarded_session, mon_plain, mon_hooked):
        s.close()


if __name__ == "__main__":
    main()
