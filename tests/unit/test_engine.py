"""The change engine with a kind held in memory: no cloud, no mocks."""

import io
import json
import threading
import types

import pytest

from glance_virtio import engine
from glance_virtio import model
from glance_virtio import plan

POLICY = model.Policy()
UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
          'hw_disk_bus': 'virtio'}


class Things(engine.Kind):
    """A kind whose things are dicts in memory."""

    noun = 'thing'

    def __init__(self, props, fail=(), stop_after=None):
        self.props = props
        self.fail = set(fail)
        self.stop_after = stop_after
        self.written = []

    def write(self, write, record):
        current = {k: self.props[write.id].get(k) for k in write.desired}
        if current != dict(write.expected):
            return engine.Outcome(write.id, write.name, engine.CONFLICT,
                                  dict(write.expected), current,
                                  'changed by someone else')
        record.write('intent', image=write.id, before=current,
                     after=dict(write.desired))
        if write.id in self.fail:
            record.write('result', image=write.id, outcome=engine.FAILED)
            return engine.Outcome(write.id, write.name, engine.FAILED,
                                  dict(write.expected), current, 'refused')
        for key, value in write.desired.items():
            if value is None:
                self.props[write.id].pop(key, None)
            else:
                self.props[write.id][key] = value
        self.written.append(write.id)
        record.write('result', image=write.id, outcome=engine.CHANGED)
        return engine.Outcome(write.id, write.name, engine.CHANGED,
                              dict(write.expected), dict(write.desired))

    def run(self, conn, writes, record, concurrency, progress):
        if not self.stop_after:
            return engine.run(writes, lambda w: self.write(w, record),
                              concurrency, progress)
        # Ctrl-C comes in the main thread, after the first outcome; the
        # write then in flight finishes, the queued ones never start.
        pressed = threading.Event()

        def writer(write):
            if write is not writes[0]:
                pressed.wait()
            return self.write(write, record)

        def ctrl_c(outcome):
            pressed.set()
            raise KeyboardInterrupt
        return engine.run(writes, writer, 1, ctrl_c)

    def read(self, conn, thing_id, keys):
        if thing_id not in self.props:
            raise engine.Unreadable('no thing %s' % thing_id)
        return {k: self.props[thing_id].get(k) for k in keys}


def options(tmp_path, **kw):
    values = {'dry_run': False, 'yes': True, 'journal': None,
              'source': None}
    values.update(kw)
    return types.SimpleNamespace(**values)


def opener(tmp_path, command='set'):
    def open_record(**header):
        return engine.open_journal(
            types.SimpleNamespace(journal=str(tmp_path / 'j.jsonl')),
            str(tmp_path), command, {'cloud': 'c'}, **header)
    return open_record


def records(tmp_path):
    return [json.loads(line)
            for line in (tmp_path / 'j.jsonl').read_text().splitlines()]


def planned(props):
    images = [model.Image(i, 'n-' + i, properties=dict(p))
              for i, p in props.items()]
    return plan.make_plan(images, plan.Target('scsi'), POLICY)


def test_change_applies_the_plan_journals_it_and_says_what_each_did(
        tmp_path, capsys):
    props = {'a': dict(UBUNTU), 'b': dict(UBUNTU, os_type='windows')}
    kind = Things(props)
    rows, code = engine.change(kind, None, planned(props),
                               options(tmp_path), opener(tmp_path), 4)
    assert code == engine.EXIT_BLOCKED
    assert [(r['id'], r['action'], r['outcome']) for r in rows] == [
        ('a', 'change', 'changed'), ('b', 'blocked', 'blocked')]
    assert rows[0]['changes']['hw_disk_bus'] == {'before': 'virtio',
                                                 'after': 'scsi'}
    assert props['a']['hw_disk_bus'] == 'scsi'
    assert props['b']['hw_disk_bus'] == 'virtio'
    got = records(tmp_path)
    assert [r['type'] for r in got] == ['start', 'intent', 'result', 'end']
    assert got[0]['command'] == 'set' and got[0]['cloud'] == 'c'
    assert got[0]['planned'] == {'change': 1, 'unchanged': 0, 'blocked': 1,
                                 'skipped': 0}
    assert got[-1]['summary'] == {'changed': 1}
    err = capsys.readouterr().err
    assert 'plan: 1 to change, 0 unchanged, 1 blocked, 0 skipped' in err
    assert 'done: 1 changed' in err


def test_dry_run_writes_nothing(tmp_path):
    props = {'a': dict(UBUNTU)}
    kind = Things(props)
    rows, code = engine.change(kind, None, planned(props),
                               options(tmp_path, dry_run=True),
                               opener(tmp_path), 4)
    assert code == 0 and rows[0]['outcome'] == engine.PLANNED
    assert kind.written == [] and not (tmp_path / 'j.jsonl').exists()


def test_after_runs_on_the_changed_outcomes_once_the_journal_is_ended(
        tmp_path):
    props = {'a': dict(UBUNTU), 'b': dict(UBUNTU)}
    seen = []

    def after(outcomes, path):
        seen.append(([o.id for o in outcomes], path,
                     [r['type'] for r in records(tmp_path)]))
        return {'a': 'failed: rolled back'}, engine.EXIT_FAILED

    rows, code = engine.change(Things(props), None, planned(props),
                               options(tmp_path), opener(tmp_path), 4,
                               after)
    assert len(seen) == 1
    ids, path, types_then = seen[0]
    assert sorted(ids) == ['a', 'b'] and path == str(tmp_path / 'j.jsonl')
    assert types_then[0] == 'start' and types_then[-1] == 'end'
    assert [r['after'] for r in rows] == ['failed: rolled back', None]
    assert code == engine.EXIT_FAILED


