#!/usr/bin/env bash
# Make the seed corpus of the fuzz targets: tests/fuzz/corpus/<target>/.
# Real files made by real tools: cpio + gzip/xz/lzma/bzip2/zstd/lz4, sfdisk,
# hivexsh, and a Debian kernel package's config and modules.builtin.
# Usage: tests/fuzz/make_corpus.sh [KERNEL_DEB]
#   KERNEL_DEB: a linux-image-*.deb; downloaded with apt-get when not given.
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUT="$HERE/corpus"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PYTHON=${PYTHON:-python3}

seed() {  # seed TARGET NAME: stdin -> corpus/TARGET/NAME
    mkdir -p "$OUT/$1"
    cat > "$OUT/$1/$2"
}

# --- initramfs: a small tree as cpio newc, in every compression -----------
KVER=6.1.0-13-amd64
tree="$WORK/initramfs"
mkdir -p "$tree/usr/lib/modules/$KVER/kernel/drivers/block" \
    "$tree/usr/lib/modules/$KVER/kernel/drivers/scsi" \
    "$tree/usr/lib/modules/$KVER/kernel/drivers/virtio" \
    "$tree/usr/bin" "$tree/etc"
ln -s usr/lib "$tree/lib"
ln -s usr/bin "$tree/bin"
echo 'virtio_blk' | xz > \
    "$tree/usr/lib/modules/$KVER/kernel/drivers/block/virtio_blk.ko.xz"
echo 'virtio_scsi' > \
    "$tree/usr/lib/modules/$KVER/kernel/drivers/scsi/virtio_scsi.ko"
echo 'virtio_pci' | zstd -q > \
    "$tree/usr/lib/modules/$KVER/kernel/drivers/virtio/virtio_pci.ko.zst"
printf 'kernel/drivers/block/virtio_blk.ko.xz:\n' > \
    "$tree/usr/lib/modules/$KVER/modules.dep"
printf '#!/bin/sh\nexec /sbin/init\n' > "$tree/init"
chmod 755 "$tree/init"
echo "$KVER" > "$tree/etc/hostname"
(cd "$tree" && find . | LC_ALL=C sort | cpio --quiet -o -H newc) \
    > "$WORK/main.cpio"
seed initramfs plain.cpio < "$WORK/main.cpio"
gzip -9n < "$WORK/main.cpio" | seed initramfs gzip.cpio.gz
xz --check=crc32 < "$WORK/main.cpio" | seed initramfs xz.cpio.xz
lzma < "$WORK/main.cpio" | seed initramfs lzma.cpio.lzma
bzip2 -9 < "$WORK/main.cpio" | seed initramfs bzip2.cpio.bz2
zstd -q -19 < "$WORK/main.cpio" | seed initramfs zstd.cpio.zst
lz4 -q -l < "$WORK/main.cpio" | seed initramfs lz4.cpio.lz4
# Early microcode first, uncompressed, then the compressed main archive.
ucode="$WORK/ucode"
mkdir -p "$ucode/kernel/x86/microcode"
printf 'microcode' > "$ucode/kernel/x86/microcode/GenuineIntel.bin"
(cd "$ucode" && find . | LC_ALL=C sort | cpio --quiet -o -H newc) \
    > "$WORK/early.cpio"
cat "$WORK/early.cpio" "$OUT/initramfs/zstd.cpio.zst" | \
    seed initramfs early-microcode+zstd.cpio

# --- os-release, debian_version --------------------------------------------
for file in /etc/os-release /etc/debian_version; do
    if [ -f "$file" ]; then
        seed os_release "host$(echo "$file" | tr / -)" < "$file"
    fi
done
seed os_release fedora-os-release <<'EOF'
NAME="Fedora Linux"
VERSION="39 (Cloud Edition)"
ID=fedora
VERSION_ID=39
PLATFORM_ID="platform:f39"
PRETTY_NAME="Fedora Linux 39 (Cloud Edition)"
# a comment
VARIANT_ID=cloud
EOF
seed os_release centos-redhat-release <<'EOF'
CentOS Linux release 7.9.2009 (Core)
EOF

