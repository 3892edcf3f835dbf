"""Training: a short real run learns MNIST; checkpoints are atomic and resumable to the exact
same weights (after an epoch or mid-epoch, as after Ctrl-C); the CLI works end to end."""

import json
import os
import signal

import numpy as np
import pytest

import gradbox as gb
from gradbox.cli import main
from gradbox.train import Callback, Trainer


def _loaders(mnist_root, n_train=3000, n_test=1000, batch=32, seed=0):
    norm = gb.vision.transforms.Compose(
        [gb.vision.transforms.ToTensor(), gb.vision.transforms.Normalize((0.1307,), (0.3081,))]
    )
    train = gb.utils.data.Subset(gb.vision.datasets.MNIST(mnist_root, train=True, transform=norm), range(n_train))
    test = gb.utils.data.Subset(gb.vision.datasets.MNIST(mnist_root, train=False, transform=norm), range(n_test))
    g = gb.Generator().manual_seed(seed)
    return gb.utils.data.DataLoader(train, batch_size=batch, shuffle=True, generator=g), gb.utils.data.DataLoader(
        test, batch_size=500
    )


def _setup(mnist_root, dropout=0.0):
    gb.manual_seed(0)
    model = gb.vision.models.mlp(hidden=(64,), dropout=dropout)
    opt = gb.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = gb.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    return model, opt, sched


def test_short_training_run_on_an_mnist_subset_learns(mnist_root, tmp_path):
    train, test = _loaders(mnist_root)
    model, opt, sched = _setup(mnist_root)
    hist = gb.train.fit(
        model, train, test, opt, gb.nn.CrossEntropyLoss(), epochs=2, scheduler=sched, out_dir=tmp_path, progress=False
    )
    assert hist[-1]["val_acc"] >= 0.88  # 3,000 images, 2 epochs, a 784-64-10 MLP
    assert hist[0]["lr"] == 0.05 and hist[1]["lr"] == 0.025
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [set(x) for x in lines] == [{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "lr"}] * 2
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors", "curves.png", "metrics.jsonl"]


class StopAfter(gb.train.Callback):
    def __init__(self, n):
        self.n = n

    def on_batch_end(self, trainer, batch, loss):
        if trainer.epoch * len(trainer.train_loader) + batch + 1 == self.n:
            raise KeyboardInterrupt


@pytest.mark.parametrize("stop_at", [94, 150])  # at an epoch boundary and mid-epoch
def test_resume_reaches_the_same_weights_as_an_unbroken_run(mnist_root, tmp_path, stop_at):
    def weights(m):
        return {k: v.numpy().copy() for k, v in m.state_dict().items()}

    train, test = _loaders(mnist_root)
    model, opt, sched = _setup(mnist_root, dropout=0.2)  # dropout: the random stream must resume too
    unbroken = gb.train.fit(
        model, train, test, opt, gb.nn.CrossEntropyLoss(), 2, sched, out_dir=tmp_path / "a", progress=False
    )
    want = weights(model)

    train, test = _loaders(mnist_root)
    model, opt, sched = _setup(mnist_root, dropout=0.2)
    with pytest.raises(KeyboardInterrupt):
        gb.train.fit(
            model,
            train,
            test,
            opt,
            gb.nn.CrossEntropyLoss(),
            2,
            sched,
            callbacks=[StopAfter(stop_at)],
            out_dir=tmp_path / "b",
            progress=False,
        )
    ck = gb.load(tmp_path / "b" / "checkpoint.safetensors")
    assert ck["epoch"] * len(train) + ck["batch"] == stop_at
    gb.manual_seed(123)  # a different process state: everything must come from the checkpoint
    train, test = _loaders(mnist_root, seed=99)
    model, opt, sched = _setup(mnist_root, dropout=0.2)
    resumed = gb.train.fit(
        model, train, test, opt, gb.nn.CrossEntropyLoss(), 2, sched, out_dir=tmp_path / "b", resume=True, progress=False
    )
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, want[k], err_msg=k)
    assert [h["val_acc"] for h in resumed] == [h["val_acc"] for h in unbroken]
    assert [round(h["train_loss"], 12) for h in resumed] == [round(h["train_loss"], 12) for h in unbroken]


