#!/usr/bin/env python3
"""devcloud: a real local OpenStack (Keystone + Glance) on 127.0.0.1.

Usage: devcloud.py start|stop|status|restart|reset|stop-glance [--kill]|
                   start-glance|env|info

State lives in $DEVCLOUD_DIR (default <repo>/.devcloud).  Stdlib only.
"""

import contextlib
import fcntl
import grp
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / 'tools' / 'devcloud-requirements.txt'
STATE = Path(os.environ.get('DEVCLOUD_DIR') or REPO / '.devcloud').resolve()
VENV = STATE / 'venv'
ETC = STATE / 'etc'
DATA = STATE / 'data'
LOGS = STATE / 'logs'
RUN = STATE / 'run'
CLOUDS_YAML = STATE / 'clouds.yaml'
SECRETS = STATE / 'secrets.json'
SETUP_STATE = STATE / 'setup.json'
INSTALL_MARKER = VENV / '.devcloud-requirements.sha256'

HOST = '127.0.0.1'
KEYSTONE_PORT = int(os.environ.get('DEVCLOUD_KEYSTONE_PORT', '25000'))
GLANCE_PORT = int(os.environ.get('DEVCLOUD_GLANCE_PORT', '29292'))
KEYSTONE_URL = 'http://%s:%d' % (HOST, KEYSTONE_PORT)
GLANCE_URL = 'http://%s:%d' % (HOST, GLANCE_PORT)
START_TIMEOUT = float(os.environ.get('DEVCLOUD_START_TIMEOUT', '60'))
REGION = 'RegionOne'
PORT_ENV = {'keystone': 'DEVCLOUD_KEYSTONE_PORT',
            'glance': 'DEVCLOUD_GLANCE_PORT'}


class Fail(Exception):
    pass


def say(msg):
    print('devcloud: ' + msg, flush=True)


def start_job(cmd, log, env=None):
    """Start cmd in the background, appending its output to log."""
    with open(log, 'ab') as f:
        f.write(('\n$ %s\n' % ' '.join(map(str, cmd))).encode())
        f.flush()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=f,
                                stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL)
    return proc, log


def finish(job):
    """Wait for a start_job() job; raise Fail with its log tail on error."""
    proc, log = job
    if proc.wait() != 0:
        raise Fail('%s failed (exit %d)\n%s' % (
            Path(proc.args[0]).name, proc.returncode, tail(log)))


def run(cmd, log, env=None):
    finish(start_job(cmd, log, env))


def tail(path, n=30):
    try:
        lines = Path(path).read_text(errors='replace').splitlines()
    except OSError:
        return '(no log at %s)' % path
    return '--- last lines of %s ---\n%s' % (path, '\n'.join(lines[-n:]))


