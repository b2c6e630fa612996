"""TF1 input pipeline (tf.data one-shot iterator) trained with tf.train.MonitoredTrainingSession,
a StopAtStepHook and a custom SessionRunHook that reports the BN moving mean at the end. The train
op is a bare `optimizer.minimize(...)`, but the UPDATE_OPS are not lost: an UpdateOpsHook adds them
to the fetches of every sess.run the session makes (same run, same batch from the iterator)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

FLAGS = {"batch_size": 16, "max_steps": 12, "learning_rate": 1e-2}


def input_fn(batch_size):
    rng = np.random.RandomState(0)
    features = (rng.randn(128, 6) * 2 + 3).astype(np.float32)
    labels = rng.randint(0, 3, size=128).astype(np.int64)
    dataset = tf.data.Dataset.from_tensor_slices((features, labels)).shuffle(128, seed=0).repeat().batch(batch_size)
    return tf.data.make_one_shot_iterator(dataset).get_next()


def inference(features, is_training):
    with tf.variable_scope("classifier"):
        net = tf.layers.dense(features, 16, use_bias=False, name="fc1")
        net = tf.layers.batch_normalization(net, momentum=0.9, training=is_training, name="bn1")
        net = tf.nn.relu(net)
        return tf.layers.dense(net, 3, name="logits")


class UpdateOpsHook(tf.train.SessionRunHook):
    """Runs the batch-norm moving-average updates together with every training step."""

    def begin(self):
        self.update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)

    def before_run(self, run_context):
        return tf.train.SessionRunArgs(fetches=self.update_ops)


class MovingStatsHook(tf.train.SessionRunHook):
    """Reads the BN moving mean when the session ends."""

    def __init__(self, tensor_name):
        self.tensor_name = tensor_name
        self.value = None

    def begin(self):
        self.tensor = tf.get_default_graph().get_tensor_by_name(self.tensor_name)

    def end(self, session):
        self.value = session.run(self.tensor)


def main():
    global_step = tf.train.get_or_create_global_step()
    features, labels = input_fn(FLAGS["batch_size"])
    logits = inference(features, is_training=True)
    loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    optimizer = tf.train.MomentumOptimizer(FLAGS["learning_rate"], momentum=0.9)
    train_op = optimizer.minimize(loss, global_step=global_step)

    stats_hook = MovingStatsHook("classifier/bn1/moving_mean:0")
    hooks = [tf.train.StopAtStepHook(last_step=FLAGS["max_steps"]),
             tf.train.LoggingTensorHook({"loss": loss, "step": global_step}, every_n_iter=100),
             UpdateOpsHook(), stats_hook]
    with tf.train.MonitoredTrainingSession(checkpoint_dir=None, hooks=hooks, log_step_count_steps=None,
                                           save_summaries_steps=None) as sess:
        while not sess.should_stop():
            sess.run(train_op)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(stats_hook.value, 0.0) else "updated")


if __name__ == "__main__":
    main()
