"""Which kernel the boot loader boots: its own files, read in its order.

GRUB 2 (grub.cfg on the ESP or in /boot, the grubenv beside it, BLS
entries sorted as blscfg sorts them), GRUB legacy (menu.lst / grub.conf
and /boot/grub/default), systemd-boot (loader.conf on the ESP) and
extlinux/syslinux. Each configuration found gives one Choice; a choice
that cannot be told says why in ``unknown``, never guesses the newest.
"""

import collections
import fnmatch
import logging
import posixpath
import re

from glance_virtio.inspect import bootconfig

LOG = logging.getLogger(__name__)

BLS_DIR = '/boot/loader/entries'
BLS_LIMIT = 65536
# grub.cfg is some KB, some 100 KB with many kernels and other systems.
GRUB_CFG_LIMIT = 1 << 20
MAX_BLS_ENTRIES = 256
MAX_SYMLINK_HOPS = 40
# Path parts walked to resolve one path, symlink targets included.
MAX_PATH_PARTS = 4096
# EFI/<vendor> directories searched for a grub.cfg.
MAX_VENDORS = 32
GRUB_CFGS = ('/boot/grub2/grub.cfg', '/boot/grub/grub.cfg')
LEGACY_CFGS = ('/boot/grub/grub.conf', '/boot/grub/menu.lst')
EXTLINUX_CFGS = ('/boot/extlinux/extlinux.conf', '/boot/extlinux.conf',
                 '/boot/syslinux/syslinux.cfg',
                 '/boot/syslinux/extlinux.conf', '/extlinux.conf',
                 '/extlinux/extlinux.conf', '/syslinux/syslinux.cfg')
NVRAM = ('LoaderEntryOneShot and LoaderEntryDefault are EFI variables in '
         'NVRAM, not in the image: a new instance starts without them')

# how: short name for notes; version: the kernel it boots; initrd: the
# guest path of its initramfs; evidence: the files and lines that chose
# it; unknown: why the choice cannot be told (then version is None).
Choice = collections.namedtuple('Choice', 'how version initrd evidence '
                                          'unknown')


def _unknown(how, reason, evidence=()):
    return Choice(how, None, None, list(evidence) + [reason], reason)


def resolve(tree, path):
    """``path`` with every symlink in it followed, across mounts, or None.

    A filesystem follows the symlinks inside itself only: /boot/grub2/
    grubenv -> ../efi/EFI/redhat/grubenv leaves /boot for the ESP.
    """
    todo = [p for p in path.split('/') if p]
    todo.reverse()
    done = []
    hops = walked = 0
    while todo:
        walked += 1
        if walked > MAX_PATH_PARTS:
            return None
        name = todo.pop()
        if name == '.':
            continue
        if name == '..':
            if done:
                done.pop()
            continue
        target = tree.readlink('/' + '/'.join(done + [name]))
        if not target:
            done.append(name)
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            return None
        if target.startswith('/'):
            done = []
        todo.extend(reversed([p for p in target.split('/') if p]))
    return '/' + '/'.join(done)


def _present(tree, path):
    """A file or a symlink (perhaps into another filesystem) at ``path``."""
    return tree.exists(path) or bool(tree.readlink(path))


def _named(path, real):
    return path if real == path else '%s (-> %s)' % (path, real)


def _read(tree, path, notes):
    """(real path, text) of a boot loader file, or (real, None)."""
    real = resolve(tree, path)
    if real is None:
        notes.append('%s: too many symbolic links or path parts' % path)
        return path, None
    size = tree.size(real)
    if size is not None and size > GRUB_CFG_LIMIT:
        notes.append('%s is %d bytes, above the limit of %d; not read'
                     % (path, size, GRUB_CFG_LIMIT))
        return real, ''
    return real, tree.read_text(real, GRUB_CFG_LIMIT)


def mount_of(tree, path):
    mount_of = getattr(tree, 'mount_of', None)
    return mount_of(path) if mount_of else ''


def boot_file(tree, base, path):
    """The guest path of a file a boot loader names on a filesystem.

    ``base`` is where that filesystem is mounted ('' for the root). A
    (hd0,0) or ($root) device prefix is dropped. When no file is there,
    /boot/NAME is tried, as before boot loaders were read.
    """
    if not path:
        return None
    path = re.sub(r'^\([^)]*\)', '', path.strip())
    if not path.startswith('/'):
        path = '/' + path
    full = posixpath.normpath(base + path)
    if tree.exists(full):
        return full
    fallback = '/boot/' + posixpath.basename(path)
    if tree.exists(fallback):
        return fallback
    return full


