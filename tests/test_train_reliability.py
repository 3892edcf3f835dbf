"""No lost or clobbered run: options validated up front, --resume refuses other settings,
divergence stops cleanly, one training per run directory, signals checkpoint consistently,
and files never choose where gradbox writes (one test per defect of the reliability issue)."""

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

import gradbox as gb
from gradbox.cli import main
from gradbox.train import Callback, RunDirectoryBusyError, RunLock, Trainer, TrainingDivergedError

QUICK = ["train", "mlp", "--dataset", "fakedata", "--epochs", "1", "--batch-size", "64", "--no-progress"]


@pytest.mark.parametrize(
    "option,value",
    [
        ("--epochs", "0"),
        ("--epochs", "-3"),
        ("--batch-size", "0"),
        ("--limit-train", "0"),
        ("--limit-train", "-5"),
        ("--limit-test", "-1"),
        ("--seed", "-1"),
        ("--lr", "0"),
        ("--lr", "nan"),
        ("--lr", "inf"),
        ("--momentum", "-0.1"),
        ("--weight-decay", "-1"),
    ],
)
def test_every_numeric_option_is_validated_up_front_naming_it(option, value, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main([*QUICK, "--out", str(tmp_path / "r"), option, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and value in err
    assert not (tmp_path / "r").exists()  # nothing was started


def test_resume_with_other_settings_is_refused_listing_each_difference(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert main([*QUICK, "--out", out, "--limit-train", "128"]) == 0
    capsys.readouterr()
    code = main([*QUICK, "--out", out, "--resume", "--lr", "0.5", "--batch-size", "32", "--limit-train", "64"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--lr: the checkpoint used 0.001, this command asks for 0.5" in err
    assert "--batch-size: the checkpoint used 64, this command asks for 32" in err
    assert "--limit-train: the checkpoint used 128, this command asks for 64" in err
    assert "--epochs may change" in err
    assert main(["train", "lenet5", "--dataset", "fakedata", "--out", out, "--resume", "--no-progress"]) == 2
    assert "MODEL: the checkpoint trained mlp, this command asks for lenet5" in capsys.readouterr().err
    # what may change is accepted: more epochs
    assert main([*QUICK[:4], "--epochs", "2", "--no-progress", "--out", out, "--resume"]) == 0
    assert len((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()) == 2


def _run(tmp_path, epochs=1, callbacks=()):
    gb.manual_seed(0)
    model = gb.nn.Sequential(gb.nn.Flatten(), gb.nn.Linear(16, 4))
    data = gb.utils.data.TensorDataset(gb.randn(64, 1, 4, 4), gb.randint(0, 4, (64,)))
    loader = gb.utils.data.DataLoader(data, batch_size=16, shuffle=True)
    opt = gb.optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, opt, gb.nn.CrossEntropyLoss(), loader, loader, out_dir=tmp_path, callbacks=callbacks, progress=False)
    trainer.fit(epochs)
    return trainer


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value encountered:RuntimeWarning")
def test_divergence_stops_with_a_clear_error_and_keeps_the_last_finite_checkpoint(tmp_path):
    trainer = _run(tmp_path)
    before = gb.load(tmp_path / "checkpoint.safetensors")
    trainer.optimizer.param_groups[0]["lr"] = 3e38  # the next steps overflow float32
    with pytest.raises(TrainingDivergedError, match="training diverged"):
        trainer.fit(10)
    after = gb.load(tmp_path / "checkpoint.safetensors")
    assert after["epoch"] == before["epoch"] == 1
    for k, v in after["model"].items():
        assert np.isfinite(v.numpy()).all() and np.array_equal(v.numpy(), before["model"][k].numpy())
    for line in (tmp_path / "metrics.jsonl").read_text().splitlines():
        json.loads(line)  # valid JSON: no bare NaN


def test_divergence_on_the_last_step_of_an_epoch_is_caught_before_saving(tmp_path):
    class Overflow(Callback):  # the last update of epoch 2 leaves infinite weights (loss was finite)
        def on_batch_end(self, trainer, batch, loss):
            if trainer.epoch == 1 and batch == 3:
                trainer.model[1].weight._data[0, 0] = np.inf

    with pytest.raises(TrainingDivergedError, match="weights became infinite or NaN during epoch 2"):
        _run(tmp_path, epochs=2, callbacks=[Overflow()])
    assert gb.load(tmp_path / "checkpoint.safetensors")["epoch"] == 1
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value encountered:RuntimeWarning")
def test_the_cli_exits_non_zero_on_divergence_without_a_traceback(tmp_path, capsys):
    code = main([*QUICK, "--optimizer", "sgd", "--lr", "1e30", "--momentum", "0", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 3 and "training diverged" in err and "Traceback" not in err


def test_metrics_jsonl_writes_null_for_non_finite_numbers(tmp_path):
    from gradbox.train.trainer import _finite_or_none

    assert json.dumps({k: _finite_or_none(v) for k, v in {"a": float("nan"), "b": 1.5, "c": float("inf")}.items()}) == (
        '{"a": null, "b": 1.5, "c": null}'
    )


def test_a_second_training_into_a_busy_run_directory_is_refused_naming_the_other_process(tmp_path, capsys):
    out = tmp_path / "r"
    with RunLock(out):
        assert main([*QUICK, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{out} is in use by a training run (pid {os.getpid()})" in err
    assert not (out / "checkpoint.safetensors").exists()
    assert main([*QUICK, "--out", str(out)]) == 0  # free again


def test_the_lock_dies_with_its_process_even_on_kill_9(tmp_path):
    code = f"from gradbox.train import RunLock; import time; lock = RunLock({str(tmp_path / 'r')!r}).acquire(); print('locked', flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirectoryBusyError, match=f"pid {child.pid}"):
            RunLock(tmp_path / "r").acquire()
    finally:
        child.kill()
        child.wait()
    RunLock(tmp_path / "r").acquire().release()


def test_an_unwritable_out_is_found_before_any_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main([*QUICK, "--out", str(blocker / "run")]) == 1
    assert "cannot write to the run directory" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sigterm_checkpoints_like_ctrl_c(tmp_path, capsys, monkeypatch):
    _signal_after(monkeypatch, [signal.SIGTERM], after_batches=3)
    out = tmp_path / "r"
    assert main([*QUICK[:4], "--epochs", "50", "--batch-size", "8", "--no-progress", "--out", str(out)]) == 143
    assert "interrupted: checkpoint saved" in capsys.readouterr().out
    assert (gb.load(out / "checkpoint.safetensors")["epoch"], gb.load(out / "checkpoint.safetensors")["batch"]) == (0, 3)


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_a_second_ctrl_c_right_after_the_optimizer_step_keeps_counter_and_weights_in_step(tmp_path, capsys, monkeypatch):
    """Two SIGINTs land between optimizer.step() and the batch counter's update: the checkpoint
    still records exactly the steps its weights have taken."""
    steps = []
    real_step = gb.optim.Adam.step

    def step(self, *a, **k):
        r = real_step(self, *a, **k)
        steps.append(1)
        if len(steps) == 4:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return r

    monkeypatch.setattr(gb.optim.Adam, "step", step)
    out = tmp_path / "r"
    assert main([*QUICK[:4], "--epochs", "50", "--batch-size", "8", "--no-progress", "--out", str(out)]) == 130
    assert "interrupted: checkpoint saved" in capsys.readouterr().out
    assert gb.load(out / "checkpoint.safetensors")["batch"] == len(steps) == 4


def _signal_after(monkeypatch, signals, after_batches):
    class Send(Callback):
        n = 0

        def on_batch_end(self, trainer, batch, loss):
            Send.n += 1
            if Send.n == after_batches:
                for s in signals:
                    os.kill(os.getpid(), s)

    init = Trainer.__init__

    def with_send(self, *a, **k):
        init(self, *a, **k)
        self.callbacks.append(Send())

    monkeypatch.setattr(Trainer, "__init__", with_send)


def test_evaluate_never_writes_where_a_checkpoint_says(tmp_path, capsys, monkeypatch):
    """A checkpoint's recorded data root (here a planted path) is not where evaluate reads and writes."""
    out = tmp_path / "r"
    assert main(["train", "mlp", "--dataset", "digits", "--no-progress", "--out", str(out), "--data-root", str(tmp_path / "data")]) == 0
    ck = gb.load(out / "checkpoint.safetensors")
    ck["config"]["data_root"] = str(tmp_path / "a" / "b" / ".." / ".." / "planted")
    gb.save(ck, out / "checkpoint.safetensors")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", str(out / "checkpoint.safetensors")]) == 0
    assert not (tmp_path / "planted").exists()
    # and a resume may not move the data root behind the user's back
    assert main(["train", "mlp", "--dataset", "digits", "--no-progress", "--out", str(out), "--resume"]) == 2
    assert "--data-root: the checkpoint used" in capsys.readouterr().err


def _png_header(path, w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 8)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def digits_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("predict") / "r"
    assert main(["train", "lenet5", "--dataset", "fakedata", "--no-progress", "--out", str(out)]) == 0
    return out / "checkpoint.safetensors"


def test_predict_refuses_a_blank_image_and_reads_a_transparent_one(tmp_path, capsys, digits_checkpoint):
    from PIL import Image

    Image.new("L", (40, 40), 255).save(tmp_path / "white.png")
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    for name in ("white.png", "clear.png"):
        assert main(["predict", str(digits_checkpoint), str(tmp_path / name)]) == 1
        assert "the image is blank" in capsys.readouterr().err
    digit = np.zeros((40, 40, 4), dtype=np.uint8)  # black strokes on a transparent background
    digit[8:32, 18:22, 3] = 255
    Image.fromarray(digit, "RGBA").save(tmp_path / "one.png")
    assert main(["predict", str(digits_checkpoint), str(tmp_path / "one.png")]) == 0
    assert "predicted" in capsys.readouterr().out


def test_predict_refuses_a_huge_image_before_decoding_it(tmp_path, capsys, digits_checkpoint):
    _png_header(tmp_path / "huge.png", 20000, 20000)  # a 400-megapixel header, almost no data
    _png_header(tmp_path / "big.png", 9000, 9000)
    for name, says in (("huge.png", "decompression bomb"), ("big.png", "81 megapixels")):
        assert main(["predict", str(digits_checkpoint), str(tmp_path / name)]) == 1
        err = capsys.readouterr().err
        assert says in err and "at most 50 megapixels" in err


def test_a_training_checkpoint_loads_in_a_fresh_process(tmp_path):
    """The run written by the CLI is complete on disk (no half-written files): a new process reads it."""
    out = tmp_path / "r"
    assert main([*QUICK, "--out", str(out)]) == 0
    code = textwrap.dedent(f"""
        import gradbox as gb
        ck = gb.load({str(out / 'checkpoint.safetensors')!r})
        print(ck["epoch"], sorted(p.name for p in __import__("pathlib").Path({str(out)!r}).iterdir()))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split()[0] == "1" and "metrics.jsonl" in res.stdout and ".tmp" not in res.stdout
