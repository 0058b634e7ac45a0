"""A run fitted to its time (`TrainConfig.fit_schedule`): its length over one sitting and
several, and its exact repeat from its log (`schedule_from`), on a clock the test controls."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys

import jax
import pytest

import gp_agents as ga
from gp_agents._checkpoint import tree_equal_report

# The small training config the trainer tests share (as two_process_worker.py imports it).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_trainer import CFG


def test_a_run_fits_its_schedule_to_its_time_budget(tmp_path, lane_world):
    """`fit_schedule`: once compiled, a run measures its speed and shortens its length to what
    fits in `max_minutes`; the learning rate and the entropy bonus end with it. `max_minutes`
    is the budget of all the run's sittings: a resumed run refits to what is left of it. Time
    comes from a clock that ticks 1 s per reading, so the fitted length is exact: a call of 2
    updates and its checkpoint take 3 s (readings before, after and at the checkpoint), the
    first call of a sitting (compiling) is not measured, and 18 s hold 12 updates."""

    def ticking(seconds: float):
        now = [0.0]

        def clock() -> float:
            now[0] += seconds
            return now[0] - seconds

        return clock

    fit = dataclasses.replace(
        CFG,
        ppo=dataclasses.replace(CFG.ppo, num_updates=1000, lr_schedule="linear"),
        max_minutes=0.3,
        fit_schedule=True,
        eval_worlds=2,
        eval_steps=8,
        eval_every=0,  # one held-out evaluation, at the end
        keep_checkpoints=6,  # all of them, to resume from each
    )
    trainer = ga.make_trainer(fit, lane_world, devices=jax.devices()[:1])

    def train(cfg, folder: str, speed: float = 1, with_trainer=trainer):
        return ga.train_teacher(
            cfg,
            tmp_path / folder,
            world=lane_world,
            heldout_world=lane_world,
            trainer=with_trainer,
            clock=ticking(speed),
        )

    final = train(fit, "a")
    assert int(final.update) == 12 and final.run_length == 12
    lines = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert "heldout_goal_rate" in lines[-1] and int(lines[-1]["update"]) == 12
    lines = lines[:-1]  # the updates' lines
    # Fitted after the second call (the first one compiled): its updates ran at the full length.
    assert [r["planned_updates"] for r in lines] == [1000] * 4 + [12] * 8
    steps = fit.ppo.epochs * fit.ppo.num_minibatches
    fitted, unfitted = ga.learning_rate_schedule(fit.ppo, 12), ga.learning_rate_schedule(fit.ppo)
    assert lines[-1]["learning_rate"] == pytest.approx(float(fitted(11 * steps)), rel=1e-5)
    assert lines[-1]["learning_rate"] < 0.1 * float(unfitted(11 * steps))
    assert lines[-1]["ent_coef"] == pytest.approx(0.0, abs=1e-9)  # ent_coef_end, reached

    # Resumed when finished: its budget is spent, nothing runs and nothing is logged again.
    log_a = (tmp_path / "a" / "metrics.jsonl").read_text()
    again_a = train(fit, "a")
    assert tree_equal_report(final, again_a) == []
    assert (tmp_path / "a" / "metrics.jsonl").read_text() == log_a

    def resumed_from(step: int, folder: str, cfg=fit, speed: float = 1, strip: bool = False):
        """Run a, resumed in `folder` from its checkpoint at `step` (its time taken out of the
        checkpoint with `strip`, as checkpoints were saved before they recorded it)."""
        shutil.copytree(tmp_path / "a", tmp_path / folder)
        for later in range(step + 2, 13, 2):
            shutil.rmtree(tmp_path / folder / "checkpoints" / str(later))
        if strip:
            meta_path = tmp_path / folder / "checkpoints" / str(step) / "meta" / "metadata"
            meta = json.loads(meta_path.read_text())
            del meta["seconds_trained"]
            meta_path.write_text(json.dumps(meta))
        state = train(cfg, folder, speed)
        log = (tmp_path / folder / "metrics.jsonl").read_text().splitlines()
        return state, [json.loads(x).get("planned_updates") for x in log]

    # At the same speed from update 8 (12 of its 18 s spent): it refits to the same length and
    # ends where the uninterrupted run did.
    resumed, planned = resumed_from(8, "b")
    assert tree_equal_report(final, resumed) == []
    assert planned == [1000] * 4 + [12] * 8 + [None]
    # From update 4 (6 s spent) on a clock twice as slow: 2 updates per 6 s fit in the 2 s
    # left after its second call, so the run ends there, at 8.
    slower, planned = resumed_from(4, "slower", speed=2)
    assert int(slower.update) == 8 and slower.run_length == 8
    # From update 4 with twice the minutes: 24 s left hold 16 updates more than the 8 done.
    twice = dataclasses.replace(fit, max_minutes=0.6)
    longer, planned = resumed_from(4, "longer", twice)
    assert int(longer.update) == 24 and planned == [1000] * 4 + [12] * 4 + [24] * 16 + [None]
    steps = fit.ppo.epochs * fit.ppo.num_minibatches
    lr_24 = json.loads((tmp_path / "longer" / "metrics.jsonl").read_text().splitlines()[-2])
    assert lr_24["learning_rate"] == pytest.approx(
        float(ga.learning_rate_schedule(fit.ppo, 24)(23 * steps)), rel=1e-5
    )
    # A checkpoint without its time (saved before checkpoints recorded it) keeps its length:
    # with twice the minutes, it still ends where the uninterrupted run did.
    kept, planned = resumed_from(4, "unrecorded", twice, strip=True)
    assert tree_equal_report(final, kept) == []

    with pytest.raises(ValueError, match="fit_schedule"):
        unfitted_trainer = ga.make_trainer(CFG, lane_world, devices=jax.devices()[:1])
        train(fit, "c", with_trainer=unfitted_trainer)

    # `schedule_from` repeats the fitted run exactly on a machine five times as slow, without a
    # time limit, in two chunks: the lengths come from run a's log, not from the clock.
    again = dataclasses.replace(fit, max_minutes=0.0, schedule_from=str(tmp_path / "a"))
    assert ga.logged_run_lengths(again) == {u: 1000 if u <= 4 else 12 for u in range(1, 13)}
    # 45 s: the time limit of each sitting (not the run's), passed after the fourth call of
    # 15 s (three readings of 5 s each).
    chunk = dataclasses.replace(again, max_minutes=0.75)
    first = train(chunk, "r", 5)
    assert int(first.update) == 8
    repeated = train(again, "r", 5)
    assert tree_equal_report(final, repeated) == []
    lines_r = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["planned_updates"] for r in lines_r if "planned_updates" in r] == [
        r["planned_updates"] for r in lines
    ]

    # Bad sources are named, before the run folder is touched: another config, a run not
    # fitted, a log with holes.
    with pytest.raises(ValueError, match="seed"):
        other_seed = dataclasses.replace(again, seed=again.seed + 1)
        ga.train_teacher(
            other_seed, tmp_path / "e", world=lane_world, heldout_world=lane_world, trainer=trainer
        )
    assert not (tmp_path / "e").exists()
    with pytest.raises(ValueError, match="log_every"):
        ga.logged_run_lengths(dataclasses.replace(again, log_every=4))
    unfitted = tmp_path / "unfitted"
    unfitted.mkdir()
    (unfitted / "config.json").write_text(json.dumps(again.to_json()))
    (unfitted / "metrics.jsonl").write_text(json.dumps({"update": 1, "goal_rate": 0.0}) + "\n")
    with pytest.raises(ValueError, match="not fitted"):
        ga.logged_run_lengths(dataclasses.replace(again, schedule_from=str(unfitted)))
    holes = [r for r in lines if r["update"] != 7]
    (unfitted / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in holes))
    with pytest.raises(ValueError, match=r"misses the lengths of updates \[7\]"):
        ga.logged_run_lengths(dataclasses.replace(again, schedule_from=str(unfitted)))
