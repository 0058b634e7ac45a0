"""NAVSIM PDMS/EPDMS sub-scores on hand-worked cases (METRICS.md §1)."""

import math

import numpy as np
import pytest

from gp_eval import CollisionType, box_corners, collision_type, is_at_fault, navsim

# Ego: rear axle at the origin heading +x; length 4 m, width 2 m, centre 1.5 m ahead of the axle,
# so the box spans x ∈ [-0.5, 3.5], y ∈ [-1, 1] and the bumper is the segment x = 3.5.
EGO_AXLE = (0.0, 0.0, 0.0)
EGO_CORNERS = box_corners(1.5, 0.0, 0.0, 4.0, 2.0)


def _track(x, y):
    return box_corners(x, y, 0.0, 4.0, 2.0)


def test_ego_progress_normalisation_and_5m_rule():
    # Both pass the multipliers: norm = max(10·1, 8·1) = 10 > 5 → agent 8/10, reference 10/10.
    np.testing.assert_allclose(navsim.ego_progress([10.0, 8.0], [1.0, 1.0], "v2"), [1.0, 0.8])
    # Agent crashed (M = 0) with 12 m: norm = max(10·1, 12·0) = 10. v2 clips 12/10 to 1; v1 uses
    # raw·M/norm = 0.
    np.testing.assert_allclose(navsim.ego_progress([10.0, 12.0], [1.0, 0.0], "v2"), [1.0, 1.0])
    np.testing.assert_allclose(navsim.ego_progress([10.0, 12.0], [1.0, 0.0], "v1"), [1.0, 0.0])
    # The reference fails its own multipliers: norm = max(20·0, 6·1) = 6 → agent 6/6 = 1.
    np.testing.assert_allclose(navsim.ego_progress([20.0, 6.0], [0.0, 1.0], "v2"), [1.0, 1.0])
    # Best progress 4.5 m <= 5 m: too little progress to judge, EP = 1 for both.
    np.testing.assert_allclose(navsim.ego_progress([4.5, 3.0], [1.0, 1.0], "v2"), [1.0, 1.0])
    # Exactly 5 m is not "> 5 m": still 1 (a 4 m agent would otherwise get 0.8).
    np.testing.assert_allclose(navsim.ego_progress([5.0, 4.0], [1.0, 1.0], "v1"), [1.0, 1.0])


def test_raw_progress_clipped_at_zero():
    line = np.array([[0.0, 0.0], [100.0, 0.0]])
    assert navsim.raw_progress(line, np.array([10.0, 3.0]), np.array([17.5, -1.0])) == 7.5
    assert navsim.raw_progress(line, np.array([10.0, 0.0]), np.array([4.0, 0.0])) == 0.0


@pytest.mark.parametrize(
    ("ego_speed", "track_xy", "track_speed", "is_agent", "want"),
    [
        (0.05, (5.0, 0.0), 3.0, True, CollisionType.STOPPED_EGO),  # 0.05 <= 0.05 m/s
        (5.0, (5.0, 0.0), 0.05, True, CollisionType.STOPPED_TRACK),
        (5.0, (5.0, 0.0), 3.0, False, CollisionType.STOPPED_TRACK),  # static object
        (5.0, (-2.5, 0.0), 3.0, True, CollisionType.ACTIVE_REAR),  # bearing 180° > 150°
        # Track spans x ∈ [3, 7]: it covers the bumper at x = 3.5.
        (5.0, (5.0, 0.0), 3.0, True, CollisionType.ACTIVE_FRONT),
        # Track spans x ∈ [-1, 3], y ∈ [0.8, 2.8]: overlaps the side, misses the bumper;
        # bearing atan2(1.8, 1) = 61° is not behind.
        (5.0, (1.0, 1.8), 3.0, True, CollisionType.ACTIVE_LATERAL),
    ],
)
def test_collision_type(ego_speed, track_xy, track_speed, is_agent, want):
    got = collision_type(EGO_AXLE, ego_speed, EGO_CORNERS, _track(*track_xy), track_speed, is_agent)
    assert got == want


def test_at_fault_rule():
    assert is_at_fault(CollisionType.ACTIVE_FRONT, False)
    assert is_at_fault(CollisionType.STOPPED_TRACK, False)
    assert not is_at_fault(CollisionType.ACTIVE_REAR, True)
    assert not is_at_fault(CollisionType.STOPPED_EGO, True)
    assert not is_at_fault(CollisionType.ACTIVE_LATERAL, False)
    assert is_at_fault(CollisionType.ACTIVE_LATERAL, True)  # straddling lanes or off-road


