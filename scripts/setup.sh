#!/usr/bin/env bash
# Installs what Ringcast needs on a fresh Debian machine, and nothing twice.
#   scripts/setup.sh demo   ffmpeg, the npm packages and the relay's zero-copy module (run by `npm start`)
#   scripts/setup.sh test   also redis-server, Chromium, nginx, wrk, h2load, openssh-server (run by `npm test`)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-demo}"

declare -A pkg_of=([ffmpeg]=ffmpeg [ffprobe]=ffmpeg [redis-server]=redis-server [chromium]=chromium
  [nginx]=nginx [wrk]=wrk [sshd]=openssh-server [systemd-analyze]=systemd [gcc]=gcc [g++]=g++ [make]=make
  [python3]=python3 [h2load]=nghttp2-client)
# gcc, g++ (node-gyp links with it), make and python3 build the relay's zero-copy module.
cmds=(ffmpeg ffprobe gcc g++ make python3)
[ "$mode" = test ] && cmds+=(redis-server chromium nginx wrk h2load sshd systemd-analyze)

missing=()
for c in "${cmds[@]}"; do
  if ! command -v "$c" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$c" ]; then missing+=("${pkg_of[$c]}"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# The relay's zero-copy module (native/, sendfile from memfd regions), built when missing or older than
# its source. Without it relays still run and send segments with plain writes (they log why).
# The same build makes the network lab's link emulator (native/tun.c, harness/net/).
addon=native/build/Release/zero_copy.node
emulator=native/build/Release/link_emulator
if [ ! -f "$addon" ] || [ native/zero-copy.c -nt "$addon" ] || [ native/binding.gyp -nt "$addon" ] ||
  [ ! -x "$emulator" ] || [ native/tun.c -nt "$emulator" ]; then
  echo "setup: building native/zero-copy" >&2
  # Node's own headers, where this Node has them (node-gyp would otherwise download them).
  nodedir="$(node -p "require('path').resolve(process.execPath, '../..')")"
  if [ -z "${npm_config_nodedir:-}" ] && [ -f "$nodedir/include/node/node_api.h" ]; then
    export npm_config_nodedir="$nodedir"
  fi
  if ! npm --prefix native run build --silent >native/build.log 2>&1; then
    echo "setup: native/zero-copy did not build (native/build.log); relays will use plain writes" >&2
  fi
fi
