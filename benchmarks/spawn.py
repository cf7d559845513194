"""``python -I -S spawn.py RESULT CMD...``: run CMD, record its wall time, CPU time, peak RSS.

Why a launcher: on Linux a child's ``ru_maxrss`` starts at the resident size of the process it
was forked from, so a command started straight from the harness (Pillow loaded, payloads read)
would be charged the harness's memory. This script is tiny (no site, no imports beyond
built-ins), so the command it spawns is charged only its own. Wall time is ``perf_counter``
around ``posix_spawn`` → ``os.wait4``; the result is written as JSON to RESULT, and the
launcher exits with the command's exit code.
"""

import os
import sys
import time


def main() -> int:
    result, argv = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as fh:
        # JSON by hand: importing json would raise the launcher's own memory, the floor.
        cpu = usage.ru_utime + usage.ru_stime
        fh.write(
            f'{{"wall_s": {wall!r}, "cpu_s": {cpu!r}, "maxrss_kib": {usage.ru_maxrss}, '
            f'"returncode": {code}}}'
        )
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
