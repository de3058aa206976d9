"""Parse boot-loader files: grub.cfg, grubenv, BLS entries, menu.lst,
loader.conf and extlinux.conf."""

import logging
import posixpath
import re

LOG = logging.getLogger(__name__)

KERNEL_PREFIXES = ('vmlinuz-', 'vmlinux-', 'Image-', 'kernel-')
LINUX_CMDS = ('linux', 'linux16', 'linuxefi', 'kernel')
INITRD_CMDS = ('initrd', 'initrd16', 'initrdefi')
BLOCK_CMDS = ('menuentry', 'submenu')
CONDITIONALS = ('if', 'elif', 'else', 'fi')
COMMANDS = frozenset(('set', 'blscfg', '}') + BLOCK_CMDS + LINUX_CMDS +
                     INITRD_CMDS + CONDITIONALS)
# grub.cfg lines are short: a kernel command line is at most 4 KiB.
MAX_LINE = 8192
MAX_ENTRIES = 1024
MAX_IF_DEPTH = 64
# A word: plain characters, backslash escapes and quoted strings, as the
# grub (and sh) lexer reads them; a regular expression keeps it linear.
WORD = re.compile(r"""(?:[^\s'"\\]|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+""",
                  re.S)
PIECE = re.compile(r"""\\(.)|'([^']*)'|"((?:[^"\\]|\\.)*)"|(.)""", re.S)
SPECIAL = re.compile(r"""['"\\#]""")
ESCAPE = re.compile(r'\\(.)', re.S)


def kernel_version(path):
    """'6.1.0-18-amd64' for '/boot/vmlinuz-6.1.0-18-amd64', else None."""
    base = posixpath.basename(path or '')
    for prefix in KERNEL_PREFIXES:
        if base.startswith(prefix) and len(base) > len(prefix):
            return base[len(prefix):]
    return None


def version_key(version):
    """Sort key that orders 5.14.0-70 before 5.14.0-162.

    Digit runs compare by value without int(): a version may hold
    thousands of digits.
    """
    key = []
    for part in re.split(r'([0-9]+)', version):
        if not part:
            continue
        if part.isdigit() and part.isascii():
            digits = part.lstrip('0')
            key.append((0, len(digits), digits))
        else:
            key.append((1, 0, part))
    return key


def _unquote(word):
    out = []
    for match in PIECE.finditer(word):
        escaped, single, double, plain = match.groups()
        if escaped is not None:
            out.append(escaped)
        elif single is not None:
            out.append(single)
        elif double is not None:
            out.append(ESCAPE.sub(r'\1', double))
        else:
            out.append(plain)
    return ''.join(out)


def split_words(line):
    """The words of a grub.cfg line, unquoted; a '#' word ends the line."""
    if not SPECIAL.search(line):
        return line.split()
    words = []
    for match in WORD.finditer(line):
        word = match.group()
        if word.startswith('#'):
            break
        words.append(_unquote(word))
    return words


def last_path(words):
    """The last word that is not a $variable (the main initrd), or None."""
    paths = [word for word in words if not word.startswith('$')]
    return paths[-1] if paths else None


def root_option(words):
    for word in words:
        if word.startswith('root='):
            return word[5:]
    return None


class MenuEntry:
    def __init__(self, title, entry_id, line=None):
        self.title = title
        self.id = entry_id
        self.line = line
        self.kernel = None
        self.initrd = None
        self.root = None
        # Set for boot loader (BLS) entries: their file and version key.
        self.file = None
        self.version = None


class Submenu(list):
    """A grub submenu: a list of entries with a title and an id."""

    def __init__(self, title, entry_id):
        super().__init__()
        self.title = title
        self.id = entry_id


class GrubCfg:
    """What a grub.cfg says: its menu, default and where blscfg runs.

    ``defaults`` holds (line number, value, conditions) of each top-level
    ``set default=``, where conditions are the (test, in its else branch)
    of the if blocks around it; ``blscfg_at`` is the index in ``items``
    where blscfg adds the boot loader entries (None without blscfg).
    """

    def __init__(self):
        self.default = None
        self.defaults = []
        self.items = []
        self.blscfg_at = None


