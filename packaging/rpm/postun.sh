# banjo %postun ($1: 0 = erase, 1 or more = upgrade). RPM has no purge: on erase,
# /var/lib/banjo (bans, ban counts, journal cursor) stays, and so do edited config
# files (as .rpmsave), the RPM convention; remove them by hand if wanted. The system
# group banjo stays too.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
	if [ "$1" -ge 1 ]; then
		# Upgrade: restart the daemon if it runs, with the new binary; it restores its
		# bans from /var/lib/banjo/state.db. banjo.socket keeps its listening socket.
		systemctl try-restart banjo.service || echo "banjo: could not restart banjo.service; see: systemctl status banjo.service" >&2
	fi
fi
if [ "$1" -eq 0 ]; then
	if command -v journalctl >/dev/null 2>&1; then
		journalctl --update-catalog >/dev/null 2>&1 || :
	fi
	# The package does not own these directories (see Cargo.toml): remove them when
	# nothing is left in them.
	rmdir /etc/banjo/jail.d /etc/banjo/filter.d /etc/banjo 2>/dev/null || :
fi
exit 0
