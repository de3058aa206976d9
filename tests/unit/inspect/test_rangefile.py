import io
import os

import pytest

from glance_virtio.inspect import fileobj
from glance_virtio.inspect import InspectError
from glance_virtio.inspect import RangeFile
from glance_virtio.inspect import ReadLimitExceeded


DATA = os.urandom(1000003)


class Recorder:
    def __init__(self, data=DATA):
        self.data = data
        self.calls = []

    def __call__(self, offset, length):
        self.calls.append((offset, length))
        return self.data[offset:offset + length]


def test_reads_match_the_data_at_any_offset():
    fetch = Recorder()
    rf = RangeFile(fetch, len(DATA), block_size=4096)
    for offset, length in ((0, 10), (4090, 20), (999990, 100), (123456, 70000),
                           (len(DATA) - 1, 5), (len(DATA), 5)):
        rf.seek(offset)
        assert rf.read(length) == DATA[offset:offset + length]
        assert rf.tell() == min(offset + length, len(DATA))


def test_is_a_seekable_readable_raw_io():
    rf = RangeFile(Recorder(), len(DATA))
    assert isinstance(rf, io.RawIOBase)
    assert rf.readable() and rf.seekable()
    assert rf.seek(-10, io.SEEK_END) == len(DATA) - 10
    assert rf.seek(4, io.SEEK_CUR) == len(DATA) - 6
    assert rf.read() == DATA[-6:]
    assert rf.get_size() == len(DATA)
    with pytest.raises(ValueError):
        rf.seek(-1)
    buffered = io.BufferedReader(RangeFile(Recorder(), len(DATA)))
    assert buffered.read(100) == DATA[:100]


def test_counts_fetched_bytes_and_caches_blocks():
    fetch = Recorder()
    rf = RangeFile(fetch, len(DATA), block_size=4096, readahead=1)
    rf.seek(5000)
    rf.read(10)
    assert rf.bytes_fetched == 4096
    assert fetch.calls == [(4096, 4096)]
    rf.seek(5100)
    rf.read(100)
    assert rf.bytes_fetched == 4096
    assert len(fetch.calls) == 1


def test_cache_is_bounded_lru():
    fetch = Recorder()
    rf = RangeFile(fetch, len(DATA), block_size=1000, readahead=1,
                   cache_blocks=2)
    for offset in (0, 1000, 0, 2000):
        rf.read_at(offset, 1)
    # block 0 was used again, so block 1000 was evicted, not 0.
    rf.read_at(0, 1)
    assert len(fetch.calls) == 3
    rf.read_at(1000, 1)
    assert len(fetch.calls) == 4


def test_sequential_reads_grow_the_read_ahead_window():
    fetch = Recorder()
    rf = RangeFile(fetch, len(DATA), block_size=1000, readahead=8)
    while rf.read(500):
        pass
    sizes = [length for _offset, length in fetch.calls]
    assert max(sizes) == 8000
    assert len(fetch.calls) < len(DATA) // 1000 // 4
    assert rf.bytes_fetched == len(DATA)


def test_random_reads_fetch_single_blocks():
    fetch = Recorder()
    rf = RangeFile(fetch, len(DATA), block_size=1000, readahead=8)
    for offset in (500000, 10000, 900000, 300000):
        rf.read_at(offset, 10)
    assert [length for _o, length in fetch.calls] == [1000] * 4


def test_a_large_read_is_one_fetch():
    fetch = Recorder()
    rf = RangeFile(fetch, len(DATA), block_size=1000, readahead=2)
    assert rf.read_at(0, 20000) == DATA[:20000]
    assert fetch.calls == [(0, 20000)]


def test_max_read_raises_and_flags():
    rf = RangeFile(Recorder(), len(DATA), block_size=1000, max_read=2500)
    rf.read_at(0, 10)
    rf.read_at(1000, 10)
    with pytest.raises(ReadLimitExceeded):
        rf.read_at(500000, 10)
    assert isinstance(ReadLimitExceeded('x'), InspectError)
    assert rf.limit_exceeded
    assert rf.bytes_fetched <= 2500


def test_max_read_drops_read_ahead_before_giving_up():
    rf = RangeFile(Recorder(), len(DATA), block_size=1000, readahead=8,
                   max_read=3000)
    data = b''
    for _ in range(3):
        data += rf.read(1000)
    assert data == DATA[:3000]
    assert not rf.limit_exceeded


def test_short_fetch_is_an_error():
    rf = RangeFile(lambda offset, length: b'x', 10000, block_size=1000)
    with pytest.raises(InspectError):
        rf.read(10)


def test_reading_past_the_end_is_recorded():
    rf = RangeFile(Recorder(), 100, block_size=64)
    rf.seek(200)
    assert rf.read(10) == b''
    assert rf.past_end == 200


@pytest.mark.parametrize('make', [
    lambda data: RangeFile(lambda o, n: data[o:o + n], len(data)),
    lambda data: fileobj.SubFile(io.BytesIO(b'xx' + data), 2, len(data))])
def test_range_and_sub_files_seek_alike(make):
    """One seek for RangeFile and the fileobj adapters."""
    f = make(b'0123456789')
    assert f.seek(-3, io.SEEK_END) == 7 and f.read(2) == b'78'
    assert f.seek(-2, io.SEEK_CUR) == 7 and f.tell() == 7
    with pytest.raises(ValueError, match='negative seek position -1'):
        f.seek(-1)
    with pytest.raises(ValueError, match='invalid whence'):
        f.seek(0, 7)
