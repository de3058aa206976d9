"""Output formats a script can parse, from real audit and set runs."""

import csv
import io
import json

import yaml

from tests.functional.conftest import run
from tests.functional.test_set import make

LIN_IDE = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
           'hw_disk_bus': 'ide'}


def test_every_format_of_audit_parses(admin, tag):
    make(admin, tag, [('fmt-ide', LIN_IDE)])
    as_json = json.loads(run('audit', '--tag', tag, '-f', 'json',
                             check=0).stdout)
    [row] = as_json
    # An absent value is null, never "" or "None".
    assert row['VIF Model'] is None and row['SCSI Model'] is None
    assert row['Readiness']['virtio_blk'] == 'ready'
    assert row['Findings'] and row['Details'] == row['Findings']

    text = run('audit', '--tag', tag, '-f', 'yaml', check=0).stdout
    assert '&id' not in text and '*id' not in text
    assert yaml.safe_load(text) == as_json

    text = run('audit', '--tag', tag, '-f', 'csv', check=0).stdout
    # cliff writes csv with a backslash escape character (every OSC command
    # does): a JSON cell holding \" round-trips only when read the same way.
    [header, cells] = list(csv.reader(io.StringIO(text), escapechar='\\'))
    got = dict(zip(header, cells))
    assert json.loads(got['Readiness']) == row['Readiness']
    assert json.loads(got['Findings']) == row['Findings']
    assert got['VIF Model'] == ''

    text = run('audit', '--tag', tag, '-f', 'value', '-c', 'Readiness',
               '-c', 'Findings', check=0).stdout
    readiness, findings = text.strip().split(' ', 1)
    assert json.loads(readiness) == row['Readiness']
    assert json.loads(findings) == row['Findings']

    table = run('audit', '--tag', tag, check=0).stdout
    assert 'None' not in table


def test_c_names_a_long_column_without_long(admin, tag):
    make(admin, tag, [('fmt-ide', LIN_IDE)])
    text = run('audit', '--tag', tag, '-f', 'value', '-c', 'Name', '-c',
               'Severity', check=0).stdout
    assert text.split() == ['fmt-ide', 'warning']


def test_set_rows_in_csv_and_json(admin, tag):
    make(admin, tag, [('fmt-ide', LIN_IDE)])
    text = run('set', '--tag', tag, '--bus', 'virtio', '--dry-run', '-f',
               'csv', check=0).stdout
    # cliff writes csv with a backslash escape character (every OSC command
    # does): a JSON cell holding \" round-trips only when read the same way.
    [header, cells] = list(csv.reader(io.StringIO(text), escapechar='\\'))
    got = dict(zip(header, cells))
    assert json.loads(got['Changes']) == {
        'hw_disk_bus': {'before': 'ide', 'after': 'virtio'}}
    assert got['Reason'] == ''
    [row] = json.loads(run('set', '--tag', tag, '--bus', 'virtio',
                           '--dry-run', '-f', 'json', check=0).stdout)
    assert row['Reason'] is None


def test_a_selection_matching_nothing_says_so(cloud):
    result = run('audit', '--tag', 'gvtest-no-such-tag', '-f', 'json',
                 check=0)
    assert json.loads(result.stdout) == []
    assert 'no image matched the selection' in result.stderr
