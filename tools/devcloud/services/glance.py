"""Glance: the image service, with a file store under data/images."""

import shutil

from devcloud.base import (DATA, Fail, REGION, VENV, finish, http, ini,
                           save_setup, say, sqlite_url, sqlite_wal, tail,
                           write_private)
from devcloud.server import Service


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
        }))

    def prepare(self, cloud, done):
        if done.get('glance_db'):
            return lambda: None
        say('initialising glance database')
        job = self.manage(self.conf, 'db_sync')

        def wait():
            finish(job)
            sqlite_wal(DATA / 'glance.db')
            done['glance_db'] = True
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

    def info(self):
        return {'image_dir': str(DATA / 'images')}


SERVICE = Glance()
