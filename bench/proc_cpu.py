"""CPU time (user + system) of processes from the kernel's accounting (/proc/<pid>/stat), grouped by role.

    sampler = CpuSampler({"gateway": [pid], "workers": [pid1, pid2]})
    before = sampler.sample(); …; after = sampler.sample()
    CpuSampler.delta(before, after)  # {"gateway": seconds, "workers": seconds}

A process that is gone counts with the last value seen (its time after that sample is lost).
"""

import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of every thread of the process; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 (state) is fields[0]
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime (14) + stime (15)


class CpuSampler:
    def __init__(self, groups: dict[str, list[int]]):
        self.groups = {name: list(pids) for name, pids in groups.items()}
        self._last: dict[int, float] = {}

    def sample(self) -> dict[str, float]:
        out = {}
        for name, pids in self.groups.items():
            total = 0.0
            for pid in pids:
                seconds = cpu_seconds(pid)
                if seconds is None:
                    seconds = self._last.get(pid, 0.0)
                self._last[pid] = seconds
                total += seconds
            out[name] = total
        return out

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {name: after[name] - before.get(name, 0.0) for name in after}
