"""Watch the catalogue: judge each image as Glance announces its changes.

Glance's notifications (oslo.messaging, exchange glance) only say that an
image changed: the watcher reads the image from Glance and judges it with
the facts and rules `audit` uses. What it missed while it was away, it
finds with GET /v2/images?updated_at=gte:<mark>, on start, after the bus
reconnects and every reconcile interval.
"""

import datetime
import json
import logging
import os
import queue
import signal
import threading
import time
import warnings

from glance_virtio import audit
from glance_virtio import changes
from glance_virtio.services import glance
from glance_virtio import report

LOG = logging.getLogger(__name__)

TOPIC = 'glance_virtio'
URL_ENV = 'GLANCE_VIRTIO_TRANSPORT_URL'
EXCHANGE = 'glance'
DELETED = 'image.delete'
# Events that never change what is judged: downloads, upload starts.
IGNORED = ('image.send', 'image.prepare')
RECONCILE = 'reconcile'
# Listed again before the mark: Glance API workers may notify out of order.
MARGIN = datetime.timedelta(seconds=60)
# oslo.messaging's rabbit driver logs this after a reconnection (oslo.log
# names its logger with the distribution's name).
RECONNECTED = 'Reconnected to AMQP server'
RABBIT_LOGGER = 'oslo.messaging._drivers.impl_rabbit'


class Stop(Exception):
    """A finding at or above --fail-on: the watcher stops."""

    def __init__(self, line):
        super().__init__('%s: %s' % (line['id'], line['severity']))
        self.line = line


class Endpoint:
    """oslo.messaging's listener calls info(); events go to a queue."""

    def __init__(self, events):
        self.events = events

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        if isinstance(payload, dict) and event_type.startswith('image.'):
            self.events.put((event_type, payload))

    warn = error = info


class Reconnections(logging.Handler):
    """Sets an event when the rabbit driver says it reconnected."""

    def __init__(self, flag):
        super().__init__(logging.INFO)
        self.flag = flag

    def emit(self, record):
        if RECONNECTED in str(record.msg):
            self.flag.set()


def listen(transport_url, events, topic=TOPIC, exchange=EXCHANGE):
    """Start a notification listener putting (event, payload) on events.

    Returns the listener (stop() and wait() it) and the flag set on every
    reconnection.
    """
    # oslo.messaging's executors load oslo.service, which says it loads
    # eventlet (it does not patch anything): not the operator's business.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    logging.getLogger('oslo_service').setLevel(logging.WARNING)
    import oslo_messaging
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    conf([], project='glance-virtio-watch', default_config_files=[])
    transport = oslo_messaging.get_notification_transport(
        conf, url=transport_url)
    target = oslo_messaging.Target(topic=topic, exchange=exchange)
    listener = oslo_messaging.get_notification_listener(
        transport, [target], [Endpoint(events)], executor='threading')
    flag = threading.Event()
    logging.getLogger(RABBIT_LOGGER).addHandler(Reconnections(flag))
    listener.start()
    return listener, flag


