"""Bootable volumes: Cinder's copy of the image's properties.

Nova boots a volume-backed server from the volume's volume_image_metadata
(nova/block_device.py get_image_metadata_from_volume), a copy Cinder took
from the image when the volume was made. Each volume becomes a model.Image
whose properties are that copy, so the rules, plans and journal judge it as
they judge an image and never learn where the facts came from.

Cinder needs one os-set_image_metadata and one os-unset_image_metadata per
key removed: each call is journaled before it is made. When a later call
fails, the earlier ones are undone, so that no volume is left half-changed
without saying so.
"""

import logging
import sys
import time

from osc_lib import exceptions

from glance_virtio import audit
from glance_virtio import columns
from glance_virtio import engine
from glance_virtio import journal
from glance_virtio import model
from glance_virtio import plan
from glance_virtio.services import cinder
from glance_virtio.services import glance

LOG = logging.getLogger(__name__)

CORE_KEYS = cinder.CORE_KEYS
# The keys whose difference from the source image is drift.
BUS_KEYS = ('hw_disk_bus', 'hw_scsi_model', 'vmware_adaptertype',
            'hw_machine_type')
# Cinder refuses metadata changes in maintenance and uploading
# (cinder/volume/api.py _update_volume_metadata); while a volume is being
# made or moved, the copy may still be rewritten: change only these.
CHANGEABLE = ('available', 'in-use')

NO_DRIFT = 'none'
DRIFTED = 'drifted'
UNKNOWN = model.UNKNOWN
NO_METADATA = 'no image metadata'

VOLUME = 'volume'
SNAPSHOT = 'snapshot'
ATTEMPTS = engine.ATTEMPTS

Volume = cinder.Volume
Snapshot = cinder.Snapshot
to_volume = cinder.to_volume
to_snapshot = cinder.to_snapshot


def _retry(func, *args, sleep=time.sleep):
    return engine.retry(func, *args, errors=cinder.CinderError, sleep=sleep)


def as_image(volume, for_change=False):
    """The volume as the image the rules judge: its image metadata copy.

    With for_change, a volume in a state where its copy cannot be changed
    carries the reason as its error, so that the plan skips it.
    """
    meta = volume.image_metadata or {}
    error = volume.error
    if not error and for_change and volume.status not in CHANGEABLE:
        error = ('status %s: Cinder changes image metadata only of volumes '
                 'that are %s; try again when it is' % (
                     volume.status or 'unknown', ' or '.join(CHANGEABLE)))
    return model.Image(id=volume.id, name=volume.name, owner=volume.project,
                       status=volume.status, checksum=meta.get('checksum'),
                       disk_format=meta.get('disk_format'),
                       properties=volume.properties, error=error)


def bus_values(properties):
    return {k: properties.get(k) for k in BUS_KEYS}


def drift(volume, source):
    """(state, {key: {volume, image}}, why) against the current image.

    source is the model.Image the volume was made from, or a string saying
    why it could not be read.
    """
    if volume.error:
        return UNKNOWN, {}, volume.error
    if volume.image_metadata is None:
        return NO_METADATA, {}, 'Cinder holds no image metadata for it'
    if not volume.image_id:
        return UNKNOWN, {}, 'its image metadata names no image_id'
    if not isinstance(source, model.Image):
        return UNKNOWN, {}, 'source image %s: %s' % (
            volume.image_id, source or 'not read')
    mine, theirs = bus_values(volume.properties), bus_values(
        source.properties)
    keys = {k: {'volume': mine[k], 'image': theirs[k]}
            for k in BUS_KEYS if mine[k] != theirs[k]}
    if keys:
        return DRIFTED, keys, 'the image changed since the volume was made'
    return NO_DRIFT, {}, ''


def attached_note(volume):
    if not volume.servers:
        return None
    return ('attached to server %s: a server keeps the image_* values it '
            'booted with in its own system metadata; changing the volume '
            'does not change them (the server set command does)'
            % ', '.join(volume.servers))


