"""virtio-set and virtio-rollback against the real local cloud."""

import json
import os
import pty
import subprocess

from tests.functional import conftest
from tests.functional.conftest import run
from tests.functional.conftest import run_json
import load_samples

UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04'}
MIXED = [
    ('lin-virtio', dict(UBUNTU, hw_disk_bus='virtio')),
    ('lin-ide', dict(UBUNTU, hw_disk_bus='ide')),
    ('lin-done', dict(UBUNTU, hw_disk_bus='scsi',
                      hw_scsi_model='virtio-scsi')),
    ('centos6', {'os_distro': 'centos', 'os_version': '6.10',
                 'hw_disk_bus': 'virtio'}),
    ('win-unproven', {'os_type': 'windows', 'hw_disk_bus': 'sata'}),
    ('win-asserted', {'os_type': 'windows', 'hw_disk_bus': 'sata',
                      'virtio_drivers': 'viostor,vioscsi,netkvm'}),
    ('q35-ide', dict(UBUNTU, hw_disk_bus='ide', hw_machine_type='q35')),
]


def make(conn, tag, specs, **kwargs):
    return {name: load_samples.create(conn, name, [tag], props, data=None,
                                      **kwargs)['id']
            for name, props in specs}


def props(conn, image_id):
    return conn.image.get('/images/%s' % image_id).json()


def outcome(rows):
    return {r['Name']: (r['Action'], r['Outcome']) for r in rows}


def test_dry_run_changes_nothing(admin, tag):
    ids = make(admin, tag, MIXED)
    before = {i: props(admin, i) for i in ids.values()}
    rows, result = run_json('set', '--tag', tag, '--bus', 'scsi',
                            '--dry-run', check=5)
    assert outcome(rows)['lin-virtio'] == ('change', 'planned')
    assert outcome(rows)['lin-done'] == ('unchanged', 'planned')
    assert outcome(rows)['win-unproven'] == ('blocked', 'blocked')
    assert {i: props(admin, i)['updated_at'] for i in ids.values()} == {
        i: b['updated_at'] for i, b in before.items()}
    assert 'journal' not in result.stderr


def test_bulk_set_blocks_and_journals_then_rollback(admin, tag, tmp_path):
    ids = make(admin, tag, MIXED)
    journal = tmp_path / 'set.jsonl'
    rows, result = run_json('set', '--tag', tag, '--bus', 'scsi',
                            '--journal', str(journal), check=5)
    got = outcome(rows)
    assert got['lin-virtio'] == ('change', 'changed')
    assert got['lin-ide'] == ('change', 'changed')
    assert got['win-asserted'] == ('change', 'changed')
    assert got['q35-ide'] == ('change', 'changed')
    assert got['lin-done'] == ('unchanged', 'planned')
    assert got['centos6'][0] == 'blocked'
    assert got['win-unproven'][0] == 'blocked'
    after = props(admin, ids['lin-virtio'])
    assert (after['hw_disk_bus'], after['hw_scsi_model']) == (
        'scsi', 'virtio-scsi')
    assert props(admin, ids['win-unproven'])['hw_disk_bus'] == 'sata'
    assert props(admin, ids['centos6'])['hw_disk_bus'] == 'virtio'
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert records[0]['type'] == 'start' and records[-1]['type'] == 'end'
    assert records[0]['cloud'] == 'devcloud-admin'
    intents = [r for r in records if r['type'] == 'intent']
    assert len(intents) == 4
    assert 'password' not in journal.read_text().lower()
    assert 'token' not in journal.read_text().lower()

    again, _ = run_json('set', '--tag', tag, '--bus', 'scsi', check=5)
    actions = {a for a, _ in outcome(again).values()}
    assert actions == {'unchanged', 'blocked'}

    rows, _ = run_json('rollback', str(journal), '--journal',
                       str(tmp_path / 'rb.jsonl'), check=0)
    assert {r['Outcome'] for r in rows} == {'changed'}
    restored = props(admin, ids['lin-virtio'])
    assert restored['hw_disk_bus'] == 'virtio'
    assert 'hw_scsi_model' not in restored
    assert props(admin, ids['lin-ide'])['hw_disk_bus'] == 'ide'
    rows, _ = run_json('rollback', str(journal), check=0)
    assert {r['Outcome'] for r in rows} == {'unchanged'}


