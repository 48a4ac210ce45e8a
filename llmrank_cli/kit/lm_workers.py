"""LM states from worker processes, on a CPU.

On 2 cores two single-thread processes extract 25-30% more tokens a second than one process
with two threads (DL20, SmolLM2 layer 18: 790-830 vs 620-650, three alternations): the small
matrices of a 512-token batch leave threads waiting on each other at every op. The workers
fill the disk cache; the caller reads it. A larger machine gets a few processes with threads.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

_STATES = None  # in a worker: its LmStates
_BUSY = threading.Lock()  # in a worker: held while it computes and writes one query's states
_OPEN: list = []  # pools of this process, closed by close_all


MAX_WORKERS = 4  # beyond that, threads within each process: every worker holds a copy of the LM


def cpu_workers(device: str, lm_bytes: float) -> tuple[int, int]:
    """(processes, threads each) for a CPU extraction: up to one process per core (at most
    MAX_WORKERS, and as many LM copies as half the free memory holds), the cores shared among
    them; (1, 0) when the threads are set by hand (OMP_NUM_THREADS: jobs sharing a machine), a
    launcher already runs a process per rank, or the device is not a CPU."""
    if str(device) != "cpu" or os.environ.get("OMP_NUM_THREADS") or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1, 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    count = min(cores, MAX_WORKERS)
    try:
        count = min(count, max(1, int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2 // lm_bytes)))
    except (ValueError, OSError, AttributeError):  # no sysconf (not Linux): the core count alone
        pass
    return count, cores // count


def _exit_with_caller(caller: int) -> None:
    """A worker's watch: once its caller is gone (kill -9 gives the pool no chance to stop it, and
    the worker would wait on its queue forever, holding a copy of the LM), finish the entry being
    written and exit."""
    while os.getppid() == caller:
        time.sleep(0.2)
    _BUSY.acquire()
    os._exit(1)


def _start(arguments: tuple, threads: int) -> None:
    global _STATES
    threading.Thread(target=_exit_with_caller, args=(os.getppid(),), daemon=True).start()
    os.environ["OMP_NUM_THREADS"] = str(threads)  # the LM's loader keeps this many
    import torch

    from .lm_states import LmStates

    torch.set_num_threads(threads)
    _STATES = LmStates(*arguments)


def _fill(query: str, candidates: list[str]) -> int:
    with _BUSY:
        before = _STATES.computed_tokens
        _STATES.states(query, candidates)
        return _STATES.computed_tokens - before


class Workers:
    """A pool of processes, each with the LM loaded once, kept for the next call."""

    def __init__(self, arguments: tuple, count: int, threads: int):
        import multiprocessing

        self.count = count
        self.pool = ProcessPoolExecutor(count, multiprocessing.get_context("spawn"), _start, (arguments, threads))
        _OPEN.append(self)

    def fill(self, work: dict[str, list[str]], done=None) -> int:
        """Tokens run to cache every query's candidates; ``done(1)`` as each query finishes."""
        tokens = 0
        for future in as_completed([self.pool.submit(_fill, q, cs) for q, cs in work.items()]):
            tokens += future.result()
            if done:
                done(1)
        return tokens

    def close(self) -> None:
        """Stops the workers and waits for them."""
        self.pool.shutdown(cancel_futures=True)
        if self in _OPEN:
            _OPEN.remove(self)


def close_all() -> None:
    """Closes every pool before the interpreter's exit: a pool left to Python's own exit hook
    can race it and print "Bad file descriptor" (seen once in two `rerank` runs)."""
    for workers in list(_OPEN):
        workers.close()