def test_checkpoints_are_atomic_and_corruption_is_named(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    gb.save({"w": gb.ones(3)}, path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        gb.save({"w": gb.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]
    (tmp_path / "cut.npz").write_bytes(before[: len(before) // 2])
    with pytest.raises(gb.serialization.CheckpointError, match="cut.npz: corrupt or truncated"):
        gb.load(tmp_path / "cut.npz")
    flipped = bytearray(before)
    i = flipped.index(np.ones(3, np.float32).tobytes())
    flipped[i] ^= 0xFF  # alter a stored value; the zip CRC or our checksum must notice
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    with pytest.raises(gb.serialization.CheckpointError, match="flip.npz"):
        gb.load(tmp_path / "flip.npz")
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    with pytest.raises(gb.serialization.CheckpointError, match="not a gradbox archive"):
        gb.load(tmp_path / "plain.npz")


def test_cli_trains_evaluates_and_predicts_on_fakedata(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "train",
        "lenet5",
        "--dataset",
        "fakedata",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and str(out / "curves.png") in text
    assert main(args) == 2  # refuses to overwrite a run without --resume/--force
    assert "pass --resume" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "lenet5",
                "--dataset",
                "fakedata",
                "--epochs",
                "2",
                "--out",
                str(out),
                "--resume",
                "--no-progress",
            ]
        )
        == 0
    )
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    assert main(["evaluate", str(out / "checkpoint.safetensors")]) == 0
    assert "accuracy" in capsys.readouterr().out
    from PIL import Image

    img = np.full((40, 36), 255, np.uint8)
    img[8:32, 16:20] = 0  # a dark "1" on white
    Image.fromarray(img).save(tmp_path / "one.png")
    assert main(["predict", str(out / "checkpoint.safetensors"), str(tmp_path / "one.png")]) == 0
    assert "predicted" in capsys.readouterr().out


def test_a_run_directory_from_before_safetensors_resumes(tmp_path, capsys):
    """Runs written before the switch hold checkpoint.npz: --resume and evaluate still read it, a
    new run refuses to clobber it, and the resumed run saves checkpoint.safetensors."""
    out = tmp_path / "old"
    argv = ["train", "mlp", "--dataset", "fakedata", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    new = out / "checkpoint.safetensors"
    gb.save(gb.load(new), out / "checkpoint.npz")  # what the old trainer wrote
    new.unlink()
    assert main(argv) == 2 and "checkpoint.npz exists" in capsys.readouterr().err
    assert main(["evaluate", str(out / "checkpoint.npz")]) == 0
    assert main([*argv, "--epochs", "2", "--resume"]) == 0
    assert "resuming from" in capsys.readouterr().out and gb.load(new)["epoch"] == 2
    assert new.read_bytes()[8:9] == b"{"  # a safetensors header, not a zip


def test_cli_bad_input_names_the_problem(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "lenet6"])
    assert "invalid choice: 'lenet6'" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.npz")]) == 1
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    assert main(["evaluate", str(tmp_path / "bad.npz")]) == 1
    assert "bad.npz: corrupt or truncated" in capsys.readouterr().err
    # a checkpoint whose weights belong to another architecture
    assert main(["train", "mlp", "--dataset", "fakedata", "--out", str(tmp_path / "m"), "--no-progress"]) == 0
    ck = gb.load(tmp_path / "m" / "checkpoint.safetensors")
    ck["config"]["model"], ck["config"]["model_kwargs"] = (
        "lenet5",
        {"num_classes": 10, "in_channels": 1, "image_size": 28},
    )
    gb.save(ck, tmp_path / "m" / "swapped.npz")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m" / "swapped.npz")]) == 1
    err = capsys.readouterr().err
    assert "weights do not fit lenet5" in err and 'Missing key(s) in state_dict: "features.0.weight"' in err
    assert main(["train", "lenet5", "--dataset", "digits", "--out", str(tmp_path / "d")]) == 1
    assert "lenet5 needs 28x28" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"

    class CtrlCAtBatch5(Callback):  # a real SIGINT, sent at a known point of the training
        seen = 0

        def on_batch_end(self, trainer, batch, loss):
            CtrlCAtBatch5.seen += 1
            if CtrlCAtBatch5.seen == 5:
                os.kill(os.getpid(), signal.SIGINT)

    init = Trainer.__init__

    def with_ctrl_c(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.callbacks.append(CtrlCAtBatch5())

    monkeypatch.setattr(Trainer, "__init__", with_ctrl_c)
    args = ["train", "mlp", "--dataset", "fakedata", "--epochs", "2000", "--batch-size", "8", "--out", str(out)]
    code = main([*args, "--no-progress"])
    assert code == 130
    assert "interrupted: checkpoint saved" in capsys.readouterr().out
    ck = gb.load(out / "checkpoint.safetensors")
    assert (ck["epoch"], ck["batch"]) == (0, 5)  # stopped between batches, right after the fifth
    # no temporary files left; .lock is the run directory's lock file (kept: see gradbox/train/runlock.py)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".lock"]


TARGETS = [  # the accuracy targets of the training issue: (CLI arguments, minimum test accuracy)
    (["lenet5", "--epochs", "1", "--lr", "0.003", "--scheduler", "onecycle"], 0.985),
    (["lenet5", "--epochs", "10", "--lr", "0.003", "--scheduler", "onecycle"], 0.990),
    # augmented: 20 epochs. 10 straddled the target (seeds 0/1/2: 99.29/99.39/99.31%), and so did 15 once
    # rounding-level changes moved the trajectory (99.34/99.39/99.34%, then 99.29/99.41/99.37%); 20: 99.35/99.45/99.41%
    (["lenet5", "--epochs", "20", "--lr", "0.005", "--scheduler", "onecycle", "--augment"], 0.993),
    (["mlp", "--epochs", "10", "--lr", "0.002", "--scheduler", "onecycle"], 0.980),
]


@pytest.mark.slow
@pytest.mark.parametrize("args,target", TARGETS, ids=["lenet5-1", "lenet5-10", "lenet5-20-augment", "mlp-10"])
def test_mnist_accuracy_targets(args, target, tmp_path, mnist_root):
    out = tmp_path / "run"
    assert main(["train", *args, "--out", str(out), "--data-root", str(mnist_root), "--no-progress"]) == 0
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["val_acc"] >= target
