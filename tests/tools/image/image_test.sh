#!/usr/bin/env bash
# tools/image end to end: builds the four images from this build's binaries
# (--bin), without network where the machine can take it away (unshare -n),
# and checks each OCI archive as a runtime would read it (index.json ->
# manifest -> config): entrypoint, user, exposed port, working directory,
# labels, reference; then its one file system: the passwd entry of the user,
# the CA certificates, every shared object the binary needs found inside the
# image by the image's own loader, the binary answering --help and
# --version from the image's root (chroot, else unshare -r chroot, else the
# image's loader on the image's libraries), and, as root, coffer-storage
# serving as user 65532 with its database in the image's /data; a second
# build of one image gives the same digest. Where podman can run
# containers it also loads and runs each image.
# Skipped (exit 0) without buildah unless COFFER_REQUIRE_PEERS is set.
set -euo pipefail

root="${TEST_SRCDIR:?run under bazel test}/coffer"
# chroot lives in /usr/sbin, which bazel's strict PATH leaves out.
export PATH="$PATH:/usr/sbin:/sbin"
# tools/image from the runfiles (the root package exports it).
image="$root/tools/image"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/image.XXXXXX")"
storage_pid=""
podman_run=""

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
cleanup() {
  if [[ -n "$storage_pid" ]]; then kill -KILL "$storage_pid" 2>/dev/null || true; fi
  if [[ -n "$podman_run" ]]; then rm -rf "$podman_run"; fi
}
trap cleanup EXIT

if ! command -v buildah >/dev/null 2>&1; then
  [[ -z "${COFFER_REQUIRE_PEERS:-}" ]] || fail "no buildah (tools/bootstrap installs it)"
  echo "SKIP: no buildah (tools/bootstrap installs it)"
  exit 0
fi
command -v jq >/dev/null 2>&1 || fail "no jq (tools/bootstrap installs it)"

VERSION=1.2.3-test
SOURCE=https://example.invalid/coffer
USER_ID=65532
declare -A PORT=([coffer-storage]=50052 [coffer-fetcher]=50051 [coffer-scheduler]=50053 [cofferctl]="")
declare -A WORKDIR=([coffer-storage]=/data [coffer-fetcher]=/ [coffer-scheduler]=/ [cofferctl]=/)
NAMES=(coffer-storage coffer-fetcher coffer-scheduler cofferctl)
declare -A CONFIG # per image, its config JSON once extracted

# --- build, offline -------------------------------------------------------
build=("$image" --bin "$root" --out "$work/out" --version "$VERSION"
  --source "$SOURCE" storage fetcher scheduler cofferctl)
if unshare -n true 2>/dev/null; then
  echo "building in a network namespace of its own: no network"
  build=(unshare -n "${build[@]}")
else
  echo "note: unshare -n is not permitted here: building with the network present"
fi
"${build[@]}" >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2
  fail "tools/image failed"
}

# How to run a program inside an extracted root file system, best first:
# chrooted with a /proc of its own mounted (as a runtime does; sanitizers
# read it), chrooted, chrooted in a user namespace, or (no chroot at all)
# through the image's loader on the image's libraries. Absolute paths: the
# image's environment has no PATH.
chroot="$(command -v chroot || true)"
unshare="$(command -v unshare || true)"
mount="$(command -v mount || true)"
bash="$(command -v bash)"
probe="$work/probe"
mkdir -p "$probe/proc"
if [[ $(id -u) -eq 0 && -n "$chroot" && -n "$unshare" && -n "$mount" ]] &&
  "$unshare" -m "$mount" -t proc proc "$probe/proc" 2>/dev/null && "$chroot" / true 2>/dev/null; then
  in_root=proc
elif [[ $(id -u) -eq 0 && -n "$chroot" ]] && "$chroot" / true 2>/dev/null; then
  in_root=chroot
elif [[ -n "$chroot" && -n "$unshare" ]] && "$unshare" -r "$chroot" / true 2>/dev/null; then
  in_root=userns
else
  in_root=loader
  echo "note: neither chroot nor unshare -r chroot works here: running binaries through the image's loader"
fi

