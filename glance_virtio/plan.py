"""Plan a bus change: target properties per image, judged by the rules."""

import dataclasses
from typing import Optional

from glance_virtio.knowledge import detect
from glance_virtio import journal
from glance_virtio import model
from glance_virtio.knowledge import rules
from glance_virtio.model import ERROR

CHANGE = 'change'
UNCHANGED = 'unchanged'
BLOCKED = 'blocked'
SKIPPED = 'skipped'


@dataclasses.dataclass(frozen=True)
class Target:
    """What the operator asked for."""

    bus: str
    scsi_model: Optional[str] = None
    vif_model: Optional[str] = None
    machine_type: Optional[str] = None
    fill_os_type: bool = False


def desired(image, target, policy, guest=None):
    """(set, remove): the properties that put image in the target state."""
    props = image.properties
    want = {'hw_disk_bus': target.bus}
    remove = []
    if 'vmware_adaptertype' in props:
        # Nova reads it as hw_disk_bus plus hw_scsi_model (image_meta.py
        # _set_attr_from_legacy_names): left behind, it adds its controller.
        remove.append('vmware_adaptertype')
    if target.bus == 'scsi':
        want['hw_scsi_model'] = target.scsi_model or policy.default_scsi_model
    elif 'hw_scsi_model' in props and 'scsi' not in (
            props.get('hw_cdrom_bus'), props.get('hw_rescue_bus')):
        remove.append('hw_scsi_model')
    if target.vif_model:
        want['hw_vif_model'] = target.vif_model
    if target.machine_type:
        want['hw_machine_type'] = target.machine_type
    if target.fill_os_type and guest is not None and \
            guest.confidence == 'high':
        if guest.family in ('linux', 'windows') and 'os_type' not in props:
            want['os_type'] = guest.family
        if guest.distro and 'os_distro' not in props:
            want['os_distro'] = guest.distro
    to_set = {k: v for k, v in want.items() if props.get(k) != v}
    return to_set, tuple(remove)


def apply_to(image, to_set, remove):
    props = {k: v for k, v in image.properties.items() if k not in remove}
    props.update(to_set)
    return dataclasses.replace(image, properties=props)


def plan_one(image, target, policy, catalogue=None, inspection=None):
    """The Change for one image."""
    if image.error:
        return model.Change(image, {}, (), SKIPPED, reason=image.error)
    before = detect.facts(image, inspection)
    to_set, remove = desired(image, target, policy, before.os)
    after = detect.facts(apply_to(image, to_set, remove), inspection)
    ctx = rules.Context(policy=policy, catalogue=catalogue or {},
                        before=before)
    findings = tuple(rules.evaluate(after, ctx))
    if not to_set and not remove:
        return model.Change(image, {}, (), UNCHANGED, findings,
                            'already in the target state')
    blocking = [f for f in findings
                if f.severity == ERROR and f.rule not in policy.allowed_rules]
    if blocking:
        reason = '; '.join('%s: %s' % (f.rule, f.message) for f in blocking)
        return model.Change(image, to_set, remove, BLOCKED, findings, reason)
    return model.Change(image, to_set, remove, CHANGE, findings)


def make_plan(images, target, policy, catalogue=None, inspections=None):
    """A Change for every image, in the order given."""
    catalogue = dict(catalogue or {})
    catalogue.update({i.id: i for i in images})
    inspections = inspections or {}
    return [plan_one(i, target, policy, catalogue, inspections.get(i.id))
            for i in images]


def summary(changes):
    counts = {CHANGE: 0, UNCHANGED: 0, BLOCKED: 0, SKIPPED: 0}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    return counts


def skip_hand_changed(changes, followed, source_of):
    """changes, a copy changed by hand since its image's change SKIPPED.

    followed maps image ids to their journal entry (journal.followed);
    source_of(change) is the id of the image the copy came from.
    """
    out = []
    for change in changes:
        entry = followed.get(source_of(change))
        why = None
        if entry is not None and change.action == CHANGE:
            why = journal.hand_changed(change.image.properties, entry)
        out.append(change if why is None else model.Change(
            change.image, {}, (), SKIPPED, change.findings, why))
    return out
