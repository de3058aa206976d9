"""netstub: empty answers to Nova's Neutron reads (see devcloud/netstub.py)."""

from devcloud.base import REPO
from devcloud.server import Service


class NetStub(Service):
    name = 'netstub'
    order = 35
    default_port = 29696
    app = 'devcloud.netstub:application'
    probe = '/v2.0/ports'

    def environ(self):
        return dict(super().environ(), PYTHONPATH=str(REPO / 'tools'))


SERVICE = NetStub()
