"""Carry out property changes: concurrent, retried, verified, journaled."""

import concurrent.futures
import dataclasses
import functools
import logging
import threading
import time
from typing import Mapping, Optional

from glance_virtio import glance

LOG = logging.getLogger(__name__)

CHANGED = 'changed'
UNCHANGED = 'unchanged'
CONFLICT = 'conflict'
FAILED = 'failed'
# The PATCH may or may not have landed: the journal says which to check.
UNCERTAIN = 'uncertain'
NOT_DONE = (FAILED, CONFLICT, UNCERTAIN)
ATTEMPTS = 4


@dataclasses.dataclass(frozen=True)
class Write:
    """Take the keys of one image from expected to desired (None: absent)."""

    image_id: str
    name: str
    expected: Mapping[str, Optional[str]]
    desired: Mapping[str, Optional[str]]


class Interrupted(Exception):
    """The run was stopped; outcomes holds the writes that finished."""

    def __init__(self, outcomes):
        super().__init__('interrupted')
        self.outcomes = outcomes


@dataclasses.dataclass(frozen=True)
class Outcome:
    image_id: str
    name: str
    outcome: str
    before: Mapping[str, Optional[str]]
    after: Mapping[str, Optional[str]]
    error: str = ''


def json_patch(current, desired):
    """JSON-patch ops taking current properties to desired values."""
    ops = []
    for key, value in sorted(desired.items()):
        if value is None:
            if key in current:
                ops.append({'op': 'remove', 'path': '/' + key})
        elif current.get(key) != value:
            op = 'replace' if key in current else 'add'
            ops.append({'op': op, 'path': '/' + key, 'value': value})
    return ops


def differences(found, expected):
    """'key is X, expected Y' for each key whose value differs."""
    def shown(value):
        return 'unset' if value is None else value
    return ', '.join('%s is %s, expected %s' % (k, shown(found.get(k)),
                                                shown(v))
                     for k, v in expected.items() if found.get(k) != v)


def _values(image, keys):
    return {k: image.properties.get(k) for k in keys}


def _retry(func, *args, sleep=time.sleep, backoff=0.5):
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return func(*args)
        except glance.GlanceError as e:
            if not e.retriable or attempt == ATTEMPTS:
                raise
            LOG.info('retrying after %s (attempt %d)', e, attempt)
            sleep(backoff * 2 ** (attempt - 1))


class FreshReads:
    """The compare step's fresh reads, a batch of images per request.

    Each image is read just before its PATCH, as a GET would; reading the
    next images to be written in one list request (id=in:) costs Glance a
    fraction of a GET per image. An image the batch does not show, or a
    batch that fails, is read alone with a GET.
    """

    def __init__(self, conn, image_ids, batch):
        self._conn = conn
        self._ids = list(image_ids)
        self._where = {i: n // batch for n, i in enumerate(self._ids)}
        self._batch = batch
        self._read = set()
        self._found = {}
        self._lock = threading.Lock()

    def take(self, image_id):
        """The image as Glance holds it now, once; None: read it alone."""
        chunk = self._where.get(image_id)
        if chunk is None:
            return None
        with self._lock:
            if chunk not in self._read:
                self._read.add(chunk)
                ids = self._ids[chunk * self._batch:(chunk + 1) * self._batch]
                try:
                    self._found.update(glance.get_images(self._conn, ids))
                except glance.GlanceError as e:
                    LOG.info('batch read failed (%s); reading alone', e)
            return self._found.pop(image_id, None)


def write_one(conn, write, journal, sleep=time.sleep, reads=None):
    """Apply one Write; never raises for a per-image failure."""
    keys = list(write.desired)
    desired = dict(write.desired)
    current, wrote = dict(write.expected), False
    maybe_landed = False
    try:
        for attempt in range(1, ATTEMPTS + 1):
            image = reads.take(write.image_id) if (
                reads and attempt == 1) else None
            if image is None:
                image = _retry(glance.get_image, conn, write.image_id,
                               sleep=sleep)
            current, maybe_landed = _values(image, keys), False
            if current == desired:
                break
            if current != dict(write.expected):
                return _finish(journal, write, CONFLICT, current, wrote,
                               'changed by someone else since the plan: %s'
                               % differences(current, write.expected))
            ops = json_patch(image.properties, desired)
            journal.write('intent', image=write.image_id, name=write.name,
                          before=current, after=desired, ops=ops)
            wrote = True
            try:
                answer = glance.patch_image(conn, write.image_id, ops)
            except glance.GlanceError as e:
                if not e.retriable:
                    raise
                maybe_landed = True
                if attempt == ATTEMPTS:
                    raise
                LOG.info('%s: %s; re-reading before retry', write.image_id, e)
                sleep(0.5 * 2 ** (attempt - 1))
                continue
            # Glance answers a PATCH with the image as stored: verify that.
            current = _values(answer, keys)
            break
    except glance.GlanceError as e:
        if maybe_landed:
            return _finish(journal, write, UNCERTAIN, current, wrote,
                           '%s: the change may have been applied; run '
                           'the same command again or roll back its journal'
                           % e)
        return _finish(journal, write, FAILED, current, wrote, str(e))
    if current != desired:
        return _finish(journal, write, CONFLICT, current, wrote,
                       'Glance answered the PATCH with %s: a concurrent '
                       'writer' % differences(current, desired))
    return _finish(journal, write, CHANGED if wrote else UNCHANGED, current,
                   wrote)


def _finish(journal, write, outcome, observed, wrote, error=''):
    if wrote:
        journal.write('result', image=write.image_id, outcome=outcome,
                      observed=observed, error=error)
    return Outcome(write.image_id, write.name, outcome, dict(write.expected),
                   observed, error)


def batch_size(concurrency):
    """Images per fresh read: two per worker, at least 8, at most 50.

    Small enough that a batch is written within moments of its read.
    """
    return max(8, min(50, 2 * concurrency))


def run(conn, writes, journal, concurrency=8, progress=None, writer=None):
    """Apply writes with bounded concurrency; outcomes in input order.

    writer(conn, write, journal) does one write (volume_apply has Cinder's);
    by default write_one, with fresh reads in batches.

    On KeyboardInterrupt no new write starts; the writes in flight finish
    and Interrupted carries the outcomes so far (None: not attempted).
    """
    if writer is None:
        reads = FreshReads(conn, [w.image_id for w in writes],
                           batch_size(concurrency))
        writer = functools.partial(write_one, reads=reads)
    outcomes = [None] * len(writes)
    pool = concurrent.futures.ThreadPoolExecutor(concurrency)
    futures = {}
    try:
        for n, w in enumerate(writes):
            futures[pool.submit(writer, conn, w, journal)] = n
        for future in concurrent.futures.as_completed(futures):
            outcomes[futures[future]] = future.result()
            if progress:
                progress(outcomes[futures[future]])
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)
        for future, n in futures.items():
            if future.done() and not future.cancelled():
                outcomes[n] = future.result()
        raise Interrupted(outcomes)
    pool.shutdown(wait=True)
    return outcomes
