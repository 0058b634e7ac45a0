"""Orbax checkpoints of a TrainState: arrays by leaf index, a manifest and the config as JSON.

The state is stored as a flat dict of arrays (typed PRNG keys as their raw key data) so that any
pytree of the same structure restores into it; the manifest (path, shape, dtype per leaf) lets a
mismatched checkpoint fail with a message naming the first differing leaves. Saves go to a new
step folder through orbax's atomic rename, so a failed or interrupted save never touches older
checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np
import orbax.checkpoint as ocp

CONFIG_KEYS_ALLOWED_TO_CHANGE = (
    "ppo.num_updates",
    "log_every",
    "checkpoint_every",
    "keep_checkpoints",
    "eval_every",
    "eval_worlds",
    "eval_steps",
    "max_minutes",
    "progress",
    "init_from",
    "distributed.coordinator_address",
    "distributed.num_processes",
    "distributed.process_id",
)
"""Config entries a resumed run may change (run length, bookkeeping and where it runs, not the
maths): each process of a multi-process run has its own `process_id`, and a run may resume on
other hosts, or on one."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used: unreadable, or made for another config or model."""


def _leaf_records(state: Any) -> tuple[list[Any], list[dict[str, Any]], Any]:
    arrays, _ = eqx.partition(state, eqx.is_array)
    leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(arrays)
    leaves, manifest = [], []
    for path, leaf in leaves_with_paths:
        is_key = jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
        raw = jax.random.key_data(leaf) if is_key else leaf
        leaves.append(raw)
        manifest.append(
            {
                "path": jax.tree_util.keystr(path),
                "shape": list(raw.shape),
                "dtype": str(raw.dtype),
                "prng_impl": str(jax.random.key_impl(leaf)) if is_key else None,
            }
        )
    return leaves, manifest, treedef


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"ppo": {"gamma": .99}} -> {"ppo.gamma": .99}."""
    flat: dict[str, Any] = {}
    for name, value in config.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(flatten_config(value, f"{key}."))
        else:
            flat[key] = value
    return flat


def config_differences(
    saved: dict[str, Any],
    current: dict[str, Any],
    allowed: Sequence[str] = CONFIG_KEYS_ALLOWED_TO_CHANGE,
    saved_as: str = "checkpoint",
) -> list[str]:
    """Entries that differ between two config dicts, except the `allowed` ones (dotted keys);
    `saved_as` names the saved side in each line ("key: checkpoint 1 != now 2")."""
    a, b = flatten_config(saved), flatten_config(current)
    diffs = []
    for key in sorted(set(a) | set(b)):
        if key in allowed:
            continue
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            diffs.append(
                f"{key}: {saved_as} {a.get(key, '<absent>')!r} != now {b.get(key, '<absent>')!r}"
            )
    return diffs


class Checkpointer:
    """Saves and restores TrainStates under `directory/<update>/` keeping the newest few."""

    def __init__(
        self,
        directory: str | Path,
        config: dict[str, Any],
        keep: int = 3,
        complete: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ):
        """`complete` maps the config a checkpoint was saved with to today's form before it is
        compared with `config` (fields added since take their defaults; see
        `TrainConfig.complete_json`); None compares it as saved."""
        self.directory = Path(directory).absolute()
        self.config = json.loads(json.dumps(config))
        self.complete = complete
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, create=True, enable_async_checkpointing=False
            ),
            item_names=("state", "meta"),
        )

    def steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state: Any, extra: dict[str, Any] | None = None) -> None:
        leaves, manifest, _ = _leaf_records(state)
        meta = {"step": step, "config": self.config, "manifest": manifest, **(extra or {})}
        arrays = {f"leaf_{i:05d}": leaf for i, leaf in enumerate(leaves)}
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(arrays), meta=ocp.args.JsonSave(meta)
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def restore(self, template: Any, step: int | None = None) -> tuple[Any, dict[str, Any]]:
        """Restore into the structure, shardings and static parts of `template`.

        Raises CheckpointError when the checkpoint is unreadable, was written for another config
        (other than `CONFIG_KEYS_ALLOWED_TO_CHANGE`) or holds other leaves than the template.
        """
        step = self.latest_step() if step is None else step
        where = self.directory / str(step)
        if step is None:
            raise CheckpointError(f"no checkpoint under {self.directory}")
        meta = self._read_meta(step, where)
        saved = meta.get("config", {})
        if self.complete is not None:
            try:
                saved = self.complete(saved)
            except (TypeError, ValueError) as err:
                raise CheckpointError(
                    f"checkpoint {where} has a config this version cannot read: {err}"
                ) from err
        diffs = config_differences(saved, self.config)
        if diffs:
            raise CheckpointError(
                f"checkpoint {where} was written with another config:\n  " + "\n  ".join(diffs)
            )
        leaves, manifest, treedef = _leaf_records(template)
        saved = meta.get("manifest", [])
        mismatched = [
            f"{want['path']}: checkpoint {have['shape']} {have['dtype']} != "
            f"model {want['shape']} {want['dtype']}"
            for have, want in zip(saved, manifest, strict=False)
            if (have["path"], have["shape"], have["dtype"])
            != (
                want["path"],
                want["shape"],
                want["dtype"],
            )
        ]
        if len(saved) != len(manifest) or mismatched:
            raise CheckpointError(
                f"checkpoint {where} does not fit this model ({len(saved)} leaves saved, "
                f"{len(manifest)} expected): " + "; ".join(mismatched[:5])
            )
        abstract = {
            f"leaf_{i:05d}": jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding)
            for i, leaf in enumerate(leaves)
        }
        try:
            restored = self._manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
            )["state"]
        except Exception as err:
            raise CheckpointError(
                f"checkpoint {where} is unreadable ({type(err).__name__}: {err}); the other saved "
                f"steps {self.steps()} are untouched: pass one of them to resume from it"
            ) from err
        new_leaves = []
        for i, record in enumerate(manifest):
            leaf = restored[f"leaf_{i:05d}"]
            if record["prng_impl"] is not None:
                leaf = jax.random.wrap_key_data(leaf, impl=record["prng_impl"])
            new_leaves.append(leaf)
        arrays = jax.tree_util.tree_unflatten(treedef, new_leaves)
        _, static = eqx.partition(template, eqx.is_array)
        return eqx.combine(arrays, static), meta

    def restore_policy(self, template: Any, step: int | None = None, field: str = "policy") -> Any:
        """Restore only the policy of a saved state into `template`: the `field` attribute of
        the saved state ("policy" of a teacher's TrainState, "student" of a DaggerState).

        Needs no world state, so it works when the world's state layout changed since the run
        (the policy's leaves are still checked by path, shape and dtype).
        """
        prefix = "." + field
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint under {self.directory}")
        where = self.directory / str(step)
        meta = self._read_meta(step, where)
        leaves, manifest, treedef = _leaf_records(template)
        saved = {r["path"]: (i, r) for i, r in enumerate(meta.get("manifest", []))}
        names, problems = [], []
        for want in manifest:
            found = saved.get(prefix + want["path"])
            if found is None:
                problems.append(f"{prefix}{want['path']}: not in the checkpoint")
                continue
            index, have = found
            if (have["shape"], have["dtype"]) != (want["shape"], want["dtype"]):
                problems.append(
                    f"{prefix}{want['path']}: checkpoint {have['shape']} {have['dtype']} != "
                    f"model {want['shape']} {want['dtype']}"
                )
            names.append(f"leaf_{index:05d}")
        if problems:
            raise CheckpointError(
                f"checkpoint {where} holds no policy of this shape: " + "; ".join(problems[:5])
            )
        abstract = {
            name: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding)
            for name, leaf in zip(names, leaves, strict=True)
        }
        try:
            restored = self._manager.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.PyTreeRestore(
                        abstract,
                        restore_args=jax.tree.map(
                            lambda x: ocp.ArrayRestoreArgs(sharding=x.sharding), abstract
                        ),
                        partial_restore=True,
                    )
                ),
            )["state"]
        except Exception as err:
            raise CheckpointError(
                f"checkpoint {where} is unreadable ({type(err).__name__}: {err})"
            ) from err
        arrays = jax.tree_util.tree_unflatten(treedef, [restored[name] for name in names])
        _, static = eqx.partition(template, eqx.is_array)
        return eqx.combine(arrays, static)

    def _read_meta(self, step: int, where: Path) -> dict[str, Any]:
        try:
            return self._manager.restore(
                step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
            )["meta"]
        except Exception as err:  # orbax raises many types for missing/corrupt files
            raise CheckpointError(
                f"checkpoint {where} is unreadable ({type(err).__name__}: {err}); the other saved "
                f"steps {self.steps()} are untouched: pass one of them to resume from it"
            ) from err

    def close(self) -> None:
        self._manager.close()


def tree_equal_report(a: Any, b: Any) -> list[str]:
    """Paths of array leaves that differ bit-wise between two pytrees (for tests and resumes)."""
    la, _ = jax.tree_util.tree_flatten_with_path(eqx.filter(a, eqx.is_array))
    lb = jax.tree_util.tree_leaves(eqx.filter(b, eqx.is_array))
    out = []
    for (path, x), y in zip(la, lb, strict=True):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        if not np.array_equal(np.asarray(x), np.asarray(y)):
            out.append(jax.tree_util.keystr(path))
    return out