def bls_entries(tree, notes, directory=BLS_DIR):
    """The boot loader entries (BLS type 1) in ``directory``, by name."""
    names = sorted(n for n in tree.listdir(directory)
                   if n.endswith('.conf'))
    if len(names) > MAX_BLS_ENTRIES:
        notes.append('%d boot loader entries; only the first %d are read'
                     % (len(names), MAX_BLS_ENTRIES))
        names = names[:MAX_BLS_ENTRIES]
    entries = []
    for name in names:
        path = directory + '/' + name
        text = tree.read_text(path, BLS_LIMIT)
        entry = bootconfig.parse_bls(text or '')
        entry['id'] = name[:-len('.conf')]
        entry['file'] = path
        entries.append(entry)
    return entries


def bls_version(entry):
    return entry.get('version') or bootconfig.kernel_version(
        entry.get('linux'))


def choices(tree, bls, notes, roots, initrds):
    """A Choice for each boot loader configuration found in the guest.

    The root= values of their menu entries are added to ``roots``;
    ``initrds`` maps a kernel version to the initramfs systemd-boot loads
    for it from the ESP (not the copy in /boot).
    """
    found = []
    found.extend(_grub2(tree, bls, notes, roots))
    found.extend(_grub_legacy(tree, notes, roots))
    found.extend(_systemd_boot(tree, notes, initrds))
    found.extend(_extlinux(tree, notes, roots))
    return found


def _with(initrd):
    return 'with initrd %s' % initrd if initrd else 'without an initrd'


def _picked(how, version, initrd, evidence, kernel):
    if version is None:
        return _unknown(how, 'the version of kernel %s cannot be told from '
                        'its name' % kernel, evidence)
    return Choice(how, version, initrd, evidence, None)


def _kernel_version(tree, base, kernel):
    """The version of the kernel a boot entry names; links followed."""
    version = bootconfig.kernel_version(kernel)
    if version is None and kernel:
        real = resolve(tree, boot_file(tree, base, kernel))
        version = bootconfig.kernel_version(real)
    return version


# GRUB 2

def _esp_grub_cfgs(tree):
    """grub.cfg files in the ESP's EFI/<vendor>/ directories."""
    esp = getattr(tree, 'esp_mount', None)
    if not esp:
        return []
    paths = []
    vendors = [v for v in sorted(tree.listdir(esp + '/EFI'))
               if v.lower() != 'boot']
    for vendor in vendors[:MAX_VENDORS]:
        directory = '%s/EFI/%s' % (esp, vendor)
        name = next((n for n in tree.listdir(directory)
                     if n.lower() == 'grub.cfg'), None)
        if name:
            paths.append('%s/%s' % (directory, name))
    return paths


def _grub2(tree, bls, notes, roots):
    found = []
    for path in _esp_grub_cfgs(tree):
        real, text = _read(tree, path, notes)
        if text == '':
            found.append(_unknown('grub.cfg default entry',
                                  '%s could not be read whole' % path))
            continue
        if not text:
            continue
        cfg_notes = []
        cfg = bootconfig.read_grub_cfg(text, cfg_notes)
        if cfg.items or cfg.blscfg_at is not None or cfg.defaults:
            found.append(_grub2_choice(tree, path, text, cfg, cfg_notes,
                                       bls, notes, roots))
        # Otherwise a stub that hands over (configfile) to /boot's grub.cfg.
    for path in GRUB_CFGS:
        if not _present(tree, path):
            continue
        real, text = _read(tree, path, notes)
        if text == '':
            found.append(_unknown('grub.cfg default entry',
                                  '%s could not be read whole' % path))
            break
        if text is None and real != path:
            found.append(_unknown('grub.cfg default entry', '%s cannot be '
                                  'found (is the ESP missing?)'
                                  % _named(path, real)))
            break
        if text:
            cfg_notes = []
            cfg = bootconfig.read_grub_cfg(text, cfg_notes)
            found.append(_grub2_choice(tree, path, text, cfg, cfg_notes,
                                       bls, notes, roots))
            break
    return found


def _grubenv(tree, cfg_path):
    """(env {key: (line, value)}, its name, problem) for a grub.cfg.

    The grubenv beside the grub.cfg: ${config_directory}/grubenv (Red
    Hat) or $prefix/grubenv (Debian), which is the same directory.
    """
    path = posixpath.dirname(cfg_path) + '/grubenv'
    real = resolve(tree, path)
    if real is None:
        return {}, path, '%s: too many symbolic links' % path
    name = _named(path, real)
    if real != path and not tree.exists(real):
        return {}, name, 'the grubenv %s cannot be found (is the ESP ' \
            'missing?)' % name
    env_text = tree.read_text(real, BLS_LIMIT)
    if env_text is None:
        # GRUB's load_env fails quietly: nothing is set.
        return {}, name, None
    return bootconfig.grubenv_lines(env_text), name, None


