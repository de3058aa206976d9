"""The minimal Cinder reads the server audit needs: volumes and their copy.

Stand-in for glance_virtio/cinder.py (written on wip/volumes): one list
call, returning plain dicts; merge onto cinder.list_volumes when both land.
"""

import logging

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from glance_virtio import glance

LOG = logging.getLogger(__name__)

PAGE_SIZE = 1000


class CinderError(glance.GlanceError):
    """A Cinder request failed; status is the HTTP code or None."""


def to_volume(body):
    meta = body.get('volume_image_metadata') or {}
    return {
        'id': body['id'], 'name': body.get('name') or '',
        'project_id': body.get('os-vol-tenant-attr:tenant_id') or '',
        'status': body.get('status') or '',
        'bootable': str(body.get('bootable')).lower() == 'true',
        'attachments': [{'server_id': a.get('server_id'),
                         'device': a.get('device')}
                        for a in body.get('attachments') or ()],
        'image_metadata': {k: str(v) for k, v in meta.items()},
    }


def list_volumes(conn, all_projects=False):
    """Every volume visible (all projects for an admin with all_projects)."""
    try:
        return _list(conn, all_projects)
    except CinderError as e:
        if not all_projects or e.status != 403:
            raise
        return _list(conn, False)


def _list(conn, all_projects):
    params = {'limit': PAGE_SIZE}
    if all_projects:
        params['all_tenants'] = 1
    found, marker = [], None
    while True:
        if marker:
            params['marker'] = marker
        try:
            resp = conn.block_storage.request(
                '/volumes/detail', 'GET', params=params, raise_exc=False,
                connect_retries=3)
        except (ks_exc.EndpointNotFound, sdk_exc.ServiceDisabledException):
            raise glance.CloudError('no volume endpoint in the service '
                                    'catalog: is Cinder deployed?')
        except ks_exc.ClientException as e:
            raise glance.cloud_error(e) from e
        if resp.status_code == 401:
            raise glance.CloudError('GET /volumes/detail: HTTP 401 '
                                    'authentication failed', 401)
        if resp.status_code >= 400:
            raise CinderError('GET /volumes/detail: HTTP %s %s' % (
                resp.status_code, (resp.text or '')[:200]),
                resp.status_code)
        body = resp.json()
        page = body.get('volumes', [])
        found += [to_volume(v) for v in page]
        if not body.get('volumes_links') or not page:
            return found
        marker = page[-1]['id']
