"""What the commands did themselves, now in the core, tested with no cloud."""

import argparse
import io
import os

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from osc_lib import exceptions
import pytest

from glance_virtio import audit
from glance_virtio import changes
from glance_virtio import engine
from glance_virtio.kinds import images
from glance_virtio.kinds import servers
from glance_virtio.kinds import volumes
from glance_virtio.knowledge import explain
from glance_virtio import model
from glance_virtio import report
from glance_virtio import rows
from glance_virtio.services import glance
from glance_virtio.services import session
from glance_virtio import usage
from glance_virtio import watch

DEBIAN = {'os_type': 'linux', 'os_distro': 'debian', 'os_version': '12'}


def audit_rows():
    return audit.audit([
        model.Image('a', 'ok', 'p', 'public', 'active',
                    properties=dict(DEBIAN, hw_disk_bus='virtio')),
        model.Image('b', 'ide-on-q35', 'p', 'public', 'active',
                    properties=dict(DEBIAN, hw_disk_bus='ide',
                                    hw_machine_type='q35'))],
        model.Policy())


def test_audit_exit_code_on_findings_drift_and_scs():
    found = audit_rows()
    assert report.exit_code(found) == 0
    assert report.exit_code(found, 'error') == report.EXIT_FINDINGS
    assert report.exit_code(found[:1], 'error') == 0
    assert report.exit_code(found[:1], drifted=lambda r: True) == 3
    assert report.exit_code(found[:1], drifted=lambda r: False) == 0
    assert report.exit_code(found, scs=[('x', False, found)]) == 3
    assert report.exit_code(found, scs=[('x', True, [])]) == 0


def test_prometheus_run_writes_the_textfile_also_when_the_run_fails(
        tmp_path):
    path = str(tmp_path / 'gv.prom')
    with report.Run(path, 'audit') as run:
        run.rows, run.success = audit_rows(), True
    assert 'glance_virtio_images' in open(path).read()
    with pytest.raises(RuntimeError):
        with report.Run(path, 'audit'):
            raise RuntimeError('boom')
    text = open(path).read()
    assert 'glance_virtio_last_run_success{command="audit"} 0' in text
    with report.Run(None, 'audit'):
        pass  # no path: nothing written, no error


def test_prometheus_run_that_cannot_write_says_where(tmp_path):
    missing = str(tmp_path / 'no' / 'such' / 'dir' / 'gv.prom')
    with pytest.raises(report.TextfileError, match='cannot write ' + missing):
        with report.Run(missing, 'audit'):
            pass


def test_scs_verdicts_on_stdout_and_offenders_on_stderr():
    found = audit_rows()
    for row in found:
        row['visibility'] = 'public'
    out, err = io.StringIO(), io.StringIO()
    results = report.write_scs(found, out, err)
    assert not results[0][1]
    assert out.getvalue().startswith(report.SCS_TESTCASE + ': FAIL\n')
    assert 'ide-on-q35' in err.getvalue()


def test_since_filter_is_glance_updated_at():
    key, value = changes.since_filter('2026-12-05T07:00:00Z')
    assert (key, value) == ('updated_at', 'gte:2026-12-05T07:00:00Z')
    with pytest.raises(ValueError):
        changes.since_filter('yesterday-ish')


@pytest.mark.parametrize('error,words', [
    (sdk_exc.ConfigException('cloud foo was not found'),
     'cloud configuration: cloud foo was not found (check --os-cloud'),
    (ks_exc.ConnectFailure('Unable to establish connection to '
                           'http://127.0.0.1:9/v3: [Errno 111] Connection '
                           'refused'),
     'cannot reach the cloud at http://127.0.0.1:9/v3: Connection refused'),
    (ks_exc.Unauthorized('no'), 'authentication failed'),
])
def test_a_failed_login_is_one_cloud_error_line(error, words):
    def connect():
        raise error
    with pytest.raises(glance.CloudError) as found:
        session.log_in(connect)
    assert str(found.value).startswith(words)
    assert '\n' not in str(found.value)


def test_an_existing_journal_needs_append(tmp_path):
    path = tmp_path / 'set.jsonl'
    options = argparse.Namespace(journal=str(path), append=False)
    engine.check_journal(options)
    path.write_text('')
    with pytest.raises(exceptions.CommandError, match='--append'):
        engine.check_journal(options)
    options.append = True
    engine.check_journal(options)


def test_an_unreadable_journal_is_one_command_error(tmp_path):
    with pytest.raises(exceptions.CommandError,
                       match='cannot read journal .*missing'):
        engine.read_journal(images.rollback_entries,
                            str(tmp_path / 'missing'))

    def refuse(path):
        raise ValueError('not a journal of the set command')
    with pytest.raises(exceptions.CommandError, match='cannot roll back: '):
        engine.read_journal(refuse, 'x')


class Stored(engine.Kind):
    noun = family = 'volume'

    def __init__(self, error=None):
        self.error = error

    def get(self, conn, thing_id):
        if self.error:
            raise self.error
        return model.Image(thing_id, properties={'hw_disk_bus': 'scsi'})