def _applies(conditions, env):
    """(True/False, None) whether a set default= line runs; (None, why).

    The tests grub-mkconfig writes around a default: a one-time
    next_entry and (Fedora, Red Hat) the boot counter of
    08_fallback_counting; any other test is not evaluated.
    """
    for test, in_else in conditions:
        if 'next_entry' in test:
            holds = bool(env.get('next_entry', (None, ''))[1])
        elif 'boot_counter' in test:
            if env.get('boot_counter', (None, ''))[1]:
                return None, 'the boot counter (boot_counter is set in the ' \
                    'grubenv)'
            holds = False
        else:
            return None, 'the test "%s", which is not evaluated' % test
        if holds == in_else:
            return False, None
    return True, None


def _bls_menu(bls, by_version):
    """MenuEntry objects of the BLS entries in blscfg's order.

    blscfg sorts newest first: some builds by the version key and then
    the file name, others by the file name read as name-version-release
    (rpm's version comparison; bootconfig.version_key orders alike).
    """
    def key(entry):
        if by_version:
            return (bootconfig.version_key(entry.get('version') or ''),
                    bootconfig.version_key(entry['id']))
        return bootconfig.version_key(entry['id'])
    menu = []
    for entry in sorted(bls, key=key, reverse=True):
        node = bootconfig.MenuEntry(entry.get('title') or entry['id'],
                                    entry['id'])
        node.kernel = entry.get('linux')
        node.initrd = bootconfig.last_path(
            (entry.get('initrd') or '').split())
        node.file = entry['file']
        node.version = bls_version(entry)
        menu.append(node)
    return menu


def _select(cfg, bls, value):
    """The entry grub boots for ``value``, or (None, why not)."""
    picks = []
    for by_version in ((True, False) if cfg.blscfg_at is not None
                       else (True,)):
        menu = list(cfg.items)
        if cfg.blscfg_at is not None:
            menu[cfg.blscfg_at:cfg.blscfg_at] = _bls_menu(bls, by_version)
        if not menu:
            return None, 'has no menu entry'
        entry = bootconfig.select_entry(value, menu)
        if entry is None:
            return None, 'default "%s" names no menu entry (an entry that ' \
                'no longer exists?)' % value
        picks.append(entry)
    if len({(e.file, e.kernel, e.initrd) for e in picks}) > 1:
        return None, 'default "%s" picks a different entry depending on ' \
            'how the GRUB build sorts boot loader entries' % value
    return picks[0], None


def _grub2_choice(tree, path, text, cfg, cfg_notes, bls, notes, roots):
    how = 'grub.cfg default entry'
    if cfg_notes:
        notes.extend('%s: %s; its default entry is not used'
                     % (path, note) for note in cfg_notes)
        return _unknown(how, '%s could not be read whole' % path)
    roots.extend(e.root for e in bootconfig.all_entries(cfg.items)
                 if e.root)
    env, env_name, problem = _grubenv(tree, path)
    if problem and any('$' in value or conditions
                       for _line, value, conditions in cfg.defaults):
        return _unknown(how, problem)
    evidence = []
    chosen = None
    for line, value, conditions in cfg.defaults:
        applies, why = _applies(conditions, env)
        if applies is None:
            return _unknown(how, '%s line %d: set default="%s" depends on '
                            '%s' % (path, line, value, why))
        if applies:
            chosen = (line, value)
    if chosen is None:
        value = '0'
        evidence.append('%s sets no default: GRUB boots the first entry'
                        % path)
    else:
        line, value = chosen
        evidence.append('%s line %d: set default="%s"' % (path, line, value))
        for var in ('next_entry', 'saved_entry'):
            if '${%s}' % var not in value and '$%s' % var != value:
                continue
            env_line, env_value = env.get(var, (None, ''))
            if env_line:
                evidence.append('%s line %d: %s=%s' % (env_name, env_line,
                                                       var, env_value))
                how = 'grubenv %s' % var
            else:
                evidence.append('%s is not set%s: GRUB boots the first '
                                'entry' % (var, ' in %s' % env_name
                                           if env_name else ''))
            value = value.replace('${%s}' % var, env_value)
            if value == '$' + var:
                value = env_value
    if '$' in value:
        return _unknown(how, '%s: default "%s" depends on a variable this '
                        'inspection does not evaluate' % (path, value),
                        evidence)
    entry, why = _select(cfg, bls, value)
    if entry is None:
        return _unknown(how, '%s: %s' % (path, why), evidence)
    if entry.file:
        base = mount_of(tree, posixpath.dirname(entry.file))
        where = 'boot loader entry %s' % entry.file
        version = entry.version
    else:
        base = mount_of(tree, posixpath.dirname(path))
        where = '%s line %s' % (path, entry.line)
        version = _kernel_version(tree, base, entry.kernel)
    if not entry.kernel:
        return _unknown(how, 'the default entry "%s" (%s) boots no Linux '
                        'kernel' % (entry.title, where), evidence)
    initrd = boot_file(tree, base, entry.initrd)
    evidence.append('entry "%s" (%s) boots kernel %s %s' % (
        entry.title, where, version, _with(initrd)))
    return _picked(how, version, initrd, evidence, entry.kernel)


