"""tools/devcloud.sh says clearly what it did, or why it could not."""

import json
import os
import socket
import subprocess
import uuid
from pathlib import Path

import openstack

from tests.functional import devcloud

SCRIPT = str(devcloud.SCRIPT.with_suffix('.sh'))


def devcloud_sh(*args, state=None, env=None, timeout=120):
    env = dict(os.environ, **(env or {}))
    if state is not None:
        env['DEVCLOUD_DIR'] = str(state)
    return subprocess.run(['bash', SCRIPT] + list(args), capture_output=True,
                          text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


def test_starting_twice_says_it_is_running(cloud):
    result = devcloud_sh('start')
    assert result.returncode == 0, result.stderr
    assert 'already running' in result.stdout + result.stderr


def test_status_of_a_running_cloud(cloud):
    result = devcloud_sh('status')
    assert result.returncode == 0
    for name in ('glance', 'rabbitmq', 'nova-compute', 'cinder-volume'):
        assert '%-16s running' % name in result.stdout
    assert 'stopped' not in result.stdout
    # Glance serves from two worker processes, as on a two-CPU controller.
    glance = [line for line in result.stdout.splitlines()
              if line.startswith('glance ')]
    assert glance[0].endswith('answering, 2 worker processes'), glance


def test_a_taken_port_is_a_clear_error_before_installing(cloud, tmp_path):
    # A second cloud in another state directory wants the same ports.
    result = devcloud_sh('start', state=tmp_path)
    assert result.returncode == 1
    assert 'is already in use by another program' in result.stderr
    assert 'DEVCLOUD_KEYSTONE_PORT=<port>' in result.stderr
    assert not (tmp_path / 'venv').exists()


def test_stop_and_status_of_a_cloud_that_is_not_running(tmp_path):
    stop = devcloud_sh('stop', state=tmp_path)
    assert stop.returncode == 0 and 'not running' in stop.stdout + stop.stderr
    status = devcloud_sh('status', state=tmp_path)
    assert status.returncode == 3
    assert '%-16s stopped' % 'keystone' in status.stdout


def test_info_names_every_service_and_no_password(cloud):
    result = devcloud_sh('info')
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info['keystone_url'].endswith('/v3')
    assert info['glance_url'].startswith('http://127.0.0.1:')
    passwords = json.loads(
        (Path(info['state_dir']) / 'secrets.json').read_text())
    assert set(passwords) >= {'admin', 'demo', 'glance', 'nova', 'cinder',
                              'placement', 'rabbitmq'}
    assert info['nova_manage'].endswith('nova.conf')
    for password in passwords.values():
        assert password not in result.stdout + result.stderr


def test_usage_names_the_commands_of_each_service():
    result = devcloud_sh()
    assert result.returncode == 2
    assert 'stop-SERVICE [--kill]|start-SERVICE' in result.stderr
    assert 'keystone, epmd, rabbitmq, glance, placement' in result.stderr
    assert 'nova-compute' in result.stderr and 'cinder-volume' in result.stderr
    assert 'start [--minimal]' in result.stderr


def compute(cloud_name):
    """A connection whose compute calls may say networks='none' (2.37+)."""
    conn = openstack.connect(cloud=cloud_name)
    conn.compute.default_microversion = '2.37'
    return conn


def test_servers_boot_from_an_image_and_from_a_volume_made_from_it(
        cloud, tmp_path):
    conn = compute('devcloud-member')
    name = 'devcloud-test-%s' % uuid.uuid4().hex[:8]
    disk = tmp_path / 'disk.qcow2'
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(disk),
                    '64M'], check=True)
    image = conn.image.create_image(
        name=name, filename=str(disk), disk_format='qcow2',
        container_format='bare', hw_disk_bus='scsi',
        hw_scsi_model='virtio-scsi', wait=True)
    flavor = conn.compute.find_flavor('devcloud.tiny', ignore_missing=False)
    made = []
    try:
        volume = conn.block_storage.create_volume(
            name=name, size=1, image_id=image.id)
        made.append(volume)
        volume = conn.block_storage.wait_for_status(
            volume, 'available', failures=['error'], wait=180)
        meta = volume.volume_image_metadata
        assert meta['image_id'] == image.id
        assert meta['hw_disk_bus'] == 'scsi'
        assert meta['hw_scsi_model'] == 'virtio-scsi'
        assert volume.is_bootable

        from_image = conn.compute.create_server(
            name=name + '-image', image_id=image.id, flavor_id=flavor.id,
            networks='none')
        made.append(from_image)
        from_volume = conn.compute.create_server(
            name=name + '-volume', flavor_id=flavor.id, networks='none',
            block_device_mapping=[{
                'boot_index': 0, 'uuid': volume.id, 'source_type': 'volume',
                'destination_type': 'volume',
                'delete_on_termination': False}])
        made.append(from_volume)
        for server in (from_image, from_volume):
            server = conn.compute.wait_for_server(server, wait=180)
            assert server.status == 'ACTIVE'
        attached = conn.block_storage.get_volume(volume.id)
        assert attached.status == 'in-use'
        assert attached.attachments[0]['server_id'] == from_volume.id

        # Nova's own copy of the image properties, read by nova-manage.
        for server in (from_image, from_volume):
            out = devcloud.nova_manage('image_property', 'show', server.id,
                                       'hw_disk_bus')
            assert out.strip() == 'scsi'
    finally:
        for thing in reversed(made):
            if thing.resource_key == 'server':
                conn.compute.delete_server(thing, ignore_missing=True)
                conn.compute.wait_for_delete(thing, wait=180)
            else:  # detached once its server is gone
                conn.block_storage.wait_for_status(
                    thing, 'available', failures=['error'], wait=180)
                conn.block_storage.delete_volume(thing)
        conn.image.delete_image(image, ignore_missing=True)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def group_members(leaders):
    """Every process in the process groups (sessions) of the leaders."""
    found = set()
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / 'stat').read_text().rsplit(')', 1)[1]
            except OSError:
                continue
            if int(stat.split()[2]) in leaders:
                found.add(int(entry.name))
    return found