def test_nc_is_min_not_product_with_ignore_list():
    t, k = 5, 3
    overlap = np.zeros((t, k), bool)
    at_fault = np.zeros((t, k), bool)
    overlap[1, 0] = overlap[3, 1] = True
    at_fault[1, 0] = at_fault[3, 1] = True
    # Two at-fault hits on static objects: min(0.5, 0.5) = 0.5 (a product would give 0.25).
    assert navsim.no_at_fault_collisions(overlap, at_fault, np.array([False, False, False])) == 0.5
    # Object 0 is an agent: min(0.0, 0.5) = 0.
    assert navsim.no_at_fault_collisions(overlap, at_fault, np.array([True, False, False])) == 0.0
    # Object 2 (an agent) first touches us not at fault (e.g. rear-ended) and is ignored from
    # then on, so a later at-fault-looking contact with it does not count.
    agents = np.ones(k, bool)
    overlap2 = np.zeros((t, k), bool)
    at_fault2 = np.zeros((t, k), bool)
    overlap2[1, 2] = overlap2[2, 2] = True
    at_fault2[2, 2] = True
    assert navsim.no_at_fault_collisions(overlap2, at_fault2, agents) == 1.0
    # The same contacts in the other order count: the at-fault one comes first.
    at_fault2[1, 2], at_fault2[2, 2] = True, False
    assert navsim.no_at_fault_collisions(overlap2, at_fault2, agents) == 0.0


def test_driving_direction_window_and_intersections():
    # 0.3 m per step; centre outside on-route lanes for steps 5..14 (10 steps). The 11-sample
    # window ending at t = 14 sums 10 × 0.3 = 3.0 m: 2 <= 3 < 6 → 0.5.
    center = np.stack([0.3 * np.arange(21), np.zeros(21)], -1)
    oncoming = (np.arange(21) >= 5) & (np.arange(21) <= 14)
    assert navsim.driving_direction_compliance(center, oncoming, None, "v2") == 0.5
    # v2 drops intersection steps: 5 counted steps = 1.5 m < 2 → 1; v1 ignores intersections.
    junction = (np.arange(21) >= 5) & (np.arange(21) <= 9)
    assert navsim.driving_direction_compliance(center, oncoming, junction, "v2") == 1.0
    assert navsim.driving_direction_compliance(center, oncoming, junction, "v1") == 0.5
    # 0.7 m per step over 10 steps = 7 m >= 6 → 0.
    assert navsim.driving_direction_compliance(center * (7 / 3), oncoming, None, "v2") == 0.0


def test_lane_keeping_intersection_skips_without_reset():
    line = np.array([[-10.0, 0.0], [100.0, 0.0]])
    center = np.stack([np.arange(21.0), np.full(21, 0.6)], -1)  # 0.6 m > 0.5 m off
    junction = np.zeros(21, bool)
    junction[10] = True
    # 20 deviating samples outside the junction: the run reaches ceil(2.0/0.1) = 20 → 0.
    assert navsim.lane_keeping(center, line, junction) == 0.0
    # A centred sample at t = 10 instead resets the run: 10 + 10 < 20 → 1.
    center[10, 1] = 0.0
    assert navsim.lane_keeping(center, line, np.zeros(21, bool)) == 1.0


def _ttc(track_xy, between=False, speed=10.0, t_obs=41, valid_from=0):
    ego = np.zeros((41, 3))
    speeds = np.full(41, speed)
    centers = np.broadcast_to(np.asarray(track_xy, float), (t_obs, 1, 2))
    valid = np.zeros((t_obs, 1), bool)
    valid[valid_from:] = True
    return navsim.time_to_collision(
        ego,
        speeds,
        (4.0, 2.0, 1.5),
        centers,
        np.zeros((t_obs, 1)),
        np.array([[4.0, 2.0]]),
        valid,
        np.full(41, between),
        np.zeros(41, bool),
    )


