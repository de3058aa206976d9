"""Kill Glance in the middle of a bulk virtio-set and check nothing is lost."""

import concurrent.futures
import json
import signal
import time

from glance_virtio import glance
from glance_virtio import journal as journal_mod
from tests.functional import conftest
from tests.functional import devcloud
import load_samples

COUNT = 300
BEFORE = {'hw_disk_bus': 'virtio', 'hw_scsi_model': None}
AFTER = {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'}
UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
          'hw_disk_bus': 'virtio'}


def state(admin, tag):
    return {i.id: {'hw_disk_bus': i.properties.get('hw_disk_bus'),
                   'hw_scsi_model': i.properties.get('hw_scsi_model')}
            for i in glance.list_images(admin, {'tag': [tag]})}


def make(admin, tag, count):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: load_samples.create(
            admin, 'fault-%03d' % n, [tag], UBUNTU, data=None),
            range(count)))


def test_ctrl_c_stops_the_run_and_the_journal_explains_it(admin, tag,
                                                          tmp_path):
    make(admin, tag, 200)
    path = str(tmp_path / 'interrupted.jsonl')
    proc = conftest.start_set(tag, path, 2)
    conftest.wait_for_intents(path, 10)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert 'interrupted' in err and path in err
    # The table of what finished still reaches stdout.
    rows = {r['ID']: r['Outcome'] for r in json.loads(out)}
    assert len(rows) == 200
    records = journal_mod.read(path)
    assert records[-1]['type'] == 'end' and records[-1]['interrupted']
    assert records[-1]['summary'].get('not attempted', 0) > 100
    touched = {t['image']: t for t in journal_mod.touched(records)}
    # Writes in flight finish: nothing is left uncertain.
    assert {t['outcome'] for t in touched.values()} == {'changed'}
    current = state(admin, tag)
    for image_id, values in current.items():
        assert values == (AFTER if image_id in touched else BEFORE)
    assert len(touched) < 200
    assert {i for i, o in rows.items() if o == 'changed'} == set(touched)
    assert {o for i, o in rows.items() if i not in touched} == {
        'not attempted'}
    conftest.run('rollback', path, '--yes', check=0)
    assert all(v == BEFORE for v in state(admin, tag).values())
    load_samples.delete_tagged(admin, tag)


def test_glance_killed_mid_run(admin, tag, tmp_path):
    make(admin, tag, COUNT)
    first = str(tmp_path / 'first.jsonl')
    proc = conftest.start_set(tag, first, 4)
    try:
        conftest.wait_for_intents(first, 60)
        devcloud.stop_glance(kill=True)
        time.sleep(25)
    finally:
        devcloud.start_glance()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 4, err
    rows = json.loads(out)
    outcomes = {r['Outcome'] for r in rows}
    assert outcomes & {'failed', 'uncertain'} and 'changed' in outcomes

    current = state(admin, tag)
    assert len(current) == COUNT
    # Never a half state, and every changed image is named in the journal.
    touched = {t['image'] for t in journal_mod.touched(
        journal_mod.read(first))}
    for image_id, values in current.items():
        assert values in (BEFORE, AFTER), values
        if values == AFTER:
            assert image_id in touched
    # "failed" means unchanged; a PATCH that may have landed is
    # "uncertain", and the journal names the image.
    failed = {r['ID'] for r in rows if r['Outcome'] == 'failed'}
    assert all(current[i] == BEFORE for i in failed)
    uncertain = {r['ID'] for r in rows if r['Outcome'] == 'uncertain'}
    assert uncertain <= touched

    second = str(tmp_path / 'second.jsonl')
    conftest.run('set', '--tag', tag, '--bus', 'scsi', '--journal', second,
                 '--yes', check=0)
    assert all(v == AFTER for v in state(admin, tag).values())

    conftest.run('rollback', first, '--yes', check=0)
    conftest.run('rollback', second, '--yes', check=0)
    assert all(v == BEFORE for v in state(admin, tag).values())
    load_samples.delete_tagged(admin, tag)
