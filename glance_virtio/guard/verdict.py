"""The guard's verdict on one import: plain data in, plain data out.

The same facts and rules as `audit`: the inspection report of the staged
disk, the properties the uploader set, the site policy.
"""

import dataclasses
from typing import Mapping, Optional, Tuple

from glance_virtio import audit
from glance_virtio.knowledge import detect
from glance_virtio import model
from glance_virtio.knowledge import rules

ENFORCE = 'enforce'
REJECT = 'reject'


@dataclasses.dataclass(frozen=True)
class Settings:
    """The [glance_virtio_guard] options that decide, as plain values."""

    mode: str = ENFORCE
    fill: Tuple[str, ...] = ('os_type', 'os_distro', 'virtio_drivers')
    ignore: Tuple[str, ...] = ()
    on_inspection_error: str = 'allow'
    policy: model.Policy = model.Policy()


@dataclasses.dataclass(frozen=True)
class Verdict:
    refuse: bool
    fill: Mapping[str, str]
    findings: Tuple[model.Finding, ...]
    result: str
    message: str
    inspection_error: Optional[str] = None


def proven(report, image, settings):
    """Properties the inspection proved that the uploader left unset."""
    if not report or report.get('status') != 'ok':
        return {}
    found = report.get('os') or {}
    family = found.get('family')
    props = image.properties
    filled = {}
    if family in ('linux', 'windows'):
        filled['os_type'] = family
        if found.get('distro'):
            filled['os_distro'] = found['distro']
        if found.get('version'):
            filled['os_version'] = found['version']
    if family == 'windows':
        ready = [detect.WINDOWS_DRIVERS[d] for d in ('virtio_blk',
                                                     'virtio_scsi',
                                                     'virtio_net')
                 if (report.get('drivers') or {}).get(d, {}).get(
                     'state') == 'ready']
        if ready:
            filled['virtio_drivers'] = ','.join(ready)
    filled = {k: v for k, v in filled.items()
              if k in settings.fill and k not in props}
    if 'hw_disk_bus' in settings.fill and 'hw_disk_bus' not in props:
        filled.update(_bus(report, image, filled, settings))
    return filled


def _bus(report, image, filled, settings):
    facts = detect.facts(_with(image, filled), report)
    bus, _ = audit.recommend(facts, settings.policy)
    if bus not in rules.BUS_DRIVER:
        return {}
    if bus == 'scsi' and 'hw_scsi_model' not in image.properties:
        return {'hw_disk_bus': bus,
                'hw_scsi_model': settings.policy.default_scsi_model}
    return {'hw_disk_bus': bus}


def _with(image, props):
    return dataclasses.replace(image, properties=dict(image.properties,
                                                      **props))


def judge(image, report, settings=Settings()):
    """The Verdict on image (a model.Image) given its inspection report."""
    error = None
    if not report or report.get('status') != 'ok':
        error = (report or {}).get('error') or 'no inspection result'
        report = None
    fill = proven(report, image, settings)
    policy = dataclasses.replace(
        settings.policy, disabled_rules=tuple(
            settings.policy.disabled_rules) + tuple(
                r.upper() for r in settings.ignore))
    facts = detect.facts(_with(image, fill), report)
    findings = tuple(rules.evaluate(facts, rules.Context(policy=policy)))
    errors = sorted({f.rule for f in findings
                     if f.severity == model.ERROR})
    enforce = settings.mode == ENFORCE
    if error and settings.on_inspection_error == REJECT:
        why = 'the disk could not be inspected: %s' % error
        return Verdict(enforce, fill, findings,
                       ('refused: ' if enforce else 'error: ')
                       + 'uninspected', _refusal(why, findings),
                       error)
    if errors:
        return Verdict(enforce, fill, findings,
                       '%s: %s' % ('refused' if enforce else 'error',
                                   ','.join(errors)),
                       _refusal(None, findings), error)
    if error:
        return Verdict(False, fill, findings, 'uninspected: %s'
                       % error[:200], '', error)
    warnings = sorted({f.rule for f in findings})
    result = 'warning: %s' % ','.join(warnings) if warnings else 'ok'
    return Verdict(False, fill, findings, result, '', None)


def _refusal(why, findings):
    """The one-line message the uploader reads in the import task."""
    parts = [why] if why else []
    parts += ['%s %s' % (f.rule, f.message) for f in findings
              if f.severity == model.ERROR]
    return ('glance_virtio_guard refused the image: %s. Fix the image '
            'properties (or the disk), stage the data again and import '
            'again.' % '; '.join(parts))
