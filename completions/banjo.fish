# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_banjo_global_optspecs
    string join \n h/help V/version
end

function __fish_banjo_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_banjo_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_banjo_using_subcommand
    set -l cmd (__fish_banjo_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c banjo -n "__fish_banjo_needs_command" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_needs_command" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "check" -d 'Validate the configuration and filters; exit 2 on any error'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "test-filter" -d 'Run a filter over log lines or journal entries and report what it matches (banjo\'s fail2ban-regex)'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "import-filter" -d 'Convert fail2ban filter.d/*.conf files into banjo filters for review'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "import-fail2ban" -d 'Move from fail2ban: its jails, filters, actions and active bans into banjo'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "mail-ban" -d 'Mail a ban (an exec hook; import-fail2ban writes it for action_mw/action_mwl)'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "replay" -d 'Run the whole decision pipeline over recorded journal history on a virtual clock, without a firewall: what would this config have banned?'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "run" -d 'The daemon: follow the journal and ban (normally started by systemd)'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "status" -d 'Jails with their failure and ban counts (one jail: its banned list too)'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "bans" -d 'Every active ban'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "ban" -d 'Ban an address (or network) in a jail by hand'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "unban" -d 'Lift a ban by hand'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "reload" -d 'Reload the configuration; a config with errors is refused and the running one stays'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "metrics" -d 'The daemon\'s metrics in Prometheus\'s text format (what GET /metrics serves)'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "history" -d 'Every ban and unban of an address, from the journal'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "flush" -d 'Remove from the kernel every chain, set and nftables table banjo made, and nothing else (it names what it left under banjo\'s names, and why)'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "doctor" -d 'Look at the journal of the last days: enabled jails that read nothing, services whose built-in jail is off, and failures from addresses that no jail took'
complete -c banjo -n "__fish_banjo_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c banjo -n "__fish_banjo_using_subcommand check" -s c -l config -d 'Configuration directory (banjo.toml, jail.d/, filter.d/)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand check" -l json -d 'Machine-readable report'
complete -c banjo -n "__fish_banjo_using_subcommand check" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand check" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -l journal-dir -d 'Read journal files from this directory (like journalctl --directory)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -l journal-file -d 'Read this journal file (repeatable; like journalctl --file)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -l datepattern -d 'With --logpath: how to find the date (fail2ban\'s %-codes; default: the usual shapes)' -r
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -s m -l match -d 'Journal match (journalctl syntax, repeatable: groups are ORed). Default: the filter\'s own journalmatch' -r
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -s c -l config -d 'Configuration directory (banjo.toml, jail.d/, filter.d/)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -l journal -d 'Read the system journal'
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -l logpath -d 'Read SOURCE (a file or -) as the daemon reads a jail\'s logpath files: a syslog header is parsed, else the date is found and cut as fail2ban cuts it'
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -l all-entries -d 'Read every journal entry, ignoring the filter\'s journalmatch'
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -l print-all-matched -d 'Print every matched entry with its address'
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -l print-all-missed -d 'Print every entry no failregex matched'
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -l print-all-ignored -d 'Print every entry an ignoreregex dropped'
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -s v -l verbose -d 'Under each failregex, the address and time of every entry it matched (fail2ban-regex -v); with --json, a "matches" list per failregex'
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -l json -d 'Machine-readable report'
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand test-filter" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand import-filter" -s o -l output -d 'Write DIR/NAME.toml for each file instead of printing to standard output' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand import-filter" -l force -d 'Overwrite existing files in DIR'
complete -c banjo -n "__fish_banjo_using_subcommand import-filter" -l json -d 'Machine-readable summary (with the filters\' text when not written to DIR)'
complete -c banjo -n "__fish_banjo_using_subcommand import-filter" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c banjo -n "__fish_banjo_using_subcommand import-filter" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand import-fail2ban" -s o -l output -d 'banjo\'s configuration directory to write into' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand import-fail2ban" -l db -d 'fail2ban\'s database (default: dbfile from fail2ban.conf)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand import-fail2ban" -l state-dir -d 'banjo\'s state directory (default: [daemon] state_dir of the config written)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand import-fail2ban" -l force -d 'Overwrite files written by an earlier import'
complete -c banjo -n "__fish_banjo_using_subcommand import-fail2ban" -l dry-run -d 'Print what would be written; write nothing (bans included)'
complete -c banjo -n "__fish_banjo_using_subcommand import-fail2ban" -l json -d 'Machine-readable report'
complete -c banjo -n "__fish_banjo_using_subcommand import-fail2ban" -l no-bans -d 'Leave fail2ban\'s active bans alone (by default they are copied into banjo\'s state)'
complete -c banjo -n "__fish_banjo_using_subcommand import-fail2ban" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c banjo -n "__fish_banjo_using_subcommand import-fail2ban" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -l mta -d '`sendmail` (the message on stdin, `-t`) or `mail` (mailx: subject in argv), or a path to either' -r
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -l to -r
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -l from -r
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -l from-name -d 'Display name of the sender' -r
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -l jail -r
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -l ip -r
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -l failures -r
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -l bantime -r
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -l matches -d 'The matched log lines (banjo\'s `{matches}`), appended to the mail' -r
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -l whois -d 'Append `whois IP` to the mail (skipped when whois is not installed)'
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c banjo -n "__fish_banjo_using_subcommand mail-ban" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand replay" -s c -l config -d 'Configuration directory (banjo.toml, jail.d/, filter.d/)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand replay" -l journal-dir -d 'Read journal files from this directory (like journalctl --directory)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand replay" -l journal-file -d 'Read this journal file (repeatable; like journalctl --file)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand replay" -l logpath -d 'Replay this log file instead of a journal (repeatable), through the jails whose logpath names it (or, if none does, every jail with a logpath)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand replay" -l since -d 'Start at this time (UTC: "2026-11-16", "2026-11-16 08:00", or @EPOCH)' -r
complete -c banjo -n "__fish_banjo_using_subcommand replay" -l until -d 'Stop at this time (same formats as --since)' -r
complete -c banjo -n "__fish_banjo_using_subcommand replay" -l route -d 'How journal entries reach the jails: `libsystemd` hands every jail\'s journalmatch to libsystemd, which skips the entries no jail names; `in-process` reads every entry and routes it here, as the daemon does; `auto` is `libsystemd` up to 16 match terms (all jails\' together), else `in-process`. The events and counts are the same either way, only the speed differs' -r -f -a "auto\t''
libsystemd\t''
in-process\t''"
complete -c banjo -n "__fish_banjo_using_subcommand replay" -l journal -d 'Read the system journal'
complete -c banjo -n "__fish_banjo_using_subcommand replay" -l no-ignoreself -d 'Do not exclude this host\'s own addresses (ignoreself): the history may come from another machine'
complete -c banjo -n "__fish_banjo_using_subcommand replay" -l json -d 'Machine-readable timeline and summary'
complete -c banjo -n "__fish_banjo_using_subcommand replay" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand replay" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand run" -s c -l config -d 'Configuration directory (banjo.toml, jail.d/, filter.d/)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand run" -l since -d 'First start only (no saved position): read the journal from this time ("2026-11-16 08:00" UTC, or @EPOCH) instead of from now' -r
complete -c banjo -n "__fish_banjo_using_subcommand run" -l state-dir -d 'State directory (default: [daemon] state_dir, /var/lib/banjo)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand run" -l socket -d 'Control socket to bind when not socket-activated (default: [daemon] socket, /run/banjo/banjo.sock)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand run" -l journal-dir -d 'Read journal files from this directory (like journalctl --directory)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand run" -l journal-file -d 'Read this journal file (repeatable; like journalctl --file)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand run" -l dry-run -d 'Decide and report, but touch no firewall'
complete -c banjo -n "__fish_banjo_using_subcommand run" -l journal -d 'Read the system journal'
complete -c banjo -n "__fish_banjo_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c banjo -n "__fish_banjo_using_subcommand run" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand status" -l socket -d 'The daemon\'s control socket' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand status" -l json -d 'Machine-readable output'
complete -c banjo -n "__fish_banjo_using_subcommand status" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand status" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand bans" -l socket -d 'The daemon\'s control socket' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand bans" -l json -d 'Machine-readable output'
complete -c banjo -n "__fish_banjo_using_subcommand bans" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand bans" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand ban" -l time -d 'Ban length ("1h", "1w", "permanent"); default: the jail\'s bantime' -r
complete -c banjo -n "__fish_banjo_using_subcommand ban" -l socket -d 'The daemon\'s control socket' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand ban" -l force -d 'Ban even an address in ignoreip or of this host (a network over one: never)'
complete -c banjo -n "__fish_banjo_using_subcommand ban" -l wide -d 'Allow a very wide network: IPv4 wider than /16, IPv6 wider than /32'
complete -c banjo -n "__fish_banjo_using_subcommand ban" -l json -d 'Machine-readable output'
complete -c banjo -n "__fish_banjo_using_subcommand ban" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand ban" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand unban" -l jail -d 'Only in this jail' -r
complete -c banjo -n "__fish_banjo_using_subcommand unban" -l socket -d 'The daemon\'s control socket' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand unban" -l all -d 'Lift every ban (of --jail, or of all jails)'
complete -c banjo -n "__fish_banjo_using_subcommand unban" -l json -d 'Machine-readable output'
complete -c banjo -n "__fish_banjo_using_subcommand unban" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand unban" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand reload" -l socket -d 'The daemon\'s control socket' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand reload" -l json -d 'Machine-readable output'
complete -c banjo -n "__fish_banjo_using_subcommand reload" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand reload" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand metrics" -l socket -d 'The daemon\'s control socket' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand metrics" -l json -d 'Machine-readable output'
complete -c banjo -n "__fish_banjo_using_subcommand metrics" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand metrics" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand history" -l journal-dir -d 'Read journal files from this directory (like journalctl --directory)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand history" -l journal-file -d 'Read this journal file (repeatable; like journalctl --file)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand history" -l journal -d 'Read the system journal'
complete -c banjo -n "__fish_banjo_using_subcommand history" -l json -d 'Machine-readable output'
complete -c banjo -n "__fish_banjo_using_subcommand history" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand history" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand flush" -l state-dir -d 'The daemon\'s state directory, whose state.db records what banjo made' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand flush" -s h -l help -d 'Print help'
complete -c banjo -n "__fish_banjo_using_subcommand flush" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand doctor" -l since -d 'How far back to look: a duration ("7d", "12h") or a time ("2026-12-01")' -r
complete -c banjo -n "__fish_banjo_using_subcommand doctor" -l journal-dir -d 'Read journal files from this directory (like journalctl --directory)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand doctor" -l journal-file -d 'Read this journal file (repeatable; like journalctl --file)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand doctor" -s c -l config -d 'Configuration directory (banjo.toml, jail.d/, filter.d/)' -r -F
complete -c banjo -n "__fish_banjo_using_subcommand doctor" -l journal -d 'Read the system journal'
complete -c banjo -n "__fish_banjo_using_subcommand doctor" -l json -d 'Machine-readable report'
complete -c banjo -n "__fish_banjo_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c banjo -n "__fish_banjo_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "check" -d 'Validate the configuration and filters; exit 2 on any error'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "test-filter" -d 'Run a filter over log lines or journal entries and report what it matches (banjo\'s fail2ban-regex)'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "import-filter" -d 'Convert fail2ban filter.d/*.conf files into banjo filters for review'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "import-fail2ban" -d 'Move from fail2ban: its jails, filters, actions and active bans into banjo'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "mail-ban" -d 'Mail a ban (an exec hook; import-fail2ban writes it for action_mw/action_mwl)'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "replay" -d 'Run the whole decision pipeline over recorded journal history on a virtual clock, without a firewall: what would this config have banned?'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "run" -d 'The daemon: follow the journal and ban (normally started by systemd)'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "status" -d 'Jails with their failure and ban counts (one jail: its banned list too)'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "bans" -d 'Every active ban'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "ban" -d 'Ban an address (or network) in a jail by hand'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "unban" -d 'Lift a ban by hand'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "reload" -d 'Reload the configuration; a config with errors is refused and the running one stays'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "metrics" -d 'The daemon\'s metrics in Prometheus\'s text format (what GET /metrics serves)'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "history" -d 'Every ban and unban of an address, from the journal'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "flush" -d 'Remove from the kernel every chain, set and nftables table banjo made, and nothing else (it names what it left under banjo\'s names, and why)'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "doctor" -d 'Look at the journal of the last days: enabled jails that read nothing, services whose built-in jail is off, and failures from addresses that no jail took'
complete -c banjo -n "__fish_banjo_using_subcommand help; and not __fish_seen_subcommand_from check test-filter import-filter import-fail2ban mail-ban replay run status bans ban unban reload metrics history flush doctor help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
