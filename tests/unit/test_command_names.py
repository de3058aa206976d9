"""No message names a command as only one of the two binaries spells it."""

import ast
import pathlib

import glance_virtio

PACKAGE = pathlib.Path(glance_virtio.__file__).parent
COMMANDS = ('audit', 'set', 'rollback', 'inspect', 'rules', 'explain')
SPELLED = tuple('virtio-%s' % c for c in COMMANDS) + tuple(
    'glance-virtio %s' % c for c in COMMANDS)


def docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                             ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    body[0].value, ast.Constant):
                yield body[0].value


def word(text, index):
    return 0 <= index < len(text) and (text[index].isalnum()
                                       or text[index] in '-_')


def test_no_string_names_a_command_of_one_binary():
    # Messages and help are shared by `glance-virtio X` and
    # `openstack image virtio-X`: usage.invoked() names the command.
    found = []
    for path in sorted(PACKAGE.rglob('*.py')):
        tree = ast.parse(path.read_text(), str(path))
        skip = {id(d) for d in docstrings(tree)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(
                    node.value, str) and id(node) not in skip:
                text = ' '.join(node.value.split())
                for name in SPELLED:
                    index = text.find(name)
                    end = index + len(name)
                    if index >= 0 and not word(text, index - 1) and not \
                            word(text, end):
                        found.append('%s:%d: %r' % (
                            path.relative_to(PACKAGE), node.lineno,
                            node.value))
    assert found == []
