import argparse
import csv
import io
import json

from cliff.formatters import commaseparated
from cliff.formatters import json_format
from cliff.formatters import value
from cliff.formatters import yaml_format
import yaml

from glance_virtio.kinds import images
from glance_virtio.cli import common
from glance_virtio import columns

FOUND = [{'rule': 'GV023', 'severity': 'warning', 'message': 'bus'},
         {'rule': 'GV023', 'severity': 'warning', 'message': 'model'},
         {'rule': 'GV001', 'severity': 'error', 'message': 'enum'}]


def test_findings_column_names_each_rule_once_in_tables():
    column = columns.FindingsColumn(FOUND)
    assert column.human_readable() == 'GV023, GV001'
    assert column.machine_readable() == FOUND
    # An empty cell is empty, as in OSC's tables.
    assert columns.FindingsColumn([]).human_readable() == ''


def row():
    # Two columns built on one list, as audit's Findings and Details are.
    return ('id-1', columns.DictColumn({'virtio_blk': 'unknown'}),
            columns.FindingsColumn(FOUND), columns.MessagesColumn(FOUND),
            columns.ListColumn(['a', 'b']), None)


NAMES = ('ID', 'Readiness', 'Findings', 'Details', 'Kernels', 'VIF Model')


def emit(formatter, **options):
    out = io.StringIO()
    formatter.emit_list(NAMES, [row()], out, argparse.Namespace(**options))
    return out.getvalue()


def test_csv_and_value_print_compact_json_not_python_reprs():
    text = emit(commaseparated.CSVLister(), quote_mode='minimal')
    [header, cells] = list(csv.reader(io.StringIO(text)))
    got = dict(zip(header, cells))
    assert got['Readiness'] == '{"virtio_blk":"unknown"}'
    assert json.loads(got['Findings']) == FOUND
    assert got['Kernels'] == '["a","b"]'
    text = emit(value.ValueFormatter())
    assert "{'" not in text
    assert ' {"virtio_blk":"unknown"} ' in text and ' ["a","b"] ' in text


def test_yaml_has_no_anchors_and_reads_back():
    text = emit(yaml_format.YAMLFormatter())
    assert '&id' not in text and '*id' not in text
    [item] = yaml.safe_load(text)
    assert item['Findings'] == FOUND and item['Details'] == FOUND
    assert item['Readiness'] == {'virtio_blk': 'unknown'}
    assert item['VIF Model'] is None


def test_json_keeps_structures_and_null():
    text = emit(json_format.JSONFormatter(), noindent=True)
    [item] = json.loads(text)
    assert item['Kernels'] == ['a', 'b'] and item['VIF Model'] is None


def test_absent_values_are_empty_cells_in_tables_and_null_in_json():
    rows = [('a', None, '')]
    table = argparse.Namespace(formatter='table')
    as_json = argparse.Namespace(formatter='json')
    assert columns.cells(table, rows) == [('a', '', '')]
    assert columns.cells(as_json, rows) == [('a', None, None)]


def test_a_long_column_named_with_c_is_included():
    parsed = argparse.Namespace(formatter='table', long=False,
                                columns=['Name', 'Severity'])
    assert columns.wants_long(parsed, images.AUDIT_LONG)
    parsed.columns = ['Name']
    assert not columns.wants_long(parsed, images.AUDIT_LONG)
    parsed.columns = []
    parsed.formatter = 'yaml'
    assert columns.wants_long(parsed, images.AUDIT_LONG)


def test_scsi_model_option_is_case_insensitive_in_set_and_explain():
    """One --scsi-model for virtio-set and virtio-explain."""
    parser = argparse.ArgumentParser()
    common.add_scsi_model(parser)
    assert parser.parse_args(['--scsi-model', 'Virtio-SCSI']).scsi_model \
        == 'virtio-scsi'
