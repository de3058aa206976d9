"""Each exit code of the README's table, against the real local cloud."""

import os
import socket
import subprocess

import pytest
import yaml

from tests.functional.conftest import run
from tests.functional.conftest import run_json
import load_samples

UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
          'hw_disk_bus': 'virtio'}
CLEAN = dict(UBUNTU, hw_disk_bus='scsi', hw_scsi_model='virtio-scsi')
BAD_ENUM = dict(UBUNTU, hw_disk_bus='virtio-blk')
WINDOWS = {'os_type': 'windows', 'hw_disk_bus': 'sata'}
WRONG = 'wrong-pw-7f3a'


def free_port():
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def broken(cloud, tmp_path_factory):
    """A clouds.yaml with the real clouds and three broken copies."""
    with open(cloud) as f:
        config = yaml.safe_load(f)
    admin = config['clouds']['devcloud-admin']
    config['clouds']['bad-password'] = dict(
        admin, auth=dict(admin['auth'], password=WRONG))
    config['clouds']['unreachable'] = dict(
        admin, auth=dict(admin['auth'],
                         auth_url='http://127.0.0.1:%d/v3' % free_port()))
    config['clouds']['no-image'] = dict(admin, region_name='Nowhere')
    path = tmp_path_factory.mktemp('clouds') / 'clouds.yaml'
    path.write_text(yaml.safe_dump(config))
    return {'OS_CLIENT_CONFIG_FILE': str(path)}


@pytest.fixture(scope='module')
def images(admin, member, tmp_path_factory):
    """Images for every case, and a journal of a real set; deleted after."""
    tag = 'gvtest-exit-%s' % os.getpid()
    made = {
        'ok': load_samples.create(admin, tag + '-ok', [tag], CLEAN,
                                  data=None)['id'],
        'moved': load_samples.create(admin, tag + '-moved', [tag], UBUNTU,
                                     data=None)['id'],
        'bad': load_samples.create(admin, tag + '-bad', [tag], BAD_ENUM,
                                   data=None)['id'],
        'windows': load_samples.create(admin, tag + '-win', [tag], WINDOWS,
                                       data=None)['id'],
        'public': load_samples.create(admin, tag + '-public', [tag], UBUNTU,
                                      visibility='public', data=None)['id'],
    }
    for _ in range(2):
        load_samples.create(admin, tag + '-twin', [tag], UBUNTU, data=None)
    journal = str(tmp_path_factory.mktemp('journal') / 'set.jsonl')
    run('set', made['moved'], '--bus', 'scsi', '--yes', '--journal',
        journal, check=0)
    run('rollback', journal, '--yes', '--journal', journal + '.rb', check=0)
    yield dict(made, tag=tag, journal=journal)
    load_samples.delete_tagged(admin, tag)


def props(conn, image_id):
    return conn.image.get('/images/%s' % image_id).json()


def one_error_line(result, *words):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], result.stderr
    assert result.stdout == ''
    assert WRONG not in result.stderr


LOGIN_FAILURES = [
    ('bad-password', 'authentication failed'),
    ('unreachable', 'cannot reach the cloud'),
    ('no-image', 'no image endpoint'),
]


@pytest.mark.parametrize('cloud_name,cause', LOGIN_FAILURES)
def test_login_failure_is_exit_1_in_every_command_and_mode(
        images, broken, tmp_path, cloud_name, cause):
    name = images['tag'] + '-ok'
    journal = tmp_path / 'never.jsonl'
    cases = [
        ['audit', name],
        ['audit', name, '--fail-on', 'error'],
        ['audit', '--tag', images['tag']],
        ['audit', '--all'],
        ['set', name, '--bus', 'virtio', '--yes', '--journal', str(journal)],
        ['set', '--tag', images['tag'], '--bus', 'virtio', '--yes'],
        ['set', '--all', '--bus', 'virtio', '--dry-run'],
        ['inspect', name],
        # Glance is asked before the bus is listened to.
        ['watch', '--transport-url', 'rabbit://u:secret@127.0.0.1:9/'],
    ]
    for args in cases:
        result = run(*args, cloud=cloud_name, env=broken, check=1)
        one_error_line(result, cause)
    result = run('rollback', images['journal'], '--yes', '--journal',
                 str(journal), cloud=cloud_name, env=broken, check=1)
    assert cause in result.stderr.strip().splitlines()[-1]
    assert not journal.exists()


@pytest.mark.parametrize('command', [
    ['image', 'virtio-audit'],
    ['image', 'virtio-set', '--bus', 'virtio', '--yes'],
    ['image', 'virtio-inspect'],
])
def test_login_failure_through_openstack_plugin(images, broken, command):
    for cloud_name, cause in LOGIN_FAILURES:
        result = run(*(command + [images['ok']]), cloud=cloud_name,
                     env=broken, tool='openstack', check=1)
        one_error_line(result, cause)


def test_name_matching_no_image_or_several_is_exit_1(admin, images,
                                                     tmp_path):
    tag = images['tag']
    for command in (['audit'], ['inspect'], ['set', '--bus', 'scsi',
                                             '--yes']):
        result = run(*(command + ['no-such-image-%s' % tag]), check=1)
        one_error_line(result, 'no image named no-such-image-%s' % tag)
        result = run(*(command + [tag + '-twin']), check=1)
        one_error_line(result, '2 images are named %s-twin: give an id'
                       % tag)
    # Several names, one missing: nothing is written, not even a journal.
    journal = tmp_path / 'never.jsonl'
    before = props(admin, images['ok'])
    result = run('set', images['ok'], 'no-such-image', '--bus', 'scsi',
                 '--yes', '--journal', str(journal), check=1)
    one_error_line(result, 'no image named no-such-image')
    assert not journal.exists()
    assert props(admin, images['ok'])['updated_at'] == before['updated_at']
    result = run('image', 'virtio-audit', tag + '-twin', tool='openstack',
                 check=1)
    one_error_line(result, '2 images are named')


