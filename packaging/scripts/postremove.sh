#!/bin/sh
# postremove of the audit-cli .deb and .rpm. The audit log itself
# (/var/lib/audit-cli) and the audit-cli user are kept, also on purge:
# deleting an audit trail is for an administrator to decide.
set -e

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
