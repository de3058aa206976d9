"""virtio-set and virtio-rollback against the real local cloud."""

import json
import os
import pty
import re
import signal
import subprocess

import yaml

from glance_virtio.kinds import images as apply
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
    assert outcome(rows)['lin-done'] == ('unchanged', 'unchanged')
    assert outcome(rows)['win-unproven'] == ('blocked', 'blocked')
    assert {i: props(admin, i)['updated_at'] for i in ids.values()} == {
        i: b['updated_at'] for i, b in before.items()}
    assert 'journal' not in result.stderr


def test_bulk_set_blocks_and_journals_then_rollback(admin, tag, tmp_path):
    ids = make(admin, tag, MIXED)
    journal = tmp_path / 'set.jsonl'
    rows, result = run_json('set', '--tag', tag, '--bus', 'scsi',
                            '--journal', str(journal), '--yes', check=5)
    got = outcome(rows)
    assert got['lin-virtio'] == ('change', 'changed')
    assert got['lin-ide'] == ('change', 'changed')
    assert got['win-asserted'] == ('change', 'changed')
    assert got['q35-ide'] == ('change', 'changed')
    # Rows not written say so, never "planned", after an apply.
    assert got['lin-done'] == ('unchanged', 'unchanged')
    assert got['centos6'] == ('blocked', 'blocked')
    assert got['win-unproven'] == ('blocked', 'blocked')
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

    again, _ = run_json('set', '--tag', tag, '--bus', 'scsi', '--yes',
                        check=5)
    actions = {a for a, _ in outcome(again).values()}
    assert actions == {'unchanged', 'blocked'}

    rows, _ = run_json('rollback', str(journal), '--dry-run', check=0)
    assert {r['Outcome'] for r in rows} == {'planned'}
    rows, _ = run_json('rollback', str(journal), '--journal',
                       str(tmp_path / 'rb.jsonl'), '--yes', check=0)
    assert {r['Outcome'] for r in rows} == {'changed'}
    restored = props(admin, ids['lin-virtio'])
    assert restored['hw_disk_bus'] == 'virtio'
    assert 'hw_scsi_model' not in restored
    assert props(admin, ids['lin-ide'])['hw_disk_bus'] == 'ide'
    # Restored already: the dry run reads that, and a rollback changes
    # nothing, shows no change and writes no journal.
    rows, _ = run_json('rollback', str(journal), '--dry-run', check=0)
    assert {r['Outcome'] for r in rows} == {'unchanged'}
    policy = tmp_path / 'policy.conf'
    policy.write_text('[journal]\ndirectory = %s\n' % (tmp_path / 'jdir'))
    rows, result = run_json('--config-file', str(policy), 'rollback',
                            str(journal), '--yes', check=0)
    assert {r['Outcome'] for r in rows} == {'unchanged'}
    assert {json.dumps(r['Changes']) for r in rows} == {'{}'}
    assert not (tmp_path / 'jdir').exists(), result.stderr
    assert 'journal:' not in result.stderr


def test_allow_accepts_one_named_rule(admin, tag):
    ids = make(admin, tag, [('win', {'os_type': 'windows',
                                     'hw_disk_bus': 'sata'})])
    rows, _ = run_json('set', '--tag', tag, '--bus', 'scsi', '--allow',
                       'GV014', check=5)
    assert outcome(rows)['win'][0] == 'blocked'
    rows, _ = run_json('set', '--tag', tag, '--bus', 'scsi', '--allow',
                       'GV011', '--allow', 'GV014', '--yes', check=0)
    assert outcome(rows)['win'] == ('change', 'changed')
    assert props(admin, ids['win'])['hw_disk_bus'] == 'scsi'


def test_rollback_reports_conflicts(admin, tag, tmp_path):
    ids = make(admin, tag, MIXED[:2])
    journal = tmp_path / 'j.jsonl'
    run('set', '--tag', tag, '--bus', 'virtio', '--journal', str(journal),
        '--yes', check=0)
    admin.image.patch('/images/%s' % ids['lin-ide'], data=json.dumps(
        [{'op': 'replace', 'path': '/hw_disk_bus', 'value': 'sata'}]),
        headers={'Content-Type': load_samples.PATCH_TYPE})
    for extra in (['--dry-run'], ['--yes']):
        rows, _ = run_json('rollback', str(journal), *extra, check=4)
        assert {r['Name']: r['Outcome'] for r in rows} == {
            'lin-ide': 'conflict'}
        # The value found and the value expected, not a change.
        assert rows[0]['Changes'] == {
            'hw_disk_bus': {'found': 'sata', 'expected': 'virtio'}}
        assert 'hw_disk_bus is sata, expected virtio' in rows[0]['Reason']
    assert props(admin, ids['lin-ide'])['hw_disk_bus'] == 'sata'


