"""Where and how a teacher collides on held-out towns: `python scripts/teacher_collisions.py RUN`.

Every agent of `--worlds` held-out worlds is driven greedily by the teacher (its most likely
action, or with `--expected-action` the mean of its grid cells) for `--steps` steps
(episodes of up to 120 s, as for the shipped teachers' tables); each colliding agent-step is one
count (a contact of two agents counts twice). Printed:
- the share of colliding agents within 15 m of a junction centre, against the share of all
  agent-steps spent there;
- the contacts by the heading of the nearest other agent (crossing 0.5-2.6 rad apart, head-on
  above 2.6, rear-ending / rear-ended below 0.5 with the other ahead / behind), and how many of
  each were in a junction;
- among contacts where both agents passed a stop line of the same junction within the last 40 m
  of route, how many had entered on the same signal phase;
- how many collisions the safe speed warned of: more than 1 m/s of overspeed in the 1.5 s before
  (collisions with that much history in their episode), with the straight corridor alone and
  with crossing traffic (`conflict_horizon`, `--horizon` seconds);
- how often the agent collided with (its nearest other agent at the contact) was among the
  agents it observed (the world's `num_nearest_agents` nearest within `observation_range`) 2 s
  before, where both agents were in the same episodes throughout;
- of each kind of contact, how many had the colliding agent, or the other, more than half a
  lane from its route's centre line at some step of the 2 s before (the same episodes
  throughout): a car that swings wide through a turn, or cuts it, into another's lane;
- the off-road agent-steps by kind of agent (against each kind's share of agent-steps), within
  15 m of a junction centre, and with the route turning within the 20 m ahead 2 s before (as
  gp-world's `turn_signals` decides it: by more than 0.5 rad), of those with 2 s of their
  episode behind them;
- the red lights run, by what the light and the agent did before: the seconds since the light
  turned red; whether the agent had stopped (below 0.5 m/s) after the light left green and then
  crossed; else whether, when the light turned yellow, it could still have stopped before the
  line (gp-world's own test for a yellow light: braking at twice `safe_decel`) or could not;
  or whether the light had not been green since its episode began;
- what agents did when the light ahead turned yellow (within 60 m of its line): stopped before
  the line, crossed it while yellow, or crossed on red, by the seconds to the line at their
  speed when it turned (a yellow lasts `light_yellow`, 3 s), with how many could still stop by
  gp-world's test; the same for agents born with the light ahead yellow, with, by what they
  did, their mean acceleration over their first second and how many could have passed the
  line before red at the grid's hardest acceleration, and where those of them who ran the red
  were born.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import tyro

import gp_agents as ga
import gp_world as gw

sys.path.insert(0, str(Path(__file__).parent))
from score_teacher import check_world_of

JUNCTION_RADIUS = 15.0  # m from an intersection centre
PASSED_LINE = 40.0  # m of route since the last stop line
WARNING_STEPS = 15  # 1.5 s of history before a collision
WARNING_OVERSPEED = 1.0  # m/s
SEEN_STEPS = 20  # 2 s before a collision
TURN_AHEAD = 20.0  # m of route ahead in which a turn counts, as for a turn signal
STOPPED = 0.5  # m/s: an agent slower than this has stopped at the light
YELLOW_RANGE = 60.0  # m: yellows turning farther from the line are not counted
# m/s^2: the hardest acceleration of the grid's cells, for a birth going on a yellow.
GO_ACCEL = float(gw.action_table("accel_steer_grid")[:, 0].max())
FIRST_SECOND = 10  # steps after a birth over which its chosen acceleration is averaged
OUTCOMES = (
    "stopped",
    "crossed on yellow",
    "ran the red",
    "reached its goal first",
    "other end first",
    "unfinished",
)


@dataclasses.dataclass(frozen=True)
class TeacherCollisions:
    run: tyro.conf.Positional[str]
    """Teacher run folder (`folder` or `folder@update`)."""
    worlds: int = 16
    steps: int = 2000
    key: int = 7
    horizon: float = 3.0
    """Crossing-traffic horizon (s) for the warning count."""
    expected_action: bool = False
    """Drive a grid teacher by its expected (accel, steer) instead of its most likely grid cell
    (gp-agents' `ExpectedAction`, in the world's continuous twin)."""
    world_of: str = ""
    """Drive in this run folder's world instead of the run's own (as `score_teacher.py
    --world-of`): a fine-tune in the world of the teacher it started from, or that teacher in
    the fine-tune's changed world."""


