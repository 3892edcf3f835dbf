"""Step 3: load the DDP-trained weights back into gradbox, look inside, evaluate.

    python examples/ddp/evaluate.py --run-dir runs/ddp
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import arrays, gradbox_model, load_config

import gradbox as gb
from gradbox.vision.datasets import INFO


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", default="runs/ddp")
    p.add_argument("--weights", default="final.safetensors", help="file in the run directory")
    args = p.parse_args()
    run = Path(args.run_dir)
    cfg = load_config(run)
    model = gradbox_model(cfg)
    model.load_state_dict(gb.load(run / args.weights))
    model.eval()
    print(gb.inspect.summary(model, input_size=(1, *INFO[cfg["dataset"]][0])))
    x, y = arrays(cfg, train=False)
    correct = 0
    with gb.no_grad():
        for i in range(0, len(y), 1000):
            correct += int((model(gb.tensor(x[i : i + 1000])).numpy().argmax(1) == y[i : i + 1000]).sum())
    print(f"{cfg['model']} on the {cfg['dataset']} test set ({len(y)} samples): accuracy {100 * correct / len(y):.2f}%")


if __name__ == "__main__":
    main()
