"""``python -m gradbox``: train, evaluate and predict from the command line."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

import gradbox as gb
from gradbox import cli_inspect, lab
from gradbox.inspect import autograd_demo
from gradbox.vision import transforms
from gradbox.vision.datasets import INFO

OPTIMIZERS = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "nadam": "NAdam",
}
SCHEDULERS = ("none", "cosine", "onecycle", "step")

# --option: the configuration key it sets, for comparing a --resume with its checkpoint
RUN_OPTIONS = {
    "--dataset": "dataset",
    "--batch-size": "batch_size",
    "--optimizer": "optimizer",
    "--lr": "lr",
    "--momentum": "momentum",
    "--weight-decay": "weight_decay",
    "--scheduler": "scheduler",
    "--augment": "augment",
    "--seed": "seed",
    "--data-root": "data_root",
    "--limit-train": "limit_train",
    "--limit-test": "limit_test",
}


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {v}")
        return v

    return parse


def _number(positive: bool):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            raise argparse.ArgumentTypeError(f"must be a finite number {'> 0' if positive else '>= 0'}, got {text}")
        return v

    return parse


def given_options(argv: list[str]) -> set[str]:
    """The --options written on the command line (``--lr 0.1`` and ``--lr=0.1`` alike)."""
    return {a.split("=", 1)[0] for a in argv if a.startswith("--")}


def resume_differences(cfg: dict, args, given: set[str]) -> list[str]:
    """What this command asks for that differs from the checkpoint's run, one line each.
    The data root is compared even when not given: a checkpoint never chooses where gradbox
    reads and writes data."""
    diffs = []
    if args.model != cfg["model"]:
        diffs.append(f"MODEL: the checkpoint trained {cfg['model']}, this command asks for {args.model}")
    for opt, key in RUN_OPTIONS.items():
        mine = getattr(args, key)
        if (opt in given or key == "data_root") and mine != cfg.get(key):
            diffs.append(f"{opt}: the checkpoint used {cfg.get(key)!r}, this command asks for {mine!r}")
    return diffs


def model_kwargs(name: str, dataset: str) -> dict:
    """Builder arguments that fit the model to the dataset's input shape."""
    shape, classes, _ = INFO[dataset]
    if name == "mlp":
        return {"num_classes": classes, "in_features": int(np.prod(shape))}
    if len(shape) != 3:
        raise ValueError(f"model {name!r} needs images; dataset {dataset!r} has inputs of shape {shape} (use mlp)")
    c, h, _ = shape
    if name == "lenet5":
        if h < 28:
            raise ValueError(f"lenet5 needs 28x28 or 32x32 images; dataset {dataset!r} has {h}x{h}")
        return {"num_classes": classes, "in_channels": c, "image_size": h}
    return {"num_classes": classes, "in_channels": c, "small_input": h <= 64}


def build_transform(dataset: str, augment: bool):
    _, _, norm = INFO[dataset]
    steps = []
    if augment:
        if dataset not in ("mnist", "fakedata"):
            raise ValueError(f"--augment is available for 28x28 image datasets (mnist), not {dataset!r}")
        steps.append(transforms.mnist_augment())
    if norm is not None:
        steps.append(transforms.Normalize(*norm))
    return transforms.Compose(steps) if steps else None


def _subset(ds, limit: int | None):
    return ds if not limit or limit >= len(ds) else gb.utils.data.Subset(ds, range(limit))


def _datasets(cfg: dict, train_transform, test_transform):
    kw = {"root": cfg["data_root"]} if cfg["dataset"] != "fakedata" else {"size": cfg.get("fake_size", 512)}
    train = gb.vision.datasets.get_dataset(cfg["dataset"], train=True, transform=train_transform, **kw)
    test = gb.vision.datasets.get_dataset(cfg["dataset"], train=False, transform=test_transform, **kw)
    return _subset(train, cfg.get("limit_train")), _subset(test, cfg.get("limit_test"))


