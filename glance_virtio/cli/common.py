"""Pieces the commands share: selection options, config, columns."""

import copy
import fnmatch
import json
import logging
import os

from cliff import columns
from osc_lib import exceptions
from oslo_config import cfg
import yaml

from glance_virtio import conf
from glance_virtio import glance

LOG = logging.getLogger(__name__)

CONFIG_ENV = 'GLANCE_VIRTIO_CONFIG_FILE'

EXIT_FINDINGS = 3
EXIT_FAILED = 4
EXIT_BLOCKED = 5


def load_conf(app):
    path = getattr(app.options, 'virtio_config_file', None) or \
        os.environ.get(CONFIG_ENV)
    try:
        return conf.load(path)
    except (cfg.Error, ValueError) as e:
        raise exceptions.CommandError('site policy file: %s' % e)


def load_policy(app, allowed=()):
    try:
        return conf.policy(load_conf(app), allowed)
    except ValueError as e:
        raise exceptions.CommandError('site policy file: %s' % e)


def connection(app):
    try:
        return app.client_manager.sdk_connection
    except Exception as e:
        raise exceptions.CommandError(
            'cannot connect to the cloud: %s (check --os-cloud, clouds.yaml '
            'or the OS_* variables)' % e)


def add_selection(parser, snapshots_default):
    """Image selection options shared by audit, set and inspect."""
    parser.add_argument('images', metavar='<image>', nargs='*',
                        help='Image ids or names (default: all visible)')
    parser.add_argument('--all', action='store_true',
                        help='Select every visible image (virtio-set needs it '
                             'when no image or filter is given)')
    parser.add_argument('--owner', metavar='<project-id>',
                        help='Only images owned by this project')
    parser.add_argument('--visibility', metavar='<visibility>',
                        choices=['public', 'private', 'shared', 'community',
                                 'all'],
                        help='Only images of this visibility')
    parser.add_argument('--tag', metavar='<tag>', action='append',
                        default=[], help='Only images with this tag '
                        '(repeat for several; all must match)')
    parser.add_argument('--property', metavar='<key=value>', action='append',
                        default=[], help='Only images whose property KEY has '
                        'exactly VALUE (repeatable)')
    parser.add_argument('--os-type', metavar='<os-type>',
                        help='Only images with this os_type property')
    parser.add_argument('--name', metavar='<pattern>', dest='name_pattern',
                        help='Only images whose name matches this shell '
                             'glob pattern (fnmatch rules)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--include-snapshots', dest='snapshots',
                       action='store_true', default=snapshots_default,
                       help='Include instance snapshots'
                       + (' (default)' if snapshots_default else ''))
    group.add_argument('--exclude-snapshots', dest='snapshots',
                       action='store_false',
                       help='Leave out instance snapshots'
                       + ('' if snapshots_default else ' (default)'))


def add_deep(parser):
    parser.add_argument('--deep', action='store_true',
                        help='Inspect the disk images themselves (Range '
                             'reads, cached by checksum)')
    parser.add_argument('--no-cache', action='store_true',
                        help='With --deep: inspect again even when a cached '
                             'result exists for the image checksum')


def inspections(app, conn, images, parsed_args, config=None):
    """Inspection reports by image id with --deep, else None."""
    if not parsed_args.deep:
        return None
    from glance_virtio import inspection
    return inspection.inspect_images(conn, images, config or load_conf(app),
                                     use_cache=not parsed_args.no_cache)


def filters(parsed_args):
    """Server-side list filters from the selection options."""
    query = {}
    for item in parsed_args.property:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise exceptions.CommandError(
                '--property %s: use KEY=VALUE' % item)
        query[key] = value
    if parsed_args.owner:
        query['owner'] = parsed_args.owner
    if parsed_args.visibility:
        query['visibility'] = parsed_args.visibility
    if parsed_args.os_type:
        query['os_type'] = parsed_args.os_type
    if parsed_args.tag:
        query['tag'] = parsed_args.tag
    return query