def test_after_is_not_run_on_a_dry_run(tmp_path):
    props = {'a': dict(UBUNTU)}
    calls = []
    rows, code = engine.change(Things(props), None, planned(props),
                               options(tmp_path, dry_run=True),
                               opener(tmp_path), 4,
                               lambda o, p: calls.append(o) or ({}, 4))
    assert calls == [] and code == 0


def test_a_failed_write_is_exit_4_and_the_rest_carry_on(tmp_path):
    props = {'a': dict(UBUNTU), 'b': dict(UBUNTU)}
    kind = Things(props, fail=['a'])
    rows, code = engine.change(kind, None, planned(props),
                               options(tmp_path), opener(tmp_path), 4)
    assert code == engine.EXIT_FAILED
    assert [r['outcome'] for r in rows] == ['failed', 'changed']
    assert rows[0]['reason'] == 'refused'


def test_without_a_terminal_only_yes_goes_on(tmp_path):
    props = {'a': dict(UBUNTU)}
    with pytest.raises(engine.exceptions.CommandError) as e:
        engine.change(Things(props), None, planned(props),
                      options(tmp_path, yes=False), opener(tmp_path), 4)
    assert 'give --yes' in str(e.value)
    assert props['a']['hw_disk_bus'] == 'virtio'


def test_confirm_reads_the_answer():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    err = io.StringIO()
    assert engine.confirm('Go?', stdin=Tty('y\n'), stderr=err)
    assert err.getvalue() == 'Go? [y/N] '
    assert not engine.confirm('Go?', stdin=Tty('\n'), stderr=err)


def test_interrupted_run_ends_the_journal_and_exits_1(tmp_path, capsys):
    props = {i: dict(UBUNTU) for i in 'abc'}
    kind = Things(props, stop_after=True)
    rows, code = engine.change(kind, None, planned(props),
                               options(tmp_path), opener(tmp_path), 4)
    assert code == engine.EXIT_ERROR
    assert [r['outcome'] for r in rows] == ['changed', 'changed',
                                            'not attempted']
    assert records(tmp_path)[-1]['interrupted'] is True
    err = capsys.readouterr().err
    assert 'interrupted: 2 changed, 1 not attempted' in err
    assert 'records every thing changed' in err


def test_rollback_restores_reads_first_and_leaves_conflicts(tmp_path):
    props = {'a': dict(UBUNTU), 'b': dict(UBUNTU), 'c': dict(UBUNTU)}
    kind = Things(props)
    engine.change(kind, None, planned(props), options(tmp_path),
                  opener(tmp_path), 4)
    props['b']['hw_disk_bus'] = 'sata'
    del props['c']
    entries = [dict(t, id=t['image'])
               for t in engine.journal.touched(records(tmp_path))]
    (tmp_path / 'j.jsonl').unlink()
    rows, code = engine.rollback(
        kind, None, {'cloud': 'c'}, entries, options(tmp_path, source='x'),
        opener(tmp_path, 'rollback'), 4, {'cloud': 'c'})
    got = {r['id']: r for r in rows}
    assert got['a']['outcome'] == 'changed'
    assert props['a']['hw_disk_bus'] == 'virtio'
    assert 'hw_scsi_model' not in props['a']
    assert got['b']['outcome'] == 'conflict'
    assert got['b']['changes']['hw_disk_bus'] == {'found': 'sata',
                                                  'expected': 'scsi'}
    assert got['c']['outcome'] == 'failed'
    assert code == engine.EXIT_FAILED
    assert records(tmp_path)[0]['rolls_back'] == 'x'


def test_rollback_warns_when_run_as_someone_else():
    assert engine.identity_warning({'cloud': 'a'}, {'cloud': 'a'}) is None
    warning = engine.identity_warning({'project_id': 'p1'},
                                      {'project_id': 'p2'})
    assert 'project_id p1' in warning and 'project_id p2' in warning


def test_exit_codes():
    props = {'a': dict(UBUNTU), 'b': dict(UBUNTU, os_type='windows')}
    changes = planned(props)
    done = engine.Outcome('a', '', engine.CHANGED, {}, {})
    assert engine.exit_code(changes[:1], [done]) == 0
    assert engine.exit_code(changes, [done]) == engine.EXIT_BLOCKED
    assert engine.exit_code(changes, [None]) == engine.EXIT_FAILED
    skipped = engine.Outcome('a', '', engine.SKIPPED, {}, {})
    assert engine.exit_code(changes[:1], [skipped]) == engine.EXIT_BLOCKED
    power = engine.Outcome('a', '', engine.CHANGED, {}, {},
                           power_error='start failed')
    assert engine.exit_code(changes[:1], [power]) == engine.EXIT_FAILED
    assert engine.exit_code(changes, [done], interrupted=True) == 1


def test_retry_retries_only_what_may_succeed():
    class Error(Exception):
        def __init__(self, retriable):
            self.retriable = retriable
    calls, slept = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise Error(True)
        return 'ok'
    assert engine.retry(flaky, errors=Error, sleep=slept.append) == 'ok'
    assert slept == [0.5, 1.0]

    def refused():
        raise Error(False)
    with pytest.raises(Error):
        engine.retry(refused, errors=Error, sleep=slept.append)
