#!/usr/bin/env bash
# Runs Moodbox on emulated arm64 Raspberry Pi OS: Debian Bookworm (Python 3.11, apt numpy 1.24,
# tflite-runtime 2.14) and Trixie (Python 3.13, apt numpy 2.x, ai-edge-litert) roots built
# with mmdebstrap and run under qemu-user through binfmt_misc. The last stage of
# scripts/test.sh. Needs root on x86_64 Linux 6.7+ with apt (chroot, mounts, a binfmt_misc of a
# user namespace's own); where that is missing it says so in one line and exits 3.
#
#   scripts/test_arm64.sh                  both roots, side by side
#   scripts/test_arm64.sh trixie           one of them
#
# In each root the project is installed by scripts/install.sh itself (venv with
# --system-site-packages, its pins and constraints, its choice of TFLite runtime; libvlc from
# apt), then these run there: the tests marked `runtime` (model, detector, reference answers,
# mood check), tests/test_config.py and tests/test_library*.py, the reference answers of the
# default and the built-in kernels (scripts/arm64/reference.py), and `moodbox check` on a
# photo. The two roots run as two background jobs, each one step after another (qemu-user
# runs a program on one core; the CI machine has two). A job still running after
# ARM64_TIMEOUT seconds (default 4200: 70 minutes, what CI's 90 leave after the host steps) is
# killed, so that CI ends with a summary.
# The roots are cached under build/arm64/ (ARM64_DIR): a root is reused only when its stamp,
# written last, names the same recipe; delete the folder to start afresh. Logs are in
# build/arm64/logs/; the tails of failed steps' logs follow the summary. Exit status 1 if any
# step failed.

# shellcheck disable=SC2016,SC2317  # bash -c scripts take $1.. as arguments; steps run via "$@"
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

DIR=$(realpath -m "${ARM64_DIR:-build/arm64}")
LOGS=$DIR/logs
QEMU=$DIR/qemu/qemu-aarch64
MIRROR=${ARM64_MIRROR:-http://deb.debian.org/debian}
# What Raspberry Pi OS brings that install.sh relies on (its APT_PACKAGES are already here, so
# its own apt step finds nothing missing), plus passwd for its user and group step.
ROOT_PACKAGES=(python3 python3-venv python3-numpy python3-av libvlc5 libvlc-bin vlc-plugin-base
  ca-certificates passwd mawk)
# The tests read photos shipped in scikit-image and matplotlib; pytest (and hypothesis, which a
# test module imports) runs them. Installed
# with install.sh's constraints, so the system numpy stays; not byte-compiled (emulated, that
# costs minutes).
TEST_PACKAGES=(pytest hypothesis scikit-image matplotlib)
APT_RETRIES=(--aptopt='Acquire::Retries "3"')
NICE=(nice -n 10)
TIMEOUT=${ARM64_TIMEOUT:-4200}
SUITES=(bookworm trixie)

SUMMARY=  # the file this process writes its steps' results to: $LOGS/<job>.summary
failed=0

say() { echo "arm64: $*"; }

step() {  # $1 = label, $2 = log name, rest = command; output goes to the log, result to $SUMMARY
  local label=$1 logfile=$LOGS/$2.log start rc; shift 2
  start=$SECONDS
  say "$label ..."
  echo "$label" >"$SUMMARY.running"
  "$@" >"$logfile" 2>&1
  rc=$?
  rm -f "$SUMMARY.running"
  local took=$((SECONDS - start)) last
  last=$(grep -v '^[[:space:]]*$' "$logfile" | tail -n 1)
  if ((rc == 0)); then
    echo "ok    [$label] ${took}s: ${last:-done}" >>"$SUMMARY"
  else
    echo "FAIL  [$label] ${took}s (exit $rc, ${logfile#"$DIR"/}): ${last:-no output}" >>"$SUMMARY"
    echo "$logfile" >>"$SUMMARY.failed"
    failed=1
  fi
  return "$rc"
}

cannot_run() {  # prints why this machine cannot run the stage; nothing when it can
  if [[ $(uname -s) != Linux || $(uname -m) != x86_64 ]]; then
    echo "this is $(uname -s) $(uname -m), not x86_64 Linux"
  elif (($(id -u) != 0)); then
    echo "not root (mmdebstrap, chroot and mounts need root)"
  elif ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    echo "no apt (mmdebstrap and qemu-user-static come from Debian packages)"
  elif ! unshare --map-root-user --mount -- \
      mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null; then
    echo "a user namespace cannot mount a binfmt_misc of its own (Linux $(uname -r); needs 6.7+)"
  fi
}

# ---- the host: mmdebstrap, qemu-user-static, binfmt_misc ----

host_tools() {
  local missing=() p
  # arch-test: mmdebstrap only recommends it, but refuses a foreign --arch without it.
  for p in mmdebstrap arch-test qemu-user-static binfmt-support; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    apt-get update -qq -o Acquire::Retries=3 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Acquire::Retries=3 "${missing[@]}" || return 1
  fi
  if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || return 1
  fi
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || update-binfmts --enable qemu-aarch64 ||
    return 1
  grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || return 1
  qemu-aarch64-static --version | head -n 1
}

# ---- the roots ----

recipe() {  # $1 = suite: what a cached root must have been built from
  echo "mmdebstrap --variant=apt --arch=arm64 $1 ${ROOT_PACKAGES[*]}"
}

unmount_under() {  # $1 = folder; lazily unmounts whatever is mounted inside it, deepest first
  local target
  while read -r target; do
    umount -l "$target" || true
  done < <(awk -v dir="$1/" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r)
}

build_root() {  # $1 = suite; reuses a complete root built from the same recipe
  local suite=$1 root=$DIR/$1 partial=$DIR/$1.partial
  if [[ -f $root/.moodbox-root && $(cat "$root/.moodbox-root") == "$(recipe "$suite")" ]]; then
    echo "reused $root"
    return 0
  fi
  unmount_under "$root"; unmount_under "$partial"  # an interrupted build leaves its mounts
  rm -rf "$root" "$partial"
  local packages
  packages=$(IFS=,; echo "${ROOT_PACKAGES[*]}")
  "${NICE[@]}" mmdebstrap --mode=root --variant=apt --arch=arm64 --include="$packages" \
    "${APT_RETRIES[@]}" "$suite" "$partial" "$MIRROR" || return 1
  recipe "$suite" >"$partial/.moodbox-root" &&   # last: only a complete root has it
    mv "$partial" "$root" || return 1
  echo "built $root ($(du -sh "$root" | cut -f1))"
}

fetch_qemu() {  # Trixie's static qemu-aarch64 (10.x) into $QEMU, once
  local apt=$DIR/apt deb
  [[ -x $QEMU ]] && { "$QEMU" --version | head -n 1; return 0; }
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$(dirname "$QEMU")" &&
    echo "deb $MIRROR trixie main" >"$apt/sources.list" || return 1
  local opts=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache"
    -o Acquire::Retries=3)
  apt-get "${opts[@]}" update -qq &&
    (cd "$apt" && apt-get "${opts[@]}" download qemu-user) || return 1
  deb=$(ls "$apt"/qemu-user_*.deb) &&
    dpkg-deb --fsys-tarfile "$deb" | tar -x -O ./usr/bin/qemu-aarch64 >"$QEMU.partial" &&
    chmod 755 "$QEMU.partial" && mv "$QEMU.partial" "$QEMU" && rm -f "$deb" || return 1
  "$QEMU" --version | head -n 1
}

