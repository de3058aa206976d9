from glance_virtio.cli import common


def test_findings_column_names_each_rule_once_in_tables():
    found = [{'rule': 'GV023', 'severity': 'warning', 'message': 'bus'},
             {'rule': 'GV023', 'severity': 'warning', 'message': 'model'},
             {'rule': 'GV001', 'severity': 'error', 'message': 'enum'}]
    column = common.FindingsColumn(found)
    assert column.human_readable() == 'GV023, GV001'
    assert column.machine_readable() == found
    assert common.FindingsColumn([]).human_readable() == '-'
