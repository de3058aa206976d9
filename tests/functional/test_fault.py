"""Kill Glance in the middle of a bulk virtio-set and check nothing is lost."""

import concurrent.futures
import json
import os
import subprocess
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


def intents(path):
    return [r for r in journal_mod.read(path) if r['type'] == 'intent']


def test_glance_killed_mid_run(admin, tag, tmp_path):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: load_samples.create(
            admin, 'fault-%03d' % n, [tag], UBUNTU, data=None),
            range(COUNT)))
    first = str(tmp_path / 'first.jsonl')
    cmd = [os.path.join(conftest.BIN, 'glance-virtio'), '--os-cloud',
           'devcloud-admin', 'set', '--tag', tag, '--bus', 'scsi',
           '--concurrency', '4', '--journal', first, '-f', 'json']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if os.path.exists(first) and len(intents(first)) >= 60:
                break
            time.sleep(0.05)
        devcloud.stop_glance(kill=True)
        time.sleep(25)
    finally:
        devcloud.start_glance()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 4, err
    rows = json.loads(out)
    outcomes = {r['Outcome'] for r in rows}
    assert 'failed' in outcomes and 'changed' in outcomes

    current = state(admin, tag)
    assert len(current) == COUNT
    # Never a half state, and every changed image is named in the journal.
    touched = {t['image'] for t in journal_mod.touched(
        journal_mod.read(first))}
    for image_id, values in current.items():
        assert values in (BEFORE, AFTER), values
        if values == AFTER:
            assert image_id in touched
    failed = {r['ID'] for r in rows if r['Outcome'] == 'failed'}
    assert failed and all(current[i] == BEFORE or i in touched
                          for i in failed)

    second = str(tmp_path / 'second.jsonl')
    conftest.run('set', '--tag', tag, '--bus', 'scsi', '--journal', second,
                 check=0)
    assert all(v == AFTER for v in state(admin, tag).values())

    conftest.run('rollback', first, check=0)
    conftest.run('rollback', second, check=0)
    assert all(v == BEFORE for v in state(admin, tag).values())
    load_samples.delete_tagged(admin, tag)
