#!/usr/bin/env bash
# Installs what the whole test suite needs (servers included) and runs it: the README's test command,
# and what .ci/run runs. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || need+=(prometheus)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -f /usr/share/postgresql/15/extension/pg_stat_statements.control ] || need+=(postgresql-contrib)
command -v javac >/dev/null && command -v jstack >/dev/null && command -v jcmd >/dev/null \
  || need+=(openjdk-17-jdk-headless)
command -v jq >/dev/null || need+=(jq)
command -v go >/dev/null || need+=(golang-go)
command -v openssl >/dev/null || need+=(openssl)      # test certificates for the kubeconfig client-key tests
[ -x /usr/sbin/nginx ] || need+=(nginx-light)         # a real nginx and HAProxy write the logs tests/logs reads
[ -x /usr/sbin/haproxy ] || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

export DIAGNOSE_REQUIRE_SERVERS=1
exec .venv/bin/python -m pytest "$@"
