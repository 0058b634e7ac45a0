"""Perception adaptation: fine-tune the student's encoder so real camera images map into the
latent its planner acts on, from paired (real image, rendered view of the same scene) samples."""

from gp_adapt._calibration import (
    Calibration,
    calibrated_view,
    calibration_from_rig,
    ego_matrix,
    mount_matrix,
    pose_matrix,
    quaternion_matrix,
    rescale_intrinsics,
    yaw_of,
)
from gp_adapt._paired import (
    AnnotatedBoxes,
    PairedSample,
    box_image_regions,
    camera_poses,
    flat_road,
    make_annotated_boxes,
    render_paired_view,
    renderer_boxes,
    stack_samples,
)

__version__ = "0.1.0"

__all__ = [
    "AnnotatedBoxes",
    "Calibration",
    "PairedSample",
    "__version__",
    "box_image_regions",
    "calibrated_view",
    "calibration_from_rig",
    "camera_poses",
    "ego_matrix",
    "flat_road",
    "make_annotated_boxes",
    "mount_matrix",
    "pose_matrix",
    "quaternion_matrix",
    "render_paired_view",
    "renderer_boxes",
    "rescale_intrinsics",
    "stack_samples",
    "yaw_of",
]
