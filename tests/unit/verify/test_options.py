"""verify's and set --verify's options reach the command."""

from glance_virtio.cli import setbus
from glance_virtio.cli import verify
from glance_virtio import shell


def options(parser):
    return {o for a in parser._actions for o in a.option_strings}


def test_no_option_is_taken_by_the_global_parser():
    # cliff parses the global options over the whole command line: a
    # command option of the same name (e.g. --timeout) never arrives.
    app = shell.GlanceVirtioApp()
    taken = options(app.parser) - {'-h', '--help'}
    for command in (verify.VerifyImages, setbus.SetBus):
        ours = options(command(app, None).get_parser('x'))
        assert not ours & taken, (command, ours & taken)
