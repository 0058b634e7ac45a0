"""Stopping a run cleanly when asked: Ctrl-C (SIGINT) or a machine being taken back (SIGTERM).

The signal is remembered, not acted on at once: the jitted call under way finishes, the run
saves a checkpoint and only then stops as the signal would have, so a resumed run continues
from where it was stopped instead of from its previous checkpoint. A second signal of the same
kind acts at once (its handler is restored on the first).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

import jax
import numpy as np

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _on_any_process(flag: bool) -> bool:
    """True on every process when `flag` is on any (all processes must stop together)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.int32(flag))))


class StopRequest:
    """A context that catches SIGINT and SIGTERM (in the main thread; elsewhere it catches
    nothing) and remembers the first; `asked()` says whether one came, `stop()` then raises
    as the signal would have: KeyboardInterrupt, or SystemExit(128 + signal number)."""

    def __init__(self) -> None:
        self.signal: int | None = None  # the first caught here
        self.stopping = False  # a signal came to this process or another (`asked`)
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                previous = signal.signal(sig, self._remember)
                self._previous[sig] = signal.SIG_DFL if previous is None else previous
        return self

    def _remember(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signum
        signal.signal(signum, self._previous[signum])  # a second one acts at once

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def asked(self) -> bool:
        """Whether a stop signal came, to this process or (multi-process runs) another."""
        self.stopping = self.stopping or _on_any_process(self.signal is not None)
        return self.stopping

    @property
    def name(self) -> str:
        return "SIGTERM" if self.signal is None else signal.Signals(self.signal).name

    def stop(self) -> None:
        """Raise as the signal would have (nothing when none came; a process stopped for
        another's signal stops as for SIGTERM)."""
        if not self.stopping:
            return
        if self.signal == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + (signal.SIGTERM if self.signal is None else self.signal))
