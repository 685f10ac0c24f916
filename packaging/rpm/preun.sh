# banjo %preun ($1: 0 = erase, 1 or more = upgrade). On erase: stop and disable the
# units, then take banjo's chains and sets (and so every ban) out of the kernel while
# /usr/bin/banjo still exists. On upgrade nothing happens here; bans stay.
if [ "$1" -eq 0 ]; then
	if [ -d /run/systemd/system ]; then
		systemctl stop banjo.service banjo.socket >/dev/null 2>&1 || :
	fi
	if command -v systemctl >/dev/null 2>&1; then
		systemctl --no-reload disable banjo.service banjo.socket >/dev/null 2>&1 || :
	fi
	if [ -x /usr/bin/banjo ]; then
		/usr/bin/banjo flush || echo "banjo: 'banjo flush' failed; remove banjo's chains and sets by hand (iptables -S | grep banjo; ipset list -n | grep banjo)" >&2
	fi
fi
exit 0
