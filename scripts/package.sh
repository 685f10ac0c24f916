#!/usr/bin/env bash
# Build banjo's .deb (cargo-deb) and .rpm (cargo-generate-rpm), check what is in them,
# then install the .deb on this machine, try the installed files, and remove and purge
# it again. As root, on Debian/Ubuntu. Safe to run again: every step starts from
# scratch, and the package is purged at the end (also when a check fails).
#
#   sudo bash scripts/package.sh          # build, check, install (here, and in
#                                         # Ubuntu 20.04 / Debian 11 chroots), remove
#   PACKAGE_NO_INSTALL=1 bash scripts/package.sh   # build and check the archives only
#
# Outputs: target/debian/banjo_VERSION-1_ARCH.deb, target/generate-rpm/banjo-VERSION-1.ARCH.rpm.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

pkg_status() { dpkg-query -W -f='${db:Status-Status}' banjo 2>/dev/null || true; }
step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'scripts/package.sh: FAILED: %s\n' "$*" >&2; exit 1; }
t0=$(date +%s)
# apt-get, its output indented without dpkg's progress lines; a clear message if it fails.
apt_run() {
  local out rc=0
  out=$(apt-get "$@" 2>&1) || rc=$?
  grep -v 'Reading database' <<<"$out" | sed 's/^/    /' || true
  [ $rc = 0 ] || fail "apt-get $* exited $rc"
}
lap() { printf '    (%ss so far)\n' "$(($(date +%s) - t0))"; }

install_test=1
[ "${PACKAGE_NO_INSTALL:-}" = 1 ] && install_test=0
if [ "$(id -u)" != 0 ]; then
  echo "scripts/package.sh: run as root (installs build tools and the package)" >&2
  exit 2
fi

