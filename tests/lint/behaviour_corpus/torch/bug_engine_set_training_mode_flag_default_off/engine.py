"""Train / eval loops (DeiT-style engine)."""
import torch


def train_one_epoch(model, criterion, data_loader, optimizer, epoch, set_training_mode=True, log_every=10):
    model.train(set_training_mode)
    running = 0.0
    for step, (samples, targets) in enumerate(data_loader):
        outputs = model(samples)
        loss = criterion(outputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss.item()
        if step % log_every == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}")
    return {"loss": running / max(1, len(data_loader))}


@torch.no_grad()
def evaluate(data_loader, model, criterion):
    model.eval()
    correct, total, loss = 0, 0, 0.0
    for samples, targets in data_loader:
        out = model(samples)
        loss += criterion(out, targets).item()
        correct += (out.argmax(1) == targets).sum().item()
        total += targets.numel()
    return {"loss": loss / len(data_loader), "acc1": 100.0 * correct / total}
