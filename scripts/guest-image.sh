#!/usr/bin/env bash
# Builds Meridian's small guest image from Debian packages (nothing prebuilt is downloaded): the
# cloud kernel, busybox-static and dropbear with the libraries it links, in an initramfs whose /init
# reads the VM's metadata from fw_cfg. Writes OUTDIR/vmlinuz, OUTDIR/initramfs.cpio.gz and
# OUTDIR/manifest (the package versions; the agent reports which image booted).
# Idempotent: when OUTDIR/manifest already names the packages apt would fetch now and this recipe,
# it does nothing. Downloads are cached in .cache/guest/debs (git-ignored).
# What the guest's /init reads (fw_cfg, from the agent): opt/meridian/meta, key=value lines vm_id,
# hostname, address (a.b.c.d/prefix), gateway, mtu and ssh_authorized_key (repeatable); and
# opt/meridian/user-data, run as a script when it starts with #!. What it says on ttyS0:
# "meridian-ready <vm-id>" once SSH runs, "meridian-user-data <vm-id> exit=<status>" when the user
# data ends, "meridian-poweroff <vm-id>" on the ACPI power button, "meridian-init: …" on trouble.
# After the ready line, ttyS0 runs a root shell (respawned): the interactive serial console.
# Usage: scripts/guest-image.sh OUTDIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
for tool in apt-get apt-cache dpkg-deb readelf gzip flock sha256sum; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (scripts/setup.sh test installs what this needs)" >&2; exit 1; }
done
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
cache=$repo/.cache/guest
debs=$cache/debs
mkdir -p "$debs"

# One builder at a time (tests running in parallel all ask for the image).
exec 9>"$cache/.lock"
flock 9

say() { printf '==> %s\n' "$*" >&2; }

# apt's package lists can be mid-update (another apt-get update on this machine): retry a query.
apt_query() {
  local try out
  for try in 1 2 3 4 5; do
    if out=$(apt-cache "$@" 2>/dev/null); then printf '%s\n' "$out"; return 0; fi
    sleep 2
  done
  echo "apt-cache $* keeps failing" >&2
  return 1
}

