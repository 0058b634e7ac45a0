"""Self-play DAgger: the pixel student learns from the privileged teacher in the states it
visits itself."""

from gp_distill._buffer import SampleBuffer, add_samples, empty_buffer, sample_batch
from gp_distill._dagger import Dagger, DaggerState, beta_schedule, make_dagger, make_optimizer
from gp_distill._evaluation import PixelDriver, PixelWorld, evaluate_student
from gp_distill._labels import fork_trajectories, teacher_action, teacher_outputs
from gp_distill._losses import (
    TERMS,
    DistillSample,
    LossTerms,
    actions_agree,
    distill_loss,
    sample_terms,
)
from gp_distill._run import (
    build_distillation,
    distill_student,
    export_student,
    load_student,
    plot_distillation,
    run_config,
)
from gp_distill.config import DaggerConfig, DistillConfig, LossWeights

__version__ = "0.1.0"

__all__ = [
    "TERMS",
    "Dagger",
    "DaggerConfig",
    "DaggerState",
    "DistillConfig",
    "DistillSample",
    "LossTerms",
    "LossWeights",
    "PixelDriver",
    "PixelWorld",
    "SampleBuffer",
    "__version__",
    "actions_agree",
    "add_samples",
    "beta_schedule",
    "build_distillation",
    "distill_loss",
    "distill_student",
    "empty_buffer",
    "evaluate_student",
    "export_student",
    "fork_trajectories",
    "load_student",
    "make_dagger",
    "make_optimizer",
    "plot_distillation",
    "run_config",
    "sample_batch",
    "sample_terms",
    "teacher_action",
    "teacher_outputs",
]
