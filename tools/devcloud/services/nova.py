"""Nova: the compute API (WSGI), conductor, scheduler and a fake compute.

nova-compute runs `compute_driver = fake.FakeDriver`: servers go ACTIVE
and Nova keeps its own records of them (system metadata, block device
mappings, volume attachments) without a hypervisor.  One cell (cell1)
plus cell0, all in SQLite; the bus is the devcloud's RabbitMQ.
"""

import shutil
import threading
import time

from devcloud.base import (DATA, Fail, HOST, LOGS, REGION, START_TIMEOUT, VENV,
                           finish, http, ini, save_setup, say, sqlite_url,
                           sqlite_wal, start_job, tail, write_private)
from devcloud.server import Daemon, Service
from devcloud.services.rabbitmq import SERVICE as RABBITMQ

CONF = None  # set below: etc/nova/nova.conf
HOSTNAME = 'devcloud'
# name: (vcpus, ram MiB, disk GiB)
FLAVORS = {'devcloud.tiny': (1, 64, 1), 'devcloud.small': (1, 128, 2)}
HELPER = VENV / 'bin' / 'privsep-helper'
DATABASES = ('nova_api.db', 'nova_cell0.db', 'nova.db')


def nova_manage(*args):
    """The argv that runs nova-manage against this devcloud."""
    return [str(VENV / 'bin' / 'nova-manage'), '--config-file',
            str(CONF)] + list(args)


class NovaApi(Service):
    name = 'nova'
    order = 40
    default_port = 28774
    app = 'nova.wsgi.osapi_compute:application'
    config_env = 'OS_NOVA_CONFIG_DIR'
    path = '/v2.1'
    service_type = 'compute'
    service_roles = ('admin', 'service')

    def configure(self, cloud):
        for d in ('instances', 'locks'):
            (DATA / 'nova' / d).mkdir(parents=True, exist_ok=True)
        self.etc.mkdir(parents=True, exist_ok=True)
        shutil.copy(VENV / 'etc' / 'nova' / 'api-paste.ini',
                    self.etc / 'api-paste.ini')
        service_auth = self.authtoken(cloud)
        service_auth.pop('www_authenticate_uri')
        write_private(CONF, ini({
            'DEFAULT': {
                'use_stderr': 'true', 'debug': 'false',
                'transport_url': RABBITMQ.transport_url(cloud),
                'compute_driver': 'fake.FakeDriverWithoutFakeNodes',
                'host': HOSTNAME, 'my_ip': HOST,
                'state_path': DATA / 'nova',
                'instances_path': DATA / 'nova' / 'instances',
                # One worker each: 2 cores are shared by many.
                'osapi_compute_workers': '1', 'metadata_workers': '1',
            },
            'conductor': {'workers': '1'},
            'scheduler': {'workers': '1'},
            'api': {'auth_strategy': 'keystone'},
            'api_database': {'connection': sqlite_url(DATA / 'nova_api.db')},
            'database': {'connection': sqlite_url(DATA / 'nova.db')},
            'keystone_authtoken': self.authtoken(cloud),
            'placement': dict(service_auth, valid_interfaces='public'),
            'cinder': dict(service_auth, os_region_name=REGION,
                           catalog_info='volumev3::publicURL'),
            'glance': {'region_name': REGION},
            # No Neutron: servers have networks='none'; netstub answers
            # the port and security group reads Nova still makes.
            'neutron': dict(service_auth, endpoint_override=(
                cloud.by_name['netstub'].url)),
            # Cinder lets only Nova itself (a service token) delete the
            # attachment of a server's volume.
            'service_user': dict(service_auth,
                                 send_service_user_token='true'),
            'oslo_concurrency': {'lock_path': DATA / 'nova' / 'locks'},
            # Privileged helpers without sudo.
            'nova_sys_admin': {'helper_command': HELPER},
            'privsep_osbrick': {'helper_command': HELPER},
            'oslo_messaging_notifications': {'driver': 'noop'},
            'wsgi': {'api_paste_config': self.etc / 'api-paste.ini'},
        }))

    def prepare(self, cloud, done):
        if done.get('nova_db'):
            return lambda: None
        say('initialising nova databases and cells')
        err = []

        def setup():
            try:
                for args in (['api_db', 'sync'],
                             ['cell_v2', 'map_cell0', '--database_connection',
                              sqlite_url(DATA / 'nova_cell0.db')],
                             ['cell_v2', 'create_cell', '--name', 'cell1'],
                             ['db', 'sync']):
                    finish(self.manage(CONF, *args))
            except Fail as e:
                err.append(e)
        thread = threading.Thread(target=setup)
        thread.start()

        def wait():
            thread.join()
            if err:
                raise err[0]
            for db in DATABASES:
                sqlite_wal(DATA / db)
            done['nova_db'] = True
            save_setup(done)
        return wait

    def manage(self, conf, *args, env=None):
        log = LOGS / ('setup-nova-%s.log' % '-'.join(args[:2]))
        return start_job(nova_manage(*args), log, env)

    def info(self):
        return {'nova_manage': ' '.join(nova_manage()),
                'nova_conf': str(CONF), 'nova_host': HOSTNAME,
                'flavors': sorted(FLAVORS)}


class NovaDaemon(Daemon):
    order = 41

    def __init__(self, name, main):
        self.name = name
        self.main = main
        super().__init__()

    @property
    def conf(self):
        return CONF


class NovaCompute(NovaDaemon):
    order = 45
    phase = 2  # placement and the conductor must answer at once

    def smoke(self, cloud):
        """The compute host is up and mapped; the tiny flavors exist."""
        api = cloud.by_name['nova']
        token = cloud.identity.token(
            'admin', cloud.pw['admin'],
            {'project': {'name': 'admin', 'domain': {'id': 'default'}}})
        url = api.endpoint
        deadline = time.time() + max(180, START_TIMEOUT)
        while True:
            st, _, doc = http('GET', url + '/os-services?binary=nova-compute',
                              token=token)
            if st == 200 and any(s['state'] == 'up'
                                 for s in doc['services']):
                break
            if time.time() > deadline:
                raise Fail('nova-compute did not come up: %s %s\n%s' % (
                    st, doc, tail(self.log)))
            time.sleep(1)
        done = cloud.done
        if not done.get('nova_hosts_discovered'):
            finish(api.manage(CONF, 'cell_v2', 'discover_hosts',
                              '--verbose'))
            done['nova_hosts_discovered'] = True
            save_setup(done)
        for name, (vcpus, ram, disk) in FLAVORS.items():
            st, _, doc = http('GET', url + '/flavors', token=token)
            if name in {f['name'] for f in doc['flavors']}:
                continue
            st, _, doc = http('POST', url + '/flavors', {'flavor': {
                'name': name, 'id': name, 'vcpus': vcpus, 'ram': ram,
                'disk': disk, 'os-flavor-access:is_public': True}},
                token=token)
            if st != 200:
                raise Fail('creating flavor %s failed: %s %s' % (
                    name, st, doc))
        while True:
            st, _, doc = http('GET', url + '/os-hypervisors', token=token)
            if st == 200 and doc['hypervisors']:
                return
            if time.time() > deadline:
                raise Fail('no nova hypervisor: %s %s\n%s' % (
                    st, doc, tail(self.log)))
            time.sleep(1)


SERVICES = [
    NovaApi(),
    NovaDaemon('nova-conductor', 'nova.cmd.conductor:main'),
    NovaDaemon('nova-scheduler', 'nova.cmd.scheduler:main'),
    NovaCompute('nova-compute', 'nova.cmd.compute:main'),
]
CONF = SERVICES[0].etc / 'nova.conf'
