"""The only module that talks to Cinder: volumes, snapshots, image metadata.

Requests go through the SDK connection's block_storage (v3) proxy as raw
requests: the per-volume HTTP status decides whether a failure is that
volume's (400, 403, 404, 409) or the whole command's (401, unreachable).
"""

import logging

from keystoneauth1 import exceptions as ks_exc

from glance_virtio import glance
from glance_virtio import volume

LOG = logging.getLogger(__name__)

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


def _cloud_error(exc):
    return glance.cloud_error(exc, 'volume', CloudError)


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
    try:
        resp = conn.block_storage.request(url, method, raise_exc=False,
                                          **kwargs)
    except ks_exc.ClientException as e:
        raise _cloud_error(e) from e
    if resp.status_code == 401:
        raise CloudError('%s %s: HTTP 401 %s' % (method, url,
                                                 CLIENT_ERRORS[401]), 401)
    if resp.status_code >= 400:
        known = CLIENT_ERRORS.get(resp.status_code)
        detail = _detail(resp)
        message = '%s: %s' % (known, detail) if known else detail
        raise CinderError('%s %s: HTTP %s %s' % (
            method, url, resp.status_code, message), resp.status_code)
    return resp


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
        yield volume.to_volume(body)


def get_volume(conn, volume_id):
    body = _request(conn, '/volumes/%s' % volume_id,
                    connect_retries=3).json()
    if not isinstance(body.get('volume'), dict):
        raise CinderError('GET /volumes/%s: the answer has no volume'
                          % volume_id)
    return volume.to_volume(body['volume'])


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
                found.append(volume.Volume(id=ref, error=str(e)))
                continue
        matches = [v for v in _paged(conn, '/volumes/detail', 'volumes',
                                     {'all_tenants': 1, 'name': ref})
                   if v.get('name') == ref]
        if len(matches) == 1:
            found.append(volume.to_volume(matches[0]))
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
        yield volume.to_snapshot(body)


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
