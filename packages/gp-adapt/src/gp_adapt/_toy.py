"""Toy material for tests and the toy preset: random annotated road scenes and a small student
with gp-agents' student interface (`view_encoder`, `latent`, `distribution_from_latent`)."""

from __future__ import annotations

import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray, UInt8

from gp_adapt._calibration import calibration_from_rig, ego_matrix
from gp_adapt._paired import AnnotatedBoxes, PairedSample, render_paired_view
from gp_agents import Categorical, StudentObservation
from gp_render import RenderConfig, SemanticClass, build_ground, pinhole_camera

TOY_CLASSES = (SemanticClass.VEHICLE, SemanticClass.CYCLIST, SemanticClass.PEDESTRIAN)
TOY_SIZES = ((4.5, 1.9, 1.6), (1.8, 0.6, 1.5), (0.7, 0.7, 1.8))


def toy_ground() -> object:
    """A 120 m x 40 m patch: an east-west road with edge lines and a dashed centre line."""
    road = [(-60.0, -5.0), (60.0, -5.0), (60.0, 5.0), (-60.0, 5.0)]
    return build_ground(
        (-60.0, -20.0),
        (120.0, 40.0),
        0.25,
        roads=[road],
        solid_lines=[[(-60.0, -4.8), (60.0, -4.8)], [(-60.0, 4.8), (60.0, 4.8)]],
        dashed_lines=[[(-60.0, 0.0), (60.0, 0.0)]],
    )


def toy_scenes(
    key: PRNGKeyArray,
    count: int,
    width: int = 32,
    height: int = 24,
    max_boxes: int = 4,
    render_config: RenderConfig = RenderConfig.cpu(),  # noqa: B008 (frozen, hashable)
    *,
    render: bool = True,
) -> PairedSample:
    """`count` random scenes (leading axis), their images the renderer's own views (black when
    `render` is False, for callers that draw them themselves).

    The ego drives east in a lane of the toy road with a small heading error; boxes stand
    5..30 m ahead, some in its lane. One forward camera of 70 degrees.
    """
    calibration = calibration_from_rig(
        jax.tree.map(lambda x: x[None], pinhole_camera(width, height, 70.0, far=60.0)),
        near=0.3,
        far=60.0,
    )
    ground = toy_ground()
    k = jax.random.split(key, 6)
    ego_x = jax.random.uniform(k[0], (count,), jnp.float32, -30.0, 0.0)
    ego_y = jnp.where(jax.random.bernoulli(k[1], 0.5, (count,)), -2.4, 2.4)
    ego_yaw = jax.random.uniform(k[2], (count,), jnp.float32, -0.15, 0.15)
    ahead = jax.random.uniform(k[3], (count, max_boxes), jnp.float32, 5.0, 30.0)
    lateral = jax.random.uniform(k[4], (count, max_boxes), jnp.float32, -6.0, 6.0)
    kind = jax.random.randint(k[5], (count, max_boxes), 0, len(TOY_CLASSES))
    sizes = jnp.asarray(TOY_SIZES, jnp.float32)[kind]
    centre = jnp.stack([ego_x[:, None] + ahead, lateral, sizes[..., 2] / 2], -1)
    boxes = AnnotatedBoxes(
        center=centre,
        size=sizes,
        yaw=jnp.zeros((count, max_boxes), jnp.float32),
        class_id=jnp.asarray(np.asarray(TOY_CLASSES, np.int32))[kind],
        valid=jnp.ones((count, max_boxes), bool),
    )
    poses = np.stack(
        [
            ego_matrix(float(x), float(y), float(a))
            for x, y, a in zip(ego_x, ego_y, ego_yaw, strict=True)
        ]
    )
    image = jnp.zeros((count, 1, height, width, 3), jnp.uint8)
    stacked_ground = jax.tree.map(lambda x: jnp.broadcast_to(x, (count, *x.shape)), ground)
    calibrations = jax.tree.map(lambda x: jnp.broadcast_to(x, (count, *x.shape)), calibration)
    samples = PairedSample(
        image, calibrations, jnp.asarray(poses, jnp.float32), boxes, stacked_ground
    )
    if not render:
        return samples
    return eqx.tree_at(lambda s: s.image, samples, _render_batch(samples, render_config))


@functools.partial(jax.jit, static_argnames=("config",))
def _render_batch(samples: PairedSample, config: RenderConfig) -> Array:
    # Module level, so every call with the same shapes reuses one compile.
    return jax.vmap(lambda s: render_paired_view(s, config, backend="xla").rgb)(samples)


# Discrete actions of the toy lane-keeping teacher.
TOY_ACTIONS = ("keep", "steer_left", "steer_right", "brake")
BRAKE_DISTANCE_M = 15.0
LANE_HALF_WIDTH_M = 1.8
HEADING_DEADBAND_RAD = 0.05


