"""The only module that talks to Nova: list, show, stop and start servers."""

import time
import logging

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from glance_virtio import glance
from glance_virtio import servers

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


class NovaError(glance.GlanceError):
    """A Nova request failed; status is the HTTP code or None."""


NO_ENDPOINT = 'no compute endpoint in the service catalog: is Nova deployed?'


def _request(conn, url, method='GET', microversion=None, **kwargs):
    if microversion:
        kwargs['microversion'] = microversion
    try:
        resp = conn.compute.request(url, method, raise_exc=False, **kwargs)
    except (ks_exc.EndpointNotFound, sdk_exc.ServiceDisabledException):
        raise glance.CloudError(NO_ENDPOINT)
    except ks_exc.ClientException as e:
        raise glance.cloud_error(e) from e
    if resp.status_code == 401:
        raise glance.CloudError('%s %s: HTTP 401 %s' % (
            method, url, CLIENT_ERRORS[401]), 401)
    if resp.status_code >= 400:
        raise NovaError('%s %s: HTTP %s %s' % (
            method, url, resp.status_code,
            CLIENT_ERRORS.get(resp.status_code, _detail(resp))),
            resp.status_code)
    return resp


def _detail(resp):
    text = (resp.text or '').strip().replace('\n', ' ')
    return text[:200] or resp.reason or 'error'


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
        found += [servers.to_server(item, version is not None)
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
    return servers.to_server(body['server'], version is not None)


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
