"""Run glance_virtio.guard.child on a staged file: the report, never raises."""

import json
import subprocess
import sys

from glance_virtio.inspect.result import error_result

MIB = 1 << 20
# What the child needs beyond the inspection's own timeout: its start.
GRACE = 30


def inspect_staged(path, max_read_mib=256, max_memory_mib=1024,
                   max_cpu_seconds=60, timeout=120, python=None):
    """The inspection report of the file at path, from a fresh process."""
    args = {'path': path, 'max_read': max_read_mib * MIB,
            'max_memory_mb': max_memory_mib,
            'max_cpu_seconds': max_cpu_seconds, 'timeout': timeout}
    try:
        proc = subprocess.run(
            [python or sys.executable, '-m', 'glance_virtio.guard.child'],
            input=json.dumps(args), capture_output=True, text=True,
            timeout=timeout + GRACE, close_fds=True)
    except subprocess.TimeoutExpired:
        return error_result('inspection process timed out after %s s'
                            % (timeout + GRACE))
    except OSError as e:
        return error_result('cannot start the inspection process: %s' % e)
    if proc.returncode != 0:
        tail = ' '.join(proc.stderr.split()[-30:])
        return error_result('inspection process exited with status %d: %s'
                            % (proc.returncode, tail))
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return error_result('inspection process sent an unreadable result')
