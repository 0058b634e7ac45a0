"""Readers: the nuScenes fixture through the devkit (and the table reader), the folder layout."""

import jax
import numpy as np
import pytest

import gp_adapt as ga
from gp_adapt import testing
from gp_render import SemanticClass

# Pixel centres are classified by the same inside-silhouette rule on both sides (ray cast vs
# hull test); only float32 ties on a silhouette edge may differ.
MAX_EDGE_DISAGREEMENT = 0.02
# Projected corners: our float32 pipeline vs the devkit's float64 one, in pixels.
PIXEL_TOLERANCE = 1e-2

LOADERS = [
    pytest.param(
        "devkit",
        marks=pytest.mark.skipif(not ga.devkit_available(), reason="nuscenes-devkit not installed"),
    ),
    "tables",
]


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("nuscenes")
    return root, testing.write_nuscenes_fixture(root)


@pytest.fixture(scope="module")
def render_frames():
    return jax.jit(lambda s: ga.render_paired_view(s, backend="xla", instance_id=True))


@pytest.mark.parametrize("loader", LOADERS)
def test_nuscenes_paired_view_boxes_land_on_annotated_regions(fixture_root, render_frames, loader):
    root, info = fixture_root
    nusc = ga.open_nuscenes(root, loader=loader)
    if loader == "devkit":
        from nuscenes.nuscenes import NuScenes

        assert isinstance(nusc, NuScenes)
    samples = ga.nuscenes_samples(nusc, cameras=testing.FIXTURE_CAMERAS, max_boxes=8)
    assert len(samples) == len(info["sample_tokens"])
    for sample in samples:
        frame = render_frames(sample)
        painted = np.all(np.asarray(sample.image) == testing.ANNOTATION_COLOUR, axis=-1)
        drawn = np.asarray(frame.instance_id) >= 0
        assert painted.sum() > 50, "the fixture should show boxes"
        disagreement = (painted ^ drawn).sum() / painted.sum()
        assert disagreement <= MAX_EDGE_DISAGREEMENT


def test_box_projection_matches_devkit(fixture_root):
    pytest.importorskip("nuscenes")
    from nuscenes.utils.geometry_utils import BoxVisibility, view_points

    root, info = fixture_root
    nusc = ga.open_nuscenes(root, loader="devkit")
    token = info["sample_tokens"][1]
    sample = ga.nuscenes_sample(nusc, token, cameras=testing.FIXTURE_CAMERAS, max_boxes=8)
    rect, in_front = ga.box_image_regions(sample)
    for c, channel in enumerate(testing.FIXTURE_CAMERAS):
        data_token = nusc.get("sample", token)["data"][channel]
        _, boxes, k = nusc.get_sample_data(data_token, box_vis_level=BoxVisibility.NONE)
        reference = []
        for box in boxes:
            corners = box.corners()
            if np.all(corners[2] > 0.5):
                uv = view_points(corners, k, normalize=True)[:2]
                reference.append([uv[0].min(), uv[0].max(), uv[1].min(), uv[1].max()])
        ours = np.asarray(rect[c])[np.asarray(in_front[c])]
        assert len(ours) == len(reference) > 0
        key = lambda r: (round(float(r[0]), 1), round(float(r[2]), 1))  # noqa: E731
        np.testing.assert_allclose(
            sorted(ours.tolist(), key=key), sorted(reference, key=key), atol=PIXEL_TOLERANCE
        )


