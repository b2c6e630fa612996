"""Course-notebook layout: an ImageClassificationBase with training_step/validation_step, an
@torch.no_grad() evaluate() that calls model.eval(), `history = [evaluate(model, val_dl)]` to log the
untrained accuracy, then fit() loops over epochs and puts the model in train mode at each epoch start."""
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH_SIZE = 16
EPOCHS = 3
LR = 1e-2


def accuracy(outputs, labels):
    _, preds = torch.max(outputs, dim=1)
    return torch.tensor(torch.sum(preds == labels).item() / len(preds))


class ImageClassificationBase(nn.Module):
    def training_step(self, batch):
        images, labels = batch
        out = self(images)
        return F.cross_entropy(out, labels)

    def validation_step(self, batch):
        images, labels = batch
        out = self(images)
        loss = F.cross_entropy(out, labels)
        acc = accuracy(out, labels)
        return {"val_loss": loss.detach(), "val_acc": acc}

    def validation_epoch_end(self, outputs):
        batch_losses = [x["val_loss"] for x in outputs]
        batch_accs = [x["val_acc"] for x in outputs]
        return {"val_loss": torch.stack(batch_losses).mean().item(),
                "val_acc": torch.stack(batch_accs).mean().item()}

    def epoch_end(self, epoch, result):
        print("Epoch [{}], val_loss: {:.4f}, val_acc: {:.4f}".format(epoch, result["val_loss"], result["val_acc"]))


class TinyCnnModel(ImageClassificationBase):
    def __init__(self):
        super().__init__()
        self.network = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 4))

    def forward(self, xb):
        return self.network(xb)


@torch.no_grad()
def evaluate(model, val_loader):
    model.eval()
    outputs = [model.validation_step(batch) for batch in val_loader]
    return model.validation_epoch_end(outputs)


def fit(epochs, lr, model, train_loader, val_loader, opt_func=torch.optim.SGD):
    history = []
    optimizer = opt_func(model.parameters(), lr)
    for epoch in range(epochs):
        model.train()
        train_losses = []
        for batch in train_loader:
            loss = model.training_step(batch)
            train_losses.append(loss)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        result = evaluate(model, val_loader)
        result["train_loss"] = torch.stack(train_losses).mean().item()
        model.epoch_end(epoch, result)
        history.append(result)
    return history


def make_loader(n_batches, shift, gen):
    return [(torch.randn(BATCH_SIZE, 3, 8, 8, generator=gen) + shift,
             torch.randint(0, 4, (BATCH_SIZE,), generator=gen)) for _ in range(n_batches)]


if __name__ == "__main__":
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    train_dl = make_loader(4, 2.0, gen)
    val_dl = make_loader(2, 2.0, gen)
    model = TinyCnnModel()
    bn = model.network[1]
    history = [evaluate(model, val_dl)]
    tracked_before = int(bn.num_batches_tracked)
    mean_before = bn.running_mean.clone()
    history += fit(EPOCHS, LR, model, train_dl, val_dl)
    steps = EPOCHS * len(train_dl)
    tracked = int(bn.num_batches_tracked) - tracked_before
    moved = not torch.allclose(mean_before, bn.running_mean)
    if tracked == steps and moved:
        verdict = "updated"
    elif tracked == 0 and not moved:
        verdict = "frozen"
    else:
        verdict = "partly-updated"
    print("BN-GROUND-TRUTH:", verdict)