def _last_stop_line(state: gw.WorldState, maps: gw.MapBank):
    """(intersection, phase, metres since) of each agent's last passed stop line (-1 if none)."""
    a = state.agents
    stop_s = maps.route_stop_s[state.map_id, a.route]
    k = (stop_s <= a.route_s[:, None]).sum(-1) - 1
    safe_k = jnp.maximum(k, 0)
    line = jnp.where(k >= 0, maps.route_stop_line[state.map_id, a.route, safe_k], -1)
    safe_line = jnp.maximum(line, 0)
    since = a.route_s - jnp.take_along_axis(stop_s, safe_k[:, None], 1)[:, 0]
    return (
        jnp.where(line >= 0, maps.stop_line_intersection[state.map_id, safe_line], -1),
        jnp.where(line >= 0, maps.stop_line_phase[state.map_id, safe_line], -1),
        jnp.where(line >= 0, since, jnp.inf),
    )


def _junction_distance(state: gw.WorldState, maps: gw.MapBank):
    a, m = state.agents, state.map_id
    centres = maps.intersection_centres[m]  # [I, 2]
    d = jnp.hypot(a.x[:, None] - centres[None, :, 0], a.y[:, None] - centres[None, :, 1])
    return jnp.min(jnp.where(maps.intersections_valid[m][None, :], d, jnp.inf), axis=1)


def _same_episodes(done, t, w, slots, steps: int) -> np.ndarray:
    """bool[n]: event n (step t[n], world w[n]) has `steps` steps behind it in which none of
    its agent slots (`slots` int[n, k]) ended an episode."""
    return np.array(
        [
            tt >= steps and not done[tt - steps : tt, ww][:, ss].any()
            for tt, ww, ss in zip(t, w, slots, strict=True)
        ],
        dtype=bool,
    )


@eqx.filter_jit
def _drive(policy, world: gw.World, crossing: gw.WorldConfig, key, num_worlds: int, steps: int):
    maps = world.maps
    k_reset, k_drive = jax.random.split(key)
    states = jax.vmap(world.reset)(jax.random.split(k_reset, num_worlds))

    def safe(cfg):
        return jax.vmap(lambda s: gw.safe_speed(s.agents, s.lights, maps, s.map_id, cfg))

    def body(states, k):
        action, _, _ = ga.policy_act(policy, jax.vmap(world.observe)(states), k, True)
        a = states.agents
        # The nearest other agent, its position in the ego frame and its relative heading.
        dx = a.x[:, None, :] - a.x[:, :, None]
        dy = a.y[:, None, :] - a.y[:, :, None]
        far = jnp.eye(a.x.shape[1], dtype=bool) | ~a.valid[:, None, :]
        d2 = jnp.where(far, jnp.inf, dx**2 + dy**2)
        other = jnp.argmin(d2, axis=-1)
        # observed[w, i, j]: agent j is among those agent i's observation lists.
        seen, seen_ok = jax.vmap(lambda s: gw.observed_agents(s.agents, world.config))(states)
        slots = jnp.arange(a.x.shape[1])
        observed = jnp.any((seen[..., None] == slots) & seen_ok[..., None], axis=-2)
        pick = lambda x: jnp.take_along_axis(x, other[..., None], -1)[..., 0]  # noqa: E731
        ahead = jnp.cos(a.yaw) * pick(dx) + jnp.sin(a.yaw) * pick(dy)
        turn = jnp.take_along_axis(a.yaw, other, -1) - a.yaw
        heading = jnp.abs(jnp.arctan2(jnp.sin(turn), jnp.cos(turn)))
        intersection, phase, since = jax.vmap(lambda s: _last_stop_line(s, maps))(states)
        to_line, line, light, can_stop = jax.vmap(
            lambda s: gw.light_ahead(s.agents, s.lights, maps, s.map_id, world.config)
        )(states)
        record = dict(
            speed=a.speed,
            lateral=a.route_lateral,
            corridor=safe(world.config)(states),
            crossing=safe(crossing)(states),
            junction=jax.vmap(lambda s: _junction_distance(s, maps))(states),
            other=other,
            ahead=ahead,
            heading=heading,
            intersection=intersection,
            phase=phase,
            since=since,
            observed=observed,
            kind=a.kind,
            age=a.age,
            to_line=to_line,  # front bumper to the next stop line
            line=line,  # that line's index (-1: none)
            light=light,
            can_stop=can_stop,  # it could still stop before that line (gp-world's test)
            turning=jax.vmap(
                lambda s: gw.turn_signals(s.agents, maps, s.map_id, TURN_AHEAD).any(-1)
            )(states),
        )
        states, out = jax.vmap(world.step)(states, action)
        record.update(
            collision=out.events.collision & out.valid,
            offroad=out.events.offroad & out.valid,
            red_light=out.events.red_light & out.valid,
            goal=out.events.goal_reached & out.valid,
            valid=out.valid,
            done=out.done,
        )
        return states, record

    return jax.lax.scan(body, states, jax.random.split(k_drive, steps))[1]


