#!/usr/bin/env bash
# Installs the Debian packages zvonar needs to build, run and test (idempotent).
#   build:  cmake, clang/libclang (bindgen for whisper.cpp and espeak-ng), libsonic-dev
#           (espeak-ng's speed-up library), pkg-config, a C/C++ compiler, libssl-dev (openssl-sys,
#           built for ort's build script)
#   run:    festival + festvox-ru (the default Russian voice, [tts] engine = "festival": Festival
#           run as one long-lived process with the msu_ru_nsh_clunits voice, BSD-like licence),
#           espeak-ng-data (Debian's full Russian dictionary for espeak-ng), python3-venv and
#           python3-pip (the model fetcher converts Whisper with numpy), curl
#   test:   sip-tester (SIPp), baresip, sox, asterisk-core-sounds-ru-wav (human Russian
#           numbers recorded at 8 kHz, the callers' speech in end-to-end tests; the tests find
#           them through `dpkg -L`, see tests/fixtures), chromium (the headless browser of
#           the console tests, driven by playwright-core from npm: deploy/install-npm.sh, run
#           at the end), firefox-esr (the console's softphone test in Firefox, driven by
#           puppeteer-core from npm over WebDriver BiDi), tcpdump + iproute2 (the browser softphone test runs zvonar in a network
#           namespace and captures the RTP the caller receives), nodejs + npm when no Node.js
#           is installed. Other test inputs are
#           vendored in tests/fixtures.
set -euo pipefail
PKGS=(build-essential cmake clang libclang-dev libsonic-dev pkg-config libssl-dev
      festival festvox-ru espeak-ng-data python3-venv python3-pip curl ca-certificates
      sip-tester baresip sox asterisk-core-sounds-ru-wav chromium firefox-esr tcpdump iproute2)
# Node.js from Debian only when none is installed (a NodeSource nodejs package brings npm).
command -v node >/dev/null || PKGS+=(nodejs)
command -v npm >/dev/null || PKGS+=(npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
"$(dirname "$0")/install-npm.sh"
