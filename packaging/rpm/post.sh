# banjo %post ($1: 1 = first install, 2 or more = upgrade). Idempotent.
# The group whose members may read status over the control socket (banjo.socket's
# SocketGroup=, [daemon] readers_group); it must exist before banjo.socket starts.
if ! getent group banjo >/dev/null; then
	if command -v systemd-sysusers >/dev/null 2>&1 && [ -f /usr/lib/sysusers.d/banjo.conf ]; then
		systemd-sysusers banjo.conf || :
	fi
	getent group banjo >/dev/null || groupadd -r banjo || :
fi
# journalctl -x explanations for banjo's MESSAGE_IDs (works without journald running).
command -v journalctl >/dev/null 2>&1 && { journalctl --update-catalog >/dev/null 2>&1 || :; }
if [ "$1" -eq 1 ]; then
	# Enabling only writes symlinks (--no-reload: no running systemd needed, e.g. while
	# building an image); starting needs a running systemd.
	if command -v systemctl >/dev/null 2>&1; then
		systemctl --no-reload enable banjo.socket banjo.service >/dev/null 2>&1 || :
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || :
		systemctl start banjo.socket || echo "banjo: could not start banjo.socket; see: systemctl status banjo.socket" >&2
		systemctl start banjo.service || echo "banjo: could not start banjo.service; see: systemctl status banjo.service" >&2
	fi
elif [ -d /run/systemd/system ]; then
	# Upgrade: new unit files. The restart happens in %postun, after the old files are gone.
	systemctl daemon-reload >/dev/null 2>&1 || :
fi
exit 0