def main(args: TeacherCollisions) -> None:
    folder, step = ga.split_run_step(args.run)
    policy, cfg = ga.load_teacher(folder, step=step)
    home = ga.load_teacher(args.world_of)[1].world if args.world_of else cfg.world
    world_cfg = dataclasses.replace(home, max_episode_steps=1200)
    world = gw.World(world_cfg, gw.build_map_bank(world_cfg, split="heldout"))
    if args.world_of:
        check_world_of(policy, world, cfg.world, args.run)
    if args.expected_action:
        try:
            policy, world = ga.drive_by_expected_action(policy, world)
        except ValueError as error:
            raise SystemExit(f"{args.run}: {error}") from None
    crossing = dataclasses.replace(world.config, conflict_horizon=args.horizon)
    r = jax.device_get(
        _drive(policy, world, crossing, jax.random.key(args.key), args.worlds, args.steps)
    )
    hit, valid = r["collision"], r["valid"]
    near = r["junction"] < JUNCTION_RADIUS
    print(
        f"{args.run}: {int(hit.sum())} colliding agent-steps, {near[hit].mean():.0%} within "
        f"{JUNCTION_RADIUS:.0f} m of a junction centre ({near[valid].mean():.0%} of agent-steps)"
    )
    heading, ahead = r["heading"][hit], r["ahead"][hit]
    kinds = np.where(
        heading > 2.6,
        "head-on",
        np.where(heading > 0.5, "crossing", np.where(ahead > 0, "rear-ending", "rear-ended")),
    )
    for kind in ("crossing", "head-on", "rear-ending", "rear-ended"):
        mine = kinds == kind
        print(f"  {kind}: {int(mine.sum())}, {int((mine & near[hit]).sum())} in a junction")

    t, w, i = np.nonzero(hit)
    j = r["other"][t, w, i]
    same_junction = (
        (r["intersection"][t, w, i] >= 0)
        & (r["intersection"][t, w, i] == r["intersection"][t, w, j])
        & (r["since"][t, w, i] <= PASSED_LINE)
        & (r["since"][t, w, j] <= PASSED_LINE)
    )
    same_phase = same_junction & (r["phase"][t, w, i] == r["phase"][t, w, j])
    print(
        f"  both just past the same junction's stop lines: {int(same_junction.sum())}, "
        f"{int(same_phase.sum())} of them entered on the same phase"
    )

    ok = _same_episodes(r["done"], t, w, i[:, None], WARNING_STEPS)  # 1.5 s of it behind
    at = (t[ok, None] - np.arange(1, WARNING_STEPS + 1), w[ok, None], i[ok, None])
    warned = {
        name: int(((r["speed"][at] - r[name][at]) > WARNING_OVERSPEED).any(-1).sum())
        for name in ("corridor", "crossing")
    }
    print(
        f"  warned by > {WARNING_OVERSPEED:.0f} m/s of overspeed in the 1.5 s before, of "
        f"{int(ok.sum())} collisions with that history: corridor {warned['corridor']}, with "
        f"crossing traffic ({args.horizon:g} s) {warned['crossing']}"
    )
    history = _same_episodes(r["done"], t, w, np.stack([i, j], -1), SEEN_STEPS)
    th, wh, ih, jh = t[history], w[history], i[history], j[history]
    seen = r["observed"][th - SEEN_STEPS, wh, ih, jh]
    print(
        f"  the agent collided with was observed {SEEN_STEPS * cfg.world.dt:g} s before in "
        f"{int(seen.sum())} of "
        f"{len(seen)} collisions (both agents in the same episodes throughout)"
    )
    half_lane = 0.5 * cfg.world.town.lane_width
    window = th[:, None] - np.arange(1, SEEN_STEPS + 1)  # [contacts, SEEN_STEPS]
    wide_agent = (np.abs(r["lateral"][window, wh[:, None], ih[:, None]]) > half_lane).any(-1)
    wide_other = (np.abs(r["lateral"][window, wh[:, None], jh[:, None]]) > half_lane).any(-1)
    print(f"  more than {half_lane:g} m off the route's centre line in the 2 s before:")
    for kind in ("crossing", "head-on", "rear-ending", "rear-ended"):
        mine = kinds[history] == kind
        print(
            f"    {kind}: the agent {int(wide_agent[mine].sum())}, the other "
            f"{int(wide_other[mine].sum())}, either {int((wide_agent | wide_other)[mine].sum())}, "
            f"of {int(mine.sum())}"
        )
    binds = (r["crossing"] < r["corridor"] - 0.5)[valid].mean()
    print(f"  crossing traffic lowers the safe speed by > 0.5 m/s on {binds:.1%} of agent-steps")

    off = r["offroad"]
    print(
        f"{int(off.sum())} off-road agent-steps, {near[off].mean():.0%} within "
        f"{JUNCTION_RADIUS:.0f} m of a junction centre"
    )
    for k, name in enumerate(gw.AGENT_KINDS):
        print(
            f"  {name}: {int((off & (r['kind'] == k)).sum())} "
            f"({(r['kind'][valid] == k).mean():.0%} of agent-steps)"
        )
    t, w, i = np.nonzero(off)
    before = _same_episodes(r["done"], t, w, i[:, None], SEEN_STEPS)
    turning = r["turning"][t[before] - SEEN_STEPS, w[before], i[before]]
    print(
        f"  the route turning within {TURN_AHEAD:g} m ahead {SEEN_STEPS * cfg.world.dt:g} s "
        f"before: {int(turning.sum())} of {int(before.sum())} with that history "
        f"({r['turning'][valid].mean():.0%} of agent-steps)"
    )

    _red_lights(r, world_cfg)
    _yellow_decisions(r, world_cfg)


