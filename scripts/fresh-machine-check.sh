#!/usr/bin/env bash
# fresh-machine-check.sh — proves the README's "Try it" commands work on a really fresh Debian
# bookworm: builds a bare bookworm root (mmdebstrap, variant minbase: what `debian:bookworm` has,
# apt included, no compiler, no sudo, no ca-certificates), copies the committed tree into it
# (git archive, no build folders), and runs the README's shell blocks there, as root, exactly as
# README.md writes them. See docs/fresh-machine.md.
#
#   scripts/fresh-machine-check.sh [--only try-it|python|test] [--root DIR] [--keep] [--log FILE]
#                                  [--rev REV] [--mirror URL] [--security-mirror URL]
#                                  [--include PKG,...]
#
# The blocks come from README.md of the checked-out revision: the ```sh block right after each
# `<!-- fresh-check: NAME ... -->` marker, NAME = try-it (install-deps + build + radio-embed on the
# samples), python (install-deps + a venv + `pip install .` + the module on a sample) then test
# (scripts/test.sh: the whole suite). --only NAME runs one block.
#   --root DIR     bootstrap into DIR (must not exist or be empty; default: a new /var/tmp/vit-fresh-root.*)
#   --keep         keep the root afterwards (default: removed, once its mounts are gone)
#   --log FILE     full log (default: /var/tmp/vit-fresh-check-<time>.log)
#   --rev REV      the git revision to check (default HEAD; uncommitted changes are NOT checked)
#   --include P,.. extra packages in the bootstrap (default none: the point is a bare system)
# Needs root (chroot, mounts) and network access to the Debian mirror; installs mmdebstrap with
# apt-get if it is missing. Nothing from the host leaks in: the blocks run under `env -i` with
# HOME=/root and the standard PATH (no CUDA: the host's toolkit is outside the root, so the
# VIT_CUDA=AUTO build has no CUDA backend, as on a fresh machine). Niceness is inherited, so
# `nice -n 19 scripts/fresh-machine-check.sh` runs the whole build at nice 19.
# /proc, /sys, /dev and /dev/pts (binds) plus a private tmpfs on /dev/shm are mounted in the root and
# unmounted on exit by a trap, also on failure or Ctrl-C.
# Exit: 0 every block passed; 1 a block failed; 2 usage or setup error.
set -euo pipefail
{ # the whole script is one compound command: bash reads it all before running, so editing this
  # file during a (long) run cannot break that run

only=""
root=""
keep=0
log=""
rev=HEAD
mirror=http://deb.debian.org/debian
security_mirror=http://deb.debian.org/debian-security
include=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
while (($#)); do
  case "$1" in
    --only) only=${2:?--only needs try-it or test}; shift 2 ;;
    --root) root=${2:?--root needs a folder}; shift 2 ;;
    --keep) keep=1; shift ;;
    --log) log=${2:?--log needs a file}; shift 2 ;;
    --rev) rev=${2:?--rev needs a revision}; shift 2 ;;
    --mirror) mirror=${2:?}; shift 2 ;;
    --security-mirror) security_mirror=${2:?}; shift 2 ;;
    --include) include=${2:?}; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "fresh-check: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
case "$only" in ""|try-it|python|test) ;; *) echo "fresh-check: --only takes try-it, python or test" >&2; exit 2 ;; esac
blocks=(try-it python test)
[ -n "$only" ] && blocks=("$only")
if [ "$(id -u)" -ne 0 ]; then echo "fresh-check: needs root (mmdebstrap, chroot, mounts)" >&2; exit 2; fi

repo=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$repo" rev-parse --verify "$rev^{commit}")
stamp=$(date -u +%Y%m%d-%H%M%S)
created_root=0
if [ -z "$root" ]; then
  root=$(mktemp -d /var/tmp/vit-fresh-root.XXXXXX)
  created_root=1
elif [ -e "$root" ]; then
  if [ -n "$(ls -A "$root")" ]; then echo "fresh-check: --root $root is not empty" >&2; exit 2; fi
else
  mkdir -p "$root"
  created_root=1
fi
root=$(cd "$root" && pwd)
[ "$root" != / ] || { echo "fresh-check: refusing to use / as the root" >&2; exit 2; }
[ -n "$log" ] || log=/var/tmp/vit-fresh-check-$stamp.log
mkdir -p "$(dirname "$log")"
: >"$log"

