#!/usr/bin/env bash
# Make sure Docker runs and has the Lambda base image that `sam local` uses, on any machine:
#
#   1. Docker answers (Docker Desktop, rootless Docker, a running dockerd; no root needed):
#      the image is used if it is there, else pulled; only if it cannot be pulled does the
#      script go on, as root, to build it, and without root it stops, naming the two ways out
#      (make the image pullable, or run as root to build it).
#   2. Docker does not answer: as root, installs Debian's docker.io if missing (waiting for any
#      other apt/dpkg run, scripts/apt-install.sh) and starts dockerd, then uses, pulls or
#      builds the image as above; without root it stops, saying what to start.
#   3. Building: a stand-in for public.ecr.aws/lambda/python:3.13-x86_64 (Debian trixie's
#      Python 3.13, the awslambdaric runtime interface client and boto3 in /var/runtime, a
#      /var/runtime/bootstrap that starts it), imported under the tags `sam local` looks for.
#
# Every step is skipped when its result is already there, so running it again costs a second.
# Settings, as environment variables:
#   LAMBDA_IMAGE        image to create        (public.ecr.aws/lambda/python:3.13-x86_64)
#   LAMBDA_IMAGE_ALIAS  second tag for it      (public.ecr.aws/lambda/python:3.13)
#   DEBIAN_SUITE        Debian release         (trixie: its python3 is 3.13)
#   DEBIAN_MIRROR       Debian mirror          (the one apt already uses)
#   AWSLAMBDARIC_SPEC   pip requirement        (awslambdaric==4.2.2)
#   BOTO3_SPEC          pip requirement        (boto3)
#   PIP_PYTHON          Python whose pip downloads the wheels (python3)
#   DOCKERD_FLAGS       dockerd options        (--bridge=none --iptables=false)
#   DOCKERD_LOG         dockerd's log file     (/var/log/dockerd.log)
#   PULL_TIMEOUT        seconds a pull may take (300)
#   FORCE=1             build the image even if it exists or could be pulled

set -euo pipefail

LAMBDA_IMAGE=${LAMBDA_IMAGE:-public.ecr.aws/lambda/python:3.13-x86_64}
LAMBDA_IMAGE_ALIAS=${LAMBDA_IMAGE_ALIAS:-public.ecr.aws/lambda/python:3.13}
DEBIAN_SUITE=${DEBIAN_SUITE:-trixie}
PYTHON_VERSION=${PYTHON_VERSION:-3.13}
AWSLAMBDARIC_SPEC=${AWSLAMBDARIC_SPEC:-awslambdaric==4.2.2}
BOTO3_SPEC=${BOTO3_SPEC:-boto3}
PIP_PYTHON=${PIP_PYTHON:-python3}
# Containers run on the host's network (`sam local ... --docker-network host`, see README.md):
# no bridge, no NAT rules, no private-range addresses.
DOCKERD_FLAGS=${DOCKERD_FLAGS:---bridge=none --iptables=false}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
FORCE=${FORCE:-0}
PULL_TIMEOUT=${PULL_TIMEOUT:-300}

log() { printf '[lambda-image] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s; }
START=$(now)

ROOT=$(cd "$(dirname "$0")/.." && pwd)
apt_install() { "$ROOT/scripts/apt-install.sh" "$@"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

have_image() {
    [ "$FORCE" != 1 ] && docker image inspect "$LAMBDA_IMAGE" >/dev/null 2>&1 || return 1
    docker image inspect "$LAMBDA_IMAGE_ALIAS" >/dev/null 2>&1 \
        || docker tag "$LAMBDA_IMAGE" "$LAMBDA_IMAGE_ALIAS"
}

pulled() {
    [ "$FORCE" != 1 ] || return 1
    log "docker pull $LAMBDA_IMAGE (at most ${PULL_TIMEOUT}s)"
    timeout "$PULL_TIMEOUT" docker pull --quiet "$LAMBDA_IMAGE" >/dev/null 2>&1 || {
        log "$LAMBDA_IMAGE cannot be pulled here"
        return 1
    }
    docker tag "$LAMBDA_IMAGE" "$LAMBDA_IMAGE_ALIAS"
    log "pulled $LAMBDA_IMAGE ($(($(now) - START))s)"
}

WAYS_OUT="either make $LAMBDA_IMAGE pullable (a network that reaches public.ecr.aws, or a \
registry mirror Docker uses, or \`docker load\` of a saved copy), or run this script as root \
(sudo $0), which builds it from Debian"

# Where Docker answers without root (Docker Desktop, rootless Docker, a user in the docker
# group): the image that is there, else the one that can be pulled; only building needs root.
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    if have_image; then
        log "dockerd is running and $LAMBDA_IMAGE is there"
        exit 0
    fi
    pulled && exit 0
    is_root || die "$LAMBDA_IMAGE is not there and cannot be pulled; $WAYS_OUT."
elif ! is_root; then
    die "Docker does not answer: start it (Docker Desktop, rootless dockerd), or run this \
script as root (sudo $0), which installs and starts dockerd; then, for the image, $WAYS_OUT."
fi
case "$(uname -m)" in
    x86_64) ;;
    *) die "this builds an x86_64 image; $(uname -m) is not supported" ;;
esac

if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io
fi
command -v docker >/dev/null 2>&1 || apt_install docker.io
command -v pgrep >/dev/null 2>&1 || apt_install procps

# ----------------------------------------------------------------------------------- dockerd
if docker info >/dev/null 2>&1; then
    log "dockerd is running"
