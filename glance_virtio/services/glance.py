"""The only module that talks to Glance: list, get, patch, range reads."""

import fnmatch
import json
import logging
import re

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from glance_virtio import model
from glance_virtio.services import paging

LOG = logging.getLogger(__name__)

UUID = re.compile(r'^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$', re.I)
PATCH_TYPE = 'application/openstack-images-v2.1-json-patch'
PAGE_SIZE = 1000
# The reverse of Glance's default order (created_at, then id, descending).
OLDEST_FIRST = 'created_at:asc,id:asc'
CORE_KEYS = frozenset((
    'id', 'name', 'status', 'visibility', 'owner', 'protected', 'checksum',
    'os_hash_algo', 'os_hash_value', 'size', 'virtual_size', 'disk_format',
    'container_format', 'created_at', 'updated_at', 'tags', 'file', 'self',
    'schema', 'min_ram', 'min_disk', 'os_hidden', 'direct_url', 'locations',
    'stores'))
CLIENT_ERRORS = {
    401: 'authentication failed: check the credentials of the cloud',
    403: 'forbidden: the user may not do this to this image',
    404: 'not found, or not visible to this project',
    409: 'conflict: the image is in a state that forbids this change',
    413: 'too many properties (Glance image_property_quota)',
}


class GlanceError(Exception):
    """A Glance request failed; status is the HTTP code or None."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status

    @property
    def retriable(self):
        return self.status is None or self.status >= 500


class CloudError(GlanceError):
    """Login, connection or service catalog failed: never one image's fault."""


class SelectionError(Exception):
    """Image names or ids that match no image, or several."""


def one_line(text):
    return ' '.join(str(text).split())


def _connect_reason(exc):
    text = one_line(exc)
    url = re.search(r'(https?://[^\s:\'"]+(?::\d+)?[^\s:\'"]*)', text)
    why = re.search(r'\[Errno -?\d+\] ([^\'")]+)', text)
    return (url.group(1) if url else 'the cloud',
            why.group(1).strip() if why else 'connection failed')


def cloud_error(exc, service='image', error=None):
    """A CloudError saying, in one line, why a keystoneauth call failed.

    service names the API in a catalog error; error is the CloudError
    class to make (a service module's own).
    """
    error = error or CloudError
    if isinstance(exc, ks_exc.Unauthorized):
        return error('authentication failed: the cloud refused the '
                     'credentials (HTTP 401); check the user name, '
                     'password and project', 401)
    if isinstance(exc, ks_exc.SSLError):
        return error('TLS verification failed for %s: %s'
                     % _connect_reason(exc))
    if isinstance(exc, ks_exc.ConnectTimeout):
        return error('cannot reach the cloud at %s: timed out'
                     % _connect_reason(exc)[0])
    if isinstance(exc, (ks_exc.ConnectFailure,
                        ks_exc.UnknownConnectionError)):
        return error('cannot reach the cloud at %s: %s'
                     % _connect_reason(exc))
    if isinstance(exc, ks_exc.EndpointNotFound):
        return error('no %s endpoint in the service catalog: %s'
                     % (service, one_line(exc)))
    if isinstance(exc, ks_exc.DiscoveryFailure):
        return error('cannot find the identity API: %s' % one_line(exc))
    if isinstance(exc, ks_exc.AuthPluginException):
        return error('cloud configuration: %s' % one_line(exc))
    if isinstance(exc, ks_exc.HttpError):
        return error('login failed: %s' % one_line(exc),
                     exc.http_status)
    return error('request to the cloud failed: %s' % one_line(exc))


def login(conn, proxy=None, service='image', error=None):
    """Get a token and the service's endpoint; CloudError if either fails.

    proxy is the SDK proxy of the service (default: conn.image).
    """
    error = error or CloudError
    try:
        conn.session.get_token()
        endpoint = (proxy or conn.image).get_endpoint()
    except ks_exc.ClientException as e:
        raise cloud_error(e, service, error) from e
    except sdk_exc.ServiceDisabledException:
        endpoint = None
    if not endpoint:
        raise error('no %s endpoint in the service catalog (region %s, '
                    'interface %s)' % (service,
                                       conn.config.region_name or 'any',
                                       conn.config.get_interface()
                                       or 'public'))


