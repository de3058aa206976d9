"""Service: one WSGI server of the local cloud, its port, pid and log.

A service module in devcloud/services/ defines SERVICE, an instance of a
Service subclass that sets the class attributes and overrides configure(),
prepare() and, if it can tell, smoke().
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from devcloud.base import (DATA, ETC, Fail, HOST, LOGS, REGION, RUN,
                           START_TIMEOUT,
                           STATE, VENV, http, say, start_job, tail)

# oslo.db opens SQLite transactions with a deferred BEGIN; a transaction
# that reads and then writes fails at once with "database is locked" when
# another thread or process writes meanwhile (no busy wait).  BEGIN
# IMMEDIATE takes the write lock up front, so concurrent requests queue on
# busy_timeout instead.  Every server and daemon runs with these hooks.
# A thread of a server with several workers serving a GET or HEAD
# (READING.get) keeps the deferred BEGIN:
# its reads then run beside other readers and a writer, as they do on a
# real cloud's database, instead of queueing behind every transaction.
SQLITE_HOOKS = '''
import sqlite3
import threading
from sqlalchemy import event
from sqlalchemy.engine import Engine

READING = threading.local()

@event.listens_for(Engine, 'connect')
def _busy_timeout(dbapi_con, record):
    if isinstance(dbapi_con, sqlite3.Connection):
        dbapi_con.execute('PRAGMA busy_timeout = 60000')

@event.listens_for(Engine, 'before_cursor_execute', retval=True)
def _begin_immediate(conn, cursor, stmt, params, context, many):
    if stmt == 'BEGIN' and conn.dialect.name == 'sqlite' and not getattr(
            READING, 'get', False):
        stmt = 'BEGIN IMMEDIATE'
    return stmt, params
'''

# keystone parses sys.argv with oslo.config, so waitress-serve's own
# arguments would break it: import the app with a clean argv instead (plus
# the service's own app_argv, for cinder, which reads its config that way).
# With more than one worker, the processes share the listening socket, as
# the worker processes of uWSGI do; each forks before it imports the app,
# so no database connection or thread is shared.  And as a uWSGI worker
# takes a connection only when it is free, a worker here accepts only
# while none of its connections is new (accepted less than a second ago,
# no request yet) or has a request in progress: two requests sent at once
# on two connections reach two workers.
LAUNCHER = '''
import importlib, os, socket, sys, time, waitress
from waitress.channel import HTTPChannel
%s
svc, app, port, workers = sys.argv[1:5]
sys.argv = ['devcloud-' + svc] + sys.argv[5:]
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(('%s', int(port)))
for _ in range(int(workers) - 1):
    if os.fork() == 0:
        break
mod, attr = app.split(':')
app = getattr(importlib.import_module(mod), attr)
BUSY = {}

def serve(environ, start_response, app=app, parallel=int(workers) > 1):
    READING.get = parallel and environ['REQUEST_METHOD'] in ('GET', 'HEAD')
    return app(environ, start_response)

class Channel(HTTPChannel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        BUSY[self] = time.monotonic() + 1

    def service(self):
        try:
            super().service()
        finally:
            BUSY.pop(self, None)
            self.server.pull_trigger()

# threads: concurrency; body size: let big images in (default 1 GiB).
server = waitress.create_server(serve, sockets=[sock], threads=16,
                                max_request_body_size=1 << 40,
                                ident='devcloud-' + svc)
if int(workers) > 1:
    add_task, readable = server.add_task, server.readable

    def queued(channel):
        BUSY[channel] = float('inf')
        add_task(channel)

    def free():
        now = time.monotonic()
        return readable() and all(t < now for t in list(BUSY.values()))
    server.channel_class, server.add_task, server.readable = (
        Channel, queued, free)
server.run()
''' % (SQLITE_HOOKS, HOST)

# A daemon's console script: import it first (nova and cinder pick their
# concurrency model, eventlet or threads, on import), then hook SQLite.
DAEMON_LAUNCHER = '''
import importlib, sys
name, main = sys.argv[1:3]
sys.argv = [name] + sys.argv[3:]
mod, attr = main.split(':')
main = getattr(importlib.import_module(mod), attr)
%s
sys.exit(main())
''' % SQLITE_HOOKS


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


def start_time(pid):
    """The start time of pid in clock ticks since boot (/proc stat)."""
    stat = Path('/proc/%d/stat' % pid).read_text()
    return stat.rsplit(')', 1)[1].split()[19]


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


class Service:
    name = None           # also the name of its keystone user, if any
    order = 50            # start order; stop goes in reverse
    default_port = None   # overridden by DEVCLOUD_<NAME>_PORT
    app = None            # the WSGI application, 'module:attribute'
    config_env = None     # variable naming the config directory
    probe = '/'           # a path that answers 200 once the server is up
    path = ''             # appended to the URL in the catalog and info
    service_type = None   # catalog service type, if it has endpoints
    service_roles = ()    # roles of its user in project 'service', if any
    minimal = False       # part of `start --minimal` (Keystone + Glance)
    phase = 0             # launched once every lower phase answers
    workers = 1           # server processes (DEVCLOUD_<NAME>_WORKERS)

    def __init__(self):
        self.port_env = 'DEVCLOUD_%s_PORT' % self.name.upper()
        self.port = int(os.environ.get(self.port_env, self.default_port))
        self.workers = int(os.environ.get(
            'DEVCLOUD_%s_WORKERS' % self.name.upper(), self.workers))
        self.url = 'http://%s:%d' % (HOST, self.port)
        self.etc = ETC / self.name
        self.data = DATA
        self.log = LOGS / ('%s.log' % self.name)
        self.pidfile = RUN / ('%s.pid' % self.name)
        # The pid's start time: tells our process from a recycled pid.
        self.startfile = RUN / ('%s.started' % self.name)

    @property
    def endpoint(self):
        return self.url + self.path

    # --- to override -------------------------------------------------------

    def configure(self, cloud):
        """Write this service's configuration (on every start)."""

    def prepare(self, cloud, done):
        """Start one-time setup; return a function that waits for it.

        done is setup.json: mark the steps done there (and save_setup()).
        """
        return lambda: None

    def smoke(self, cloud):
        """Raise Fail unless the running service really works."""

    def info(self):
        """Extra entries for `devcloud.sh info` (no secrets)."""
        return {}

    def authtoken(self, cloud, user=None):
        """A [keystone_authtoken]-style section: log in as user."""
        keystone = cloud.identity
        return {
            'www_authenticate_uri': keystone.url,
            'auth_url': keystone.url,
            'auth_type': 'password',
            'user_domain_name': 'Default',
            'project_domain_name': 'Default',
            'project_name': 'service',
            'username': user or self.name,
            'password': cloud.pw[user or self.name],
            'region_name': REGION,
        }

    def command(self):
        """The command line of the server (a WSGI app under waitress)."""
        return [VENV / 'bin' / 'python', '-c', LAUNCHER, self.name, self.app,
                str(self.port), str(self.workers)]

    def environ(self):
        env = dict(os.environ)
        if self.config_env:
            env[self.config_env] = str(self.etc)
        env.pop('OS_CLOUD', None)
        return env

    # --- processes ---------------------------------------------------------

    def manage(self, conf, *args, env=None):
        """Start `<name>-manage --config-file conf args` in the background.

        Each *-manage run spends ~4s importing, so independent steps run
        in parallel, each with its own log.
        """
        log = LOGS / ('setup-%s-%s.log' % (self.name, args[0]))
        return start_job([VENV / 'bin' / ('%s-manage' % self.name),
                          '--config-file', conf] + list(args), log, env)

    def running_pid(self):
        """The pid of our live server, or None (cleans stale files)."""
        try:
            pid = int(self.pidfile.read_text())
            cmdline = Path('/proc/%d/cmdline' % pid).read_bytes()
            now = start_time(pid)
        except (OSError, ValueError):
            pid = None
        else:
            # Ignore dead and recycled pids.  Servers may rename themselves
            # (setproctitle), so the start time identifies them.
            try:
                ours = self.startfile.read_text().strip() == now
            except OSError:  # started by an older devcloud
                ours = str(VENV).encode() in cmdline
            if not alive(pid) or not ours:
                pid = None
        if pid is None:
            for f in (self.pidfile, self.startfile):
                with contextlib.suppress(OSError):
                    f.unlink()
        return pid

    def group_size(self, pid):
        """How many live processes are in pid's process group."""
        count = 0
        for entry in os.listdir('/proc'):
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path('/proc/%s/stat' % entry).read_text()
                fields = stat.rsplit(')', 1)[1].split()
                count += fields[0] != 'Z' and int(fields[2]) == pid
        return count

    def check_port(self):
        if not port_free(self.port):
            raise Fail('port %d (%s) on %s is already in use by another '
                       'program; free it or choose another port with %s='
                       '<port>' % (self.port, self.name, HOST, self.port_env))

    def launch(self):
        """Start the server detached; wait_ready() checks on it."""
        env = self.environ()
        cmd = self.command()
        with open(self.log, 'ab') as f:
            f.write(('\n=== %s starting %s ===\n' % (
                time.strftime('%F %T'), self.name)).encode())
            f.flush()
            proc = subprocess.Popen([str(c) for c in cmd], stdout=f,
                                    stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env,
                                    cwd=STATE, start_new_session=True)
        self.pidfile.write_text('%d\n' % proc.pid)
        self.startfile.write_text(start_time(proc.pid) + '\n')
        proc.deadline = time.time() + START_TIMEOUT
        return proc

    def answers(self, timeout=2):
        """The HTTP status of the probe (OSError if nothing answers)."""
        return http('GET', self.url + self.probe, timeout=timeout)[0]

    def wait_ready(self, proc):
        while time.time() < proc.deadline:
            if proc.poll() is not None:
                self.pidfile.unlink()
                raise Fail('%s exited with code %s during start\n%s' % (
                    self.name, proc.returncode, tail(self.log)))
            with contextlib.suppress(OSError):
                if self.answers() == 200:
                    return proc.pid
            time.sleep(0.25)
        self.terminate(proc.pid)
        raise Fail('%s did not answer on %s within %ds\n%s' % (
            self.name, self.url + self.probe, START_TIMEOUT, tail(self.log)))

    def terminate(self, pid, kill=False):
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
            self.pidfile.unlink()

    def stop(self, kill=False):
        pid = self.running_pid()
        if pid is None:
            say('%s is not running' % self.name)
            return
        self.terminate(pid, kill)
        say('%s stopped (pid %d%s)' % (self.name, pid,
                                       ', SIGKILL' if kill else ''))


