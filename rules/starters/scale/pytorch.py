"""Data-parallel training with PyTorch DistributedDataParallel: two processes, one model.

torch.multiprocessing starts two worker processes; each joins a process group, wraps the same
model in DistributedDataParallel and trains on its own shard of every batch (DistributedSampler).
DDP averages the gradients across processes during backward(), so all copies stay identical.
On CPU the processes talk over the gloo backend; on CUDA, NCCL with one GPU per process.
Run it with:  python train_pytorch.py   (across machines, launch it with torchrun instead)
"""
import os
import socket
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

# Where to train: "cpu", "cuda", "mps" (Apple GPU) or "xpu" (Intel GPU).
DEVICE = "cpu"
EPOCHS = 8
BATCH_SIZE = 64  # per process
BACKENDS = {"cpu": "gloo", "cuda": "nccl", "xpu": "xccl"}


def device_available(name):
    checks = {
        "cpu": lambda: True,
        "cuda": torch.cuda.is_available,
        "mps": torch.backends.mps.is_available,
        "xpu": lambda: hasattr(torch, "xpu") and torch.xpu.is_available(),
    }
    return name in checks and checks[name]()


def make_data(n, generator):
    """Regression: y = sum of sin(features) + noise."""
    x = torch.randn(n, 8, generator=generator)
    return x, torch.sin(x).sum(dim=1, keepdim=True) + 0.1 * torch.randn(n, 1, generator=generator)


def worker(rank, world_size, port, device_type):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    on_cpu = device_type == "cpu"
    device = torch.device("cpu") if on_cpu else torch.device(device_type, rank)  # one GPU per process
    if not on_cpu:
        getattr(torch, device_type).set_device(device)
    dist.init_process_group(BACKENDS[device_type], rank=rank, world_size=world_size)
    torch.set_num_threads(max(1, os.cpu_count() // world_size))  # processes share the cores
    torch.manual_seed(0)  # same initial weights in every process (DDP also broadcasts rank 0's)

    dataset = TensorDataset(*make_data(4096, torch.Generator().manual_seed(0)))
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, sampler=sampler)

    model = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 1)).to(device)
    model = DistributedDataParallel(model, device_ids=None if on_cpu else [device.index])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.MSELoss()

    epoch_losses = []
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)  # a different shuffle each epoch, the same across processes
        total = torch.zeros(2, device=device)  # (sum of losses, number of batches)
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x.to(device)), y.to(device))
            loss.backward()  # DDP all-reduces (averages) the gradients here
            optimizer.step()
            total += torch.stack([loss.detach(), torch.ones((), device=device)])
        dist.all_reduce(total)  # sum over processes, to report the mean loss of all shards
        epoch_losses.append((total[0] / total[1]).item())
        if rank == 0:
            print(f"epoch {epoch + 1:2d}  mean loss over {world_size} processes {epoch_losses[-1]:.4f}", flush=True)

    # Every process holds the same weights: compare a checksum gathered from all of them.
    checksum = sum(p.detach().double().sum() for p in model.parameters()).reshape(1)
    gathered = [torch.zeros_like(checksum) for _ in range(world_size)]
    dist.all_gather(gathered, checksum)
    if rank == 0:
        same = all(torch.equal(g, gathered[0]) for g in gathered)
        print(f"trained with {world_size} processes ({BACKENDS[device_type]}); identical weights: {same}", flush=True)
        print(f"first_loss={epoch_losses[0]:.6f}", flush=True)
        print(f"final_loss={epoch_losses[-1]:.6f}", flush=True)
    dist.destroy_process_group()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main():
    if not device_available(DEVICE):
        sys.exit(f"error: PyTorch device {DEVICE!r} is not available on this machine")
    device_type = DEVICE
    if DEVICE == "mps":  # no collective backend supports MPS tensors
        print("note: DDP cannot use the Apple GPU; the two processes train on the CPU", file=sys.stderr)
        device_type = "cpu"
    # One process per GPU; on the CPU, two processes share the cores.
    world_size = 2 if device_type == "cpu" else getattr(torch, device_type).device_count()
    mp.spawn(worker, args=(world_size, free_port(), device_type), nprocs=world_size, join=True)


if __name__ == "__main__":
    main()
