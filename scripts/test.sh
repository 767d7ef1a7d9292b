#!/usr/bin/env bash
# THE test command (`npm test`): runs every test of PrefStudio on a fresh Debian bookworm machine.
#
#   1. system packages, installed when missing (needs root or passwordless sudo):
#        chromium              headless browser tests; also carries SwiftShader, a Vulkan CPU driver
#                              (/usr/lib/chromium/vk_swiftshader_icd.json) used by Dawn in Node
#        libvulkan1            the Vulkan loader Dawn (npm `webgpu`) opens in Node
#        mesa-vulkan-drivers   lavapipe, the faster Vulkan CPU driver; must be Mesa >= 25, which on
#                              bookworm comes from bookworm-backports (added to apt sources if absent).
#                              Optional: without it the Node tests run on SwiftShader, and we say so.
#   2. npm packages: `npm ci` when node_modules is missing, `npm install` when it is stale.
#   3. tests: `npm run typecheck` (tsc on tsconfig.json and on the engine's own DOM-free configs),
#      then `vitest run` (every tier: CPU references, the GPU op suite in Node on lavapipe, the same
#      suite and the studio in headless Chromium), then the Node GPU suite again on SwiftShader,
#      whose subgroup size (4 vs 8) and offset alignment (256 vs 16) differ.
#
# Every test step runs even if an earlier one failed; the summary at the end lists them all and the
# exit status is non-zero if any failed. Extra arguments go to the main `vitest run`.

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

bold=$'\e[1m'; red=$'\e[31m'; green=$'\e[32m'; yellow=$'\e[33m'; off=$'\e[0m'
[ -t 1 ] || { bold=''; red=''; green=''; yellow=''; off=''; }
say() { printf '%s==> %s%s\n' "$bold" "$*" "$off"; }
warn() { printf '%sWARNING: %s%s\n' "$yellow" "$*" "$off" >&2; }
die() {
  printf '%sERROR: %s%s\n' "$red" "$1" "$off" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}

# Dawn and Chromium want a runtime dir; CI containers often have none.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR="/tmp/prefstudio-xdg-$(id -u)"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi
export DEBIAN_FRONTEND=noninteractive

SWIFTSHADER_ICD=/usr/lib/chromium/vk_swiftshader_icd.json
LAVAPIPE_ICD=/usr/share/vulkan/icd.d/lvp_icd.json
MIN_MESA=25

# ------------------------------------------------------------------ 1. system packages

# How we may run apt-get: as root, through passwordless sudo, or not at all.
if [ "$(id -u)" = 0 ]; then
  AS_ROOT=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  AS_ROOT=(sudo -n)
else
  AS_ROOT=(none)
fi
can_apt() { [ "${AS_ROOT[0]:-}" != none ] && command -v apt-get >/dev/null 2>&1; }

apt_updated=0
apt_update() {
  [ "$apt_updated" = 1 ] && return 0
  say "apt-get update"
  "${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq && apt_updated=1
}
apt_install() { # apt_install [apt-get install options…] packages…
  say "apt-get install $*"
  apt_update && "${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@"
}

have_chromium() { [ -x /usr/bin/chromium ] && [ -f "$SWIFTSHADER_ICD" ]; }
have_libvulkan() { ldconfig -p 2>/dev/null | grep 'libvulkan\.so\.1 ' >/dev/null; } # no grep -q: SIGPIPE + pipefail
mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed 's/^[0-9]*://'; }
have_lavapipe() { # an lvp ICD from Mesa >= MIN_MESA
  local v
  v=$(mesa_version)
  [ -f "$LAVAPIPE_ICD" ] && [ -n "$v" ] && [ "${v%%.*}" -ge "$MIN_MESA" ] 2>/dev/null
}

