"""python main.py  (configs/default.py holds the hyper-parameters)."""
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

import train_lib  # noqa: E402
from configs import default  # noqa: E402


def main():
    config = default.get_config()
    model, state = train_lib.train_and_evaluate(config)

    # One more training batch with a clearly shifted brightness: how far do the running means move towards it?
    probe = np.random.default_rng(123).normal(4.0, 1.0, (config.batch_size, 8, 8, 3)).astype(np.float32)
    conv_out = model.apply({"params": state.params, "batch_stats": state.batch_stats}, probe, train=False,
                           capture_intermediates=True, mutable=["intermediates"])[1]["intermediates"]["conv_init"]["__call__"][0]
    batch_mean = np.asarray(conv_out).mean(axis=(0, 1, 2))
    before = np.asarray(state.batch_stats["bn_init"]["mean"])
    state, _ = train_lib.train_step(state, probe, np.zeros(config.batch_size, dtype=np.int32))
    after = np.asarray(state.batch_stats["bn_init"]["mean"])
    weight_on_new_batch = float(np.abs(after - before).sum() / np.abs(batch_mean - before).sum())
    print(f"weight of the newest batch in the running mean: {weight_on_new_batch:.3f}")
    print("BN-GROUND-TRUTH:", "jumped" if weight_on_new_batch > 0.5 else "smooth-average")


if __name__ == "__main__":
    main()
