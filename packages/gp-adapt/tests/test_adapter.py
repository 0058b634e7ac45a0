"""The adapter: planner frozen, only the chosen perception parameters move, the gap shrinks."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_adapt as ga
from gp_adapt import testing

TRAIN = 16  # pairs to adapt on; the rest of the toy set is held out
# Adaptation must close a real part of the held-out gap within a few dozen steps.
GAP_REDUCTION = 0.8
# Full encoder fine-tuning needs a gentler step than the few norm / adapter parameters.
LEARNING_RATE = {"encoder": 1e-3, "norm": 3e-3, "adapter": 3e-3}


def _split(toy_pairs):
    real = testing.toy_observations(toy_pairs["shifted"])
    rendered = testing.toy_observations(toy_pairs["scenes"].image)
    head = lambda t: jax.tree.map(lambda x: x[:TRAIN], t)  # noqa: E731
    tail = lambda t: jax.tree.map(lambda x: x[TRAIN:], t)  # noqa: E731
    return (head(real), head(rendered)), (tail(real), tail(rendered))


@pytest.fixture(scope="module")
def student():
    return testing.ToyStudent(24, 32, key=jax.random.key(2))


def _changed(a, b):
    leaves_a = jax.tree.leaves(eqx.filter(a, eqx.is_array))
    leaves_b = jax.tree.leaves(eqx.filter(b, eqx.is_array))
    return any(
        not np.array_equal(np.asarray(x), np.asarray(y))
        for x, y in zip(leaves_a, leaves_b, strict=True)
    )


@pytest.mark.parametrize("trainable", ["encoder", "norm", "adapter"])
def test_adaptation_reduces_the_feature_gap_and_freezes_the_planner(
    toy_pairs, student, trainable, tmp_path
):
    (real, rendered), held_out = _split(toy_pairs)
    config = ga.AdaptConfig(
        trainable=trainable,
        steps=30,
        batch_size=8,
        log_every=10,
        checkpoint_every=30,
        action_kl=0.5,
        learning_rate=LEARNING_RATE[trainable],
    )
    out = tmp_path / trainable if trainable == "encoder" else None
    result = ga.adapt(student, real, rendered, config, eval_pairs=held_out, out_dir=out)
    first, last = result.history[0], result.history[-1]
    assert last["feature_gap"] < GAP_REDUCTION * first["feature_gap"], result.history
    assert np.isfinite(last["action_kl"]) and np.isfinite(last["loss"])
    adapted = result.student
    # The planner: trunk and action head never move.
    assert not _changed(adapted.trunk, student.trunk)
    assert not _changed(adapted.actor_head, student.actor_head)
    if trainable == "encoder":
        assert _changed(adapted.view_encoder, student.view_encoder)
        assert not _changed(adapted.norm, student.norm)
    elif trainable == "norm":
        assert _changed(adapted.norm, student.norm)
        assert not _changed(adapted.view_encoder, student.view_encoder)
    else:
        assert isinstance(adapted.view_encoder, ga.AdaptedEncoder)
        assert not _changed(adapted.view_encoder.encoder, student.view_encoder)
        assert not _changed(adapted.norm, student.norm)
    if out is not None:
        rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows] == [0, 10, 20, 30]
        assert (out / "adaptation.png").exists() and (out / "config.json").exists()
        restored = ga.restore_adapted(out, student)
        assert not _changed(restored, adapted)


def test_image_adapter_starts_as_the_identity(toy_pairs, student):
    config = ga.AdaptConfig(trainable="adapter")
    wrapped = ga.prepare_student(student, config, key=jax.random.key(0))
    obs = jax.tree.map(lambda x: x[0], testing.toy_observations(toy_pairs["shifted"]))
    # float32 round trip image / 255 * 255: latents agree to rounding.
    latent = eqx.filter_jit(lambda model, o: model.latent(o))
    np.testing.assert_allclose(
        np.asarray(latent(wrapped, obs)), np.asarray(latent(student, obs)), rtol=1e-4, atol=1e-5
    )
    mask = ga.trainable_mask(wrapped, config)
    assert not any(jax.tree.leaves(mask.trunk)) and any(jax.tree.leaves(mask.view_encoder.adapter))
    with pytest.raises(ValueError, match="prepare_student"):
        ga.trainable_mask(student, config)


def test_feature_losses_against_hand_values():
    a = jnp.asarray([[1.0, 0.0], [0.0, 2.0]])
    b = jnp.asarray([[0.0, 1.0], [0.0, 1.0]])
    # l2: mean of squared distances (2 and 1); cosine: mean of 1 - (0, 1).
    assert float(ga.feature_loss(a, b, "l2")) == pytest.approx(1.5)
    assert float(ga.feature_loss(a, b, "cosine")) == pytest.approx(0.5, abs=1e-6)


def test_config_refuses_unknown_modes():
    with pytest.raises(ValueError, match="trainable"):
        ga.AdaptConfig(trainable="everything")
    with pytest.raises(ValueError, match="feature_loss"):
        ga.AdaptConfig(feature_loss="l1")
    with pytest.raises(ValueError, match="lr_schedule"):
        ga.AdaptConfig(lr_schedule="step")


def test_cosine_schedule_decays_to_zero_over_the_run():
    constant = ga.learning_rate_schedule(ga.AdaptConfig(learning_rate=2e-3, steps=100))
    assert constant == 2e-3
    cosine = ga.learning_rate_schedule(
        ga.AdaptConfig(learning_rate=2e-3, steps=100, lr_schedule="cosine")
    )
    assert float(cosine(0)) == pytest.approx(2e-3)
    assert float(cosine(50)) == pytest.approx(1e-3)
    assert float(cosine(100)) == pytest.approx(0.0, abs=1e-12)


def test_gp_agents_student_adapts_with_its_planner_frozen(toy_pairs):
    """The real pixel student: only its view encoder moves, and the gap shrinks."""
    gp_agents = pytest.importorskip("gp_agents")
    gp_world = pytest.importorskip("gp_world")
    real = testing.student_observations(toy_pairs["shifted"])
    rendered = testing.student_observations(toy_pairs["scenes"].image)
    one = jax.tree.map(lambda x: x[0], rendered)
    student = gp_agents.StudentPolicy(
        gp_agents.StudentConfig.toy(), one, gp_world.action_space("jerk"), key=jax.random.key(4)
    )
    head = lambda t: jax.tree.map(lambda x: x[:TRAIN], t)  # noqa: E731
    tail = lambda t: jax.tree.map(lambda x: x[TRAIN:], t)  # noqa: E731
    config = ga.AdaptConfig(steps=30, batch_size=8, log_every=30, action_kl=0.5)
    result = ga.adapt(
        student, head(real), head(rendered), config, eval_pairs=(tail(real), tail(rendered))
    )
    assert result.history[-1]["feature_gap"] < GAP_REDUCTION * result.history[0]["feature_gap"]
    adapted = result.student
    assert _changed(adapted.view_encoder, student.view_encoder)
    for frozen in (
        "measurement_encoder",
        "route_encoder",
        "norm",
        "trunk",
        "actor_head",
        "value_head",
        "trajectory_head",
    ):
        assert not _changed(getattr(adapted, frozen), getattr(student, frozen)), frozen
