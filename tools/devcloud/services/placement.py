"""Placement: the resource inventory Nova schedules on."""

from devcloud.base import (DATA, Fail, finish, http, ini, save_setup, say,
                           sqlite_url, sqlite_wal, tail, write_private)
from devcloud.server import Service


class Placement(Service):
    name = 'placement'
    order = 30
    default_port = 28778
    app = 'placement.wsgi.api:application'
    config_env = 'OS_PLACEMENT_CONFIG_DIR'
    service_type = 'placement'
    service_roles = ('admin', 'service')

    @property
    def conf(self):
        return self.etc / 'placement.conf'

    def configure(self, cloud):
        write_private(self.conf, ini({
            'DEFAULT': {'use_stderr': 'true', 'debug': 'false'},
            'api': {'auth_strategy': 'keystone'},
            'placement_database': {
                'connection': sqlite_url(DATA / 'placement.db')},
            'keystone_authtoken': self.authtoken(cloud),
        }))

    def prepare(self, cloud, done):
        if done.get('placement_db'):
            return lambda: None
        say('initialising placement database')
        job = self.manage(self.conf, 'db', 'sync')

        def wait():
            finish(job)
            sqlite_wal(DATA / 'placement.db')
            done['placement_db'] = True
            save_setup(done)
        return wait

    def smoke(self, cloud):
        token = cloud.identity.token(
            'placement', cloud.pw['placement'],
            {'project': {'name': 'service', 'domain': {'id': 'default'}}})
        st, _, doc = http('GET', self.url + '/resource_providers',
                          token=token)
        if st != 200:
            raise Fail('placement resource provider list failed: %s %s\n%s'
                       % (st, doc, tail(self.log)))


SERVICE = Placement()