# --- fstab ------------------------------------------------------------------
seed fstab debian-cloud <<'EOF'
# /etc/fstab: static file system information.
PARTUUID=5bd1a1ad-42a7-4f5d-9b2f-0e0d1d0d6b0a / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1
PARTUUID=2e1f8b6c-5b4c-4d2e-8f11-1d5b5d6a9c01 /boot/efi vfat defaults 0 0
EOF
seed fstab rhel <<'EOF'

#
# /etc/fstab
# Created by anaconda on Tue Oct 10 12:00:00 2023
#
/dev/mapper/rhel-root   /                       xfs     defaults        0 0
UUID=0c2e4f64-9c1a-4a43-9d1e-6f1b2c3d4e5f /boot xfs     defaults        0 0
/dev/mapper/rhel-swap   none                    swap    defaults        0 0
LABEL=data	/srv	ext4	noatime	0	2
/dev/vdb1 /mnt auto nofail 0 0
tmpfs /tmp tmpfs defaults 0 0
EOF

# --- grub.cfg, grubenv, BLS entries -----------------------------------------
cp "$TOP/tests/fixtures/data/grub-debian.cfg" "$TOP/tests/fixtures/data/grub-bls.cfg" \
    "$(mkdir -p "$OUT/grub_cfg" && echo "$OUT/grub_cfg")/"
# grub-editenv's layout: a 1024-byte block padded with '#'.
{
    printf '# GRUB Environment Block\n'
    printf 'saved_entry=4f6a1c2b3d4e5f60718293a4b5c6d7e8-%s\n' "$KVER"
    printf 'kernelopts=root=/dev/mapper/rhel-root ro crashkernel=auto\n'
    printf 'boot_success=0\n'
} > "$WORK/grubenv"
pad=$((1024 - $(stat -c %s "$WORK/grubenv")))
head -c "$pad" /dev/zero | tr '\0' '#' >> "$WORK/grubenv"
seed grubenv grubenv < "$WORK/grubenv"
seed bls fedora.conf <<EOF
title Fedora Linux (6.5.6-300.fc39.x86_64) 39 (Cloud Edition)
version 6.5.6-300.fc39.x86_64
linux /vmlinuz-6.5.6-300.fc39.x86_64
initrd /initramfs-6.5.6-300.fc39.x86_64.img
options root=UUID=9f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b ro rootflags=subvol=root no_timer_check console=tty1 console=ttyS0,115200n8
grub_users \$grub_users
grub_arg --unrestricted
grub_class fedora
EOF
seed bls rhel.conf <<EOF
title Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 (Plow)
version 5.14.0-362.8.1.el9_3.x86_64
linux /vmlinuz-5.14.0-362.8.1.el9_3.x86_64
initrd /initramfs-5.14.0-362.8.1.el9_3.x86_64.img \$tuned_initrd
options \$kernelopts \$tuned_params
id rhel-20231024120000-5.14.0-362.8.1.el9_3.x86_64
grub_users \$grub_users
grub_arg --unrestricted
grub_class rhel
EOF

# --- kernel config and modules.builtin, from a Debian kernel package --------
deb=${1:-}
if [ -z "$deb" ]; then
    abi=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
    (cd "$WORK" && apt-get download "$abi" >/dev/null)
    deb=$(ls "$WORK"/linux-image-*.deb)
fi
mkdir -p "$WORK/kernel"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$WORK/kernel" --wildcards \
    './boot/config-*' './lib/modules/*/modules.builtin' \
    './lib/modules/*/modules.order'
config=$(ls "$WORK"/kernel/boot/config-*)
# The header and the storage/virtio part: the whole file is 250 KB.
{ head -n 5 "$config"; grep -E 'VIRTIO|SCSI|_ATA|SATA|BLK_DEV|_NET_' "$config"; } | \
    seed kernel_config debian-config
seed modules_builtin modules.builtin < "$(ls "$WORK"/kernel/lib/modules/*/modules.builtin)"
grep -E 'virtio|/ata/|scsi' "$(ls "$WORK"/kernel/lib/modules/*/modules.order)" | \
    sed 's/$/:/' | seed modules_builtin modules.dep-from-order

