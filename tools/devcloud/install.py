"""The servers' own venv, installed from tools/devcloud-requirements.txt."""

import hashlib
import os
import shutil
import subprocess
import sys
import time

from devcloud.base import Fail, LOGS, REPO, VENV, run, say

REQUIREMENTS = REPO / 'tools' / 'devcloud-requirements.txt'
INSTALL_MARKER = VENV / '.devcloud-requirements.sha256'


def apt_install(*pkgs):
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        raise Fail('missing Debian package(s) %s; install them with '
                   'apt-get (as root)' % ' '.join(pkgs))
    say('installing Debian package(s): %s' % ' '.join(pkgs))
    log = LOGS / 'install.log'
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    run(['apt-get', 'update', '-q'], log, env)
    run(['apt-get', 'install', '-y', '-q'] + list(pkgs), log, env)


def ensure_installed():
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    py = VENV / 'bin' / 'python'
    if py.exists() and INSTALL_MARKER.exists() and \
            INSTALL_MARKER.read_text().strip() == want:
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / 'install.log'
    t0 = time.time()
    if not py.exists() or subprocess.call([py, '-c', '']) != 0:
        # Debian's python3 lacks ensurepip unless python3-venv is installed.
        if subprocess.call([sys.executable, '-c', 'import ensurepip'],
                           stderr=subprocess.DEVNULL) != 0:
            apt_install('python3-venv')
        shutil.rmtree(VENV, ignore_errors=True)
        run([sys.executable, '-m', 'venv', VENV], log)
    say('installing the servers into %s (log: %s)' % (VENV, log))
    run([py, '-m', 'pip', 'install', '--disable-pip-version-check', '-q',
         '-r', REQUIREMENTS], log)
    INSTALL_MARKER.write_text(want + '\n')
    say('install done in %.0fs' % (time.time() - t0))
