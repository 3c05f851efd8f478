"""Timing fresh processes the way a user runs them: wall time, CPU time of the process and
every worker it waited for, peak memory of the whole process tree; and the machine they ran on."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple


class Sample(NamedTuple):
    wall: float  # seconds
    cpu: float  # seconds, user + system, the process and its waited-for workers
    rss: int  # MB, the peak of the process tree
    code: int


def machine() -> str:
    """What ran the figures: CPU model, cores usable, memory, Python, date."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{model}, {cores} cores, {memory:.0f} GB, Python {sys.version.split()[0]}, "
        f"{platform.system()} {platform.release()}; load average {load}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def _tree_rss(pid: int) -> int:
    """Resident memory (kB) of a process and all its descendants, from /proc."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
            )
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue  # it ended meanwhile
    return total


def run(
    command: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    accept: frozenset[int] = frozenset({0, 1}),
) -> Sample:
    """One fresh process: its wall and CPU time and peak memory (sampled every 100 ms)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env=env
    )
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            peak[0] = max(peak[0], _tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    process.returncode = code = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode() if process.stderr else ""
    if code not in accept:
        raise SystemExit(f"{' '.join(command)} exited {code}:\n{errors}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu, max(peak[0], usage.ru_maxrss) // 1024, code)


def median(samples: Sequence[Sample]) -> Sample:
    return Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.cpu for s in samples),
        max(s.rss for s in samples),
        samples[0].code,
    )


def repeat(times: int, once: Callable[[], Sample]) -> Sample:
    return median([once() for _ in range(times)])


def in_process(times: int, once: Callable[[], object]) -> tuple[float, float]:
    """Median wall and CPU seconds of a function run in this process."""
    walls, cpus = [], []
    for _ in range(times):
        wall, cpu = time.perf_counter(), time.process_time()
        once()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)