def to_image(body):
    """A model.Image from a Glance v2 image JSON body."""
    props = {k: v for k, v in body.items() if k not in CORE_KEYS}
    return model.Image(
        id=body['id'], name=body.get('name') or '',
        owner=body.get('owner') or '', visibility=body.get('visibility', ''),
        status=body.get('status', ''), checksum=body.get('checksum'),
        size=body.get('size'), disk_format=body.get('disk_format'),
        properties={k: v if isinstance(v, str) else json.dumps(v)
                    for k, v in props.items()},
        tags=tuple(body.get('tags') or ()))


def request(proxy, url, method='GET', errors=None, error=None, cloud=None,
            service='image', detail=None, no_endpoint=None, **kwargs):
    """The response of one request to a service; every service's errors.

    errors maps HTTP codes to what they mean for this service; error is
    the per-thing error class, cloud the whole command's (login,
    connection, 401). detail(resp) adds the service's own words to a
    known code; without it the known meaning stands alone. no_endpoint:
    the message when the catalog has no such service.
    """
    errors = CLIENT_ERRORS if errors is None else errors
    error, cloud = error or GlanceError, cloud or CloudError
    try:
        resp = proxy.request(url, method, raise_exc=False, **kwargs)
    except (ks_exc.EndpointNotFound, sdk_exc.ServiceDisabledException) as e:
        if no_endpoint is None:
            raise cloud_error(e, service, cloud) from e
        raise cloud(no_endpoint)
    except ks_exc.ClientException as e:
        # Raised only by the login and the connection, never for one thing.
        raise cloud_error(e, service, cloud) from e
    if resp.status_code == 401:
        # keystoneauth has already logged in again once and retried.
        raise cloud('%s %s: HTTP 401 %s' % (method, url, errors[401]), 401)
    if resp.status_code >= 400:
        known = errors.get(resp.status_code)
        if known is None:
            message = (detail or _detail)(resp)
        elif detail is not None:
            message = '%s: %s' % (known, detail(resp))
        else:
            message = known
        raise error('%s %s: HTTP %s %s' % (method, url, resp.status_code,
                                           message), resp.status_code)
    return resp


def _request(conn, url, method='GET', **kwargs):
    return request(conn.image, url, method, **kwargs)


def _detail(resp):
    text = (resp.text or '').strip().replace('\n', ' ')
    return text[:200] or resp.reason or 'error'


def list_images(conn, filters=None, name_pattern=None, both_ends=False):
    """Yield every image matching the server-side filters, page by page.

    both_ends: as list_image_bodies; each page becomes Images as it
    arrives.
    """
    for image in _walk(conn, filters, both_ends, PAGE_SIZE, to_image,
                       lambda i: i.id):
        if not name_pattern or fnmatch.fnmatchcase(image.name, name_pattern):
            yield image


def list_image_bodies(conn, filters=None, both_ends=False,
                      page_size=PAGE_SIZE):
    """Yield the JSON body of every image matching the filters.

    In Glance's own order (newest first).  both_ends: two walks at once,
    one from each end (paging.both_ends), which Glance's worker processes
    serve in parallel; less than two pages are read twice.
    """
    return _walk(conn, filters, both_ends, page_size, lambda b: b,
                 lambda b: b['id'])


def _walk(conn, filters, both_ends, page_size, make, key):
    """Every image matching filters, as make(body), in Glance's order."""
    def fetch(oldest, marker, limit):
        page, more = _image_page(conn, filters, oldest, marker, limit)
        return [make(b) for b in page], more
    if both_ends:
        yield from paging.both_ends(fetch, page_size, key)
        return
    marker, more = None, True
    while more:
        page, more = fetch(False, marker, page_size)
        yield from page
        marker = key(page[-1]) if page else None
        more = more and marker is not None