def _note(volume):
    notes = [n for n in (
        None if volume.bootable or volume.error else 'not bootable',
        'no image metadata: Nova boots it with its defaults'
        if volume.image_metadata is None and not volume.error else None,
        attached_note(volume)) if n]
    return '; '.join(notes) or None


def audit_rows(volumes, sources, policy, snapshots=()):
    """Audit rows of volumes, then of the snapshots that carry a copy.

    sources maps image ids to the current model.Image, or to a string
    saying why it could not be read.
    """
    catalogue = {k: v for k, v in sources.items()
                 if isinstance(v, model.Image)}
    images = [as_image(v) for v in volumes]
    rows = audit.audit(images, policy, catalogue)
    out = []
    for vol, row in zip(volumes, rows):
        source = sources.get(vol.image_id)
        state, keys, why = drift(vol, source)
        row.update({
            'kind': VOLUME, 'project': vol.project, 'bootable': vol.bootable,
            'attached_to': list(vol.servers),
            'source_image': vol.image_id,
            'source_image_name': (vol.image_metadata or {}).get('image_name'),
            'image_bus': (bus_values(source.properties)
                          if isinstance(source, model.Image) else None),
            'drift': state, 'drift_keys': keys, 'drift_why': why or None,
            'changeable': vol.status in CHANGEABLE and not vol.error,
            'note': _note(vol)})
        if vol.error:
            row['severity'] = model.ERROR
        out.append(row)
    by_id = {v.id: v for v in volumes}
    for snap in snapshots:
        vol = by_id.get(snap.volume_id)
        if vol is None or vol.image_metadata is None:
            continue
        out.append(snapshot_row(snap, vol))
    return out


def snapshot_row(snap, vol):
    """A snapshot of a volume with image metadata: it holds its own copy."""
    return {
        'kind': SNAPSHOT, 'id': snap.id, 'name': snap.name,
        'owner': snap.project or vol.project, 'project': snap.project
        or vol.project, 'status': snap.status, 'bootable': None,
        'attached_to': [], 'source_image': vol.image_id,
        'source_image_name': (vol.image_metadata or {}).get('image_name'),
        'image_bus': None, 'drift': UNKNOWN, 'drift_keys': {},
        'drift_why': 'Cinder does not show a snapshot\'s copy',
        'changeable': False,
        'note': ('copy of volume %s\'s image metadata taken at %s; Cinder '
                 'neither shows nor changes it through its API: volumes '
                 'made from this snapshot inherit it, audit and set them '
                 'instead' % (vol.id, snap.created_at or 'creation')),
        'os': UNKNOWN, 'os_family': UNKNOWN, 'os_source': 'none',
        'os_confidence': 'none', 'hw_disk_bus': None, 'hw_scsi_model': None,
        'hw_vif_model': None, 'machine_type': None, 'readiness': {},
        'readiness_reasons': {}, 'recommended_bus': None,
        'recommended_why': None, 'severity': 'ok', 'findings': [],
        'inspected': False, 'visibility': None, 'snapshot': True}


def make_plan(volumes, target, policy, sources=None):
    """A Change per volume, as virtio-set plans an image."""
    catalogue = {k: v for k, v in (sources or {}).items()
                 if isinstance(v, model.Image)}
    images = [as_image(v, for_change=True) for v in volumes]
    return plan.make_plan(images, target, policy, catalogue)


def steps(change):
    """The Cinder calls that carry out a Change, in order.

    ('set', {key: value}) for os-set_image_metadata, then ('unset', key)
    per key to remove: Cinder takes one key per os-unset_image_metadata.
    """
    out = []
    if change.set:
        out.append(('set', dict(change.set)))
    out += [('unset', key) for key in change.remove]
    return out


