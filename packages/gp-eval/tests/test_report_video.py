"""Reports (JSON, Markdown, plots) and rollout videos."""

import dataclasses
import json

import imageio.v2 as imageio
import numpy as np
import pytest

from gp_eval import (
    VideoConfig,
    markdown_table,
    plot_metrics,
    render_rollout,
    write_report,
    write_video,
)

ROWS = {
    "baseline": {
        "carla_driving_score": 95.2912,
        "km_between_incidents": 3.2,
        "km_between_incidents_lower_bound": 1.0,
    },
    "teacher": {
        "carla_driving_score": float("nan"),
        "km_between_incidents": 0.5,
        "km_between_incidents_lower_bound": 0.0,
    },
}


def test_markdown_table():
    table = markdown_table(ROWS, ["robustness", "carla"]).splitlines()
    assert table[0] == "| policy | km/incident | CARLA DS | CARLA RC | CARLA IP |"
    # No incident in 3.2 km is a lower bound; NaN and missing metrics read n/a.
    assert table[2] == "| baseline | ≥ 3.20 | 95.29 | n/a | n/a |"
    assert table[3] == "| teacher | 0.50 | n/a | n/a | n/a |"


def test_write_report(tmp_path):
    out = write_report(tmp_path, ROWS, ["carla"], {"seeds": [0, 1]}, title="t")
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["rows"]["teacher"]["carla_driving_score"] is None  # NaN is not JSON
    assert data["config"] == {"seeds": [0, 1]}
    assert out["table"] in (tmp_path / "report.md").read_text()
    with pytest.raises(ValueError, match="unknown suites"):
        write_report(tmp_path, ROWS, ["carla", "vibes"], {})
    plot_metrics(tmp_path / "bars.png", ROWS, ["carla_driving_score"])
    assert imageio.imread(tmp_path / "bars.png").ndim == 3


def test_video_marks_events(town_run, tmp_path):
    world, _, result = town_run
    record = result.record
    collision = np.array(record.collision)
    collision[0, 5, 0] = True  # mark a (made-up) collision of the followed agent at step 5
    fields = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    record = type(record)(**{**fields, "collision": collision})
    cfg = VideoConfig(bev_pixels=64, metres_per_pixel=1.0, camera_width=48, camera_height=64)
    frames = render_rollout(record, world.maps, 0, follow=0, steps=range(4, 7), cfg=cfg)
    assert frames.shape == (3, 64, 112, 3) and frames.dtype == np.uint8
    red = np.all(frames == np.array([230, 30, 30], np.uint8), axis=-1)
    assert red[1].sum() > 50 and red[0].sum() == 0 and red[2].sum() == 0
    write_video(tmp_path / "clip.gif", frames)
    assert imageio.mimread(tmp_path / "clip.gif")[0].shape[:2] == (64, 112)