def _red_lights(r, cfg: gw.WorldConfig) -> None:
    """Each red light run, by what the light and the agent did since the light left green."""
    t, w, i = np.nonzero(r["red_light"])
    counts = dict.fromkeys(
        (
            "stopped, then crossed",
            "could stop at yellow",
            "could not",
            "no green in its episode",
            "  of which could not stop from its spawn",
        ),
        0,
    )
    red_for, at_yellow = [], []  # at_yellow: (metres to the line, speed) of those that could stop

    for tt, ww, ii in zip(t, w, i, strict=True):
        # The light's states along this episode, back to its last green (the step before it
        # left green is tg; the episode began `age` steps before tt).
        start = int(tt) - int(r["age"][tt, ww, ii])
        back = np.arange(int(tt), max(start, 0) - 1, -1)
        green = r["light"][back, ww, ii] == gw.GREEN
        if not green.any():
            counts["no green in its episode"] += 1
            unable = start >= 0 and not r["can_stop"][start, ww, ii]
            counts["  of which could not stop from its spawn"] += int(unable)
            continue
        tg = back[np.argmax(green)]
        red = r["light"][tg + 1 : tt + 1, ww, ii] == gw.RED
        red_for.append((len(red) - np.argmax(red)) * cfg.dt if red.any() else 0.0)
        if (r["speed"][tg + 1 : tt + 1, ww, ii] < STOPPED).any():
            counts["stopped, then crossed"] += 1
            continue
        # At yellow onset: could it stop before the line?
        can = bool(r["can_stop"][tg + 1, ww, ii])
        counts["could stop at yellow" if can else "could not"] += 1
        if can:
            at_yellow.append((r["to_line"][tg + 1, ww, ii], r["speed"][tg + 1, ww, ii]))
    print(f"{len(t)} red lights run")
    if red_for:
        print(
            f"  seconds red when crossed: median {np.median(red_for):.1f}, "
            f"{np.mean(np.asarray(red_for) <= 1.0):.0%} within 1 s"
        )
    if len(t):
        print(f"  speed at the line: median {np.median(r['speed'][t, w, i]):.1f} m/s")
    for name, n in counts.items():
        print(f"  {name}: {n}")
    if at_yellow:
        d, v = np.asarray(at_yellow).T
        need = _stopping_decel(d, v)
        print(
            f"  those that could stop, at yellow: median {np.median(d):.0f} m to the line at "
            f"{np.median(v):.1f} m/s, stopping needing {np.median(need):.1f} m/s^2 (median; "
            f"{np.mean(need <= cfg.safe_decel):.0%} at most safe_decel, "
            f"{cfg.safe_decel:g} m/s^2)"
        )


