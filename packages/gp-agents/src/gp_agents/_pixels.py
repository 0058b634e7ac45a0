"""Pixel observations: gp-world's scene export -> boxes and camera poses per agent -> gp-render.

The glue between world and renderer (neither knows the other): map geometry becomes one semantic
ground texture per map, painted once on the host; each step, every agent's rig renders the
world's boxes (its own box left out, since its cameras sit inside it) on its map's texture.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

import gp_render as gr
import gp_world as gw
from gp_agents._student import StudentObservation

# gp-world box classes (agent kinds car, van, truck, cyclist, then light heads) -> render classes.
_BOX_CLASSES = np.array(
    [
        gr.SemanticClass.VEHICLE,
        gr.SemanticClass.VEHICLE,
        gr.SemanticClass.VEHICLE,
        gr.SemanticClass.CYCLIST,
        gr.SemanticClass.TRAFFIC_LIGHT,
    ],
    np.int32,
)
_MEASUREMENT_COLUMNS = (0, 1, 3)  # speed, accel, steer in gp-world's ego features


@dataclasses.dataclass(frozen=True)
class PixelConfig:
    """The student's camera rig and how its views are rendered."""

    cameras: int = 3
    """Forward cameras side by side, left to right, edges touching."""
    width: int = 96
    height: int = 64
    horizontal_fov_deg: float = 60.0
    mount: tuple[float, float, float, float, float] = (1.5, 0.0, 1.6, 0.0, 0.08)
    """Centre camera on the ego: x forward, y left, z up (m), yaw, pitch down (rad)."""
    far: float = 80.0
    """Metres beyond which nothing is drawn."""
    metres_per_texel: float = 0.25
    """Ground texture resolution (lane markings are 0.15 m wide; thinner texels cost memory)."""
    render: gr.RenderConfig = dataclasses.field(
        default_factory=lambda: gr.RenderConfig(
            tile_height=8, tile_width=8, boxes_per_view=16, boxes_per_tile=8
        )
    )
    backend: Literal["xla", "pallas", "auto"] = "auto"

    def __post_init__(self) -> None:
        if self.cameras < 1 or self.width < 1 or self.height < 1:
            raise ValueError(
                f"PixelConfig needs >= 1 camera of >= 1x1 pixels, got {self.cameras} of "
                f"{self.width}x{self.height}"
            )
        if not self.metres_per_texel > 0:
            raise ValueError(f"metres_per_texel must be positive, got {self.metres_per_texel}")

    @classmethod
    def toy(cls) -> PixelConfig:
        """One small forward camera: cheap enough for CI on a CPU."""
        return cls(
            cameras=1,
            width=48,
            height=32,
            horizontal_fov_deg=90.0,
            render=gr.RenderConfig(tile_height=8, tile_width=8, boxes_per_view=8, boxes_per_tile=4),
        )

    @classmethod
    def demo(cls) -> PixelConfig:
        """Three forward cameras of 64x96 (the default student rig)."""
        return cls()

    @classmethod
    def full(cls) -> PixelConfig:
        """The default rig with GPU-sized culling budgets."""
        return cls(render=gr.RenderConfig.gpu())


def ground_texture(maps: Any, map_id: int, metres_per_texel: float) -> gr.GroundTexture:
    """The semantic ground of one map of a gp-world MapBank (host numpy, built once per map).

    Road = drivable polygons; crosswalks; dashed lines on each lane's left boundary (between
    lanes and on the centre of two-way roads); solid road edges; stop lines.
    """
    geometry = gw.map_geometry(maps, map_id)
    origin = np.asarray(maps.origin[map_id], np.float64)
    rows, cols = np.asarray(maps.drivable).shape[1:]
    extent = (cols * float(maps.raster_resolution), rows * float(maps.raster_resolution))
    painter = gr.GroundPainter(origin, extent, metres_per_texel)
    for polygon, cls in zip(geometry.polygons, geometry.polygon_classes, strict=True):
        if gw.MAP_CLASSES[cls] == "drivable":
            painter.fill_polygon(polygon, gr.SemanticClass.ROAD)
    for polygon, cls in zip(geometry.polygons, geometry.polygon_classes, strict=True):
        if gw.MAP_CLASSES[cls] == "crosswalk":
            painter.fill_polygon(polygon, gr.SemanticClass.CROSSWALK)
    g = lambda name: np.asarray(getattr(maps, name)[map_id])  # noqa: E731
    points = g("lane_points")
    for first, count, width, ok, connector in zip(
        g("lane_first_point"),
        g("lane_num_points"),
        g("lane_width"),
        g("lanes_valid"),
        g("lane_is_connector"),
        strict=True,
    ):
        if ok and not connector and count >= 2:
            lane = points[first : first + count]
            left = np.stack([-np.sin(lane[:, 2]), np.cos(lane[:, 2])], -1)
            painter.draw_polyline(
                lane[:, :2] + 0.5 * width * left, gr.SemanticClass.LANE_DASHED, dash=(3.0, 6.0)
            )
    for line, cls in zip(geometry.polylines, geometry.polyline_classes, strict=True):
        name = gw.MAP_CLASSES[cls]
        if name == "road_edge":
            painter.draw_polyline(line, gr.SemanticClass.LANE_SOLID)
        elif name == "stop_line":
            painter.draw_polyline(line, gr.SemanticClass.STOP_LINE, width=0.4)
    return painter.texture()


class GroundBank(eqx.Module):
    """The ground textures of every map of a bank, padded to one raster size (off-map fill)."""

    classes: Int[Array, "maps rows cols"]
    origin: Float[Array, "maps 2"]
    metres_per_texel: Float[Array, " maps"]

    def texture(self, map_id: Int[Array, ""]) -> gr.GroundTexture:
        return gr.GroundTexture(
            self.classes[map_id], self.origin[map_id], self.metres_per_texel[map_id]
        )