def toy_teacher_actions(samples: PairedSample) -> Int[Array, " n"]:
    """A privileged rule teacher on the annotations (not the pixels), one action per scene:
    brake for a box in the ego lane within 15 m, else steer against the heading error."""
    pose = samples.ego_pose
    yaw = jnp.arctan2(pose[:, 1, 0], pose[:, 0, 0])
    rel = samples.boxes.center[..., :2] - pose[:, None, :2, 3]
    c, s = jnp.cos(yaw)[:, None], jnp.sin(yaw)[:, None]
    ahead, left = c * rel[..., 0] + s * rel[..., 1], -s * rel[..., 0] + c * rel[..., 1]
    blocking = (ahead > 0) & (ahead < BRAKE_DISTANCE_M) & (jnp.abs(left) < LANE_HALF_WIDTH_M)
    brake = jnp.any(blocking & samples.boxes.valid, axis=-1)
    steer = jnp.where(yaw > HEADING_DEADBAND_RAD, 2, jnp.where(yaw < -HEADING_DEADBAND_RAD, 1, 0))
    return jnp.where(brake, 3, steer).astype(jnp.int32)


class ToyObservation(eqx.Module):
    """Camera views (views, h, w, 3) uint8 and ego measurements (3,)."""

    images: UInt8[Array, "views h w 3"]
    measurements: Float[Array, "3"]


class ToyViewEncoder(eqx.Module):
    """Two stride-2 convs and a linear projection of one RGB view."""

    convs: tuple[eqx.nn.Conv2d, ...]
    project: eqx.nn.Linear

    def __init__(self, height: int, width: int, features: int, *, key: PRNGKeyArray):
        k = jax.random.split(key, 3)
        self.convs = (
            eqx.nn.Conv2d(3, 8, 3, stride=2, padding=1, key=k[0]),
            eqx.nn.Conv2d(8, 16, 3, stride=2, padding=1, key=k[1]),
        )
        h, w = (height + 3) // 4, (width + 3) // 4
        self.project = eqx.nn.Linear(16 * h * w, features, key=k[2])

    def __call__(self, image: Array) -> Float[Array, " features"]:
        x = jnp.transpose(image.astype(jnp.float32) / 255.0 - 0.5, (2, 0, 1))
        for conv in self.convs:
            x = jax.nn.relu(conv(x))
        return jax.nn.relu(self.project(x.reshape(-1)))


class ToyStudent(eqx.Module):
    """Perception (view encoder, fusion norm) then a planner (trunk, actor head)."""

    view_encoder: ToyViewEncoder
    norm: eqx.nn.LayerNorm
    trunk: eqx.nn.MLP
    actor_head: eqx.nn.Linear

    def __init__(
        self,
        height: int,
        width: int,
        views: int = 1,
        latent_size: int = 32,
        actions: int = 5,
        *,
        key: PRNGKeyArray,
    ):
        k = jax.random.split(key, 3)
        features = 32
        self.view_encoder = ToyViewEncoder(height, width, features, key=k[0])
        self.norm = eqx.nn.LayerNorm(views * features + 3)
        self.trunk = eqx.nn.MLP(views * features + 3, latent_size, 64, 1, jax.nn.relu, key=k[1])
        self.actor_head = eqx.nn.Linear(latent_size, actions, key=k[2])

    def latent(self, observation: ToyObservation) -> Float[Array, " latent"]:
        views = jax.vmap(self.view_encoder)(observation.images).reshape(-1)
        return self.trunk(self.norm(jnp.concatenate([views, observation.measurements])))

    def distribution_from_latent(self, latent: Float[Array, " latent"]) -> Categorical:
        return Categorical(self.actor_head(latent))


def toy_observations(images: UInt8[Array, "n views h w 3"]) -> ToyObservation:
    """Observations with zero measurements around a batch of views."""
    return ToyObservation(images, jnp.zeros((images.shape[0], 3), jnp.float32))


def student_observations(images: UInt8[Array, "n views h w 3"], route_points: int = 4) -> Any:
    """gp-agents `StudentObservation`s around a batch of views: standing still, the route
    straight ahead every 5 m (the scenes hold no measurements or routes of their own)."""
    n = images.shape[0]
    ahead = 5.0 * jnp.arange(1, route_points + 1, dtype=jnp.float32)
    route = jnp.stack([ahead, jnp.zeros_like(ahead)], -1)
    return StudentObservation(
        images=images,
        measurements=jnp.zeros((n, 3), jnp.float32),
        route=jnp.broadcast_to(route, (n, route_points, 2)),
        route_valid=jnp.ones((n, route_points), bool),
        valid=jnp.ones((n,), bool),
    )