def write_private(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.chmod(path, 0o600)


def load_json(path, default):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


@contextlib.contextmanager
def state_lock():
    """Serialise devcloud commands (e.g. parallel pytest workers)."""
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / '.lock', 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


# --- install -------------------------------------------------------------

def apt_install(*pkgs):
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        raise Fail('missing Debian package(s) %s; install them with '
                   'apt-get (as root)' % ' '.join(pkgs))
    say('installing Debian package(s): %s' % ' '.join(pkgs))
    log = LOGS / 'install.log'
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    run(['apt-get', 'update', '-q'], log, env)
    run(['apt-get', 'install', '-y', '-q'] + list(pkgs), log, env)


def ensure_installed():
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    py = VENV / 'bin' / 'python'
    if py.exists() and INSTALL_MARKER.exists() and \
            INSTALL_MARKER.read_text().strip() == want:
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / 'install.log'
    t0 = time.time()
    if not py.exists() or subprocess.call([py, '-c', '']) != 0:
        # Debian's python3 lacks ensurepip unless python3-venv is installed.
        if subprocess.call([sys.executable, '-c', 'import ensurepip'],
                           stderr=subprocess.DEVNULL) != 0:
            apt_install('python3-venv')
        shutil.rmtree(VENV, ignore_errors=True)
        run([sys.executable, '-m', 'venv', VENV], log)
    say('installing keystone + glance into %s (log: %s)' % (VENV, log))
    run([py, '-m', 'pip', 'install', '--disable-pip-version-check', '-q',
         '-r', REQUIREMENTS], log)
    INSTALL_MARKER.write_text(want + '\n')
    say('install done in %.0fs' % (time.time() - t0))


# --- configuration ---------------------------------------------------------

def passwords():
    pw = load_json(SECRETS, {})
    if not all(pw.get(k) for k in ('admin', 'demo', 'glance')):
        for k in ('admin', 'demo', 'glance'):
            pw.setdefault(k, secrets.token_urlsafe(18))
        write_private(SECRETS, json.dumps(pw, indent=1) + '\n')
    return pw


def ini(sections):
    out = []
    for name, opts in sections.items():
        out.append('[%s]' % name)
        out += ['%s = %s' % kv for kv in opts.items()]
        out.append('')
    return '\n'.join(out)


def write_configs(pw):
    for d in (ETC / 'keystone', ETC / 'glance', DATA / 'images',
              DATA / 'staging', DATA / 'tasks', DATA / 'cache',
              DATA / 'locks', LOGS, RUN):
        d.mkdir(parents=True, exist_ok=True)
    common = {'use_stderr': 'true', 'debug': 'false'}
    write_private(ETC / 'keystone' / 'keystone.conf', ini({
        'DEFAULT': common,
        'database': {'connection': 'sqlite:///%s' % (DATA / 'keystone.db')},
        'token': {'provider': 'fernet'},
        'fernet_tokens': {'key_repository': ETC / 'keystone' / 'fernet-keys'},
        'credential': {'key_repository': ETC / 'keystone' / 'credential-keys'},
        # bcrypt's default 12 rounds costs ~0.25s of CPU per password login.
        'identity': {'password_hash_rounds': '4'},
    }))
    # Glance only looks for <dir>/glance-api.conf (+ optional
    # glance-image-import.conf); the paste file is named explicitly.
    shutil.copy(VENV / 'etc' / 'glance' / 'glance-api-paste.ini',
                ETC / 'glance' / 'glance-api-paste.ini')
    write_private(ETC / 'glance' / 'glance-api.conf', ini({
        'DEFAULT': dict(common, **{
            'enabled_backends': 'local:file',
            'image_cache_dir': DATA / 'cache',
            'worker_self_reference_url': GLANCE_URL,
        }),
        'glance_store': {'default_backend': 'local'},
        'local': {'filesystem_store_datadir': DATA / 'images'},
        'os_glance_staging_store': {
            'filesystem_store_datadir': DATA / 'staging'},
        'os_glance_tasks_store': {'filesystem_store_datadir': DATA / 'tasks'},
        'database': {'connection': 'sqlite:///%s' % (DATA / 'glance.db')},
        'paste_deploy': {
            'flavor': 'keystone',
            'config_file': ETC / 'glance' / 'glance-api-paste.ini'},
        'keystone_authtoken': {
            'www_authenticate_uri': KEYSTONE_URL,
            'auth_url': KEYSTONE_URL,
            'auth_type': 'password',
            'user_domain_name': 'Default',
            'project_domain_name': 'Default',
            'project_name': 'service',
            'username': 'glance',
            'password': pw['glance'],
            'region_name': REGION,
            # Notice a revoked token within seconds, as a test needs.
            'token_cache_time': '2',
        },
        'oslo_concurrency': {'lock_path': DATA / 'locks'},
    }))


def write_clouds_yaml(pw):
    def cloud(name, user, project):
        return '\n'.join([
            '  %s:' % name,
            '    auth:',
            '      auth_url: %s/v3' % KEYSTONE_URL,
            '      username: %s' % user,
            '      password: "%s"' % pw[user],
            '      project_name: %s' % project,
            '      user_domain_name: Default',
            '      project_domain_name: Default',
            '    identity_api_version: 3',
            '    region_name: %s' % REGION,
            '    interface: public',
        ])
    write_private(CLOUDS_YAML, '\n'.join([
        '# Written by tools/devcloud.py; regenerated on every start.',
        'clouds:',
        cloud('devcloud-admin', 'admin', 'admin'),
        cloud('devcloud-member', 'demo', 'demo'), '']))


# --- one-time database / keystone setup -----------------------------------

# Each *-manage run spends ~4s importing, so independent steps run in
# parallel, each with its own log.
def manage(tool, *args, env=None):
    conf = {'keystone': ETC / 'keystone' / 'keystone.conf',
            'glance': ETC / 'glance' / 'glance-api.conf'}[tool]
    log = LOGS / ('setup-%s-%s.log' % (tool, args[0]))
    return start_job([VENV / 'bin' / ('%s-manage' % tool),
                      '--config-file', conf] + list(args), log, env)


def sqlite_wal(db):
    # WAL lets readers and a writer work at once (16 server threads).
    import sqlite3
    with contextlib.closing(sqlite3.connect(db)) as c:
        c.execute('PRAGMA journal_mode=WAL')


def setup_keystone(pw, done):
    if not done.get('keystone_db'):
        say('initialising keystone database and keys')
        me = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        jobs = [manage('keystone', cmd, '--keystone-user', me,
                       '--keystone-group', group)
                for cmd in ('fernet_setup', 'credential_setup')]
        finish(manage('keystone', 'db_sync'))
        sqlite_wal(DATA / 'keystone.db')
        for job in jobs:
            finish(job)
        done['keystone_db'] = True
        save_setup(done)
    if done.get('bootstrap_url') != KEYSTONE_URL:
        # Idempotent; also fixes the identity endpoints if the port changed.
        env = dict(os.environ, OS_BOOTSTRAP_PASSWORD=pw['admin'])
        finish(manage('keystone', 'bootstrap',
                      '--bootstrap-username', 'admin',
                      '--bootstrap-project-name', 'admin',
                      '--bootstrap-role-name', 'admin',
                      '--bootstrap-service-name', 'keystone',
                      '--bootstrap-region-id', REGION,
                      '--bootstrap-public-url', KEYSTONE_URL + '/v3',
                      '--bootstrap-internal-url', KEYSTONE_URL + '/v3',
                      '--bootstrap-admin-url', KEYSTONE_URL + '/v3',
                      env=env))
        done['bootstrap_url'] = KEYSTONE_URL
        save_setup(done)


def setup_glance_db(done):
    """Returns a function that waits for the (background) db_sync."""
    if done.get('glance_db'):
        return lambda: None
    say('initialising glance database')
    job = manage('glance', 'db_sync')

    def wait():
        finish(job)
        sqlite_wal(DATA / 'glance.db')
        done['glance_db'] = True
        save_setup(done)
    return wait


def save_setup(done):
    SETUP_STATE.write_text(json.dumps(done, indent=1) + '\n')


# --- keystone REST provisioning ---------------------------------------------

def http(method, url, body=None, token=None, timeout=10):
    req = urllib.request.Request(url, method=method)
    req.add_header('Accept', 'application/json')
    if token:
        req.add_header('X-Auth-Token', token)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header('Content-Type', 'application/json')
    try:
        with urllib.request.urlopen(req, data, timeout=timeout) as r:
            raw = r.read()
            return r.status, r.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = raw.decode(errors='replace')
        return e.code, e.headers, doc


def get_token(user, password, scope):
    body = {'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': user, 'domain': {'id': 'default'},
            'password': password}}},
        'scope': scope}}
    st, hdrs, doc = http('POST', KEYSTONE_URL + '/v3/auth/tokens', body)
    if st != 201:
        raise Fail('keystone login as %s failed: %s %s' % (user, st, doc))
    return hdrs['X-Subject-Token']


