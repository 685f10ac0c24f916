//! Filters compiled into the binary. A `filter.d/NAME.toml` in the config directory
//! takes precedence over the built-in of the same name.

const BUILTIN: &[(&str, &str)] = &[
    ("sshd", include_str!("builtin/sshd.toml")),
    ("recidive", include_str!("builtin/recidive.toml")),
    ("postfix", include_str!("builtin/postfix.toml")),
    ("postfix-sasl", include_str!("builtin/postfix-sasl.toml")),
    ("dovecot", include_str!("builtin/dovecot.toml")),
    ("proftpd", include_str!("builtin/proftpd.toml")),
    // ssh and ftp (filters-ssh)
    ("dropbear", include_str!("builtin/dropbear.toml")),
    ("selinux-ssh", include_str!("builtin/selinux-ssh.toml")),
    ("vsftpd", include_str!("builtin/vsftpd.toml")),
    ("pure-ftpd", include_str!("builtin/pure-ftpd.toml")),
    ("apache-auth", include_str!("builtin/apache-auth.toml")),
    (
        "nginx-http-auth",
        include_str!("builtin/nginx-http-auth.toml"),
    ),
    (
        "nginx-limit-req",
        include_str!("builtin/nginx-limit-req.toml"),
    ),
    ("portscan", include_str!("builtin/portscan.toml")),
    (
        "apache-badbots",
        include_str!("builtin/apache-badbots.toml"),
    ),
    (
        "apache-noscript",
        include_str!("builtin/apache-noscript.toml"),
    ),
    (
        "apache-overflows",
        include_str!("builtin/apache-overflows.toml"),
    ),
    ("apache-nohome", include_str!("builtin/apache-nohome.toml")),
    (
        "apache-botsearch",
        include_str!("builtin/apache-botsearch.toml"),
    ),
    (
        "apache-shellshock",
        include_str!("builtin/apache-shellshock.toml"),
    ),
    (
        "apache-modsecurity",
        include_str!("builtin/apache-modsecurity.toml"),
    ),
    (
        "nginx-botsearch",
        include_str!("builtin/nginx-botsearch.toml"),
    ),
    (
        "nginx-bad-request",
        include_str!("builtin/nginx-bad-request.toml"),
    ),
    (
        "phpmyadmin-syslog",
        include_str!("builtin/phpmyadmin-syslog.toml"),
    ),
    ("gitlab", include_str!("builtin/gitlab.toml")),
    ("grafana", include_str!("builtin/grafana.toml")),
    ("squid", include_str!("builtin/squid.toml")),
    ("mysqld-auth", include_str!("builtin/mysqld-auth.toml")),
    ("named-refused", include_str!("builtin/named-refused.toml")),
    ("asterisk", include_str!("builtin/asterisk.toml")),
    ("freeswitch", include_str!("builtin/freeswitch.toml")),
    ("openvpn", include_str!("builtin/openvpn.toml")),
    ("monit", include_str!("builtin/monit.toml")),
    // Mail (filters-mail, #19).
    ("exim", include_str!("builtin/exim.toml")),
    ("exim-spam", include_str!("builtin/exim-spam.toml")),
    (
        "roundcube-auth",
        include_str!("builtin/roundcube-auth.toml"),
    ),
    ("courier-auth", include_str!("builtin/courier-auth.toml")),
    ("courier-smtp", include_str!("builtin/courier-smtp.toml")),
    ("cyrus-imap", include_str!("builtin/cyrus-imap.toml")),
    ("sieve", include_str!("builtin/sieve.toml")),
    ("sendmail-auth", include_str!("builtin/sendmail-auth.toml")),
    (
        "sendmail-reject",
        include_str!("builtin/sendmail-reject.toml"),
    ),
];

pub fn get(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}
