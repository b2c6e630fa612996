"""DQN-style update: the target network is called with training=False, the online network trained."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def q_network(n_actions=2):
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.BatchNormalization(),
                             keras.layers.ReLU(), keras.layers.Dense(n_actions)])


class Agent:
    def __init__(self, gamma=0.9):
        self.q, self.target_q = q_network(), q_network()
        self.target_q.set_weights(self.q.get_weights())
        self.opt = keras.optimizers.Adam(1e-3)
        self.gamma = gamma

    @tf.function
    def learn(self, states, actions, rewards, next_states):
        next_q = tf.reduce_max(self.target_q(next_states, training=False), axis=1)
        targets = rewards + self.gamma * next_q
        with tf.GradientTape() as tape:
            q_all = self.q(states, training=True)
            q_taken = tf.reduce_sum(q_all * tf.one_hot(actions, 2), axis=1)
            loss = tf.reduce_mean(tf.square(targets - q_taken))
        grads = tape.gradient(loss, self.q.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.q.trainable_variables))
        return loss


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    agent = Agent()
    online_bn, target_bn = agent.q.layers[1], agent.target_q.layers[1]
    online_start, target_start = np.array(online_bn.moving_mean), np.array(target_bn.moving_mean)
    for _ in range(3):
        agent.learn(rng.normal(1, 1, (16, 4)).astype("float32"), rng.integers(0, 2, 16),
                    rng.normal(size=16).astype("float32"), rng.normal(1, 1, (16, 4)).astype("float32"))
    ok = not np.allclose(online_start, online_bn.moving_mean) and np.allclose(target_start, target_bn.moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
