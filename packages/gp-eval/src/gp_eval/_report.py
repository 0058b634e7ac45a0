"""Evaluation reports: one row per policy, one column per metric, as JSON and a Markdown table
(with the config and seeds), and bar / learning-curve plots."""

from __future__ import annotations

import datetime
import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# Headline columns per suite, in table order: (metric key, column title, format).
SUITE_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "closed-loop": (
        ("route_completion", "RC", "{:.3f}"),
        ("goal_rate", "goal", "{:.3f}"),
        ("collisions_per_km", "coll/km", "{:.2f}"),
        ("at_fault_collisions_per_km", "at-fault/km", "{:.2f}"),
        ("offroad_per_km", "offroad/km", "{:.2f}"),
        ("red_lights_per_km", "red/km", "{:.2f}"),
        ("wrong_way_share", "wrong-way", "{:.3f}"),
        ("comfort_rate", "comfort", "{:.3f}"),
        ("km_driven", "km", "{:.2f}"),
    ),
    "robustness": (("km_between_incidents", "km/incident", "{:.2f}"),),
    "carla": (
        ("carla_driving_score", "CARLA DS", "{:.2f}"),
        ("carla_route_completion", "CARLA RC", "{:.2f}"),
        ("carla_infraction_penalty", "CARLA IP", "{:.3f}"),
    ),
    "hugsim": (("hugsim_hdscore", "HD-Score", "{:.3f}"),),
    "nuplan": (("nuplan_cls", "nuPlan CLS", "{:.3f}"),),
    "navsim": (
        ("pdms", "PDMS", "{:.3f}"),
        ("epdms", "EPDMS", "{:.3f}"),
        ("v2_ep", "EP", "{:.3f}"),
        ("v2_nc", "NC", "{:.3f}"),
        ("v2_dac", "DAC", "{:.3f}"),
        ("v2_ddc", "DDC", "{:.3f}"),
        ("v2_tlc", "TLC", "{:.3f}"),
        ("v2_ttc", "TTC", "{:.3f}"),
        ("v2_lk", "LK", "{:.3f}"),
        ("v2_hc", "HC", "{:.3f}"),
        ("v2_ec", "EC", "{:.3f}"),
    ),
}


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf: an unavailable metric
    return value


def markdown_table(rows: Mapping[str, Mapping[str, float]], suites: Sequence[str]) -> str:
    """Markdown table: one row per policy, the headline columns of `suites` (n/a if missing)."""
    columns = [c for s in suites for c in SUITE_COLUMNS[s]]
    head = "| policy | " + " | ".join(title for _, title, _ in columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    lines = [head, rule]
    for name, metrics in rows.items():
        cells = []
        for key, _, fmt in columns:
            v = metrics.get(key)
            ok = v is not None and isinstance(v, int | float) and math.isfinite(v)
            cells.append(fmt.format(v) if ok else "n/a")
        lower_bound = metrics.get("km_between_incidents_lower_bound") == 1.0
        if lower_bound and "robustness" in suites:
            idx = [k for k, _, _ in columns].index("km_between_incidents")
            cells[idx] = "≥ " + cells[idx]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(
    out_dir: str | os.PathLike,
    rows: Mapping[str, Mapping[str, float]],
    suites: Sequence[str],
    config: Mapping[str, Any],
    title: str = "Evaluation",
) -> dict[str, str]:
    """Write report.json (rows, config, date) and report.md (table + config) into `out_dir`.
    Returns the paths written."""
    unknown = [s for s in suites if s not in SUITE_COLUMNS]
    if unknown:
        raise ValueError(f"unknown suites {unknown}; known: {sorted(SUITE_COLUMNS)}")
    os.makedirs(out_dir, exist_ok=True)
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    payload = {"title": title, "date": date, "suites": list(suites), "config": config}
    payload["rows"] = rows
    json_path = os.path.join(out_dir, "report.json")
    with open(json_path, "w") as f:
        json.dump(_json_safe(payload), f, indent=2, sort_keys=False)
    table = markdown_table(rows, suites)
    md = [f"# {title}", "", f"Date: {date}", "", table, "", "Config:", "", "```json"]
    md += [json.dumps(_json_safe(config), indent=2), "```", ""]
    md_path = os.path.join(out_dir, "report.md")
    with open(md_path, "w") as f:
        f.write("\n".join(md))
    return {"json": json_path, "markdown": md_path, "table": table}


def plot_metrics(
    path: str | os.PathLike, rows: Mapping[str, Mapping[str, float]], keys: Sequence[str]
) -> None:
    """Grouped bar chart of `keys` (one group per metric, one bar per policy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(keys) * max(len(names), 1)), 3.5))
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        vals = [float(rows[name].get(k) or np.nan) for k in keys]
        ax.bar(np.arange(len(keys)) + i * width, vals, width, label=name)
    ax.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, keys, rotation=30, ha="right")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_learning_curves(
    path: str | os.PathLike, log_path: str | os.PathLike, keys: Sequence[str], x: str = "step"
) -> None:
    """Plot `keys` against `x` from a JSON-lines metrics log (one JSON object per line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in open(log_path) if line.strip()]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.0 * len(keys), 3.0), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        pts = [(r[x], r[key]) for r in records if x in r and key in r]
        if pts:
            ax.plot(*zip(*pts, strict=True))
        ax.set_title(key)
        ax.set_xlabel(x)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
