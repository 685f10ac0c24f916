//! Filters compiled into the binary. A `filter.d/NAME.toml` in the config directory
//! takes precedence over the built-in of the same name.

const BUILTIN: &[(&str, &str)] = &[
    ("sshd", include_str!("builtin/sshd.toml")),
    ("recidive", include_str!("builtin/recidive.toml")),
];

pub fn get(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}