def notifications(state, env):
    info = devcloud_sh('info', state=state, env=env)
    assert info.returncode == 0, info.stderr
    return json.loads(info.stdout)['glance_notifications']


def test_minimal_then_full_start_and_a_stop_that_leaves_nothing(
        cloud, tmp_path):
    state = tmp_path / 'dc'
    state.mkdir()
    # Share the installed servers; everything else is this cloud's own.
    (state / 'venv').symlink_to(devcloud.info()['venv'])
    services = ('keystone', 'glance', 'epmd', 'rabbitmq', 'placement',
                'netstub', 'nova', 'cinder')
    env = {'DEVCLOUD_%s_PORT' % s.upper(): str(free_port())
           for s in services}
    ports = [int(p) for p in env.values()]
    ports.append(int(env['DEVCLOUD_RABBITMQ_PORT']) + 1)

    try:
        minimal = devcloud_sh('start', '--minimal', state=state, env=env,
                              timeout=600)
        assert minimal.returncode == 0, minimal.stdout + minimal.stderr
        status = devcloud_sh('status', state=state, env=env)
        assert status.returncode == 0, status.stdout
        assert '%-16s not started (start --minimal)' % 'nova' \
            in status.stdout
        assert not (state / 'run' / 'rabbitmq.pid').exists()
        # No RabbitMQ: Glance sends no notifications (it would retry).
        assert not notifications(state, env)['enabled']
        assert 'driver = noop' in (
            state / 'etc' / 'glance' / 'glance-api.conf').read_text()

        full = devcloud_sh('start', state=state, env=env, timeout=600)
        assert full.returncode == 0, full.stdout + full.stderr
        # Glance keeps running as --minimal started it until restarted.
        assert not notifications(state, env)['enabled']
        for step in ('stop-glance', 'start-glance'):
            done = devcloud_sh(step, state=state, env=env, timeout=600)
            assert done.returncode == 0, done.stdout + done.stderr
        assert notifications(state, env) == {
            'enabled': True, 'topic': 'glance_virtio', 'exchange': 'glance'}
        status = devcloud_sh('status', state=state, env=env)
        assert status.returncode == 0, status.stdout
        for name in ('rabbitmq', 'nova-compute', 'cinder-volume'):
            assert '%-16s running' % name in status.stdout

    except BaseException:
        devcloud_sh('stop', state=state, env=env)
        raise

    leaders = {int(p.read_text())
               for p in (state / 'run').glob('*.pid')}
    assert len(leaders) == 13
    started = group_members(leaders)
    assert len(started) > len(leaders)  # beam, workers, privsep helpers

    stop = devcloud_sh('stop', state=state, env=env)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    alive = [pid for pid in started if Path('/proc/%d' % pid).exists()
             and (Path('/proc/%d/stat' % pid).read_text().rsplit(')', 1)
                  [1].split()[0] != 'Z')]
    assert alive == []
    assert not list((state / 'run').glob('*.pid'))
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(('127.0.0.1', port)) != 0, port