def test_member_cannot_change_other_projects_images(admin, tag):
    ids = make(admin, tag, MIXED[:2], visibility='public')
    rows, result = run_json('set', *ids.values(), '--bus', 'scsi', '--yes',
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
    ids = make(admin, tag, MIXED[:1] + MIXED[4:5])
    code, err = on_terminal(['set', '--tag', tag, '--bus', 'scsi'], 'n\n')
    assert code == 1 and 'Apply to 1 image? [y/N]' in err
    assert 'hw_disk_bus: virtio -> scsi' in err
    assert 'win-unproven: blocked, not changed: GV011' in err
    assert 'cancelled: nothing changed' in err
    assert props(admin, ids['lin-virtio'])['hw_disk_bus'] == 'virtio'
    code, err = on_terminal(['set', '--tag', tag, '--bus', 'scsi'], 'y\n')
    assert code == 5, err
    assert props(admin, ids['lin-virtio'])['hw_disk_bus'] == 'scsi'


def test_without_a_terminal_only_yes_applies(admin, tag, tmp_path):
    ids = make(admin, tag, MIXED[:1])
    journal = tmp_path / 'j.jsonl'
    result = run('set', '--tag', tag, '--bus', 'scsi', '--journal',
                 str(journal), stdin='', check=1)
    assert '--yes' in result.stderr and 'nothing changed' in result.stderr
    assert props(admin, ids['lin-virtio'])['hw_disk_bus'] == 'virtio'
    assert not journal.exists()
    run('set', '--tag', tag, '--bus', 'scsi', '--journal', str(journal),
        '--yes', stdin='', check=0)
    result = run('rollback', str(journal), stdin='', check=1)
    assert '--yes' in result.stderr
    assert props(admin, ids['lin-virtio'])['hw_disk_bus'] == 'scsi'


def bad_password_clouds(tmp_path):
    with open(os.environ['OS_CLIENT_CONFIG_FILE']) as f:
        clouds = yaml.safe_load(f)
    clouds['clouds']['devcloud-admin']['auth']['password'] = 'not-it'
    path = tmp_path / 'clouds.yaml'
    path.write_text(yaml.safe_dump(clouds))
    path.chmod(0o600)
    return str(path)


def test_rollback_dry_run_reads_the_cloud(admin, tag, tmp_path):
    make(admin, tag, MIXED[:1])
    journal = tmp_path / 'j.jsonl'
    run('set', '--tag', tag, '--bus', 'scsi', '--journal', str(journal),
        '--yes', check=0)
    result = run('rollback', str(journal), '--dry-run', check=1,
                 env={'OS_CLIENT_CONFIG_FILE': bad_password_clouds(tmp_path)})
    assert '401' in result.stderr and not result.stdout


def test_journal_option_never_overwrites(admin, tag, tmp_path):
    ids = make(admin, tag, MIXED[:1])
    journal = tmp_path / 'j.jsonl'
    journal.write_text('kept\n')
    result = run('set', '--tag', tag, '--bus', 'scsi', '--journal',
                 str(journal), '--yes', check=1)
    assert '--append' in result.stderr and 'plan:' not in result.stderr
    assert journal.read_text() == 'kept\n'
    result = run('set', '--tag', tag, '--bus', 'scsi', '--journal', '',
                 '--yes', check=2)
    assert '--journal' in result.stderr
    journal.unlink()
    run('set', '--tag', tag, '--bus', 'scsi', '--journal', str(journal),
        '--yes', check=0)
    run('set', '--tag', tag, '--bus', 'virtio', '--journal', str(journal),
        '--append', '--yes', check=0)
    starts = [r for r in map(json.loads, journal.read_text().splitlines())
              if r['type'] == 'start']
    assert len(starts) == 2
    assert props(admin, ids['lin-virtio'])['hw_disk_bus'] == 'virtio'


START = json.dumps({'type': 'start', 'command': 'set'}) + '\n'


def test_journals_that_name_nothing_are_refused(cloud, tmp_path):
    cases = {
        'empty': (b'', 'is empty'),
        'yaml': (b'type: start\nimage: x\n', 'line 1 is not a journal'),
        'binary': (bytes(range(256)), 'binary file'),
        'start-only': (START.encode(), 'names no image'),
        'no-image': ((START + json.dumps({'type': 'end'}) + '\n').encode(),
                     'names no image'),
        'not-a-journal': (b'{"a": 1}\n', 'does not begin with a start'),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        for extra in ([], ['--dry-run']):
            result = run('rollback', str(path), '--yes', *extra, check=1)
            assert message in result.stderr and str(path) in result.stderr
            assert 'Traceback' not in result.stderr
            assert 'journal:' not in result.stderr


def test_rollback_as_someone_else_warns_before_writing(admin, tag,
                                                       tmp_path):
    ids = make(admin, tag, MIXED[:1])
    journal = tmp_path / 'j.jsonl'
    run('set', '--tag', tag, '--bus', 'scsi', '--journal', str(journal),
        '--yes', check=0)
    records = journal.read_text().splitlines()
    start = json.loads(records[0])
    start.update(cloud='other-cloud', project_id='0' * 32)
    journal.write_text('\n'.join([json.dumps(start)] + records[1:]) + '\n')
    result = run('rollback', str(journal), '--journal',
                 str(tmp_path / 'rb.jsonl'), '--yes', check=0)
    warning = result.stderr.index('warning: the journal was written with '
                                  'cloud other-cloud, project_id ' + '0' * 32)
    assert warning < result.stderr.index('journal: ')
    assert props(admin, ids['lin-virtio'])['hw_disk_bus'] == 'virtio'


def test_a_bad_policy_stops_before_the_plan(admin, tag, tmp_path):
    ids = make(admin, tag, MIXED[:1])
    policy = tmp_path / 'policy.conf'
    journal = tmp_path / 'j.jsonl'
    for text in ('[policy]\nconcurrency = lots\n',
                 '[policy]\ndisabled_rules = GV999\n', '[polcy]\nx = 1\n'):
        policy.write_text(text)
        result = run('--config-file', str(policy), 'set', '--tag', tag,
                     '--bus', 'scsi', '--journal', str(journal), '--yes',
                     check=1)
        assert str(policy) in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert not journal.exists()
    assert props(admin, ids['lin-virtio'])['hw_disk_bus'] == 'virtio'


def batch_reads(stderr):
    """The image ids of each list read by id (id=in:) in a -vv log."""
    return [found.split('%2C') for found in re.findall(
        r'"GET /v2/images\?id=in%3A([^&" ]+)', stderr)]


def test_set_reads_fresh_in_a_batch_then_patches(admin, tag, tmp_path):
    ids = make(admin, tag, MIXED[:2])
    result = run('-vv', 'set', '--tag', tag, '--bus', 'scsi', '--journal',
                 str(tmp_path / 'j.jsonl'), '--yes', check=0)
    # The compare step: one list read by id for both, then one PATCH each.
    assert [sorted(b) for b in batch_reads(result.stderr)] == [
        sorted(ids.values())]
    for image_id in ids.values():
        sent = re.findall(r'"(GET|PATCH) /v2/images/%s HTTP' % image_id,
                          result.stderr)
        assert sent == ['PATCH'], sent
        assert props(admin, image_id)['hw_disk_bus'] == 'scsi'


def test_an_image_the_batch_misses_is_read_alone(admin, tag, tmp_path):
    # Glance's list leaves hidden images out; a GET still shows them.
    ids = make(admin, tag, [('hidden', dict(UBUNTU, hw_disk_bus='virtio',
                                            os_hidden=True))])
    image_id = ids['hidden']
    result = run('-vv', 'set', image_id, '--bus', 'scsi', '--journal',
                 str(tmp_path / 'j.jsonl'), '--yes', check=0)
    assert batch_reads(result.stderr) == [[image_id]]
    sent = re.findall(r'"(GET|PATCH) /v2/images/%s HTTP' % image_id,
                      result.stderr)
    # The selection's GET, the compare step's GET, the PATCH.
    assert sent == ['GET', 'GET', 'PATCH'], sent
    assert props(admin, image_id)['hw_disk_bus'] == 'scsi'


def test_a_change_after_the_plan_is_a_conflict(admin, tag, tmp_path):
    count = 24
    make(admin, tag, [('img-%02d' % n, dict(UBUNTU, hw_disk_bus='virtio'))
                      for n in range(count)])
    path = str(tmp_path / 'j.jsonl')
    proc = conftest.start_set(tag, path, 1)
    # Stopped once the plan is made and the journal started.
    conftest.pause_when(proc, lambda: any(
        r['type'] == 'start' for r in conftest.records(path)),
        'a journal start record in %s' % path)
    try:
        written = len(conftest.intents(path))
        for image in admin.image.images(tag=tag):
            admin.image.update_image(image, hw_disk_bus='sata')
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=conftest.DEADLINE)
    assert proc.returncode == 4, err
    order = [r['ID'] for r in json.loads(out)]
    rows = {r['ID']: r for r in json.loads(out)}
    # One worker reads a batch when it reaches the batch's first image: at
    # the pause, no image past the batch holding the next write was read.
    batch = apply.batch_size(1)
    read = batch * (written // batch + 1)
    assert read < count, 'the run was nearly done before it could be paused'
    for image_id in order[read:]:
        assert rows[image_id]['Outcome'] == 'conflict'
        assert 'hw_disk_bus is sata, expected virtio' in \
            rows[image_id]['Reason']
        assert props(admin, image_id)['hw_disk_bus'] == 'sata'
    assert not conftest.intents(path) & set(order[read:])
