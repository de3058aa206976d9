"""Run an inspection in a forked child with memory, CPU and time limits."""

import faulthandler
import json
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time

from glance_virtio.inspect.core import inspect_file
from glance_virtio.inspect.result import error_result

LOG = logging.getLogger(__name__)
# Held from creating a child's pipe to closing its write end here, so that
# no sibling forked from another thread inherits that write end and delays
# the EOF that tells of a crashed child.
_SPAWN = threading.Lock()


def inspect_isolated(opener, max_read=None, max_memory_mb=1024,
                     max_cpu_seconds=60, timeout=120):
    """Run ``inspect_file(opener(), max_read)`` in a forked child.

    The child's address space may grow by ``max_memory_mb`` MiB beyond
    what it inherits, and it may use ``max_cpu_seconds`` of CPU; the
    parent kills it after ``timeout`` seconds. Any failure comes back as a
    result with status "error"; nothing is raised.
    """
    started = time.monotonic()
    context = multiprocessing.get_context('fork')
    with _SPAWN:
        reader, writer = context.Pipe(duplex=False)
        child = context.Process(
            target=_child, args=(opener, max_read, max_memory_mb,
                                 max_cpu_seconds, writer),
            name='glance-virtio-inspect', daemon=True)
        try:
            child.start()
        except OSError as exc:
            reader.close()
            return _failed('cannot start the inspection process: %s' % exc,
                           started)
        finally:
            writer.close()
    payload = None
    try:
        if reader.poll(timeout):
            payload = reader.recv()
    except (EOFError, OSError):
        payload = None
    finally:
        reader.close()
    if payload is None and child.is_alive():
        child.join(0.5)
    if child.is_alive():
        child.kill()
        child.join()
        if payload is None:
            return _failed('inspection timed out after %s s' % timeout,
                           started)
    child.join()
    if payload is not None:
        try:
            return json.loads(payload)
        except ValueError:
            return _failed('inspection process sent an unreadable result',
                           started)
    return _failed(_exit_reason(child.exitcode, max_memory_mb,
                                max_cpu_seconds), started)


def _exit_reason(code, max_memory_mb, max_cpu_seconds):
    if code is None:
        return 'inspection process did not finish'
    if code < 0:
        signum = -code
        if signum == signal.SIGXCPU:
            return 'inspection exceeded the CPU limit of %s s' \
                % max_cpu_seconds
        if signum == signal.SIGKILL:
            return 'inspection process was killed (memory limit of %s MiB ' \
                'or the OOM killer?)' % max_memory_mb
        return 'inspection process crashed with signal %s' % (
            signal.Signals(signum).name if signum in signal.valid_signals()
            else signum)
    return 'inspection process exited with status %d without a result' \
        % code


def _failed(message, started):
    result = error_result(message)
    result['seconds'] = round(time.monotonic() - started, 3)
    return result


def _address_space():
    """Bytes of address space this process uses now."""
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _child(opener, max_read, max_memory_mb, max_cpu_seconds, writer):
    try:
        # A crash is reported by the parent; no traceback dump on stderr.
        faulthandler.disable()
        limit = _address_space() + max_memory_mb * (1 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        used = int(resource.getrusage(resource.RUSAGE_SELF).ru_utime)
        cpu = used + max(1, int(max_cpu_seconds))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        started = time.monotonic()
        try:
            fobj = opener()
        except MemoryError:
            result = error_result('out of memory (limit %s MiB) while '
                                  'opening the image' % max_memory_mb)
        except Exception as exc:
            result = error_result('cannot open the image: %s: %s'
                                  % (type(exc).__name__, exc))
        else:
            result = inspect_file(fobj, max_read=max_read)
            if result['error'] == 'out of memory while inspecting':
                result['error'] = 'out of memory (limit %s MiB) while ' \
                    'inspecting' % max_memory_mb
        result['seconds'] = round(time.monotonic() - started, 3)
        writer.send(json.dumps(result))
    except BaseException as exc:  # never let the child run the parent's code
        LOG.error('inspection child failed: %s: %s', type(exc).__name__, exc)
        LOG.debug('inspection child failed', exc_info=True)
    finally:
        writer.close()
        os._exit(0)