def test_image_of_another_project_by_id_is_exit_1(images):
    result = run('audit', images['ok'], cloud='devcloud-member', check=1)
    one_error_line(result, 'no image with id or name %s' % images['ok'])


USAGE_ERRORS = [
    (['set', '--all', '--bus', 'scsi', '--allow', 'GV999'], '--allow'),
    (['audit', '--property', 'hw_disk_bus'], '--property'),
    (['set', '--bus', 'scsi'], '--all'),
    (['inspect'], '--file'),
    (['set', '--all', '--bus', 'virtio', '--scsi-model', 'lsilogic'],
     '--scsi-model'),
    (['inspect', 'x', '--max-read', '0'], '--max-read'),
    (['inspect', 'x', '--max-read', '-1'], '--max-read'),
    (['audit', '--fail-on', 'fatal'], '--fail-on'),
    (['audit', '--visibility', 'secret'], '--visibility'),
]


@pytest.mark.parametrize('args,option', USAGE_ERRORS)
def test_usage_error_is_exit_2_naming_the_option(broken, args, option):
    # Checked before logging in: a broken cloud does not hide it.
    result = run(*args, cloud='bad-password', env=broken, check=2)
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith('glance-virtio %s: error:' % args[0]), error
    assert option in error
    assert result.stdout == ''


def test_usage_error_in_plugin_names_its_commands(broken):
    result = run('image', 'virtio-set', '--all', '--bus', 'scsi', '--allow',
                 'GV999', tool='openstack', check=2)
    assert 'openstack image virtio-rules lists them' in result.stderr
    result = run('set', '--all', '--bus', 'scsi', '--allow', 'GV999',
                 check=2)
    assert '(glance-virtio rules lists them)' in result.stderr


def test_findings_exit_3_and_choices_take_any_case(images):
    tag = images['tag']
    run('audit', '--tag', tag, '--fail-on', 'ERROR', check=3)
    run('image', 'virtio-audit', '--tag', tag, '--fail-on', 'Error',
        tool='openstack', check=3)
    run('audit', images['ok'], '--fail-on', 'INFO', check=0)
    run('audit', '--tag', tag, '--visibility', 'PUBLIC', check=0)


def test_blocked_exit_5(images):
    rows, _ = run_json('set', images['windows'], '--bus', 'VIRTIO',
                       '--dry-run', check=5)
    assert rows[0]['Action'] == 'blocked'


def test_failed_exit_4_on_a_403(admin, images):
    before = props(admin, images['public'])
    for tool, command in (('glance-virtio', ['set']),
                          ('openstack', ['image', 'virtio-set'])):
        rows, result = run_json(*(command + [images['public'], '--bus',
                                             'scsi', '--yes']),
                                cloud='devcloud-member', tool=tool, check=4)
        assert rows[0]['Outcome'] == 'failed'
        assert '403' in rows[0]['Reason']
    assert props(admin, images['public'])['hw_disk_bus'] == \
        before['hw_disk_bus']


def test_commands_without_cloud_do_not_log_in(cloud, tmp_path):
    disk = str(tmp_path / 'empty.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '64M'],
                   check=True)
    nothing = {'OS_CLIENT_CONFIG_FILE': str(tmp_path / 'absent.yaml')}
    rows, _ = run_json('image', 'virtio-rules', cloud=None, env=nothing,
                       tool='openstack', check=0)
    assert 'GV001' in {r['ID'] for r in rows}
    rows, _ = run_json('image', 'virtio-inspect', '--file', disk,
                       cloud=None, env=nothing, tool='openstack', check=0)
    assert rows[0]['Format'] == 'qcow2'
    rows, _ = run_json('rules', cloud='no-such-cloud', env=nothing, check=0)
    assert 'GV001' in {r['ID'] for r in rows}
    rows, _ = run_json('inspect', '--file', disk, cloud='no-such-cloud',
                       env=nothing, check=0)
    assert rows[0]['Format'] == 'qcow2'
    # A command that needs the cloud names the configuration error.
    result = run('audit', cloud='no-such-cloud', env=nothing, check=1)
    one_error_line(result, 'no-such-cloud')
    result = run('image', 'virtio-audit', cloud=None, env=nothing,
                 tool='openstack', check=1)
    one_error_line(result, 'auth-url')


def test_no_command_prints_the_commands(cloud):
    result = run(cloud=None, check=2)
    assert 'rollback' in result.stderr and 'set' in result.stderr
    assert result.stdout == ''


def test_help_gives_examples_and_exit_codes(cloud):
    text = run('help', 'set', cloud=None, check=0).stdout
    assert 'glance-virtio set --tag golden --bus scsi --dry-run' in text
    assert '5  nothing failed, but an image was blocked' in text
    text = run('help', 'image', 'virtio-audit', cloud=None, tool='openstack',
               check=0).stdout
    assert 'openstack image virtio-audit --tag golden' in text
    assert '3  a finding at or above --fail-on exists' in text
    for command in ('audit', 'inspect', 'rollback', 'rules'):
        text = run(command, '--help', cloud=None, check=0).stdout
        assert 'examples:' in text and 'exit codes:' in text, command
    text = run('audit', '--help', cloud=None, check=0).stdout
    assert 'public, private, shared, community, all' in ' '.join(
        text.split())
