# Shared by scripts/test and scripts/demo: finds the Python of the Home Assistant asked for,
# keeps its virtual environment in step with its requirements and installs mosquitto from
# Debian when it is missing. Sourced, not run: it defines functions and changes nothing
# by itself.
#
# Two Home Assistant versions (`--ha oldest`, the default, or `--ha current`):
#   oldest   Python 3.13, .venv,         requirements_test.txt    (Home Assistant 2025.4.4)
#   current  Python >= 3.14.2, .venv-current, requirements_current.txt (the newest release)

# Sets HA_VERSION_NAME from a leading `--ha oldest|current`; ARGS holds the rest.
parse_ha_option() {
  HA_VERSION_NAME=oldest
  ARGS=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --ha) HA_VERSION_NAME=${2:-}; shift 2 || { echo "--ha needs oldest or current" >&2; return 2; } ;;
      --ha=*) HA_VERSION_NAME=${1#--ha=}; shift ;;
      *) ARGS+=("$1"); shift ;;
    esac
  done
  case "$HA_VERSION_NAME" in
    oldest) VENV=.venv REQUIREMENTS=requirements_test.txt DEMO_REQUIREMENTS=requirements_demo.txt ;;
    current) VENV=.venv-current REQUIREMENTS=requirements_current.txt DEMO_REQUIREMENTS=requirements_demo_current.txt ;;
    *) echo "--ha takes oldest or current, not '$HA_VERSION_NAME'" >&2; return 2 ;;
  esac
}

# Prints the first candidate that runs and satisfies the Python check $1.
first_python() {
  local check=$1 candidate
  shift
  for candidate in "$@"; do
    [ -n "$candidate" ] || continue
    # A pyenv shim exists even when its version is not active, so ask it to run.
    if "$candidate" -c "import sys; assert $check" 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

find_python() {
  if [ "$HA_VERSION_NAME" = current ]; then
    first_python 'sys.version_info >= (3, 14, 2)' "${PYTHON314:-}" python3.14 \
        "$HOME"/.pyenv/versions/3.14*/bin/python3.14 /usr/local/bin/python3.14 \
        /usr/bin/python3.14 && return 0
    cat >&2 <<'MSG'
Python 3.14.2 or newer was not found, and the current Home Assistant needs it.
Install one (python.org, pyenv, uv python install 3.14, or your distribution), then put
python3.14 on the PATH or set PYTHON314=/path/to/python3.14.
MSG
    return 1
  fi
  first_python 'sys.version_info[:2] == (3, 13)' "${PYTHON:-}" python3.13 \
      "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 \
      /usr/bin/python3.13 && return 0
  echo "Python 3.13 was not found; install it or set PYTHON=/path/to/python3.13" >&2
  return 1
}

# A venv with pip. A Python without ensurepip's wheels (some distributions split them
# off) gets pip from a pip wheel fetched by any pip on the machine.
make_venv() {
  local python=$1 dir=$2 wheels wheel
  if "$python" -m venv "$dir" 2>/dev/null && "$dir"/bin/python -m pip --version >/dev/null 2>&1; then
    return 0
  fi
  rm -rf "$dir"
  "$python" -m venv --without-pip "$dir"
  wheels=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: pip -d "$wheels"
  wheel=$(echo "$wheels"/pip-*.whl)
  # A wheel is a zip that Python can run from: its own pip installs it.
  "$dir"/bin/python "$wheel/pip" install --quiet "$wheel"
  rm -rf "$wheels"
}

ensure_venv() {
  local python stamp wanted
  python=$(find_python)
  stamp=$VENV/.installed
  wanted="$("$python" -VV | tr -d '\n') $(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
  if [ -x "$VENV"/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    return 0
  fi
  echo "Setting up $VENV with $python" >&2
  if ! "$VENV"/bin/python -m pip --version >/dev/null 2>&1 \
      || [ "$("$VENV"/bin/python -VV)" != "$("$python" -VV)" ]; then
    rm -rf "$VENV"
    make_venv "$python" "$VENV"
  fi
  echo "Installing Home Assistant and the test tools ($REQUIREMENTS)" >&2
  venv_install -r "$REQUIREMENTS"
  rm -f "$VENV"/.demo-installed
  echo "$wanted" > "$stamp"
}

# Installs into $VENV with uv (from PyPI, into the venv itself: it installs Home
# Assistant's few hundred packages in seconds where pip takes minutes), or with pip
# where uv cannot be had. uv shows its progress; pip says nothing until done.
venv_install() {
  if [ ! -x "$VENV"/bin/uv ] && [ -z "${TTN_MQTT_NO_UV:-}" ]; then
    "$VENV"/bin/python -m pip install --quiet --disable-pip-version-check uv \
      || echo "uv could not be installed: pip installs instead (a few minutes)" >&2
  fi
  if [ -x "$VENV"/bin/uv ] && [ -z "${TTN_MQTT_NO_UV:-}" ]; then
    "$VENV"/bin/uv pip install --python "$VENV"/bin/python "$@"
  else
    "$VENV"/bin/python -m pip install --quiet --disable-pip-version-check "$@"
  fi
}

# Installs Debian packages ($@) with apt.
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  # Another apt run (an unattended upgrade) may hold the lock for a while: wait for it.
  $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 \
    install -y -qq "$@" >/dev/null
}

ensure_mosquitto() {
  if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
    return 0
  fi
  echo "Installing mosquitto from Debian" >&2
  apt_install mosquitto mosquitto-clients
}

# Home Assistant's camera code loads libturbojpeg at start and logs an error without
# it (its container image has it): the demo must start with no error in its log.
ensure_turbojpeg() {
  if ldconfig -p 2>/dev/null | grep -q libturbojpeg; then
    return 0
  fi
  echo "Installing libturbojpeg from Debian" >&2
  apt_install libturbojpeg0
}

ensure_demo_packages() {
  local stamp=$VENV/.demo-installed wanted
  wanted=$(sha256sum "$DEMO_REQUIREMENTS" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    return 0
  fi
  echo "Installing Home Assistant's frontend for the demo ($DEMO_REQUIREMENTS)" >&2
  venv_install -r "$DEMO_REQUIREMENTS"
  echo "$wanted" > "$stamp"
}