def undo_steps(before, done):
    """The calls that take the keys written by done back to before."""
    keys = []
    for kind, arg in done:
        keys += list(arg) if kind == 'set' else [arg]
    restore = {k: before[k] for k in keys if before.get(k) is not None}
    out = [('set', restore)] if restore else []
    return out + [('unset', k) for k in dict.fromkeys(keys)
                  if before.get(k) is None]


def steps_between(current, desired):
    """The calls that take current values of keys to desired (None: unset)."""
    to_set = {k: v for k, v in desired.items()
              if v is not None and current.get(k) != v}
    out = [('set', to_set)] if to_set else []
    return out + [('unset', k) for k, v in desired.items()
                  if v is None and current.get(k) is not None]


def touched(records):
    """Per volume: before, after and last outcome, from a volume journal.

    A call whose result is failed did not land: its after is not counted.
    A call without a result may have landed: it is.
    """
    volumes, pending = {}, {}
    for number, record in enumerate(records, 1):
        if record.get('type') not in ('intent', 'result'):
            continue
        vol = record.get('volume')
        if record['type'] == 'intent':
            before, after = record.get('before'), record.get('after')
            if not (vol and isinstance(before, dict)
                    and isinstance(after, dict)):
                raise ValueError('record %d is an intent without volume, '
                                 'before and after' % number)
            entry = volumes.setdefault(vol, {
                'volume': vol, 'name': record.get('name'),
                'before': {}, 'after': {}})
            for key, value in before.items():
                entry['before'].setdefault(key, value)
                entry['after'].setdefault(key, value)
            if vol in pending:
                entry['after'].update(pending.pop(vol))
            pending[vol] = after
            entry['outcome'] = 'uncertain'
        elif vol in volumes:
            outcome = record.get('outcome', 'uncertain')
            after = pending.pop(vol, {})
            if outcome != 'failed':
                volumes[vol]['after'].update(after)
            volumes[vol]['outcome'] = outcome
    for vol, after in pending.items():
        volumes[vol]['after'].update(after)
    return list(volumes.values())


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
                             outcome=engine.FAILED, error=str(e))
                raise
            LOG.info('%s: %s; re-reading before retry', write.image_id, e)
            sleep(0.5 * 2 ** (attempt - 1))
            if _landed(_retry(cinder.get_volume, conn, write.image_id,
                              sleep=sleep), step):
                break
    record.write('result', volume=write.image_id, step=label,
                 outcome=engine.CHANGED)
    current.update(after)


def write_one(conn, write, record, sleep=time.sleep):
    """Apply one volume Write; never raises for a per-volume failure."""
    keys = list(write.desired)
    desired = dict(write.desired)
    expected = dict(write.expected)
    outcome = engine.Outcome
    try:
        vol = _retry(cinder.get_volume, conn, write.image_id, sleep=sleep)
    except cinder.CinderError as e:
        return outcome(write.image_id, write.name, engine.FAILED, expected,
                       expected, str(e))
    current = _values(vol, keys)
    if vol.status not in CHANGEABLE:
        return outcome(write.image_id, write.name, engine.FAILED, expected,
                       current, as_image(vol, True).error)
    if current == desired:
        return outcome(write.image_id, write.name, engine.UNCHANGED, expected,
                       current)
    if current != expected:
        return outcome(write.image_id, write.name, engine.CONFLICT, expected,
                       current, 'changed by someone else since the plan: %s'
                       % apply_differences(current, expected))
    start, done = dict(current), []
    for step in steps_between(current, desired):
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
        return outcome(write.image_id, write.name, engine.CHANGED, expected,
                       current, 'Cinder accepted every call; the re-read '
                       'failed: %s' % e)
    if observed != desired:
        return outcome(write.image_id, write.name, engine.CONFLICT, expected,
                       observed, 'Cinder shows %s after the change: a '
                       'concurrent writer' % apply_differences(observed,
                                                               desired))
    return outcome(write.image_id, write.name, engine.CHANGED, expected,
                   observed)


