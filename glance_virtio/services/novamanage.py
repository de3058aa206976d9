"""Run the operator's nova-manage: image_property show/set and --version.

Arguments, output and exit codes are those of Nova's
nova/cmd/manage.py ImagePropertyCommands (Nova 34.0.0, lines 3284-3451):

- ``image_property show UUID PROPERTY`` prints the value of the
  instance's system metadata ``image_PROPERTY`` and exits 0; exits 3
  printing "Image property P not found for instance U." when the key is
  absent or empty, 2 when the instance (or its mapping) is not found, 1 on
  any other error.
- ``image_property set UUID --property k=v ...`` exits 0, or 1 unexpected
  error, 2 instance not found, 3 invalid state (the vm_state must be
  stopped, shelved or shelved_offloaded), 4 invalid input format, 5 invalid
  property name, 6 invalid property value. It cannot remove a property.
- ``--version`` prints nova.version.version_string() (nova/config.py
  parse_args, line 98) and exits 0.

The command is split with shlex and run without a shell. Its output is
never logged whole: database URLs and passwords in an error are masked.
"""

import logging
import re
import shlex
import subprocess

LOG = logging.getLogger(__name__)

TIMEOUT = 120
NOT_FOUND = 3
INSTANCE_NOT_FOUND = 2
SET_ERRORS = {
    1: 'unexpected error in nova-manage (see its nova-manage.log)',
    2: 'instance not found',
    3: 'invalid state: nova-manage sets image properties only on a '
       'stopped or shelved server',
    4: 'invalid --property format',
    5: 'invalid image property name',
    6: 'invalid image property value',
}
SHOW_ERRORS = {1: SET_ERRORS[1], 2: SET_ERRORS[2]}

_SECRETS = (
    (re.compile(r'(://[^:/@\s]+:)[^@\s]+@'), r'\1***@'),
    (re.compile(r'((?:password|passwd|token|secret)[\w-]*\s*[=:]\s*)\S+',
                re.I), r'\1***'),
)


class NovaManageError(Exception):
    """nova-manage could not be run or failed; code is its exit code."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


def mask(text):
    """text without credentials (URL passwords, password=..., tokens)."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def split_command(command):
    """argv of the operator's nova-manage command; ValueError if empty."""
    try:
        argv = shlex.split(command or '')
    except ValueError as e:
        raise ValueError('--nova-manage %r: %s' % (command, e))
    if not argv:
        raise ValueError('--nova-manage is empty')
    return argv


def message(output):
    """The last meaningful line nova-manage printed, masked."""
    lines = [line.strip() for line in (output or '').splitlines()
             if line.strip()]
    return mask(lines[-1]) if lines else ''


def parse_show(code, stdout):
    """The value `image_property show` printed; None when not found."""
    if code == 0:
        lines = stdout.splitlines()
        # show prints the value and nothing else (print(property_value)).
        value = '\n'.join(lines).strip('\n')
        if not value:
            raise NovaManageError('image_property show printed nothing', 0)
        return value
    if code == NOT_FOUND and 'not found for instance' in stdout:
        return None
    raise NovaManageError('image_property show failed (exit %s): %s' % (
        code, message(stdout) or SHOW_ERRORS.get(code, 'unknown error')),
        code)


def parse_set(code, stdout):
    if code != 0:
        raise NovaManageError('image_property set failed (exit %s, %s): %s'
                              % (code, SET_ERRORS.get(code, 'unknown'),
                                 message(stdout) or '-'), code)


_VERSION = re.compile(r'^(\d+)\.(\d+)\.(\d+)')


def parse_version(stdout):
    """(major, minor, patch) from `nova-manage --version` output."""
    for line in stdout.splitlines():
        match = _VERSION.match(line.strip())
        if match:
            return tuple(int(n) for n in match.groups())
    raise NovaManageError('nova-manage --version printed no version: %r'
                          % message(stdout), 0)


class NovaManage:
    """One deployment's nova-manage, e.g. docker exec nova_api nova-manage."""

    def __init__(self, command, timeout=TIMEOUT, runner=subprocess.run):
        self.argv = split_command(command)
        self.timeout = timeout
        self._run = runner

    def run(self, *args):
        """(exit code, stdout, stderr) of nova-manage with args."""
        # Log the nova-manage arguments only: the prefix may hold a token.
        LOG.debug('nova-manage %s', ' '.join(args))
        try:
            done = self._run(self.argv + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise NovaManageError('cannot run nova-manage: %s not found'
                                  % self.argv[0])
        except PermissionError:
            raise NovaManageError('cannot run nova-manage: %s is not '
                                  'executable' % self.argv[0])
        except subprocess.TimeoutExpired:
            raise NovaManageError('nova-manage %s did not finish within %ds'
                                  % (args[0], self.timeout))
        except OSError as e:
            raise NovaManageError('cannot run nova-manage: %s' % e.strerror)
        if done.returncode and done.stderr:
            LOG.debug('nova-manage stderr: %s', mask(
                done.stderr.decode('utf-8', 'replace'))[-2000:])
        return (done.returncode, done.stdout.decode('utf-8', 'replace'),
                done.stderr.decode('utf-8', 'replace'))

    def show(self, server_id, prop):
        """The server's recorded image property, None when it has none."""
        code, out, err = self.run('image_property', 'show', server_id, prop)
        return parse_show(code, out if code == 0 else out or err)

    def set(self, server_id, props):
        args = ['image_property', 'set', server_id]
        for key, value in sorted(props.items()):
            if '=' in key or '=' in value:
                # nova-manage splits each --property on every '='.
                raise NovaManageError('cannot set %s=%s through nova-manage'
                                      % (key, value))
            args += ['--property', '%s=%s' % (key, value)]
        code, out, err = self.run(*args)
        parse_set(code, out or err)

    def version(self):
        code, out, err = self.run('--version')
        if code != 0:
            raise NovaManageError('nova-manage --version failed (exit %s): '
                                  '%s' % (code, message(out or err)), code)
        return parse_version(out or err)
