"""Audit: facts and findings for a set of images, as plain rows."""

from glance_virtio import detect
from glance_virtio import model
from glance_virtio import rules
from glance_virtio.model import READY, UNKNOWN


def recommend(facts, policy):
    """The best disk bus whose driver the guest is known to have."""
    if facts.image.error:
        return UNKNOWN
    order = [policy.preferred_bus] + [
        b for b in ('scsi', 'virtio') if b != policy.preferred_bus]
    for bus in order:
        verdict = facts.readiness.get(rules.BUS_DRIVER[bus])
        if verdict is not None and verdict.state == READY:
            return bus
    if facts.os.family == UNKNOWN:
        return UNKNOWN
    # Nothing paravirtual is proven: keep the emulated bus the guest has.
    current = facts.props.get('hw_disk_bus')
    q35 = rules.is_q35(facts, policy)
    if current == 'sata' or (current == 'ide' and not q35):
        return current
    return 'sata' if q35 else 'ide'


def worst(findings):
    if not findings:
        return 'ok'
    return max((f.severity for f in findings), key=model.severity_rank)


def row(facts, findings, policy):
    """One audit row: plain, JSON-ready values with stable keys."""
    image, props = facts.image, facts.props
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
        'recommended_bus': recommend(facts, policy),
        'severity': worst(findings),
        'findings': [f.to_dict() for f in findings],
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
        rows.append(row(facts, rules.evaluate(facts, ctx), policy))
    return rows


def failing(rows, threshold):
    """Rows with a finding at or above the threshold severity."""
    rank = model.severity_rank(threshold)
    return [r for r in rows if any(
        model.severity_rank(f['severity']) >= rank for f in r['findings'])]