# Runs "chroot [--userspec=U:G] $rootfs COMMAND..." the way in_root says,
# under the image's environment (the config's Env, image_env, only). It
# execs, so that a background job's pid is the command's: call it in a
# subshell ($(...) or &).
chrooted() {
  local rootfs="$1"
  shift
  case "$in_root" in
    proc)
      mkdir -p "$rootfs/proc"
      # shellcheck disable=SC2016 # expanded by the inner bash
      exec env -i "${image_env[@]}" "$unshare" -m "$bash" -c \
        '"$1" -t proc proc "$2/proc" && exec "${@:3}"' _ "$mount" "$rootfs" "$chroot" "$@" ;;
    chroot) exec env -i "${image_env[@]}" "$chroot" "$@" ;;
    userns) exec env -i "${image_env[@]}" "$unshare" -r "$chroot" "$@" ;;
    *) fail "chrooted: no chroot here" ;;
  esac
}

# Resolves $2 inside the root file system $1 as the kernel would after a
# chroot (symbolic links, absolute ones included, stay inside $1).
resolve_in() {
  local base="$1" rest="${2#/}" prefix="" component link hops=0
  while [[ -n "$rest" ]]; do
    component="${rest%%/*}"
    if [[ "$rest" == */* ]]; then rest="${rest#*/}"; else rest=""; fi
    if [[ -L "$base$prefix/$component" ]]; then
      ((++hops < 40)) || fail "symbolic link loop at $prefix/$component in $base"
      link="$(readlink "$base$prefix/$component")"
      if [[ "$link" == /* ]]; then
        rest="${link#/}${rest:+/$rest}"
        prefix=""
      else
        rest="$link${rest:+/$rest}"
      fi
    elif [[ "$component" == .. ]]; then
      prefix="${prefix%/*}"
    elif [[ "$component" != . ]]; then
      prefix="$prefix/$component"
    fi
  done
  echo "$base$prefix"
}

# Runs /usr/local/bin/$2 of root file system $1 with arguments $3...
# under the image's environment (the config's Env only).
run_in_image() {
  local rootfs="$1" name="$2"
  shift 2
  if [[ "$in_root" != loader ]]; then
    chrooted "$rootfs" "$rootfs" "/usr/local/bin/$name" "$@"
  else
    env -i "${image_env[@]}" "$loader" --inhibit-cache --library-path "$library_path" \
      "$rootfs/usr/local/bin/$name" "$@"
  fi
}

check_image() {
  local name="$1" port="${PORT[$1]}"
  local archive="$work/out/$name.tar" oci="$work/$name/oci" rootfs="$work/$name/rootfs"
  [[ -f "$archive" ]] || fail "no archive $archive"
  mkdir -p "$oci" "$rootfs"
  tar -C "$oci" -xf "$archive"
  blob() { echo "$oci/blobs/${1%%:*}/${1#*:}"; }

  # The reference podman load gives the image, and its one manifest.
  [[ "$(jq -r '.manifests | length' "$oci/index.json")" == 1 ]] || fail "$name: not one manifest"
  local ref manifest config
  ref="$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$oci/index.json")"
  [[ "$ref" == "$name:$VERSION" ]] || fail "$name: reference $ref, not $name:$VERSION"
  manifest="$(blob "$(jq -r '.manifests[0].digest' "$oci/index.json")")"
  config="$(blob "$(jq -r '.config.digest' "$manifest")")"

  # The config a runtime reads.
  local got want
  got="$(jq -c '.config.Entrypoint' "$config")"
  want="[\"/usr/local/bin/$name\"]"
  [[ "$got" == "$want" ]] || fail "$name: entrypoint $got, not $want"
  got="$(jq -r '.config.User' "$config")"
  [[ "$got" == "$USER_ID:$USER_ID" ]] || fail "$name: user $got, not $USER_ID:$USER_ID"
  got="$(jq -c '.config.ExposedPorts // {} | keys' "$config")"
  if [[ -n "$port" ]]; then want="[\"$port/tcp\"]"; else want="[]"; fi
  [[ "$got" == "$want" ]] || fail "$name: exposed ports $got, not $want"
  got="$(jq -r '.config.WorkingDir' "$config")"
  [[ "$got" == "${WORKDIR[$name]}" ]] || fail "$name: working directory $got, not ${WORKDIR[$name]}"
  got="$(jq -r '.os + "/" + .architecture' "$config")"
  [[ "$got" == linux/amd64 ]] || fail "$name: platform $got"
  got="$(jq -r '.config.Cmd // [] | length' "$config")"
  [[ "$got" == 0 ]] || fail "$name: a Cmd of its own: $(jq -c .config.Cmd "$config")"
  local label value
  for label in title=$name version=$VERSION source=$SOURCE; do
    value="$(jq -r --arg k "org.opencontainers.image.${label%%=*}" '.config.Labels[$k] // ""' "$config")"
    [[ "$value" == "${label#*=}" ]] ||
      fail "$name: label org.opencontainers.image.${label%%=*} is '$value', not '${label#*=}'"
  done
  CONFIG[$name]="$config"
  mapfile -t image_env < <(jq -r '.config.Env // [] | .[]' "$config")

  # The file system: every layer in order (tar reads gzip by itself).
  local layer listing="$work/$name/listing"
  : >"$listing"
  for layer in $(jq -r '.layers[].digest' "$manifest"); do
    tar --numeric-owner -tvf "$(blob "$layer")" >>"$listing"
    tar -C "$rootfs" -xf "$(blob "$layer")"
  done
  grep -q ' \(\./\)\?usr/local/bin/'"$name"'$' "$listing" || fail "$name: no /usr/local/bin/$name"
  ! grep -q ' \(\./\)\?\(usr/\)\?bin/sh\( \|$\)' "$listing" || fail "$name: a shell in the image"
  grep -q "^coffer:x:$USER_ID:$USER_ID:" "$rootfs/etc/passwd" || fail "$name: no passwd entry for $USER_ID"
  grep -q "^coffer:x:$USER_ID:" "$rootfs/etc/group" || fail "$name: no group entry for $USER_ID"
  grep -q "BEGIN CERTIFICATE" "$rootfs/etc/ssl/certs/ca-certificates.crt" ||
    fail "$name: no CA certificates"
  if [[ "$name" == coffer-storage ]]; then
    grep -q "^drwx------ $USER_ID/$USER_ID .* \(\./\)\?data/\?$" "$listing" ||
      fail "$name: /data is not a private directory of $USER_ID: $(grep ' \(\./\)\?data/\?$' "$listing")"
  fi

  # Every shared object the binary needs, found inside the image by the
  # image's loader (the interpreter the binary names, resolved in the
  # image) on the image's library directories.
  local interp
  interp="$(readelf -l "$rootfs/usr/local/bin/$name" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')"
  [[ -n "$interp" ]] || fail "$name: no program interpreter"
  loader="$(resolve_in "$rootfs" "$interp")"
  [[ -f "$loader" ]] || fail "$name: its loader $interp is not in the image"
  library_path=""
  local dir
  for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib /usr/lib; do
    library_path+="${library_path:+:}$(resolve_in "$rootfs" "$dir")"
  done
  local trace
  trace="$(LD_TRACE_LOADED_OBJECTS=1 "$loader" --inhibit-cache --library-path "$library_path" \
    "$rootfs/usr/local/bin/$name" 2>&1)" || fail "$name: its loader cannot load it: $trace"
  if grep -v "linux-vdso" <<<"$trace" | grep -v "=> $rootfs/" | grep -q '=>'; then
    fail "$name: shared objects from outside the image: $(grep -v "linux-vdso" <<<"$trace" | grep -v "=> $rootfs/" | grep '=>')"
  fi

  # The binary runs from the image. --help prints its usage (and Debian's
  # Abseil exits 1 after it); --version exits 0.
  local out status=0
  out="$(run_in_image "$rootfs" "$name" --help 2>&1)" || status=$?
  [[ $status -le 1 && "$(head -n 1 <<<"$out")" == "$name: "* ]] ||
    fail "$name --help in the image: exit $status: $out"
  out="$(run_in_image "$rootfs" "$name" --version 2>&1)" ||
    fail "$name --version in the image: $out"
  [[ "$(head -n 1 <<<"$out")" == "$name" ]] || fail "$name --version in the image printed: $out"
  echo "ok $name: config, file system and --help/--version from the image"
}

# coffer-storage from its image as the image's user: it opens a new
# database in /data (only that user can write there) and serves until
# SIGTERM, then exits 0. Needs root (chroot --userspec).
check_storage_serves() {
  local rootfs="$work/coffer-storage/rootfs" log="$work/storage.log"
  if [[ "$in_root" != proc && "$in_root" != chroot ]]; then
    echo "note: no chroot as root here: coffer-storage is not started from its image as $USER_ID"
    return 0
  fi
  mapfile -t image_env < <(jq -r '.config.Env // [] | .[]' "${CONFIG[coffer-storage]}")
  chrooted "$rootfs" --userspec="$USER_ID:$USER_ID" "$rootfs" \
    /usr/local/bin/coffer-storage --listen 127.0.0.1:0 >"$log" 2>&1 &
  storage_pid=$!
  for _ in $(seq 1 300); do
    grep -q "coffer-storage ready on" "$log" && break
    kill -0 "$storage_pid" 2>/dev/null || fail "coffer-storage exited in its image: $(cat "$log")"
    sleep 0.1
  done
  grep -q "coffer-storage ready on" "$log" || fail "coffer-storage not ready in 30s: $(cat "$log")"
  [[ "$(stat -c %u "$rootfs/data/coffer.db")" == "$USER_ID" ]] ||
    fail "no database /data/coffer.db of user $USER_ID: $(ls -ln "$rootfs/data")"
  kill -TERM "$storage_pid"
  local status=0
  wait "$storage_pid" || status=$?
  storage_pid=""
podman_run=""
  [[ $status -eq 0 ]] || fail "coffer-storage exited $status after SIGTERM: $(cat "$log")"
  echo "ok coffer-storage served from its image as $USER_ID, database in /data"
}

# Each image loaded and run by podman, in a storage of its own, where this
# machine lets podman run containers: first the image's loader alone (if
# that fails, containers cannot run here at all), then the binary.
check_podman() {
  if ! command -v podman >/dev/null 2>&1; then
    echo "note: no podman: images not run in a container"
    return 0
  fi
  # (podman takes a run root of at most 50 characters: not under the test's
  # temporary directory.)
  podman_run="$(mktemp -d /tmp/coffer-podman.XXXXXX)"
  local podman=(podman --storage-driver vfs --root "$work/podman" --runroot "$podman_run")
  local name out interp
  for name in "${NAMES[@]}"; do
    out="$("${podman[@]}" load -q -i "$work/out/$name.tar" 2>&1)" || fail "podman load $name: $out"
  done
  interp="$(readelf -l "$work/coffer-storage/rootfs/usr/local/bin/coffer-storage" |
    sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')"
  if ! out="$(timeout 120 "${podman[@]}" run --rm --network none --entrypoint "$interp" \
    "localhost/coffer-storage:$VERSION" --version 2>&1)"; then
    echo "note: podman cannot run containers here ($(tail -n 1 <<<"$out")): images not run in a container"
    return 0
  fi
  for name in "${NAMES[@]}"; do
    out="$(timeout 120 "${podman[@]}" run --rm --network none "localhost/$name:$VERSION" --version 2>&1)" ||
      fail "podman run $name --version: $out"
    [[ "$(head -n 1 <<<"$out")" == "$name" ]] || fail "podman run $name --version printed: $out"
  done
  echo "ok podman ran every image"
}

# The same commit and binaries give the same image: a second build of one
# has the first one's manifest digest. (Without git, tools/image has no
# commit time to stamp files with, so only with a revision label.)
check_reproducible() {
  local first second
  if [[ "$(jq -r '.config.Labels["org.opencontainers.image.revision"] // ""' "${CONFIG[coffer-storage]}")" == "" ]]; then
    echo "note: no git revision: reproducibility not checked"
    return 0
  fi
  "$image" --bin "$root" --out "$work/again" --version "$VERSION" --source "$SOURCE" storage \
    >"$work/again.log" 2>&1 || {
    cat "$work/again.log" >&2
    fail "tools/image failed the second time"
  }
  first="$(tar -xOf "$work/out/coffer-storage.tar" index.json | jq -r '.manifests[0].digest')"
  second="$(tar -xOf "$work/again/coffer-storage.tar" index.json | jq -r '.manifests[0].digest')"
  [[ "$first" == "$second" ]] || fail "coffer-storage built twice: manifests $first and $second"
  echo "ok coffer-storage built twice: the same image ($first)"
}

for name in "${NAMES[@]}"; do
  check_image "$name"
done
check_reproducible
check_storage_serves
check_podman
echo PASS
