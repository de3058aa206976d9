"""Bootable volumes as facts for the rules: audit rows, drift and plans.

Nova boots a volume-backed server from the volume's volume_image_metadata
(nova/block_device.py get_image_metadata_from_volume), a copy Cinder took
from the image when the volume was made. Each volume becomes a model.Image
whose properties are that copy, so the rules, plans and journal judge it as
they judge an image and never learn where the facts came from.
"""

import dataclasses
from typing import Mapping, Optional, Tuple

from glance_virtio import audit
from glance_virtio import journal
from glance_virtio import model
from glance_virtio import plan

# Keys Cinder copies from the image record rather than from its properties
# (cinder.conf glance_core_properties, plus what Cinder adds itself).
CORE_KEYS = frozenset((
    'checksum', 'container_format', 'disk_format', 'image_id', 'image_name',
    'min_disk', 'min_ram', 'name', 'size', 'signature_verified'))
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


@dataclasses.dataclass(frozen=True)
class Volume:
    """What Cinder says of one volume."""

    id: str
    name: str = ''
    project: str = ''
    status: str = ''
    bootable: bool = False
    size: Optional[int] = None
    servers: Tuple[str, ...] = ()
    # (server id, device) of each attachment.
    devices: Tuple[Tuple[str, str], ...] = ()
    # None: Cinder holds no image metadata for the volume.
    image_metadata: Optional[Mapping[str, str]] = None
    created_at: str = ''
    error: Optional[str] = None

    @property
    def image_id(self):
        return (self.image_metadata or {}).get('image_id') or None

    @property
    def properties(self):
        return {k: v for k, v in (self.image_metadata or {}).items()
                if k not in CORE_KEYS}


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What Cinder says of one volume snapshot."""

    id: str
    name: str = ''
    project: str = ''
    status: str = ''
    volume_id: str = ''
    created_at: str = ''


def _text(value):
    return value if isinstance(value, str) else str(value)


def to_volume(body):
    """A Volume from a Cinder v3 volume JSON body."""
    meta = body.get('volume_image_metadata')
    return Volume(
        id=body['id'], name=body.get('name') or '',
        project=body.get('os-vol-tenant-attr:tenant_id') or '',
        status=body.get('status') or '',
        bootable=str(body.get('bootable')).lower() == 'true',
        size=body.get('size'),
        servers=tuple(a.get('server_id') for a in body.get('attachments')
                      or () if a.get('server_id')),
        devices=tuple((a['server_id'], a.get('device') or '')
                      for a in body.get('attachments') or ()
                      if a.get('server_id')),
        image_metadata=({k: _text(v) for k, v in meta.items()}
                        if isinstance(meta, dict) and meta else None),
        created_at=body.get('created_at') or '')


def to_snapshot(body):
    """A Snapshot from a Cinder v3 snapshot JSON body."""
    return Snapshot(
        id=body['id'], name=body.get('name') or '',
        project=body.get('os-extended-snapshot-attributes:project_id') or '',
        status=body.get('status') or '', volume_id=body.get('volume_id')
        or '', created_at=body.get('created_at') or '')


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


def followed_images(records):
    """Ids of the images a virtio-set journal changed, or may have."""
    return list(journal.followed(records))
