"""Where a PPO update's time goes: `python scripts/profile_teacher.py --preset demo`.

Two views of the `train_teacher` preset's update (rollout in every world, GAE, all epochs and
minibatch steps), both after a warm-up call:

- *Variants*: agent-steps/s of the preset and of other teachers or schedules beside it
  (trunks half or twice as wide, one hidden trunk layer less, one hidden layer less in every
  set encoder, eight minibatches), timed in
  rounds that take each variant in turn, so a noisy machine slows them alike; medians over
  `--rounds`.
- *Ops* (`--ops`, CPU): one call traced with the JAX profiler, each XLA op's time attributed to
  the named scope it came from (gp-agents names the set encoders, trunks, rollout, PPO gradient
  and optimizer) and to its phase: the rollout, the loss's forward pass, or its backward pass.
  Times are summed over the CPU threads, so they exceed the wall time on several cores.

The policies are freshly initialised: this measures cost, not skill.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import jax
import tyro
from bench_teacher import compiled_updates

import gp_agents as ga


@dataclasses.dataclass(frozen=True)
class Args:
    preset: Literal["toy", "demo"] = "demo"
    """`train_teacher` preset whose update is measured."""
    updates: int = 4
    """Updates per timed call."""
    rounds: int = 5
    """Timed rounds (each times every variant once)."""
    variants: bool = True
    """Time the cheaper variants beside the preset."""
    ops: bool = False
    """Trace one call and attribute op time to scopes and phases (CPU only)."""
    top: int = 12
    """Ops listed by time under `--ops`."""


def _variants(base: ga.TrainConfig, wanted: bool) -> dict[str, ga.TrainConfig]:
    out = {"as configured": base}
    if wanted:
        teacher, ppo = base.teacher, base.ppo
        for width in (teacher.trunk_width // 2, 2 * teacher.trunk_width):
            out[f"trunks {width} wide"] = dataclasses.replace(
                base, teacher=dataclasses.replace(teacher, trunk_width=width)
            )
        if teacher.trunk_depth > 0:
            out["one hidden trunk layer less"] = dataclasses.replace(
                base, teacher=dataclasses.replace(teacher, trunk_depth=teacher.trunk_depth - 1)
            )
        if teacher.element_depth > 0:
            out["one hidden set-encoder layer less"] = dataclasses.replace(
                base,
                teacher=dataclasses.replace(teacher, element_depth=teacher.element_depth - 1),
            )
        out["8 minibatches"] = dataclasses.replace(
            base, ppo=dataclasses.replace(ppo, num_minibatches=2 * ppo.num_minibatches)
        )
    return out


def _compiled(cfg: ga.TrainConfig, n: int) -> tuple[Callable[[], None], Any, int]:
    """`compiled_updates` (the benchmark's) with a blocking call, warmed up once."""
    run, compiled, trainer = compiled_updates(cfg, n)

    def call() -> None:
        jax.block_until_ready(run())

    call()  # warm-up
    return call, compiled, n * trainer.agent_steps_per_update


def _time_variants(args: Args, configs: dict[str, ga.TrainConfig]) -> None:
    calls = {}
    for label, cfg in configs.items():
        start = time.perf_counter()
        calls[label] = _compiled(cfg, args.updates)
        print(f"compiled {label!r} in {time.perf_counter() - start:.0f} s", flush=True)
    seconds: dict[str, list[float]] = collections.defaultdict(list)
    for _ in range(args.rounds):
        for label, (call, _, _) in calls.items():
            start = time.perf_counter()
            call()
            seconds[label].append(time.perf_counter() - start)
    base = None
    print(f"\n{args.preset}, {args.updates} updates per call, medians of {args.rounds} rounds:")
    for label, (_, _, items) in calls.items():
        median = statistics.median(seconds[label])
        rate = items / median
        base = base or rate
        per_update = 1e3 * median / args.updates
        print(
            f"  {label:28s} {per_update:6.0f} ms/update  {rate:8.0f} agent-steps/s  "
            f"x{rate / base:.2f}"
        )


def _op_scopes(hlo_text: str) -> dict[str, str]:
    """HLO instruction name -> the op_name metadata (JAX's name stack) of that instruction."""
    pattern = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = .*?op_name=\"([^\"]*)\"")
    return {m.group(1): m.group(2) for m in map(pattern.match, hlo_text.splitlines()) if m}


