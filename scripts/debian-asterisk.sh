#!/bin/sh
# A reference Asterisk for `make bench`, from Debian's own packages: Debian 12 has none, so
# this builds a small Debian unstable root (mmdebstrap, the asterisk packages only) in DIR and
# writes DIR/asterisk, which runs that root's Asterisk with that root's loader and libraries
# on this host's files (no chroot: the benchmark's generated configuration stays where it is).
# Usage: scripts/debian-asterisk.sh DIR   (then: make bench ASTERISK=DIR/asterisk)
# As root, or with SUDO=sudo for the one package it installs (mmdebstrap then builds the root
# in a user namespace).
set -eu
dir=$(realpath -m "${1:?usage: $0 DIR}")
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ ! -x "$dir/root/usr/sbin/asterisk" ]; then
    command -v mmdebstrap >/dev/null || ${SUDO:-} apt-get install -y -q mmdebstrap
    rm -rf "$dir/root"
    mkdir -p "$dir"
    # the mirror may serve a Release past its Valid-Until: the packages are still signed
    mmdebstrap --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
        --include=asterisk,asterisk-modules,asterisk-config unstable "$dir/root" "$mirror"
fi
cat > "$dir/asterisk" <<WRAPPER
#!/bin/sh
# Asterisk from $dir/root. The -C file's [directories] is given that root's modules and
# data folders when it names none (its compiled-in paths are the root's, not this host's).
root="$dir/root"
conf=""
previous=""
for arg in "\$@"; do
    [ "\$previous" = "-C" ] && conf="\$arg"
    previous="\$arg"
done
if [ -n "\$conf" ] && ! grep -q '^astmoddir' "\$conf"; then
    sed -i "/^\[directories\]/a astmoddir => \$root/usr/lib/x86_64-linux-gnu/asterisk/modules\nastdatadir => \$root/usr/share/asterisk" "\$conf"
fi
exec "\$root/usr/lib64/ld-linux-x86-64.so.2" --library-path "\$root/usr/lib/x86_64-linux-gnu" "\$root/usr/sbin/asterisk" "\$@"
WRAPPER
chmod +x "$dir/asterisk"
"$dir/asterisk" -V
