"""The columns of the command tables: plain values as cells.

A table shows a short human form; json and yaml the data itself; csv,
value and shell compact JSON. Like osc_lib.cli.format_columns, shared by
every command.
"""

import json

from cliff import columns
import yaml

from glance_virtio import engine


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
    # twice, and two columns may hold the same findings. Cells hold only
    # lists, dicts and scalars, so this is deepcopy without its memo.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


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


def table(spec, rows, parsed_args=None):
    """(names, cells) of row dicts: spec holds (name, key, column class)."""
    data = [tuple(kind(row[key]) if kind and row.get(key) is not None
                  else row.get(key) for _, key, kind in spec)
            for row in rows]
    names = tuple(name for name, _, _ in spec)
    return names, (data if parsed_args is None else cells(parsed_args, data))


class ChangesColumn(DictColumn):
    """key: before -> after; a conflict's key: found X, expected Y."""

    def human_readable(self):
        return '\n'.join(
            '%s: found %s, expected %s' % (k, engine.shown(v['found']),
                                           engine.shown(v['expected']))
            if 'found' in v else '%s: %s -> %s' % (
                k, engine.shown(v['before']), engine.shown(v['after']))
            for k, v in (self._value or {}).items())


class ServerDriftColumn(ListColumn):
    """The keys that drift; 'unknown' stays a word."""

    def human_readable(self):
        if isinstance(self._value, str):
            return self._value
        return super().human_readable() or 'none'

    def machine_readable(self):
        if isinstance(self._value, str):
            return self._value
        return super().machine_readable()


class VolumeDriftColumn(DictColumn):
    def human_readable(self):
        return '\n'.join('%s: volume %s, image %s' % (
            k, v['volume'] or '-', v['image'] or '-')
            for k, v in (self._value or {}).items())


class LinesColumn(columns.FormattableColumn):
    """A list, one value a line."""

    def human_readable(self):
        return '\n'.join(str(v) for v in self._value or ())

    def machine_readable(self):
        return list(self._value or ())


class SideBySide(columns.FormattableColumn):
    """(current, target): one line each side; both as data for json."""

    def human_readable(self):
        current, target = self._value
        if target is None or target == current:
            return _text(current, '')
        return '%s -> %s' % (_text(current), _text(target))

    def machine_readable(self):
        current, target = self._value
        return {'current': current, 'target': target}


def _text(value, empty='-'):
    """One side of a pair; '-' for a missing side, empty for no value."""
    if value is None or value == []:
        return empty
    if isinstance(value, (list, tuple)):
        return ', '.join(str(v) for v in value)
    return str(value)
