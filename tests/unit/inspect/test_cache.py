import json
import os

from glance_virtio.inspect import ResultCache
from glance_virtio.inspect import SCHEMA_VERSION


def test_put_then_get(tmp_path):
    cache = ResultCache(str(tmp_path / 'c'))
    assert cache.get('sha512:abc') is None
    cache.put('sha512:abc', {'status': 'ok', 'bytes_read': 3})
    assert cache.get('sha512:abc') == {'status': 'ok', 'bytes_read': 3}
    assert cache.get('sha512:abd') is None
    names = os.listdir(str(tmp_path / 'c'))
    assert len(names) == 1 and names[0].endswith('.json')
    assert 'abc' not in names[0]


def test_overwrite_and_corrupt_file(tmp_path):
    cache = ResultCache(str(tmp_path))
    cache.put('x', {'n': 1})
    cache.put('x', {'n': 2})
    assert cache.get('x') == {'n': 2}
    (path,) = [tmp_path / n for n in os.listdir(str(tmp_path))]
    path.write_text('{not json')
    assert cache.get('x') is None


def test_schema_version_is_part_of_the_entry(tmp_path):
    cache = ResultCache(str(tmp_path))
    cache.put('x', {'n': 1})
    (path,) = [tmp_path / n for n in os.listdir(str(tmp_path))]
    entry = json.loads(path.read_text())
    assert entry['schema'] == SCHEMA_VERSION
    entry['schema'] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(entry))
    assert cache.get('x') is None


def test_default_directory(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    cache = ResultCache()
    assert cache.directory == str(tmp_path / '.cache' / 'glance-virtio' /
                                  'inspect')


def test_a_cache_that_cannot_be_written_is_not_fatal(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    cache = ResultCache(str(blocker / 'cache'))
    assert cache.put('x', {'n': 1}) is False
    assert cache.get('x') is None
