"""Kill Glance in the middle of a bulk virtio-set and check nothing is lost."""

import concurrent.futures
import json
import os
import signal

from glance_virtio.services import glance
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
    count, concurrency = 200, 2
    make(admin, tag, count)
    path = str(tmp_path / 'interrupted.jsonl')
    proc = conftest.start_set(tag, path, concurrency)
    conftest.pause_after_intents(proc, path, 10)
    # Stopped: the journal holds still while it is read.
    at_pause = conftest.intents(path)
    assert len(at_pause) < count - concurrency, \
        'the run was nearly done before it could be paused'
    proc.send_signal(signal.SIGINT)
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=conftest.DEADLINE)
    assert proc.returncode == 1, err
    assert 'interrupted' in err and path in err
    # The table of what finished still reaches stdout.
    rows = {r['ID']: r['Outcome'] for r in json.loads(out)}
    assert len(rows) == count
    records = journal_mod.read(path)
    touched = {t['image']: t for t in journal_mod.touched(records)}
    # Writes in flight finish: nothing is left uncertain. Each worker may
    # finish one write not yet at its intent when paused, none more.
    assert {t['outcome'] for t in touched.values()} == {'changed'}
    assert at_pause <= set(touched)
    assert len(touched) - len(at_pause) <= concurrency
    assert conftest.intents(path) == set(touched)
    changed = {i for i, o in rows.items() if o == 'changed'}
    assert changed == set(touched)
    assert {o for i, o in rows.items() if i not in touched} == {
        'not attempted'}
    assert records[-1]['type'] == 'end' and records[-1]['interrupted']
    assert records[-1]['summary'] == {'changed': len(touched),
                                      'not attempted': count - len(touched)}
    current = state(admin, tag)
    assert len(current) == count
    for image_id, values in current.items():
        assert values == (AFTER if image_id in touched else BEFORE)
    conftest.run('rollback', path, '--yes', check=0)
    assert all(v == BEFORE for v in state(admin, tag).values())
    load_samples.delete_tagged(admin, tag)


def results(path):
    """{image id: outcome} of the journal's result records so far."""
    return {r['image']: r['outcome'] for r in conftest.records(path)
            if r['type'] == 'result'}


def kill_glance_mid_write(proc, path):
    """Crash Glance while writes are under way; revive it once they end.

    The run is stopped while it has a write between intent and result;
    Glance is killed; the run goes on, and Glance stays down until the
    journal has a result for every write that was under way. When none of
    them failed or is uncertain (each PATCH had been answered), Glance is
    revived and the cycle repeats on later writes.
    """
    while True:
        conftest.pause_when(proc, lambda: conftest.in_flight(path),
                            'a write under way in %s' % path)
        under_way = conftest.in_flight(path)
        try:
            devcloud.stop_glance(kill=True)
            os.kill(proc.pid, signal.SIGCONT)
            conftest.wait_until(lambda: under_way <= set(results(path)),
                                'result for %s' % sorted(under_way))
        finally:
            devcloud.start_glance()
        if {results(path)[i] for i in under_way} & {'failed', 'uncertain'}:
            return


def test_glance_killed_mid_run(admin, tag, tmp_path):
    make(admin, tag, COUNT)
    first = str(tmp_path / 'first.jsonl')
    proc = conftest.start_set(tag, first, 4)
    try:
        conftest.pause_after_intents(proc, first, 60)
        os.kill(proc.pid, signal.SIGCONT)
        kill_glance_mid_write(proc, first)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=conftest.DEADLINE)
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
    # The journal and the table agree on every write that reached it.
    assert {i: o for i, o in results(first).items()} == {
        r['ID']: r['Outcome'] for r in rows if r['ID'] in touched}

    second = str(tmp_path / 'second.jsonl')
    conftest.run('set', '--tag', tag, '--bus', 'scsi', '--journal', second,
                 '--yes', check=0)
    assert all(v == AFTER for v in state(admin, tag).values())

    conftest.run('rollback', first, '--yes', check=0)
    conftest.run('rollback', second, '--yes', check=0)
    assert all(v == BEFORE for v in state(admin, tag).values())
    load_samples.delete_tagged(admin, tag)
