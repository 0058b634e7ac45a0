"""The one benchmark entry point.

    python scripts/bench.py {world,render,teacher,dagger} --preset cpu

Each subcommand measures a family of configurations (see the `bench_*.py` module beside this file)
and prints one JSON object per configuration on stdout and a Markdown table on stderr
(contract in `bench_harness.py`). Record figures in BENCHMARKS.md with the command and machine.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path
from typing import Annotated, Literal

import tyro

sys.path.insert(0, str(Path(__file__).parent))
from bench_harness import run_workloads


@dataclasses.dataclass(frozen=True)
class _Bench:
    preset: Literal["cpu", "gpu"] = "cpu"
    """cpu: sizes that finish in minutes on a 2-core CPU; gpu: sizes that fill one H100/H200."""
    repeats: int = 10
    """Timed calls per configuration (after warm-up); the median is reported."""


@dataclasses.dataclass(frozen=True)
class World(_Bench):
    """Agent-steps/s of the world step (+ events, + privileged observation)."""


@dataclasses.dataclass(frozen=True)
class Render(_Bench):
    """Agent-frames/s of the renderer per backend and resolution."""


@dataclasses.dataclass(frozen=True)
class Teacher(_Bench):
    """End-to-end PPO self-play training throughput (agent-steps/s including the update)."""


@dataclasses.dataclass(frozen=True)
class Dagger(_Bench):
    """End-to-end self-play DAgger throughput (agent-steps/s including rendering and labels)."""


Command = (
    Annotated[World, tyro.conf.subcommand("world")]
    | Annotated[Render, tyro.conf.subcommand("render")]
    | Annotated[Teacher, tyro.conf.subcommand("teacher")]
    | Annotated[Dagger, tyro.conf.subcommand("dagger")]
)


def main(args: _Bench) -> None:
    name = type(args).__name__.lower()
    module = importlib.import_module(f"bench_{name}")
    workloads = module.workloads(args.preset)
    if workloads is None:
        print(f"bench {name}: not implemented yet; nothing measured", file=sys.stderr)
        return
    run_workloads(workloads, args.repeats)


if __name__ == "__main__":
    main(tyro.cli(Command))  # type: ignore[arg-type]
