"""The only module that talks to Nova: list, show, stop and start servers."""

import dataclasses
import logging
import time
from typing import Mapping, Optional, Tuple

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from glance_virtio.services import glance

LOG = logging.getLogger(__name__)

# GET /servers/detail answers with image.properties, the image_* system
# metadata recorded at boot, from 2.98 (nova/api/openstack/compute/views/
# servers.py _get_image, Nova 34.0.0 line 636); only for servers booted
# from an image: a volume-backed server's "image" is "".
PROPERTIES_MICROVERSION = (2, 98)
PAGE_SIZE = 1000
WAIT_TIMEOUT = 300
CLIENT_ERRORS = {
    401: 'authentication failed: check the credentials of the cloud',
    403: 'forbidden: the user may not do this to this server',
    404: 'not found, or not visible to this project',
    409: 'conflict: the server is in a state that forbids this action',
}


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


class NovaError(glance.GlanceError):
    """A Nova request failed; status is the HTTP code or None."""


NO_ENDPOINT = 'no compute endpoint in the service catalog: is Nova deployed?'


def _request(conn, url, method='GET', microversion=None, **kwargs):
    if microversion:
        kwargs['microversion'] = microversion
    # A Nova error is the known meaning of its code, else Nova's words; a
    # login or connection failure says "image" as it always has.
    return glance.request(conn.compute, url, method, CLIENT_ERRORS,
                          NovaError, glance.CloudError,
                          no_endpoint=NO_ENDPOINT, **kwargs)


def microversions(conn):
    """(min, max) compute API microversions as (major, minor) tuples."""
    try:
        data = conn.compute.get_endpoint_data()
    except (ks_exc.EndpointNotFound, sdk_exc.ServiceDisabledException):
        raise glance.CloudError(NO_ENDPOINT)
    except ks_exc.ClientException as e:
        raise glance.cloud_error(e) from e
    if data is None or not data.max_microversion:
        return None, None
    return (tuple(data.min_microversion or (2, 1)),
            tuple(data.max_microversion))


def _version(conn):
    """The microversion to ask for: 2.98 where Nova has it, else none."""
    _, top = microversions(conn)
    if top and top >= PROPERTIES_MICROVERSION:
        return '%d.%d' % PROPERTIES_MICROVERSION
    return None


def list_servers(conn, all_projects=False, project=None):
    """Every visible server: all projects for an admin with all_projects."""
    version = _version(conn)
    params = {'limit': PAGE_SIZE}
    if all_projects:
        params['all_tenants'] = 1
    if project:
        # Nova ignores tenant_id without all_tenants (servers.py
        # _get_servers).
        params['tenant_id'] = project
        params['all_tenants'] = 1
    found, marker = [], None
    while True:
        if marker:
            params['marker'] = marker
        body = _request(conn, '/servers/detail', params=params,
                        microversion=version, connect_retries=3).json()
        page = body.get('servers', [])
        found += [to_server(item, version is not None)
                  for item in page]
        if not body.get('servers_links') or not page:
            return found
        marker = page[-1]['id']


def visible_servers(conn, all_projects=True):
    """All projects' servers for an admin, else this project's."""
    if all_projects:
        try:
            return list_servers(conn, True)
        except NovaError as e:
            if e.status != 403:
                raise
            LOG.info('not allowed to list all projects: %s', e)
    return list_servers(conn)


def get_server(conn, server_id):
    version = _version(conn)
    body = _request(conn, '/servers/%s' % server_id, microversion=version,
                    connect_retries=3).json()
    return to_server(body['server'], version is not None)


def find_servers(conn, refs, all_projects=False):
    """Servers by id or exact name; a ref matching none or several fails."""
    found, problems = [], []
    everything = None
    for ref in refs:
        try:
            found.append(get_server(conn, ref))
            continue
        except NovaError as e:
            if e.status not in (400, 404):
                raise
        if everything is None:
            everything = visible_servers(conn, all_projects)
        matches = [s for s in everything if s.name == ref]
        if len(matches) == 1:
            found.append(matches[0])
        elif not matches:
            problems.append('no server with id or name %s is visible' % ref)
        else:
            problems.append('%d servers are named %s: give an id'
                            % (len(matches), ref))
    if problems:
        raise glance.SelectionError('; '.join(problems))
    return found


def action(conn, server_id, name):
    """POST a server action: os-stop or os-start."""
    _request(conn, '/servers/%s/action' % server_id, 'POST',
             json={name: None})


def wait_for(conn, server_id, status, timeout=WAIT_TIMEOUT,
             sleep=time.sleep, clock=time.monotonic):
    """The server once it has status with no task; NovaError otherwise."""
    deadline = clock() + timeout
    delay = 0.5
    while True:
        server = get_server(conn, server_id)
        if server.status == status and not server.task_state:
            return server
        if server.status == 'ERROR':
            raise NovaError('server %s went to ERROR while waiting for %s'
                            % (server_id, status))
        if clock() > deadline:
            raise NovaError('server %s still %s (task %s) after %ds, '
                            'waiting for %s' % (server_id, server.status,
                                                server.task_state or '-',
                                                timeout, status))
        sleep(delay)
        delay = min(delay * 2, 5)