def _image_page(conn, filters, oldest, marker, limit):
    """(image bodies, whether Glance links a next page) of one page."""
    params = dict(filters or {}, limit=limit)
    if oldest:
        params['sort'] = OLDEST_FIRST
    if marker:
        params['marker'] = marker
    body = _request(conn, '/images', params=params, connect_retries=3).json()
    return body.get('images', []), bool(body.get('next'))


def get_images(conn, image_ids):
    """{id: Image} of those of image_ids a list request shows, in one read.

    Glance's list leaves out hidden images, community images and shared
    ones not accepted: read those with get_image.
    """
    ids = ','.join(image_ids)
    return {i.id: i for i in list_images(conn, {'id': 'in:' + ids})}


# Ids per list request: about 2 KB of query, within any proxy's URL limit.
ID_BATCH = 50


def read_images(conn, image_ids):
    """{id: Image, or why it cannot be read} for every id, in few requests.

    Lists by id, ID_BATCH ids a request; an id the lists do not show
    (hidden, community, a share not accepted, deleted) is read alone with
    a GET. A login or connection failure raises CloudError.
    """
    ids = sorted(set(image_ids))
    found = {}
    for start in range(0, len(ids), ID_BATCH):
        found.update(get_images(conn, ids[start:start + ID_BATCH]))
    for image_id in ids:
        if image_id in found:
            continue
        try:
            found[image_id] = get_image(conn, image_id)
        except CloudError:
            raise
        except GlanceError as e:
            found[image_id] = ('deleted or not visible' if e.status == 404
                               else str(e))
    return found


def get_image(conn, image_id):
    return to_image(_request(conn, '/images/%s' % image_id,
                             connect_retries=3).json())


def find_images(conn, refs):
    """Resolve ids or names, in order.

    An id Glance refuses to show (403, 5xx) becomes an Image with error; a
    ref that matches no image, or several, raises SelectionError naming
    every such ref; a login or connection failure raises CloudError.
    """
    found, problems = [], []
    for ref in refs:
        try:
            found.append(get_image(conn, ref))
            continue
        except CloudError:
            raise
        except GlanceError as e:
            if e.status not in (400, 404):
                found.append(model.Image(id=ref, error=str(e)))
                continue
        matches = list(list_images(conn, {'name': ref}))
        if len(matches) == 1:
            found.append(matches[0])
        elif not matches:
            kind = 'with id or name' if UUID.match(ref) else 'named'
            problems.append('no image %s %s is visible to this project'
                            % (kind, ref))
        else:
            problems.append('%d images are named %s: give an id'
                            % (len(matches), ref))
    if problems:
        raise SelectionError('; '.join(problems))
    return found


def patch_image(conn, image_id, ops):
    """Send one JSON patch and return the image Glance answers with."""
    resp = _request(conn, '/images/%s' % image_id, 'PATCH',
                    data=json.dumps(ops),
                    headers={'Content-Type': PATCH_TYPE})
    return to_image(resp.json())


def read_range(conn, image_id, offset, length):
    """Bytes [offset, offset+length) of an image's data, by a Range GET."""
    end = offset + length - 1
    resp = _request(conn, '/images/%s/file' % image_id, stream=True,
                    headers={'Range': 'bytes=%d-%d' % (offset, end)},
                    connect_retries=3)
    try:
        if resp.status_code != 206:
            raise GlanceError('Glance ignored the Range header (HTTP %s): '
                              'refusing to download the whole image'
                              % resp.status_code, resp.status_code)
        answered = resp.headers.get('Content-Range', '')
        if not answered.startswith('bytes %d-%d/' % (offset, end)):
            raise GlanceError('asked for bytes %d-%d, Glance answered '
                              'Content-Range "%s"' % (offset, end, answered),
                              resp.status_code)
        data = resp.raw.read(length + 1, decode_content=True)
    finally:
        resp.close()
    if len(data) != length:
        raise GlanceError('short range read at %d: %d of %d bytes'
                          % (offset, len(data), length))
    return data
