"""epmd: the Erlang port mapper of the devcloud's own RabbitMQ.

Started by devcloud (RabbitMQ is told not to start one), so `stop` ends it.
"""

import shutil
import socket

from devcloud.base import HOST
from devcloud.install import apt_install
from devcloud.server import Service


class Epmd(Service):
    name = 'epmd'
    order = 1
    default_port = 25769

    def configure(self, cloud):
        if not shutil.which('epmd'):
            apt_install('rabbitmq-server')

    def command(self):
        return [shutil.which('epmd'), '-port', str(self.port),
                '-address', HOST]

    def answers(self, timeout=2):
        socket.create_connection((HOST, self.port), timeout).close()
        return 200


SERVICE = Epmd()
