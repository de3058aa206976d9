"""Nova's own code, run from its released source: the oracle for the rules.

Nova does not import without its many dependencies, so single functions and
literals are compiled from Nova's source with stand-ins for the few names
they use. The version is tools/nova-version, as for tools/nova-oracle.sh.
The source is read from that script's virtualenv (.nova-oracle, or
$NOVA_ORACLE_DIR) when it holds that version, else from the wheel, fetched
once with pip (--no-deps) into ~/.cache/glance-virtio/nova; without either
the tests fail, never skip.
"""

import ast
import functools
import glob
import os
import subprocess
import sys
import types
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
with open(os.path.join(ROOT, 'tools', 'nova-version')) as _f:
    VERSION = _f.read().strip()
CACHE = os.path.join(os.path.expanduser('~'), '.cache', 'glance-virtio',
                     'nova')


@functools.lru_cache(maxsize=None)
def installed():
    """site-packages of tools/nova-oracle.sh's Nova VERSION, or None."""
    venv = os.environ.get('NOVA_ORACLE_DIR') or os.path.join(
        ROOT, '.nova-oracle')
    found = glob.glob(os.path.join(venv, 'lib', 'python3*', 'site-packages',
                                   'nova-%s.dist-info' % VERSION))
    return os.path.dirname(found[0]) if found else None


@functools.lru_cache(maxsize=None)
def wheel():
    """The path of the Nova wheel, fetched with pip if not there yet."""
    pattern = os.path.join(CACHE, 'nova-%s-*.whl' % VERSION)
    found = glob.glob(pattern)
    if not found:
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(
            [sys.executable, '-m', 'pip', 'download', '-q', '--no-deps',
             '--dest', CACHE, 'nova==%s' % VERSION],
            check=True, stdout=subprocess.DEVNULL)
        found = glob.glob(pattern)
    if not found:
        raise RuntimeError('pip did not fetch nova %s into %s'
                           % (VERSION, CACHE))
    return found[0]


@functools.lru_cache(maxsize=None)
def source(path):
    site = installed()
    if site:
        with open(os.path.join(site, path), encoding='utf-8') as f:
            return f.read()
    with zipfile.ZipFile(wheel()) as archive:
        return archive.read(path).decode()


def _tree(path):
    return ast.parse(source(path), path)


def constants(path):
    """Module-level NAME = 'string' assignments of a Nova file."""
    result = {}
    for node in _tree(path).body:
        if isinstance(node, ast.Assign) and isinstance(
                node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    result[target.id] = node.value.value
    return result


def _find(tree, name):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.Assign)):
            names = ([node.name] if isinstance(node, ast.FunctionDef) else
                     [t.id for t in node.targets
                      if isinstance(t, ast.Name)])
            if name in names:
                return node
    raise LookupError(name)


def literal(path, name):
    """The value of a literal assignment (dict, list...) anywhere in path."""
    return ast.literal_eval(_find(_tree(path), name).value)


def function(path, name, namespace, within=None):
    """Nova's function name from path, compiled with namespace as globals.

    ``within``: the class whose method it is (the method is compiled as a
    plain function: pass the class stand-in as its first argument).
    """
    tree = _tree(path)
    node = _find(_find_class(tree, within) if within else tree, name)
    node.decorator_list = []
    module = ast.Module(body=[node], type_ignores=[])
    scope = dict(namespace)
    exec(compile(module, '%s (nova %s)' % (path, VERSION), 'exec'), scope)
    return scope[name]


def architecture():
    """A stand-in for nova.objects.fields: Architecture's constants."""
    arch = types.SimpleNamespace(**constants('nova/virt/arch.py'))
    return types.SimpleNamespace(Architecture=arch)


class Props(dict):
    """What ImageMetaProps offers the functions used here: get and attrs."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)


class Meta:
    """A stand-in for objects.ImageMeta built from effective properties."""

    def __init__(self, props, disk_format='raw'):
        self.properties = Props(props)
        self.disk_format = disk_format


def enum(path, class_name):
    """The ALL tuple of a Nova enum class, resolved to its string values."""
    node = _find_class(_tree(path), class_name)
    names = {}
    for item in node.body:
        if isinstance(item, ast.Assign) and isinstance(
                item.targets[0], ast.Name):
            names[item.targets[0].id] = item.value
    external = constants('nova/network/model.py')

    def value(expr):
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.Name):
            return value(names[expr.id])
        if isinstance(expr, ast.Attribute):
            return external[expr.attr]
        raise ValueError(ast.dump(expr))
    members = names['ALL']
    if isinstance(members, ast.Attribute):  # network_model.VIF_MODEL_ALL
        network = _find(_tree('nova/network/model.py'), members.attr).value
        return tuple(external[e.id] for e in network.elts)
    return tuple(value(e) for e in members.elts)


def _find_class(tree, name):
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise LookupError(name)
