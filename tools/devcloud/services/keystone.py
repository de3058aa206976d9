"""Keystone: identity, the users of the clouds and the service catalog."""

import grp
import os
import pwd

from devcloud.base import (DATA, Fail, REGION, http, ini, save_setup, say,
                           sqlite_url, sqlite_wal, write_private, finish)
from devcloud.server import Service


class Keystone(Service):
    name = 'keystone'
    order = 0
    default_port = 25000
    app = 'keystone.wsgi.api:application'
    config_env = 'OS_KEYSTONE_CONFIG_DIR'
    probe = '/v3'
    path = '/v3'
    minimal = True

    @property
    def conf(self):
        return self.etc / 'keystone.conf'

    def configure(self, cloud):
        write_private(self.conf, ini({
            'DEFAULT': {'use_stderr': 'true', 'debug': 'false'},
            'database': {'connection': sqlite_url(DATA / 'keystone.db')},
            'token': {'provider': 'fernet'},
            'fernet_tokens': {'key_repository': self.etc / 'fernet-keys'},
            'credential': {'key_repository': self.etc / 'credential-keys'},
            # bcrypt's default 12 rounds costs ~0.25s of CPU per login.
            'identity': {'password_hash_rounds': '4'},
        }))

    def prepare(self, cloud, done):
        jobs = []
        if not done.get('keystone_db'):
            say('initialising keystone database and keys')
            me = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
            jobs = [self.manage(self.conf, cmd, '--keystone-user', me,
                                '--keystone-group', group)
                    for cmd in ('fernet_setup', 'credential_setup')]
            jobs.append(self.manage(self.conf, 'db_sync'))

        def wait():
            if jobs:
                for job in jobs:
                    finish(job)
                sqlite_wal(DATA / 'keystone.db')
                done['keystone_db'] = True
                save_setup(done)
            if done.get('bootstrap_url') != self.url:
                self.bootstrap(cloud.pw['admin'])
                done['bootstrap_url'] = self.url
                save_setup(done)
        return wait

    def bootstrap(self, password):
        # Idempotent; also fixes the identity endpoints if the port changed.
        env = dict(os.environ, OS_BOOTSTRAP_PASSWORD=password)
        finish(self.manage(self.conf, 'bootstrap',
                           '--bootstrap-username', 'admin',
                           '--bootstrap-project-name', 'admin',
                           '--bootstrap-role-name', 'admin',
                           '--bootstrap-service-name', 'keystone',
                           '--bootstrap-region-id', REGION,
                           '--bootstrap-public-url', self.endpoint,
                           '--bootstrap-internal-url', self.endpoint,
                           '--bootstrap-admin-url', self.endpoint,
                           env=env))

    def token(self, user, password, scope):
        body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': user, 'domain': {'id': 'default'},
                'password': password}}},
            'scope': scope}}
        st, hdrs, doc = http('POST', self.endpoint + '/auth/tokens', body)
        if st != 201:
            raise Fail('keystone login as %s failed: %s %s' % (user, st, doc))
        return hdrs['X-Subject-Token']

    def provision(self, cloud, selected):
        """The demo user, each service's user, catalog entry and endpoints."""
        api = Api(self, self.token('admin', cloud.pw['admin'],
                                   {'system': {'all': True}}))
        grants = {'demo': ('demo', ['member', 'reader'])}
        for svc in selected:
            if svc.service_roles:
                grants[svc.name] = ('service', list(svc.service_roles))
        roles = {r: api.find('roles', name=r)['id']
                 for r in {r for _, rs in grants.values() for r in rs}}
        for user, (project, user_roles) in grants.items():
            p = api.ensure('projects', {'name': project,
                                        'domain_id': 'default'},
                           name=project, domain_id='default')
            u = api.ensure('users', {'name': user, 'domain_id': 'default',
                                     'password': cloud.pw[user],
                                     'default_project_id': p['id']},
                           name=user, domain_id='default')
            api.call('PATCH', '/users/' + u['id'], {'user': {
                'password': cloud.pw[user], 'default_project_id': p['id']}})
            for r in user_roles:
                api.call('PUT', '/projects/%s/users/%s/roles/%s' % (
                    p['id'], u['id'], roles[r]))
        for svc in selected:
            if svc.service_type and svc is not self:
                types = svc.service_type
                for t in (types,) if isinstance(types, str) else types:
                    api.catalog(svc.name, t, svc.endpoint)

    def info(self):
        return {'region': REGION}


class Api:
    """The Keystone v3 REST API with an admin token."""

    def __init__(self, keystone, token):
        self.base = keystone.endpoint
        self.token = token

    def call(self, method, path, body=None, ok=(200, 201, 204)):
        st, _, doc = http(method, self.base + path, body, self.token)
        if st not in ok:
            raise Fail('keystone %s %s -> %s %s' % (method, path, st, doc))
        return doc

    def find(self, kind, **query):
        q = '&'.join('%s=%s' % kv for kv in query.items())
        items = self.call('GET', '/%s?%s' % (kind, q))[kind]
        return items[0] if items else None

    def ensure(self, kind, body, **query):
        found = self.find(kind, **query)
        if found:
            return found
        return self.call('POST', '/' + kind, {kind[:-1]: body})[kind[:-1]]

    def catalog(self, name, service_type, url):
        """The service and its public, internal and admin endpoints at url."""
        svc = self.ensure('services', {'name': name, 'type': service_type,
                                       'enabled': True}, type=service_type)
        existing = self.call('GET', '/endpoints?service_id=' + svc['id'])
        existing = {e['interface']: e for e in existing['endpoints']}
        for iface in ('public', 'internal', 'admin'):
            ep = existing.get(iface)
            if ep is None:
                self.call('POST', '/endpoints', {'endpoint': {
                    'service_id': svc['id'], 'interface': iface,
                    'region_id': REGION, 'url': url}})
            elif ep['url'] != url:
                self.call('PATCH', '/endpoints/' + ep['id'],
                          {'endpoint': {'url': url}})


SERVICE = Keystone()
