"""The only module that talks to Cinder: volumes, snapshots, image metadata.

Requests go through the SDK connection's block_storage (v3) proxy as raw
requests: the per-volume HTTP status decides whether a failure is that
volume's (400, 403, 404, 409) or the whole command's (401, unreachable).
"""

import dataclasses
import logging
from typing import Mapping, Optional, Tuple

from glance_virtio.services import glance

LOG = logging.getLogger(__name__)

# Keys Cinder copies from the image record rather than from its properties
# (cinder.conf glance_core_properties, plus what Cinder adds itself).
CORE_KEYS = frozenset((
    'checksum', 'container_format', 'disk_format', 'image_id', 'image_name',
    'min_disk', 'min_ram', 'name', 'size', 'signature_verified'))
PAGE_SIZE = 1000
CLIENT_ERRORS = {
    400: 'refused by Cinder',
    401: 'authentication failed: check the credentials of the cloud',
    403: 'forbidden: the user may not do this to this volume',
    404: 'not found, or not visible to this project',
    409: 'conflict: the volume is in a state that forbids this change',
    413: 'too much metadata (Cinder metadata size limit)',
}


class CinderError(glance.GlanceError):
    """A Cinder request failed; status is the HTTP code or None."""


class CloudError(glance.CloudError, CinderError):
    """Login, connection or service catalog failed: never one volume's."""


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


def login(conn):
    """A token and a block-storage endpoint; CloudError when either fails."""
    glance.login(conn, conn.block_storage, 'block-storage (Cinder)',
                 CloudError)


def _detail(resp):
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and len(body) == 1:
        inner = list(body.values())[0]
        if isinstance(inner, dict) and inner.get('message'):
            return glance.one_line(inner['message'])[:200]
    text = (resp.text or '').strip().replace('\n', ' ')
    return text[:200] or resp.reason or 'error'


def _request(conn, url, method='GET', **kwargs):
    return glance.request(conn.block_storage, url, method, CLIENT_ERRORS,
                          CinderError, CloudError, 'volume', _detail,
                          **kwargs)


def _paged(conn, url, key, params):
    params = dict(params, limit=PAGE_SIZE)
    while url:
        body = _request(conn, url, params=params, connect_retries=3).json()
        items = body.get(key)
        if not isinstance(items, list):
            raise CinderError('GET %s: the answer has no %s list' % (url, key))
        yield from items
        url = None
        for link in body.get('%s_links' % key) or ():
            if link.get('rel') == 'next' and link.get('href'):
                # The next link is absolute; the proxy wants the path after
                # its endpoint, and the link carries the query already.
                href = link['href']
                base = '/' + key + '/'
                url = href[href.index(base):] if base in href else None
                params = None


def list_volumes(conn, project_id=None):
    """Every volume the user may see: all projects for an admin.

    Cinder ignores all_tenants for a user who is not an admin and lists
    that user's project only.
    """
    params = {'all_tenants': 1}
    if project_id:
        params['project_id'] = project_id
    for body in _paged(conn, '/volumes/detail', 'volumes', params):
        yield to_volume(body)


def get_volume(conn, volume_id):
    body = _request(conn, '/volumes/%s' % volume_id,
                    connect_retries=3).json()
    if not isinstance(body.get('volume'), dict):
        raise CinderError('GET /volumes/%s: the answer has no volume'
                          % volume_id)
    return to_volume(body['volume'])


def find_volumes(conn, refs):
    """Resolve volume ids or names, in order, like glance.find_images.

    A volume Cinder refuses to show (403, 5xx) becomes a Volume with error;
    a ref matching no volume, or several, raises glance.SelectionError.
    """
    found, problems = [], []
    for ref in refs:
        try:
            found.append(get_volume(conn, ref))
            continue
        except CloudError:
            raise
        except CinderError as e:
            if e.status not in (400, 404):
                found.append(Volume(id=ref, error=str(e)))
                continue
        matches = [v for v in _paged(conn, '/volumes/detail', 'volumes',
                                     {'all_tenants': 1, 'name': ref})
                   if v.get('name') == ref]
        if len(matches) == 1:
            found.append(to_volume(matches[0]))
        elif not matches:
            kind = 'with id or name' if glance.UUID.match(ref) else 'named'
            problems.append('no volume %s %s is visible to this project'
                            % (kind, ref))
        else:
            problems.append('%d volumes are named %s: give an id'
                            % (len(matches), ref))
    if problems:
        raise glance.SelectionError('; '.join(problems))
    return found


def list_snapshots(conn, project_id=None):
    """Every volume snapshot the user may see."""
    params = {'all_tenants': 1}
    if project_id:
        params['project_id'] = project_id
    for body in _paged(conn, '/snapshots/detail', 'snapshots', params):
        yield to_snapshot(body)


def _action(conn, volume_id, body):
    return _request(conn, '/volumes/%s/action' % volume_id, 'POST',
                    json=body)


def set_image_metadata(conn, volume_id, metadata):
    """os-set_image_metadata; the volume's whole image metadata after it."""
    resp = _action(conn, volume_id,
                   {'os-set_image_metadata': {'metadata': dict(metadata)}})
    answer = resp.json().get('metadata')
    if not isinstance(answer, dict):
        raise CinderError('os-set_image_metadata on %s: the answer has no '
                          'metadata' % volume_id)
    return {k: v if isinstance(v, str) else str(v)
            for k, v in answer.items()}


def unset_image_metadata(conn, volume_id, key):
    """os-unset_image_metadata of one key (Cinder takes one per call)."""
    _action(conn, volume_id, {'os-unset_image_metadata': {'key': key}})
