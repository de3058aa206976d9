"""Change the image properties Nova recorded for servers: stop, set, start.

Each step is journalled before it is taken; outcomes as in apply.
"""

import dataclasses
import logging
from typing import Mapping, Optional

from glance_virtio import apply
from glance_virtio import glance
from glance_virtio import nova
from glance_virtio import novamanage
from glance_virtio import servers

LOG = logging.getLogger(__name__)

CHANGED = apply.CHANGED
UNCHANGED = apply.UNCHANGED
CONFLICT = apply.CONFLICT
FAILED = apply.FAILED
UNCERTAIN = apply.UNCERTAIN
SKIPPED = 'skipped'
# Rollback: restored what nova-manage can, but it cannot remove a key.
PARTIAL = 'partial'
NOT_DONE = apply.NOT_DONE + (PARTIAL,)
# nova-manage set exit codes that prove nothing was saved (manage.py).
REFUSED = (2, 3, 4, 5, 6)


@dataclasses.dataclass(frozen=True)
class Write:
    """Take the recorded keys of one server from expected to desired."""

    server_id: str
    name: str
    expected: Mapping[str, Optional[str]]
    desired: Mapping[str, Optional[str]]


@dataclasses.dataclass(frozen=True)
class Outcome:
    server_id: str
    name: str
    outcome: str
    before: Mapping[str, Optional[str]]
    after: Mapping[str, Optional[str]]
    error: str = ''
    power: str = ''  # what happened to the power state
    power_error: str = ''

    @property
    def failed(self):
        return self.outcome in NOT_DONE or bool(self.power_error)


def _read(manage, server_id, keys):
    return {k: manage.show(server_id, k) for k in keys}


class _Step:
    """Journals intent and result around one step of one server."""

    def __init__(self, journal, write):
        self.journal, self.write = journal, write

    def intent(self, step, **fields):
        self.journal.write('intent', step=step, server=self.write.server_id,
                           name=self.write.name, **fields)

    def result(self, step, outcome, **fields):
        self.journal.write('result', step=step, server=self.write.server_id,
                           outcome=outcome, **fields)


def write_one(conn, manage, write, journal, restart=True,
              wait=nova.wait_for):
    """Apply one Write; never raises for a per-server failure."""
    keys = list(write.desired)
    wanted = {k: v for k, v in write.desired.items() if v is not None}
    unremovable = [k for k, v in write.desired.items() if v is None]
    step = _Step(journal, write)

    def done(outcome, observed, error='', power='', power_error=''):
        return Outcome(write.server_id, write.name, outcome,
                       dict(write.expected), observed, error, power,
                       power_error)
    try:
        server = nova.get_server(conn, write.server_id)
        if server.status not in servers.CHANGEABLE:
            return done(SKIPPED, dict(write.expected),
                        'status %s: only ACTIVE and SHUTOFF servers are '
                        'changed' % server.status)
        current = _read(manage, write.server_id, keys)
    except glance.CloudError:
        raise
    except (glance.GlanceError, novamanage.NovaManageError) as e:
        return done(FAILED, dict(write.expected), str(e))
    if all(current.get(k) == v for k, v in wanted.items()):
        left = [k for k in unremovable if current.get(k) is not None]
        if not left:
            return done(UNCHANGED, current)
        return done(PARTIAL, current, 'nova-manage cannot remove %s: left '
                    'at %s' % (', '.join(left), ', '.join(
                        str(current[k]) for k in left)))
    if current != dict(write.expected):
        return done(CONFLICT, current, 'changed by someone else since the '
                    'plan: %s' % ', '.join(
                        k for k in keys if current[k] != write.expected[k]))
    stopped = False
    if server.status == 'ACTIVE':
        step.intent('stop', status=server.status)
        try:
            nova.action(conn, write.server_id, 'os-stop')
            wait(conn, write.server_id, 'SHUTOFF')
        except glance.GlanceError as e:
            step.result('stop', FAILED, error=str(e))
            return done(FAILED, current, 'stop failed: %s; check the '
                        'server, it may be stopping' % e)
        step.result('stop', 'stopped')
        stopped = True
    outcome = _set(manage, write, step, current, wanted, unremovable)
    if not stopped:
        return dataclasses.replace(outcome, power='was SHUTOFF: left so')
    if not restart:
        return dataclasses.replace(outcome, power='stopped: left SHUTOFF '
                                   '(--no-restart)')
    step.intent('start')
    try:
        nova.action(conn, write.server_id, 'os-start')
        wait(conn, write.server_id, 'ACTIVE')
    except glance.GlanceError as e:
        step.result('start', FAILED, error=str(e))
        return dataclasses.replace(outcome, power='stopped',
                                   power_error='start failed: %s' % e)
    step.result('start', 'started')
    return dataclasses.replace(outcome, power='stopped and started again')


def _set(manage, write, step, current, wanted, unremovable):
    keys = list(write.desired)
    step.intent('set', before=current, after=dict(write.desired))

    def finish(outcome, observed, error=''):
        step.result('set', outcome, observed=observed, error=error)
        return Outcome(write.server_id, write.name, outcome,
                       dict(write.expected), observed, error)
    try:
        manage.set(write.server_id, wanted)
    except novamanage.NovaManageError as e:
        if e.code in REFUSED:
            return finish(FAILED, current, str(e))
        return finish(UNCERTAIN, current, '%s: the change may have been '
                      'saved; run again or roll back' % e)
    try:
        observed = _read(manage, write.server_id, keys)
    except novamanage.NovaManageError as e:
        return finish(UNCERTAIN, current, 'set, but the re-read failed: %s'
                      % e)
    if any(observed.get(k) != v for k, v in wanted.items()):
        return finish(CONFLICT, observed, 'verification read shows %s: a '
                      'concurrent writer' % observed)
    left = [k for k in unremovable if observed.get(k) is not None]
    if left:
        return finish(PARTIAL, observed, 'nova-manage cannot remove %s: '
                      'left at %s' % (', '.join(left), ', '.join(
                          str(observed[k]) for k in left)))
    return finish(CHANGED, observed)


def run(conn, manage, writes, journal, concurrency=4, restart=True,
        progress=None):
    """Apply writes with bounded concurrency; outcomes in input order."""
    def writer(conn, write, journal):
        return write_one(conn, manage, write, journal, restart)
    return apply.run(conn, writes, journal, concurrency, progress, writer)


def touched(records):
    """Per server: first before, last after of each key, last outcome.

    An intent without a result: the process died around the step.
    """
    found = {}
    for number, record in enumerate(records, 1):
        server_id = record.get('server')
        if not server_id or record.get('step') != 'set':
            continue
        if record.get('type') == 'intent':
            before, after = record.get('before'), record.get('after')
            if not (isinstance(before, dict) and isinstance(after, dict)):
                raise ValueError('record %d is a set intent without before '
                                 'and after' % number)
            entry = found.setdefault(server_id, {
                'server': server_id, 'name': record.get('name'),
                'before': {}, 'after': {}})
            for key, value in before.items():
                entry['before'].setdefault(key, value)
            entry['after'].update(after)
            entry['outcome'] = UNCERTAIN
        elif record.get('type') == 'result' and server_id in found:
            found[server_id]['outcome'] = record.get('outcome', UNCERTAIN)
    return list(found.values())