class Watcher:
    """Judges changed images once per distinct state and reports them."""

    def __init__(self, conn, policy, state, out, state_path=None,
                 fail_on=None, inspect=None, prometheus=None,
                 per_image=False):
        self.conn = conn
        self.policy = policy
        self.state = state
        self.out = out
        self.state_path = state_path
        self.fail_on = fail_on
        self.inspect = inspect
        self.prometheus = prometheus
        self.per_image = per_image
        self.view = {}  # id: audit row, for the Prometheus textfile
        self.started = time.time()
        self.last_reconcile = 0.0

    def seed(self):
        """Judge the whole catalogue quietly: the textfile's first view."""
        images = list(glance.list_images(self.conn, {'visibility': 'all'}))
        active = [i for i in images if i.status == 'active']
        catalogue = {i.id: i for i in images}
        for row in audit.audit(active, self.policy, catalogue):
            self.view[row['id']] = row
        self.write_prometheus()

    def reconcile(self):
        """Judge what changed since the mark; advance the mark."""
        clock = time.monotonic()
        query = {'visibility': 'all'}
        if self.state.mark:
            since = changes.parse_time(self.state.mark) - MARGIN
            query['updated_at'] = 'gte:' + changes.isoformat(since)
        LOG.info('reconciling images updated since %s',
                 query.get('updated_at', 'ever'))
        newest = None
        for body in glance.list_image_bodies(self.conn, query):
            self.consider(glance.to_image(body), RECONCILE)
            newest = changes.later(newest, body.get('updated_at'))
        self.state.advance(newest)
        self.save()
        self.last_reconcile = time.monotonic()
        LOG.info('reconciled in %.1f s', self.last_reconcile - clock)

    def handle(self, event, payload):
        """One notification: the image as Glance has it now is judged."""
        image_id = payload.get('id')
        if not image_id or event in IGNORED:
            return
        if event == DELETED:
            self.state.forget(image_id)
            self.view.pop(image_id, None)
            self.write_prometheus()
        else:
            try:
                image = glance.get_image(self.conn, image_id)
            except glance.CloudError:
                raise
            except glance.GlanceError as e:
                if e.status != 404:
                    # The mark stays; the next reconcile (now) reads it.
                    LOG.warning('%s %s: cannot read the image, listing the '
                                'changes again: %s', event, image_id, e)
                    self.last_reconcile = 0.0
                    return
                LOG.debug('%s %s: gone before it was read', event, image_id)
                self.state.forget(image_id)
                image = None
            if image is not None:
                self.consider(image, event)
        self.state.advance(payload.get('updated_at'))
        self.save()

    def consider(self, image, event):
        if image.status != 'active' or not self.state.is_new(image):
            return
        catalogue = {}
        if image.is_snapshot and image.base_image_id:
            try:
                catalogue[image.base_image_id] = glance.get_image(
                    self.conn, image.base_image_id)
            except glance.CloudError:
                raise
            except glance.GlanceError as e:
                LOG.info('base image %s not readable: %s',
                         image.base_image_id, e)
        inspections = None
        if self.inspect:
            inspections = {image.id: self.inspect(image)}
        row = audit.audit([image], self.policy, catalogue, inspections)[0]
        line = judged_line(row, event)
        self.out.write(json.dumps(line, sort_keys=True) + '\n')
        self.out.flush()
        self.state.judged(image)
        self.save()
        self.view[image.id] = row
        self.write_prometheus()
        if self.fail_on and audit.failing([row], self.fail_on):
            raise Stop(line)

    def save(self):
        if self.state_path:
            changes.save_state(self.state_path, self.state)

    def write_prometheus(self, success=True):
        if not self.prometheus:
            return
        now = time.time()
        text = report.prometheus(
            list(self.view.values()), 'watch', now, now - self.started,
            success, per_image=self.per_image)
        report.write_textfile(self.prometheus, text)

    def run(self, events, reconnected, interval, stop=None):
        """Reconcile, then judge events until stop is set; Stop on fail-on."""
        stop = stop or threading.Event()
        self.reconcile()
        while not stop.is_set():
            due = time.monotonic() - self.last_reconcile >= interval
            if due or reconnected.is_set():
                reconnected.clear()
                self.reconcile()
            try:
                event, payload = events.get(timeout=1)
            except queue.Empty:
                continue
            self.handle(event, payload)


class CannotListen(Exception):
    """The bus cannot be listened on; the message names no transport URL."""


def transport_url(given, config):
    """given, else env GLANCE_VIRTIO_TRANSPORT_URL, else [watch]'s; or None."""
    return given or os.environ.get(URL_ENV) or config.watch.transport_url


def start_state(path, since=None):
    """The state kept at path, else a new one marked at since or now.

    ValueError for an unreadable state or a bad since.
    """
    state = changes.load_state(path)
    if not state.mark:
        state.mark = changes.parse_since(since) if since else \
            changes.isoformat(datetime.datetime.now(datetime.timezone.utc))
    return state


def serve(watcher, url, topic, exchange, interval, seed=False):
    """Listen on the bus and judge until SIGTERM or SIGINT.

    CannotListen if the bus cannot be listened on; Stop at a finding of
    fail_on or worse; a GlanceError as Glance's (the textfile then says
    the run failed).
    """
    events = queue.Queue()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        listener, reconnected = listen(url, events, topic, exchange)
    except Exception as e:
        raise CannotListen(glance.one_line(e).replace(url, '<transport url>'))
    try:
        if seed:
            watcher.seed()
        watcher.run(events, reconnected, interval, stop)
    except glance.GlanceError:
        watcher.write_prometheus(success=False)
        raise
    finally:
        listener.stop()
        listener.wait()


def judged_line(row, event):
    """The JSON line for one judged image."""
    return {
        'id': row['id'], 'name': row['name'], 'owner': row['owner'],
        'visibility': row['visibility'], 'event': event, 'os': row['os'],
        'inspected': row['inspected'],
        'hw_disk_bus': row['hw_disk_bus'],
        'hw_scsi_model': row['hw_scsi_model'],
        'severity': row['severity'], 'findings': row['findings'],
        'recommended_bus': row['recommended_bus'],
        'recommended_why': row['recommended_why'],
        'judged_at': changes.isoformat(datetime.datetime.now(
            datetime.timezone.utc)),
    }
