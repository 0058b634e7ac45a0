"""The quality experiment end to end on a tiny configuration (slow: it compiles the renderer
for new batch shapes; run with --all)."""

import json

import pytest

import gp_adapt as ga


@pytest.mark.slow
def test_quality_experiment_writes_its_table(tmp_path):
    config = ga.ExperimentConfig(
        train_scenes=32,
        eval_scenes=16,
        pool_scenes=8,
        sample_counts=(4, 8),
        severities=(0, 4),
        bc_steps=20,
        bc_batch=16,
        adapt=ga.AdaptConfig(steps=5, batch_size=4, log_every=5, checkpoint_every=5),
    )
    summary = ga.quality_experiment(config, tmp_path, log=lambda _: None)
    rows = summary["rows"]
    assert [r["pairs"] for r in rows] == [0, 0, 0, 4, 8]
    # Severity 0 is the rendered view itself: the same agreement as in-domain.
    assert rows[1]["agreement"] == rows[0]["agreement"]
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == rows
    assert (tmp_path / "quality.png").exists() and (tmp_path / "adapt_8" / "log.jsonl").exists()


def test_experiment_config_checks_pool_size():
    with pytest.raises(ValueError, match="pool_scenes"):
        ga.ExperimentConfig(pool_scenes=8, sample_counts=(16,))
    with pytest.raises(ValueError, match="severity"):
        ga.ExperimentConfig(severities=(7,))