class Daemon(Service):
    """A server without a port of its own (an RPC worker on the bus).

    main is its console script's 'module:function'; conf its config file.
    It counts as ready once it has stayed up for `settle` seconds; the
    service that owns it checks in smoke() that it really joined.
    """
    main = None
    conf = None
    settle = 2.0
    phase = 1  # after the catalog has its users

    def __init__(self):
        self.port = None
        self.url = None
        self.etc = ETC / self.name.split('-')[0]
        self.data = DATA
        self.log = LOGS / ('%s.log' % self.name)
        self.pidfile = RUN / ('%s.pid' % self.name)
        # The pid's start time: tells our process from a recycled pid.
        self.startfile = RUN / ('%s.started' % self.name)

    def command(self):
        return [VENV / 'bin' / 'python', '-c', DAEMON_LAUNCHER, self.name,
                self.main, '--config-file', self.conf]

    def check_port(self):
        pass

    def answers(self, timeout=2):
        return 200 if self.running_pid() else 0

    def wait_ready(self, proc):
        up = time.time() + self.settle
        while time.time() < proc.deadline:
            if proc.poll() is not None:
                self.pidfile.unlink()
                raise Fail('%s exited with code %s during start\n%s' % (
                    self.name, proc.returncode, tail(self.log)))
            if time.time() >= up:
                return proc.pid
            time.sleep(0.25)
        return proc.pid
