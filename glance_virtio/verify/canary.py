"""Verify Glance images by booting canaries: fetch, vet, boot, several at once.

Each image is copied once into a local cache, named by its checksum and
checked against it, then vetted with the inspection code's format checks
(a backing file or an external data file is refused and never followed:
Nova refuses them too). The canary boots that copy read-only through a
throwaway overlay (runner.py).
"""

import concurrent.futures
import dataclasses
import hashlib
import logging
import os
import sys
from typing import Optional

from glance_virtio.services import glance
from glance_virtio.verify import console
from glance_virtio.verify import devices
from glance_virtio.verify import runner

LOG = logging.getLogger(__name__)

CHUNK = 1 << 20
DEFAULT_CACHE = '~/.cache/glance-virtio/canary'


@dataclasses.dataclass(frozen=True)
class Target:
    """The properties to boot on; all None: the image's current ones."""

    bus: Optional[str] = None
    scsi_model: Optional[str] = None
    machine_type: Optional[str] = None


@dataclasses.dataclass
class Outcome:
    image_id: str
    name: str
    result: runner.Result
    error: Optional[str] = None

    @property
    def verdict(self):
        return self.result.verdict.verdict

    def to_record(self):
        """What the journal keeps of one canary."""
        v, plan = self.result.verdict, self.result.plan
        return {'image': self.image_id, 'name': self.name,
                'verdict': v.verdict, 'marker': v.marker,
                'evidence': list(v.evidence), 'reason': v.reason,
                'seconds': self.result.seconds, 'accel': self.result.accel,
                'booted_on': plan.booted_on if plan else None,
                'devices': list(plan.devices) if plan else [],
                'error': self.error}


def default_workers():
    """One TCG canary keeps a core busy: half the cores, at least one."""
    return max(1, (os.cpu_count() or 2) // 2)


def _unknown(reason):
    return runner.Result(console.Verdict(console.UNKNOWN, None, (), reason),
                         0.0, 'none')


def _failed(marker, line):
    return runner.Result(console.Verdict(console.FAILED, marker, (line,)),
                         0.0, 'none')


def hash_of(image):
    """(hashlib name, expected hex digest) Glance gives for the data."""
    algo = image.properties.get('os_hash_algo')
    value = image.properties.get('os_hash_value')
    if algo and value and algo in hashlib.algorithms_available:
        return algo, value
    if image.checksum:
        return 'md5', image.checksum
    return None, None


def local_copy(conn, image, cache_dir):
    """Path of a verified local copy of the image's data (cached)."""
    algo, expected = hash_of(image)
    if not expected:
        raise glance.GlanceError('Glance gives no checksum for the image '
                                 'data: cannot cache or verify a copy')
    directory = os.path.expanduser(cache_dir)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, '%s-%s.img' % (algo, expected))
    if os.path.exists(path):
        return path
    digest = hashlib.new(algo)
    part = '%s.%d.part' % (path, os.getpid())
    resp = conn.image.request('/images/%s/file' % image.id, 'GET',
                              stream=True, raise_exc=False)
    try:
        if resp.status_code != 200:
            raise glance.GlanceError('GET /images/%s/file: HTTP %s'
                                     % (image.id, resp.status_code),
                                     resp.status_code)
        with open(part, 'wb') as out:
            for chunk in resp.iter_content(CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        if os.path.exists(part):
            os.unlink(part)
        raise
    finally:
        resp.close()
    if digest.hexdigest() != expected:
        os.unlink(part)
        raise glance.GlanceError('the downloaded data does not match the '
                                 'image %s %s' % (algo, expected))
    os.rename(part, path)
    return path


def vet(path):
    """(QEMU-ready format name, virtual size) or UnsupportedImage."""
    # Imported here: every command loads this module, few inspect.
    from glance_virtio.inspect import blockdev
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        disk = blockdev.open_disk(f, size)
    return disk.format, disk.virtual_size


def boot_file(path, props, target, options, name, default_machine='pc',
              default_scsi_model=None):
    """runner.Result of one local image file on the target properties."""
    from glance_virtio.inspect import errors as inspect_errors
    try:
        fmt, virtual_size = vet(path)
    except inspect_errors.InspectError as e:
        return _failed('refused by the format check',
                       'the image is refused (Nova refuses it too): %s' % e)
    scsi_model = target.scsi_model or (
        default_scsi_model if target.bus == 'scsi' else None)
    state = devices.target(props, target.bus, scsi_model,
                           target.machine_type, default_machine)
    wanted = props
    if target.bus:
        wanted = devices.explain.target_properties(
            props, target.bus, scsi_model, target.machine_type)
    return runner.boot(path, fmt, virtual_size, state,
                       devices.firmware(wanted), options, name)


def verify_image(conn, image, target, options, policy, cache_dir):
    """The Outcome of one Glance image; never raises for the image."""
    if image.error:
        return Outcome(image.id, image.name, _unknown(image.error),
                       image.error)
    if image.status != 'active':
        reason = 'image is %s: no data to boot' % (image.status or 'unknown')
        return Outcome(image.id, image.name, _unknown(reason), reason)
    try:
        path = local_copy(conn, image, cache_dir)
    except (glance.GlanceError, OSError) as e:
        reason = 'cannot fetch the image data: %s' % e
        return Outcome(image.id, image.name, _unknown(reason), reason)
    try:
        result = boot_file(path, image.properties, target, options,
                           _safe_name(image), policy.machine_types,
                           policy.default_scsi_model)
    except (runner.QemuMissing, OSError) as e:
        return Outcome(image.id, image.name, _unknown(str(e)), str(e))
    return Outcome(image.id, image.name, result)


def _safe_name(image):
    return image.id if not image.name else '%s-%s' % (
        ''.join(c if c.isalnum() or c in '-_.' else '_'
                for c in image.name)[:40], image.id)


def verify_images(conn, images, target, options, policy, cache_dir,
                  concurrency=None, progress=None):
    """Outcomes in input order, ``concurrency`` canaries at a time."""
    workers = max(1, min(concurrency or default_workers(), len(images) or 1))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(verify_image, conn, image, target, options,
                               policy, cache_dir) for image in images]
        outcomes = []
        for future in futures:
            outcomes.append(future.result())
            if progress:
                progress(outcomes[-1])
        return outcomes


def progress(outcome):
    """The line a finished canary writes on stderr."""
    sys.stderr.write('canary %s %s: %s%s\n' % (
        outcome.image_id, outcome.name, outcome.verdict,
        ' (%s)' % outcome.result.verdict.marker
        if outcome.result.verdict.marker else ''))


def exit_code(outcomes, strict=False):
    """4 if a canary failed or could not run, 5 (4 with strict) if unknown."""
    if any(o.verdict == console.FAILED or o.error for o in outcomes):
        return 4
    if any(o.verdict == console.UNKNOWN for o in outcomes):
        return 4 if strict else 5
    return 0
