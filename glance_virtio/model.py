"""Plain data that flows between the stages of glance-virtio."""

import dataclasses
from typing import Mapping, Optional, Tuple

ERROR = 'error'
WARNING = 'warning'
INFO = 'info'
SEVERITIES = (INFO, WARNING, ERROR)

READY = 'ready'
NOT_READY = 'not-ready'
UNKNOWN = 'unknown'

DRIVERS = ('virtio_blk', 'virtio_scsi', 'virtio_net', 'sata', 'ide')


def severity_rank(severity):
    return SEVERITIES.index(severity)


@dataclasses.dataclass(frozen=True)
class Image:
    """What Glance says of one image."""

    id: str
    name: str = ''
    owner: str = ''
    visibility: str = ''
    status: str = ''
    checksum: Optional[str] = None
    size: Optional[int] = None
    disk_format: Optional[str] = None
    properties: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tags: Tuple[str, ...] = ()
    error: Optional[str] = None

    @property
    def is_snapshot(self):
        return self.properties.get('image_type') == 'snapshot'

    @property
    def base_image_id(self):
        return self.properties.get('base_image_ref') or None

    @property
    def content_hash(self):
        return self.properties.get('os_hash_value') or self.checksum


@dataclasses.dataclass(frozen=True)
class GuestOS:
    """The guest operating system and how it was known."""

    family: str = UNKNOWN  # linux, windows, other, unknown
    distro: Optional[str] = None
    version: Optional[str] = None
    source: str = 'none'  # property, name, inspection, none
    confidence: str = 'none'  # high, medium, low, none

    def describe(self):
        parts = [p for p in (self.distro or self.family, self.version) if p]
        return ' '.join(parts) if self.family != UNKNOWN else UNKNOWN


@dataclasses.dataclass(frozen=True)
class Readiness:
    """Whether a guest has one driver available at boot, and why."""

    state: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Facts:
    """Everything the rules look at for one image in one state."""

    image: Image
    os: GuestOS
    readiness: Mapping[str, Readiness]
    inspection: Optional[Mapping] = None
    effective: Optional[Mapping[str, str]] = None

    @property
    def props(self):
        """The properties as Nova reads them (legacy names mapped)."""
        if self.effective is None:
            return self.image.properties
        return self.effective


@dataclasses.dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Policy:
    """The operator's site policy, as plain values."""

    # [libvirt]hw_machine_type of the computes, per architecture; empty
    # when the site policy does not say.
    machine_types: Mapping[str, str] = dataclasses.field(
        default_factory=dict)
    default_scsi_model: str = 'virtio-scsi'
    preferred_bus: str = 'scsi'
    severity_overrides: Mapping[str, str] = dataclasses.field(
        default_factory=dict)
    disabled_rules: Tuple[str, ...] = ()
    allowed_rules: Tuple[str, ...] = ()

    @property
    def default_machine_type(self):
        """The x86_64 machine type: the policy's, else Nova's default."""
        return self.machine_types.get('x86_64', 'pc')


@dataclasses.dataclass(frozen=True)
class Change:
    """One image's planned change: properties to set and to remove."""

    image: Image
    set: Mapping[str, str]
    remove: Tuple[str, ...]
    action: str  # change, unchanged, blocked, skipped
    findings: Tuple[Finding, ...] = ()
    reason: str = ''

    @property
    def before(self):
        keys = list(self.set) + list(self.remove)
        return {k: self.image.properties.get(k) for k in keys}

    @property
    def after(self):
        after = {k: None for k in self.remove}
        after.update(self.set)
        return after