def parse_grub_cfg(text, notes=None):
    """Return (default, items, uses_blscfg) of a grub.cfg.

    ``items`` are the top-level MenuEntry objects and submenus (lists of
    MenuEntry), in order; ``default`` is the raw ``set default=`` value.
    Lines over MAX_LINE characters and entries past MAX_ENTRIES are not
    read; ``notes`` (a list) then says so.
    """
    cfg = read_grub_cfg(text, notes)
    return cfg.default, cfg.items, cfg.blscfg_at is not None


def _condition(conditions, head, line):
    """Track the if blocks around a line; False when nested too deep."""
    if head == 'if':
        if not re.search(r'[;\s]fi$', line):
            if len(conditions) >= MAX_IF_DEPTH:
                return False
            conditions.append((line, False))
    elif head == 'elif' and conditions:
        conditions[-1] = (line, False)
    elif head == 'else' and conditions:
        conditions[-1] = (conditions[-1][0], True)
    elif head == 'fi' and conditions:
        conditions.pop()
    return True


def read_grub_cfg(text, notes=None):
    """A GrubCfg of the text of a grub.cfg (see parse_grub_cfg)."""
    cfg = GrubCfg()
    items = cfg.items
    stack = []
    conditions = []
    entries = 0
    long_lines = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if len(raw) > MAX_LINE:
            long_lines += 1
            continue
        line = raw.strip()
        head = line.split(None, 1)[0] if line else ''
        if head not in COMMANDS:
            continue
        if head in CONDITIONALS:
            if not _condition(conditions, head, line):
                if notes is not None:
                    notes.append('if blocks nested more than %d deep; the '
                                 'rest is not read' % MAX_IF_DEPTH)
                break
            continue
        if head in BLOCK_CMDS:
            entries += 1
            if entries > MAX_ENTRIES:
                if notes is not None:
                    notes.append('more than %d menu entries; the rest are '
                                 'not read' % MAX_ENTRIES)
                break
        words = split_words(line)
        cmd = words[0]
        if cmd == 'set' and len(words) > 1 and words[1].startswith(
                'default='):
            if not stack:
                if len(cfg.defaults) >= MAX_ENTRIES:
                    if notes is not None:
                        notes.append('more than %d set default= lines; the '
                                     'rest are not read' % MAX_ENTRIES)
                    break
                cfg.default = words[1][len('default='):]
                cfg.defaults.append((number, cfg.default,
                                     tuple(conditions)))
        elif cmd == 'blscfg':
            if cfg.blscfg_at is None and not stack:
                cfg.blscfg_at = len(items)
        elif cmd in BLOCK_CMDS:
            title = words[1] if len(words) > 1 else ''
            entry_id = None
            for index, word in enumerate(words[:-1]):
                if word in ('--id', '$menuentry_id_option'):
                    entry_id = words[index + 1]
            node = MenuEntry(title, entry_id, number) \
                if cmd == 'menuentry' else Submenu(title, entry_id)
            parent = stack[-1] if stack else None
            if isinstance(parent, list):
                parent.append(node)
            elif parent is None:
                items.append(node)
            stack.append(node)
            if line.endswith('}'):
                stack.pop()
        elif cmd in LINUX_CMDS and stack and isinstance(stack[-1],
                                                        MenuEntry):
            stack[-1].kernel = words[1] if len(words) > 1 else None
            stack[-1].root = root_option(words[2:])
        elif cmd in INITRD_CMDS and stack and isinstance(stack[-1],
                                                         MenuEntry):
            stack[-1].initrd = last_path(words[1:])
        elif cmd == '}' and stack:
            stack.pop()
    if long_lines and notes is not None:
        notes.append('%d line%s longer than %d characters not read'
                     % (long_lines, 's' if long_lines > 1 else '', MAX_LINE))
    return cfg


def all_entries(items):
    """Every MenuEntry in ``items`` and its submenus, in order.

    Not recursive: submenus may nest deeper than Python's recursion limit.
    """
    pending = [iter(items)]
    while pending:
        for item in pending[-1]:
            if isinstance(item, list):
                pending.append(iter(item))
                break
            yield item
        else:
            pending.pop()


def select_entry(default, items, saved_entry=None):
    """The MenuEntry grub boots by default, or None if unclear."""
    if default in (None, ''):
        default = '0'
    if '${saved_entry}' in default or default == 'saved':
        if not saved_entry:
            default = '0'
        else:
            default = saved_entry
    node = items
    for part in default.split('>'):
        if not isinstance(node, list):
            return None
        if part.isdigit() and part.isascii():
            # No int() of a number of thousands of digits.
            node = node[int(part)] if len(part) < 10 and \
                int(part) < len(node) else None
        else:
            found = next((n for n in node if part in (n.id, n.title)),
                         None)
            if found is None:
                # grub also accepts an entry's id or title without its
                # submenu.
                found = next((n for n in all_entries(items)
                              if part in (n.id, n.title)), None)
            node = found
        if node is None:
            return None
    while isinstance(node, list):
        node = node[0] if node else None
    return node


