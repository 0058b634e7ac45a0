"""The pixel student: a convolutional encoder over a camera rig, fused with ego measurements and the
route command, to a latent of the teacher's size; heads for actions, value and a trajectory.

Every method takes ONE agent's observation (no agent or world axis); callers `vmap`. The student
has the teacher's call interface (`latent`, `action_distribution`, `value`, `__call__`), so the
rollout and evaluation code of the teacher drive it unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, PRNGKeyArray, UInt8

from gp_agents._distributions import (
    ActionDistribution,
    action_head_layout,
    actor_distribution,
)
from gp_agents.config import TeacherConfig

TRAJECTORY_POSES = 8
"""NAVSIM trajectory format: 8 future poses (x, y, heading in the ego frame) over 4 s."""
TRAJECTORY_DT = 0.5
"""Seconds between trajectory poses."""
MEASUREMENTS = ("speed", "accel", "steer")
"""Ego measurements the student sees (m/s, m/s^2, rad), in this order."""
# Typical magnitudes that bring inputs and targets near unit scale.
MEASUREMENT_SCALE = (10.0, 3.0, 0.2)
ROUTE_SCALE = (20.0, 5.0)
"""Route waypoints x (ahead) and y (left): lateral offsets of a metre must stay visible."""
TRAJECTORY_SCALE = (20.0, 5.0, 0.5)


class StudentObservation(eqx.Module):
    """What the student sees for ONE agent (add leading (worlds, agents) axes for batches).

    images: the rig's views, RGB uint8 [views, height, width, 3];
    measurements: (speed m/s, accel m/s^2, steer rad);
    route: next route waypoints (x, y) in the ego frame, metres, with a validity mask;
    valid: the slot holds a live agent.
    """

    images: UInt8[Array, "views height width 3"]
    measurements: Float[Array, "3"]
    route: Float[Array, "R 2"]
    route_valid: Bool[Array, " R"]
    valid: Bool[Array, ""]


@dataclasses.dataclass(frozen=True)
class StudentConfig:
    """Sizes of the pixel student; the latent size must equal the teacher's (feature matching)."""

    channels: tuple[int, ...] = (16, 32, 64, 64)
    """Output channels of the stride-2 conv layers of the per-view encoder."""
    view_features: int = 128
    """Features per camera view after the conv stack."""
    measurement_width: int = 64
    route_width: int = 64
    trunk_width: int = 256
    latent_size: int = 256
    """Must equal TeacherConfig.latent_size for feature distillation."""
    head_width: int = 256
    beta_offset: float = 1.0
    """Added to softplus outputs for the Beta concentrations (as in the teacher)."""

    def __post_init__(self) -> None:
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"StudentConfig.channels must be positive, got {self.channels}")
        for name in ("view_features", "measurement_width", "route_width", "trunk_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"StudentConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.latent_size < 1 or self.head_width < 1:
            raise ValueError("StudentConfig.latent_size and head_width must be >= 1")

    @classmethod
    def toy(cls) -> StudentConfig:
        """Latent of TeacherConfig.toy."""
        return cls(
            channels=(8, 16, 32),
            view_features=64,
            measurement_width=32,
            route_width=32,
            trunk_width=128,
            latent_size=TeacherConfig.toy().latent_size,
            head_width=64,
        )

    @classmethod
    def demo(cls) -> StudentConfig:
        """Latent of TeacherConfig.demo."""
        return cls(
            channels=(16, 32, 64, 64),
            view_features=128,
            trunk_width=256,
            latent_size=TeacherConfig.demo().latent_size,
        )

    @classmethod
    def full(cls) -> StudentConfig:
        """Latent of TeacherConfig.full."""
        return cls(
            channels=(32, 64, 128, 128),
            view_features=256,
            trunk_width=512,
            latent_size=TeacherConfig.full().latent_size,
        )


class StridedConv(eqx.Module):
    """A 3x3, stride-2, zero-padded convolution on a channels-last image, computed as nine strided
    slices concatenated and one matmul (im2col).

    The same function as `lax.conv_general_dilated(x, w, (2, 2), ((1, 1), (1, 1)))` (the tests
    check it), but XLA's CPU backend runs a convolution's gradient inside a loop body (the scanned
    SGD steps of distillation) about 15x slower than outside one; slices and a matmul run at full
    speed everywhere, and are a plain GEMM on a GPU.
    """

    weight: Float[Array, "3 3 c_in c_out"]
    bias: Float[Array, " c_out"]

    def __init__(self, c_in: int, c_out: int, *, key: PRNGKeyArray):
        bound = 1.0 / (9 * c_in) ** 0.5  # PyTorch / Equinox Conv2d's default init
        k_w, k_b = jax.random.split(key)
        self.weight = jax.random.uniform(k_w, (3, 3, c_in, c_out), minval=-bound, maxval=bound)
        self.bias = jax.random.uniform(k_b, (c_out,), minval=-bound, maxval=bound)

    def __call__(self, x: Float[Array, "h w c_in"]) -> Float[Array, "h2 w2 c_out"]:
        h, w, c_in = x.shape
        h_out, w_out = (h + 1) // 2, (w + 1) // 2
        padded = jnp.pad(x, ((1, 2), (1, 2), (0, 0)))
        columns = [
            padded[i : i + 2 * h_out : 2, j : j + 2 * w_out : 2, :]
            for i in range(3)
            for j in range(3)
        ]
        patches = jnp.concatenate(columns, axis=-1)  # [h_out, w_out, 9 * c_in], (i, j, c) order
        return patches @ self.weight.reshape(9 * c_in, -1) + self.bias[None, None, :]


class ViewEncoder(eqx.Module):
    """Stride-2 3x3 conv stack (ReLU) on one RGB view, flattened, to `view_features`."""

    convs: tuple[StridedConv, ...]
    project: eqx.nn.Linear

    def __init__(
        self, height: int, width: int, channels: tuple[int, ...], out: int, *, key: PRNGKeyArray
    ):
        keys = jax.random.split(key, len(channels) + 1)
        convs, c_in, h, w = [], 3, height, width
        for c_out, k in zip(channels, keys[:-1], strict=True):
            convs.append(StridedConv(c_in, c_out, key=k))
            c_in, h, w = c_out, (h + 1) // 2, (w + 1) // 2
        self.convs = tuple(convs)
        self.project = eqx.nn.Linear(c_in * h * w, out, key=keys[-1])

    def __call__(self, image: UInt8[Array, "height width 3"]) -> Float[Array, " out"]:
        # uint8 RGB -> channels-last floats centred on zero.
        x = image.astype(jnp.float32) / 255.0 - 0.5
        for conv in self.convs:
            x = jax.nn.relu(conv(x))
        return jax.nn.relu(self.project(x.reshape(-1)))


class StudentPolicy(eqx.Module):
    """Pixel policy with the teacher's interface plus a trajectory head.

    Views share one `ViewEncoder`; their features are concatenated in rig order (left to right),
    with the measurement and route embeddings, and a trunk maps them to `latent` f32[latent_size].
    Heads: action (categorical or scaled Beta, as the teacher), value, trajectory f32[8, 3].
    """

    view_encoder: ViewEncoder
    measurement_encoder: eqx.nn.MLP
    route_encoder: eqx.nn.MLP
    norm: eqx.nn.LayerNorm
    trunk: eqx.nn.MLP
    actor_head: eqx.nn.Linear
    value_head: eqx.nn.MLP
    trajectory_head: eqx.nn.MLP
    action_kind: str = eqx.field(static=True)
    action_low: tuple[float, ...] = eqx.field(static=True)
    action_high: tuple[float, ...] = eqx.field(static=True)
    beta_offset: float = eqx.field(static=True)

    def __init__(
        self, cfg: StudentConfig, observation: Any, action_space: Any, *, key: PRNGKeyArray
    ):
        """`observation`: one agent's StudentObservation (arrays or ShapeDtypeStructs);
        `action_space`: gp-world's ActionSpace (kind, num_actions or low/high)."""
        views, height, width, rgb = observation.images.shape
        if rgb != 3:
            raise ValueError(
                f"images must be [views, height, width, 3], got {observation.images.shape}"
            )
        route_points = int(observation.route.shape[0])
        k = jax.random.split(key, 7)
        relu = jax.nn.relu
        self.view_encoder = ViewEncoder(height, width, cfg.channels, cfg.view_features, key=k[0])
        self.measurement_encoder = eqx.nn.MLP(
            len(MEASUREMENTS), cfg.measurement_width, cfg.measurement_width, 1, relu, relu, key=k[1]
        )
        self.route_encoder = eqx.nn.MLP(
            3 * route_points, cfg.route_width, cfg.route_width, 1, relu, relu, key=k[2]
        )
        fused = views * cfg.view_features + cfg.measurement_width + cfg.route_width
        self.norm = eqx.nn.LayerNorm(fused)
        self.trunk = eqx.nn.MLP(fused, cfg.latent_size, cfg.trunk_width, 2, relu, relu, key=k[3])
        self.action_kind, outputs, self.action_low, self.action_high = action_head_layout(
            action_space
        )
        self.beta_offset = float(cfg.beta_offset)
        head = eqx.nn.Linear(cfg.latent_size, outputs, key=k[4])
        self.actor_head = eqx.tree_at(lambda h: h.weight, head, head.weight * 0.01)
        self.value_head = eqx.nn.MLP(cfg.latent_size, 1, cfg.head_width, 1, relu, key=k[5])
        self.trajectory_head = eqx.nn.MLP(
            cfg.latent_size, 3 * TRAJECTORY_POSES, cfg.head_width, 1, relu, key=k[6]
        )

    def latent(self, observation: StudentObservation) -> Float[Array, " latent"]:
        """The latent f32[latent_size] that feature distillation matches to the teacher's."""
        views = jax.vmap(self.view_encoder)(observation.images).reshape(-1)
        measurements = observation.measurements / jnp.asarray(MEASUREMENT_SCALE, jnp.float32)
        mask = observation.route_valid[:, None]
        scaled = observation.route / jnp.asarray(ROUTE_SCALE, jnp.float32)[None, :]
        route = jnp.concatenate([jnp.where(mask, scaled, 0.0), mask.astype(jnp.float32)], -1)
        fused = jnp.concatenate(
            [views, self.measurement_encoder(measurements), self.route_encoder(route.reshape(-1))]
        )
        return self.trunk(self.norm(fused))

    def distribution_from_latent(self, latent: Float[Array, " latent"]) -> ActionDistribution:
        return actor_distribution(self, latent)

    def value_from_latent(self, latent: Float[Array, " latent"]) -> Float[Array, ""]:
        return self.value_head(latent)[0]

    def trajectory_from_latent(self, latent: Float[Array, " latent"]) -> Float[Array, "8 3"]:
        """Future poses (x m, y m, heading rad) in the ego frame at 0.5, 1.0, ..., 4.0 s."""
        raw = self.trajectory_head(latent).reshape(TRAJECTORY_POSES, 3)
        return raw * jnp.asarray(TRAJECTORY_SCALE, jnp.float32)[None, :]

    def action_distribution(self, observation: StudentObservation) -> ActionDistribution:
        return self.distribution_from_latent(self.latent(observation))

    def value(self, observation: StudentObservation) -> Float[Array, ""]:
        return self.value_from_latent(self.latent(observation))

    def trajectory(self, observation: StudentObservation) -> Float[Array, "8 3"]:
        return self.trajectory_from_latent(self.latent(observation))

    def heads(
        self, observation: StudentObservation
    ) -> tuple[ActionDistribution, Float[Array, ""], Float[Array, " latent"], Float[Array, "8 3"]]:
        """(action distribution, value, latent, trajectory) with the encoder run once."""
        latent = self.latent(observation)
        return (
            self.distribution_from_latent(latent),
            self.value_from_latent(latent),
            latent,
            self.trajectory_from_latent(latent),
        )

    def __call__(self, observation: StudentObservation) -> tuple[ActionDistribution, Array]:
        """Distribution and value (the teacher's interface)."""
        latent = self.latent(observation)
        return self.distribution_from_latent(latent), self.value_from_latent(latent)