else
    if pgrep -x dockerd >/dev/null 2>&1; then
        log "dockerd is starting; waiting for it"
    else
        log "starting dockerd $DOCKERD_FLAGS (log: $DOCKERD_LOG)"
        # shellcheck disable=SC2086 # DOCKERD_FLAGS is a list of options
        setsid nohup dockerd $DOCKERD_FLAGS >>"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || {
        tail -n 30 "$DOCKERD_LOG" >&2 || true
        die "dockerd did not answer within 60s"
    }
    log "dockerd is up ($(($(now) - START))s)"
fi

# ----------------------------------------------------------------------------------- image
if have_image; then
    log "$LAMBDA_IMAGE is there"
    exit 0
fi
pulled && exit 0
log "building $LAMBDA_IMAGE from Debian instead"

command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
"$PIP_PYTHON" -m pip --version >/dev/null 2>&1 || die "$PIP_PYTHON has no pip (set PIP_PYTHON)"

debian_mirror() {
    # The first Debian archive (not the security one) that apt is configured with.
    local uri
    uri=$(
        {
            grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{for (i = 2; i <= NF; i++) print $i}'
            grep -hsE '^deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                | sed -E 's/\[[^]]*\]//' | awk '{print $2}'
        } | grep -E '/debian/?$' | grep -v security | head -n 1
    )
    echo "${uri:-http://deb.debian.org/debian}"
}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(debian_mirror)}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lambda-image.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
ROOTFS=$WORK/rootfs

t0=$(now)
log "debootstrap --variant=minbase $DEBIAN_SUITE from $DEBIAN_MIRROR"
debootstrap --variant=minbase --include=python3,ca-certificates \
    "$DEBIAN_SUITE" "$ROOTFS" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 30 "$WORK/debootstrap.log" >&2
    die "debootstrap failed"
}
have=$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$have" = "$PYTHON_VERSION" ] || die "$DEBIAN_SUITE has Python $have, not $PYTHON_VERSION"
log "debootstrap done ($(($(now) - t0))s), Python $have"

t0=$(now)
log "pip: $AWSLAMBDARIC_SPEC $BOTO3_SPEC into /var/runtime"
# Wheels for the image's interpreter, whatever Python runs pip here.
"$PIP_PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --root-user-action=ignore --target "$ROOTFS/var/runtime" \
    --platform manylinux2014_x86_64 --implementation cp \
    --python-version "$PYTHON_VERSION" --abi "cp${PYTHON_VERSION/./}" --only-binary=:all: \
    "$AWSLAMBDARIC_SPEC" "$BOTO3_SPEC" >"$WORK/pip.log" 2>&1 || {
    tail -n 30 "$WORK/pip.log" >&2
    die "pip could not install $AWSLAMBDARIC_SPEC $BOTO3_SPEC"
}
rm -rf "$ROOTFS/var/runtime/bin"
log "pip done ($(($(now) - t0))s)"

# The runtime's start script, as in the real image: the runtime interface emulator that
# `sam local` adds runs /var/runtime/bootstrap with _HANDLER set to the function's Handler.
cat >"$ROOTFS/var/runtime/bootstrap" <<'EOF'
#!/bin/sh
# Python 3.13 Lambda runtime: the runtime interface client runs the handler in $_HANDLER.
export PYTHONPATH="/var/task:/opt/python/lib/python3.13/site-packages:/opt/python:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
exec /var/lang/bin/python3.13 -m awslambdaric "$_HANDLER"
EOF
chmod 755 "$ROOTFS/var/runtime/bootstrap"

# The paths of the real image: /var/lang/bin/python3.13, /var/task (the code), /opt (layers).
mkdir -p "$ROOTFS/var/lang/bin" "$ROOTFS/var/task" "$ROOTFS/opt"
ln -sf /usr/bin/python3.13 "$ROOTFS/var/lang/bin/python3.13"
ln -sf python3.13 "$ROOTFS/var/lang/bin/python3"
ln -sf python3.13 "$ROOTFS/var/lang/bin/python"
cat >"$ROOTFS/lambda-entrypoint.sh" <<'EOF'
#!/bin/sh
# docker run IMAGE HANDLER: the runtime, handling events from the Runtime API.
if [ $# -ge 1 ]; then export _HANDLER="$1"; fi
exec /var/runtime/bootstrap
EOF
chmod 755 "$ROOTFS/lambda-entrypoint.sh"

# Smaller image: no package caches, documentation or bytecode of the build.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
    "$ROOTFS"/usr/share/locale/* "$ROOTFS"/var/log/*.log "$ROOTFS"/tmp/*

t0=$(now)
log "docker import as $LAMBDA_IMAGE"
tar -C "$ROOTFS" --numeric-owner -cf - . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV TZ=:UTC' \
    --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' \
    --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
    --message "Python $PYTHON_VERSION Lambda runtime stand-in: Debian $DEBIAN_SUITE, awslambdaric, boto3" \
    - "$LAMBDA_IMAGE" >/dev/null
docker tag "$LAMBDA_IMAGE" "$LAMBDA_IMAGE_ALIAS"
log "import done ($(($(now) - t0))s)"

# The runtime imports, as the bootstrap will run it.
docker run --rm --network none --entrypoint /bin/sh "$LAMBDA_IMAGE" -c \
    'PYTHONPATH=/var/runtime exec python3 -c "import awslambdaric, boto3, sys; print(sys.version.split()[0], boto3.__version__)"' \
    | sed 's/^/[lambda-image] python, boto3: /' >&2
log "built $LAMBDA_IMAGE in $(($(now) - START))s"
