"""``gb.utils.data``: datasets, samplers and the DataLoader, with PyTorch's names."""

from gradbox.utils.data.dataloader import BatchSampler, DataLoader, RandomSampler, SequentialSampler, default_collate
from gradbox.utils.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "RandomSampler",
    "SequentialSampler",
    "Subset",
    "TensorDataset",
    "default_collate",
    "random_split",
]