def build_run(cfg: dict):
    """Model, loaders, optimizer and scheduler from a run configuration."""
    gb.manual_seed(cfg["seed"])
    model = gb.vision.models.get_model(cfg["model"], **cfg["model_kwargs"])
    train_ds, test_ds = _datasets(
        cfg, build_transform(cfg["dataset"], cfg["augment"]), build_transform(cfg["dataset"], False)
    )
    shuffle_gen = gb.Generator().manual_seed(cfg["seed"] + 1)
    train_loader = gb.utils.data.DataLoader(train_ds, batch_size=cfg["batch_size"], shuffle=True, generator=shuffle_gen)
    test_loader = gb.utils.data.DataLoader(test_ds, batch_size=1000)
    opt_cls = getattr(gb.optim, OPTIMIZERS[cfg["optimizer"]])
    kw = {"lr": cfg["lr"], "weight_decay": cfg["weight_decay"]}
    if cfg["optimizer"] in ("sgd", "rmsprop"):
        kw["momentum"] = cfg["momentum"]
    optimizer = opt_cls(model.parameters(), **kw)
    steps = cfg["epochs"] * len(train_loader)
    sched, interval = None, "epoch"
    if cfg["scheduler"] == "cosine":
        sched, interval = gb.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps), "step"
    elif cfg["scheduler"] == "onecycle":
        sched, interval = gb.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg["lr"], total_steps=steps), "step"
    elif cfg["scheduler"] == "step":
        sched = gb.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, cfg["epochs"] // 3), gamma=0.1)
    return model, train_loader, test_loader, optimizer, sched, interval


def cmd_train(args) -> int:
    out = Path(args.out or f"runs/{args.model}-{args.dataset}")
    with gb.train.RunLock(out):  # one training per run directory; also finds an unwritable --out now
        return _train_locked(args, out)


def _train_locked(args, out: Path) -> int:
    ck_path = out / gb.train.CHECKPOINT_NAME  # where this run saves
    found = gb.train.existing_checkpoint(out)  # a checkpoint.npz of an older run counts too
    if args.resume:
        if found is None:
            print(f"error: --resume: no checkpoint at {ck_path}", file=sys.stderr)
            return 2
        cfg = dict(gb.load(found)["config"])
        diffs = resume_differences(cfg, args, args.given)
        if diffs:
            print(
                "error: --resume continues a run with its own settings; this command differs:\n  "
                + "\n  ".join(diffs)
                + "\n(--epochs may change; start a new run with --force or another --out to change the rest)",
                file=sys.stderr,
            )
            return 2
        cfg["epochs"] = args.epochs if args.epochs_given else cfg["epochs"]
    else:
        if found is not None and not args.force:
            print(
                f"error: {found} exists; pass --resume to continue that run or --force to start over", file=sys.stderr
            )
            return 2
        cfg = {
            "model": args.model, "dataset": args.dataset, "epochs": args.epochs, "batch_size": args.batch_size,
            "optimizer": args.optimizer, "lr": args.lr, "momentum": args.momentum, "weight_decay": args.weight_decay,
            "scheduler": args.scheduler, "augment": args.augment, "seed": args.seed, "data_root": args.data_root,
            "limit_train": args.limit_train, "limit_test": args.limit_test,
            "model_kwargs": model_kwargs(args.model, args.dataset), "normalize": INFO[args.dataset][2],
            "val_name": "test",
        }  # fmt: skip
    model, train_loader, test_loader, optimizer, sched, interval = build_run(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{cfg['model']} ({n_params:,} parameters) on {cfg['dataset']}: {len(train_loader.dataset):,} training / {len(test_loader.dataset):,} test samples, {cfg['optimizer']} lr={cfg['lr']}, batch {cfg['batch_size']}"
    )
    trainer = gb.train.Trainer(
        model,
        optimizer,
        gb.nn.CrossEntropyLoss(),
        train_loader,
        test_loader,
        sched,
        interval,
        out,
        cfg,
        progress=not args.no_progress,
    )
    if args.resume:
        trainer.load_checkpoint(found)
        print(f"resuming from {found}: epoch {trainer.epoch + 1}, batch {trainer.batch}")
    try:
        history = trainer.fit(cfg["epochs"])
    except gb.train.TrainingInterrupted as e:
        if e.saved:
            print(
                f"\ninterrupted: checkpoint saved to {ck_path} (epoch {trainer.epoch + 1}, batch {trainer.batch}; "
                f"{e.signame}); continue with --resume"
            )
        else:
            print(f"\ninterrupted ({e.signame}): no new checkpoint was saved; {ck_path} holds the last one, if any")
        return 143 if e.signame == "SIGTERM" else 130
    last = history[-1]
    print(
        f"epoch {last['epoch']}: train loss {last['train_loss']:.4f}, train accuracy {100 * last['train_acc']:.2f}%, test loss {last['val_loss']:.4f}, test accuracy {100 * last['val_acc']:.2f}% ({last['seconds']:.1f} s for the epoch)"
    )
    print(f"plot:       {out / 'curves.png'}\ncheckpoint: {ck_path}\nmetrics:    {out / 'metrics.jsonl'}")
    return 0


