"""DDPG-style agent (Keras 3, custom GradientTape loop). The critic uses batch norm on its state
pathway as in the DDPG paper; target networks are hard-copied at start and then follow the online
networks with a Polyak (tau) update after every learning step. TD targets come from the target
critic in inference mode."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

AGENT = {"state_dim": 5, "action_dim": 2, "gamma": 0.95, "tau": 0.1, "batch": 32, "learn_steps": 40,
         "critic_lr": 1e-3, "actor_lr": 1e-4}


def make_actor(cfg):
    s = keras.Input((cfg["state_dim"],))
    h = layers.Dense(16, activation="relu")(s)
    return keras.Model(s, layers.Dense(cfg["action_dim"], activation="tanh")(h), name="actor")


def make_critic(cfg):
    s = keras.Input((cfg["state_dim"],))
    a = keras.Input((cfg["action_dim"],))
    h = layers.Dense(16, use_bias=False)(s)
    h = layers.BatchNormalization(name="state_bn")(h)
    h = layers.ReLU()(h)
    h = layers.Concatenate()([h, a])
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model([s, a], layers.Dense(1)(h), name="critic")


def soft_update(target, online, tau):
    for t_var, o_var in zip(target.trainable_variables, online.trainable_variables):
        t_var.assign(tau * o_var + (1.0 - tau) * t_var)


class Agent:
    def __init__(self, cfg):
        self.cfg = cfg
        self.actor, self.critic = make_actor(cfg), make_critic(cfg)
        self.target_actor, self.target_critic = make_actor(cfg), make_critic(cfg)
        self.target_actor.set_weights(self.actor.get_weights())
        self.target_critic.set_weights(self.critic.get_weights())
        self.critic_opt = keras.optimizers.Adam(cfg["critic_lr"])
        self.actor_opt = keras.optimizers.Adam(cfg["actor_lr"])

    @tf.function
    def learn(self, s, a, r, s2):
        next_q = self.target_critic([s2, self.target_actor(s2, training=False)], training=False)
        y = r + self.cfg["gamma"] * next_q
        with tf.GradientTape() as tape:
            q = self.critic([s, a], training=True)
            critic_loss = tf.reduce_mean(tf.square(y - q))
        grads = tape.gradient(critic_loss, self.critic.trainable_variables)
        self.critic_opt.apply_gradients(zip(grads, self.critic.trainable_variables))
        with tf.GradientTape() as tape:
            actor_loss = -tf.reduce_mean(self.critic([s, self.actor(s, training=True)], training=True))
        grads = tape.gradient(actor_loss, self.actor.trainable_variables)
        self.actor_opt.apply_gradients(zip(grads, self.actor.trainable_variables))
        return critic_loss

    def update_targets(self):
        soft_update(self.target_actor, self.actor, self.cfg["tau"])
        soft_update(self.target_critic, self.critic, self.cfg["tau"])


def replay_batch(rng, cfg):
    s = (rng.normal(size=(cfg["batch"], cfg["state_dim"])) + 3.0).astype("float32")
    a = rng.uniform(-1, 1, size=(cfg["batch"], cfg["action_dim"])).astype("float32")
    r = (s[:, :1] * 0.1 + a[:, :1]).astype("float32")
    s2 = (s + rng.normal(scale=0.1, size=s.shape)).astype("float32")
    return s, a, r, s2


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    agent = Agent(AGENT)
    for _ in range(AGENT["learn_steps"]):
        agent.learn(*replay_batch(rng, AGENT))
        agent.update_targets()
    online = keras.ops.convert_to_numpy(agent.critic.get_layer("state_bn").moving_mean)
    target = keras.ops.convert_to_numpy(agent.target_critic.get_layer("state_bn").moving_mean)
    print("online critic moving_mean", np.round(online, 3))
    print("target critic moving_mean", np.round(target, 3))
    if np.allclose(target, 0.0) and not np.allclose(online, 0.0):
        verdict = "stale"
    elif np.allclose(online, 0.0):
        verdict = "frozen"
    else:
        verdict = "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