missing=()
have_chromium || missing+=(chromium fonts-liberation) # a font, as --no-install-recommends drops it
have_libvulkan || missing+=(libvulkan1)
if [ ${#missing[@]} -gt 0 ]; then
  if can_apt; then
    apt_install "${missing[@]}" || die "could not install ${missing[*]} with apt-get" \
      "install them by hand: sudo apt-get update && sudo apt-get install chromium libvulkan1"
  else
    die "missing system packages: ${missing[*]} (and this script cannot install them: it is not root, has no passwordless sudo, or there is no apt-get)" \
      "on Debian/Ubuntu run:  sudo apt-get update && sudo apt-get install chromium libvulkan1" \
      "or run \`npm test\` as root (or with passwordless sudo) and it installs them itself" \
      "chromium runs the browser tests and carries SwiftShader ($SWIFTSHADER_ICD); libvulkan1 lets Dawn find it in Node"
  fi
  have_chromium || die "chromium is installed but /usr/bin/chromium or $SWIFTSHADER_ICD is missing" "reinstall it: sudo apt-get install --reinstall chromium"
  have_libvulkan || die "libvulkan.so.1 is still not found after installing libvulkan1" "check: ldconfig -p | grep libvulkan"
fi

# lavapipe (Mesa >= 25) is optional: bookworm's own Mesa 22 is too old, backports has 25.
lavapipe_note=""
if ! have_lavapipe; then
  if can_apt; then
    codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
    if [ "$codename" = bookworm ]; then
      if ! grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        say "adding bookworm-backports to apt sources (for Mesa >= $MIN_MESA lavapipe)"
        echo 'deb http://deb.debian.org/debian bookworm-backports main' | "${AS_ROOT[@]}" tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
        apt_updated=0
      fi
      apt_install -t bookworm-backports mesa-vulkan-drivers || true
    else
      apt_install mesa-vulkan-drivers || true
    fi
  fi
  if ! have_lavapipe; then
    mesa_found=$(mesa_version)
    lavapipe_note="lavapipe (Mesa >= $MIN_MESA) is not installed (mesa-vulkan-drivers found: ${mesa_found:-none}); the Node GPU tests run on SwiftShader only"
    warn "$lavapipe_note"
    warn "to install it on bookworm: echo 'deb http://deb.debian.org/debian bookworm-backports main' | sudo tee /etc/apt/sources.list.d/bookworm-backports.list && sudo apt-get update && sudo apt-get install -t bookworm-backports mesa-vulkan-drivers"
    # An older lavapipe may still be installed; the default `auto` would pick it. Use SwiftShader.
    export PREFSTUDIO_ADAPTER="${PREFSTUDIO_ADAPTER:-swiftshader}"
  fi
fi

# ------------------------------------------------------------------ 2. node and npm packages

command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
  die "node and npm are not installed" "install Node.js >= 20.19 (https://nodejs.org, or your distribution's nodejs + npm packages)"
node_version=$(node -p 'process.versions.node')
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)||(a===20&&b>=19)?0:1)' ||
  die "Node.js $node_version is too old for Vite 8 (needs ^20.19 or >= 22.12)" "install a newer Node.js from https://nodejs.org"

if [ ! -d node_modules ]; then
  if [ -f package-lock.json ]; then say "npm ci (node_modules is missing)"; npm ci --no-audit --no-fund || die "npm ci failed" "see npm's messages above; with npm 10, upgrade npm first: npm install -g npm@11"
  else say "npm install (no package-lock.json)"; npm install --no-audit --no-fund || die "npm install failed" "see npm's messages above"
  fi
elif [ package.json -nt node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || ! npm ls --all --silent >/dev/null 2>&1; then
  # `npm install`, not `npm ci`: it updates in place instead of deleting node_modules under
  # anything else that is using it.
  say "npm install (node_modules is stale)"
  npm install --no-audit --no-fund || die "npm install failed" "see npm's messages above; or delete node_modules and run npm test again"
  touch node_modules/.package-lock.json
fi

# ------------------------------------------------------------------ 3. tests

names=(); results=(); times=()
total_passed=0; total_failed=0
step() { # step "name" command… — runs it, records pass/fail and seconds, and counts vitest's tests
  local name=$1 t0 rc log
  shift
  say "$name: $*"
  t0=$SECONDS
  log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  names+=("$name"); results+=("$rc"); times+=("$((SECONDS - t0))")
  # vitest's closing "Tests  N failed | M passed (K)" line (colours stripped)
  local line p f
  line=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ +Tests +' | tail -n 1)
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || true)
  total_passed=$((total_passed + ${p:-0})); total_failed=$((total_failed + ${f:-0}))
  rm -f "$log"
  return 0
}

adapter_default="${PREFSTUDIO_ADAPTER:-auto}"
step "typecheck (the app, the DOM-free engine, its worker, its Node files)" npm run --silent typecheck
step "vitest (all tiers; Node GPU adapter: $adapter_default)" npx vitest run "$@"
step "Node GPU suite on SwiftShader" env PREFSTUDIO_ADAPTER=swiftshader npx vitest run e2e/gpu/node.test.ts

# ------------------------------------------------------------------ summary

echo
say "summary"
if have_lavapipe; then echo "  Node adapter: PREFSTUDIO_ADAPTER=$adapter_default (auto = lavapipe, Mesa $(mesa_version)), then SwiftShader"; else echo "  ${yellow}Node adapter: SwiftShader only — $lavapipe_note${off}"; fi
echo "  Chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1) (WebGPU on SwiftShader)"
echo "  Node.js $node_version"
failed=0
for i in "${!names[@]}"; do
  if [ "${results[$i]}" = 0 ]; then
    printf '  %s✓%s %-55s %4ss\n' "$green" "$off" "${names[$i]}" "${times[$i]}"
  else
    printf '  %s✗%s %-55s %4ss  (exit %s)\n' "$red" "$off" "${names[$i]}" "${times[$i]}" "${results[$i]}"
    failed=1
  fi
done
if [ "$failed" = 0 ]; then
  printf '%sall tests passed%s\n' "$green$bold" "$off"
else
  printf '%ssome tests failed (see above; scroll up for each failing test)%s\n' "$red$bold" "$off"
fi
echo "tests: $total_passed passed, $total_failed failed"
exit "$failed"
