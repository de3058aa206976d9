"""Inspect Glance images in place: Range reads, isolation, cache."""

import concurrent.futures
import logging
import os

import requests

from glance_virtio.services import glance
from glance_virtio import inspect as guest

LOG = logging.getLogger(__name__)
MIB = 1 << 20


def limits(config):
    section = config.inspect
    return {'max_read': section.max_read_mib * MIB,
            'max_memory_mb': section.max_memory_mib,
            'max_cpu_seconds': section.max_cpu_seconds,
            'timeout': section.timeout}


def opener(conn, image, max_read):
    """A callable giving a RangeFile over the image's data in Glance."""
    def fetch(offset, length):
        return glance.read_range(conn, image.id, offset, length)

    def open_image():
        # Runs in the forked child: never share the parent's pooled sockets.
        conn.session.session = requests.Session()
        return guest.RangeFile(fetch, image.size, max_read=max_read)
    return open_image


def error(image, message):
    return {'status': 'error', 'error': message, 'bytes_read': 0,
            'seconds': 0.0}


def inspect_image(conn, image, config, use_cache=True):
    """The inspection report for one Glance image; never raises."""
    if image.error:
        return error(image, image.error)
    if image.status != 'active' or not image.size:
        return error(image, 'image is %s with no data to inspect'
                     % (image.status or 'unknown'))
    store = guest.ResultCache(os.path.expanduser(config.inspect.cache_dir))
    key = image.content_hash
    if use_cache and key:
        cached = store.get(key)
        if cached is not None:
            return dict(cached, cached=True)
    lim = limits(config)
    report = guest.inspect_isolated(opener(conn, image, lim['max_read']),
                                    **lim)
    if key and report.get('status') == 'ok':
        store.put(key, report)
    return dict(report, cached=False)


def inspector(conn, config, use_cache=True):
    """A function giving an image's inspection report (watch --deep)."""
    return lambda image: inspect_image(conn, image, config, use_cache)


def inspect_images(conn, images, config, use_cache=True):
    """Reports by image id, a few images at a time."""
    workers = max(1, min(config.policy.concurrency, len(images) or 1))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        reports = pool.map(
            lambda i: inspect_image(conn, i, config, use_cache), images)
        return {image.id: report for image, report in zip(images, reports)}


def inspect_path(path, config):
    """The inspection report for a local disk image file."""
    lim = limits(config)

    def open_file():
        return open(path, 'rb')
    try:
        os.stat(path)
    except OSError as e:
        return error(None, 'cannot read %s: %s' % (path, e))
    return guest.inspect_isolated(open_file, **lim)


def inspect_all(conn, paths, images, config, use_cache=True):
    """[(id or path, name or path, report)]: the files, then the images."""
    found = [(path, path, inspect_path(path, config)) for path in paths]
    if images:
        reports = inspect_images(conn, images, config, use_cache)
        found += [(i.id, i.name, reports[i.id]) for i in images]
    return found
