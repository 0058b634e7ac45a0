"""Adapt a pixel student's perception to a shifted camera domain and measure what it recovers:
`python scripts/adapt_perception.py {toy,demo}`.

The images called "real" here are a SYNTHETIC shifted domain (gp_adapt.DomainShift): the same
annotated scenes drawn with other colours, lighting, blur, noise and camera jitter. Every field is
overridable, e.g.
    python scripts/adapt_perception.py toy --experiment.sample-counts 4 16 --run-dir runs/adapt2
Outputs under the run folder: experiment_config.json, results.json, results.md, quality.png, and
per N: adapt_<N>/{config.json, log.jsonl, checkpoints/, adaptation.png}.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import tyro

import gp_adapt as ga


@dataclasses.dataclass(frozen=True)
class AdaptPerception:
    run_dir: str = "runs/adapt-toy"
    experiment: ga.ExperimentConfig = dataclasses.field(default_factory=ga.ExperimentConfig.toy)


PRESETS = {
    "toy": (
        "toy student on 32x24 views, 5-7 minutes on a shared 2-core CPU",
        AdaptPerception(run_dir="runs/adapt-toy", experiment=ga.ExperimentConfig.toy()),
    ),
    "demo": (
        "gp-agents' pixel student on 64x48 views, about 7 minutes on a shared 2-core CPU",
        AdaptPerception(run_dir="runs/adapt-demo", experiment=ga.ExperimentConfig.demo()),
    ),
}


def main(args: AdaptPerception) -> None:
    summary = ga.quality_experiment(args.experiment, args.run_dir)
    print(ga.results_table(summary["rows"]))
    print(f"run folder: {Path(args.run_dir).absolute()} ({summary['seconds']:.0f} s)")


if __name__ == "__main__":
    main(tyro.extras.overridable_config_cli(PRESETS))