class Keystone:
    def __init__(self, token):
        self.token = token

    def call(self, method, path, body=None, ok=(200, 201, 204)):
        st, _, doc = http(method, KEYSTONE_URL + '/v3' + path, body,
                          self.token)
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


def provision(pw):
    """Projects, users, roles, the image service and its endpoints."""
    ks = Keystone(get_token('admin', pw['admin'], {'system': {'all': True}}))
    roles = {r: ks.find('roles', name=r)['id']
             for r in ('admin', 'member', 'reader', 'service')}
    grants = {'demo': ('demo', ['member', 'reader']),
              'glance': ('service', ['admin', 'service'])}
    for user, (project, user_roles) in grants.items():
        p = ks.ensure('projects', {'name': project, 'domain_id': 'default'},
                      name=project, domain_id='default')
        u = ks.ensure('users', {'name': user, 'domain_id': 'default',
                                'password': pw[user],
                                'default_project_id': p['id']},
                      name=user, domain_id='default')
        ks.call('PATCH', '/users/' + u['id'], {'user': {
            'password': pw[user], 'default_project_id': p['id']}})
        for r in user_roles:
            ks.call('PUT', '/projects/%s/users/%s/roles/%s' % (
                p['id'], u['id'], roles[r]))
    svc = ks.ensure('services', {'name': 'glance', 'type': 'image',
                                 'enabled': True}, type='image')
    existing = ks.call('GET', '/endpoints?service_id=' + svc['id'])
    existing = {e['interface']: e for e in existing['endpoints']}
    for iface in ('public', 'internal', 'admin'):
        ep = existing.get(iface)
        if ep is None:
            ks.call('POST', '/endpoints', {'endpoint': {
                'service_id': svc['id'], 'interface': iface,
                'region_id': REGION, 'url': GLANCE_URL}})
        elif ep['url'] != GLANCE_URL:
            ks.call('PATCH', '/endpoints/' + ep['id'],
                    {'endpoint': {'url': GLANCE_URL}})


