"""Perception adaptation: fine-tune the student's encoder so real camera images map into the
latent its planner acts on, from paired (real image, rendered view of the same scene) samples."""

from gp_adapt._calibration import (
    Calibration,
    calibrated_view,
    calibration_from_rig,
    ego_matrix,
    matrix_quaternion,
    mount_matrix,
    pose_matrix,
    quaternion_matrix,
    rescale_intrinsics,
    yaw_of,
)
from gp_adapt._folder import class_id, read_folder, read_folder_sample, write_folder_sample
from gp_adapt._nuscenes import (
    NuScenesTables,
    devkit_available,
    nuscenes_class,
    nuscenes_sample,
    nuscenes_samples,
    open_nuscenes,
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
    "NuScenesTables",
    "PairedSample",
    "__version__",
    "box_image_regions",
    "calibrated_view",
    "calibration_from_rig",
    "camera_poses",
    "class_id",
    "devkit_available",
    "ego_matrix",
    "flat_road",
    "make_annotated_boxes",
    "matrix_quaternion",
    "mount_matrix",
    "nuscenes_class",
    "nuscenes_sample",
    "nuscenes_samples",
    "open_nuscenes",
    "pose_matrix",
    "quaternion_matrix",
    "read_folder",
    "read_folder_sample",
    "render_paired_view",
    "renderer_boxes",
    "rescale_intrinsics",
    "stack_samples",
    "write_folder_sample",
    "yaw_of",
]
