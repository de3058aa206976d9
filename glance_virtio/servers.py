"""Servers as the rules see them: the image properties Nova recorded at boot.

Pure: builds model.Image values from what Nova, Cinder and Glance say of a
server, so that detect, rules and plan judge a server exactly as an image.
"""

import dataclasses
from typing import Mapping, Optional, Tuple

from glance_virtio import audit
from glance_virtio import detect
from glance_virtio import model
from glance_virtio import plan
from glance_virtio import rules

# The keys virtio-set changes and drift compares.
BUS_KEYS = ('hw_disk_bus', 'hw_scsi_model')
# The recorded keys read with nova-manage when the API does not give them:
# the bus keys and the machine type the bus rules depend on.
READ_KEYS = BUS_KEYS + ('hw_machine_type',)
# nova-manage image_property set refuses any other vm_state (manage.py
# _update_image_properties); virtio-set stops ACTIVE servers first.
CHANGEABLE = ('ACTIVE', 'SHUTOFF')
UNKNOWN = model.UNKNOWN
# Keys the rules read that are not Nova ImageMetaProps fields.
GUEST_KEYS = ('os_version', detect.ASSERT_PROPERTY)

# Bug 2078999 (image properties set with nova-manage reverted on
# migration) is fixed in these releases and later ones of each series.
FIXED_IN = {28: (28, 3, 1), 29: (29, 2, 1), 30: (30, 0, 0)}
# Microversion 2.96 came with the 2024.1 series (29.x; python-novaclient
# 18.6.0 release notes): a Nova offering 2.97 or later is 30.0.0 or later.
FIXED_MICROVERSION = (2, 97)


@dataclasses.dataclass(frozen=True)
class Server:
    """What Nova says of one server."""

    id: str
    name: str = ''
    project_id: str = ''
    status: str = ''
    task_state: Optional[str] = None
    image_id: Optional[str] = None  # None: booted from a volume
    volume_ids: Tuple[str, ...] = ()
    root_device: Optional[str] = None
    # image_* system metadata recorded at boot; None: not known.
    recorded: Optional[Mapping[str, str]] = None
    recorded_from: Optional[str] = None  # api, nova-manage
    error: Optional[str] = None

    @property
    def volume_backed(self):
        return self.image_id is None


def to_server(body, with_properties):
    image = body.get('image')
    image_id = image.get('id') if isinstance(image, dict) else None
    recorded = None
    if with_properties and isinstance(image, dict) and isinstance(
            image.get('properties'), dict):
        recorded = {k: str(v) for k, v in image['properties'].items()}
    return Server(
        id=body['id'], name=body.get('name') or '',
        project_id=body.get('tenant_id') or body.get('project_id') or '',
        status=body.get('status') or '',
        task_state=body.get('OS-EXT-STS:task_state'),
        image_id=image_id or None,
        volume_ids=tuple(v['id'] for v in body.get(
            'os-extended-volumes:volumes_attached') or () if 'id' in v),
        root_device=body.get('OS-EXT-SRV-ATTR:root_device_name'),
        recorded=recorded, recorded_from='api' if recorded is not None
        else None)


def with_recorded(server, values, source):
    """server with the recorded values read elsewhere (None: absent)."""
    return dataclasses.replace(
        server, recorded={k: v for k, v in values.items() if v is not None},
        recorded_from=source)


def boot_volume(server, volumes):
    """(volume, why): the bootable volume a volume-backed server boots from.

    volumes maps ids to volume.Volume; None with the reason when it
    cannot be told.
    """
    if not server.volume_backed:
        return None, 'booted from an image'
    attached = [volumes[v] for v in server.volume_ids if v in volumes]
    bootable = [v for v in attached if v.bootable]
    if server.root_device:
        rooted = [v for v in bootable
                  if (server.id, server.root_device) in v.devices]
        if len(rooted) == 1:
            return rooted[0], ''
    if len(bootable) == 1:
        return bootable[0], ''
    if not bootable:
        return None, 'no bootable volume attached is visible'
    return None, ('%d bootable volumes attached; the root device is not '
                  'visible to this user' % len(bootable))


def source_image_id(server, volume):
    if not server.volume_backed:
        return server.image_id
    if volume:
        return volume.image_id
    return None


def booted_properties(server, source_props):
    """The properties the server was booted with, or None if unknown.

    From the API (2.98) every recorded key is known; from nova-manage only
    READ_KEYS are, the others are the source's current values.
    """
    if server.recorded is None:
        return None
    if server.recorded_from == 'api':
        # Nova shows only its own fields (ImageMetaProps); the guest facts
        # outside them are the source's.
        props = {k: v for k, v in (source_props or {}).items()
                 if k in GUEST_KEYS}
        props.update(server.recorded)
        return props
    props = {k: v for k, v in (source_props or {}).items()
             if k not in READ_KEYS}
    props.update(server.recorded)
    return props


def as_image(server, props):
    """A model.Image the rules judge: the server under its booted values."""
    return model.Image(id=server.id, name=server.name,
                       owner=server.project_id, status=server.status,
                       properties=dict(props))


def drift(booted, image):
    """Bus keys whose booted value differs from the image's, or None."""
    if booted is None or image is None or image.error:
        return None
    return tuple(k for k in BUS_KEYS
                 if booted.get(k) != image.properties.get(k))