# --- processes -------------------------------------------------------------

def pidfile(svc):
    return RUN / ('%s.pid' % svc)


def alive(pid):
    """False once pid is gone, or a zombie whose threads have all exited.

    A multi-threaded server's leader turns Z before its sockets close.
    """
    try:
        state = Path('/proc/%d/stat' % pid).read_text().rsplit(')', 1)[1]
        return state.split()[0] != 'Z' or \
            len(os.listdir('/proc/%d/task' % pid)) > 1
    except OSError:
        return False


def running_pid(svc):
    """The pid of our live server for svc, or None (cleans stale files)."""
    try:
        pid = int(pidfile(svc).read_text())
        cmdline = Path('/proc/%d/cmdline' % pid).read_bytes()
    except (OSError, ValueError):
        pid = None
    else:
        # Ignore dead and recycled pids.
        if not alive(pid) or str(VENV).encode() not in cmdline:
            pid = None
    if pid is None:
        with contextlib.suppress(OSError):
            pidfile(svc).unlink()
    return pid


def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress
    try:
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def check_port(svc, port):
    if not port_free(port):
        raise Fail('port %d (%s) on %s is already in use by another '
                   'program; free it or choose another port with %s=<port>'
                   % (port, svc, HOST, PORT_ENV[svc]))


SERVERS = {
    'keystone': (KEYSTONE_PORT, 'keystone.wsgi.api:application',
                 'OS_KEYSTONE_CONFIG_DIR', '/v3'),
    'glance': (GLANCE_PORT, 'glance.wsgi.api:application',
               'OS_GLANCE_CONFIG_DIR', '/healthcheck'),
}


