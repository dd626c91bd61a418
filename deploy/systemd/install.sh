#!/usr/bin/env bash
# Installs Vigil as a systemd service on a Debian gateway, from a checkout of this repository.
#   sudo deploy/systemd/install.sh            # install or upgrade
# Data and models stay in /var/lib/vigil across upgrades; the config in /etc/vigil is never overwritten.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
cd "$(dirname "$0")/../.."
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=15)?0:1)' || { echo "Node.js >= 20.15 is needed" >&2; exit 1; }

id vigil >/dev/null 2>&1 || useradd --system --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil
install -d -o vigil -g vigil -m 0750 /var/lib/vigil /var/lib/vigil/models
install -d -m 0755 /etc/vigil /opt/vigil

npm ci --no-audit --no-fund
npm run build
rm -rf /opt/vigil/dist /opt/vigil/src/api/ui /opt/vigil/simulators/scenarios
cp -r dist package.json package-lock.json /opt/vigil/
mkdir -p /opt/vigil/src/api /opt/vigil/simulators
cp -r src/api/ui /opt/vigil/src/api/
cp -r simulators/scenarios /opt/vigil/simulators/
(cd /opt/vigil && npm ci --omit=dev --no-audit --no-fund)

if [ ! -f /etc/vigil/vigil.yaml ]; then
  cp deploy/config/embedded.yaml /etc/vigil/vigil.yaml
  sed -i 's#^dataDir:.*#dataDir: /var/lib/vigil#' /etc/vigil/vigil.yaml
  printf 'learning:\n  modelsDir: /var/lib/vigil/models\n' >> /etc/vigil/vigil.yaml
fi
[ -f /etc/vigil/vigil.env ] || install -m 0600 /dev/null /etc/vigil/vigil.env
node /opt/vigil/dist/src/cli.js config check /etc/vigil/vigil.yaml

install -m 0644 deploy/systemd/vigil.service /etc/systemd/system/vigil.service
systemctl daemon-reload
systemctl enable vigil
systemctl restart vigil
echo "Vigil is running: systemctl status vigil; journalctl -u vigil -f"
