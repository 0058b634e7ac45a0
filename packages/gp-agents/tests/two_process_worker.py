"""One process of a two-process teacher run on the tests' stand-in world (test_trainer.py):
`python two_process_worker.py PROCESS_ID PORT RUN_DIR [signal-before-first-call]`.

Each process has two CPU devices; `DistributedConfig` joins them into one run of four.
"""

from __future__ import annotations

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["JAX_PLATFORMS"] = "cpu"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dataclasses
import signal

from test_trainer import TWO_PROCESS_CFG

import gp_agents as ga
from conftest import LaneConfig, LaneWorld


def main(process_id: int, port: int, run_dir: str, stop_early: bool) -> None:
    cfg = dataclasses.replace(
        TWO_PROCESS_CFG,
        distributed=ga.DistributedConfig(
            coordinator_address=f"localhost:{port}", num_processes=2, process_id=process_id
        ),
    )
    reads = [0]

    def clock() -> float:  # read at the start, then before and after each call
        reads[0] += 1
        if stop_early and reads[0] == 2:  # just before the first call, on this process only
            os.kill(os.getpid(), signal.SIGTERM)
        return float(reads[0])

    world = LaneWorld(LaneConfig())
    ga.train_teacher(cfg, run_dir, world=world, heldout_world=world, clock=clock)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:] == ["signal"])
