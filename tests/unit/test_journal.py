import json
import os

import pytest

from glance_virtio import journal


def test_records_are_durable_and_readable(tmp_path):
    path = tmp_path / 'sub' / 'j.jsonl'
    with journal.Journal(str(path)) as j:
        j.write('start', cloud='c')
        j.write('intent', image='a', name='A', before={'k': None},
                after={'k': 'v'}, ops=[])
        j.write('result', image='a', outcome='changed')
        j.write('intent', image='b', name='B', before={'k': 'x'},
                after={'k': 'v'}, ops=[])
    assert os.stat(path).st_mode & 0o777 == 0o600
    records = journal.read(str(path))
    assert [r['type'] for r in records] == ['start', 'intent', 'result',
                                            'intent']
    touched = {t['image']: t for t in journal.touched(records)}
    assert touched['a']['outcome'] == 'changed'
    assert touched['b']['outcome'] == 'uncertain'
    assert touched['b']['before'] == {'k': 'x'}


def test_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / 'j.jsonl'
    path.write_text(json.dumps({'type': 'start'}) + '\n{"type": "inte')
    assert journal.read(str(path)) == [{'type': 'start'}]


def test_corrupt_middle_line_is_an_error(tmp_path):
    path = tmp_path / 'j.jsonl'
    path.write_text('{"type": "start"}\nnot json\n{"type": "end"}\n')
    with pytest.raises(ValueError, match='line 2'):
        journal.read(str(path))


def test_run_appended_after_a_torn_line_stays_readable(tmp_path):
    path = tmp_path / 'j.jsonl'
    path.write_text(json.dumps({'type': 'start'}) + '\n{"type": "inte')
    with journal.Journal(str(path)) as j:
        j.write('start', cloud='c')
        j.write('intent', image='a', before={'k': None}, after={'k': 'v'})
    records = journal.read(str(path))
    assert [r['type'] for r in records] == ['start', 'start', 'intent']


def test_runs_touching_different_keys_merge_per_key(tmp_path):
    path = tmp_path / 'j.jsonl'
    with journal.Journal(str(path)) as j:
        j.write('intent', image='a', before={'bus': 'ide'},
                after={'bus': 'scsi'})
        j.write('result', image='a', outcome='changed')
        j.write('intent', image='a', before={'bus': 'scsi', 'vif': None},
                after={'bus': 'virtio', 'vif': 'virtio'})
        j.write('result', image='a', outcome='changed')
    [entry] = journal.touched(journal.read(str(path)))
    assert entry['before'] == {'bus': 'ide', 'vif': None}
    assert entry['after'] == {'bus': 'virtio', 'vif': 'virtio'}
    assert entry['outcome'] == 'changed'


@pytest.mark.parametrize('record', [
    {'type': 'intent', 'image': 'a', 'after': {}},
    {'type': 'intent', 'before': {}, 'after': {}},
    {'type': 'intent', 'image': 'a', 'before': [], 'after': {}},
])
def test_malformed_intent_is_a_clear_error(record):
    with pytest.raises(ValueError, match='record 1 is an intent'):
        journal.touched([record])


def test_a_line_that_is_not_a_record_is_an_error(tmp_path):
    path = tmp_path / 'j.jsonl'
    path.write_text('{"type": "start"}\n[1, 2]\n{"type": "end"}\n')
    with pytest.raises(ValueError, match='line 2'):
        journal.read(str(path))


START = json.dumps({'type': 'start', 'command': 'set'}) + '\n'
INTENT = json.dumps({'type': 'intent', 'image': 'a', 'name': 'A',
                     'before': {'k': None}, 'after': {'k': 'v'}}) + '\n'


@pytest.mark.parametrize('data, message', [
    (b'', 'is empty'),
    (b'\n\n', 'is empty'),
    (b'[policy]\nconcurrency = 8\n', 'line 1 is not a journal record'),
    (b'\x00\x01\x02\xff' * 64, 'binary file'),
    (b'{"type": "start"}\x00\n', 'binary file'),
    (b'{"a": 1}\n', 'does not begin with a start record'),
    (INTENT.encode(), 'does not begin with a start record'),
    (START.encode(), 'names no image'),
    ((START + json.dumps({'type': 'end'}) + '\n').encode(), 'names no image'),
])
def test_a_journal_to_roll_back_must_name_images(tmp_path, data, message):
    path = tmp_path / 'j.jsonl'
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as error:
        journal.load(str(path))
    assert str(path) in str(error.value)


def test_a_journal_of_one_write_loads(tmp_path):
    path = tmp_path / 'j.jsonl'
    path.write_text(START + INTENT)
    start, [entry] = journal.load(str(path))
    assert start['command'] == 'set'
    assert entry['before'] == {'k': None} and entry['outcome'] == 'uncertain'


def test_rolling_back_as_someone_else_is_named():
    from glance_virtio import engine as rollback
    start = {'type': 'start', 'cloud': 'prod', 'project_id': 'p1',
             'user_id': 'u1', 'auth_url': 'https://k/v3'}
    same = {'cloud': 'prod', 'project_id': 'p1', 'user_id': 'u1',
            'auth_url': 'https://k/v3'}
    assert rollback.identity_warning(start, same) is None
    warning = rollback.identity_warning(start, dict(same, project_id='p2',
                                                    cloud='lab'))
    assert 'cloud prod, project_id p1' in warning
    assert 'cloud lab, project_id p2' in warning
    assert 'user_id' not in warning


ENTRY = {'image': 'i1', 'before': {'hw_disk_bus': 'virtio',
                                   'hw_scsi_model': None},
         'after': {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'}}


def test_a_copy_still_at_the_image_before_values_follows_it():
    assert journal.hand_changed({'hw_disk_bus': 'virtio'}, ENTRY) is None
    assert journal.hand_changed({'hw_disk_bus': 'scsi',
                                 'hw_scsi_model': 'virtio-scsi'},
                                ENTRY) is None


def test_a_copy_changed_by_hand_says_both_values():
    why = journal.hand_changed({'hw_disk_bus': 'sata'}, ENTRY)
    assert why.startswith('changed by someone else: ')
    assert 'hw_disk_bus is sata here, the image had virtio before' in why
    assert 'hw_scsi_model' not in why
    why = journal.hand_changed({'hw_disk_bus': 'virtio',
                                'hw_scsi_model': 'lsilogic'}, ENTRY)
    assert 'hw_scsi_model is lsilogic here, the image had unset' in why


def test_followed_takes_changed_and_uncertain_images():
    records = [{'type': 'start', 'command': 'set'},
               dict(ENTRY, type='intent', name='a'),
               {'type': 'result', 'image': 'i1', 'outcome': 'changed'},
               dict(ENTRY, type='intent', image='i2'),
               {'type': 'result', 'image': 'i2', 'outcome': 'failed'}]
    got = journal.followed(records)
    assert list(got) == ['i1']
    assert got['i1']['before'] == ENTRY['before']
    with pytest.raises(ValueError):
        journal.followed([{'type': 'start', 'command': 'volume-set'}])
