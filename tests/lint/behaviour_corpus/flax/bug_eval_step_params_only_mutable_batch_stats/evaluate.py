"""Evaluation: jitted forward in inference mode + accuracy over a list of batches."""
import jax
import jax.numpy as jnp


@jax.jit
def eval_step(state, x):
    logits, _ = state.apply_fn({"params": state.params}, x, train=False, mutable=["batch_stats"])
    return logits


def evaluate(state, batches):
    hits = total = 0
    for x, y in batches:
        hits += int((jnp.argmax(eval_step(state, x), -1) == y).sum())
        total += len(y)
    return hits / total
