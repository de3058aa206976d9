"""Images: Glance's own properties, one JSON PATCH per image.

How images are selected, written (read fresh, PATCH, verified from
Glance's answer, retried while it is safe to) and read back for rollback;
the engine does the rest.
"""

import fnmatch
import functools
import logging
import sys
import threading
import time

from osc_lib import exceptions

from glance_virtio import audit
from glance_virtio import columns
from glance_virtio import engine
from glance_virtio import journal
from glance_virtio.services import glance

LOG = logging.getLogger(__name__)

CHANGED = engine.CHANGED
UNCHANGED = engine.UNCHANGED
CONFLICT = engine.CONFLICT
FAILED = engine.FAILED
UNCERTAIN = engine.UNCERTAIN
NOT_DONE = engine.NOT_DONE
ATTEMPTS = engine.ATTEMPTS
Write = engine.Write
Outcome = engine.Outcome
Interrupted = engine.Interrupted
differences = engine.differences


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


def _values(image, keys):
    return {k: image.properties.get(k) for k in keys}


def _retry(func, *args, sleep=time.sleep):
    return engine.retry(func, *args, errors=glance.GlanceError, sleep=sleep)


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


def run(conn, writes, journal, concurrency=8, progress=None):
    """Apply writes with bounded concurrency; outcomes in input order.

    Each image is read fresh in batches (FreshReads) just before its PATCH.
    """
    reads = FreshReads(conn, [w.id for w in writes],
                       batch_size(concurrency))
    return engine.run(writes, functools.partial(
        _write, conn, journal=journal, reads=reads), concurrency, progress)


def _write(conn, write, journal, reads):
    return write_one(conn, write, journal, reads=reads)


def filters(parsed_args):
    """Server-side list filters from the selection options."""
    query = dict(parsed_args.property)
    if parsed_args.owner:
        query['owner'] = parsed_args.owner
    if parsed_args.visibility:
        query['visibility'] = parsed_args.visibility
    if parsed_args.os_type:
        query['os_type'] = parsed_args.os_type
    if parsed_args.tag:
        query['tag'] = parsed_args.tag
    return query


def find(conn, refs):
    """glance.find_images, its failures as one-line command errors."""
    try:
        return glance.find_images(conn, refs)
    except (glance.CloudError, glance.SelectionError) as e:
        raise exceptions.CommandError(str(e))
    except glance.GlanceError as e:
        raise exceptions.CommandError('cannot list images: %s' % e)


def select(conn, parsed_args):
    """The selected images; an image Glance refuses to show is an error row.

    A ref matching no image or several, or a failed login, is an error.
    """
    if parsed_args.images:
        images = find(conn, parsed_args.images)
        images = [i for i in images if i.error or _matches(i, parsed_args)]
    else:
        try:
            images = list(glance.list_images(conn, filters(parsed_args),
                                             parsed_args.name_pattern,
                                             both_ends=True))
        except glance.CloudError as e:
            raise exceptions.CommandError(str(e))
        except glance.GlanceError as e:
            raise exceptions.CommandError('cannot list images: %s' % e)
    if not parsed_args.snapshots:
        images = [i for i in images if not i.is_snapshot]
    if not images:
        sys.stderr.write('no image matched the selection\n')
    return images


def _matches(image, parsed_args):
    wanted = filters(parsed_args)
    tags = wanted.pop('tag', [])
    if parsed_args.name_pattern and not fnmatch.fnmatchcase(
            image.name, parsed_args.name_pattern):
        return False
    if not set(tags) <= set(image.tags):
        return False
    actual = {'owner': image.owner, 'visibility': image.visibility}
    for key, value in wanted.items():
        if key == 'visibility' and value == 'all':
            continue
        if actual.get(key, image.properties.get(key)) != value:
            return False
    return True


def base_images(conn, images):
    """Base images of selected snapshots that were not selected."""
    ids = {i.id for i in images}
    wanted = {i.base_image_id for i in images
              if i.is_snapshot and i.base_image_id} - ids
    if not wanted:
        return {}
    try:
        found = glance.read_images(conn, wanted)
    except glance.CloudError as e:
        raise exceptions.CommandError(str(e))
    except glance.GlanceError as e:
        LOG.info('base images not readable: %s', e)
        return {}
    for image_id, image in list(found.items()):
        if isinstance(image, str):
            LOG.info('base image %s not readable: %s', image_id, image)
            del found[image_id]
    return found


def audit_selected(conn, args, policy, inspect=None):
    """(images, audit rows) of the selection; inspect(images): --deep's."""
    found = select(conn, args)
    if args.images and not found:
        raise exceptions.CommandError('none of the images matched')
    return found, audit.audit(found, policy, base_images(conn, found),
                              inspect(found) if inspect else None)


def rollback_entries(path):
    """(start record, entries) of an image set journal to roll back."""
    start, touched = journal.load(path)
    return start, [dict(t, id=t['image']) for t in touched]


class Images(engine.Kind):
    noun = 'image'
    get = staticmethod(glance.get_image)

    def run(self, conn, writes, record, concurrency, progress):
        return run(conn, writes, record, concurrency, progress)


KIND = Images()


# The columns of its commands: (name, row key, column class or None).
AUDIT_COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Owner', 'owner', None),
    ('OS', 'os', None), ('OS Source', 'os_source', None),
    ('Disk Bus', 'hw_disk_bus', None), ('SCSI Model', 'hw_scsi_model', None),
    ('VIF Model', 'hw_vif_model', None),
    ('Machine Type', 'machine_type', None),
    ('Readiness', 'readiness', columns.DictColumn),
    ('Recommended Bus', 'recommended_bus', None),
    ('Findings', 'findings', columns.FindingsColumn),
)
AUDIT_LONG = (
    ('Visibility', 'visibility', None), ('Status', 'status', None),
    ('Snapshot', 'snapshot', None), ('OS Family', 'os_family', None),
    ('OS Confidence', 'os_confidence', None),
    ('Readiness Reasons', 'readiness_reasons', columns.DictColumn),
    ('Recommended Why', 'recommended_why', None),
    ('Severity', 'severity', None), ('Inspected', 'inspected', None),
    ('Details', 'findings', columns.MessagesColumn),
)
IMPACT_COLUMNS = (
    ('Volumes', 'volumes', None), ('Volumes Differ', 'volumes_differ', None),
    ('Servers', 'servers', None), ('Servers Differ', 'servers_differ', None),
    ('Servers Unknown', 'servers_unknown', None))
SET_COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Action', 'action', None),
    ('Outcome', 'outcome', None),
    ('Changes', 'changes', columns.ChangesColumn),
    ('Findings', 'findings', columns.FindingsColumn),
    ('Reason', 'reason', None),
)
ROLLBACK_COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Outcome', 'outcome', None),
    ('Changes', 'changes', columns.ChangesColumn), ('Reason', 'reason', None),
)