# The kernel: whatever the cloud meta-package points at today.
kernel_pkg=$(apt_query depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ && !found { print $2; found = 1 }')
[ -n "$kernel_pkg" ] || { echo "apt-cache does not know linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
# dropbear-bin's run-time libraries are listed here and checked against its ELF NEEDED entries below.
packages=("$kernel_pkg" busybox-static dropbear-bin libc6 libcrypt1 libtomcrypt1 libtommath1 libgmp10 zlib1g)

recipe=$(sha256sum "$0" | cut -c1-16)
# The version apt would fetch of each package (one apt-cache call: each call takes about a second).
declare -A version
policy=$(apt_query policy "${packages[@]}")
while read -r p v; do version[$p]=$v; done < <(printf '%s\n' "$policy" \
  | awk '/^[^ ].*:$/ { sub(/:$/, ""); p = $0 } /^  Candidate:/ { print p, $2 }')
manifest="image=meridian-initramfs
recipe=$recipe"
for p in "${packages[@]}"; do
  v=${version[$p]:-}
  [ -n "$v" ] && [ "$v" != "(none)" ] || { echo "no candidate version for $p" >&2; exit 1; }
  manifest+=$'\n'"package=$p $v"
done

if [ -f "$out/manifest" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ] \
  && [ "$(cat "$out/manifest")" = "$manifest" ]; then
  say "guest image in $out is current"
  exit 0
fi

# Fetch what is not cached (apt-get download fetches the candidate version into the current directory).
missing=()
for p in "${packages[@]}"; do
  v=${version[$p]}
  f="${p}_${v//:/%3a}_amd64.deb"
  [ -f "$debs/$f" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get download ${missing[*]}"
  # _apt cannot write into a root-owned cache; apt then downloads as root and says so. Quieten that.
  (cd "$debs" && apt-get download -q "${missing[@]}" 2>&1 | grep -v 'Download is performed unsandboxed' >&2 || true)
fi

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkgroot=$work/pkg
root=$work/root
mkdir -p "$pkgroot" "$root"
for p in "${packages[@]}"; do
  v=${version[$p]}
  f="$debs/${p}_${v//:/%3a}_amd64.deb"
  [ -f "$f" ] || { echo "download of $p failed ($f is missing)" >&2; exit 1; }
  dpkg-deb -x "$f" "$pkgroot"
done

kver=$(ls "$pkgroot/lib/modules")
say "assembling the initramfs (kernel $kver)"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/dropbear,proc,sys,dev,run,tmp,data,root/.ssh,var/log,lib/modules}
chmod 700 "$root/root" "$root/root/.ssh"
chmod 1777 "$root/tmp"

# busybox and every applet as a symlink.
cp "$pkgroot/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list-full); do
  [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done

# dropbear and the shared libraries it needs, resolved from the extracted packages (not the host).
cp "$pkgroot/usr/sbin/dropbear" "$root/usr/sbin/"
cp "$pkgroot/usr/bin/dropbearkey" "$root/usr/bin/"
mkdir -p "$root/lib/x86_64-linux-gnu" "$root/lib64"
find_lib() {
  local d
  for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu; do
    [ -e "$pkgroot/$d/$1" ] && { echo "$pkgroot/$d/$1"; return; }
  done
  echo "library $1 is in none of ${packages[*]}" >&2
  return 1
}
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
queue=("$root/usr/sbin/dropbear" "$root/usr/bin/dropbearkey")
while [ ${#queue[@]} -gt 0 ]; do
  elf=${queue[0]}
  queue=("${queue[@]:1}")
  for lib in $(needed "$elf"); do
    [ -e "$root/lib/x86_64-linux-gnu/$lib" ] && continue
    cp -L "$(find_lib "$lib")" "$root/lib/x86_64-linux-gnu/$lib"
    queue+=("$root/lib/x86_64-linux-gnu/$lib")
  done
done
cp -L "$(find_lib ld-linux-x86-64.so.2)" "$root/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$root/lib64/ld-linux-x86-64.so.2"

# Kernel modules, each after what it depends on (the .ko's own depends= field; no depmod needed).
# The ordered list goes into the image; /init loads it with insmod.
modroot=$pkgroot/lib/modules/$kver/kernel
ordered=()
add_module() {
  local name=$1 file dep
  for m in "${ordered[@]}"; do [ "$m" = "$name" ] && return 0; done
  file=$(find "$modroot" -name "$name.ko" -o -name "${name//_/-}.ko" | sed -n 1p)
  [ -n "$file" ] || { echo "module $name not found in $kernel_pkg" >&2; return 1; }
  for dep in $(tr '\0' '\n' < "$file" | sed -n 's/^depends=//p' | tr ',' ' '); do
    add_module "$dep"
  done
  cp "$file" "$root/lib/modules/$name.ko"
  ordered+=("$name")
}
for m in virtio_ring virtio virtio_mmio virtio_net virtio_blk qemu_fw_cfg button evdev; do add_module "$m"; done
printf '%s\n' "${ordered[@]}" > "$root/lib/modules/order"

cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
EOF
echo /bin/sh > "$root/etc/shells"
printf '%s\n' "$manifest" > "$root/etc/meridian-image"

cat > "$root/init" <<'INIT'
#!/bin/sh
# Meridian guest /init: metadata from fw_cfg, network, disk, SSH, user data, ready line, power button.
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs run /run
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root

log() { echo "meridian-init: $*"; }

while read -r m; do insmod "/lib/modules/$m.ko" || log "module $m did not load"; done < /lib/modules/order

fwcfg=/sys/firmware/qemu_fw_cfg/by_name/opt/meridian
vm_id=unknown hostname=meridian address= gateway= mtu=
: > /run/authorized_keys
if [ -r "$fwcfg/meta/raw" ]; then
  # key=value lines; values are taken literally, never evaluated.
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      vm_id=*) vm_id=${line#vm_id=} ;;
      hostname=*) hostname=${line#hostname=} ;;
      address=*) address=${line#address=} ;;
      gateway=*) gateway=${line#gateway=} ;;
      mtu=*) mtu=${line#mtu=} ;;
      ssh_authorized_key=*) printf '%s\n' "${line#ssh_authorized_key=}" >> /run/authorized_keys ;;
    esac
  done < "$fwcfg/meta/raw"
else
  log "no metadata (opt/meridian/meta) in fw_cfg"
fi

hostname "$hostname"
printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$hostname" > /etc/hosts
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  [ -n "$mtu" ] && { ip link set eth0 mtu "$mtu" || log "MTU $mtu refused"; }
  ip link set eth0 up
  if [ -n "$address" ]; then
    ip addr add "$address" dev eth0 || log "address $address refused"
    [ -n "$gateway" ] && { ip route add default via "$gateway" || log "gateway $gateway refused"; }
  fi
fi

# The VM's disk: formatted only when it is blank (all zeros at the start), never when it holds
# something unrecognised.
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 0.2; done
if [ -b /dev/vda ]; then
  if [ "$(dd if=/dev/vda bs=65536 count=16 2>/dev/null | tr -d '\000' | wc -c)" = 0 ]; then
    log "formatting the blank disk /dev/vda (ext2)"
    # One inode per MiB: busybox writes every inode table at once, and at the default density a
    # 20 GiB disk's tables are over 100 MB, written under emulation at every create.
    mke2fs -q -i 1048576 /dev/vda
  fi
  mount /dev/vda /data || log "/dev/vda could not be mounted"
else
  log "no disk /dev/vda"
fi

# SSH: keys only, host keys kept on the disk so they survive a restart.
cp /run/authorized_keys /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
if grep -q " /data " /proc/mounts; then
  mkdir -p /data/.meridian/dropbear
  chmod 700 /data/.meridian
  mount --bind /data/.meridian/dropbear /etc/dropbear
fi
dropbear -R -s -P /run/dropbear.pid || log "dropbear did not start"

poweroff_now() {
  echo "meridian-poweroff $vm_id"
  [ -f /run/dropbear.pid ] && kill "$(cat /run/dropbear.pid)" 2>/dev/null
  sync
  umount /etc/dropbear 2>/dev/null
  umount /data 2>/dev/null || mount -o remount,ro /data 2>/dev/null
  poweroff -f
}
# The ACPI power button (QMP system_powerdown): any event on its input device powers off. The
# device is opened here, before the ready line, so that a press right after it is not lost (evdev
# only queues events for readers that have it open).
power_dev=
for ev in /sys/class/input/event*; do
  case "$(cat "$ev/device/name" 2>/dev/null)" in
    *Power*) power_dev=/dev/input/${ev##*/}; break ;;
  esac
done
if [ -c "$power_dev" ]; then
  exec 3<"$power_dev"
  (head -c 1 <&3 >/dev/null && poweroff_now) &
  exec 3<&-
else
  log "no power button: system_powerdown will not be heard"
fi

echo "meridian-ready $vm_id"

if [ -r "$fwcfg/user-data/raw" ] && [ "$(head -c 2 "$fwcfg/user-data/raw")" = '#!' ]; then
  cp "$fwcfg/user-data/raw" /run/user-data
  chmod 700 /run/user-data
  (cd /root && /run/user-data; echo "meridian-user-data $vm_id exit=$?") &
fi

# The serial console: a root shell, started again whenever it exits. Only the host agent's
# authenticated serial route reaches ttyS0 (and through it the control plane's console, which lets
# only a tenant's owners and members type). setsid + cttyhack make ttyS0 the shell's controlling
# terminal, so Ctrl-C and job control work.
(
  cd /root
  while :; do
    setsid cttyhack sh -l
    sleep 1
  done
) &

# PID 1 must never exit.
while :; do wait; sleep 3600; done
INIT
chmod 755 "$root/init"

say "writing $out"
(cd "$root" && find . | LC_ALL=C sort | "$pkgroot/bin/busybox" cpio -o -H newc -R 0:0 2>/dev/null) \
  | gzip -9n > "$work/initramfs.cpio.gz"
cp "$pkgroot/boot/vmlinuz-$kver" "$work/vmlinuz"
mv "$work/vmlinuz" "$out/vmlinuz"
mv "$work/initramfs.cpio.gz" "$out/initramfs.cpio.gz"
# The manifest last: its presence means the image is complete.
printf '%s\n' "$manifest" > "$out/manifest.tmp"
mv "$out/manifest.tmp" "$out/manifest"
say "guest image ready: $(du -sh "$out" | cut -f1) in $out"
