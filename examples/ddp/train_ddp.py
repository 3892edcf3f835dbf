"""Step 2: train the prototype with PyTorch DistributedDataParallel (gloo, CPU).

    torchrun --nproc_per_node=2 examples/ddp/train_ddp.py --run-dir runs/ddp --epochs 1

Every process builds the model in PyTorch, loads ``init.safetensors``, and trains on its shard
of the data (DistributedSampler); DDP averages the gradients across processes after each
backward. Rank 0 writes ``final.safetensors`` (plain safetensors: ``gb.load`` reads it) and, with
``--dump-first-step``, ``first_step.safetensors``: the first averaged gradient and the indices
of the samples every process used, so gradbox can check it (tests/test_interop_ddp.py).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import safetensors.torch
import torch
import torch.distributed as dist
import torch.nn.functional as F
from common import arrays, load_config, torch_model
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", default="runs/ddp", help="the run directory written by prototype.py")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--batch-size", type=int, default=32, help="samples per process per step")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--dump-first-step", action="store_true", help="save the first averaged gradient for checking")
    p.add_argument(
        "--no-onednn",
        action="store_true",
        help="PyTorch's native CPU kernels instead of oneDNN (whose float32 convolution gradients can be ~1e-3 "
        "relative off for some weights)",
    )
    args = p.parse_args()
    if args.no_onednn:
        torch.backends.mkldnn.enabled = False
    run = Path(args.run_dir)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // int(os.environ.get("WORLD_SIZE", 1))))
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    cfg = load_config(run)
    torch.manual_seed(cfg["seed"])

    model = torch_model(cfg)
    model.load_state_dict(safetensors.torch.load_file(run / "init.safetensors"))
    ddp = DistributedDataParallel(model)
    x, y = arrays(cfg, train=True)
    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y), torch.arange(len(y)))
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=cfg["seed"], drop_last=True)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler, drop_last=True)
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9)

    step, start = 0, time.time()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for xb, yb, ib in loader:
            opt.zero_grad()
            loss = F.cross_entropy(ddp(xb), yb)
            loss.backward()  # DDP all-reduces: every process now holds the average gradient
            if step == 0 and args.dump_first_step:
                everyone = [torch.zeros_like(ib) for _ in range(world)]
                dist.all_gather(everyone, ib)
                if rank == 0:
                    grads = {f"grad.{k}": q.grad.detach().clone() for k, q in model.named_parameters()}
                    grads["indices"] = torch.stack(everyone)  # (world, batch): rank r's samples in row r
                    safetensors.torch.save_file(grads, run / "first_step.safetensors")
            opt.step()
            step += 1
            if rank == 0 and (step % 50 == 0 or step == 1):
                print(f"epoch {epoch + 1} step {step}: loss {loss.item():.4f} (rank 0), {time.time() - start:.1f} s")
            if args.max_steps and step >= args.max_steps:
                break
        if args.max_steps and step >= args.max_steps:
            break
    if rank == 0:
        safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, run / "final.safetensors")
        print(f"{world} processes, {step} steps of {args.batch_size * world} samples: wrote {run / 'final.safetensors'}")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
