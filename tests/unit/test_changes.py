"""Marks for --since and the watcher's memory of what it judged."""

import datetime
import json

import pytest

from glance_virtio import changes
from glance_virtio import model

NOW = datetime.datetime(2026, 12, 5, 7, 30, 0,
                        tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize('text, mark', [
    ('90s', '2026-12-05T07:28:30Z'),
    ('15m', '2026-12-05T07:15:00Z'),
    ('6h', '2026-12-05T01:30:00Z'),
    ('1d12h', '2026-12-03T19:30:00Z'),
    ('2W', '2026-11-21T07:30:00Z'),
    ('2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z'),
    ('2026-12-01T10:00:00', '2026-12-01T10:00:00Z'),
    ('2026-12-01T11:00:00+01:00', '2026-12-01T10:00:00Z'),
    ('2026-12-01', '2026-12-01T00:00:00Z'),
])
def test_since(text, mark):
    assert changes.parse_since(text, NOW) == mark


@pytest.mark.parametrize('text', ['yesterday', '5x', '-3h', '', 'm'])
def test_since_refuses_nonsense(text):
    with pytest.raises(ValueError, match='ISO 8601'):
        changes.parse_since(text, NOW)


def image(**props):
    return model.Image('i1', 'img', 'p', 'public', 'active', checksum='c1',
                       properties=props)


def test_one_signature_per_state():
    a = image(hw_disk_bus='scsi')
    assert changes.signature(a) == changes.signature(image(hw_disk_bus='scsi'))
    assert changes.signature(a) != changes.signature(image(hw_disk_bus='ide'))
    queued = model.Image('i1', 'img', 'p', 'public', 'queued',
                         properties={'hw_disk_bus': 'scsi'})
    assert changes.signature(a) != changes.signature(queued)
    # Glance's import and copy-image bookkeeping is not a change judged.
    locked = image(hw_disk_bus='scsi', os_glance_import_task='t1',
                   os_glance_importing_to_stores='local')
    assert changes.signature(a) == changes.signature(locked)


def test_state_round_trip(tmp_path):
    path = str(tmp_path / 'state.json')
    state = changes.load_state(path)
    assert state.mark is None and state.is_new(image())
    state.judged(image())
    state.advance('2026-12-05T07:00:00Z')
    state.advance('2026-12-05T06:00:00.000000')
    changes.save_state(path, state)
    again = changes.load_state(path)
    assert again.mark == '2026-12-05T07:00:00Z'
    assert not again.is_new(image())
    assert again.is_new(image(hw_disk_bus='ide'))
    again.forget('i1')
    assert again.is_new(image())


def test_state_file_errors_name_the_file(tmp_path):
    path = tmp_path / 'state.json'
    path.write_text('{"version": 1, "mark": "soon"}')
    with pytest.raises(ValueError, match='state.json'):
        changes.load_state(str(path))
    path.write_text(json.dumps({'version': 9}))
    with pytest.raises(ValueError, match='unknown version'):
        changes.load_state(str(path))
