"""Framework-free checkpoints: parameters as numpy arrays in one .npz file."""
import numpy as np
import tensorflow.compat.v1 as tf


def _key(var):
    return var.op.name.replace("/", "__")


def save_npz(sess, params, path):
    np.savez(path, **{_key(v): value for v, value in zip(params, sess.run(params))})
    print(f"[*] saved {len(params)} arrays to {path}")


def load_and_assign_npz(sess, params, path):
    data = np.load(path)
    sess.run([v.assign(data[_key(v)]) for v in params if _key(v) in data.files])
    print(f"[*] loaded {len(data.files)} arrays from {path}")
