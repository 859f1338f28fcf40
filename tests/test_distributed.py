"""A DistributedDataParallel training step over two GPUs with NCCL: a model whose forward uses
all three ops ends with the same parameters as the same model built from torch ops."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist

import mykernels
from helpers import requires_two_gpus


class Model(torch.nn.Module):
    def __init__(self, use_mykernels: bool):
        super().__init__()
        self.use_mykernels = use_mykernels
        self.first = torch.nn.Linear(8, 16)
        self.shift = torch.nn.Parameter(torch.randn(16))
        self.second = torch.nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        if self.use_mykernels:
            h = mykernels.d_sigmoid(mykernels.add(mykernels.square(h), self.shift, alpha=-0.5))
        else:
            h = torch.square(h) - 0.5 * self.shift
            h = torch.sigmoid(h) * (1 - torch.sigmoid(h))
        return self.second(h)


def _train_step(rank: int, use_mykernels: bool) -> list[torch.Tensor]:
    torch.manual_seed(0)  # the same initial parameters on both ranks and for both models
    model = Model(use_mykernels).cuda(rank)
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rank])
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.5)
    generator = torch.Generator().manual_seed(100 + rank)  # different data on each rank
    x = torch.randn(32, 8, generator=generator).cuda(rank)
    target = torch.randn(32, 4, generator=generator).cuda(rank)
    loss = torch.nn.functional.mse_loss(ddp(x), target)
    loss.backward()
    optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


def _worker(rank: int, port: int) -> None:
    # NVLink multicast stays off: it can take a shared host's GPUs out of service.
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), NCCL_NVLS_ENABLE="0")
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=2, device_id=torch.device("cuda", rank))
    try:
        ours = _train_step(rank, use_mykernels=True)
        reference = _train_step(rank, use_mykernels=False)
        initial = [p.cuda(rank) for p in Model(True).parameters()]
        for mine, theirs, start in zip(ours, reference, initial, strict=True):
            assert not torch.equal(mine, start)  # the step changed something
            torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
        # Both ranks hold the same parameters after the all-reduce.
        gathered = [torch.empty_like(ours[0]) for _ in range(2)]
        dist.all_gather(gathered, ours[0])
        torch.testing.assert_close(gathered[0], gathered[1], rtol=0, atol=0)
    finally:
        dist.destroy_process_group()


@requires_two_gpus
def test_ddp_step_matches_torch_ops():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(_worker, args=(port,), nprocs=2, join=True)