def select(conn, parsed_args):
    """The selected images; an unreadable id becomes an error row."""
    try:
        if parsed_args.images:
            images = glance.find_images(conn, parsed_args.images)
            images = [i for i in images if i.error or _matches(i, parsed_args)]
        else:
            images = list(glance.list_images(conn, filters(parsed_args),
                                             parsed_args.name_pattern))
    except glance.GlanceError as e:
        raise exceptions.CommandError('cannot list images: %s' % e)
    if not parsed_args.snapshots:
        images = [i for i in images if not i.is_snapshot]
    return images


def _matches(image, parsed_args):
    wanted = filters(parsed_args)
    tags = wanted.pop('tag', [])
    if parsed_args.name_pattern and not fnmatch.fnmatchcase(
            image.name, parsed_args.name_pattern):
        return False
    if not set(tags) <= set(image.tags):
        return False
    actual = {'owner': image.owner, 'visibility': image.visibility}
    for key, value in wanted.items():
        if key == 'visibility' and value == 'all':
            continue
        if actual.get(key, image.properties.get(key)) != value:
            return False
    return True


def base_images(conn, images):
    """Base images of selected snapshots that were not selected."""
    ids = {i.id for i in images}
    wanted = {i.base_image_id for i in images
              if i.is_snapshot and i.base_image_id} - ids
    found = {}
    for image_id in wanted:
        try:
            found[image_id] = glance.get_image(conn, image_id)
        except glance.GlanceError as e:
            LOG.info('base image %s not readable: %s', image_id, e)
    return found


class _JSONList(list):
    """A list that prints as compact JSON (csv, value, shell formats)."""

    def __str__(self):
        return json.dumps(self, separators=(',', ':'))


class _JSONDict(dict):
    """A dict that prints as compact JSON (csv, value, shell formats)."""

    def __str__(self):
        return json.dumps(self, separators=(',', ':'))


_SAFE = yaml.representer.SafeRepresenter
yaml.SafeDumper.add_representer(_JSONList, _SAFE.represent_list)
yaml.SafeDumper.add_representer(_JSONDict, _SAFE.represent_dict)


def _copy(value):
    # A fresh copy per cell: YAML writes an anchor for any object it meets
    # twice, and two columns may hold the same findings.
    return copy.deepcopy(value)


class ListColumn(columns.FormattableColumn):
    def human_readable(self):
        return ', '.join(str(v) for v in self._value or ())

    def machine_readable(self):
        return _JSONList(_copy(list(self._value or ())))


class FindingsColumn(columns.FormattableColumn):
    def human_readable(self):
        # One id per rule; --long and -f json give every message.
        return ', '.join(dict.fromkeys(f['rule'] for f in self._value or ()))

    def machine_readable(self):
        return _JSONList(_copy(list(self._value or ())))


class MessagesColumn(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join('%s %s: %s' % (f['rule'], f['severity'], f['message'])
                         for f in self._value or ())

    def machine_readable(self):
        return _JSONList(_copy(list(self._value or ())))


class DictColumn(columns.FormattableColumn):
    def human_readable(self):
        return ' '.join('%s=%s' % kv for kv in (self._value or {}).items())

    def machine_readable(self):
        return _JSONDict(_copy(dict(self._value or {})))


def wants_everything(parsed_args):
    return getattr(parsed_args, 'formatter', 'table') in ('json', 'yaml')


def wants_long(parsed_args, long_columns):
    """--long, a json/yaml format, or -c naming a --long column."""
    names = {c if isinstance(c, str) else c[0] for c in long_columns}
    return bool(getattr(parsed_args, 'long', False)
                or wants_everything(parsed_args)
                or names & set(getattr(parsed_args, 'columns', None) or ()))


def cells(parsed_args, rows):
    """Rows with absent values as null in json/yaml, else empty cells.

    OSC shows an absent value as an empty cell; json and yaml as null.
    """
    if wants_everything(parsed_args):
        return [tuple(None if v == '' else v for v in row) for row in rows]
    return [tuple('' if v is None else v for v in row) for row in rows]
