#!/usr/bin/env bash
# Build the image from ./Dockerfile with podman and run it, on a Linux host with no Docker engine.
#
#   scripts/podman_image.sh            # build, run, wait for /healthz, stop (as root)
#   KEEP=1 scripts/podman_image.sh     # leave the container running afterwards
#
# podman works without a daemon. Run as root (rootful podman) on Debian/Ubuntu with the packages
#   apt-get install podman runc debootstrap ca-certificates curl
# Where the registry cannot be reached, the default base image (python:3.11-slim-bookworm) is
# replaced by a stand-in made with debootstrap: Debian bookworm with its python3.11 and pip, imported
# under the base image's name. That proves the Dockerfile's steps, paths, user, health check and
# command, not the real base image. A base image already in local storage is used as it is.
#
# Settings (environment):
#   IMAGE            tag to build                         (localhost/framework-advisor:podman)
#   BASE_IMAGE       the Dockerfile's BASE_IMAGE build arg (docker.io/library/python:3.11-slim-bookworm)
#   TORCH_INDEX_URL  the Dockerfile's TORCH_INDEX_URL build arg (Dockerfile default when unset)
#   PIP_CONF         a pip.conf mounted at /etc/pip.conf while building (a local mirror or wheelhouse)
#   BUILD_VOLUMES    more read-only mounts for the build, space-separated HOST_DIR[:CONTAINER_DIR]
#   WORK_DIR         where the stand-in root file system is made (/var/tmp/framework-advisor-podman)
#   DEBIAN_MIRROR    mirror for debootstrap (http://deb.debian.org/debian)
#   HEALTH_TIMEOUT   seconds to wait for /healthz (180)
#   KEEP=1           do not stop the container at the end
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/framework-advisor:podman}
BASE_IMAGE=${BASE_IMAGE:-docker.io/library/python:3.11-slim-bookworm}
WORK_DIR=${WORK_DIR:-/var/tmp/framework-advisor-podman}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-180}
PORT=8000  # fixed by the image's CMD and HEALTHCHECK
CONTAINER=framework-advisor-podman-$$

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'podman_image.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (rootful podman; debootstrap needs root too)"
for tool in podman runc curl; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install -y podman runc curl"
done

# 1. The base image: use a local one, or make the Debian stand-in for the default base.
if podman image exists "$BASE_IMAGE"; then
    say "base image $BASE_IMAGE is in local storage"
elif [ "$BASE_IMAGE" = docker.io/library/python:3.11-slim-bookworm ]; then
    command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install -y debootstrap"
    rootfs=$WORK_DIR/rootfs
    say "making a stand-in for $BASE_IMAGE with debootstrap in $rootfs"
    rm -rf "$rootfs"
    mkdir -p "$WORK_DIR"
    debootstrap --variant=minbase \
        --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
        bookworm "$rootfs" "$DEBIAN_MIRROR"
    # The real base has its own pip-managed Python; Debian's refuses pip installs without this.
    rm -f "$rootfs"/usr/lib/python3.*/EXTERNALLY-MANAGED
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["python3"]' - "$BASE_IMAGE"
    rm -rf "$rootfs"
else
    die "$BASE_IMAGE is not in local storage: podman pull it first (this script builds with --pull=never)"
fi

# 2. Build. chroot isolation needs no user namespaces; --format docker keeps HEALTHCHECK.
build=(podman build --isolation=chroot --pull=never --format docker --network host
       --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE")
[ -n "${TORCH_INDEX_URL:-}" ] && build+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
[ -f /etc/ssl/certs/ca-certificates.crt ] &&
    build+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
[ -n "${PIP_CONF:-}" ] && build+=(-v "$(realpath "$PIP_CONF"):/etc/pip.conf:ro")
for volume in ${BUILD_VOLUMES:-}; do
    host_dir=${volume%%:*}
    target=${volume#*:}
    [ "$target" = "$volume" ] && target=$host_dir
    build+=(-v "$host_dir:$target:ro")
done
say "building $IMAGE"
started=$(date +%s)
"${build[@]}" .
say "built $IMAGE in $(( $(date +%s) - started ))s: $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes"
podman image inspect --format 'user={{.Config.User}} cmd={{json .Config.Cmd}} healthcheck={{json .Config.Healthcheck}}' "$IMAGE"

# 3. Run with the image's own CMD. Host networking: no CNI/netavark setup needed (the service binds
#    0.0.0.0:8000 on this host while it runs). A token, because the service is not on loopback only.
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
    die "something already answers on port $PORT; stop it first"
fi
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then
        echo "container $CONTAINER left running (podman rm -f -v $CONTAINER)" >&2
    else
        podman rm -f -v "$CONTAINER" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
say "running $IMAGE as $CONTAINER"
# Without systemd, podman logs "unable to get systemd connection" for the health-check timer: harmless;
# the check is run once by hand below.
podman run -d --name "$CONTAINER" --runtime runc --network host \
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
    -e FRAMEWORK_ADVISOR_TOKEN="$token" "$IMAGE" >/dev/null

deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
until body=$(curl -fsS "http://127.0.0.1:$PORT/healthz" 2>/dev/null); do
    if [ "$(podman inspect --format '{{.State.Running}}' "$CONTAINER")" != true ]; then
        podman logs "$CONTAINER" >&2 || true
        die "the container exited before /healthz answered"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        podman logs "$CONTAINER" >&2 || true
        die "/healthz did not answer within ${HEALTH_TIMEOUT}s"
    fi
    sleep 2
done
say "GET /healthz: $body"
echo "user in the container: $(podman exec "$CONTAINER" id)"
if podman healthcheck run "$CONTAINER"; then
    echo "podman healthcheck run: healthy"
else
    die "the image's HEALTHCHECK failed"
fi
curl -fsS -o /dev/null -w 'GET / (the form): %{http_code}\n' "http://127.0.0.1:$PORT/"
say "ok"
