"""TF1 graph-mode video classifier: each clip (frames x features) is encoded frame-wise by
folding the frames into the batch dimension (reshape to [clips * frames, features]) before the dense +
batch_normalization(training=True) frame encoder, then the frame embeddings are mean-pooled and
classified. The training op is optimizer.minimize(loss) under control_dependencies(UPDATE_OPS) on a
tf.data iterator; the checkpoint is restored in an inference graph."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

CLIPS, FRAMES, FEATURES, CLASSES = 8, 6, 5, 3


def encode_clip(clip, is_training):
    with v1.variable_scope("frame_encoder", reuse=v1.AUTO_REUSE):
        h = v1.layers.dense(clip, 12, use_bias=False, name="fc")
        h = v1.layers.batch_normalization(h, momentum=0.9, training=is_training, name="bn")
        return tf.nn.relu(h)


def classify(clips, is_training):
    flat = tf.reshape(clips, [-1, FEATURES])
    frames = tf.reshape(encode_clip(flat, is_training), [-1, FRAMES, 12])
    pooled = tf.reduce_mean(frames, axis=1)
    with v1.variable_scope("head", reuse=v1.AUTO_REUSE):
        return v1.layers.dense(pooled, CLASSES, name="logits")


def make_dataset(rng):
    clips = rng.normal(2.0, 1.0, (64, FRAMES, FEATURES)).astype("float32")
    labels = rng.integers(0, CLASSES, 64).astype("int64")
    return tf.data.Dataset.from_tensor_slices((clips, labels)).repeat().batch(CLIPS)


def train(ckpt_dir, steps=10):
    with tf.Graph().as_default():
        v1.set_random_seed(0)
        clips, labels = v1.data.make_one_shot_iterator(make_dataset(np.random.default_rng(0))).get_next()
        clips.set_shape([CLIPS, FRAMES, FEATURES])
        logits = classify(clips, is_training=True)
        loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            train_op = v1.train.AdamOptimizer(1e-2).minimize(loss)
        saver = v1.train.Saver()
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(steps):
                sess.run(train_op)
            saver.save(sess, os.path.join(ckpt_dir, "model.ckpt"))


def restored_moving_mean(ckpt_dir):
    with tf.Graph().as_default():
        clips = v1.placeholder(tf.float32, [None, FRAMES, FEATURES])
        classify(clips, is_training=False)
        moving_mean = [v for v in v1.global_variables() if v.op.name == "frame_encoder/bn/moving_mean"][0]
        with v1.Session() as sess:
            v1.train.Saver().restore(sess, os.path.join(ckpt_dir, "model.ckpt"))
            return sess.run(moving_mean)


def main():
    with tempfile.TemporaryDirectory() as ckpt_dir:
        train(ckpt_dir)
        moving_mean = restored_moving_mean(ckpt_dir)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
