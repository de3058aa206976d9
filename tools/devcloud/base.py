"""State paths and small helpers shared by every service.  Stdlib only."""

import contextlib
import fcntl
import json
import os
import secrets
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get('DEVCLOUD_DIR') or REPO / '.devcloud').resolve()
VENV = STATE / 'venv'
ETC = STATE / 'etc'
DATA = STATE / 'data'
LOGS = STATE / 'logs'
RUN = STATE / 'run'
CLOUDS_YAML = STATE / 'clouds.yaml'
SECRETS = STATE / 'secrets.json'
SETUP_STATE = STATE / 'setup.json'
MINIMAL = RUN / 'minimal'  # present after `start --minimal`

HOST = '127.0.0.1'
REGION = 'RegionOne'
START_TIMEOUT = float(os.environ.get('DEVCLOUD_START_TIMEOUT', '60'))


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


def save_setup(done):
    """Record the one-time setup steps done (setup.json)."""
    SETUP_STATE.write_text(json.dumps(done, indent=1) + '\n')


def passwords(users):
    """The random password of each user, made once and kept private."""
    pw = load_json(SECRETS, {})
    if not all(pw.get(u) for u in users):
        for u in users:
            pw.setdefault(u, secrets.token_urlsafe(18))
        write_private(SECRETS, json.dumps(pw, indent=1) + '\n')
    return pw


@contextlib.contextmanager
def state_lock():
    """Serialise devcloud commands (e.g. parallel pytest workers)."""
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / '.lock', 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def ini(sections):
    out = []
    for name, opts in sections.items():
        out.append('[%s]' % name)
        out += ['%s = %s' % kv for kv in opts.items()]
        out.append('')
    return '\n'.join(out)


def sqlite_url(db):
    # Writers from several processes (API, conductor, compute, nova-manage)
    # wait for the lock instead of failing after pysqlite's 5 s default.
    return 'sqlite:///%s?timeout=120' % db


def sqlite_wal(db):
    # WAL lets readers and a writer work at once (16 server threads).
    import sqlite3
    with contextlib.closing(sqlite3.connect(db)) as c:
        c.execute('PRAGMA journal_mode=WAL')


def http(method, url, body=None, token=None, timeout=10):
    """(status, headers, decoded JSON body or text) of one request."""
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
