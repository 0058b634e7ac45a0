"""Frozen configs: the synthetic domain shift and the adaptation run, with named presets."""

from __future__ import annotations

import dataclasses
from typing import Literal

MAX_SEVERITY = 4


@dataclasses.dataclass(frozen=True)
class DomainShift:
    """A SYNTHETIC shifted domain at `severity` 0 (none) .. 4 (strongest); magnitudes are the
    values at severity 4 and scale linearly. `seed` fixes the domain's systematic look."""

    severity: int = 2
    seed: int = 0
    palette_jitter: float = 0.25
    """Max change of each class colour channel (RGB in [0, 1]): textures and paint."""
    colour_cast: float = 0.25
    """Std of the log gain per channel: white balance."""
    exposure_stops: float = 0.75
    """Systematic exposure offset, stops (sign from the seed)."""
    exposure_flicker: float = 0.2
    """Per-image exposure std, stops."""
    gamma_change: float = 0.4
    """Tone curve: gamma = (1 + gamma_change)^(+-1)."""
    blur_pixels: float = 1.2
    """Gaussian lens blur sigma, pixels (kernel radius 4)."""
    grain: float = 0.2
    """Amplitude of the smooth multiplicative surface grain."""
    light_gradient: float = 0.6
    """Brightness change across the image along a random direction."""
    read_noise: float = 0.03
    shot_noise: float = 0.06
    jitter_deg: float = 1.5
    """Camera rotation std per axis, degrees."""
    jitter_m: float = 0.05
    """Camera offset std per axis, metres."""

    def __post_init__(self) -> None:
        if not 0 <= self.severity <= MAX_SEVERITY:
            raise ValueError(f"severity must lie in 0..{MAX_SEVERITY}, got {self.severity}")

    @property
    def strength(self) -> float:
        """Severity as a fraction of the strongest shift."""
        return self.severity / MAX_SEVERITY

    @classmethod
    def at(cls, severity: int, seed: int = 0) -> DomainShift:
        return cls(severity=severity, seed=seed)


@dataclasses.dataclass(frozen=True)
class AdaptConfig:
    """How the perception encoder is fine-tuned on paired (real, rendered) samples."""

    trainable: Literal["encoder", "norm", "adapter"] = "encoder"
    """encoder: all perception-encoder weights; norm: normalisation layers only;
    adapter: a small zero-initialised residual image adapter in front of the frozen encoder."""
    feature_loss: Literal["l2", "cosine"] = "l2"
    action_kl: float = 0.0
    """Weight of KL(frozen student on the rendered view || adapted student on the real image)."""
    learning_rate: float = 1e-3
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """cosine: decays from `learning_rate` to 0 over `steps` (the adapted latent settles)."""
    steps: int = 200
    batch_size: int = 16
    adapter_width: int = 8
    """Hidden channels of the residual image adapter."""
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        if self.trainable not in ("encoder", "norm", "adapter"):
            raise ValueError(f"trainable must be encoder, norm or adapter, got {self.trainable!r}")
        if self.feature_loss not in ("l2", "cosine"):
            raise ValueError(f"feature_loss must be l2 or cosine, got {self.feature_loss!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.steps < 1 or self.batch_size < 1 or not self.learning_rate > 0:
            raise ValueError("steps, batch_size and learning_rate must be positive")
        if self.action_kl < 0:
            raise ValueError(f"action_kl must be >= 0, got {self.action_kl}")

    @classmethod
    def toy(cls) -> AdaptConfig:
        """Seconds on a 2-core CPU: a few dozen steps on a handful of pairs."""
        return cls(steps=60, batch_size=8, log_every=10, checkpoint_every=30)

    @classmethod
    def demo(cls) -> AdaptConfig:
        return cls(steps=400, batch_size=16, action_kl=1.0, log_every=20, checkpoint_every=200)


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """The quality experiment on the SYNTHETIC shifted domain (see `quality_experiment`)."""

    student: Literal["toy", "gp_agents"] = "toy"
    """toy: the small test student; gp_agents: `StudentPolicy` with `StudentConfig.toy()`."""
    width: int = 32
    height: int = 24
    max_boxes: int = 4
    train_scenes: int = 512
    """Scenes the student is behaviour-cloned on (rendered views)."""
    eval_scenes: int = 128
    pool_scenes: int = 256
    """Scenes whose (shifted, rendered) pairs adaptation may use."""
    sample_counts: tuple[int, ...] = (4, 16, 64, 256)
    severities: tuple[int, ...] = (0, 1, 2, 3, 4)
    shift: DomainShift = dataclasses.field(
        default_factory=lambda: DomainShift(severity=MAX_SEVERITY)
    )
    """Magnitudes and seed of the SYNTHETIC domain; its severity is ignored (`severities` runs)."""
    bc_steps: int = 600
    bc_batch: int = 64
    bc_learning_rate: float = 1e-3
    adapt: AdaptConfig = dataclasses.field(
        default_factory=lambda: AdaptConfig(
            steps=300, batch_size=16, action_kl=1.0, log_every=50, checkpoint_every=300
        )
    )
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.sample_counts or min(self.sample_counts) < 1:
            raise ValueError(f"sample_counts must be positive, got {self.sample_counts}")
        if max(self.sample_counts) > self.pool_scenes:
            raise ValueError(
                f"sample_counts {self.sample_counts} exceed pool_scenes {self.pool_scenes}"
            )
        for s in self.severities:
            DomainShift(severity=s)

    @classmethod
    def toy(cls) -> ExperimentConfig:
        """5-7 minutes on a shared 2-core CPU."""
        return cls()

    @classmethod
    def demo(cls) -> ExperimentConfig:
        """gp-agents' pixel student, larger images, more scenes and pairs."""
        return cls(
            student="gp_agents",
            width=64,
            height=48,
            max_boxes=6,
            train_scenes=1024,
            eval_scenes=256,
            pool_scenes=256,
            sample_counts=(8, 32, 128, 256),
            bc_steps=1500,
            adapt=AdaptConfig(
                steps=400, batch_size=16, action_kl=1.0, log_every=50, checkpoint_every=400
            ),
        )
