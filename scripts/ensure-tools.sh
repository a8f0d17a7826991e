#!/usr/bin/env bash
# The test suite runs the real Elixir release and a real Prometheus; this makes sure both exist.
# On Debian/Ubuntu as root it installs them; elsewhere it names what is missing and how to get it.
set -euo pipefail

missing=()
command -v mix >/dev/null 2>&1 || missing+=(elixir)
{ command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; } || missing+=(prometheus)
# The app's PostgreSQL driver without Hex (Debian); a throwaway server and certificates for its tests.
{ ! command -v dpkg >/dev/null 2>&1 || compgen -G "/usr/lib/erlang/lib/p1_pgsql-*" >/dev/null; } || missing+=(erlang-p1-pgsql)
{ command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; } || missing+=(postgresql)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The clustering and rolling-restart tests run a real proxy, load generator and DNS server.
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
# amtool checks the rendered Alertmanager configurations.
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
# Node runs Mermaid's own parser over the diagrams `make plan` draws (package.json pins it).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

# npm ci installs exactly package-lock.json; again only when the lock changed since.
node_packages() (
  cd "$(dirname "$0")/.."
  [ node_modules/.package-lock.json -nt package-lock.json ] && exit 0
  echo "ensure-tools: npm ci (Mermaid's parser for the plan diagrams)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
)

[ ${#missing[@]} -eq 0 ] && { node_packages; exit 0; }

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "ensure-tools: installing ${missing[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  node_packages
  exit 0
fi

cat >&2 <<MSG
ensure-tools: missing ${missing[*]} (the tests run the Elixir release and Prometheus for real).
  Debian/Ubuntu: sudo apt-get install ${missing[*]}
  macOS:         brew install ${missing[*]}
MSG
exit 1
