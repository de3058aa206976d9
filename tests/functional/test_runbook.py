"""virtio-set --runbook: the runbook's own commands, run as written."""

import os
import shlex
import subprocess

import pytest

from tests.functional.conftest import BIN
from tests.functional.conftest import run
from tests.functional.conftest import run_json
import load_samples

HEADINGS = ['## What changes', '## Pre-checks', '## Apply', '## Roll back',
            '## What the change does not reach', '## Verify after the change']


@pytest.fixture
def mixed(admin, tag):
    """A private copy of the sample catalogue: a mixed plan for --bus scsi."""
    loaded = load_samples.load(admin, tag)
    yield loaded
    load_samples.delete_tagged(admin, tag)


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / 'glance-virtio.conf'
    path.write_text('[journal]\ndirectory = %s\n' % (tmp_path / 'journals'))
    return str(path)


def sh_block(text, heading):
    body = text.split(heading + '\n', 1)[1].split('```sh\n', 1)[1]
    return shlex.split(body.split('\n```', 1)[0])


def run_as_written(argv):
    assert argv[0] == 'glance-virtio'
    result = subprocess.run([os.path.join(BIN, argv[0])] + argv[1:],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (argv, result.stdout, result.stderr)
    return result


def bus_of(admin, image_id):
    body = admin.image.get('/images/%s' % image_id, raise_exc=True).json()
    return body.get('hw_disk_bus'), body.get('hw_scsi_model')


def test_dry_run_runbook_applies_and_rolls_back_as_written(
        admin, mixed, tag, tmp_path, policy_file):
    path = str(tmp_path / 'change.md')
    result = run('--config-file', policy_file, 'set', '--tag', tag, '--bus',
                 'scsi', '--dry-run', '--runbook', path, check=5)
    assert 'runbook: %s' % path in result.stderr
    with open(path) as f:
        text = f.read()
    headings = [line for line in text.splitlines() if line.startswith('## ')]
    assert headings == HEADINGS
    assert '- Action: **blocked**' in text and '- Action: **change**' in text
    assert 'guest name /dev/vda1 becomes /dev/sda1' in text
    assert 'INACCESSIBLE_BOOT_DEVICE' in text
    assert 'cannot be known from Glance' in text
    rows, _ = run_json('--config-file', policy_file, 'set', '--tag', tag,
                       '--bus', 'scsi', '--dry-run', check=5)
    actions = {r['ID']: r['Action'] for r in rows}
    blocked = [i for i, a in actions.items() if a == 'blocked']
    todo = [i for i, a in actions.items() if a == 'change']
    assert blocked and todo
    for image_id in blocked:
        section = text.split('(`%s`)' % image_id, 1)[1].split('###', 1)[0]
        assert '- Why: GV' in section
    changing = mixed['ubuntu-20.04-virtio'][0]
    assert bus_of(admin, changing) == ('virtio', None)  # dry run

    apply_argv = sh_block(text, '## Apply')
    ids = apply_argv[apply_argv.index('set') + 1:apply_argv.index('--bus')]
    assert sorted(ids) == sorted(todo)
    journal = apply_argv[apply_argv.index('--journal') + 1]
    assert journal.startswith(str(tmp_path / 'journals'))
    assert not os.path.exists(journal)
    run_as_written(apply_argv)
    assert bus_of(admin, changing) == ('scsi', 'virtio-scsi')
    assert all(bus_of(admin, i)[0] != 'scsi' for i in blocked)
    assert os.path.exists(journal)

    rollback_argv = sh_block(text, '## Roll back')
    assert journal in rollback_argv
    run_as_written(rollback_argv)
    assert bus_of(admin, changing) == ('virtio', None)


def test_runbook_of_a_real_run_names_the_journal_it_wrote(
        admin, tag, tmp_path, policy_file):
    image = load_samples.create(admin, 'runbook-debian', [tag], {
        'os_type': 'linux', 'os_distro': 'debian', 'os_version': '12',
        'hw_disk_bus': 'ide'})
    try:
        path = str(tmp_path / 'done.md')
        run('--config-file', policy_file, 'set', image['id'], '--bus',
            'virtio', '--yes', '--runbook', path, check=0)
        with open(path) as f:
            text = f.read()
        assert 'which applies the change itself' in text
        assert 'loses: at most 4 ide devices, no volume hot-plug' in text
        assert bus_of(admin, image['id']) == ('virtio', None)
        rollback_argv = sh_block(text, '## Roll back')
        assert os.path.exists(rollback_argv[rollback_argv.index(
            'rollback') + 1])
        run_as_written(rollback_argv)
        assert bus_of(admin, image['id']) == ('ide', None)
    finally:
        load_samples.delete_tagged(admin, tag)


def test_unwritable_runbook_is_a_clear_error(mixed, tag, tmp_path):
    result = run('set', '--tag', tag, '--bus', 'scsi', '--dry-run',
                 '--runbook', str(tmp_path / 'missing' / 'x.md'), check=1)
    assert 'cannot write runbook' in result.stderr
    assert 'Traceback' not in result.stderr
