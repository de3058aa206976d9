"""verify --via nova: boot a real server from the image, read its console.

The final check on the real computes (their firmware, machine type and
QEMU), with the image as it is in Glance now. What it cannot see: Nova
keeps only the last 100 KiB of the console (get_console_output), so early
lines of a chatty boot may be gone; Windows writes to the serial port only
with EMS enabled in the image; a driver without a console (the fake driver,
some Ironic nodes) gives no verdict (unknown); a server that goes to ERROR
is a failed boot with Nova's fault message as the evidence.
"""

import logging
import time

from glance_virtio.verify import canary
from glance_virtio.verify import console
from glance_virtio.verify import runner

LOG = logging.getLogger(__name__)

POLL_SECONDS = 3.0
NAME_PREFIX = 'virtio-verify-'


def _result(verdict, started):
    return runner.Result(verdict, round(time.monotonic() - started, 1),
                         'nova')


def _flavor(conn, ref):
    return conn.compute.find_flavor(ref, ignore_missing=False)


def _networks(conn, ref):
    if ref in (None, 'none', 'auto'):
        return ref or 'none'
    network = conn.network.find_network(ref, ignore_missing=False)
    return [{'uuid': network.id}]


def create(conn, image, flavor, network):
    """The new server's id; networks "none" needs microversion 2.37."""
    body = {'server': {'name': NAME_PREFIX + image.id[:8],
                       'imageRef': image.id,
                       'flavorRef': _flavor(conn, flavor).id,
                       'networks': _networks(conn, network)}}
    resp = conn.compute.post('/servers', json=body, microversion='2.37')
    if resp.status_code != 202:
        raise RuntimeError('HTTP %s %s' % (resp.status_code,
                                           resp.text[:300]))
    return resp.json()['server']['id']


def classify_output(text, classifier=None):
    classifier = classifier or console.Classifier()
    for line in (text or '').splitlines():
        classifier.feed_line(line)
    return classifier


def verify_image(conn, image, flavor, network, timeout, poll=POLL_SECONDS):
    """The Outcome of one server booted from ``image``; it is deleted."""
    started = time.monotonic()
    if image.error:
        return canary.Outcome(image.id, image.name, _result(
            console.Verdict(console.UNKNOWN, None, (), image.error),
            started), image.error)
    server = None
    try:
        server = create(conn, image, flavor, network)
        verdict = _watch(conn, server, timeout, poll, started)
        return canary.Outcome(image.id, image.name,
                              _result(verdict, started))
    except Exception as e:  # any SDK or cloud error is this image's row
        LOG.debug('verify --via nova', exc_info=True)
        reason = 'Nova: %s' % str(e).splitlines()[0]
        return canary.Outcome(image.id, image.name, _result(
            console.Verdict(console.UNKNOWN, None, (), reason), started),
            reason)
    finally:
        if server is not None:
            _delete(conn, server)


def _watch(conn, server_id, timeout, poll, started):
    while True:
        found = conn.compute.get_server(server_id)
        if found.status == 'ERROR':
            fault = (found.fault or {}).get('message') or 'no fault message'
            return console.Verdict(console.FAILED, 'server in ERROR',
                                   ('Nova: %s' % fault,))
        classifier = None
        if found.status == 'ACTIVE':
            output = conn.compute.get_server_console_output(found)
            classifier = classify_output(output.get('output'))
            if classifier.decided:
                return classifier.result()
        if time.monotonic() - started > timeout:
            reason = 'timeout after %d s (server %s)' % (timeout,
                                                         found.status)
            return classifier.result(reason) if classifier else \
                console.Verdict(console.UNKNOWN, None, (), reason)
        time.sleep(poll)


def _delete(conn, server_id):
    try:
        conn.compute.delete_server(server_id)
        conn.compute.wait_for_delete(conn.compute.get_server(server_id),
                                     wait=300)
    except Exception as e:  # report, never hide the verdict
        LOG.warning('could not delete canary server %s: %s', server_id, e)


def verify_images(conn, images, flavor, network, timeout, progress=None):
    outcomes = []
    for image in images:
        outcomes.append(verify_image(conn, image, flavor, network, timeout))
        if progress:
            progress(outcomes[-1])
    return outcomes
