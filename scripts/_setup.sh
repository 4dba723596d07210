# Shared by scripts/test and scripts/demo: finds Python 3.13, keeps .venv in step with
# requirements_test.txt and installs mosquitto from Debian when it is missing.
# Sourced, not run: it defines functions and changes nothing by itself.

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3.13 \
      /usr/local/bin/python3.13 /usr/bin/python3.13; do
    [ -n "$candidate" ] || continue
    # A pyenv shim exists even when 3.13 is not its active version, so ask it to run.
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "Python 3.13 was not found; install it or set PYTHON=/path/to/python3.13" >&2
  return 1
}

ensure_venv() {
  local python stamp wanted
  python=$(find_python)
  stamp=.venv/.installed
  wanted="$("$python" -VV | tr -d '\n') $(sha256sum requirements_test.txt | cut -d' ' -f1)"
  if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    return 0
  fi
  echo "Setting up .venv with $python" >&2
  if ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
    rm -rf .venv
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements_test.txt
  echo "$wanted" > "$stamp"
}

ensure_mosquitto() {
  if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
    return 0
  fi
  echo "Installing mosquitto from Debian" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
}

ensure_demo_packages() {
  local stamp=.venv/.demo-installed wanted
  wanted=$(sha256sum requirements_demo.txt | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    return 0
  fi
  echo "Installing Home Assistant's frontend for the demo" >&2
  .venv/bin/python -m pip install --quiet -r requirements_demo.txt
  echo "$wanted" > "$stamp"
}
