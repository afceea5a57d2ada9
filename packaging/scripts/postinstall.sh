#!/bin/sh
# postinstall of the audit-cli .deb and .rpm: create the system user of
# audit-serve.service and tell systemd about the unit. The service is not
# enabled: it needs a store and tokens first (see /etc/audit-cli/serve.env).
set -e

if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers /usr/lib/sysusers.d/audit-cli.conf
elif ! getent passwd audit-cli >/dev/null 2>&1; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	useradd --system --user-group --home-dir /var/lib/audit-cli --no-create-home \
		--shell "$nologin" --comment "audit serve" audit-cli
fi

# serve.env may hold a PostgreSQL password: readable by the service only.
if getent group audit-cli >/dev/null 2>&1; then
	chgrp audit-cli /etc/audit-cli/serve.env
	chmod 0640 /etc/audit-cli/serve.env
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# An upgrade restarts a running service on the new binary.
	systemctl try-restart audit-serve.service audit-import-auditd.service >/dev/null 2>&1 || true
fi
exit 0
