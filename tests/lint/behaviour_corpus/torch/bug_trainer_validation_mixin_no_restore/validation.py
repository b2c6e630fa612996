"""Validation behaviour shared by the trainers of this repo."""
import torch


class ValidationMixin:
    """Expects self.model, self.val_loader, self.criterion and self.history."""

    @torch.no_grad()
    def validate(self, epoch):
        self.model.eval()
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in self.val_loader:
            logits = self.model(x)
            loss_sum += self.criterion(logits, y).item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        metrics = {"epoch": epoch, "val_loss": loss_sum / seen, "val_acc": correct / seen}
        self.history.append(metrics)
        return metrics