say() { echo "fresh-check: $*" | tee -a "$log"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }

# --- cleanup: stop what still runs in the root, unmount (reverse order), remove the root -------
mounts=()
cleanup() {
  local rc=$? pid m left
  set +e
  trap - EXIT INT TERM
  for pid in /proc/[0-9]*; do   # processes this check left running inside the root (by pid)
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ] && kill -TERM "${pid#/proc/}" 2>/dev/null
  done
  sleep 1
  for pid in /proc/[0-9]*; do
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ] && kill -KILL "${pid#/proc/}" 2>/dev/null
  done
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=${mounts[i]}
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "fresh-check: could not unmount $m" >&2
  done
  left=$(awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts)
  if [ -n "$left" ]; then
    echo "fresh-check: still mounted under $root, NOT removing it:" $left >&2
  elif ((keep)); then
    echo "fresh-check: root kept: $root" | tee -a "$log"
  elif [ -d "$root" ]; then
    rm -rf --one-file-system "$root"
    ((created_root)) || mkdir -p "$root"
  fi
  echo "fresh-check: log: $log"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "fresh-check: interrupted (INT)" >&2; exit 130' INT
trap 'echo "fresh-check: interrupted (TERM)" >&2; exit 143' TERM

fail_setup() { say "SETUP FAILED: $*"; exit 2; }

machine=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
say "commit $commit ($(git -C "$repo" log -1 --format=%s "$commit"))"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
say "date $(date -u '+%Y-%m-%d %H:%M:%S UTC'), host $(hostname), ${machine:-unknown cpu}, $(nproc) cores, nice $(nice), load $(loadavg)"
say "root $root, log $log"
if [ "$rev" = HEAD ] && [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  say "note: the working tree has uncommitted changes; they are NOT part of this check (it checks $commit)"
fi

# --- 1. bootstrap a bare bookworm ----------------------------------------------------------------
if ! command -v mmdebstrap >/dev/null; then
  say "installing mmdebstrap on the host"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap; } >>"$log" 2>&1 ||
    fail_setup "apt-get install mmdebstrap"
fi
t0=$(now)
say "bootstrap: mmdebstrap --variant=minbase bookworm${include:+ --include=$include}"
mm_args=(--variant=minbase --mode=root)
[ -n "$include" ] && mm_args+=(--include="$include")
mmdebstrap "${mm_args[@]}" bookworm "$root" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security_mirror bookworm-security main" \
  >>"$log" 2>&1 || fail_setup "mmdebstrap (see $log)"
t_boot=$(secs "$t0" "$(now)")
say "bootstrap: done in ${t_boot} s ($(du -sh --one-file-system "$root" | cut -f1))"

# A fresh machine has name resolution; mmdebstrap removes the resolv.conf it used.
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# The committed tree, as a user who downloaded or cloned it has it (no build folders, no out/).
mkdir -p "$root/root/vit" "$root/root/.fresh-check"
# The network's trust, not the project's: where this host reaches PyPI through a TLS proxy with its
# own CA (PIP_CERT set here), pip in the root is given that CA file too (PIP_CERT); on a machine on
# the open internet pip's own certificates suffice and nothing is added.
network_env=()
if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
  cp "$PIP_CERT" "$root/root/.fresh-check/network-ca.crt"
  network_env=(PIP_CERT=/root/.fresh-check/network-ca.crt)
fi
git -C "$repo" archive --format=tar "$commit" | tar -x -C "$root/root/vit" || fail_setup "git archive $commit"

# --- 2. mounts ---------------------------------------------------------------------------------
mnt() {  # mnt TARGET mount-args...
  local target=$1; shift
  mount "$@" "$target" || fail_setup "mount $* $target"
  mounts+=("$target")
}
mnt "$root/proc" -t proc proc
mnt "$root/sys" --bind /sys
mnt "$root/dev" --bind /dev
[ -d /dev/pts ] && mnt "$root/dev/pts" --bind /dev/pts      # apt/dpkg open a pty for their log
mnt "$root/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev tmpfs   # private, not the host's /dev/shm

