"""Multi-task training with a round-robin over task objects (a labelled classification task and an
unlabelled consistency task on a second loader). The consistency task computes its target features
with `extract_features()`, the inference helper the project also uses for its retrieval index: it
calls model.eval() and runs under no_grad, and never puts the model back. The trainer calls
model.train() once per epoch, so after the first consistency step every later classification and
consistency step of the epoch trains with BatchNorm in eval mode: the running statistics stop
following the data."""
import itertools

import torch
import torch.nn.functional as F
from torch import nn


class SharedEncoder(nn.Module):
    def __init__(self, n_in=8, width=20, n_classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, width), nn.BatchNorm1d(width), nn.ReLU(),
                                  nn.Linear(width, width))
        self.classifier = nn.Linear(width, n_classes)

    def encode(self, x):
        return self.body(x)

    def forward(self, x):
        return self.classifier(self.encode(x))


def extract_features(model, x):
    """Embeddings for the retrieval index (also reused as consistency targets)."""
    model.eval()
    with torch.no_grad():
        return F.normalize(model.encode(x), dim=1)


class ClassificationTask:
    name = "cls"

    def __init__(self, batches):
        self.batches = itertools.cycle(batches)

    def loss(self, model):
        x, y = next(self.batches)
        return F.cross_entropy(model(x), y)


class ConsistencyTask:
    name = "consistency"

    def __init__(self, batches, noise=0.3, seed=1):
        self.batches = itertools.cycle(batches)
        self.noise = noise
        self.gen = torch.Generator().manual_seed(seed)

    def loss(self, model):
        x = next(self.batches)
        target = extract_features(model, x)
        noisy = x + self.noise * torch.randn(x.shape, generator=self.gen)
        pred = F.normalize(model.encode(noisy), dim=1)
        return (1 - (pred * target).sum(1)).mean()


class MultiTaskTrainer:
    def __init__(self, model, tasks, lr=0.05, steps_per_epoch=4):
        self.model = model
        self.tasks = tasks
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        self.steps_per_epoch = steps_per_epoch
        self.task_steps = 0

    def train_epoch(self):
        self.model.train()
        for _ in range(self.steps_per_epoch):
            for task in self.tasks:
                loss = task.loss(self.model)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                self.task_steps += 1
        return loss.item()


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    labelled = []
    for _ in range(3):
        x = torch.randn(32, 8, generator=gen) * 1.5 + 2.0
        labelled.append((x, x[:, :3].argmax(1)))
    unlabelled = [torch.randn(32, 8, generator=gen) * 1.5 + 2.0 for _ in range(3)]
    model = SharedEncoder()
    trainer = MultiTaskTrainer(model, [ClassificationTask(labelled), ConsistencyTask(unlabelled)])
    for epoch in range(2):
        print(f"epoch {epoch} last loss {trainer.train_epoch():.3f}")

    index = torch.cat([extract_features(model, x) for x in unlabelled])
    print("retrieval index", tuple(index.shape))

    bn = model.body[1]
    tracked = int(bn.num_batches_tracked)
    print("training forwards", trainer.task_steps, "num_batches_tracked", tracked)
    if tracked == 0:
        behaviour = "frozen"
    elif tracked == trainer.task_steps:
        behaviour = "updated"
    elif tracked < trainer.task_steps:
        behaviour = "stale"
    else:
        behaviour = "contaminated"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
