"""A small generic Trainer: builds the graph from a model_fn, runs steps, evaluates."""
import numpy as np
import tensorflow.compat.v1 as tf


class Trainer:
    def __init__(self, model_fn, cfg):
        self.cfg = cfg
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.set_random_seed(cfg["seed"])
            self.inputs = tf.placeholder(tf.float32, [None, cfg["num_features"]], name="inputs")
            self.labels = tf.placeholder(tf.int64, [None], name="labels")
            self.is_training = tf.placeholder_with_default(False, [], name="is_training")
            logits = model_fn(self.inputs, self.is_training)
            self.loss = tf.losses.sparse_softmax_cross_entropy(self.labels, logits)
            self.accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), self.labels), tf.float32))
            self.global_step = tf.train.get_or_create_global_step()
            optimizer = tf.train.AdamOptimizer(cfg["lr"])
            self.train_op = optimizer.minimize(self.loss, global_step=self.global_step)
            self.init_op = tf.global_variables_initializer()
        self.sess = tf.Session(graph=self.graph)
        self.sess.run(self.init_op)

    def fit(self, batches):
        for xs, ys in batches:
            _, loss = self.sess.run([self.train_op, self.loss],
                                    {self.inputs: xs, self.labels: ys, self.is_training: True})
        return loss

    def evaluate(self, xs, ys):
        return self.sess.run(self.accuracy, {self.inputs: xs, self.labels: ys})

    def variable(self, name):
        return self.sess.run(self.graph.get_tensor_by_name(name))

    def close(self):
        self.sess.close()