# --- 3. the README blocks ------------------------------------------------------------------------
readme=$root/root/vit/README.md
extract() {  # the ```sh block right after <!-- fresh-check: NAME ... -->
  awk -v name="$1" '
    !armed && index($0, "<!-- fresh-check: " name) == 1 { armed = 1; next }
    armed == 1 && /^```sh[[:space:]]*$/ { armed = 2; next }
    armed == 1 && !/^[[:space:]]*$/ { exit 1 }
    armed == 2 && /^```[[:space:]]*$/ { found = 1; exit }
    armed == 2 { print }
    END { if (!found) exit 1 }' "$readme"
}
results=()
status=0
for name in "${blocks[@]}"; do
  block=$(extract "$name") || fail_setup "README.md has no \`\`\`sh block after a '<!-- fresh-check: $name' marker"
  [ -n "$block" ] || fail_setup "README.md's fresh-check block '$name' is empty"
  runner=$root/root/.fresh-check/$name.sh
  trace=/root/.fresh-check/$name.trace
  {
    echo '#!/bin/bash'
    echo '# written by scripts/fresh-machine-check.sh: the README block, traced with start times'
    echo 'set -e'
    echo 'cd /root/vit'
    echo "exec 3>$trace"
    echo 'BASH_XTRACEFD=3'
    echo 'PS4='"'"'+${EPOCHREALTIME} '"'"
    echo 'set -x'
    printf '%s\n' "$block"
  } >"$runner"
  say "---- $name: README block:"
  printf '%s\n' "$block" | sed 's/^/    /' | tee -a "$log"
  t0=$(now)
  rc=0
  # In the background + wait, so a TERM to this script is handled at once (the trap stops the block).
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "${network_env[@]}" /bin/bash "/root/.fresh-check/$name.sh" >>"$log" 2>&1 </dev/null &
  wait $! || rc=$?
  t1=$(now)
  dt=$(secs "$t0" "$t1")
  # Per-command times from the trace: each traced command runs until the next one starts.
  awk -v end="$t1" '
    /^\+[0-9]+\.[0-9]+ / { n++; ts[n] = substr($1, 2); sub(/^\+[0-9.]+ /, ""); cmd[n] = $0 }
    END { for (i = 1; i <= n; i++) { e = (i < n) ? ts[i + 1] : end;
          printf "    %6.0f s  %s\n", e - ts[i], (length(cmd[i]) > 110 ? substr(cmd[i], 1, 107) "..." : cmd[i]) } }' \
    "$root$trace" 2>/dev/null | tee -a "$log" || true
  if ((rc == 0)) && [ "$name" = try-it ]; then
    # What the README promises the command writes: out/<name>.summary.npy, .features.npy, out/pca/<name>.pca.png.
    missing=""
    for img in "$root"/root/vit/assets/samples/*; do
      n=$(basename "${img%.*}")
      for f in "out/$n.summary.npy" "out/$n.features.npy" "out/pca/$n.pca.png"; do
        [ -s "$root/root/vit/$f" ] || missing+=" $f"
      done
    done
    if [ -n "$missing" ]; then
      say "$name: exit 0 but missing outputs:$missing"
      rc=1
    else
      say "$name: outputs present: $(cd "$root/root/vit" && ls out/*.npy out/pca/*.png | wc -l) files in out/ and out/pca/"
    fi
  fi
  if [ "$name" = test ]; then   # ctest's summary and skipped tests, for the record
    ctest_lines=$(grep -E 'tests passed|Total Test time|\((Not Run|Skipped|Failed|Timeout)\)' "$log" | sed 's/^/    /') || true
    [ -z "$ctest_lines" ] || printf '%s\n' "$ctest_lines" | tee -a "$log"
  fi
  if ((rc == 0)); then
    results+=("$(printf '%-7s PASS %6s s' "$name" "$dt")")
  else
    results+=("$(printf '%-7s FAIL %6s s (exit %s)' "$name" "$dt" "$rc")")
    say "$name: FAILED (exit $rc) after $dt s; last lines of the log:"
    tail -n 40 "$log" | grep -v '^fresh-check:' | sed 's/^/    | /'
    status=1
    break   # like a user following the README: stop at the first failure
  fi
done

say "==== summary (commit ${commit:0:12}, ${machine:-unknown cpu}, $(nproc) cores, load now $(loadavg))"
say "$(printf '%-7s      %6s s' bootstrap "$t_boot")"
for r in "${results[@]}"; do say "$r"; done
if ((status == 0)); then say "RESULT: PASS"; else say "RESULT: FAIL"; fi
exit "$status"
}