def apply_differences(found, expected):
    shown = {None: 'unset'}
    return ', '.join('%s is %s, expected %s' % (
        k, shown.get(found.get(k), found.get(k)), shown.get(v, v))
        for k, v in expected.items() if found.get(k) != v)


def _failed(conn, write, record, start, current, done, step, error, sleep):
    """A call failed: undo the calls before it, and say what is left."""
    outcome = engine.Outcome
    expected = dict(write.expected)
    if not done:
        return outcome(write.image_id, write.name, engine.FAILED, expected,
                       dict(current), '%s failed: %s; nothing changed'
                       % (describe(step), error))
    undone = []
    try:
        for undo in undo_steps(start, done):
            do_step(conn, write, undo, current, record, 'undo', sleep)
            undone.append(undo)
    except cinder.CinderError as e:
        return outcome(
            write.image_id, write.name, engine.UNCERTAIN, expected,
            dict(current), 'HALF CHANGED: %s was done, then %s failed (%s) '
            'and undoing failed (%s); run volume-rollback on the journal, '
            'or volume-set again' % (', '.join(describe(d) for d in done),
                                     describe(step), error, e))
    return outcome(write.image_id, write.name, engine.FAILED, expected,
                   dict(current), '%s failed: %s; the calls before it (%s) '
                   'were undone: nothing changed' % (
                       describe(step), error,
                       ', '.join(describe(d) for d in done)))


def run(conn, writes, record, concurrency=8, progress=None):
    """engine.run with the Cinder writer."""
    return engine.run(writes, lambda w: write_one(conn, w, record),
                      concurrency, progress)


def followed_images(records):
    """Ids of the images a virtio-set journal changed, or may have."""
    return list(journal.followed(records))


def project_id(conn, ref):
    if not ref:
        return None
    if ref in (conn.current_project_id,
               conn.config.get_auth_args().get('project_name')):
        return conn.current_project_id
    try:
        found = conn.identity.find_project(ref, ignore_missing=True)
    except Exception as e:  # a member may not look projects up
        LOG.debug('project lookup of %s failed: %s', ref, e)
        found = None
    if found is not None:
        return found.id
    if glance.UUID.match(ref):
        return ref
    raise exceptions.CommandError('no project named %s is visible to this '
                                  'user: give its id' % ref)


def select(conn, args):
    """The selected volumes; a volume Cinder refuses to show is an error row.

    Without names: bootable volumes, and any other carrying image metadata.
    """
    images = engine.followed(args.follow_images) \
        if args.follow_images else None
    try:
        if args.volumes:
            vols = cinder.find_volumes(conn, args.volumes)
            project = project_id(conn, args.project)
            vols = [v for v in vols if v.error or not project
                    or v.project in ('', project)]
        else:
            vols = [v for v in cinder.list_volumes(
                conn, project_id(conn, args.project))
                if v.bootable or v.image_metadata is not None]
    except (cinder.CloudError, glance.SelectionError) as e:
        raise exceptions.CommandError(str(e))
    except cinder.CinderError as e:
        raise exceptions.CommandError('cannot list volumes: %s' % e)
    if images is not None:
        wanted = set(images)
        sys.stderr.write('--follow-images: %d images changed in %s\n'
                         % (len(wanted), args.follow_images))
        vols = [v for v in vols if v.error or v.image_id in wanted]
    return vols


def sources(conn, vols):
    """The current image each volume was made from, by id, or why not."""
    try:
        return glance.read_images(conn, {v.image_id for v in vols
                                         if v.image_id})
    except glance.CloudError as e:
        raise exceptions.CommandError(str(e))
    except glance.GlanceError as e:
        raise exceptions.CommandError('cannot list images: %s' % e)


