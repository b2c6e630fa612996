"""Hand-written HuggingFace-style Trainer: evaluate() switches to eval() and "restores" the run's mode
with self.model.train(self.args.do_train). TrainingArguments.do_train defaults to False (as in
transformers, where only example scripts read it) and main() does not set it, so after the first
evaluation every remaining optimizer step runs with BatchNorm in eval mode."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class TrainingArguments:
    output_dir: str
    num_train_epochs: int = 3
    learning_rate: float = 5e-2
    per_device_train_batch_size: int = 8
    eval_steps: int = 4
    logging_steps: int = 2
    do_train: bool = False
    do_eval: bool = True
    seed: int = 42


class AudioClassifier(nn.Module):
    def __init__(self, n_mels=8, classes=3):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv1d(n_mels, 16, 3, padding=1), nn.BatchNorm1d(16), nn.GELU(),
                                     nn.Conv1d(16, 16, 3, padding=1), nn.BatchNorm1d(16), nn.GELU())
        self.classifier = nn.Linear(16, classes)

    def forward(self, input_values, labels=None):
        logits = self.classifier(self.encoder(input_values).mean(-1))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


class Trainer:
    def __init__(self, model, args, train_dataset, eval_dataset=None):
        self.model = model
        self.args = args
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.optimizer = None
        self.state = {"global_step": 0, "log_history": []}

    def get_train_dataloader(self):
        bs = self.args.per_device_train_batch_size
        x, y = self.train_dataset
        order = torch.randperm(len(x))
        return [(x[order[i:i + bs]], y[order[i:i + bs]]) for i in range(0, len(x), bs)]

    def create_optimizer(self):
        if self.optimizer is None:
            self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.args.learning_rate)
        return self.optimizer

    def training_step(self, inputs, labels):
        outputs = self.model(inputs, labels=labels)
        outputs["loss"].backward()
        return outputs["loss"].detach()

    def evaluate(self):
        self.model.eval()
        x, y = self.eval_dataset
        with torch.no_grad():
            outputs = self.model(x, labels=y)
        metrics = {"eval_loss": outputs["loss"].item(),
                   "eval_accuracy": (outputs["logits"].argmax(-1) == y).float().mean().item()}
        self.state["log_history"].append(metrics)
        self.model.train(self.args.do_train)
        return metrics

    def train(self):
        torch.manual_seed(self.args.seed)
        optimizer = self.create_optimizer()
        self.model.train()
        for epoch in range(self.args.num_train_epochs):
            for inputs, labels in self.get_train_dataloader():
                loss = self.training_step(inputs, labels)
                optimizer.step()
                optimizer.zero_grad()
                self.state["global_step"] += 1
                step = self.state["global_step"]
                if step % self.args.logging_steps == 0:
                    self.state["log_history"].append({"loss": loss.item(), "step": step, "epoch": epoch})
                if self.args.do_eval and step % self.args.eval_steps == 0:
                    self.evaluate()
        return self.state


def main():
    torch.manual_seed(0)
    train_dataset = (torch.randn(32, 8, 12) + 1.0, torch.randint(0, 3, (32,)))
    eval_dataset = (torch.randn(16, 8, 12) + 1.0, torch.randint(0, 3, (16,)))
    model = AudioClassifier()
    args = TrainingArguments(output_dir="/tmp/audio-clf", eval_steps=4)
    trainer = Trainer(model, args, train_dataset, eval_dataset)
    state = trainer.train()
    tracked = int(model.encoder[1].num_batches_tracked)
    steps = state["global_step"]
    if tracked == steps:
        behaviour = "updated"
    elif 0 < tracked < steps:
        behaviour = "stale"
    else:
        behaviour = "other"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
