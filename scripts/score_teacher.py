"""Score teachers on held-out towns, the way every teacher table in the docs is scored:
`python scripts/score_teacher.py checkpoints/teacher-gpu-lights --keys 7 8 9`.

    python scripts/score_teacher.py runs/teacher-demo@3000 --live --keys 7 8 9 10 11 12
    python scripts/score_teacher.py checkpoints/teacher-gpu-lights \
        --condition collision=1.0 offroad=1.0 stop_line=1.0
    python scripts/score_teacher.py checkpoints/teacher-gpu-lights --expected-action
    python scripts/score_teacher.py runs/ft-yellow --world-of checkpoints/teacher-gpu-lights

For each run (`folder` or `folder@update`) and each key K:
`ga.evaluate_policy(policy, heldout_world, jax.random.key(K), num_worlds=16, num_steps=2000)`,
the run's own world on its held-out map bank (`--bank train`: the towns it trained on), every
agent driven by the teacher (greedy: its most likely action, or with `--expected-action` the
probability-weighted mean of its grid's (accel, steer) cells), 200 s, episodes as long as the
run's world allows (`--world-of FOLDER`: that run's world instead, for a fine-tune trained in a
changed world). Rates are shares of the episodes that ended within the horizon. Printed
as a Markdown table, one row per run and key and a mean over the keys per run; `--out` also
writes the rows as JSON lines.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Literal

import jax
import tyro

import gp_agents as ga
import gp_world as gw

COLUMNS = (  # (header, metric of evaluate_policy, as a percentage)
    ("routes", "goal_rate"),
    ("collision", "collision_rate"),
    ("off-road", "offroad_rate"),
    ("collision or off-road", "incident_rate"),
    ("red light", "red_light_rate"),
)


@dataclasses.dataclass(frozen=True)
class ScoreTeacher:
    runs: tyro.conf.Positional[tuple[str, ...]]
    """Teacher run folders (`folder` or `folder@update`)."""
    keys: tuple[int, ...] = (7, 8, 9)
    """Evaluation keys: each draws other worlds' agents, routes and lights."""
    worlds: int = 16
    steps: int = 2000
    """Steps of 0.1 s per evaluation."""
    live: bool = False
    """The live policy of a run that averages its policy, instead of the averaged one it ships."""
    bank: Literal["heldout", "train"] = "heldout"
    """The run's held-out towns, or those it trained on."""
    condition: tuple[str, ...] = ()
    """A driving style asked of the reward-conditioned teacher: `term=quantile` entries fix
    those reward weights at that quantile of their trained range for every agent (gp-world's
    `reward_condition`), e.g. `collision=1.0` for the most a collision was ever charged."""
    expected_action: bool = False
    """Drive a grid teacher by its expected (accel, steer) instead of its most likely grid cell
    (gp-agents' `ExpectedAction`, in the world's continuous twin)."""
    world_of: str = ""
    """Score every run in this run folder's world instead of its own: a fine-tune trained in a
    changed world (shorter greens, other costs) scored in the world of the teacher it started
    from. The worlds must give the same observations and actions; the fields that differ are
    printed (the policy sees its reward weights scaled by the ranges of the world it is in)."""
    out: str = ""
    """A JSON-lines file for the rows (none when empty)."""


def parse_condition(entries: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """`("collision=1.0", ...)` as gp-world's `reward_condition`, with an error naming a bad
    entry (the world config checks the terms and quantiles)."""
    parsed = []
    for entry in entries:
        term, eq, value = entry.partition("=")
        try:
            if not eq:
                raise ValueError
            parsed.append((term, float(value)))
        except ValueError:
            raise ValueError(f"--condition entries are term=quantile, got {entry!r}") from None
    return tuple(parsed)


def check_world_of(policy, world: gw.World, own: gw.WorldConfig, spec: str) -> None:
    """Refuse a `--world-of` world whose actions or observations the policy was not built for
    (the policy's own `check_observation`), naming the fields in which the two worlds differ;
    print those fields otherwise."""
    home = dataclasses.replace(world.config, reward_condition=own.reward_condition)
    fields = ", ".join(own.differences(home)) or "nothing"
    try:
        if own.action_space != home.action_space:
            raise ValueError(f"it acts in {own.action_space!r}, the world in {home.action_space!r}")
        state = jax.eval_shape(world.reset, jax.random.key(0))  # shapes only
        policy.check_observation(jax.eval_shape(world.observe, state))
    except ValueError as error:
        raise SystemExit(
            f"{spec} cannot drive in the --world-of world ({fields} differ): {error}"
        ) from None
    print(f"[score] {spec} in the --world-of world ({fields} differ)")


def main(args: ScoreTeacher) -> None:
    condition = parse_condition(args.condition)
    home = ga.load_teacher(args.world_of)[1].world if args.world_of else None
    header = ["run", "key", "episodes", *(name for name, _ in COLUMNS)]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    rows = []
    for spec in args.runs:
        folder, step = ga.split_run_step(spec)
        policy, cfg = ga.load_teacher(folder, step=step, live=args.live)
        world_cfg = dataclasses.replace(home or cfg.world, reward_condition=condition)
        world = gw.World(world_cfg, gw.build_map_bank(world_cfg, split=args.bank))
        if home is not None:
            check_world_of(policy, world, cfg.world, spec)
        label = spec + (" (expected action)" if args.expected_action else "")
        if args.expected_action:
            try:
                policy, world = ga.drive_by_expected_action(policy, world)
            except ValueError as error:
                raise SystemExit(f"{spec}: {error}") from None
        scores = []
        for k in args.keys:
            start = time.perf_counter()
            r = ga.evaluate_policy(policy, world, jax.random.key(k), args.worlds, args.steps)
            r["incident_rate"] = r["collision_rate"] + r["offroad_rate"]
            scores.append(r)
            row = {"run": spec, "live": args.live, "bank": args.bank, "key": k}
            row |= {"world_of": args.world_of or spec}
            row |= {"expected_action": args.expected_action, "condition": dict(condition)}
            row |= {"seconds": time.perf_counter() - start, **r}
            rows.append(row)
            cells = [label, str(k), f"{r['episodes']:.0f}"]
            print("| " + " | ".join(cells + [f"{100 * r[m]:.2f}%" for _, m in COLUMNS]) + " |")
        if len(scores) > 1:
            mean = {m: sum(s[m] for s in scores) / len(scores) for _, m in COLUMNS}
            episodes = sum(s["episodes"] for s in scores)
            cells = [label, "mean", f"{episodes:.0f}"]
            print("| " + " | ".join(cells + [f"{100 * mean[m]:.2f}%" for _, m in COLUMNS]) + " |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("".join(json.dumps(row) + "\n" for row in rows))


if __name__ == "__main__":
    main(tyro.cli(ScoreTeacher))
