"""virtio-watch: judge each image as Glance announces its changes."""

import datetime
import logging
import os
import queue
import signal
import sys
import threading

from cliff import command
from osc_lib import exceptions

from glance_virtio import changes
from glance_virtio.services import glance
from glance_virtio import watch
from glance_virtio.cli import audit as audit_cli
from glance_virtio.cli import common

LOG = logging.getLogger(__name__)

URL_ENV = 'GLANCE_VIRTIO_TRANSPORT_URL'
EXAMPLES = '''\
{cmd} --state /var/lib/glance-virtio/watch.json
{cmd} --output findings.jsonl --prometheus /var/lib/node_exporter/gv.prom
{cmd} --since 1d --fail-on error'''
CODES = common._codes(
    'stopped by SIGTERM or SIGINT',
    '3  a finding at or above --fail-on (its line is the last one)')


class Watch(command.Command):
    """Judge each image Glance notifies a change of, one JSON line each"""

    auth_required = False
    command = 'watch'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.formatter_class = common.EpilogFormatter
        parser.add_argument('--output', metavar='<file>',
                            help='Append the JSON lines to this file '
                                 '(default: stdout)')
        parser.add_argument('--state', metavar='<file>',
                            help='Remember the mark and the states already '
                                 'judged here, so that a restarted watcher '
                                 'reports what it missed, and nothing twice')
        parser.add_argument('--since', metavar='<time|duration>',
                            help='Without a state: report the images '
                                 'changed since then first (default: only '
                                 'changes from now on)')
        common.severity_choice(parser, 'none: the watcher runs until '
                                       'stopped')
        common.add_deep(parser)
        audit_cli.add_prometheus(parser)
        parser.add_argument('--transport-url', metavar='<url>',
                            help='oslo.messaging URL of the bus Glance '
                                 'notifies on (default: env %s, else site '
                                 'policy [watch] transport_url)' % URL_ENV)
        parser.add_argument('--topic', metavar='<topic>',
                            help='Notification topic (default: site policy '
                                 '[watch] topic, glance_virtio)')
        parser.add_argument('--reconcile-interval', metavar='<seconds>',
                            type=common.positive_int,
                            help='Seconds between listings of what changed '
                                 '(default: site policy [watch] '
                                 'reconcile_interval, 300)')
        return parser

    def get_epilog(self):
        return common.epilog(EXAMPLES.format(cmd=common.invoked(self)),
                             CODES)

    def take_action(self, parsed_args):
        config = common.load_conf(self.app)
        policy = common.load_policy(self.app)
        url = (parsed_args.transport_url or os.environ.get(URL_ENV)
               or config.watch.transport_url)
        if not url:
            raise exceptions.CommandError(
                'no transport URL: give --transport-url, set %s or [watch] '
                'transport_url in the site policy file' % URL_ENV)
        try:
            state = changes.load_state(parsed_args.state)
            if not state.mark:
                state.mark = changes.parse_since(parsed_args.since) \
                    if parsed_args.since else changes.isoformat(
                        datetime.datetime.now(datetime.timezone.utc))
        except ValueError as e:
            raise exceptions.CommandError(str(e))
        conn = common.connection(self.app)
        out = open(parsed_args.output, 'a') if parsed_args.output \
            else sys.stdout
        watcher = watch.Watcher(
            conn, policy, state, out, state_path=parsed_args.state,
            fail_on=parsed_args.fail_on,
            inspect=deep(conn, config, parsed_args),
            prometheus=parsed_args.prometheus,
            per_image=parsed_args.prometheus_images)
        events = queue.Queue()
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        try:
            listener, reconnected = watch.listen(
                url, events, parsed_args.topic or config.watch.topic,
                config.watch.exchange)
        except Exception as e:
            raise exceptions.CommandError(
                'cannot listen for notifications: %s'
                % glance.one_line(e).replace(url, '<transport url>'))
        try:
            if parsed_args.prometheus:
                watcher.seed()
            watcher.run(events, reconnected,
                        parsed_args.reconcile_interval
                        or config.watch.reconcile_interval, stop)
        except watch.Stop as e:
            LOG.info('stopping at a finding of %s or worse: %s',
                     parsed_args.fail_on, e)
            return common.EXIT_FINDINGS
        except glance.GlanceError as e:
            watcher.write_prometheus(success=False)
            raise exceptions.CommandError(str(e))
        finally:
            listener.stop()
            listener.wait()
            if out is not sys.stdout:
                out.close()
        return 0


def deep(conn, config, parsed_args):
    """With --deep, a function giving an image's inspection report."""
    if not parsed_args.deep:
        return None
    from glance_virtio import inspection

    def inspect(image):
        return inspection.inspect_image(conn, image, config,
                                        use_cache=not parsed_args.no_cache)
    return inspect
