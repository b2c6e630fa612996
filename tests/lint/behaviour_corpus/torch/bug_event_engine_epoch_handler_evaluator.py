"""Hand-written ignite-like event engine. The trainer's process function (update) only does the
optimizer step; the evaluator's process function puts the shared model in eval mode, and the
evaluator is run from a handler registered with @trainer.on(Events.EPOCH_COMPLETED). Nothing in
the training engine ever switches the model back to train mode."""
from collections import defaultdict
from enum import Enum

import torch
from torch import nn


class Events(Enum):
    STARTED = "started"
    EPOCH_STARTED = "epoch_started"
    ITERATION_COMPLETED = "iteration_completed"
    EPOCH_COMPLETED = "epoch_completed"
    COMPLETED = "completed"


class State:
    def __init__(self):
        self.epoch = 0
        self.iteration = 0
        self.output = None
        self.metrics = {}


class Engine:
    def __init__(self, process_function):
        self._process_function = process_function
        self._handlers = defaultdict(list)
        self.state = State()

    def on(self, event, every=1):
        def register(fn):
            self._handlers[event].append((fn, every))
            return fn
        return register

    def _fire(self, event):
        counter = self.state.iteration if event is Events.ITERATION_COMPLETED else self.state.epoch
        for fn, every in self._handlers[event]:
            if counter % every == 0:
                fn(self)

    def run(self, data, max_epochs=1):
        self.state = State()
        self._fire(Events.STARTED)
        for _ in range(max_epochs):
            self.state.epoch += 1
            self._fire(Events.EPOCH_STARTED)
            for batch in data:
                self.state.iteration += 1
                self.state.output = self._process_function(self, batch)
                self._fire(Events.ITERATION_COMPLETED)
            self._fire(Events.EPOCH_COMPLETED)
        self._fire(Events.COMPLETED)
        return self.state


def build_trainer(model, optimizer, loss_fn):
    def update(engine, batch):
        inputs, targets = batch
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss.item()
    return Engine(update)


def build_evaluator(model, metrics):
    def infer(engine, batch):
        model.eval()
        with torch.no_grad():
            inputs, targets = batch
            return model(inputs), targets

    evaluator = Engine(infer)

    @evaluator.on(Events.EPOCH_STARTED)
    def reset(engine):
        engine.state.metrics = {name: [] for name in metrics}

    @evaluator.on(Events.ITERATION_COMPLETED)
    def accumulate(engine):
        preds, targets = engine.state.output
        for name, fn in metrics.items():
            engine.state.metrics[name].append(fn(preds, targets))

    return evaluator


def accuracy(preds, targets):
    return (preds.argmax(1) == targets).float().mean().item()


def main():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train_data = [(torch.randn(16, 10) + 2.0, torch.randint(0, 4, (16,))) for _ in range(4)]
    val_data = [(torch.randn(16, 10), torch.randint(0, 4, (16,))) for _ in range(2)]

    trainer = build_trainer(model, optimizer, nn.CrossEntropyLoss())
    evaluator = build_evaluator(model, {"accuracy": accuracy})
    norm = model[1]
    seen = {"tracked": []}

    @trainer.on(Events.STARTED)
    def announce(engine):
        model.train()

    @trainer.on(Events.EPOCH_COMPLETED)
    def run_validation(engine):
        seen["tracked"].append(int(norm.num_batches_tracked))
        evaluator.run(val_data)
        acc = sum(evaluator.state.metrics["accuracy"]) / len(val_data)
        print(f"epoch {engine.state.epoch} val acc {acc:.3f}")

    trainer.run(train_data, max_epochs=3)
    per_epoch = [b - a for a, b in zip([0] + seen["tracked"], seen["tracked"])]
    steps_per_epoch = len(train_data)
    if all(n == steps_per_epoch for n in per_epoch):
        verdict = "updated"
    elif per_epoch[0] == steps_per_epoch and not any(per_epoch[1:]):
        verdict = "stale"
    else:
        verdict = "partial"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
