"""The subcommands of tools/devcloud.sh, over every service in services/."""

import importlib
import json
import pkgutil
import shutil
import sys
import time

from devcloud import install, services as services_pkg
from devcloud.base import (CLOUDS_YAML, DATA, Fail, LOGS, MINIMAL, REGION,
                           RUN, SETUP_STATE, STATE, VENV, load_json, passwords,
                           save_setup, say, state_lock, write_private)

USAGE = '''\
Usage: devcloud.sh start [--minimal]|stop|status|restart|reset|env|info|
                   stop-SERVICE [--kill]|start-SERVICE

A real local OpenStack on 127.0.0.1: %s.
State lives in $DEVCLOUD_DIR (default <repo>/.devcloud); each service's
port is $DEVCLOUD_<SERVICE>_PORT.  --minimal: Keystone and Glance only.'''


def services():
    """Every service module's SERVICE, in start order."""
    found = []
    for mod in pkgutil.iter_modules(services_pkg.__path__):
        mod = importlib.import_module('devcloud.services.' + mod.name)
        found += getattr(mod, 'SERVICES', None) or [mod.SERVICE]
    return sorted(found, key=lambda s: (s.order, s.name))


class Cloud:
    """The services, their passwords and the identity service."""

    def __init__(self):
        self.services = services()
        self.by_name = {s.name: s for s in self.services}
        self.identity = self.by_name['keystone']
        self._pw = None
        self.done = {}  # setup.json, while starting

    def selected(self):
        """The services `start` brings up (all, or --minimal's)."""
        if MINIMAL.exists():
            return [s for s in self.services if s.minimal]
        return self.services

    @property
    def pw(self):
        if self._pw is None:
            self._pw = passwords(['admin', 'demo', 'rabbitmq'] + [
                s.name for s in self.services if s.service_roles])
        return self._pw


def write_clouds_yaml(cloud):
    def entry(name, user, project):
        return '\n'.join([
            '  %s:' % name,
            '    auth:',
            '      auth_url: %s' % cloud.identity.endpoint,
            '      username: %s' % user,
            '      password: "%s"' % cloud.pw[user],
            '      project_name: %s' % project,
            '      user_domain_name: Default',
            '      project_domain_name: Default',
            '    identity_api_version: 3',
            '    region_name: %s' % REGION,
            '    interface: public',
        ])
    write_private(CLOUDS_YAML, '\n'.join([
        '# Written by tools/devcloud.sh; regenerated on every start.',
        'clouds:',
        entry('devcloud-admin', 'admin', 'admin'),
        entry('devcloud-member', 'demo', 'demo'), '']))


def cmd_start(cloud, args):
    RUN.mkdir(parents=True, exist_ok=True)
    if '--minimal' in args:
        MINIMAL.touch()
    elif MINIMAL.exists():
        MINIMAL.unlink()
    selected = cloud.selected()
    pids = {s.name: s.running_pid() for s in selected}
    if all(pids.values()):
        say('devcloud already running (%s)' % ', '.join(
            '%s pid %d' % kv for kv in pids.items()))
        return 0
    todo = [s for s in selected if not pids[s.name]]
    for svc in todo:
        svc.check_port()
    t0 = time.time()
    install.ensure_installed()
    for d in (DATA, LOGS, RUN):
        d.mkdir(parents=True, exist_ok=True)
    for svc in selected:
        svc.configure(cloud)
    done = cloud.done = load_json(SETUP_STATE, {})
    procs = {}
    try:
        # Every service's one-time setup runs in the background at once.
        waits = [(svc, svc.prepare(cloud, done)) for svc in todo]
        for svc, wait in waits:
            wait()
            if not svc.phase:
                procs[svc.name] = svc.launch()
        identity = cloud.identity
        if identity.name in procs:
            pids[identity.name] = identity.wait_ready(procs[identity.name])
        urls = [s.url for s in selected]
        if done.get('provisioned') != urls:
            identity.provision(cloud, selected)
            done['provisioned'] = urls
            save_setup(done)
        for phase in sorted({s.phase for s in todo}):
            batch = [s for s in todo if s.phase == phase]
            for svc in batch:
                if phase:
                    procs[svc.name] = svc.launch()
            for svc in batch:
                if svc is not identity:
                    pids[svc.name] = svc.wait_ready(procs[svc.name])
        for svc in selected:
            svc.smoke(cloud)
    except BaseException:
        for svc in todo:  # don't leave half a cloud behind
            proc = procs.get(svc.name)
            if proc and svc.running_pid() == proc.pid:
                svc.terminate(proc.pid)
        raise
    write_clouds_yaml(cloud)
    say('running in %.1fs: %s' % (time.time() - t0, ', '.join(
        '%s %s(pid %d)' % (
            s.name, s.endpoint + ' ' if s.url else '', pids[s.name])
        for s in selected)))
    say('clouds: devcloud-admin, devcloud-member; '
        'eval "$(tools/devcloud.sh env)" sets OS_CLIENT_CONFIG_FILE=%s'
        % CLOUDS_YAML)
    return 0


