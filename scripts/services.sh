#!/usr/bin/env bash
# Brings up the real parts jdci needs on this machine, idempotently:
#   Docker engine, Debian's registry on 127.0.0.1:5000, local base images, groovy (for the Jenkinsfile tests).
# A second run with everything up only checks and returns (a few seconds at most).
# Everything runs as root on loopback only (see ../shared/ENVIRONMENT.md).
set -euo pipefail

STATE_DIR=${JDCI_STATE_DIR:-/var/lib/jdci}
REGISTRY_ADDR=${JDCI_REGISTRY_ADDR:-127.0.0.1:5000}
HERE=$(cd "$(dirname "$0")" && pwd)

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 4; }

# Poll a command with backoff until it succeeds or the deadline passes.
wait_for() {
  local what=$1 deadline=$(( $(date +%s) + $2 )) delay=0.1; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
    sleep "$delay"
    delay=$(awk -v d="$delay" 'BEGIN { d *= 1.6; if (d > 2) d = 2; print d }')
  done
  log "$what is up"
}

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || die "apt-get install ${missing[*]} failed"
}

start_engine() {
  if docker info >/dev/null 2>&1; then return 0; fi
  apt_install docker.io iptables
  if ! pgrep -x dockerd >/dev/null; then
    # A dockerd from an earlier session is gone but left its pid file; dockerd refuses to start on it.
    rm -f /var/run/docker.pid
    log "starting dockerd (log: /var/log/dockerd.log)"
    setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  fi
  wait_for "docker engine" 60 docker info || die "dockerd did not answer within 60 s; see /var/log/dockerd.log"
}

registry_up() { curl -fs -o /dev/null "http://$REGISTRY_ADDR/v2/"; }

start_registry() {
  if registry_up; then return 0; fi
  apt_install docker-registry curl
  mkdir -p "$STATE_DIR/registry/data"
  cat >"$STATE_DIR/registry/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
YAML
  # Debian's package starts its own service on :5000 when systemd runs; here nothing does, so we start it.
  log "starting registry on $REGISTRY_ADDR (log: $STATE_DIR/registry/registry.log)"
  setsid nohup docker-registry serve "$STATE_DIR/registry/config.yml" \
    >"$STATE_DIR/registry/registry.log" 2>&1 </dev/null &
  wait_for "registry" 30 registry_up || die "registry did not answer on $REGISTRY_ADDR; see $STATE_DIR/registry/registry.log"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_base_images() {
  # Debian minbase, imported: nothing can be pulled from a public registry here.
  if ! have_image jdci-base/debian:bookworm; then
    apt_install debootstrap
    local root="$STATE_DIR/rootfs/bookworm"
    rm -rf "$root" && mkdir -p "$root"
    log "debootstrap bookworm (about 30 s)"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$STATE_DIR/debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $STATE_DIR/debootstrap.log"
    tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - jdci-base/debian:bookworm >/dev/null
    rm -rf "$root"
  fi
  if ! have_image jdci-base/python:3-bookworm; then
    log "building jdci-base/python:3-bookworm"
    docker build -q -t jdci-base/python:3-bookworm "$HERE/base-images/python" >/dev/null \
      || die "building jdci-base/python:3-bookworm failed"
  fi
  # A 2 MB image (static busybox) that builds in a fraction of a second: for fast tests.
  if ! have_image jdci-base/busybox:latest; then
    apt_install busybox-static
    local ctx; ctx=$(mktemp -d)
    cp /bin/busybox "$ctx/busybox"
    cp "$HERE/base-images/busybox/Dockerfile" "$ctx/Dockerfile"
    docker build -q -t jdci-base/busybox:latest "$ctx" >/dev/null || die "building jdci-base/busybox failed"
    rm -rf "$ctx"
  fi
}

install_tools() {
  # groovy runs the Jenkinsfiles and shared-library steps in tests/jenkinsfiles (JDK 17 is on the machine)
  command -v groovy >/dev/null || apt_install groovy
}

# -- chromium (visual checks: jenkins_docker_ci/checks/browser.py drives /usr/bin/chromium over DevTools) --------
install_chromium() {
  # Debian's build: no browser download; fonts-dejavu-core keeps screenshots identical across machines
  [ -x /usr/bin/chromium ] || apt_install chromium fonts-dejavu-core
}

mkdir -p "$STATE_DIR"
case "${1:-all}" in
  engine) start_engine ;;
  registry) start_registry ;;
  images) start_engine; build_base_images ;;
  tools) install_tools ;;
  chromium) install_chromium ;;
  all) start_engine; start_registry; build_base_images; install_tools; install_chromium ;;
  *) echo "usage: $0 [all|engine|registry|images|tools|chromium]" >&2; exit 2 ;;
esac