def test_kind_read_unreadable_and_fatal_errors():
    assert Stored().read(None, 'v1', ['hw_disk_bus', 'hw_scsi_model']) == {
        'hw_disk_bus': 'scsi', 'hw_scsi_model': None}
    with pytest.raises(engine.Unreadable, match='gone'):
        Stored(glance.GlanceError('gone', 404)).read(None, 'v1', ['x'])
    for error in (glance.CloudError('cannot reach the cloud'),
                  glance.GlanceError('reset', None),
                  glance.GlanceError('token expired', 401)):
        with pytest.raises(exceptions.CommandError,
                           match='cannot read volume v1: '):
            Stored(error).read(None, 'v1', ['x'])
    assert (Stored().set_command, Stored().rollback_command) == (
        'volume-set', 'volume-rollback')
    assert (images.KIND.set_command, images.KIND.rollback_command) == (
        'set', 'rollback')


def test_drift_of_copies():
    assert volumes.drifted({'drift': volumes.DRIFTED})
    assert not volumes.drifted({'drift': volumes.UNKNOWN})
    assert servers.drifted({'drift': ['hw_disk_bus']})
    assert not servers.drifted({'drift': servers.UNKNOWN})
    assert not servers.drifted({'drift': []})


def test_explain_images_and_their_rows():
    good = model.Image('a', 'debian', properties=dict(
        DEBIAN, hw_disk_bus='virtio'))
    bad = model.Image('b', 'broken', error='403 forbidden')
    found = explain.explain_images([good, bad], model.Policy(), 'scsi')
    (image, data), (_, nothing) = found
    assert nothing is None and not explain.has_errors(data)
    assert data['target']['scsi_model'] == 'virtio-scsi'
    row = rows.explain(image, data, long=True)
    assert len(row) == len(rows.EXPLAIN_COLUMNS + rows.EXPLAIN_LONG)
    assert row[3].human_readable() == 'virtio -> scsi/virtio-scsi'
    row = rows.explain(bad, None, long=False)
    assert len(row) == len(rows.EXPLAIN_COLUMNS)
    assert row[-1].machine_readable() == ['403 forbidden']
    ide = model.Image('c', 'q35-ide', properties=dict(
        DEBIAN, hw_disk_bus='ide', hw_machine_type='q35'))
    [(_, data)] = explain.explain_images([ide], model.Policy())
    assert explain.has_errors(data)


def test_inspect_row_of_a_report():
    report_ = {'status': 'ok', 'format': 'qcow2', 'seconds': 0.12345,
               'os': {'family': 'linux', 'distro': 'debian',
                      'version': '12'},
               'drivers': {'virtio_blk': {'state': 'ready',
                                          'evidence': 'module'}}}
    row = rows.inspect('id', 'name', report_, long=True)
    assert len(row) == len(rows.INSPECT_COLUMNS + rows.INSPECT_LONG)
    assert row[5] == 'debian 12' and row[10] == 0.123
    assert row[8].machine_readable() == {'virtio_blk': 'ready'}


def test_inspect_all_reads_local_files_without_a_cloud(tmp_path):
    from glance_virtio import conf
    from glance_virtio import inspection
    missing = str(tmp_path / 'missing.qcow2')
    [(ident, name, found)] = inspection.inspect_all(
        None, [missing], None, conf.load(os.devnull))
    assert ident == name == missing
    assert found['status'] == 'error' and missing in found['error']


def test_watch_state_and_transport_url(tmp_path, monkeypatch):
    state = watch.start_state(str(tmp_path / 'state.json'), '1d')
    assert state.mark.endswith('Z')
    with pytest.raises(ValueError):
        watch.start_state(None, 'soon')
    config = argparse.Namespace(watch=argparse.Namespace(
        transport_url='rabbit://site'))
    monkeypatch.delenv(watch.URL_ENV, raising=False)
    assert watch.transport_url(None, config) == 'rabbit://site'
    monkeypatch.setenv(watch.URL_ENV, 'rabbit://env')
    assert watch.transport_url(None, config) == 'rabbit://env'
    assert watch.transport_url('rabbit://given', config) == 'rabbit://given'


@pytest.mark.parametrize('cmd_name,family,short,invoked', [
    ('set', '', 'set', 'glance-virtio set'),
    ('image virtio-set', '', 'set', 'openstack image virtio-set'),
    ('volume-set', 'volume', 'set', 'glance-virtio volume-set'),
    ('volume virtio-set', 'volume', 'set', 'openstack volume virtio-set'),
])
def test_command_names_in_both_apps(cmd_name, family, short, invoked):
    assert usage.short_name(cmd_name, family) == short
    assert usage.invoked(cmd_name, family, short) == invoked


def test_every_epilog_names_exit_codes_0_1_and_2():
    for (family, name), (examples, codes) in usage.EPILOGS.items():
        assert '{cmd}' in examples, (family, name)
        for code in ('  0  ', '  1  ', '  2  usage error'):
            assert code in codes, (family, name, code)