def ground_bank(maps: Any, metres_per_texel: float) -> GroundBank:
    textures = [ground_texture(maps, m, metres_per_texel) for m in range(maps.num_maps)]
    rows = max(t.shape[0] for t in textures)
    cols = max(t.shape[1] for t in textures)
    classes = np.full((len(textures), rows, cols), int(gr.SemanticClass.OFF_MAP), np.int32)
    for i, t in enumerate(textures):
        classes[i, : t.shape[0], : t.shape[1]] = np.asarray(t.classes)
    return GroundBank(
        jnp.asarray(classes),
        jnp.stack([t.origin for t in textures]),
        jnp.stack([t.metres_per_texel for t in textures]),
    )


def scene_boxes(scene: gw.Scene) -> gr.Boxes:
    """gp-world's scene boxes (agents then light heads) as gp-render boxes; instance = index."""
    return gr.Boxes(
        center=scene.centre,
        size=scene.size,
        yaw=scene.yaw,
        color=scene.colour,
        class_id=jnp.asarray(_BOX_CLASSES)[scene.box_class],
        instance_id=jnp.arange(scene.yaw.shape[0], dtype=jnp.int32),
        valid=scene.valid,
    )


class PixelPipeline(eqx.Module):
    """Renders every agent's camera rig; build with `make_pixel_pipeline(cfg, maps)`."""

    config: PixelConfig = eqx.field(static=True)
    rig: gr.Camera
    grounds: GroundBank
    palette: Float[Array, "classes 3"]

    def render_agent(
        self, boxes: gr.Boxes, ground: gr.GroundTexture, agent: Int[Array, ""], pose: Array
    ) -> Array:
        """uint8 [cameras, height, width, 3] seen from `pose` (x, y, z, yaw) of slot `agent`."""
        own = jnp.arange(boxes.valid.shape[0]) == agent
        boxes = eqx.tree_at(lambda b: b.valid, boxes, boxes.valid & ~own)
        views = gr.rig_views(self.rig, jnp.stack([pose[0], pose[1], pose[3]]))
        return jax.vmap(
            lambda view: (
                gr.render(
                    view,
                    boxes,
                    ground,
                    self.palette,
                    self.config.render,
                    backend=self.config.backend,
                ).rgb
            )
        )(views)

    def render(self, scene: gw.Scene, map_id: Int[Array, ""], render_agent: Any = None) -> Array:
        """Every agent's views of one world: uint8 [A, cameras, height, width, 3].

        `render_agent(boxes, ground, agent, pose)` replaces `self.render_agent` (a camera
        domain that draws the same scene otherwise, e.g. gp-adapt's shifted domain)."""
        render_agent = self.render_agent if render_agent is None else render_agent
        boxes = scene_boxes(scene)
        ground = self.grounds.texture(map_id)
        agents = jnp.arange(scene.ego_pose.shape[0], dtype=jnp.int32)
        images = jax.vmap(lambda agent, pose: render_agent(boxes, ground, agent, pose))(
            agents, scene.ego_pose
        )
        # Empty slots are parked far away; black frames keep their samples recognisable.
        return jnp.where(scene.ego_valid[:, None, None, None, None], images, jnp.uint8(0))

    def observe(
        self, scene: gw.Scene, privileged: gw.PrivilegedObservation, map_id: Int[Array, ""]
    ) -> StudentObservation:
        """The student's observation of every agent of one world (leading agent axis A)."""
        return student_observation(self.render(scene, map_id), privileged)

    def observe_world(self, world: Any, state: Any) -> StudentObservation:
        """`observe` from a gp-world World and its WorldState (one world)."""
        return self.observe(world.scene(state), world.observe(state), state.map_id)


def student_observation(images: Array, privileged: gw.PrivilegedObservation) -> StudentObservation:
    """The student's observation of every agent of one world: its camera images
    uint8 [A, cameras, height, width, 3] and, from the privileged observation, only what a
    real car measures (speed, acceleration, steering) and the route command."""
    return StudentObservation(
        images=images,
        measurements=privileged.ego[:, list(_MEASUREMENT_COLUMNS)],
        route=privileged.route[..., :2],
        route_valid=privileged.route_valid,
        valid=privileged.valid,
    )


def student_observation_spec(cfg: PixelConfig, num_route_points: int) -> StudentObservation:
    """Shapes and dtypes (ShapeDtypeStructs) of ONE agent's StudentObservation under `cfg` and a
    world observing `num_route_points` route waypoints: enough to build a StudentPolicy template
    without maps or a pipeline."""
    s = jax.ShapeDtypeStruct
    return StudentObservation(
        images=s((cfg.cameras, cfg.height, cfg.width, 3), jnp.uint8),
        measurements=s((len(_MEASUREMENT_COLUMNS),), jnp.float32),
        route=s((num_route_points, 2), jnp.float32),
        route_valid=s((num_route_points,), jnp.bool_),
        valid=s((), jnp.bool_),
    )


def make_pixel_pipeline(cfg: PixelConfig, maps: Any) -> PixelPipeline:
    """Paint the ground of every map in `maps` (host, once) and build the rig."""
    rig = gr.forward_rig(
        cfg.width,
        cfg.height,
        cfg.cameras,
        cfg.horizontal_fov_deg,
        mount=cfg.mount,
        far=cfg.far,
    )
    return PixelPipeline(cfg, rig, ground_bank(maps, cfg.metres_per_texel), gr.default_palette())
