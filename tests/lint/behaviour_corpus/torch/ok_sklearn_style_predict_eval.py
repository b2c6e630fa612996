"""scikit-learn style estimator around a small PyTorch MLP (fit / predict_proba / predict / score).
fit() trains in train mode; predict_proba() switches the network to eval() before its no_grad forward
pass, so predict()/score() use the fitted running statistics and leave them untouched."""
import numpy as np
import torch
from torch import nn


class TorchMLPClassifier:
    """Minimal estimator with the scikit-learn API (get_params/set_params omitted)."""

    def __init__(self, hidden=32, epochs=4, lr=1e-2, batch_size=32, random_state=0):
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.random_state = random_state

    def _build(self, n_features, n_classes):
        return nn.Sequential(nn.Linear(n_features, self.hidden), nn.BatchNorm1d(self.hidden), nn.ReLU(),
                             nn.Linear(self.hidden, n_classes))

    def fit(self, X, y):
        torch.manual_seed(self.random_state)
        X = torch.as_tensor(X, dtype=torch.float32)
        y = torch.as_tensor(y, dtype=torch.long)
        self.classes_ = np.unique(y.numpy())
        self.net_ = self._build(X.shape[1], len(self.classes_))
        optimizer = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        self.net_.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(X))
            for start in range(0, len(X), self.batch_size):
                idx = order[start:start + self.batch_size]
                optimizer.zero_grad()
                nn.functional.cross_entropy(self.net_(X[idx]), y[idx]).backward()
                optimizer.step()
        return self

    def predict_proba(self, X):
        X = torch.as_tensor(X, dtype=torch.float32)
        self.net_.eval()
        with torch.no_grad():
            logits = self.net_(X)
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y):
        return float((self.predict(X) == np.asarray(y)).mean())


def make_data(n, shift, rng):
    X = rng.normal(shift, 1.0, size=(n, 8)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 2 * shift).astype(np.int64)


def main():
    rng = np.random.default_rng(0)
    X_train, y_train = make_data(128, 0.0, rng)
    X_test, y_test = make_data(64, 3.0, rng)
    clf = TorchMLPClassifier().fit(X_train, y_train)
    bn = clf.net_[1]
    fitted_mean = bn.running_mean.clone()
    print("test accuracy", clf.score(X_test, y_test))
    print("first test predictions", clf.predict(X_test[:5]))
    changed = not torch.allclose(bn.running_mean, fitted_mean)
    trained = not torch.allclose(fitted_mean, torch.zeros_like(fitted_mean))
    print("BN-GROUND-TRUTH:", "contaminated" if changed else "updated" if trained else "frozen")


if __name__ == "__main__":
    main()
