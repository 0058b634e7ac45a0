"""Static render settings: frozen, hashable, passed to `render` as a static argument."""

from __future__ import annotations

import dataclasses


def _power_of_two(x: int) -> bool:
    return x >= 1 and (x & (x - 1)) == 0


@dataclasses.dataclass(frozen=True)
class RenderConfig:
    """How a frame is rendered; every field is static (changing one recompiles).

    Culling budgets bound the work per frame: a view keeps its `boxes_per_view` nearest
    visible boxes, and each tile of `tile_height` x `tile_width` pixels the `boxes_per_tile`
    nearest of those whose screen rectangle touches it. Boxes beyond a budget are dropped.
    """

    tile_height: int = 8
    tile_width: int = 8
    boxes_per_view: int = 32
    boxes_per_tile: int = 16
    boxes_per_chunk: int | None = None
    """Pallas kernel: boxes traced per inner-loop step (it loops only over a tile's boxes);
    None: min(8, boxes_per_tile)."""
    bilinear: bool = False
    """Bilinear ground colours (the class output stays nearest)."""
    fog_distance: float | None = None
    """Metres at which fog reaches 1 - 1/e of the sky colour; None disables fog."""
    num_warps: int = 4
    num_stages: int = 1
    interpret: bool | None = None
    """Pallas interpret mode; None: interpret exactly when not running on a GPU."""

    def __post_init__(self) -> None:
        for name in ("tile_height", "tile_width", "boxes_per_tile", "chunk"):
            if not _power_of_two(getattr(self, name)):
                raise ValueError(f"{name} must be a power of two, got {getattr(self, name)}")
        if self.boxes_per_view < self.boxes_per_tile:
            raise ValueError("boxes_per_view must be at least boxes_per_tile")
        if self.boxes_per_tile < self.chunk:
            raise ValueError("boxes_per_tile must be at least boxes_per_chunk")
        if self.fog_distance is not None and not self.fog_distance > 0:
            raise ValueError(f"fog_distance must be positive, got {self.fog_distance}")

    @property
    def chunk(self) -> int:
        return min(8, self.boxes_per_tile) if self.boxes_per_chunk is None else self.boxes_per_chunk

    @property
    def tile_pixels(self) -> int:
        return self.tile_height * self.tile_width

    @classmethod
    def cpu(cls) -> RenderConfig:
        """Small tiles and budgets: the XLA path pays for every budget slot on every pixel."""
        return cls(tile_height=8, tile_width=8, boxes_per_view=32, boxes_per_tile=8)

    @classmethod
    def gpu(cls) -> RenderConfig:
        """Larger tiles for the kernel; it loops only over the boxes a tile really touches."""
        return cls(tile_height=16, tile_width=16, boxes_per_view=64, boxes_per_tile=32)