def test_allow_accepts_one_named_rule(admin, tag):
    ids = make(admin, tag, [('win', {'os_type': 'windows',
                                     'hw_disk_bus': 'sata'})])
    rows, _ = run_json('set', '--tag', tag, '--bus', 'scsi', '--allow',
                       'GV014', check=5)
    assert outcome(rows)['win'][0] == 'blocked'
    rows, _ = run_json('set', '--tag', tag, '--bus', 'scsi', '--allow',
                       'GV011', '--allow', 'GV014', check=0)
    assert outcome(rows)['win'] == ('change', 'changed')
    assert props(admin, ids['win'])['hw_disk_bus'] == 'scsi'


def test_rollback_reports_conflicts(admin, tag, tmp_path):
    ids = make(admin, tag, MIXED[:2])
    journal = tmp_path / 'j.jsonl'
    run('set', '--tag', tag, '--bus', 'virtio', '--journal', str(journal),
        check=0)
    admin.image.patch('/images/%s' % ids['lin-ide'], data=json.dumps(
        [{'op': 'replace', 'path': '/hw_disk_bus', 'value': 'sata'}]),
        headers={'Content-Type': load_samples.PATCH_TYPE})
    rows, _ = run_json('rollback', str(journal), check=4)
    assert {r['Name']: r['Outcome'] for r in rows} == {'lin-ide': 'conflict'}
    assert props(admin, ids['lin-ide'])['hw_disk_bus'] == 'sata'


def test_member_cannot_change_other_projects_images(admin, tag):
    ids = make(admin, tag, MIXED[:2], visibility='public')
    rows, result = run_json('set', *ids.values(), '--bus', 'scsi',
                            cloud='devcloud-member', check=4)
    assert {r['Outcome'] for r in rows} == {'failed'}
    assert all('403' in r['Reason'] for r in rows)
    assert props(admin, ids['lin-virtio'])['hw_disk_bus'] == 'virtio'


def test_needs_a_selection(cloud):
    result = run('set', '--bus', 'scsi', check=2)
    assert '--all' in result.stderr
    result = run('set', '--all', '--bus', 'scsi', '--allow', 'GV999',
                 check=2)
    assert 'GV999' in result.stderr


def test_openstack_plugin_set(admin, tag):
    ids = make(admin, tag, MIXED[:1])
    rows, _ = run_json('image', 'virtio-set', '--tag', tag, '--bus', 'scsi',
                       '--yes', tool='openstack', check=0)
    assert outcome(rows)['lin-virtio'] == ('change', 'changed')
    assert props(admin, ids['lin-virtio'])['hw_scsi_model'] == 'virtio-scsi'


def on_terminal(args, answer):
    """Run glance-virtio with a terminal as stdin; (exit code, stderr)."""
    primary, secondary = pty.openpty()
    cmd = [os.path.join(conftest.BIN, 'glance-virtio'), '--os-cloud',
           'devcloud-admin'] + list(args)
    proc = subprocess.Popen(cmd, stdin=secondary, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    os.close(secondary)
    os.write(primary, answer.encode())
    out, err = proc.communicate(timeout=300)
    os.close(primary)
    return proc.returncode, err


def test_terminal_asks_before_changing(admin, tag):
    ids = make(admin, tag, MIXED[:1])
    code, err = on_terminal(['set', '--tag', tag, '--bus', 'scsi'], 'n\n')
    assert code == 1 and 'Apply to 1 images? [y/N]' in err
    assert 'hw_disk_bus: virtio -> scsi' in err
    assert 'cancelled: nothing changed' in err
    assert props(admin, ids['lin-virtio'])['hw_disk_bus'] == 'virtio'
    code, err = on_terminal(['set', '--tag', tag, '--bus', 'scsi'], 'y\n')
    assert code == 0, err
    assert props(admin, ids['lin-virtio'])['hw_disk_bus'] == 'scsi'
