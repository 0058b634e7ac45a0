"""Host-side (numpy) painting of a semantic ground texture from map polygons and polylines.

Texels are tested at their centres; later paint covers earlier paint, so paint roads first,
then markings. Texel [iy, ix] covers origin + ([ix, ix + 1), [iy, iy + 1)) * metres_per_texel.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gp_render._classes import SemanticClass
from gp_render._scene import GroundTexture, make_ground

# Default marking widths and dash pattern, metres (typical road-marking standards).
LANE_LINE_WIDTH = 0.15
STOP_LINE_WIDTH = 0.4
DASH = (3.0, 6.0)
CROSSWALK_STRIPE = (0.6, 0.6)


class GroundPainter:
    """A class raster being painted: `fill_polygon`, `draw_polyline`, then `texture()`."""

    def __init__(
        self,
        origin: ArrayLike,
        size_m: tuple[float, float],
        metres_per_texel: float,
        fill: int = SemanticClass.OFFROAD,
    ) -> None:
        if not metres_per_texel > 0:
            raise ValueError(f"metres_per_texel must be positive, got {metres_per_texel}")
        cols = round(size_m[0] / metres_per_texel)
        rows = round(size_m[1] / metres_per_texel)
        if rows < 1 or cols < 1:
            raise ValueError(f"size_m {size_m} holds no texel at {metres_per_texel} m/texel")
        self.origin = np.asarray(origin, np.float64).reshape(2)
        self.metres_per_texel = float(metres_per_texel)
        self.classes: NDArray[np.int32] = np.full((rows, cols), int(fill), np.int32)

    def _centres(self, rows: slice, cols: slice) -> tuple[NDArray, NDArray]:
        iy = np.arange(rows.start, rows.stop)
        ix = np.arange(cols.start, cols.stop)
        x = self.origin[0] + (ix + 0.5) * self.metres_per_texel
        y = self.origin[1] + (iy + 0.5) * self.metres_per_texel
        return np.meshgrid(x, y)

    def _window(self, lo: NDArray, hi: NDArray) -> tuple[slice, slice] | None:
        """Texel index ranges whose centres may lie in the world box [lo, hi]."""
        rows, cols = self.classes.shape
        a = np.floor((lo - self.origin) / self.metres_per_texel).astype(int)
        b = np.ceil((hi - self.origin) / self.metres_per_texel).astype(int) + 1
        c0, r0 = max(a[0], 0), max(a[1], 0)
        c1, r1 = min(b[0], cols), min(b[1], rows)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def fill_polygon(self, polygon: ArrayLike, class_id: int) -> GroundPainter:
        """Paint texels whose centre is inside a simple polygon (n, 2), even-odd rule."""
        poly = np.asarray(polygon, np.float64).reshape(-1, 2)
        if len(poly) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(poly)}")
        window = self._window(poly.min(0), poly.max(0))
        if window is None:
            return self
        x, y = self._centres(*window)
        inside = np.zeros(x.shape, bool)
        for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
            if y0 == y1:
                continue
            spans = (y0 <= y) != (y1 <= y)
            x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
            inside ^= spans & (x < x_cross)
        self.classes[window][inside] = int(class_id)
        return self

    def draw_polyline(
        self,
        points: ArrayLike,
        class_id: int,
        width: float = LANE_LINE_WIDTH,
        dash: tuple[float, float] | None = None,
    ) -> GroundPainter:
        """Paint a polyline (n, 2) of `width` metres; `dash` = (on, off) metres along it."""
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        if len(pts) < 2:
            raise ValueError(f"a polyline needs at least 2 points, got {len(pts)}")
        # At least half a texel wide, so thin lines never vanish between texel centres.
        half = max(width / 2, 0.5 * self.metres_per_texel)
        travelled = 0.0
        last = len(pts) - 2
        for i, (a, b) in enumerate(itertools.pairwise(pts)):
            seg = b - a
            length = float(np.hypot(*seg))
            window = self._window(np.minimum(a, b) - half, np.maximum(a, b) + half)
            if length > 0 and window is not None:
                x, y = self._centres(*window)
                along = ((x - a[0]) * seg[0] + (y - a[1]) * seg[1]) / length
                clamped = np.clip(along, 0.0, length)
                dist = np.hypot(
                    x - (a[0] + seg[0] * clamped / length), y - (a[1] + seg[1] * clamped / length)
                )
                paint = dist <= half
                # Flat caps at the two ends (crosswalks, stop lines); round joints between.
                if i == 0:
                    paint &= along >= 0.0
                if i == last:
                    paint &= along <= length
                if dash is not None:
                    paint &= np.mod(travelled + clamped, dash[0] + dash[1]) < dash[0]
                self.classes[window][paint] = int(class_id)
            travelled += length
        return self

    def texture(self) -> GroundTexture:
        return make_ground(self.classes, self.origin, self.metres_per_texel)


def build_ground(
    origin: ArrayLike,
    size_m: tuple[float, float],
    metres_per_texel: float,
    *,
    roads: Sequence[ArrayLike] = (),
    solid_lines: Sequence[ArrayLike] = (),
    dashed_lines: Sequence[ArrayLike] = (),
    stop_lines: Sequence[ArrayLike] = (),
    crosswalks: Sequence[tuple[ArrayLike, float]] = (),
) -> GroundTexture:
    """A ground texture: off-road everywhere, road polygons, then markings on top.

    `crosswalks` are (polyline across the road, width along the road) pairs, painted as zebra
    stripes (the gaps stay road).
    """
    painter = GroundPainter(origin, size_m, metres_per_texel)
    for polygon in roads:
        painter.fill_polygon(polygon, SemanticClass.ROAD)
    for line in solid_lines:
        painter.draw_polyline(line, SemanticClass.LANE_SOLID)
    for line in dashed_lines:
        painter.draw_polyline(line, SemanticClass.LANE_DASHED, dash=DASH)
    for line in stop_lines:
        painter.draw_polyline(line, SemanticClass.STOP_LINE, width=STOP_LINE_WIDTH)
    for line, width in crosswalks:
        painter.draw_polyline(line, SemanticClass.CROSSWALK, width=width, dash=CROSSWALK_STRIPE)
    return painter.texture()