# --- MBR with an extended partition and two logical ones (sfdisk) ------------
img="$WORK/mbr.img"
truncate -s 64K "$img"
sfdisk --quiet --no-reread --wipe never "$img" <<'EOF'
label: dos
start=1, size=31, type=83, bootable
start=32, size=96, type=5
start=34, size=30, type=83
start=66, size=62, type=82
EOF
seed mbr extended.img < "$img"
truncate -s 16K "$WORK/one.img"
printf 'label: dos\nstart=2, size=30, type=7\n' | \
    sfdisk --quiet --no-reread --wipe never "$WORK/one.img"
seed mbr ntfs-primary.img < "$WORK/one.img"

# --- registry hives: an empty hive, then keys and values added by hivexsh ---
# (hivex cannot create a hive: tests/fixtures/regf.py writes the empty one.)
for name in SYSTEM SOFTWARE; do
    (cd "$TOP" && "$PYTHON" -c "import sys; from tests.fixtures import regf; \
regf.write_hive(sys.argv[1], regf.Key('ROOT'), sys.argv[2])" \
        "$WORK/$name" "$name")
done
hivexsh -w "$WORK/SYSTEM" <<'EOF'
add Select
cd Select
setval 1
Current
dword:0x00000001
cd ..
add ControlSet001
cd ControlSet001
add Services
add Control
cd Control
add Session Manager
cd Session Manager
add Environment
cd Environment
setval 1
PROCESSOR_ARCHITECTURE
string:AMD64
cd ..
cd ..
add CriticalDeviceDatabase
cd CriticalDeviceDatabase
add pci#ven_1af4&dev_1001
cd pci#ven_1af4&dev_1001
setval 1
Service
string:viostor
cd ..
cd ..
cd ..
cd Services
add viostor
cd viostor
setval 3
Start
dword:0x00000000
ImagePath
expandstring:System32\drivers\viostor.sys
Group
string:SCSI miniport
cd ..
add netkvm
cd netkvm
setval 1
Start
dword:0x00000003
commit
EOF
hivexsh -w "$WORK/SOFTWARE" <<'EOF'
add Microsoft
cd Microsoft
add Windows NT
cd Windows NT
add CurrentVersion
cd CurrentVersion
setval 6
ProductName
string:Windows Server 2022 Datacenter
CurrentBuild
string:20348
EditionID
string:ServerDatacenter
InstallationType
string:Server
CurrentMajorVersionNumber
dword:0x0000000a
CurrentMinorVersionNumber
dword:0x00000000
commit
EOF
seed hive SYSTEM < "$WORK/SYSTEM"
seed hive SOFTWARE < "$WORK/SOFTWARE"

ls -lR "$OUT"

# --- regression inputs made with hivexsh: CurrentVersion values of a kind
# the walker did not expect. superscript-build: '2²' ('²'.isdigit() is true;
# as UTF-16LE bytes, hivexsh's string: is ASCII only); long-build: 4,400
# digits (over int()'s 4,300-digit limit); wrong-types: ProductName as
# REG_BINARY, EditionID as REG_DWORD.
mkdir -p "$HERE/regressions/hive"
for case in superscript-build long-build wrong-types; do
    case $case in
    superscript-build) values='1\nCurrentBuild\nhex:1:32,00,b2,00,00,00' ;;
    long-build) values="1\nCurrentBuild\nstring:$(head -c 4400 /dev/zero | tr '\0' 9)" ;;
    wrong-types) values='2\nProductName\nhex:3:57,00,69,00\nEditionID\ndword:0x00000007' ;;
    esac
    cp "$OUT/hive/SOFTWARE" "$WORK/$case"
    printf "cd \\\\Microsoft\\\\Windows NT\\\\CurrentVersion\nsetval $values\ncommit\n" | \
        hivexsh -w "$WORK/$case"
    cp "$WORK/$case" "$HERE/regressions/hive/$case"
done