# binfmt_misc's entry for aarch64 ELF executables (as Debian's qemu-user-binfmt writes it).
AARCH64_MAGIC='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
AARCH64_MASK='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'

in_root() {  # $1 = root, rest = command run there as root
  # A user namespace of its own (Linux 6.7+) gets a binfmt_misc of its own: there aarch64
  # programs run under $QEMU, whatever the host registered (Bookworm's qemu 7.2 segfaults in
  # ai-edge-litert), and the mounts vanish with the namespace.
  local root=$1; shift
  unshare --map-root-user --mount --pid --fork -- bash -c '
    root=$1 entry=$2; shift 2
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc &&
      printf "%s" "$entry" >/proc/sys/fs/binfmt_misc/register &&
      mount --rbind /dev "$root/dev" && mount -t proc proc "$root/proc" &&
      exec nice -n 10 chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
        PIP_CERT=/srv/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
        PATH=/opt/moodbox/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        "$@"' _ "$root" ":moodbox-aarch64:M::$AARCH64_MAGIC:$AARCH64_MASK:$QEMU:FP" "$@"
}

copy_checkout() {  # $1 = root: the tracked files as they are in the work tree
  local dest=$1/srv/moodbox
  rm -rf "$dest" && mkdir -p "$dest" &&
    git ls-files -z | tar --null -T - -c | tar -x -C "$dest" &&
    cp -L /etc/resolv.conf "$1/etc/resolv.conf" &&
    # pip in the root trusts what pip here trusts (e.g. a proxy that signs TLS itself).
    cp -L "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$1/srv/host-ca.crt"
}

