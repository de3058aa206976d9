"""Audit: facts and findings for a set of images, as plain rows."""

from glance_virtio.knowledge import detect
from glance_virtio import model
from glance_virtio import plan
from glance_virtio.knowledge import rules
from glance_virtio.model import ERROR, READY, UNKNOWN


NONE_PROVEN = 'none proven'
_RECOMMENDED = rules.memo()


def recommend(facts, policy, catalogue=None):
    """(bus, why): the best disk bus `set` would accept for this image.

    Paravirtual buses whose driver the guest is known to have come first,
    then the emulated bus it is on, then sata and ide; each is planned as
    `set --bus` would plan it, and a bus the plan blocks is never offered.
    Images with the same rules.verdict_key share the answer.
    """
    if facts.image.error:
        return UNKNOWN, facts.image.error
    ctx = rules.Context(policy=policy, catalogue=catalogue or {})
    key = rules.verdict_key(facts, ctx)
    if key is not None:
        # What the plans' PER_IMAGE_RULES read: the names, the base.
        key = (key, rules.base_of(facts, ctx), tuple(
            filter(None, map(rules.typo_message, facts.image.properties))))
    if key is not None and key in _RECOMMENDED:
        return _RECOMMENDED[key]
    answer = _recommend(facts, policy, catalogue)
    if key is not None:
        rules.remember(_RECOMMENDED, key, answer)
    return answer


def _recommend(facts, policy, catalogue):
    order = [policy.preferred_bus] + [
        b for b in ('scsi', 'virtio') if b != policy.preferred_bus]
    candidates = [b for b in order if getattr(facts.readiness.get(
        rules.BUS_DRIVER[b]), 'state', None) == READY]
    if not candidates and facts.os.family == UNKNOWN:
        return UNKNOWN, 'guest OS unknown: no bus can be judged'
    current = facts.props.get('hw_disk_bus')
    candidates += [b for b in (current, 'sata', 'ide')
                   if b in ('sata', 'ide') and b not in candidates]
    # Errors the image has whatever its bus (GV022...) block `set` too, but
    # say nothing about the bus: they do not disqualify one.
    ctx = rules.Context(policy=policy, catalogue=catalogue or {})
    standing = {(f.rule, f.message) for f in rules.evaluate(facts, ctx)
                if f.severity == ERROR}
    refused = []
    for bus in candidates:
        change = plan.plan_one(facts.image, plan.Target(bus), policy,
                               catalogue, facts.inspection)
        errors = {(f.rule, f.message) for f in change.findings
                  if f.severity == ERROR}
        if change.action == plan.CHANGE or (
                change.action == plan.UNCHANGED and not errors):
            return bus, ''
        if change.action == plan.BLOCKED and errors <= standing:
            return bus, ('set blocks it until %s is fixed (not a bus '
                         'problem)' % ', '.join(sorted(r for r, _ in errors)))
        refused.append('%s: %s' % (bus, ', '.join(sorted(
            {r for r, _ in errors}))))
    why = ('no bus is safe (%s); inspect the image (--deep) or assert '
           'the drivers in virtio_drivers' % '; '.join(refused))
    return NONE_PROVEN, why


def worst(findings):
    if not findings:
        return 'ok'
    return max((f.severity for f in findings), key=model.severity_rank)


def row(facts, findings, policy, catalogue=None):
    """One audit row: plain, JSON-ready values with stable keys."""
    image, props = facts.image, facts.props
    recommended = recommend(facts, policy, catalogue)
    return {
        'id': image.id,
        'name': image.name,
        'owner': image.owner,
        'visibility': image.visibility,
        'status': image.status,
        'snapshot': image.is_snapshot,
        'os': facts.os.describe(),
        'os_family': facts.os.family,
        'os_source': facts.os.source,
        'os_confidence': facts.os.confidence,
        'hw_disk_bus': props.get('hw_disk_bus'),
        'hw_scsi_model': props.get('hw_scsi_model'),
        'hw_vif_model': props.get('hw_vif_model'),
        'machine_type': rules.machine_type(facts, policy),
        'readiness': {d: facts.readiness[d].state for d in model.DRIVERS
                      if d in facts.readiness},
        'readiness_reasons': {d: facts.readiness[d].reason
                              for d in model.DRIVERS
                              if d in facts.readiness},
        'recommended_bus': recommended[0],
        'recommended_why': recommended[1] or None,
        'severity': worst(findings),
        'findings': [{'rule': f.rule, 'severity': f.severity,
                      'message': f.message} for f in findings],
        'inspected': bool(facts.inspection),
    }


def audit(images, policy, catalogue=None, inspections=None):
    """Rows for images; catalogue maps ids to images for snapshot checks."""
    inspections = inspections or {}
    catalogue = dict(catalogue or {})
    catalogue.update({i.id: i for i in images})
    ctx = rules.Context(policy=policy, catalogue=catalogue)
    rows = []
    for image in images:
        facts = detect.facts(image, inspections.get(image.id))
        rows.append(row(facts, rules.evaluate(facts, ctx), policy,
                        catalogue))
    return rows


def failing(rows, threshold):
    """Rows with a finding at or above the threshold severity."""
    rank = model.severity_rank(threshold)
    return [r for r in rows if any(
        model.severity_rank(f['severity']) >= rank for f in r['findings'])]