def _load_run(checkpoint: str):
    ck = gb.load(checkpoint)
    if ck.get("format") != "gradbox-checkpoint/1":
        raise ValueError(f"{checkpoint}: not a gradbox training checkpoint")
    cfg = dict(ck["config"])
    model = gb.vision.models.get_model(cfg["model"], **cfg["model_kwargs"])
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as e:
        raise RuntimeError(f"{checkpoint}: weights do not fit {cfg['model']}:\n{e}") from None
    model.eval()
    return cfg, model


def cmd_evaluate(args) -> int:
    cfg, model = _load_run(args.checkpoint)
    cfg["data_root"] = args.data_root  # never the checkpoint's own: a loaded file does not choose where we write
    _, test = _datasets({**cfg, "limit_train": 1}, None, build_transform(cfg["dataset"], False))
    loader = gb.utils.data.DataLoader(test, batch_size=1000)
    trainer = gb.train.Trainer(
        model, gb.optim.SGD(model.parameters(), lr=0.0), gb.nn.CrossEntropyLoss(), loader, progress=False
    )
    loss, acc = trainer.evaluate(loader)
    print(
        f"{cfg['model']} on {cfg['dataset']} test set ({len(test):,} samples): loss {loss:.4f}, accuracy {100 * acc:.2f}% (error {100 * (1 - acc):.2f}%)"
    )
    return 0


MAX_IMAGE_PIXELS = 50_000_000
BLANK_CONTRAST = 0.05  # max - min brightness below which an image holds no ink


class BlankImageError(ValueError):
    """The image holds no digit: predicting a class for it would mean nothing."""


def load_digit_image(path: str, size: int = 28) -> np.ndarray:
    """A grayscale image file as an MNIST-like (size, size) array in [0, 1]: white digit on black,
    cropped to the ink, scaled to fit 20x20 and centred, as MNIST was prepared."""
    from PIL import Image  # deferred: only predict reads images

    try:
        im = Image.open(path)  # reads the header only: the size is checked before decoding
    except Image.DecompressionBombError as e:
        raise ValueError(
            f"{path}: {e}; predict takes digit images of at most {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels"
        ) from None
    with im:
        w, h = im.size
        if w * h > MAX_IMAGE_PIXELS:
            raise ValueError(
                f"{path}: the image is {w}x{h} pixels ({w * h / 1e6:.0f} megapixels); predict takes digit images of "
                f"at most {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels"
            )
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            # transparent pixels are background: composite onto white before reading the ink
            rgba = im.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            im = Image.alpha_composite(white, rgba)
        img = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    if img.ndim != 2 or min(img.shape) < 8:
        raise ValueError(f"{path}: expected a grayscale image of at least 8x8 pixels, got shape {img.shape}")
    if float(img.max() - img.min()) < BLANK_CONTRAST:
        raise BlankImageError(
            f"{path}: the image is blank (one uniform shade, {img.min():.2f}-{img.max():.2f}): there is no digit "
            "to classify"
        )
    if np.median(img) > 0.5:  # dark ink on a light background
        img = 1.0 - img
    ink = img > 0.2 * img.max() if img.max() > 0 else np.ones_like(img, dtype=bool)
    rows, cols = np.where(ink.any(1))[0], np.where(ink.any(0))[0]
    img = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    inner = round(size * 20 / 28)
    scale = inner / max(img.shape)
    h, w = max(1, round(img.shape[0] * scale)), max(1, round(img.shape[1] * scale))
    small = (
        np.asarray(Image.fromarray((img * 255).astype(np.uint8)).resize((w, h), Image.LANCZOS), dtype=np.float32)
        / 255.0
    )
    out = np.zeros((size, size), dtype=np.float32)
    top, left = (size - h) // 2, (size - w) // 2
    out[top : top + h, left : left + w] = small
    return out


def _predict_input(cfg: dict, image: str):
    """The image prepared as the model's input (like its training data), or None after a message."""
    shape = INFO[cfg["dataset"]][0]
    if len(shape) != 3 or shape[1] < 28:
        print(
            f"error: predict works for models trained on 28x28 images; this one used {cfg['dataset']} {shape}",
            file=sys.stderr,
        )
        return None
    x = load_digit_image(image, shape[1])[None, None]
    t = build_transform(cfg["dataset"], False)
    xt = gb.tensor(x)
    return t(xt) if t is not None else xt


