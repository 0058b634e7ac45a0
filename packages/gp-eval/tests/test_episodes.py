"""Episode splitting and collision typing on a hand-built two-agent record."""

import numpy as np

from gp_eval import split_episodes

T, A = 6, 2


def _record():
    z = lambda dtype=np.float32: np.zeros((T, A), dtype)  # noqa: E731
    rec = {
        name: z()
        for name in (
            "x",
            "y",
            "yaw",
            "speed",
            "accel",
            "lat_accel",
            "route_s_before",
            "route_length",
            "speed_limit",
            "lateral",
            "distance",
            "progress",
            "reward",
        )
    }
    rec.update(
        {
            n: z(bool)
            for n in (
                "live",
                "done",
                "collision",
                "offroad",
                "red_light",
                "wrong_way",
                "goal_reached",
                "timeout",
            )
        }
    )
    rec["kind"] = z(np.int32)
    rec["route"] = z(np.int32)
    rec["partner"] = np.full((T, A), -1, np.int32)
    rec["length"] = np.full((T, A), 4.0, np.float32)
    rec["width"] = np.full((T, A), 2.0, np.float32)
    rec["by_policy"] = np.array([True, False])
    rec["live"][:] = True
    rec["route_length"][:] = 100.0
    rec["distance"][:] = 1.0
    rec["progress"][:] = 1.0
    # Slot 0 drives +x at 5 m/s and runs into slot 1 (1 m/s, 3.5 m ahead) at step 2.
    rec["x"][:, 0] = np.arange(T, dtype=np.float32)
    rec["x"][:, 1] = rec["x"][:, 0] + 3.5
    rec["speed"][:, 0] = 5.0
    rec["speed"][:, 1] = 1.0
    rec["partner"][2, 0], rec["partner"][2, 1] = 1, 0
    rec["collision"][2] = True
    rec["done"][2] = True
    return rec


def test_split_and_fault():
    eps = split_episodes(_record(), 0, lane_width=3.5)
    # Each slot: one episode ending in the collision at step 2, one truncated after it.
    assert [(e.slot, e.start, e.end, e.outcome) for e in eps] == [
        (0, 0, 2, "collision"),
        (0, 3, 5, "truncated"),
        (1, 0, 2, "collision"),
        (1, 3, 5, "truncated"),
    ]
    front, rear = eps[0], eps[2]
    # Slot 0's bumper is inside slot 1's box: ACTIVE_FRONT, at fault. Slot 1 was hit from behind
    # (bearing 180° > 150°): ACTIVE_REAR, not at fault.
    assert (front.collisions, front.at_fault_collisions, front.at_fault_vehicle) == (1, 1, 1)
    assert (rear.collisions, rear.at_fault_collisions) == (1, 0)
    assert front.first and not eps[1].first
    assert front.carla_collisions == 1
    assert front.route_completion == 0.03  # 3 m of a 100 m route


def test_an_episode_ended_by_a_red_light_is_a_red_light():
    # A world with red_light_ends: slot 1's episode ends at step 4 on a red light alone.
    rec = _record()
    rec["red_light"][4, 1] = True
    rec["done"][4, 1] = True
    eps = split_episodes(rec, 0, lane_width=3.5)
    assert [(e.slot, e.start, e.end, e.outcome) for e in eps if e.slot == 1] == [
        (1, 0, 2, "collision"),
        (1, 3, 4, "red_light"),
        (1, 5, 5, "truncated"),
    ]
    assert [e.red_lights for e in eps if e.slot == 1] == [0, 1, 0]
