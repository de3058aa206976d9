import os
import signal
import time

from glance_virtio.inspect import inspect_isolated
from tests.unit.inspect.helpers import range_file
from tests.unit.inspect.helpers import states


def test_isolated_result_matches_inline(debian_image):
    result = inspect_isolated(lambda: range_file(debian_image),
                              max_read=None, max_memory_mb=1024,
                              max_cpu_seconds=60, timeout=60)
    assert result['status'] == 'ok', result['error']
    assert states(result)['virtio_blk'] == 'ready'
    assert result['bytes_read'] > 0


def test_memory_limit():
    def opener():
        return bytearray(8 << 30)
    result = inspect_isolated(opener, max_read=None, max_memory_mb=256,
                              max_cpu_seconds=30, timeout=60)
    assert result['status'] == 'error'
    assert result['error'] == \
        'out of memory (limit 256 MiB) while opening the image'


def test_cpu_limit():
    def opener():
        while True:
            pass
    started = time.monotonic()
    result = inspect_isolated(opener, max_read=None, max_memory_mb=256,
                              max_cpu_seconds=1, timeout=60)
    assert result['status'] == 'error'
    assert result['error'] == 'inspection exceeded the CPU limit of 1 s'
    assert time.monotonic() - started < 30


def test_timeout():
    def opener():
        time.sleep(60)
    started = time.monotonic()
    result = inspect_isolated(opener, max_read=None, max_memory_mb=256,
                              max_cpu_seconds=30, timeout=1)
    assert result['status'] == 'error'
    assert result['error'] == 'inspection timed out after 1 s'
    assert time.monotonic() - started < 10


def test_crash():
    def opener():
        os.kill(os.getpid(), signal.SIGSEGV)
    result = inspect_isolated(opener, max_read=None, max_memory_mb=256,
                              max_cpu_seconds=30, timeout=60)
    assert result['status'] == 'error'
    assert result['error'] == \
        'inspection process crashed with signal SIGSEGV'


def test_opener_failure():
    def opener():
        raise ConnectionError('glance said 503')
    result = inspect_isolated(opener, max_read=None, max_memory_mb=256,
                              max_cpu_seconds=30, timeout=60)
    assert result['error'] == \
        'cannot open the image: ConnectionError: glance said 503'


def test_read_limit(debian_image):
    result = inspect_isolated(lambda: range_file(debian_image),
                              max_read=256 << 10, max_memory_mb=1024,
                              max_cpu_seconds=30, timeout=60)
    assert result['status'] == 'error'
    assert 'read limit of 262144 bytes' in result['error']