# keystone parses sys.argv with oslo.config, so waitress-serve's own
# arguments would break it: import the app with a clean argv instead.
# oslo.db opens SQLite transactions with a deferred BEGIN; a transaction
# that reads and then writes fails at once with "database is locked" when
# another thread writes meanwhile (no busy wait).  BEGIN IMMEDIATE takes the
# write lock up front, so concurrent requests queue on busy_timeout instead.
LAUNCHER = '''
import importlib, sqlite3, sys, waitress
from sqlalchemy import event
from sqlalchemy.engine import Engine

@event.listens_for(Engine, 'connect')
def _busy_timeout(dbapi_con, record):
    if isinstance(dbapi_con, sqlite3.Connection):
        dbapi_con.execute('PRAGMA busy_timeout = 60000')

@event.listens_for(Engine, 'before_cursor_execute', retval=True)
def _begin_immediate(conn, cursor, stmt, params, context, many):
    if stmt == 'BEGIN' and conn.dialect.name == 'sqlite':
        stmt = 'BEGIN IMMEDIATE'
    return stmt, params

svc, app, port = sys.argv[1:]
sys.argv = ['devcloud-' + svc]
mod, attr = app.split(':')
app = getattr(importlib.import_module(mod), attr)
# threads: concurrency; body size: let big images in (default 1 GiB).
waitress.serve(app, host='%s', port=int(port), threads=16,
               max_request_body_size=1 << 40, ident='devcloud-' + svc)
''' % HOST


def launch(svc):
    """Start the server for svc detached; wait_ready() checks on it."""
    port, app, env_var, probe = SERVERS[svc]
    log = LOGS / ('%s.log' % svc)
    env = dict(os.environ, **{env_var: str(ETC / svc)})
    env.pop('OS_CLOUD', None)
    cmd = [VENV / 'bin' / 'python', '-c', LAUNCHER, svc, app, str(port)]
    with open(log, 'ab') as f:
        f.write(('\n=== %s starting %s ===\n' % (
            time.strftime('%F %T'), svc)).encode())
        f.flush()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=f,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env,
                                cwd=STATE, start_new_session=True)
    pidfile(svc).write_text('%d\n' % proc.pid)
    proc.deadline = time.time() + START_TIMEOUT
    return proc


def wait_ready(svc, proc):
    port, _, _, probe = SERVERS[svc]
    log = LOGS / ('%s.log' % svc)
    url = 'http://%s:%d%s' % (HOST, port, probe)
    while time.time() < proc.deadline:
        if proc.poll() is not None:
            pidfile(svc).unlink()
            raise Fail('%s exited with code %s during start\n%s' % (
                svc, proc.returncode, tail(log)))
        with contextlib.suppress(OSError):
            if http('GET', url, timeout=2)[0] == 200:
                return proc.pid
        time.sleep(0.25)
    terminate(svc, proc.pid)
    raise Fail('%s did not answer on %s within %ds\n%s' % (
        svc, url, START_TIMEOUT, tail(log)))


