#!/bin/sh
# preremove of the audit-cli .deb and .rpm: stop and disable the services
# when the package is removed, not when it is upgraded.
#   deb: $1 is "remove" on removal, "upgrade" on upgrade;
#   rpm: $1 is the number of versions left: 0 on removal.
set -e

case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now audit-serve.service audit-import-auditd.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
