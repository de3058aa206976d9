#!/usr/bin/env python3
"""Quick start: `demo` runs the demo, `test` runs the whole test suite.

Needs only python3: it makes .venv, installs the project and its test
tools there, installs the Debian packages the disk-image fixtures need
(as root, with apt-get), and starts the local cloud (tools/devcloud.sh).
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, '.venv')
PY = os.path.join(VENV, 'bin', 'python')
STAMP = os.path.join(VENV, '.glance-virtio-installed')
DEMO_TAG = 'glance-virtio-demo'
GLANCE_VIRTIO = os.path.join(VENV, 'bin', 'glance-virtio')
Q35_POLICY = os.path.join('tools', 'demo-policy-q35.conf')


def sh(*cmd, **kwargs):
    print('+ ' + ' '.join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, **kwargs)


def must(*cmd, **kwargs):
    result = sh(*cmd, **kwargs)
    if result.returncode:
        sys.exit('quickstart: %s failed with exit code %d'
                 % (cmd[0], result.returncode))
    return result


def inputs_changed():
    files = ['setup.cfg', 'requirements.txt', 'test-requirements.txt']
    if not os.path.exists(STAMP):
        return True
    stamp = os.path.getmtime(STAMP)
    return any(os.path.getmtime(os.path.join(ROOT, f)) > stamp
               for f in files)


def venv():
    if not os.path.exists(PY):
        must(sys.executable, '-m', 'venv', VENV)
    if inputs_changed():
        must(PY, '-m', 'pip', 'install', '-q', '--upgrade', 'pip')
        must(PY, '-m', 'pip', 'install', '-q', '-e', '.',
             '-r', 'test-requirements.txt')
        open(STAMP, 'w').close()


def cloud_env():
    state = os.environ.get('DEVCLOUD_DIR', os.path.join(ROOT, '.devcloud'))
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env['OS_CLIENT_CONFIG_FILE'] = os.path.join(state, 'clouds.yaml')
    env['PATH'] = os.path.join(VENV, 'bin') + os.pathsep + env['PATH']
    return env


def demo():
    venv()
    must('bash', 'tools/devcloud.sh', 'start')
    env = cloud_env()
    must(PY, 'tools/load_samples.py', '--os-cloud', 'devcloud-admin',
         '--tag', DEMO_TAG, '--replace', env=env)
    print('\nThe audit of the sample catalogue, as an operator runs it:\n'
          '  glance-virtio --os-cloud devcloud-admin audit --tag %s\n'
          % DEMO_TAG, flush=True)
    columns = ['-c', 'Name', '-c', 'OS', '-c', 'Disk Bus', '-c',
               'Machine Type', '-c', 'Recommended Bus', '-c', 'Findings']
    result = sh(GLANCE_VIRTIO, '--os-cloud', 'devcloud-admin', 'audit',
                '--tag', DEMO_TAG, *columns, '--fail-on', 'error', env=env)
    print('\naudit exit code %d (3: findings of severity error exist, as '
          'expected for the bad samples)' % result.returncode)
    print('\nThe same catalogue on a cloud whose computes default to q35 '
          '(%s):\n  glance-virtio --config-file %s audit --tag %s\n'
          % (Q35_POLICY, Q35_POLICY, DEMO_TAG), flush=True)
    q35 = sh(GLANCE_VIRTIO, '--os-cloud', 'devcloud-admin', '--config-file',
             Q35_POLICY, 'audit', '--tag', DEMO_TAG, *columns, '--fail-on',
             'error', env=env)
    print('\naudit exit code %d: ide images without hw_machine_type are now '
          'GV003 errors, not GV031 warnings' % q35.returncode, flush=True)
    if (result.returncode, q35.returncode) != (3, 3):
        return 1
    print('\nChanging an image changes none of its copies: a volume made '
          'from it and a server booted from that volume '
          '(tools/drift_demo.py)', flush=True)
    return sh(PY, 'tools/drift_demo.py', env=env).returncode


def test(extra):
    venv()
    must('bash', 'tools/install-test-deps.sh')
    must('bash', 'tools/devcloud.sh', 'start')
    result = sh(PY, '-m', 'pytest', '-p', 'no:cacheprovider', 'tests',
                *extra, env=cloud_env())
    return result.returncode


def main(argv):
    if not argv or argv[0] not in ('demo', 'test'):
        sys.exit('usage: python3 tools/quickstart.py demo|test [pytest args]')
    return demo() if argv[0] == 'demo' else test(argv[1:])


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
