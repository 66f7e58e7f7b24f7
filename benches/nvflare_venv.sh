# Sourced by the benchmark scripts, from the repository's root: sets $venv
# to the virtualenv with nvflare==2.9.0 that the tests use, making it first
# if it is missing.
venv="target/tmp/nvflare-2.9.0-venv"
if ! "$venv/bin/python" -c "import nvflare.fuel.hci.binary_proto" 2>/dev/null; then
    mkdir -p target/tmp
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet nvflare==2.9.0
fi