def _yellow_outcome(r, t: int, w: int, i: int) -> str:
    """What the agent did from step t on, with the light ahead yellow at t: the first of
    running the red, its episode ending (at its goal, which may lie before the line, or
    otherwise), stopping (below STOPPED) and passing the line."""
    for u in range(t, r["light"].shape[0]):
        if r["red_light"][u, w, i]:
            return "ran the red"
        if r["done"][u, w, i]:
            return "reached its goal first" if r["goal"][u, w, i] else "other end first"
        if r["speed"][u, w, i] < STOPPED:
            return "stopped"
        if u + 1 < r["light"].shape[0] and r["line"][u + 1, w, i] != r["line"][u, w, i]:
            return "crossed on yellow"
    return "unfinished"


def _stopping_decel(d: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The constant braking (m/s^2) that stops from speed v within d metres."""
    return v**2 / (2.0 * np.maximum(d, 0.1))


def _outcomes(r, t, w, i) -> np.ndarray:
    """`_yellow_outcome` of each agent at (t, w, i)."""
    return np.asarray([_yellow_outcome(r, *x) for x in zip(t, w, i, strict=True)], dtype=str)


def _yellow_row(label: str, outcome: np.ndarray, can_stop: np.ndarray) -> None:
    """One Markdown row: how many agents, how many could stop, and their outcomes."""
    cells = [label, str(len(outcome)), str(int(can_stop.sum()))]
    print("| " + " | ".join(cells + [str(int((outcome == o).sum())) for o in OUTCOMES]) + " |")


def _first_step(flags: np.ndarray, t: np.ndarray, w: np.ndarray, i: np.ndarray) -> np.ndarray:
    """The first step at or after t with flags[step, w, i], or the number of steps if none."""
    steps = flags.shape[0]
    return np.asarray(
        [
            a + (np.argmax(flags[a:, b, c]) if flags[a:, b, c].any() else steps - a)
            for a, b, c in zip(t, w, i, strict=True)
        ],
        dtype=np.int64,
    )


def _born_under_a_yellow(r, t, w, i, outcome: np.ndarray, cfg: gw.WorldConfig) -> None:
    """The births under a yellow at (t, w, i), with their outcomes: by outcome, the mean
    acceleration over their first second (what they chose) and how many could have passed the
    line before red at GO_ACCEL (whether going could work); then where those who ran the red
    were born."""
    steps = r["light"].shape[0]
    left = (_first_step(r["light"] != gw.YELLOW, t, w, i) - t) * cfg.dt  # s of yellow left
    d, v = r["to_line"][t, w, i], r["speed"][t, w, i]
    could_pass = v * left + 0.5 * GO_ACCEL * left**2 >= d
    # The first second, or up to the episode's last recorded state (the state before the step
    # that ended it; the record holds each step's state before the step and its outcome).
    last = np.minimum(_first_step(r["done"], t, w, i), steps - 1)
    later = np.clip(t + FIRST_SECOND, t, np.maximum(last, t))
    accel = (r["speed"][later, w, i] - v) / np.maximum(later - t, 1) / cfg.dt
    parts = [
        f"{name} {int(mine.sum())}: {np.mean(accel[mine]):+.1f} m/s^2, "
        f"{int(could_pass[mine].sum())} could pass"
        for name in ("stopped", "crossed on yellow", "ran the red")
        if (mine := outcome == name).any()
    ]
    print(
        f"  born under a yellow, by outcome: mean acceleration over the first second, and how "
        f"many could pass the line before red at {GO_ACCEL:g} m/s^2: " + "; ".join(parts)
    )
    ran = outcome == "ran the red"
    if ran.any():
        d, v = d[ran], v[ran]
        print(
            f"  born under a yellow, then ran the red: median {np.median(d):.1f} m to the line "
            f"at {np.median(v):.1f} m/s ({np.median(d / np.maximum(v, STOPPED)):.1f} s at that "
            f"speed) with {np.median(left[ran]):.1f} s of yellow left, stopping needing "
            f"{np.median(_stopping_decel(d, v)):.1f} m/s^2"
        )


def _yellow_decisions(r, cfg: gw.WorldConfig) -> None:
    """A Markdown table of what agents did at a yellow, by the seconds to the line at their
    speed when it turned, and a row for those born under it."""
    light, age = r["light"], r["age"]
    near = (r["line"] >= 0) & (r["to_line"] < YELLOW_RANGE) & r["valid"]
    onset = np.zeros_like(near)
    onset[1:] = (
        (light[1:] == gw.YELLOW)
        & (light[:-1] == gw.GREEN)
        & (r["line"][1:] == r["line"][:-1])
        & (age[1:] >= 1)
    )
    print(
        f"at a yellow ({cfg.light_yellow:g} s) within {YELLOW_RANGE:.0f} m of the line, by the "
        "seconds to the line at the agent's speed when it turned:"
    )
    print("| seconds to the line | agents | could stop | " + " | ".join(OUTCOMES) + " |")
    print("|---|" + "---:|" * (2 + len(OUTCOMES)))
    t, w, i = np.nonzero(onset & near)
    outcome, can_stop = _outcomes(r, t, w, i), r["can_stop"][t, w, i]
    seconds = r["to_line"][t, w, i] / np.maximum(r["speed"][t, w, i], STOPPED)
    for lo, hi in itertools.pairwise((0.0, 1.0, 2.0, 3.0, 4.0, 6.0, np.inf)):
        mine = (seconds >= lo) & (seconds < hi)
        _yellow_row(f"{lo:g}-{hi:g} s", outcome[mine], can_stop[mine])
    t, w, i = np.nonzero((light == gw.YELLOW) & (age == 0) & near)
    outcome = _outcomes(r, t, w, i)
    _yellow_row("born under a yellow", outcome, r["can_stop"][t, w, i])
    _born_under_a_yellow(r, t, w, i, outcome, cfg)


if __name__ == "__main__":
    main(tyro.cli(TeacherCollisions))
