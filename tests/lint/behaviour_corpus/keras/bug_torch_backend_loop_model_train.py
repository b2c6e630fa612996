"""Keras 3 model trained with a hand-written PyTorch loop (KERAS_BACKEND=torch). The author calls
model.train() as in any torch script and then model(x): Keras layers ignore torch's train/eval
flag and default to training=False, so BatchNormalization normalizes with - and never updates -
its moving statistics."""
import os

os.environ["KERAS_BACKEND"] = "torch"
import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

CFG = {"epochs": 2, "lr": 1e-2, "batch_size": 16}


def get_model():
    inputs = keras.Input(shape=(6,))
    x = keras.layers.Dense(16, use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


def main():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(3, 2, (64, 6)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 3, 64))
    dataset = torch.utils.data.TensorDataset(x, y)
    loader = torch.utils.data.DataLoader(dataset, batch_size=CFG["batch_size"], shuffle=True)
    model = get_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=CFG["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(CFG["epochs"]):
        model.train()
        for inputs, targets in loader:
            logits = model(inputs)
            loss = loss_fn(logits, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch} loss {loss.item():.4f}")
    bn = model.layers[2]
    moving_mean = keras.ops.convert_to_numpy(bn.moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0) else "updated")


if __name__ == "__main__":
    main()
