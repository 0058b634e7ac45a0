"""Where a self-play DAgger iteration's time goes: `python scripts/profile_dagger.py --preset toy`.

Times one iteration of a preset three ways, each after a warm-up call (median of `--repeats`):
as configured, without the student updates (`sgd_steps=0`), and without forks either (rollout,
rendering and teacher labels only). `--conv-in-loop` adds the check behind gp-agents'
`StridedConv`: 20 SGD steps of a 3-layer stride-2 conv encoder on 64 images of 32x48, with
`lax.conv_general_dilated` and with slices + matmul, each run in `lax.scan` and unrolled under
one jit (XLA's CPU backend runs the convolution's gradient far slower inside a loop body).
The teacher is freshly initialised (its cost, not its skill).
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
import tyro
from bench_dagger import _teacher

import gp_distill as gd
import gp_world as gw


@dataclasses.dataclass(frozen=True)
class Args:
    preset: Literal["toy", "demo"] = "toy"
    repeats: int = 2
    conv_in_loop: bool = False


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    jax.block_until_ready(fn())  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _iterations(args: Args) -> None:
    base = getattr(gd.DistillConfig, args.preset)()
    variants = {
        "as configured": base.dagger,
        "no student updates": dataclasses.replace(base.dagger, sgd_steps=0),
        "no updates, no forks": dataclasses.replace(base.dagger, sgd_steps=0, fork_every=10**6),
    }
    world = gw.World(base.world, gw.build_map_bank(base.world, split="train"))
    teacher = _teacher(base, world)
    for label, dagger_cfg in variants.items():
        cfg = dataclasses.replace(base, dagger=dagger_cfg)
        dagger, *_ = gd.build_distillation(cfg, teacher, world)
        holder = [dagger.init(jax.random.key(0))]

        def one(dagger=dagger, holder=holder) -> object:
            holder[0], metrics = dagger.iteration(holder[0])
            return metrics

        seconds = _median_seconds(one, args.repeats)
        rate = dagger.agent_steps_per_iteration / seconds
        print(f"{args.preset} iteration, {label}: {seconds:.2f} s ({rate:.1f} agent-steps/s)")


def _conv_in_loop(args: Args) -> None:
    key = jax.random.key(0)
    x = jax.random.normal(key, (64, 32, 48, 3))
    channels = (3, 8, 16, 32)
    weights = [
        0.1 * jax.random.normal(key, (3, 3, c_in, c_out))
        for c_in, c_out in itertools.pairwise(channels)
    ]

    def xla(ws, x):
        for w in ws:
            x = jax.lax.conv_general_dilated(
                x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            x = jax.nn.relu(x)
        return jnp.sum(x**2)

    def slices(ws, x):
        for w in ws:
            _, h, wd, c = x.shape
            padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
            ho, wo = (h + 1) // 2, (wd + 1) // 2
            cols = [
                padded[:, i : i + 2 * ho : 2, j : j + 2 * wo : 2, :]
                for i in range(3)
                for j in range(3)
            ]
            x = jax.nn.relu(jnp.concatenate(cols, -1) @ w.reshape(9 * c, -1))
        return jnp.sum(x**2)

    for name, loss in (("lax.conv", xla), ("slices + matmul", slices)):
        grad = jax.grad(loss)

        def sgd(ws, _, grad=grad):
            return [w - 1e-4 * g for w, g in zip(ws, grad(ws, x), strict=True)], None

        scanned = jax.jit(lambda ws, sgd=sgd: jax.lax.scan(sgd, ws, None, 20)[0])

        @jax.jit
        def unrolled(ws, sgd=sgd):
            for _ in range(20):
                ws, _ = sgd(ws, None)
            return ws

        in_scan = _median_seconds(lambda f=scanned: f(weights), args.repeats)
        outside = _median_seconds(lambda f=unrolled: f(weights), args.repeats)
        scan_ms, unrolled_ms = 1e3 * in_scan, 1e3 * outside
        print(f"20 SGD steps, {name}: {scan_ms:.0f} ms in lax.scan, {unrolled_ms:.0f} ms unrolled")


def main(args: Args) -> None:
    print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind}")
    if args.conv_in_loop:
        _conv_in_loop(args)
    _iterations(args)


if __name__ == "__main__":
    main(tyro.cli(Args))
