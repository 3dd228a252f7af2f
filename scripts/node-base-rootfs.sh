#!/usr/bin/env bash
# A stand-in for the official node:*-bookworm-slim image, for machines that reach no container registry:
# a minimal Debian rootfs made with debootstrap, plus this machine's Node.js and npm, laid out the way the
# official images lay them out (/usr/local/bin/node, /usr/local/lib/node_modules/npm, user and group
# `node` with id 1000). It prints the path of a tar ready for `docker import`:
#
#   tar="$(scripts/node-base-rootfs.sh)"
#   docker import "$tar" local/node-base:ci
#   docker build --network host --build-arg NODE_IMAGE=local/node-base:ci .
#
# test/integration/image.test.ts does exactly that. Needs root, debootstrap, tar and flock.
#
# The debootstrap result is cached under $NODE_BASE_CACHE (default /var/cache/docker-sieve-ci), keyed on the
# UTC date, so the Debian part is fetched at most once a day; the tar with Node is keyed on the date and on
# the Node binary. Older entries are removed. Runs that race take turns on a lock.
#
# Environment:
#   NODE_BASE_CACHE   cache directory (default /var/cache/docker-sieve-ci)
#   DEBIAN_SUITE      default bookworm
#   DEBIAN_MIRROR     default: the first URI apt uses for $DEBIAN_SUITE here (/etc/apt/sources.list*),
#                     else http://deb.debian.org/debian
#   NODE_BIN          default: $(command -v node)
set -euo pipefail

cache="${NODE_BASE_CACHE:-/var/cache/docker-sieve-ci}"
suite="${DEBIAN_SUITE:-bookworm}"
node_bin="$(readlink -f "${NODE_BIN:-$(command -v node)}")"
today="$(date -u +%F)"

log() { printf 'node-base-rootfs: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"
for tool in debootstrap tar flock chroot; do
  command -v "$tool" >/dev/null 2>&1 || die "\`$tool\` not found (apt-get install debootstrap)"
done
[ -x "$node_bin" ] || die "no node binary at ${node_bin:-<none>}"

# The mirror apt uses here for $suite: deb822 stanzas (*.sources: URIs + Suites) and one-line entries
# (deb URI suite components).
apt_mirror() {
  local file uris suites line
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -r "$file" ] || continue
    uris="" suites=""
    while IFS= read -r line || [ -n "$line" ]; do
      case "$line" in
        URIs:*) uris="${line#URIs:}" ;;
        Suites:*) suites="${line#Suites:}" ;;
        "")
          if [ -n "$uris" ] && [[ " $suites " == *" $suite "* ]]; then echo $uris | awk '{print $1}'; return; fi
          uris="" suites="" ;;
      esac
    done <"$file"
    if [ -n "$uris" ] && [[ " $suites " == *" $suite "* ]]; then echo $uris | awk '{print $1}'; return; fi
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$file" ] || continue
    # deb [options] URI suite components...
    awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                         if ($(i + 1) == s) { print $i; exit } }' "$file" | grep . && return
  done
  return 1
}
mirror="${DEBIAN_MIRROR:-$(apt_mirror || echo http://deb.debian.org/debian)}"

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

base_tar="$cache/debian-$suite-minbase-$today.tar"
node_key="$("$node_bin" --version)-$(stat -c '%s-%Y' "$node_bin")"
out_tar="$cache/node-base-$suite-$today-node$node_key.tar"

if [ -s "$out_tar" ]; then
  log "cached: $out_tar"
  echo "$out_tar"
  exit 0
fi

work="$(mktemp -d "$cache/work.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if [ ! -s "$base_tar" ]; then
  log "debootstrap --variant=minbase $suite from $mirror (cache miss for $today)"
  start=$SECONDS
  if ! debootstrap --variant=minbase "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  log "debootstrap took $((SECONDS - start)) s"
  # Trim what a runtime base does not need, as the -slim images do: package caches and lists, docs,
  # man pages, locales, logs, and the build machine's DNS settings (docker supplies its own).
  r="$work/root"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* \
    "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
    "$r"/var/log/*.log "$r"/var/log/apt/* "$r"/tmp/* "$r"/root/.bash_history
  mkdir -p "$r"/var/lib/apt/lists/partial
  : >"$r/etc/resolv.conf"
  echo localhost >"$r/etc/hostname"
  tar -C "$r" --numeric-owner -cf "$base_tar.tmp" .
  mv "$base_tar.tmp" "$base_tar"
  rm -rf "$r"
else
  log "reusing $base_tar"
fi

# Node and npm where the official images have them.
r="$work/root"
mkdir -p "$r"
tar -C "$r" --numeric-owner -xf "$base_tar"
install -D -m 0755 "$node_bin" "$r/usr/local/bin/node"
npm_dir=""
if command -v npm >/dev/null 2>&1; then
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
fi
[ -f "$npm_dir/package.json" ] || die "npm not found next to node (looked at ${npm_dir:-<none>})"
mkdir -p "$r/usr/local/lib/node_modules"
cp -a "$npm_dir" "$r/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx"
# npm's trust as on this machine: where the npm registry is reached through a TLS-intercepting proxy, the
# machine's npm has `cafile` set (or NODE_EXTRA_CA_CERTS) to a bundle holding that proxy's CA. The stand-in
# gets the same bundle at the same path and the same `cafile` in its global npmrc, so `npm ci` in the
# Dockerfile's build stage works unchanged; the official images need nothing of the kind.
cafile="$(npm config get cafile 2>/dev/null || true)"
case "$cafile" in null | undefined | "") cafile="${NODE_EXTRA_CA_CERTS:-}" ;; esac
if [ -n "$cafile" ] && [ -f "$cafile" ]; then
  install -D -m 0644 "$(readlink -f "$cafile")" "$r$cafile"
  mkdir -p "$r/usr/local/etc"
  printf 'cafile=%s\n' "$cafile" >"$r/usr/local/etc/npmrc"
  log "npm cafile $cafile copied into the rootfs"
fi
# Shared libraries node links against that Debian's minbase lacks (none on a Debian 12 machine with
# Debian's or NodeSource's node): copied from this machine.
while read -r lib; do
  [ -e "$r$lib" ] || { log "copying $lib"; install -D -m 0644 "$(readlink -f "$lib")" "$r$lib"; }
done < <(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
if ! grep -q '^node:' "$r/etc/group"; then echo 'node:x:1000:' >>"$r/etc/group"; fi
if ! grep -q '^node:' "$r/etc/passwd"; then echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$r/etc/passwd"; fi
if ! grep -q '^node:' "$r/etc/shadow"; then echo 'node:*:20000:0:99999:7:::' >>"$r/etc/shadow"; fi
install -d -o 1000 -g 1000 "$r/home/node"
version="$(chroot "$r" /usr/local/bin/node --version)" || die "node does not run inside the rootfs"
npm_version="$(chroot "$r" /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js --version 2>/dev/null)" \
  || die "npm does not run inside the rootfs"
log "node $version, npm $npm_version inside the rootfs"

rm -f "$cache"/node-base-"$suite"-*.tar "$cache"/debian-"$suite"-minbase-*.tar.tmp
find "$cache" -maxdepth 1 -name "debian-$suite-minbase-*.tar" ! -name "$(basename "$base_tar")" -delete
tar -C "$r" --numeric-owner -cf "$out_tar.tmp" .
mv "$out_tar.tmp" "$out_tar"
log "built $out_tar ($(du -m "$out_tar" | cut -f1) MB)"
echo "$out_tar"
