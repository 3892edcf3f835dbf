"""What the three steps of the example share: the run's configuration, the model in either
framework, and the data as arrays (the same samples and preprocessing as ``python -m gradbox train``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import gradbox as gb
from gradbox.cli import build_transform
from gradbox.vision.datasets import INFO


def load_config(run: str | Path) -> dict:
    return json.loads((Path(run) / "config.json").read_text())


def save_config(run: str | Path, cfg: dict) -> None:
    Path(run).mkdir(parents=True, exist_ok=True)
    (Path(run) / "config.json").write_text(json.dumps(cfg, indent=2))


def model_kwargs(cfg: dict) -> dict:
    c, h, _ = INFO[cfg["dataset"]][0]
    if cfg["model"] == "smallnet":
        return {"num_classes": 10, "in_channels": c}
    if cfg["model"] == "mlp":
        return {"num_classes": 10, "in_features": c * h * h}
    return {"num_classes": 10, "in_channels": c, **({"image_size": h} if cfg["model"] == "lenet5" else {"small_input": True})}


def gradbox_model(cfg: dict) -> gb.nn.Module:
    if cfg["model"] == "smallnet":  # written once in PyTorch style (net.py), built under gradbox
        from net import make_net  # (the example's own module, beside this file)

        return make_net(gb)(**model_kwargs(cfg))
    return gb.vision.models.get_model(cfg["model"], **model_kwargs(cfg))


def torch_model(cfg: dict):
    """The same architecture in PyTorch (its weights are loaded from a safetensors file after)."""
    import torch  # (the example's PyTorch steps need it; prototype.py and evaluate.py run without)

    if cfg["model"] == "smallnet":
        from net import make_net

        return make_net(torch)(**model_kwargs(cfg))
    return gb.interop.torch_model(cfg["model"], **model_kwargs(cfg))


def dataset(cfg: dict, train: bool):
    kw = {"size": cfg.get("fake_size", 512)} if cfg["dataset"] == "fakedata" else {"root": cfg["data_root"]}
    return gb.vision.datasets.get_dataset(cfg["dataset"], train=train, transform=build_transform(cfg["dataset"], False), **kw)


def arrays(cfg: dict, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """All samples (preprocessed) and labels of a split."""
    xs, ys = [], []
    for x, y in gb.utils.data.DataLoader(dataset(cfg, train), batch_size=4096):
        xs.append(x.numpy()), ys.append(y.numpy())
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)