def test_ttc_lookahead_and_relevance():
    # At 10 m/s the 0.9 s shift is 9 m: the ego front reaches 3.5 + 9 = 12.5 m. A static box
    # centred at 13.5 m (rear edge 11.5 m) is hit; one at 15 m (rear 13 m) is not.
    assert _ttc((13.5, 0.0)) == 0.0
    assert _ttc((15.0, 0.0)) == 1.0
    # Stopped ego (< 0.005 m/s) is never in TTC violation.
    assert _ttc((13.5, 0.0), speed=0.004) == 1.0
    # A box beside the ego (bearing atan2(2, 3) = 34° > 30°) only counts while straddling lanes.
    assert _ttc((3.0, 2.0)) == 1.0
    assert _ttc((3.0, 2.0), between=True) == 0.0


def test_ttc_horizon_v1_vs_v2():
    # An object visible only from observation step 45 is seen with v1's 5 s observation (51
    # steps, t <= 40 evaluated, look-ahead up to 49); v2's 4 s observation ends at step 40.
    assert _ttc((13.5, 0.0), t_obs=51, valid_from=45) == 0.0
    assert _ttc((13.5, 0.0), t_obs=41, valid_from=40) == 0.0  # t = 31, offset 9 → step 40
    assert _ttc((13.5, 0.0), t_obs=51, valid_from=50) == 1.0  # beyond 40 + 9 = 49


def test_pdms_and_epdms_aggregation():
    # v1: 1·1·(5·1 + 5·0.8 + 2·0)/12 = 9/12.
    assert navsim.pdms(1.0, 1.0, 1.0, 0.8, 0.0) == pytest.approx(0.75)
    # Static-object hit halves the score: 0.5·(5 + 5 + 2)/12.
    assert navsim.pdms(0.5, 1.0, 1.0, 1.0, 1.0) == pytest.approx(0.5)
    # v2 with DDC 0.5: 0.5·(5·0.8 + 5·1 + 2·1 + 2·0 + 2·1)/16 = 0.5·13/16.
    assert navsim.epdms(1, 1, 0.5, 1, 0.8, 1, 1, 0, 1) == pytest.approx(0.5 * 13 / 16)
    # EC unavailable: its weight drops, (5·0.8 + 5 + 2 + 0)/14 = 11/14.
    assert navsim.epdms(1, 1, 1, 1, 0.8, 1, 1, 0, None) == pytest.approx(11 / 14)
    assert navsim.epdms(1, 1, 1, 0, 1, 1, 1, 1, 1) == 0.0  # red light zeroes the frame


def test_human_filter_only_exact_zero():
    agent = {"nc": 0.0, "dac": 0.0, "ddc": 0.5, "ttc": 0.0, "ep": 0.3}
    human = {"nc": 0.5, "dac": 0.0, "ddc": 0.0, "ttc": 1.0, "ep": 0.0}
    out = navsim.human_filter(agent, human)
    # dac and ddc: the human also fails → forgiven; nc: human 0.5 does not trigger; ep unfiltered.
    assert out == {"nc": 0.0, "dac": 1.0, "ddc": 1.0, "ttc": 0.0, "ep": 0.3}


def test_mean_skips_nan():
    assert navsim.mean_score([1.0, float("nan"), 0.5]) == 0.75


def test_two_stage_weights_and_mean():
    # Start points at distance 0 and 1 m from the endpoint: w ∝ (1, exp(-1/0.2)).
    w = navsim.two_stage_weights(np.zeros(2), np.array([[0.0, 0.0], [1.0, 0.0]]))
    e = math.exp(-5.0)
    np.testing.assert_allclose(w, [1 / (1 + e), e / (1 + e)], rtol=1e-12)
    # Far away: all weights underflow → uniform.
    np.testing.assert_allclose(
        navsim.two_stage_weights(np.zeros(2), np.array([[1e3, 0.0], [2e3, 0.0]])), [0.5, 0.5]
    )
    s1 = {"o": 0.8, "p": 0.6}
    s2 = {"a": 1.0, "b": 0.0, "c": 0.5, "d": 0.5}
    ends = {"o": np.zeros(2), "p": np.zeros(2)}
    starts = {"a": np.zeros(2), "b": np.array([1e3, 0.0]), "c": np.zeros(2), "d": np.zeros(2)}
    # G1 = 0.8·(1·1.0 + 0·0.0) = 0.8; G2 = 0.6·(0.5·0.5 + 0.5·0.5) = 0.3 → (0.8 + 0.3)/2.
    got = navsim.epdms_two_stage(s1, ends, s2, starts, [("o", "p", [("a", "c"), ("b", "d")])])
    assert got == pytest.approx(0.55)