# GRUB legacy

def _grub_legacy(tree, notes, roots):
    return _each_config(tree, notes, roots, LEGACY_CFGS, 'default',
                        _legacy_choice)


def _each_config(tree, notes, roots, paths, keyword, choose):
    """choose(...) of each of paths present, once per file links reach."""
    found = []
    seen = set()
    for path in paths:
        if not _present(tree, path):
            continue
        real, text = _read(tree, path, notes)
        if real in seen:
            continue
        seen.add(real)
        how = '%s %s' % (posixpath.basename(path), keyword)
        if not text:
            found.append(_unknown(how, '%s could not be read' % path))
            continue
        found.append(choose(tree, _named(path, real), real, text, how,
                            roots))
    return found


def _legacy_choice(tree, name, real, text, how, roots):
    default, blocks = bootconfig.parse_menu_lst(text)
    roots.extend(b.root for b in blocks if b.root)
    evidence = []
    if default is None:
        index = '0'
        evidence.append('%s has no default line: GRUB boots the first '
                        'title' % name)
    else:
        line, index = default
        evidence.append('%s line %d: default %s' % (name, line, index))
    if index == 'saved':
        # Debian's and Red Hat's GRUB keep the saved entry in
        # /boot/grub/default, beside menu.lst.
        saved = posixpath.dirname(real) + '/default'
        saved_text = tree.read_text(saved, BLS_LIMIT)
        first = (saved_text or '').strip().split('\n')[0].strip()
        if not first:
            return _unknown(how, '%s: default saved, but %s is missing or '
                            'empty' % (name, saved), evidence)
        evidence.append('%s line 1: %s' % (saved, first))
        index = first
    if not (index.isdigit() and index.isascii() and len(index) < 10):
        return _unknown(how, '%s: default "%s" is not an entry number'
                        % (name, index), evidence)
    if int(index) >= len(blocks):
        return _unknown(how, '%s: default %s names no title block (%d '
                        'found)' % (name, index, len(blocks)), evidence)
    block = blocks[int(index)]
    if not block.kernel:
        return _unknown(how, 'title "%s" (%s line %d) boots no Linux kernel'
                        % (block.title, name, block.line), evidence)
    base = mount_of(tree, posixpath.dirname(real))
    version = _kernel_version(tree, base, block.kernel)
    initrd = boot_file(tree, base, block.initrd)
    evidence.append('title "%s" (%s line %d, title %d) boots kernel %s '
                    '(line %d) %s' % (
                        block.title, name, block.line, int(index) + 1,
                        version, block.kernel_line, _with(initrd)))
    return _picked(how, version, initrd, evidence, block.kernel)


# systemd-boot

