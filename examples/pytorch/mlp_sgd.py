"""A multilayer perceptron trained with SGD and momentum, written for PyTorch; run it with
gradbox by changing only the import lines."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class MLP(nn.Module):
    def __init__(self, in_features=64, hidden=128, classes=10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.layers(self.flatten(x))


def train_loop(dataloader, model, loss_fn, optimizer, max_batches=None):
    model.train()
    losses = []
    for batch, (X, y) in enumerate(dataloader):
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        if max_batches and batch + 1 >= max_batches:
            break
    return losses


def test_loop(dataloader, model, loss_fn):
    model.eval()
    size, num_batches = len(dataloader.dataset), len(dataloader)
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return test_loss, correct


def loaders(x_train, y_train, x_test, y_test, batch_size=32, shuffle=True):
    train = DataLoader(TensorDataset(torch.tensor(x_train), torch.tensor(y_train)), batch_size=batch_size, shuffle=shuffle)
    test = DataLoader(TensorDataset(torch.tensor(x_test), torch.tensor(y_test)), batch_size=256)
    return train, test


def make_optimizer(model, lr=0.05):
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def main(data, epochs=5):
    torch.manual_seed(0)
    model = MLP()
    train, test = loaders(*data)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = make_optimizer(model)
    for t in range(epochs):
        print(f"Epoch {t + 1}\n-------------------------------")
        train_loop(train, model, loss_fn, optimizer)
    return test_loop(test, model, loss_fn)