def row(server, policy, image=None, volume=None, volume_why=''):
    """One audit row: plain, JSON-ready values with stable keys."""
    volume_props = dict(volume.image_metadata or {}) if volume else {}
    source = volume_props if server.volume_backed else (
        image.properties if image and not image.error else {})
    booted = booted_properties(server, source)
    base = {
        'id': server.id, 'name': server.name,
        'project_id': server.project_id, 'status': server.status,
        'boot': 'volume' if server.volume_backed else 'image',
        'image_id': source_image_id(server, volume),
        'volume_id': volume.id if volume else None,
        'image_hw_disk_bus': (image.properties.get('hw_disk_bus')
                              if image and not image.error else None),
        'volume_hw_disk_bus': volume_props.get('hw_disk_bus'),
        'known_from': server.recorded_from or UNKNOWN,
    }
    notes = [n for n in (server.error, volume_why) if n]
    if image is not None and image.error:
        notes.append('image: %s' % image.error)
    if booted is None:
        notes.append('booted bus unknown: the API does not show it for '
                     'this server; give --nova-manage')
        base.update({
            'booted_hw_disk_bus': UNKNOWN, 'booted_hw_scsi_model': UNKNOWN,
            'drift': UNKNOWN, 'os': UNKNOWN, 'readiness': {},
            'recommended_bus': UNKNOWN, 'severity': UNKNOWN,
            'findings': [], 'notes': notes})
        return base
    facts = detect.facts(as_image(server, booted))
    findings = rules.evaluate(facts, rules.Context(policy=policy))
    changed = drift(booted, image)
    base.update({
        'booted_hw_disk_bus': booted.get('hw_disk_bus'),
        'booted_hw_scsi_model': booted.get('hw_scsi_model'),
        'drift': UNKNOWN if changed is None else list(changed),
        'os': facts.os.describe(),
        'readiness': {d: facts.readiness[d].state for d in model.DRIVERS
                      if d in facts.readiness},
        'recommended_bus': audit.recommend(facts, policy)[0],
        'severity': audit.worst(findings),
        'findings': [f.to_dict() for f in findings],
        'notes': notes,
    })
    return base


def plan_server(server, target, policy, source_props=None):
    """The model.Change for one server (its Image is the server)."""
    if server.error:
        return model.Change(as_image(server, {}), {}, (), plan.SKIPPED,
                            reason=server.error)
    if server.status not in CHANGEABLE:
        return model.Change(as_image(server, {}), {}, (), plan.SKIPPED,
                            reason='status %s: only ACTIVE and SHUTOFF '
                                   'servers are changed' % server.status)
    booted = booted_properties(server, source_props)
    if booted is None:
        return model.Change(as_image(server, {}), {}, (), plan.SKIPPED,
                            reason='booted properties unknown')
    change = plan.plan_one(as_image(server, booted), target, policy)
    if change.action == plan.CHANGE and change.remove:
        return dataclasses.replace(
            change, action=plan.BLOCKED,
            reason='nova-manage image_property set cannot remove %s'
                   % ', '.join(change.remove))
    return change


def check_release(version=None, max_microversion=None):
    """(ok, why): whether this Nova has the fix for bug 2078999.

    version is nova-manage's (major, minor, patch); without it the API's
    maximum microversion can only prove a release new enough.
    """
    fixed = 'fixed in 30.0.0, 29.2.1 and 28.3.1'
    if version is not None:
        text = '.'.join(str(n) for n in version)
        need = FIXED_IN.get(version[0])
        if version[0] > max(FIXED_IN) or (need and tuple(version) >= need):
            return True, 'nova-manage --version says %s' % text
        return False, ('Nova %s lacks the fix for bug 2078999 (image '
                       'properties set by nova-manage are reverted on '
                       'migration; %s)' % (text, fixed))
    if max_microversion and tuple(max_microversion) >= FIXED_MICROVERSION:
        return True, ('the compute API offers microversion %d.%d: Nova '
                      '30.0.0 or later' % tuple(max_microversion))
    return False, ('cannot tell whether this Nova has the fix for bug '
                   '2078999 (%s): nova-manage --version gave no version and '
                   'the compute API offers no microversion past 2.96'
                   % fixed)


def impact(images, volumes, server_rows):
    """Per image id: copies in volumes and servers, and how many differ."""
    counts = {i.id: {'volumes': 0, 'volumes_differ': 0, 'servers': 0,
                     'servers_differ': 0, 'servers_unknown': 0}
              for i in images}
    by_id = {i.id: i for i in images}
    for volume in volumes:
        meta = volume.image_metadata or {}
        entry = counts.get(meta.get('image_id'))
        if entry is None:
            continue
        entry['volumes'] += 1
        props = by_id[meta['image_id']].properties
        if any(meta.get(k) != props.get(k) for k in BUS_KEYS):
            entry['volumes_differ'] += 1
    for server_row in server_rows:
        entry = counts.get(server_row['image_id'])
        if entry is None:
            continue
        entry['servers'] += 1
        if server_row['drift'] == UNKNOWN:
            entry['servers_unknown'] += 1
        elif server_row['drift']:
            entry['servers_differ'] += 1
    return counts
