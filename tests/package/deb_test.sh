#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package of a build tree, unpacked into an empty root and checked there (tests/CMakeLists.txt
# runs each step as a ctest case). Settings come from the environment:
#   WORK        a folder of the test's own; `build` empties it, puts the .deb in it and unpacks it to WORK/root
#   build:      CPACK (the cpack program), CPACK_CONFIG (the build tree's CPackConfig.cmake)
#   contents:   VERSION, FILES (paths the root must hold, under usr/), DEPENDS (package names the Depends
#               field must name), CMAKE (the cmake program), VERSION_FILE (metarmConfigVersion.cmake, under
#               usr/), VERSION_CHECK (tests/package/version_file.cmake)
#   pkgconfig:  VERSION, PKGCONFIG_DIR (of metarm.pc, under usr/), CONSUMER (tests/consumer_pkgconfig), CXX
set -euo pipefail
mode=${1:?usage: deb_test.sh build|contents|pkgconfig}
root="$WORK/root"
fail() {
  echo "deb_test $mode: $*" >&2
  exit 1
}

case "$mode" in
build)
  rm -rf "$WORK"
  mkdir -p "$WORK"
  if ! "$CPACK" -G DEB --config "$CPACK_CONFIG" -B "$WORK/cpack" >"$WORK/cpack.log" 2>&1; then
    cat "$WORK/cpack.log" >&2
    fail "cpack failed"
  fi
  debs=("$WORK"/cpack/*.deb)
  [ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one .deb in $WORK/cpack, found: ${debs[*]}"
  dpkg-deb -x "${debs[0]}" "$root"
  echo "${debs[0]}" >"$WORK/deb"
  echo "deb_test build: ${debs[0]} ($(stat -c %s "${debs[0]}") bytes), unpacked into $root"
  ;;

contents)
  deb=$(cat "$WORK/deb")
  dpkg-deb -I "$deb"
  field() { dpkg-deb -f "$deb" "$1"; }
  [ "$(field Package)" = metarm-dev ] || fail "Package is '$(field Package)', not metarm-dev"
  [ "$(field Version)" = "$VERSION" ] || fail "Version is '$(field Version)', not $VERSION"
  arch=$(dpkg --print-architecture)
  [ "$(field Architecture)" = "$arch" ] || fail "Architecture is '$(field Architecture)', not $arch"
  for name in Maintainer Section Description; do
    [ -n "$(field "$name")" ] || fail "no $name field"
  done
  depends=$(field Depends)
  # The package names alone, one a line: "libgomp1 (>= 6), a | b" gives libgomp1, a and b.
  depends_names=$(tr ',|' '\n\n' <<<"$depends" | sed -E 's/\(.*\)//; s/^ +//; s/ +$//')
  for name in $DEPENDS; do
    grep -Fxq "$name" <<<"$depends_names" || fail "Depends does not name $name: $depends"
  done
  for file in $FILES; do
    [ -f "$root/usr/$file" ] || fail "the package has no /usr/$file"
  done
  # The programs run from the unpacked root, on the shared libraries the Depends field names.
  out=$("$root/usr/bin/metarm" version) || fail "metarm version failed"
  grep -q "^metarm $VERSION\$" <<<"$out" || fail "metarm version printed: $out"
  "$root/usr/bin/metarm-simulate" --help | grep -q -- "--seeds" || fail "metarm-simulate --help printed no usage"
  "$CMAKE" -DVERSION_FILE="$root/usr/$VERSION_FILE" -DVERSION="$VERSION" -P "$VERSION_CHECK"
  echo "deb_test contents: $(dpkg-deb -c "$deb" | wc -l) entries; Depends: $depends"
  echo "deb_test contents: $out"
  ;;

pkgconfig)
  export PKG_CONFIG_PATH="$root/usr/$PKGCONFIG_DIR"
  for module in metarm metarm-io; do
    found=$(pkg-config --modversion "$module") || fail "pkg-config finds no $module in $PKG_CONFIG_PATH"
    [ "$found" = "$VERSION" ] || fail "$module has version $found, not $VERSION"
  done
  # The include folder must be the unpacked root's, found from where metarm.pc lies.
  cflags=$(pkg-config --cflags metarm)
  include_ok=no
  for flag in $cflags; do
    case "$flag" in -I*) [ "$(realpath -m "${flag#-I}")" = "$(realpath "$root/usr/include")" ] && include_ok=yes ;; esac
  done
  [ "$include_ok" = yes ] || fail "no -I of $root/usr/include in: $cflags"
  echo "deb_test pkgconfig: pkg-config --cflags --libs metarm: $(pkg-config --cflags --libs metarm)"
  make --no-print-directory -C "$CONSUMER" BUILD_DIR="$WORK/consumer-pkgconfig" CXX="$CXX"
  "$WORK/consumer-pkgconfig/metarm_pkgconfig_consumer" "$CONSUMER/main.cpp"
  ;;

*)
  fail "unknown mode"
  ;;
esac