def snapshots(conn, args):
    try:
        return list(cinder.list_snapshots(conn,
                                          project_id(conn, args.project)))
    except cinder.CloudError as e:
        raise exceptions.CommandError(str(e))
    except cinder.CinderError as e:
        raise exceptions.CommandError('cannot list snapshots: %s' % e)


def plan_for(conn, args, target, policy):
    """(volumes, changes): the selected volumes and their plan.

    Following an image journal, a volume changed by hand since is skipped
    unless named (plan.skip_hand_changed).
    """
    vols = select(conn, args)
    if args.volumes and not vols:
        raise exceptions.CommandError('none of the volumes matched')
    changes = make_plan(vols, target, policy, sources(conn, vols))
    if args.follow_images and not args.volumes:
        source = {v.id: v.image_id for v in vols}
        changes = plan.skip_hand_changed(
            changes, engine.followed(args.follow_images),
            lambda c: source[c.image.id])
    return vols, changes


def drifted(row):
    """Whether an audit row's volume differs from its image."""
    return row['drift'] == DRIFTED


def with_status(vols, rows):
    """Set rows with each volume's status and attachment note."""
    by_id = {v.id: v for v in vols}
    for row in rows:
        vol = by_id[row['id']]
        row.update(status=vol.status, note=attached_note(vol))
    return rows


def audit_selected(conn, args, policy):
    """The audit rows of the selected volumes (and their snapshots)."""
    vols = select(conn, args)
    if args.volumes and not vols:
        raise exceptions.CommandError('none of the volumes matched')
    snaps = snapshots(conn, args) if args.snapshots else ()
    return audit_rows(vols, sources(conn, vols), policy, snaps)


def rollback_entries(path):
    """(start record, entries) of a volume set journal to roll back."""
    records = journal.read(path)
    start = records[0] if records else {}
    if start.get('command') not in ('volume-set', 'volume-rollback'):
        raise ValueError(
            '%s is not a journal of the volume set command (image journals: '
            'the image rollback command)' % path)
    return start, [dict(t, id=t['volume']) for t in touched(records)]


class Volumes(engine.Kind):
    noun = family = 'volume'
    get = staticmethod(cinder.get_volume)

    def run(self, conn, writes, record, concurrency, progress):
        return run(conn, writes, record, concurrency, progress)


KIND = Volumes()


# The columns of its commands: (name, row key, column class or None).
AUDIT_COLUMNS = (
    ('Kind', 'kind', None), ('ID', 'id', None), ('Name', 'name', None),
    ('Project', 'project', None), ('Status', 'status', None),
    ('Source Image', 'source_image', None),
    ('Disk Bus', 'hw_disk_bus', None), ('SCSI Model', 'hw_scsi_model', None),
    ('Drift', 'drift', None), ('Attached To', 'attached_to',
                               columns.ListColumn),
    ('Recommended Bus', 'recommended_bus', None),
    ('Findings', 'findings', columns.FindingsColumn), ('Note', 'note', None),
)
AUDIT_LONG = (
    ('Source Image Name', 'source_image_name', None),
    ('Image Bus', 'image_bus', columns.DictColumn),
    ('Drift Keys', 'drift_keys', columns.VolumeDriftColumn),
    ('Drift Why', 'drift_why', None), ('Bootable', 'bootable', None),
    ('Changeable', 'changeable', None), ('OS', 'os', None),
    ('OS Source', 'os_source', None), ('Machine Type', 'machine_type', None),
    ('Readiness', 'readiness', columns.DictColumn),
    ('Recommended Why', 'recommended_why', None),
    ('Severity', 'severity', None),
    ('Details', 'findings', columns.MessagesColumn),
)
SET_COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Status', 'status', None),
    ('Action', 'action', None), ('Outcome', 'outcome', None),
    ('Changes', 'changes', columns.ChangesColumn),
    ('Findings', 'findings', columns.FindingsColumn),
    ('Reason', 'reason', None), ('Note', 'note', None),
)
