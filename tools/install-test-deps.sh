#!/usr/bin/env bash
# Install the Debian tools the test fixtures use to build real disk images
# (tests/fixtures/images.py) and RabbitMQ, the message bus of the local
# cloud's Nova and Cinder (tools/devcloud.sh). Idempotent: does nothing when all are present.
# Fails loudly when a tool is missing and cannot be installed.
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"

# tool:package
TOOLS="
qemu-img:qemu-utils
sgdisk:gdisk
sfdisk:fdisk
mkfs.ext4:e2fsprogs
mkfs.ext3:e2fsprogs
mkfs.ext2:e2fsprogs
mkfs.xfs:xfsprogs
mkfs.vfat:dosfstools
mmd:mtools
mcopy:mtools
mkntfs:ntfs-3g
ntfs-3g:ntfs-3g
ntfsls:ntfs-3g
pvck:lvm2
mkswap:util-linux
umount:mount
cpio:cpio
gzip:gzip
xz:xz-utils
bzip2:bzip2
zstd:zstd
lz4:lz4
cryptsetup:cryptsetup-bin
hivexml:libhivex-bin
rabbitmq-server:rabbitmq-server
epmd:erlang-base
qemu-system-x86_64:qemu-system-x86
debootstrap:debootstrap
grub-mkimage:grub-common
"

# file:package, for packages that install no command (virtio-verify's
# canary boots and its bootable Debian fixtures, tests/fixtures/bootable.py).
FILES="
/usr/lib/grub/i386-pc/boot.img:grub-pc-bin
/usr/lib/grub/x86_64-efi/linux.mod:grub-efi-amd64-bin
/usr/share/OVMF/OVMF_CODE_4M.fd:ovmf
/usr/share/seabios/bios-256k.bin:seabios
"

missing_packages() {
    local entry tool package
    {
    for entry in $TOOLS; do
        tool=${entry%%:*}
        package=${entry#*:}
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$package"
        fi
    done
    for entry in $FILES; do
        if [ ! -e "${entry%%:*}" ]; then
            echo "${entry#*:}"
        fi
    done
    } | sort -u
}

missing=$(missing_packages)
# tools/nova-oracle.sh makes a virtualenv for Nova (the explain oracle).
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing="$missing python3-venv"
fi
if [ -n "$missing" ]; then
    echo "install-test-deps: installing:" $missing
    if [ "$(id -u)" != 0 ]; then
        echo "install-test-deps: ERROR: need root to apt-get install:" \
            $missing >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
    missing=$(missing_packages)
    if [ -n "$missing" ]; then
        echo "install-test-deps: ERROR: still missing after install:" \
            $missing >&2
        exit 1
    fi
fi

if [ ! -c /dev/fuse ]; then
    echo "install-test-deps: ERROR: /dev/fuse is missing; the NTFS test" \
        "images are populated through ntfs-3g (FUSE)" >&2
    exit 1
fi
echo "install-test-deps: all fixture tools present"