def cmd_stop(cloud, args):
    if not any(s.running_pid() for s in cloud.services):
        say('devcloud is not running')
        return 0
    for svc in reversed(cloud.services):
        if svc.running_pid() or svc in cloud.selected():
            svc.stop()
    return 0


def cmd_status(cloud, args):
    up = True
    selected = cloud.selected()
    for svc in cloud.services:
        pid = svc.running_pid()
        if pid is None:
            if svc in selected:
                up = False
                print('%-16s stopped' % svc.name)
            else:
                print('%-16s not started (start --minimal)' % svc.name)
            continue
        try:
            st = svc.answers(timeout=3)
            answer = 'answering' if st == 200 else 'HTTP %d' % st
        except OSError as e:
            answer = 'not answering (%s)' % e
        workers = svc.group_size(pid)
        if workers > 1:
            answer += ', %d worker processes' % workers
        print('%-16s running  pid %-7d %s  %s' % (
            svc.name, pid, svc.url or '(no port)', answer))
    return 0 if up else 3


def cmd_restart(cloud, args):
    cmd_stop(cloud, args)
    return cmd_start(cloud, args)


def cmd_reset(cloud, args):
    cmd_stop(cloud, args)
    for p in STATE.iterdir():
        if p.name not in ('venv', '.lock'):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
    say('state wiped (venv kept)')
    return cmd_start(Cloud(), args)


def cmd_stop_one(svc):
    def stop(cloud, args):
        svc.stop(kill='--kill' in args)
        return 0
    return stop


def cmd_start_one(svc):
    def start(cloud, args):
        pid = svc.running_pid()
        if pid:
            say('%s already running (pid %d)' % (svc.name, pid))
            return 0
        identity = cloud.identity
        if svc is not identity and not identity.running_pid():
            raise Fail('%s is not running; use "start"' % identity.name)
        svc.check_port()
        say('%s started (pid %d)' % (svc.name, svc.wait_ready(svc.launch())))
        return 0
    return start


def cmd_env(cloud, args):
    print('export OS_CLIENT_CONFIG_FILE=%s' % CLOUDS_YAML)
    print('export OS_CLOUD=devcloud-admin')
    return 0


def cmd_info(cloud, args):
    info = {
        'state_dir': str(STATE), 'clouds_yaml': str(CLOUDS_YAML),
        'admin_cloud': 'devcloud-admin', 'member_cloud': 'devcloud-member',
        'logs_dir': str(LOGS), 'venv': str(VENV),
    }
    info['services'] = [s.name for s in cloud.selected()]
    for svc in cloud.services:
        if svc.app:  # an HTTP API
            info['%s_url' % svc.name] = svc.endpoint
        info.update(svc.info())
    print(json.dumps(info, indent=1))
    return 0


def commands(cloud):
    cmds = {
        'start': cmd_start,
        'stop': cmd_stop,
        'status': cmd_status,
        'restart': cmd_restart,
        'reset': cmd_reset,
        'env': cmd_env,
        'info': cmd_info,
    }
    for svc in cloud.services:
        cmds['stop-' + svc.name] = cmd_stop_one(svc)
        cmds['start-' + svc.name] = cmd_start_one(svc)
    return cmds


def main(argv):
    cloud = Cloud()
    cmds = commands(cloud)
    if not argv or argv[0] not in cmds:
        print(USAGE % ', '.join(s.name for s in cloud.services),
              file=sys.stderr)
        return 2
    try:
        if argv[0] in ('env', 'info'):
            return cmds[argv[0]](cloud, argv[1:])
        with state_lock():
            return cmds[argv[0]](cloud, argv[1:])
    except Fail as e:
        print('devcloud: error: %s' % e, file=sys.stderr)
        return 1
