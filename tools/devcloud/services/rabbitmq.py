"""RabbitMQ (Debian's rabbitmq-server): the message bus of Nova and Cinder.

It runs as this user with its own node name, ports, cookie, database and
logs under the state directory, next to its own epmd (services/epmd.py),
so it neither needs systemd nor meets a system RabbitMQ.
"""

import shutil
import socket

from devcloud.base import DATA, HOST, Fail, write_private
from devcloud.install import apt_install
from devcloud.server import Service
from devcloud.services.epmd import SERVICE as EPMD

SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'


class RabbitMQ(Service):
    name = 'rabbitmq'
    order = 2
    default_port = 25772
    probe = None

    @property
    def home(self):
        return DATA / 'rabbitmq'

    def transport_url(self, cloud):
        return 'rabbit://devcloud:%s@%s:%d/' % (
            cloud.pw['rabbitmq'], HOST, self.port)

    def configure(self, cloud):
        if not shutil.which(SERVER):
            apt_install('rabbitmq-server')
        for d in ('mnesia', 'log'):
            (self.home / d).mkdir(parents=True, exist_ok=True)
        write_private(self.etc / 'rabbitmq.conf', '\n'.join([
            'listeners.tcp.default = %s:%d' % (HOST, self.port),
            'default_user = devcloud',
            'default_pass = %s' % cloud.pw['rabbitmq'],
            'loopback_users = none',
            # A small disk is not a reason to stop the cloud's bus.
            'disk_free_limit.absolute = 50MB',
            'log.console = true', 'log.file = false', '']))
        (self.etc / 'enabled_plugins').write_text('[].\n')

    def environ(self):
        env = super().environ()
        env.update({
            'HOME': str(self.home),  # its .erlang.cookie
            'RABBITMQ_NODENAME': 'devcloud%d@localhost' % self.port,
            'RABBITMQ_NODE_IP_ADDRESS': HOST,
            'RABBITMQ_NODE_PORT': str(self.port),
            'RABBITMQ_DIST_PORT': str(self.port + 1),
            'ERL_EPMD_PORT': str(EPMD.port),
            'ERL_EPMD_ADDRESS': HOST,
            'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS': (
                '-start_epmd false '
                '-kernel inet_dist_use_interface {127,0,0,1}'),
            'RABBITMQ_MNESIA_BASE': str(self.home / 'mnesia'),
            'RABBITMQ_LOG_BASE': str(self.home / 'log'),
            'RABBITMQ_LOGS': '-',
            'RABBITMQ_CONFIG_FILE': str(self.etc / 'rabbitmq.conf'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': str(
                self.etc / 'enabled_plugins'),
            'RABBITMQ_PID_FILE': str(self.home / 'beam.pid'),
        })
        return env

    def command(self):
        return [SERVER]

    def check_port(self):
        super().check_port()
        self.port += 1
        try:
            super().check_port()  # its Erlang distribution port
        finally:
            self.port -= 1

    def answers(self, timeout=2):
        """200 once the broker speaks AMQP (the protocol header echo)."""
        with socket.create_connection((HOST, self.port), timeout) as s:
            s.settimeout(timeout)
            s.sendall(b'AMQP\x00\x00\x09\x01')
            if not s.recv(8):
                raise OSError('no AMQP greeting')
        return 200

    def smoke(self, cloud):
        if self.answers() != 200:
            raise Fail('rabbitmq does not answer on %s:%d' % (
                HOST, self.port))

    def info(self):
        return {'rabbitmq_port': self.port}


SERVICE = RabbitMQ()
