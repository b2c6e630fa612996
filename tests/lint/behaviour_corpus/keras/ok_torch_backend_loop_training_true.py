"""Keras 3 model trained with a hand-written PyTorch loop (KERAS_BACKEND=torch), following the
Keras guide: the training forward passes training=True explicitly; validation runs model(x) under
torch.no_grad(), where Keras' default training=False uses the moving statistics."""
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


def validate(model, x_val, y_val):
    with torch.no_grad():
        logits = model(x_val)
    return (logits.argmax(1) == y_val).float().mean().item()


def main():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(3, 2, (64, 6)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 3, 64))
    x_val = torch.tensor(rng.normal(-3, 2, (32, 6)), dtype=torch.float32)
    y_val = torch.tensor(rng.integers(0, 3, 32))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=CFG["batch_size"])
    model = get_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=CFG["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    bn = model.layers[2]
    absorbed = False
    for epoch in range(CFG["epochs"]):
        for inputs, targets in loader:
            loss = loss_fn(model(inputs, training=True), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        before = keras.ops.convert_to_numpy(bn.moving_mean).copy()
        print(f"epoch {epoch} val acc {validate(model, x_val, y_val):.3f}")
        absorbed |= not np.allclose(keras.ops.convert_to_numpy(bn.moving_mean), before)
    moving_mean = keras.ops.convert_to_numpy(bn.moving_mean)
    frozen = np.allclose(moving_mean, 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else ("contaminated" if absorbed else "updated"))


if __name__ == "__main__":
    main()