# --- Tools --------------------------------------------------------------------------
step "tools"
bash scripts/deps.sh   # compilers, -dev libraries, systemd, iptables, ipset
need=()
for p in dpkg-dev rpm binutils gzip; do   # dpkg-shlibdeps ($auto), rpm -qlp, strip
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq || fail "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || fail "could not install ${need[*]}"
fi
missing_tools=()
command -v cargo-zigbuild >/dev/null 2>&1 || missing_tools+=(cargo-zigbuild@0.24.1)
command -v cargo-deb >/dev/null 2>&1 || missing_tools+=(cargo-deb)
command -v cargo-generate-rpm >/dev/null 2>&1 || missing_tools+=(cargo-generate-rpm)
if [ ${#missing_tools[@]} -gt 0 ]; then
  cargo install --locked "${missing_tools[@]}" || fail "cargo install ${missing_tools[*]} failed"
fi
# zig is cargo-zigbuild's linker: it carries the glibc 2.28 symbol stubs (see Build).
# From PyPI, pinned; cargo-zigbuild finds it as `python3 -m ziglang`.
python3 -m ziglang version >/dev/null 2>&1 || python3 -m pip install --quiet ziglang==0.17.1 || fail "pip install ziglang failed"
echo "    $(cargo deb --version 2>/dev/null || echo cargo-deb ?), $(cargo generate-rpm --version 2>/dev/null || echo cargo-generate-rpm ?), zig $(python3 -m ziglang version)"

# Files the packages take from elsewhere in the tree.
for f in units/banjo.service units/banjo.socket units/banjo.sysusers units/banjo.catalog \
  man/banjo.1 man/banjo.toml.5 completions/banjo.bash completions/_banjo completions/banjo.fish \
  packaging/banjo.toml packaging/copyright; do
  [ -f "$f" ] || fail "$f is missing"
done
lap

# --- Build --------------------------------------------------------------------------
# Against glibc 2.28's symbols (RHEL/Alma/Rocky 8; Ubuntu 20.04 has 2.31, Debian 11
# 2.31), not the build host's 2.36: a binary linked on Debian 12 would need glibc 2.34
# (__libc_start_main@GLIBC_2.34, pthread_*) and start on none of those. zig cc links
# against stubs of the chosen glibc. --allow-shlib-undefined: the libraries we link
# against here (libsystemd, libsqlite3, libpcre2) were built for this host's glibc and
# name its newer symbols; lld would refuse them, but they are never used, since on
# the target its own copies of those libraries are loaded. libsystemd's one symbol
# newer than systemd 239, sd_journal_enumerate_available_data (246), is looked up at
# run time (src/journal/sdjournal.rs).
triple=$(rustc -vV | sed -n 's/^host: //p')
bin="target/$triple/release/banjo"
step "cargo zigbuild --release --target $triple.2.28"
RUSTFLAGS="-C link-arg=-Wl,--allow-shlib-undefined" cargo zigbuild --release --locked --target "$triple.2.28"
lap

step "the binary needs no glibc newer than 2.28 and no libsystemd newer than 239"
# What the dynamic loader will ask of the host: every versioned symbol reference.
versions=$(objdump -T "$bin" | grep -oE '\((GLIBC|LIBSYSTEMD)_[0-9.]+\)' | tr -d '()' | sort -uV)
echo "    $(tr '\n' ' ' <<<"$versions")"
newest_glibc=$(grep '^GLIBC_' <<<"$versions" | sed 's/GLIBC_//' | sort -V | tail -n 1)
[ "$(printf '%s\n2.28\n' "$newest_glibc" | sort -V | tail -n 1)" = 2.28 ] || fail "$bin needs GLIBC_$newest_glibc (> 2.28): $(objdump -T "$bin" | grep -E "GLIBC_$newest_glibc" | head -3)"
newest_sd=$(grep '^LIBSYSTEMD_' <<<"$versions" | sed 's/LIBSYSTEMD_//' | sort -n | tail -n 1)
[ "${newest_sd:-0}" -le 239 ] || fail "$bin needs LIBSYSTEMD_$newest_sd (> 239)"

step "default configuration passes banjo check"
cfg=$(mktemp -d)
trap 'rm -rf "$cfg"' EXIT
mkdir -p "$cfg/jail.d" "$cfg/filter.d"
cp packaging/banjo.toml "$cfg/"
cp packaging/jail.d/* "$cfg/jail.d/"
cp packaging/filter.d/* "$cfg/filter.d/"
out=$("$bin" check --config "$cfg" 2>&1) || { echo "$out"; fail "banjo check --config (packaging/) failed"; }
tail -n 1 <<<"$out"
grep -q ', 0 warnings' <<<"$out" || { echo "$out"; fail "the default configuration gives warnings"; }

# --- .deb -----------------------------------------------------------------------------
step "cargo deb"
rm -f target/debian/banjo_*.deb
# --strip: the release profile keeps line tables (debug = 1); cargo-deb strips its own
# copy, the built binary is left as it is.
# First the same package as revision 2, for the upgrade test (into a temporary
# directory: cargo-deb deletes other versions of the package from target/debian).
mkdir -p "$cfg/upgrade"
cargo deb --no-build --strip --quiet --target "$triple" --deb-revision 2 -o "$cfg/upgrade/" >/dev/null
upgrade_deb=$(echo "$cfg"/upgrade/banjo_*.deb)
[ -f "$upgrade_deb" ] || fail "cargo deb --deb-revision 2 made no package"
cargo deb --no-build --strip --target "$triple" -o target/debian/
debs=(target/debian/banjo_*.deb)
[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || fail "expected one target/debian/banjo_*.deb, found: ${debs[*]}"
deb=${debs[0]}
lap

# --- .rpm -----------------------------------------------------------------------------
step "cargo generate-rpm"
# cargo-generate-rpm neither strips nor compresses man pages: stage both.
stage=target/generate-rpm/stage
rm -rf "$stage" target/generate-rpm/banjo-*.rpm
mkdir -p "$stage/man1" "$stage/man5"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  -o "$stage/banjo" "$bin"
for m in man/*.1; do gzip -9nc "$m" >"$stage/man1/$(basename "$m").gz"; done
for m in man/*.5; do gzip -9nc "$m" >"$stage/man5/$(basename "$m").gz"; done
cargo generate-rpm
rpms=(target/generate-rpm/banjo-*.rpm)
[ ${#rpms[@]} = 1 ] && [ -f "${rpms[0]}" ] || fail "expected one target/generate-rpm/banjo-*.rpm, found: ${rpms[*]}"
rpmf=${rpms[0]}
lap

# --- What is in them ---------------------------------------------------------------------
# Paths both packages must hold; UNITDIR differs (deb: /lib, rpm: /usr/lib), and so does
# zsh's directory.
expected() { # $1 = unit dir, $2 = zsh dir
  echo /usr/bin/banjo
  echo "$1/banjo.service"
  echo "$1/banjo.socket"
  echo /usr/lib/sysusers.d/banjo.conf
  echo /usr/lib/systemd/catalog/banjo.catalog
  echo /etc/banjo/banjo.toml
  echo /etc/banjo/jail.d/00-examples.toml
  echo /etc/banjo/filter.d/example.toml.sample
  for m in man/*.1; do echo "/usr/share/man/man1/$(basename "$m").gz"; done
  for m in man/*.5; do echo "/usr/share/man/man5/$(basename "$m").gz"; done
  echo /usr/share/bash-completion/completions/banjo
  echo "$2/_banjo"
  echo /usr/share/fish/vendor_completions.d/banjo.fish
}
check_list() { # $1 = what, $2 = listing (one path a line), rest: expected paths
  local what=$1 listing=$2 p bad=0
  shift 2
  for p in "$@"; do
    grep -qxF "$p" <<<"$listing" || { echo "    missing from $what: $p" >&2; bad=1; }
  done
  [ $bad = 0 ] || fail "$what lacks files (see above)"
  echo "    $what: all ${#} expected files present"
}

step "contents of $deb"
deb_list=$(dpkg-deb -c "$deb")
echo "$deb_list" | awk '{ printf "    %s %8s %s\n", $1, $3, $6 }'
deb_paths=$(awk '{ print $6 }' <<<"$deb_list" | sed 's|^\.||')
mapfile -t want < <(expected /lib/systemd/system /usr/share/zsh/vendor-completions)
check_list "the .deb" "$deb_paths" "${want[@]}" /usr/share/doc/banjo/copyright
info=$(dpkg-deb -I "$deb")
sed -n '/Package:/,$p' <<<"$info" | grep -v '^  *\.$' | sed 's/^/    /'
conffiles=$(dpkg-deb -I "$deb" conffiles 2>/dev/null || true)
echo "    conffiles:"
sed 's/^/      /' <<<"$conffiles"
check_list "the .deb's conffiles" "$conffiles" \
  /etc/banjo/banjo.toml /etc/banjo/jail.d/00-examples.toml /etc/banjo/filter.d/example.toml.sample
for s in postinst prerm postrm; do
  grep -qw "$s" <<<"$info" || fail "the .deb has no $s"
done
depends=$(dpkg-deb -f "$deb" Depends)
for d in libsystemd0 libsqlite3-0 libpcre2-8-0 iptables ipset; do
  grep -qE "(^|, )$d( |,|$)" <<<"$depends" || fail "the .deb's Depends lacks $d: $depends"
done
# Depends is written by hand (see Cargo.toml for why not $auto): every library
# dpkg-shlibdeps finds must be there, at least as strict, except libc6's minimum,
# which comes from the symbol check above.
mkdir -p "$cfg/shl/debian"
printf 'Source: banjo\n\nPackage: banjo\nArchitecture: any\n' >"$cfg/shl/debian/control"
auto=$(cd "$cfg/shl" && dpkg-shlibdeps -O "$OLDPWD/$bin" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$auto" ] || fail "dpkg-shlibdeps found no dependencies for $bin"
echo "    dpkg-shlibdeps: $auto"
while IFS= read -r dep; do
  name=${dep%% *}
  [ "$name" = libc6 ] && continue
  grep -qF "$dep" <<<"$depends" || fail "the .deb's Depends ($depends) lacks \"$dep\" (dpkg-shlibdeps); update depends in Cargo.toml"
done < <(sed 's/, /\n/g' <<<"$auto")
grep -qF 'libc6 (>= 2.28)' <<<"$depends" || fail "the .deb's Depends must say libc6 (>= 2.28), the baseline the binary is linked for"
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/bin/banjo >"$cfg/banjo.deb-bin"
for b in "$cfg/banjo.deb-bin" "$stage/banjo"; do
  # .debug_gdb_scripts is a loaded section rustc adds; strip keeps it.
  sections=$(readelf -S --wide "$b")
  ! grep -qE '\.debug_(info|line|str|abbrev) ' <<<"$sections" || fail "/usr/bin/banjo in a package still has debug sections ($b)"
done
echo "    /usr/bin/banjo stripped: $(stat -c %s "$cfg/banjo.deb-bin") bytes in the .deb ($bin: $(stat -c %s "$bin"))"
if command -v lintian >/dev/null 2>&1; then
  # Optional (not installed by this script): Debian policy checks. initial-upload-closes-no-bugs
  # is about Debian's archive (an ITP bug), not this package.
  rc=0
  lint=$(lintian --fail-on error --suppress-tags initial-upload-closes-no-bugs "$deb" 2>&1) || rc=$?
  lint=$(grep -v 'root privileges' <<<"$lint" || true)
  echo "    lintian: ${lint:-clean}"
  [ $rc = 0 ] || fail "lintian reports errors"
fi

step "contents of $rpmf"
rpm_list=$(rpm -qlp "$rpmf" 2>/dev/null)
rpm -qlvp "$rpmf" 2>/dev/null | awk '{ printf "    %s %8s %s\n", $1, $5, $9 }'
mapfile -t want < <(expected /usr/lib/systemd/system /usr/share/zsh/site-functions)
check_list "the .rpm" "$rpm_list" "${want[@]}" /usr/share/licenses/banjo/copyright
rpm -qip "$rpmf" 2>/dev/null | sed -n '1,/^Description/p' | sed 's/^/    /'
echo "    config files (%config(noreplace)):"
rpm_cfg=$(rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' "$rpmf" 2>/dev/null | awk '$2 ~ /c/ && $2 ~ /n/ { print $1 }')
sed 's/^/      /' <<<"$rpm_cfg"
check_list "the .rpm's %config(noreplace) files" "$rpm_cfg" \
  /etc/banjo/banjo.toml /etc/banjo/jail.d/00-examples.toml /etc/banjo/filter.d/example.toml.sample
requires=$(rpm -qp --requires "$rpmf" 2>/dev/null)
echo "    requires: $(tr '\n' ' ' <<<"$requires")"
for d in systemd-libs iptables ipset sqlite-libs pcre2; do
  grep -qx "$d" <<<"$requires" || fail "the .rpm lacks Requires: $d"
done
scripts=$(rpm -qp --scripts "$rpmf" 2>/dev/null)
for s in 'postinstall scriptlet' 'preuninstall scriptlet' 'postuninstall scriptlet'; do
  grep -q "$s" <<<"$scripts" || fail "the .rpm has no $s"
done
echo "    scriptlets: %post, %preun, %postun"
# rpm itself must accept the package: unpack it into an empty root (no dependencies
# or scriptlets there) and run the binary from it.
rroot="$cfg/rpmroot"
mkdir -p "$rroot"
rpm --root="$rroot" --initdb
# (Debian's rpm warns on stderr that alien is the way to install RPMs here: hidden.)
rpm --root="$rroot" --nodeps --noscripts --quiet -i "$rpmf" 2>"$cfg/rpm.err" || { cat "$cfg/rpm.err" >&2; fail "rpm -i --root (payload) failed"; }
"$rroot/usr/bin/banjo" --version >/dev/null || fail "the .rpm's /usr/bin/banjo does not run"
[ -f "$rroot/etc/banjo/banjo.toml" ] || fail "the .rpm did not unpack /etc/banjo/banjo.toml"
echo "    rpm -i --root=TMP --nodeps --noscripts: unpacks, /usr/bin/banjo runs"
lap

if [ $install_test = 0 ]; then
  step "done (PACKAGE_NO_INSTALL=1: not installed); $(($(date +%s) - t0))s"
  ls -l "$deb" "$rpmf"
  exit 0
fi

# --- Older systems ---------------------------------------------------------------------------
step "the .deb on Ubuntu 20.04 and Debian 11 (debootstrap chroots)"
bash scripts/old-hosts.sh "$deb" || fail "the .deb does not work on an older system (see above)"
lap

# --- Install, try, remove ------------------------------------------------------------------
step "install $deb"
if [ "$(pkg_status)" = installed ]; then
  fail "banjo is already installed here; this test would purge it (and /etc/banjo). Run 'apt-get purge banjo' first if that is fine."
fi
for d in /etc/banjo /var/lib/banjo; do
  # Left by a removed-but-not-purged banjo: dpkg still knows its conffiles, fine.
  if [ -e "$d" ] && [ "$(pkg_status)" != config-files ]; then
    fail "$d exists and belongs to no banjo package; this test would overwrite and then delete it. Move it away first."
  fi
done
purged=0
cleanup() {
  rm -rf "$cfg"
  if [ $purged = 0 ] && [ -n "$(pkg_status)" ] && [ "$(pkg_status)" != not-installed ]; then
    echo "scripts/package.sh: purging the test installation" >&2
    apt-get purge -y -qq banjo >/dev/null 2>&1 || dpkg --purge banjo >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
had_group=0
getent group banjo >/dev/null && had_group=1
apt_run install -y --no-install-recommends "./$deb"
[ "$(pkg_status)" = installed ] || fail "banjo did not install"
getent group banjo >/dev/null || fail "postinst did not create the group banjo"
for f in /usr/bin/banjo /lib/systemd/system/banjo.service /etc/banjo/banjo.toml \
  /usr/lib/systemd/catalog/banjo.catalog /usr/share/man/man5/banjo.toml.5.gz; do
  [ -f "$f" ] || fail "$f is not installed"
done
[ -d /etc/banjo/jail.d ] && [ -d /etc/banjo/filter.d ] || fail "/etc/banjo/jail.d or filter.d missing"
[ -L /etc/systemd/system/multi-user.target.wants/banjo.service ] \
  && [ -L /etc/systemd/system/sockets.target.wants/banjo.socket ] \
  || fail "postinst did not enable banjo.service and banjo.socket"
echo "    group banjo: $(getent group banjo); units enabled (symlinks in /etc/systemd/system)"
if [ ! -d /run/systemd/system ]; then
  echo "    no running systemd here: postinst skipped daemon-reload and start"
fi
lap

step "/usr/bin/banjo --version"
/usr/bin/banjo --version || fail "/usr/bin/banjo --version"

step "/usr/bin/banjo check (reads /etc/banjo)"
rc=0
out=$(/usr/bin/banjo check 2>&1) || rc=$?
[ $rc = 0 ] || { echo "$out"; fail "/usr/bin/banjo check exited $rc"; }
grep -E '^(Configuration read from:|  /etc/banjo)' <<<"$out" | sed 's/^/    /'
tail -n 1 <<<"$out" | sed 's/^/    /'
grep -q '^  /etc/banjo/banjo.toml' <<<"$out" || fail "banjo check did not read /etc/banjo/banjo.toml"
grep -q ', 0 warnings' <<<"$out" || { echo "$out"; fail "banjo check warns about the installed configuration"; }

step "journal catalog"
# (Into a variable first: grep -q would end the pipe early, and pipefail report SIGPIPE.)
catalog=$(journalctl --list-catalog 2>/dev/null || true)
if grep -q '^4d654fc42ce94fee9c9d8899ca99f1bc ' <<<"$catalog"; then
  echo "    journalctl --list-catalog knows banjo's $(grep -c ' banjo: ' <<<"$catalog") entries:"
  grep ' banjo: ' <<<"$catalog" | sed 's/^/      /'
else
  fail "postinst's journalctl --update-catalog did not add banjo's entries"
fi

step "systemd-analyze verify (installed units)"
set +e
verify=$(systemd-analyze verify /lib/systemd/system/banjo.service /lib/systemd/system/banjo.socket 2>&1)
vrc=$?
set -e
if [ -n "$verify" ]; then sed 's/^/    /' <<<"$verify"; else echo "    no warnings"; fi
[ $vrc = 0 ] || fail "systemd-analyze verify exited $vrc"

step "upgrade to $(basename "$upgrade_deb") (edited conffile, state in /var/lib/banjo)"
echo '# edited by scripts/package.sh' >>/etc/banjo/banjo.toml
mkdir -p /var/lib/banjo
echo "scripts/package.sh upgrade test" >/var/lib/banjo/package-test-marker
apt_run install -y --no-install-recommends -o Dpkg::Options::=--force-confold "$upgrade_deb"
[ "$(dpkg-query -W -f='${Version}' banjo)" = "$(dpkg-deb -f "$upgrade_deb" Version)" ] || fail "the upgrade did not install"
[ "$(tail -n 1 /etc/banjo/banjo.toml)" = '# edited by scripts/package.sh' ] || fail "the upgrade replaced the edited /etc/banjo/banjo.toml"
[ -f /var/lib/banjo/package-test-marker ] || fail "the upgrade touched /var/lib/banjo"
/usr/bin/banjo check >/dev/null 2>&1 || fail "banjo check fails after the upgrade"
echo "    upgraded to $(dpkg-query -W -f='${Version}' banjo); the edit and /var/lib/banjo are kept; banjo check passes"

step "apt-get remove banjo"
# prerm must run `banjo flush`. So that it has something to remove without touching
# this host's firewall, remove inside a fresh network namespace holding a jail's
# chains and sets as banjo makes them (jump from INPUT, REJECT on set match): the
# IPv4 set as an older banjo made it (hash:ip), which flush removes as its own, the
# IPv6 set as today's. A set under banjo's name that banjo never makes (another
# type) is foreign: flush must leave it, say so, and still let the removal finish.
remove_in_netns() {
  unshare --net bash -euo pipefail -c '
    ipset create banjo-pkgtest-4 hash:ip family inet timeout 0 maxelem 1048576
    ipset create banjo-pkgtest-6 hash:net family inet6 timeout 0 maxelem 1048576
    ipset create banjo-foreign-4 hash:ip,port timeout 0
    for fam in 4 6; do
      ipt=iptables; [ $fam = 6 ] && ipt=ip6tables
      $ipt -N banjo-pkgtest
      $ipt -A banjo-pkgtest -m set --match-set banjo-pkgtest-$fam src -j REJECT
      $ipt -I INPUT -p tcp -m multiport --dports 22 -j banjo-pkgtest
    done
    before=$( { iptables -S; ip6tables -S; ipset list -n; } | grep -c banjo || true)
    echo "    in a fresh network namespace: $before banjo rules, chains and sets before removal"
    rc=0
    out=$(apt-get remove -y banjo 2>&1) || rc=$?
    grep -v "Reading database" <<<"$out" | sed "s/^/    /" || true
    [ $rc = 0 ] || { echo "apt-get remove -y banjo exited $rc" >&2; exit 3; }
    ipset list -n | grep -qx banjo-foreign-4 || { echo "the foreign set banjo-foreign-4 was removed" >&2; exit 1; }
    ipset destroy banjo-foreign-4
    left=$( { iptables -S; ip6tables -S; ipset list -n; } | grep banjo || true)
    if [ -n "$left" ]; then
      echo "$left" | sed "s/^/      left: /" >&2
      exit 1
    fi
    echo "    prerm'"'"'s banjo flush removed them all and left the foreign set"
  '
}
if unshare --net true 2>/dev/null && command -v ipset >/dev/null; then
  rc=0
  remove_in_netns || rc=$?
  [ $rc != 3 ] || fail "apt-get remove failed"
  [ $rc = 0 ] || fail "removing banjo left banjo chains or sets behind (prerm's banjo flush)"
else
  echo "    (no network namespaces here: removing in this one; nothing for banjo flush to do)"
  apt_run remove -y banjo
fi
[ ! -e /usr/bin/banjo ] || fail "/usr/bin/banjo is still there after remove"
[ -f /etc/banjo/banjo.toml ] || fail "remove (not purge) must keep /etc/banjo/banjo.toml"
n=$(iptables -S 2>/dev/null | grep -c banjo || true)
[ "$n" = 0 ] || fail "$n banjo rules/chains left in iptables after remove"
n=$(ip6tables -S 2>/dev/null | grep -c banjo || true)
[ "$n" = 0 ] || fail "$n banjo rules/chains left in ip6tables after remove"
n=$(ipset list -n 2>/dev/null | grep -c '^banjo-' || true)
[ "$n" = 0 ] || fail "$n banjo ipsets left after remove"
echo "    /usr/bin/banjo gone, conffiles kept, no banjo chains or sets"

step "apt-get purge banjo"
apt_run purge -y banjo
purged=1
case "$(pkg_status)" in "" | not-installed) ;; *) fail "dpkg still knows banjo after purge: $(pkg_status)" ;; esac
for d in /etc/banjo /var/lib/banjo; do
  [ ! -e "$d" ] || fail "$d still exists after purge"
done
for l in /etc/systemd/system/multi-user.target.wants/banjo.service /etc/systemd/system/sockets.target.wants/banjo.socket; do
  [ ! -L "$l" ] || fail "$l still exists after purge"
done
catalog=$(journalctl --list-catalog 2>/dev/null || true)
if grep -q '^4d654fc42ce94fee9c9d8899ca99f1bc ' <<<"$catalog"; then
  fail "banjo's catalog entries are still in the catalog database after purge"
fi
if [ $had_group = 0 ] && getent group banjo >/dev/null; then
  # The package leaves its system group behind, as Debian does; this test removes
  # what it created, so the machine is as it was.
  groupdel banjo
  echo "    purge kept the system group banjo (Debian practice); removed it, as this test created it"
fi
echo "    /etc/banjo, /var/lib/banjo and the enablement symlinks are gone"

step "all checks passed in $(($(date +%s) - t0))s"
ls -l "$deb" "$rpmf"
