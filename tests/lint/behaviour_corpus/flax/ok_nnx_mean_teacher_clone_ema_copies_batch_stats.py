"""Flax NNX mean-teacher semi-supervised loop: teacher = nnx.clone(student) put in eval mode; the
student is trained with a supervised loss plus a consistency loss against the teacher's
predictions on unlabeled data, and after every step ema_update() blends the teacher's nnx.Param
state toward the student's and copies the student's nnx.BatchStat state into the teacher (timm
ModelEma-style buffer copy): the eval-mode teacher normalizes with the live running statistics."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


class Net(nnx.Module):
    def __init__(self, din, hidden, dout, *, rngs: nnx.Rngs):
        self.fc1 = nnx.Linear(din, hidden, use_bias=False, rngs=rngs)
        self.bn = nnx.BatchNorm(hidden, momentum=0.9, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, dout, rngs=rngs)

    def __call__(self, x):
        return self.fc2(nnx.relu(self.bn(self.fc1(x))))


@nnx.jit
def train_step(student, optimizer, teacher_probs, x, y, xu, weight):
    def loss_fn(model):
        sup = optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()
        cons = jnp.mean((jax.nn.softmax(model(xu)) - teacher_probs) ** 2)
        return sup + weight * cons

    loss, grads = nnx.value_and_grad(loss_fn)(student)
    optimizer.update(student, grads)
    return loss


@nnx.jit
def teacher_predict(teacher, xu):
    return jax.nn.softmax(teacher(xu))


def ema_update(teacher, student, decay=0.9):
    t = nnx.state(teacher, nnx.Param)
    s = nnx.state(student, nnx.Param)
    nnx.update(teacher, jax.tree.map(lambda a, b: decay * a + (1 - decay) * b, t, s))
    nnx.update(teacher, nnx.state(student, nnx.BatchStat))


def main(steps=8):
    rng = np.random.default_rng(0)
    student = Net(6, 12, 3, rngs=nnx.Rngs(0))
    teacher = nnx.clone(student)
    teacher.eval()
    optimizer = nnx.Optimizer(student, optax.adam(1e-2), wrt=nnx.Param)
    for step in range(steps):
        x = jnp.asarray(rng.normal(3, 2, (16, 6)), jnp.float32)
        y = jnp.asarray(rng.integers(0, 3, 16))
        xu = jnp.asarray(rng.normal(3, 2, (32, 6)), jnp.float32)
        loss = train_step(student, optimizer, teacher_predict(teacher, xu), x, y, xu, 0.5)
        ema_update(teacher, student)
    xt = jnp.asarray(rng.normal(3, 2, (32, 6)), jnp.float32)
    print("loss", float(loss), "teacher mean prob", float(teacher_predict(teacher, xt).max(-1).mean()))
    t_mean = np.asarray(teacher.bn.mean[...])
    s_mean = np.asarray(student.bn.mean[...])
    if np.allclose(t_mean, s_mean, atol=1e-5) and not np.allclose(s_mean, 0):
        behaviour = "tracks-live-model"
    elif np.allclose(t_mean, 0):
        behaviour = "frozen"
    else:
        behaviour = "mismatched"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