install_project() {  # $1 = root
  local root=$1
  copy_checkout "$root" || return 1
  in_root "$root" bash -c 'cd /srv/moodbox && bash scripts/install.sh --no-systemctl --no-users &&
    python -m pip install -q --retries 5 --only-binary=:all: --no-compile \
      --constraint /opt/moodbox/constraints.txt "$@" &&
    python -c "import sys, numpy; from appliance.mood import runtime
print(\"Python\", sys.version.split()[0], \"numpy\", numpy.__version__, runtime.runtime_name())"' \
    _ "${TEST_PACKAGES[@]}"
}

run_tests() {  # $1 = root: the installed package (not the copy) under the copied tests
  in_root "$1" bash -c 'cd /srv/moodbox &&
    pytest -q -p no:cacheprovider -m "runtime and not hardware and not training" tests &&
    pytest -q -p no:cacheprovider tests/test_config.py tests/test_library*.py'
}

check_photo() {  # $1 = root: moodbox check on scikit-image's astronaut photo
  in_root "$1" bash -c 'cd /tmp && photo=$(python -c "import skimage, pathlib
print(pathlib.Path(skimage.__file__).parent / \"data\" / \"astronaut.png\")") &&
    moodbox check "$photo" && python /srv/moodbox/scripts/arm64/reference.py'
}

suite_job() {  # $1 = suite: its root, install, tests and check, one after another
  local suite=$1
  SUMMARY=$LOGS/$suite.summary
  step "$suite: root" "$suite-root" build_root "$suite" &&
    step "$suite: install.sh" "$suite-install" install_project "$DIR/$suite" &&
    { step "$suite: tests" "$suite-tests" run_tests "$DIR/$suite"
      step "$suite: moodbox check, reference" "$suite-check" check_photo "$DIR/$suite"; }
  say "$suite: done in ${SECONDS}s"
  exit "$failed"
}

run_jobs() {  # suites...: one background job each, in its own process group (timeout's)
  local suite rc
  local -A pids=()
  export ARM64_DIR=$DIR
  for suite in "$@"; do
    timeout --signal=KILL "$TIMEOUT" bash scripts/test_arm64.sh --job "$suite" &
    pids[$suite]=$!
  done
  for suite in "$@"; do
    wait "${pids[$suite]}" 2>/dev/null  # not bash's "Killed" line: the summary says it
    rc=$?
    if ((rc == 124 || rc == 137)); then
      echo "FAIL  [$suite] stopped after ${TIMEOUT}s (ARM64_TIMEOUT) during:" \
        "$(cat "$LOGS/$suite.summary.running" 2>/dev/null || echo "?")" >>"$LOGS/$suite.summary"
      say "$suite: stopped after ${TIMEOUT}s"
    elif ((rc != 0)) && ! grep -q '^FAIL' "$LOGS/$suite.summary" 2>/dev/null; then
      echo "FAIL  [$suite] job ended with exit $rc" >>"$LOGS/$suite.summary"
    fi
  done
}

report() {  # $1 = the stage's seconds, rest = the jobs: summary, failed logs' tails, one line
  local seconds=$1 job lines log; shift
  lines=$(for job in "$@"; do cat "$LOGS/$job.summary" 2>/dev/null; done)
  echo
  echo "=== arm64 summary (${seconds}s wall-clock)"
  echo "$lines"
  for job in "$@"; do
    [[ -f $LOGS/$job.summary.failed ]] || continue
    while read -r log; do
      echo "--- last 30 lines of ${log#"$DIR"/}"
      tail -n 30 "$log" | sed 's/^/  | /'
    done <"$LOGS/$job.summary.failed"
  done
  local steps failures
  steps=$(grep -c . <<<"$lines")
  failures=$(grep -c '^FAIL' <<<"$lines")
  if ((failures)); then
    say "$failures of $steps steps FAILED in ${seconds}s (logs in ${LOGS#"$PWD"/})"
    return 1
  fi
  say "all $steps steps passed in ${seconds}s"
}

main() {
  if [[ ${1:-} == --job ]]; then
    suite_job "$2"
  fi
  local suites=("$@") suite start=$SECONDS why
  ((${#suites[@]})) || suites=("${SUITES[@]}")
  for suite in "${suites[@]}"; do
    [[ " ${SUITES[*]} " == *" $suite "* ]] || { echo "unknown suite $suite" >&2; exit 2; }
  done
  why=$(cannot_run)
  if [[ -n $why ]]; then
    say "cannot run here: $why; the stage needs root on x86_64 Linux 6.7+ with apt," \
      "user namespaces and binfmt_misc (MOODBOX_SKIP_ARM64=1 leaves it out of scripts/test.sh)"
    exit 3
  fi
  mkdir -p "$LOGS"
  for suite in host "${suites[@]}"; do
    rm -f "$LOGS/$suite.summary" "$LOGS/$suite.summary.failed" "$LOGS/$suite.summary.running"
  done
  SUMMARY=$LOGS/host.summary
  if step "host: qemu-user, mmdebstrap" host host_tools &&
     step "qemu for the roots" qemu fetch_qemu; then
    say "${suites[*]} side by side; logs in ${LOGS#"$PWD"/}"
    run_jobs "${suites[@]}"
  fi
  report "$((SECONDS - start))" host "${suites[@]}"
}

main "$@"