def parse_grubenv(text):
    return {key: value for key, (_line, value)
            in grubenv_lines(text).items()}


def grubenv_lines(text):
    """{key: (line number, value)} of a grubenv block."""
    env = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith('#') or '=' not in line:
            continue
        key, value = line.split('=', 1)
        env[key.strip()] = (number, value.strip())
    return env


def parse_bls(text):
    """A BLS entry as a dict of its keys (linux, initrd, options, ...)."""
    entry = {}
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if len(words) == 2 and not words[0].startswith('#'):
            if words[0] == 'initrd' and 'initrd' in entry:
                # Several initrd lines: the last one is the main initramfs
                # (microcode images come first).
                entry['initrd'] += ' ' + words[1].strip()
            else:
                entry.setdefault(words[0], words[1].strip())
    return entry


def _keyword_lines(text, separators):
    """(line number, lowercased keyword, rest) of each command line."""
    for number, raw in enumerate(text.splitlines(), 1):
        if len(raw) > MAX_LINE:
            continue
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        match = re.match(r'([^\s%s]+)(?:[\s%s]+(.*))?$' % (
            separators, separators), line)
        if match:
            yield number, match.group(1).lower(), (match.group(2) or '')


class Block:
    """A GRUB legacy title block or an extlinux LABEL."""

    def __init__(self, title, line):
        self.title = title
        self.line = line
        self.kernel = None
        self.kernel_line = None
        self.initrd = None
        self.root = None
        self.menu_default = False


def parse_menu_lst(text):
    """(default, blocks) of a GRUB legacy menu.lst / grub.conf.

    ``default`` is (line number, value) or None; ``blocks`` are the title
    blocks in order. GRUB legacy separates a command from its arguments
    by blanks or '='.
    """
    default = None
    blocks = []
    for number, key, rest in _keyword_lines(text, '='):
        if key == 'title':
            if len(blocks) >= MAX_ENTRIES:
                break
            blocks.append(Block(rest.strip(), number))
        elif key == 'default' and not blocks:
            default = (number, rest.strip())
        elif key == 'kernel' and blocks:
            words = rest.split()
            blocks[-1].kernel = words[0] if words else None
            blocks[-1].kernel_line = number
            blocks[-1].root = root_option(words[1:])
        elif key == 'initrd' and blocks:
            words = rest.split()
            blocks[-1].initrd = words[0] if words else None
    return default, blocks


def parse_extlinux(text):
    """(defaults, blocks) of an extlinux.conf / syslinux.cfg.

    ``defaults`` maps 'default' and 'ontimeout' to (line number, label);
    keywords are case-insensitive. A label's ``menu_default`` is set by
    MENU DEFAULT inside it.
    """
    defaults = {}
    blocks = []
    for number, key, rest in _keyword_lines(text, ''):
        if key == 'label':
            if len(blocks) >= MAX_ENTRIES:
                break
            blocks.append(Block(rest.strip(), number))
        elif key in ('default', 'ontimeout'):
            defaults[key] = (number, rest.strip())
        elif key in ('kernel', 'linux') and blocks:
            words = rest.split()
            blocks[-1].kernel = words[0] if words else None
            blocks[-1].kernel_line = number
        elif key == 'initrd' and blocks:
            words = rest.split(',')
            blocks[-1].initrd = words[-1].strip() or None
        elif key == 'append' and blocks:
            for word in rest.split():
                if word.startswith('initrd=') and blocks[-1].initrd is None:
                    blocks[-1].initrd = word[7:].split(',')[-1] or None
            blocks[-1].root = root_option(rest.split())
        elif key == 'menu' and blocks and rest.strip().lower() == 'default':
            blocks[-1].menu_default = True
    return defaults, blocks


def parse_loader_conf(text):
    """{key: (line number, value)} of a systemd-boot loader.conf."""
    conf = {}
    for number, key, rest in _keyword_lines(text, ''):
        conf[key] = (number, rest.strip())
    return conf
