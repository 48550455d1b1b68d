"""CPU accounting around a benchmark.

OtherLoad: how much CPU other processes took during a block of code. Two
cores leave no room: a compiler or test run in the background skews the
numbers, multi-threaded ones most. From /proc/stat (all busy time, a
hypervisor's steal included, in 10 ms ticks) minus our own CPU time.
wait_quiet: wait for other processes to leave the machine alone.
settle: wait until this process's own thread pools have gone idle.
"""
import os
import resource
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def _busy_s():
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq + steal) / TICK


class OtherLoad:
    """with OtherLoad() as load: ...; load.cores -> mean cores used by others,
    None when unknown or the block was too short for 10 ms ticks to tell.
    who: RUSAGE_SELF inside a worker, RUSAGE_CHILDREN around one."""

    def __init__(self, who=resource.RUSAGE_SELF, min_wall_s=0.0):
        self._who, self._min_wall_s = who, min_wall_s

    def _own_s(self):
        r = resource.getrusage(self._who)
        return r.ru_utime + r.ru_stime

    def __enter__(self):
        self._t, self._busy, self._own = time.perf_counter(), _busy_s(), self._own_s()
        self.cores = None
        return self

    def __exit__(self, *exc):
        busy = _busy_s()
        wall = time.perf_counter() - self._t
        if busy is not None and self._busy is not None and wall >= self._min_wall_s:
            own = self._own_s() - self._own
            self.cores = max(0.0, (busy - self._busy - own) / wall)
        return False


def wait_quiet(max_s, threshold=0.1, window_s=1.0):
    """Wait up to max_s until the whole machine stays under `threshold`
    busy cores for one window. Returns (seconds waited, idle reached)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_s:
        before = _busy_s()
        time.sleep(window_s)
        after = _busy_s()
        if before is None or after is None or (after - before) / window_s < threshold:
            return time.perf_counter() - t0, True
    return time.perf_counter() - t0, False


def _other_threads_ns(me):
    total = 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) != me:
            try:
                with open(f"/proc/self/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass  # the thread ended meanwhile
    return total


def settle(window_s=0.01, max_s=0.5):
    """Wait until this process's other threads stop using the CPU.

    After a call, thread pools spin before they sleep (OpenBLAS ~50 ms,
    OpenMP a few ms). With two cores, a contender timed while another
    library's workers still spin loses time it would not lose on its own, so
    each repeat starts only after every pool has gone to sleep.
    Returns the seconds waited."""
    if not os.path.exists("/proc/self/task"):
        return 0.0
    me = threading.get_native_id()
    t0 = time.perf_counter()
    prev, quiet = _other_threads_ns(me), 0
    while quiet < 2 and time.perf_counter() - t0 < max_s:
        time.sleep(window_s)
        cur = _other_threads_ns(me)
        quiet = quiet + 1 if cur - prev < 0.05 * window_s * 1e9 else 0
        prev = cur
    return time.perf_counter() - t0