def test_nuscenes_classes_sizes_and_ground(fixture_root):
    root, info = fixture_root
    nusc = ga.open_nuscenes(root, loader="tables")
    sample = ga.nuscenes_sample(nusc, info["sample_tokens"][0], max_boxes=8)
    b = sample.boxes
    valid = np.asarray(b.valid)
    assert valid.sum() == len(testing.FIXTURE_BOXES)
    # Sizes are (length, width, height): the truck is 7 m long and 2.5 m wide.
    sizes = np.asarray(b.size)[valid]
    truck = np.flatnonzero(np.all(np.isclose(sizes, (7.0, 2.5, 3.0)), axis=1))
    assert len(truck) == 1 and int(b.class_id[truck[0]]) == SemanticClass.VEHICLE
    # Nearest first: the pedestrian 13.3 m away leads.
    assert int(b.class_id[0]) == SemanticClass.PEDESTRIAN
    assert set(np.asarray(b.class_id)[valid].tolist()) == {
        SemanticClass.VEHICLE,
        SemanticClass.PEDESTRIAN,
        SemanticClass.CYCLIST,
        SemanticClass.STATIC_OBJECT,
    }
    # The ego stands 2 m south of the road's centre line: road under it, off-road 20 m away.
    g = np.asarray(sample.ground.classes)
    centre = g.shape[0] // 2
    texels_20m = round(20.0 / float(sample.ground.metres_per_texel))
    assert g[centre, centre] == SemanticClass.ROAD
    assert g[centre + texels_20m, centre] == g[centre - texels_20m, centre] == SemanticClass.OFFROAD
    np.testing.assert_allclose(np.asarray(sample.ego_pose)[:2, 3], 0.0, atol=1e-6)


def test_nuscenes_resize_keeps_boxes_on_their_regions(fixture_root, render_frames):
    root, info = fixture_root
    nusc = ga.open_nuscenes(root, loader="tables")
    full = ga.nuscenes_sample(nusc, info["sample_tokens"][0], max_boxes=8)
    half = ga.nuscenes_sample(nusc, info["sample_tokens"][0], image_size=(32, 18), max_boxes=8)
    rect_full, in_front = ga.box_image_regions(full)
    rect_half, _ = ga.box_image_regions(half)
    seen = np.asarray(in_front)
    # Pixel edges halve: (u + 0.5) / 2 = u' + 0.5.
    np.testing.assert_allclose(
        np.asarray(rect_half)[seen],
        (np.asarray(rect_full)[seen] + 0.5) / 2 - 0.5,
        atol=PIXEL_TOLERANCE,
    )
    assert half.image.shape == (1, 18, 32, 3)


def test_nuscenes_errors_name_the_problem(fixture_root, tmp_path):
    root, info = fixture_root
    nusc = ga.open_nuscenes(root, loader="tables")
    with pytest.raises(KeyError, match="CAM_BACK"):
        ga.nuscenes_sample(nusc, info["sample_tokens"][0], cameras=("CAM_BACK",))
    with pytest.raises(KeyError, match="unknown scenes"):
        ga.nuscenes_samples(nusc, scene_names=["scene-0061"])
    with pytest.raises(FileNotFoundError, match="no nuScenes tables"):
        ga.open_nuscenes(tmp_path, loader="tables")
    assert ga.nuscenes_class("vehicle.motorcycle") == SemanticClass.CYCLIST
    assert ga.nuscenes_class("human.pedestrian.child") == SemanticClass.PEDESTRIAN


def test_folder_round_trip_renders_the_same_view(fixture_root, render_frames, tmp_path):
    root, info = fixture_root
    nusc = ga.open_nuscenes(root, loader="tables")
    sample = ga.nuscenes_sample(
        nusc, info["sample_tokens"][0], cameras=testing.FIXTURE_CAMERAS, max_boxes=8
    )
    ga.write_folder_sample(tmp_path / "s0", sample, ("front", "front_left"))
    (loaded,) = ga.read_folder(tmp_path, max_boxes=8)
    np.testing.assert_array_equal(np.asarray(loaded.image), np.asarray(sample.image))
    a, b = render_frames(sample), render_frames(loaded)
    # Poses go through quaternions in JSON: allow a pixel on a silhouette edge to flip.
    assert (np.asarray(a.instance_id) != np.asarray(b.instance_id)).mean() < 0.01
    with pytest.raises(ValueError, match="unknown box class"):
        ga.class_id("spaceship")
    with pytest.raises(FileNotFoundError, match=r"sample\.json"):
        ga.read_folder(tmp_path / "nothing")