def _print_prediction(image: str, p: np.ndarray, engine: str = "") -> None:
    best = int(p.argmax())
    print(f"{image}: predicted {best} (probability {p[best]:.3f}){engine}")
    print("  " + "  ".join(f"{k}:{v:.3f}" for k, v in enumerate(p)))


def cmd_predict(args) -> int:
    if Path(args.checkpoint).suffix.lower() == ".onnx":
        return cmd_predict_onnx(args)
    cfg, model = _load_run(args.checkpoint)
    xt = _predict_input(cfg, args.image)
    if xt is None:
        return 2
    with gb.no_grad():
        p = gb.softmax(model(xt), 1).numpy()[0]
    _print_prediction(args.image, p)
    return 0


ONNX_CONFIG_KEY = "gradbox.config"  # the run configuration `export --onnx` stores in the model's metadata


def cmd_predict_onnx(args) -> int:
    """Run an .onnx file written by ``export`` through ONNX Runtime (the same preprocessing)."""
    try:
        meta = gb.onnx.metadata(args.checkpoint)
        if ONNX_CONFIG_KEY not in meta:
            raise ValueError(
                f"{args.checkpoint}: no {ONNX_CONFIG_KEY} metadata (write it with: python -m gradbox export)"
            )
        cfg = json.loads(meta[ONNX_CONFIG_KEY])
        xt = _predict_input(cfg, args.image)
        if xt is None:
            return 2
        z = gb.onnx.run(args.checkpoint, xt)[0][0].astype(np.float64)
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    p = np.exp(z - z.max())
    _print_prediction(args.image, p / p.sum(), " (ONNX Runtime)")
    return 0