def _attribute(op_name: str) -> tuple[str, str]:
    """(phase, part) of an op from its name stack."""
    scopes = re.split(r"[/()]", op_name)
    if "optimizer" in scopes:
        return "optimizer", "optimizer"
    part = next((p for p in ga.POLICY_SCOPES if p in scopes), None)
    if "rollout" in scopes:
        return "rollout", part or "world step and rest"
    if "transpose" in scopes:
        phase = "loss, backward"
    elif "ppo_gradient" in scopes:
        phase = "loss, forward"
    else:
        phase = "other (GAE, shuffles, ...)"
    return phase, part or "loss terms and rest"


def _self_times(ops: list[tuple[float, float, str]]) -> dict[str, float]:
    """Exclusive time per op on one thread: a loop or call op that ran its body inline on the
    same thread contains those ops' events, whose time is its body's, not its own."""
    out: dict[str, float] = collections.defaultdict(float)
    stack: list[tuple[float, str]] = []  # (end, op) of the enclosing events
    for start, duration, op in sorted(ops, key=lambda o: (o[0], -o[1])):
        while stack and start >= stack[-1][0]:
            stack.pop()
        if stack:
            out[stack[-1][1]] -= duration
        out[op] += duration
        stack.append((start + duration, op))
    return out


def _profile_ops(args: Args, cfg: ga.TrainConfig) -> None:
    call, compiled, _ = _compiled(cfg, args.updates)
    scopes = _op_scopes(compiled.compiled.as_text())  # equinox's Compiled wraps jax's
    folder = tempfile.mkdtemp(prefix="profile_teacher_")
    with jax.profiler.trace(folder):
        call()
    (trace,) = Path(folder).rglob("*.xplane.pb")
    profile = jax.profiler.ProfileData.from_file(str(trace))
    by_op: dict[str, float] = collections.defaultdict(float)
    for plane in profile.planes:
        for line in plane.lines:
            ops = [
                (event.start_ns, event.duration_ns, stats["hlo_op"])
                for event in line.events
                if "hlo_op" in (stats := dict(event.stats))
            ]
            for op, ns in _self_times(ops).items():
                by_op[op] += ns / 1e6
    if not by_op:
        raise SystemExit("the trace holds no XLA op events (--ops reads the CPU backend's)")
    per_update = {op: ms / args.updates for op, ms in by_op.items()}
    total = sum(per_update.values())
    cells: dict[tuple[str, str], float] = collections.defaultdict(float)
    for op, ms in per_update.items():
        cells[_attribute(scopes.get(op, ""))] += ms
    print(f"\n{args.preset}: {total:.0f} ms of op time per update (all threads), by scope:")
    by_part: dict[str, float] = collections.defaultdict(float)
    for (_, part), ms in cells.items():
        by_part[part] += ms
    for part, ms in sorted(by_part.items(), key=lambda kv: -kv[1]):
        row = sorted((phase, t) for (phase, q), t in cells.items() if q == part)
        detail = ", ".join(f"{phase} {t:.0f}" for phase, t in row)
        print(f"  {part:22s} {ms:6.0f} ms ({100 * ms / total:4.1f}%)  {detail}")
    print(f"\nthe {args.top} longest ops (ms per update, scope):")
    for op, ms in sorted(per_update.items(), key=lambda kv: -kv[1])[: args.top]:
        stack = scopes.get(op, "?").replace("while/body/closed_call/", "")
        print(f"  {ms:6.1f}  {op:28s} {stack.removeprefix('jit(updates)/')}")


def main(args: Args) -> None:
    if args.ops:
        # Op-level trace events on the CPU; read when the backend starts, which is after this.
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_enable_xprof_traceme=true".strip()
    base = getattr(ga.TrainConfig, args.preset)()
    print(f"jax {jax.__version__} on {jax.default_backend()}, {jax.device_count()} device(s)")
    _time_variants(args, _variants(base, args.variants))
    if args.ops:
        _profile_ops(args, base)


if __name__ == "__main__":
    main(tyro.cli(Args))
