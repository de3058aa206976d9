"""glance_virtio_guard: judge a staged image inside Glance's import flow.

Enabled in glance-image-import.conf:

    [image_import_opts]
    image_import_plugins = ['image_decompression', 'image_conversion',
                            'glance_virtio_guard']

It runs after the plugins listed before it (on the file they leave), for
glance-direct, web-download and glance-download; Glance runs no plugin for
PUT /file, copy-image or Nova snapshots.
"""

import logging
import os
import sys

from oslo_config import cfg
from taskflow.patterns import linear_flow as lf
from taskflow import task
from taskflow.types import failure

from glance.common import exception as glance_exception

from glance_virtio import conf as site
from glance_virtio import model
from glance_virtio.guard import inspector
from glance_virtio.guard import opts
from glance_virtio.guard import verdict

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
opts.register(CONF)
# Glance's own revert of these methods (the download plugin) already puts
# the image back to queued, records the failed stores and drops the file.
REVERTED_BY_GLANCE = ('web-download', 'glance-download')


class GuardRefused(glance_exception.UploadException):
    """The guard refused the import: Glance shows the message in the task."""


def settings():
    section = CONF[opts.GROUP]
    policy = model.Policy()
    if section.site_policy_file:
        policy = site.policy(site.load(section.site_policy_file))
    return verdict.Settings(
        mode=section.mode, fill=tuple(section.fill_properties),
        ignore=tuple(section.ignore_rules),
        on_inspection_error=section.on_inspection_error, policy=policy)


def python():
    """The interpreter for the inspection (Glance's own setting)."""
    try:
        return CONF.wsgi.python_interpreter or sys.executable
    except cfg.NoSuchOptError:
        return sys.executable


class _Guard(task.Task):

    def __init__(self, task_id, task_type, image_repo, action_wrapper,
                 import_method, stores):
        self.task_id = task_id
        self.image_repo = image_repo
        self.action_wrapper = action_wrapper
        self.image_id = action_wrapper.image_id
        self.import_method = import_method
        self.stores = stores
        self.path = None
        super().__init__(
            name='%s-GlanceVirtioGuard-%s' % (task_type, task_id))

    def execute(self, file_path):
        self.path = file_path.split('file://')[-1]
        section = CONF[opts.GROUP]
        found = self.image_repo.get(self.image_id)
        extra = found.extra_properties
        # Glance's ExtraProperties iterate empty (abc.Mapping's __iter__
        # comes first in its MRO): keys() and [] are what work.
        image = model.Image(
            id=self.image_id, name=found.name or '', owner=found.owner or '',
            visibility=found.visibility or '', status=found.status or '',
            disk_format=found.disk_format,
            properties={k: extra[k] for k in list(extra.keys())
                        if isinstance(extra[k], str)})
        report = inspector.inspect_staged(
            self.path, section.max_read_mib, section.max_memory_mib,
            section.max_cpu_seconds, section.timeout, python())
        decided = verdict.judge(image, report, settings())
        LOG.debug('glance_virtio_guard: image %s properties %s, inspection '
                  '%s %s, findings %s', self.image_id, image.properties,
                  report.get('status'), report.get('os'),
                  [f.rule for f in decided.findings])
        if decided.inspection_error:
            LOG.warning('glance_virtio_guard: image %s not inspected: %s',
                        self.image_id, decided.inspection_error)
        props = dict(decided.fill)
        if section.result_property:
            props[section.result_property] = decided.result
        skipped = self._set(props)
        LOG.info('glance_virtio_guard: image %s %s; set %s%s',
                 self.image_id, decided.result,
                 ', '.join(sorted(set(props) - set(skipped))) or 'nothing',
                 '; skipped (property protections) %s' % ', '.join(skipped)
                 if skipped else '')
        if decided.refuse:
            raise GuardRefused(decided.message)
        return file_path

    def _set(self, props):
        """Set props one by one; those the uploader may not write are skipped.

        Glance checks property protections with the uploader's context as
        each key is set (ReservedProperty, Forbidden).
        """
        skipped = []
        with self.action_wrapper as action:
            for key, value in sorted(props.items()):
                try:
                    action.set_image_extra_properties({key: value})
                except (glance_exception.ReservedProperty,
                        glance_exception.Forbidden) as e:
                    LOG.warning('glance_virtio_guard: image %s: not setting '
                                '%s: %s', self.image_id, key, e)
                    skipped.append(key)
        return skipped

    def revert(self, result, **kwargs):
        # Only a failure of this task is ours to undo; a later task's
        # revert undoes its own work.
        if not isinstance(result, failure.Failure):
            return
        if self.import_method in REVERTED_BY_GLANCE:
            return
        # glance-direct: as Glance's image_conversion plugin does, back to
        # queued with the stores failed, and the staged data gone, so that
        # the uploader fixes the properties, stages and imports again.
        with self.action_wrapper as action:
            action.set_image_attribute(status='queued')
            if self.stores:
                action.remove_importing_stores(self.stores)
                action.add_failed_stores(self.stores)
        if self.path:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass


def get_flow(**kwargs):
    """The guard's flow: one task, given the staged file's file_path."""
    task_id = kwargs.get('task_id')
    task_type = kwargs.get('task_type')
    import_req = kwargs.get('import_req') or {}
    method = (import_req.get('method') or {}).get('name')
    stores = [s for s in (kwargs.get('backend') or []) if s]
    return lf.Flow(task_type).add(_Guard(
        task_id, task_type, kwargs.get('image_repo'),
        kwargs.get('action_wrapper'), method, stores))