def cmd_export(args) -> int:
    """Write a training checkpoint's model as a safetensors state_dict and/or an ONNX graph."""
    if not args.safetensors and not args.onnx:
        print("error: export: give --safetensors PATH and/or --onnx PATH", file=sys.stderr)
        return 2
    cfg, model = _load_run(args.checkpoint)
    if args.safetensors:
        sd = model.state_dict()
        gb.save(sd, args.safetensors)
        print(f"weights:    {args.safetensors} ({len(sd)} tensors, safetensors: safetensors.torch.load_file reads it)")
    if args.onnx:
        keep = ("model", "dataset", "model_kwargs", "normalize")
        meta = {ONNX_CONFIG_KEY: json.dumps({k: cfg[k] for k in keep if k in cfg})}
        x = gb.zeros(1, *INFO[cfg["dataset"]][0])
        try:
            gb.onnx.export(
                model, x, args.onnx, input_names=["input"], output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=args.opset,
                metadata=meta,
            )  # fmt: skip
        except ImportError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(
            f"ONNX graph: {args.onnx} (opset {args.opset}, dynamic batch; run it: python -m gradbox predict {args.onnx} IMAGE)"
        )
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gradbox",
        description="gradbox: train, evaluate and inspect networks whose gradients are written out and checked.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    models, datasets = gb.vision.models.list_models(), sorted(gb.vision.datasets.DATASETS)
    t = sub.add_parser(
        "train",
        help="train a model; writes metrics.jsonl, curves.png and checkpoint.safetensors",
        description="Train MODEL on a dataset with a progress bar, evaluating on the test split after every epoch. Ctrl-C saves a checkpoint and exits; --resume continues it exactly.",
    )
    t.add_argument("model", choices=models, metavar="MODEL", help=f"architecture, one of: {', '.join(models)}")
    t.add_argument(
        "--dataset",
        default="mnist",
        choices=datasets,
        help="data to train on (default: mnist, 60,000 train / 10,000 test images)",
    )
    t.add_argument(
        "--epochs", type=_int_at_least(1), default=None, help="number of passes over the training set (default: 1)"
    )
    t.add_argument("--batch-size", type=_int_at_least(1), default=64, help="samples per optimizer step (default: 64)")
    t.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS), help="update rule (default: adam)")
    t.add_argument("--lr", type=_number(positive=True), default=1e-3, help="learning rate (default: 1e-3)")
    t.add_argument(
        "--momentum", type=_number(positive=False), default=0.9, help="momentum for sgd and rmsprop (default: 0.9)"
    )
    t.add_argument(
        "--weight-decay",
        type=_number(positive=False),
        default=0.0,
        help="weight decay (L2 for sgd/adam, decoupled for adamw; default: 0)",
    )
    t.add_argument(
        "--scheduler",
        default="none",
        choices=SCHEDULERS,
        help="learning-rate schedule: cosine/onecycle per step, step (x0.1 every third of the epochs) per epoch (default: none)",
    )
    t.add_argument(
        "--augment",
        action="store_true",
        help="random 2-pixel shifts, +-10 degree rotations and +-10%% scaling of the training images",
    )
    t.add_argument(
        "--out", default=None, help="run directory for checkpoint, metrics and plot (default: runs/MODEL-DATASET)"
    )
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint (same settings; --epochs may raise the total)",
    )
    t.add_argument("--force", action="store_true", help="start over even if --out already holds a checkpoint")
    t.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        help="seed for initialisation, shuffling, dropout and augmentation (default: 0)",
    )
    t.add_argument("--data-root", default="data", help="where datasets are stored and cached (default: ./data)")
    t.add_argument(
        "--limit-train",
        type=_int_at_least(1),
        default=None,
        help="use only the first N training samples (quick experiments)",
    )
    t.add_argument("--limit-test", type=_int_at_least(1), default=None, help="use only the first N test samples")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in logs)")
    e = sub.add_parser(
        "evaluate",
        help="test-set loss and accuracy of a checkpoint",
        description="Rebuild the model a checkpoint was trained as, load its weights, and report test loss and accuracy.",
    )
    e.add_argument(
        "checkpoint",
        metavar="CHECKPOINT",
        help="a checkpoint.safetensors written by train (or an older checkpoint.npz)",
    )
    e.add_argument("--data-root", default="data", help="where datasets are stored and cached (default: ./data)")
    p = sub.add_parser(
        "predict",
        help="classify an image file with a checkpoint",
        description="Classify a digit image (PNG/JPEG, any size >= 8x8, grayscale or colour; dark-on-light is inverted) with a model trained on 28x28 digits.",
    )
    p.add_argument(
        "checkpoint",
        metavar="CHECKPOINT",
        help="a checkpoint.safetensors written by train, or a .onnx file written by export",
    )
    p.add_argument("image", metavar="IMAGE", help="image file, resized and centred like MNIST")
    x = sub.add_parser(
        "export",
        help="write a checkpoint's model as safetensors weights and/or an ONNX graph",
        description="Hand a trained model to other engines: --safetensors writes its state_dict (PyTorch's "
        "names; safetensors.torch.load_file and torch's load_state_dict accept it), --onnx its graph with a dynamic "
        "batch axis for ONNX Runtime (needs pip install gradbox[interop]).",
    )
    x.add_argument(
        "checkpoint",
        metavar="CHECKPOINT",
        help="a checkpoint.safetensors written by train (or an older checkpoint.npz)",
    )
    x.add_argument(
        "--safetensors", metavar="PATH", default=None, help="write the weights here (e.g. model.safetensors)"
    )
    x.add_argument("--onnx", metavar="PATH", default=None, help="write the ONNX graph here (e.g. model.onnx)")
    x.add_argument("--opset", type=int, default=17, help="ONNX opset version (default: 17)")
    cli_inspect.add_parsers(sub)
    sub.add_parser("demo", help="a worked backward pass on f = (x*y)*z, printing each node's value and gradient")
    sub.add_parser("models", help="list the model names")
    lab.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = make_parser().parse_args(argv)
    try:
        if args.command == "train":
            args.epochs_given = args.epochs is not None
            args.epochs = 1 if args.epochs is None else args.epochs
            args.given = given_options(argv)
            return cmd_train(args)
        if args.command == "evaluate":
            return cmd_evaluate(args)
        if args.command == "predict":
            return cmd_predict(args)
        if args.command == "export":
            return cmd_export(args)
        if args.command in cli_inspect.COMMANDS:
            return cli_inspect.COMMANDS[args.command](args, _load_run)
        if args.command == "lab":
            return lab.command(args)
        if args.command == "models":
            print("\n".join(gb.vision.models.list_models()))
            return 0
        autograd_demo()
        return 0
    except gb.train.TrainingDivergedError as e:
        print(f"error: {e}; the last finite checkpoint is kept", file=sys.stderr)
        return 3
    except (ValueError, RuntimeError, FileNotFoundError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
