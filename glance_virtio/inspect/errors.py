"""Exceptions of the guest-inspection library."""


class InspectError(Exception):
    """The image cannot be inspected; the message says why."""


class ReadLimitExceeded(InspectError):
    """Inspecting would read more of the image than allowed."""


class UnsupportedImage(InspectError):
    """The image format or layout is not supported or refused."""
