"""Cinder: the block storage API (WSGI), scheduler and volume service.

These machines have no device-mapper, so the LVM back end cannot run; the
volume service uses Cinder's own fake driver
(cinder.tests.fake_driver.FakeLoggingVolumeDriver), with each volume a
sparse file so that a volume can be made from an image (cinder_driver.py).
The API, database and volume metadata (volume_image_metadata included)
are Cinder's own.
"""

import shutil
import time

from devcloud.base import (DATA, Fail, HOST, REGION, REPO, START_TIMEOUT, VENV,
                           finish, http, ini, save_setup, say, sqlite_url,
                           sqlite_wal, tail, write_private)
from devcloud.server import Daemon, Service
from devcloud.services.rabbitmq import SERVICE as RABBITMQ

HOSTNAME = 'devcloud'
BACKEND = 'fake'
HELPER = VENV / 'bin' / 'privsep-helper'


class CinderApi(Service):
    name = 'cinder'
    order = 50
    default_port = 28876
    app = 'cinder.wsgi.api:application'
    probe = '/healthcheck'
    path = '/v3'
    service_type = ('block-storage', 'volumev3')
    service_roles = ('admin', 'service')

    @property
    def conf(self):
        return self.etc / 'cinder.conf'

    def configure(self, cloud):
        for d in ('conversion', 'locks', 'volumes'):
            (DATA / 'cinder' / d).mkdir(parents=True, exist_ok=True)
        self.etc.mkdir(parents=True, exist_ok=True)
        shutil.copy(VENV / 'etc' / 'cinder' / 'api-paste.ini',
                    self.etc / 'api-paste.ini')
        service_auth = self.authtoken(cloud)
        service_auth.pop('www_authenticate_uri')
        write_private(self.conf, ini({
            'DEFAULT': {
                'use_stderr': 'true', 'debug': 'false',
                'transport_url': RABBITMQ.transport_url(cloud),
                'auth_strategy': 'keystone',
                'host': HOSTNAME, 'my_ip': HOST,
                'state_path': DATA / 'cinder',
                'image_conversion_dir': DATA / 'cinder' / 'conversion',
                'api_paste_config': self.etc / 'api-paste.ini',
                'enabled_backends': BACKEND,
                'glance_catalog_info': 'image:glance:publicURL',
                'scheduler_driver_init_wait_time': '10',
                'osapi_volume_workers': '1',
            },
            BACKEND: {
                # cinder.tests.fake_driver.FakeLoggingVolumeDriver, each
                # volume a sparse file (see devcloud/cinder_driver.py).
                'volume_driver': 'devcloud.cinder_driver.FileVolumeDriver',
                'volume_backend_name': BACKEND,
            },
            # Privileged helpers (image format checks) without sudo.
            'cinder_sys_admin': {'helper_command': HELPER},
            'privsep_osbrick': {'helper_command': HELPER},
            'database': {'connection': sqlite_url(DATA / 'cinder.db')},
            'keystone_authtoken': self.authtoken(cloud),
            'nova': dict(service_auth, region_name=REGION),
            'oslo_concurrency': {'lock_path': DATA / 'cinder' / 'locks'},
            'oslo_messaging_notifications': {'driver': 'noop'},
            'coordination': {
                'backend_url': 'file://%s' % (DATA / 'cinder')},
        }))

    def command(self):
        return super().command() + ['--config-file', self.conf]

    def prepare(self, cloud, done):
        if done.get('cinder_db'):
            return lambda: None
        say('initialising cinder database')
        job = self.manage(self.conf, 'db', 'sync')

        def wait():
            finish(job)
            sqlite_wal(DATA / 'cinder.db')
            done['cinder_db'] = True
            save_setup(done)
        return wait

    def info(self):
        return {'cinder_backend': BACKEND}


class CinderDaemon(Daemon):
    order = 51

    def __init__(self, name, main):
        self.name = name
        self.main = main
        super().__init__()

    @property
    def conf(self):
        return SERVICES[0].conf

    def environ(self):
        # cinder-volume imports its driver from devcloud.cinder_driver.
        return dict(super().environ(), PYTHONPATH=str(REPO / 'tools'))


class CinderVolume(CinderDaemon):
    order = 55

    def smoke(self, cloud):
        """The volume service is up (the scheduler can place volumes)."""
        api = SERVICES[0]
        token = cloud.identity.token(
            'admin', cloud.pw['admin'],
            {'project': {'name': 'admin', 'domain': {'id': 'default'}}})
        deadline = time.time() + max(180, START_TIMEOUT)
        while True:
            st, _, doc = http('GET', api.endpoint + '/os-services',
                              token=token)
            up = {s['binary'] for s in (doc or {}).get('services', ())
                  if s['state'] == 'up' and s['status'] == 'enabled'} \
                if st == 200 else set()
            if {'cinder-volume', 'cinder-scheduler'} <= up:
                return
            if time.time() > deadline:
                raise Fail('cinder services not up: %s %s\n%s' % (
                    st, doc, tail(self.log)))
            time.sleep(1)


SERVICES = [
    CinderApi(),
    CinderDaemon('cinder-scheduler', 'cinder.cmd.scheduler:main'),
    CinderVolume('cinder-volume', 'cinder.cmd.volume:main'),
]
