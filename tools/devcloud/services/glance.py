"""Glance: the image service, with a file store under data/images."""

import shutil

from devcloud.base import (DATA, Fail, MINIMAL, REGION, RUN, VENV, finish,
                           http, ini, save_setup, say, sqlite_url, sqlite_wal,
                           tail, write_private)
from devcloud import guard
from devcloud.server import Service
from devcloud.services.rabbitmq import SERVICE as RABBITMQ

# Image notifications go to the devcloud's RabbitMQ, exchange glance, on
# these topics; `glance-virtio watch` reads NOTIFY_TOPIC (its own queue).
NOTIFY_TOPICS = ('notifications', 'glance_virtio')
NOTIFY_TOPIC = 'glance_virtio'
NOTIFY_EXCHANGE = 'glance'
# The notification driver the running Glance was started with.
NOTIFY_STATE = RUN / 'glance.notifications'


class Glance(Service):
    name = 'glance'
    order = 20
    default_port = 29292
    app = 'glance.wsgi.api:application'
    config_env = 'OS_GLANCE_CONFIG_DIR'
    probe = '/healthcheck'
    service_type = 'image'
    service_roles = ('admin', 'service')
    minimal = True
    # Glance's own default is a worker process per CPU; this is that for
    # two CPUs, whatever the machine (clients that read in parallel meet
    # a Glance that serves in parallel, as on a real cloud).
    workers = 2

    @property
    def conf(self):
        return self.etc / 'glance-api.conf'

    def configure(self, cloud):
        for d in ('images', 'staging', 'tasks', 'cache', 'locks'):
            (DATA / d).mkdir(parents=True, exist_ok=True)
        keystone = cloud.identity
        # Glance only looks for <dir>/glance-api.conf (+ optional
        # glance-image-import.conf); the paste file is named explicitly.
        paste = self.etc / 'glance-api-paste.ini'
        self.etc.mkdir(parents=True, exist_ok=True)
        shutil.copy(VENV / 'etc' / 'glance' / 'glance-api-paste.ini', paste)
        write_private(self.conf, ini({
            'DEFAULT': {
                'use_stderr': 'true', 'debug': 'false',
                'enabled_backends': 'local:file',
                'image_cache_dir': DATA / 'cache',
                'worker_self_reference_url': self.url,
            },
            'glance_store': {'default_backend': 'local'},
            'local': {'filesystem_store_datadir': DATA / 'images'},
            'os_glance_staging_store': {
                'filesystem_store_datadir': DATA / 'staging'},
            'os_glance_tasks_store': {
                'filesystem_store_datadir': DATA / 'tasks'},
            'database': {'connection': sqlite_url(DATA / 'glance.db')},
            'paste_deploy': {'flavor': 'keystone', 'config_file': paste},
            'keystone_authtoken': {
                'www_authenticate_uri': keystone.url,
                'auth_url': keystone.url,
                'auth_type': 'password',
                'user_domain_name': 'Default',
                'project_domain_name': 'Default',
                'project_name': 'service',
                'username': self.name,
                'password': cloud.pw[self.name],
                'region_name': REGION,
                # Notice a revoked token within seconds, as a test needs.
                'token_cache_time': '2',
            },
            'oslo_concurrency': {'lock_path': DATA / 'locks'},
            'oslo_messaging_notifications': self.notifications(cloud),
        }))
        guard.import_conf(self.etc / 'glance-image-import.conf')

    def notifications(self, cloud):
        """Send image notifications to RabbitMQ; none with --minimal.

        `start --minimal` runs no RabbitMQ, and a Glance that cannot
        reach its bus would hold each request while it retries.
        """
        if MINIMAL.exists():
            return {'driver': 'noop'}
        return {'driver': 'messagingv2',
                'topics': ','.join(NOTIFY_TOPICS),
                'transport_url': RABBITMQ.transport_url(cloud)}

    def prepare(self, cloud, done):
        plugin = guard.install(done)
        if plugin:
            say('installing glance-virtio\'s import plugin into the venv')
        job = None
        if not done.get('glance_db'):
            say('initialising glance database')
            job = self.manage(self.conf, 'db_sync')

        def wait():
            if job:
                finish(job)
                sqlite_wal(DATA / 'glance.db')
                done['glance_db'] = True
            if plugin:
                finish(plugin)
                done['glance_virtio_guard'] = guard.fingerprint()
            save_setup(done)
        return wait

    def smoke(self, cloud):
        """An authenticated image list proves keystone <-> glance works."""
        token = cloud.identity.token(
            'admin', cloud.pw['admin'],
            {'project': {'name': 'admin', 'domain': {'id': 'default'}}})
        st, _, doc = http('GET', self.url + '/v2/images?limit=1',
                          token=token)
        if st != 200:
            raise Fail('glance image list failed: %s %s\n%s' % (
                st, doc, tail(self.log)))

    def launch(self):
        NOTIFY_STATE.write_text('noop\n' if MINIMAL.exists()
                                else 'messagingv2\n')
        return super().launch()

    def info(self):
        try:
            driver = NOTIFY_STATE.read_text().strip()
        except OSError:
            driver = None
        return {'image_dir': str(DATA / 'images'),
                'glance_import_plugins': guard.PLUGINS,
                'glance_notifications': {
                    'enabled': bool(self.running_pid())
                    and driver == 'messagingv2',
                    'topic': NOTIFY_TOPIC, 'exchange': NOTIFY_EXCHANGE}}


SERVICE = Glance()