def terminate(svc, pid, kill=False):
    sig = signal.SIGKILL if kill else signal.SIGTERM
    for sig, wait in ((sig, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.time() + wait
        while alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        if not alive(pid):
            break
    with contextlib.suppress(OSError):
        pidfile(svc).unlink()


def stop_service(svc, kill=False):
    pid = running_pid(svc)
    if pid is None:
        say('%s is not running' % svc)
        return
    terminate(svc, pid, kill)
    say('%s stopped (pid %d%s)' % (svc, pid, ', SIGKILL' if kill else ''))


def smoke_test(pw):
    """An authenticated image list proves keystone <-> glance works."""
    token = get_token('admin', pw['admin'],
                      {'project': {'name': 'admin',
                                   'domain': {'id': 'default'}}})
    st, _, doc = http('GET', GLANCE_URL + '/v2/images?limit=1', token=token)
    if st != 200:
        raise Fail('glance image list failed: %s %s\n%s' % (
            st, doc, tail(LOGS / 'glance.log')))


# --- commands --------------------------------------------------------------

def cmd_start():
    pids = {s: running_pid(s) for s in SERVERS}
    if all(pids.values()):
        say('devcloud already running (keystone pid %d, glance pid %d)' % (
            pids['keystone'], pids['glance']))
        return 0
    for svc, pid in pids.items():
        if not pid:
            check_port(svc, SERVERS[svc][0])
    t0 = time.time()
    ensure_installed()
    pw = passwords()
    write_configs(pw)
    done = load_json(SETUP_STATE, {})
    procs = {}
    try:
        # glance's db_sync and server start overlap with keystone's.
        glance_db_ready = setup_glance_db(done) if not pids['glance'] \
            else (lambda: None)
        if not pids['keystone']:
            setup_keystone(pw, done)
            procs['keystone'] = launch('keystone')
        if not pids['glance']:
            glance_db_ready()
            procs['glance'] = launch('glance')
        if 'keystone' in procs:
            pids['keystone'] = wait_ready('keystone', procs['keystone'])
        if done.get('provisioned') != [KEYSTONE_URL, GLANCE_URL]:
            provision(pw)
            done['provisioned'] = [KEYSTONE_URL, GLANCE_URL]
            save_setup(done)
        if 'glance' in procs:
            pids['glance'] = wait_ready('glance', procs['glance'])
        smoke_test(pw)
    except BaseException:
        for svc, proc in procs.items():  # don't leave half a cloud behind
            if running_pid(svc) == proc.pid:
                terminate(svc, proc.pid)
        raise
    write_clouds_yaml(pw)
    say('running in %.1fs: keystone %s/v3 (pid %d), glance %s (pid %d)' % (
        time.time() - t0, KEYSTONE_URL, pids['keystone'], GLANCE_URL,
        pids['glance']))
    say('clouds: devcloud-admin, devcloud-member; '
        'eval "$(tools/devcloud.sh env)" sets OS_CLIENT_CONFIG_FILE=%s'
        % CLOUDS_YAML)
    return 0


def cmd_stop():
    if not any(running_pid(s) for s in SERVERS):
        say('devcloud is not running')
        return 0
    for svc in ('glance', 'keystone'):
        stop_service(svc)
    return 0


def cmd_status():
    up = True
    for svc, (port, _, _, probe) in SERVERS.items():
        pid = running_pid(svc)
        if pid is None:
            up = False
            print('%-8s stopped' % svc)
            continue
        try:
            st = http('GET', 'http://%s:%d%s' % (HOST, port, probe),
                      timeout=3)[0]
            answer = 'answering' if st == 200 else 'HTTP %d' % st
        except OSError as e:
            answer = 'not answering (%s)' % e
        print('%-8s running  pid %-7d http://%s:%d  %s' % (
            svc, pid, HOST, port, answer))
    return 0 if up else 3


def cmd_start_glance():
    pid = running_pid('glance')
    if pid:
        say('glance already running (pid %d)' % pid)
        return 0
    if not running_pid('keystone'):
        raise Fail('keystone is not running; use "start"')
    check_port('glance', GLANCE_PORT)
    say('glance started (pid %d)' % wait_ready('glance', launch('glance')))
    return 0


def cmd_reset():
    cmd_stop()
    for p in STATE.iterdir():
        if p.name not in ('venv', '.lock'):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
    say('state wiped (venv kept)')
    return cmd_start()


def cmd_env():
    print('export OS_CLIENT_CONFIG_FILE=%s' % CLOUDS_YAML)
    print('export OS_CLOUD=devcloud-admin')
    return 0


def cmd_info():
    print(json.dumps({
        'state_dir': str(STATE), 'clouds_yaml': str(CLOUDS_YAML),
        'admin_cloud': 'devcloud-admin', 'member_cloud': 'devcloud-member',
        'keystone_url': KEYSTONE_URL + '/v3', 'glance_url': GLANCE_URL,
        'logs_dir': str(LOGS), 'image_dir': str(DATA / 'images'),
        'venv': str(VENV), 'region': REGION,
    }, indent=1))
    return 0


COMMANDS = {
    'start': cmd_start,
    'stop': cmd_stop,
    'status': cmd_status,
    'restart': lambda: cmd_stop() or cmd_start(),
    'reset': cmd_reset,
    'stop-glance': lambda: stop_service('glance',
                                        kill='--kill' in sys.argv) or 0,
    'start-glance': cmd_start_glance,
    'env': cmd_env,
    'info': cmd_info,
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        if sys.argv[1] in ('env', 'info'):
            return COMMANDS[sys.argv[1]]()
        with state_lock():
            return COMMANDS[sys.argv[1]]()
    except Fail as e:
        print('devcloud: error: %s' % e, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
