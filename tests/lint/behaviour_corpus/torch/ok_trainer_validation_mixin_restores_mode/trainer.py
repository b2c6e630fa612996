import torch
from torch import nn

from validation import ValidationMixin


class Trainer(ValidationMixin):
    def __init__(self, model, train_loader, val_loader, args):
        self.model = model
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.args = args
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        self.history = []
        self.on_epoch_end = []

    def training_step(self, batch):
        x, y = batch
        loss = self.criterion(self.model(x), y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def fit(self):
        self.model.train()
        for epoch in range(self.args.epochs):
            losses = [self.training_step(batch) for batch in self.train_loader]
            if (epoch + 1) % self.args.val_every == 0:
                metrics = self.validate(epoch)
                print(f"epoch {epoch} train {sum(losses) / len(losses):.3f} val {metrics['val_loss']:.3f}")
            for callback in self.on_epoch_end:
                callback(self, epoch)
        return self.history
