"""virtio-watch: judge each image as Glance announces its changes."""

import logging
import sys

from cliff import command
from osc_lib import exceptions

from glance_virtio.cli import audit as audit_cli
from glance_virtio.cli import common
from glance_virtio import engine
from glance_virtio.services import glance
from glance_virtio import watch

LOG = logging.getLogger(__name__)


class Watch(common.Help, command.Command):
    """Judge each image Glance notifies a change of, one JSON line each"""

    command = 'watch'

    def add_options(self, parser):
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
                                 'policy [watch] transport_url)'
                            % watch.URL_ENV)
        parser.add_argument('--topic', metavar='<topic>',
                            help='Notification topic (default: site policy '
                                 '[watch] topic, glance_virtio)')
        parser.add_argument('--reconcile-interval', metavar='<seconds>',
                            type=common.positive_int,
                            help='Seconds between listings of what changed '
                                 '(default: site policy [watch] '
                                 'reconcile_interval, 300)')

    def take_action(self, parsed_args):
        args = parsed_args
        config = common.load_conf(self.app)
        policy = common.load_policy(self.app)
        url = watch.transport_url(args.transport_url, config)
        if not url:
            raise exceptions.CommandError(
                'no transport URL: give --transport-url, set %s or [watch] '
                'transport_url in the site policy file' % watch.URL_ENV)
        try:
            state = watch.start_state(args.state, args.since)
        except ValueError as e:
            raise exceptions.CommandError(str(e))
        conn = common.connection(self.app)
        inspect = None
        if args.deep:
            from glance_virtio import inspection
            inspect = inspection.inspector(conn, config, not args.no_cache)
        out = open(args.output, 'a') if args.output else sys.stdout
        watcher = watch.Watcher(
            conn, policy, state, out, state_path=args.state,
            fail_on=args.fail_on, inspect=inspect,
            prometheus=args.prometheus, per_image=args.prometheus_images)
        try:
            watch.serve(watcher, url, args.topic or config.watch.topic,
                        config.watch.exchange, args.reconcile_interval
                        or config.watch.reconcile_interval,
                        seed=bool(args.prometheus))
        except watch.CannotListen as e:
            raise exceptions.CommandError(
                'cannot listen for notifications: %s' % e)
        except watch.Stop as e:
            LOG.info('stopping at a finding of %s or worse: %s',
                     args.fail_on, e)
            return engine.EXIT_FINDINGS
        except glance.GlanceError as e:
            raise exceptions.CommandError(str(e))
        finally:
            if out is not sys.stdout:
                out.close()
        return 0