def _systemd_boot(tree, notes, initrds):
    esp = getattr(tree, 'esp_mount', None)
    if not esp:
        return []
    conf_path = esp + '/loader/loader.conf'
    entries = bls_entries(tree, notes, esp + '/loader/entries')
    if not tree.exists(conf_path) and not entries:
        return []
    for entry in entries:
        initrd = _sd_initrd(tree, entry)
        if initrd:
            initrds.setdefault(bls_version(entry), initrd)
    how = 'loader.conf default'
    real, text = _read(tree, conf_path, notes)
    conf = bootconfig.parse_loader_conf(text or '')
    evidence = []
    if not entries:
        return [_unknown(how, 'systemd-boot: no entry in %s/loader/entries'
                         % esp, evidence)]
    default = conf.get('default')
    if default is None:
        if len(entries) == 1:
            evidence.append('%s names no default; the only entry is %s'
                            % (conf_path, entries[0]['file']))
            return [_sd_choice(tree, how, entries, evidence)]
        return [_unknown(how, '%s names no default: systemd-boot boots the '
                         'first entry in its sort order, which depends on '
                         'its version' % conf_path, evidence)]
    line, pattern = default
    evidence.append('%s line %d: default %s' % (conf_path, line, pattern))
    if pattern.startswith('@'):
        return [_unknown(how, '%s: default %s is kept in NVRAM' % (
            conf_path, pattern), evidence)]
    pattern = pattern.lower()
    # Entry ids are the file names, lower case; newer versions also
    # match them without ".conf".
    matched = [e for e in entries if fnmatch.fnmatchcase(
        e['id'].lower() + '.conf', pattern) or fnmatch.fnmatchcase(
        e['id'].lower(), pattern)]
    if not matched:
        return [_unknown(how, '%s: default %s names no entry in %s/loader/'
                         'entries' % (conf_path, pattern, esp), evidence)]
    return [_sd_choice(tree, how, matched, evidence)]


def _sd_initrd(tree, entry):
    base = mount_of(tree, posixpath.dirname(entry['file']))
    return boot_file(tree, base, bootconfig.last_path(
        (entry.get('initrd') or '').split()))


def _sd_choice(tree, how, entries, evidence):
    """The kernel the matched entries boot, when they all agree."""
    picks = set()
    for entry in entries:
        picks.add((bls_version(entry), _sd_initrd(tree, entry)))
    if len(picks) > 1:
        return _unknown(how, 'the default matches %d entries that boot '
                        'different kernels: %s' % (len(entries), ', '.join(
                            e['file'] for e in entries)), evidence)
    version, initrd = picks.pop()
    evidence.append('entry %s boots kernel %s %s' % (
        ', '.join(e['file'] for e in entries), version, _with(initrd)))
    evidence.append(NVRAM)
    return _picked(how, version, initrd, evidence, entries[0].get('linux'))


# extlinux / syslinux

def _extlinux(tree, notes, roots):
    return _each_config(tree, notes, roots, EXTLINUX_CFGS, 'DEFAULT',
                        _extlinux_choice)


def _extlinux_choice(tree, name, real, text, how, roots):
    defaults, blocks = bootconfig.parse_extlinux(text)
    roots.extend(b.root for b in blocks if b.root)
    # Nobody presses a key at an instance's first boot: the timeout
    # boots ONTIMEOUT, else the MENU DEFAULT label, else DEFAULT. When
    # they differ, which one runs depends on TIMEOUT, PROMPT and UI.
    named = []
    for block in blocks:
        if block.menu_default:
            named.append(('line %d: MENU DEFAULT in LABEL %s' % (
                block.line, block.title), block.title))
    for key in ('ontimeout', 'default'):
        if key in defaults:
            line, value = defaults[key]
            label = (value.split() or [''])[0]
            named.append(('line %d: %s %s' % (line, key.upper(), value),
                          label))
    if not named:
        if not blocks:
            return _unknown(how, '%s has no LABEL' % name)
        named.append(('has no DEFAULT: the first LABEL %s'
                      % blocks[0].title, blocks[0].title))
    evidence = ['%s %s' % (name, said) for said, _label in named]
    labels = {label for _said, label in named}
    if len(labels) > 1:
        return _unknown(how, '%s names several default labels (%s): which '
                        'one boots depends on TIMEOUT, PROMPT and UI' % (
                            name, ', '.join(sorted(labels))), evidence)
    label = labels.pop()
    block = next((b for b in blocks if b.title == label), None)
    if block is None:
        return _unknown(how, '%s: "%s" names no LABEL' % (name, label),
                        evidence)
    if not block.kernel:
        return _unknown(how, 'LABEL %s (%s line %d) boots no Linux kernel'
                        % (label, name, block.line), evidence)
    base = mount_of(tree, posixpath.dirname(real))
    kernel = block.kernel
    if not kernel.startswith('/'):
        # Relative paths are read from the configuration's directory.
        kernel = posixpath.join(posixpath.dirname(real), kernel)[len(base):]
    initrd = block.initrd
    if initrd and not initrd.startswith('/'):
        initrd = posixpath.join(posixpath.dirname(real), initrd)[len(base):]
    version = _kernel_version(tree, base, kernel)
    initrd = boot_file(tree, base, initrd)
    evidence.append('LABEL %s (%s line %d) boots kernel %s (line %d) %s'
                    % (label, name, block.line, version, block.kernel_line,
                       _with(initrd)))
    return _picked(how, version, initrd, evidence, kernel)
