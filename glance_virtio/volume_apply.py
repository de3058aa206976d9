"""Change volumes' image metadata through Cinder: journaled, verified.

One Write per volume (apply.Write, image_id holding the volume id). Cinder
needs one os-set_image_metadata and one os-unset_image_metadata per key
removed: each call is journaled before it is made. When a later call fails,
the earlier ones are undone, so that no volume is left half-changed
without saying so.
"""

import logging
import time

from glance_virtio import apply
from glance_virtio import cinder
from glance_virtio import volume

LOG = logging.getLogger(__name__)

ATTEMPTS = apply.ATTEMPTS


def _retry(func, *args, sleep=time.sleep):
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return func(*args)
        except cinder.CinderError as e:
            if not e.retriable or attempt == ATTEMPTS:
                raise
            LOG.info('retrying after %s (attempt %d)', e, attempt)
            sleep(0.5 * 2 ** (attempt - 1))


def _values(vol, keys):
    props = vol.properties
    return {k: props.get(k) for k in keys}


def _call(conn, volume_id, step):
    kind, arg = step
    if kind == 'set':
        cinder.set_image_metadata(conn, volume_id, arg)
    else:
        cinder.unset_image_metadata(conn, volume_id, arg)


def _landed(vol, step):
    kind, arg = step
    props = vol.properties
    if kind == 'set':
        return all(props.get(k) == v for k, v in arg.items())
    return arg not in props


def _step_values(step, current):
    kind, arg = step
    keys = list(arg) if kind == 'set' else [arg]
    after = dict(arg) if kind == 'set' else {arg: None}
    return {k: current.get(k) for k in keys}, after


def describe(step):
    kind, arg = step
    if kind == 'set':
        return 'os-set_image_metadata %s' % ', '.join(
            '%s=%s' % kv for kv in sorted(arg.items()))
    return 'os-unset_image_metadata %s' % arg


def do_step(conn, write, step, current, record, label, sleep=time.sleep):
    """Journal and make one call; retried while it is safe to.

    Raises CinderError when the call failed and did not land.
    """
    before, after = _step_values(step, current)
    record.write('intent', volume=write.image_id, name=write.name,
                 step=label, call=describe(step), before=before, after=after)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _call(conn, write.image_id, step)
            break
        except cinder.CinderError as e:
            if not e.retriable or attempt == ATTEMPTS:
                record.write('result', volume=write.image_id, step=label,
                             outcome=apply.FAILED, error=str(e))
                raise
            LOG.info('%s: %s; re-reading before retry', write.image_id, e)
            sleep(0.5 * 2 ** (attempt - 1))
            if _landed(_retry(cinder.get_volume, conn, write.image_id,
                              sleep=sleep), step):
                break
    record.write('result', volume=write.image_id, step=label,
                 outcome=apply.CHANGED)
    current.update(after)


def write_one(conn, write, record, sleep=time.sleep):
    """Apply one volume Write; never raises for a per-volume failure."""
    keys = list(write.desired)
    desired = dict(write.desired)
    expected = dict(write.expected)
    outcome = apply.Outcome
    try:
        vol = _retry(cinder.get_volume, conn, write.image_id, sleep=sleep)
    except cinder.CinderError as e:
        return outcome(write.image_id, write.name, apply.FAILED, expected,
                       expected, str(e))
    current = _values(vol, keys)
    if vol.status not in volume.CHANGEABLE:
        return outcome(write.image_id, write.name, apply.FAILED, expected,
                       current, volume.as_image(vol, True).error)
    if current == desired:
        return outcome(write.image_id, write.name, apply.UNCHANGED, expected,
                       current)
    if current != expected:
        return outcome(write.image_id, write.name, apply.CONFLICT, expected,
                       current, 'changed by someone else since the plan: %s'
                       % apply_differences(current, expected))
    start, done = dict(current), []
    for step in volume.steps_between(current, desired):
        try:
            do_step(conn, write, step, current, record, step[0], sleep)
        except cinder.CinderError as e:
            return _failed(conn, write, record, start, current, done, step,
                           e, sleep)
        done.append(step)
    try:
        observed = _values(_retry(cinder.get_volume, conn, write.image_id,
                                  sleep=sleep), keys)
    except cinder.CinderError as e:
        return outcome(write.image_id, write.name, apply.CHANGED, expected,
                       current, 'Cinder accepted every call; the re-read '
                       'failed: %s' % e)
    if observed != desired:
        return outcome(write.image_id, write.name, apply.CONFLICT, expected,
                       observed, 'Cinder shows %s after the change: a '
                       'concurrent writer' % apply_differences(observed,
                                                               desired))
    return outcome(write.image_id, write.name, apply.CHANGED, expected,
                   observed)


def apply_differences(found, expected):
    shown = {None: 'unset'}
    return ', '.join('%s is %s, expected %s' % (
        k, shown.get(found.get(k), found.get(k)), shown.get(v, v))
        for k, v in expected.items() if found.get(k) != v)


def _failed(conn, write, record, start, current, done, step, error, sleep):
    """A call failed: undo the calls before it, and say what is left."""
    outcome = apply.Outcome
    expected = dict(write.expected)
    if not done:
        return outcome(write.image_id, write.name, apply.FAILED, expected,
                       dict(current), '%s failed: %s; nothing changed'
                       % (describe(step), error))
    undone = []
    try:
        for undo in volume.undo_steps(start, done):
            do_step(conn, write, undo, current, record, 'undo', sleep)
            undone.append(undo)
    except cinder.CinderError as e:
        return outcome(
            write.image_id, write.name, apply.UNCERTAIN, expected,
            dict(current), 'HALF CHANGED: %s was done, then %s failed (%s) '
            'and undoing failed (%s); run volume-rollback on the journal, '
            'or volume-set again' % (', '.join(describe(d) for d in done),
                                     describe(step), error, e))
    return outcome(write.image_id, write.name, apply.FAILED, expected,
                   dict(current), '%s failed: %s; the calls before it (%s) '
                   'were undone: nothing changed' % (
                       describe(step), error,
                       ', '.join(describe(d) for d in done)))


def run(conn, writes, record, concurrency=8, progress=None):
    """apply.run with the Cinder writer."""
    return apply.run(conn, writes, record, concurrency, progress,
                     writer=write_one)
