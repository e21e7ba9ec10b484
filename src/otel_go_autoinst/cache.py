"""What the tool keeps between runs, and why none of it is trusted blindly.

Two things live under $XDG_CACHE_HOME/otel-go-autoinst (~/.cache/otel-go-autoinst):

- modules/<escaped module>@<escaped version>: a copy of a dependency module that has targets (the
  go command refuses overlays of files in the module cache, so the private go.work replaces the
  module with this copy). Before every use the copy's h1: hash is computed exactly as Go computes
  it (golang.org/x/mod/sumdb/dirhash, Hash1) and compared with what go.sum says, or failing that
  with the hash the go command recorded when it downloaded the module. A copy that does not match
  is thrown away and made again from the module cache, and the new copy is checked too.
- verdicts/<key>.json: the compiler's escape verdicts on the hooks for one build input (the key
  hashes everything they depend on). Each entry carries its key and an HMAC-SHA256 over (key,
  verdicts) under a per-user secret kept beside it; an entry whose shape, key or MAC does not
  match is not used, and the compiler is asked again.
- lists/<slot>, parsed/<slot>: what a rerun reuses (reuse.py), signed the same way
  (load_signed/store_signed): one entry per slot, replaced when its key changes.

Nothing grows for ever: as Go trims its build cache, an entry (a module copy included) not used
for five days is removed, checked at most once a day (trim).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import UserError

Verdicts = dict[tuple[str, str], list[bool]]

_FORMAT = 1
_SECRET_NAME = "secret"
_SECRET_SIZE = 32
_KEY = re.compile(r"[0-9A-Za-z_-]{1,128}")


def cache_dir(name: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "otel-go-autoinst" / name


def _mkdirs(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


# -- module copies -------------------------------------------------------------------------------


def escape_module_path(path: str) -> str:
    """The module cache's spelling of a module path or version: an upper-case letter becomes "!"
    and the letter in lower case (golang.org/x/mod/module.EscapePath)."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


def dirhash_h1(directory: Path, prefix: str) -> str | None:
    """Go's h1: hash of the files under `directory`, each named "<prefix>/<relative path>": the
    sorted lines "<sha256 hex>  <name>\\n", hashed again with SHA-256, in base64.

    None when the tree holds something a module extracted by the go command never does (a
    symbolic link, a device, a name with a newline): such a tree matches no go.sum line."""
    try:
        return _dirhash_h1(directory, prefix)
    except OSError:  # unreadable: no tree go.sum vouches for
        return None


def _raise(error: OSError) -> None:
    raise error


def _dirhash_h1(directory: Path, prefix: str) -> str | None:
    names: list[tuple[str, Path]] = []
    for root, dirs, files in os.walk(directory, onerror=_raise):
        base = Path(root)
        for entry in [*dirs, *files]:
            mode = os.lstat(base / entry).st_mode
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode) or "\n" in entry:
                return None
            rel = (base / entry).relative_to(directory).as_posix()
            names.append((f"{prefix}/{rel}", base / entry))
    summary = hashlib.sha256()
    # Go sorts the names as byte strings; code-point order of str is the same order for UTF-8.
    for name, path in sorted(names):
        file_hash = hashlib.sha256()
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                file_hash.update(block)
        summary.update(f"{file_hash.hexdigest()}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


def go_sum_files(
    gowork: Path, module_dirs: Iterable[Path], workspace_dir: Path | None
) -> list[Path]:
    """The go.sum files the go command reads for a build through the private `gowork`: every
    module it uses (the user's and the rules module) and the go.work.sum beside it and beside
    the user's go.work."""
    used = re.findall(r"^\t(\S.*)$", gowork.read_text(encoding="utf-8"), re.M)
    dirs = [*module_dirs, *(Path(d) for d in used)]
    files = [d / "go.sum" for d in dirs] + [gowork.parent / "go.work.sum"]
    if workspace_dir is not None:
        files.append(workspace_dir / "go.work.sum")
    return files


def replaced_modules(files: Iterable[Path]) -> set[str]:
    """The module paths that the replace directives of these go.mod / go.work files replace."""
    found: set[str] = set()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        in_block = False
        for raw in text.splitlines():
            line = raw.split("//")[0].strip()
            if in_block:
                if line == ")":
                    in_block = False
                    continue
                entry = line
            elif re.match(r"replace\s*\(", line):
                in_block = True
                continue
            elif re.match(r"replace\s", line):
                entry = line[len("replace") :]
            else:
                continue
            left = entry.split("=>")[0].split()
            if "=>" in entry and left:
                found.add(left[0].strip('"`'))
    return found


def go_sum_hashes(module: str, version: str, sum_files: Iterable[Path]) -> set[str]:
    """The h1: hashes that the go.sum (and go.work.sum) files give for the module's tree."""
    found: set[str] = set()
    for path in sum_files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for line in text.splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[:2] == [module, version] and fields[2].startswith("h1:"):
                found.add(fields[2])
    return found


def downloaded_hash(gomodcache: Path, module: str, version: str) -> str | None:
    """The hash the go command checked when it downloaded the module (GOMODCACHE's .ziphash)."""
    ziphash = (
        gomodcache / "cache" / "download" / escape_module_path(module) / "@v"
        / f"{escape_module_path(version)}.ziphash"
    )  # fmt: skip
    try:
        value = ziphash.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return value if value.startswith("h1:") else None


def expected_hashes(
    module: str, version: str, source: Path, gomodcache: Path, sum_files: Iterable[Path]
) -> set[str]:
    """What a copy of module@version must hash to: go.sum's lines for it; else what the go command
    verified at download; else (neither is there) the module cache's own tree."""
    expected = go_sum_hashes(module, version, sum_files)
    if not expected:
        downloaded = downloaded_hash(gomodcache, module, version)
        if downloaded is not None:
            expected = {downloaded}
    if not expected:
        own = dirhash_h1(source, f"{module}@{version}")
        if own is not None:
            expected = {own}
    return expected


def copy_name(module: str, version: str) -> str:
    """Where a module's copy lives under the copies' directory: escaped as in the module cache,
    so two paths that differ only in case never share a copy on a case-insensitive disk."""
    return f"{escape_module_path(module)}@{escape_module_path(version)}"


def verified_copy(source: Path, copy: Path, module: str, version: str, expected: set[str]) -> Path:
    """`copy` of the module directory `source`, checked against `expected` (h1: hashes): an
    existing copy that matches is used as it is; one that does not is thrown away and the
    module is copied again. Raises UserError when the module cache itself does not match, and
    OSError when the copy cannot be made where asked."""
    prefix = f"{module}@{version}"
    if copy.exists() or copy.is_symlink():
        if not copy.is_symlink() and copy.is_dir() and dirhash_h1(copy, prefix) in expected:
            _used(copy)
            return copy
        _discard(copy)
    for _ in range(3):  # another run may put its own copy in place first: check that one too
        staging = Path(tempfile.mkdtemp(prefix=".copy-", dir=_mkdirs(copy.parent)))
        try:
            shutil.copytree(source, staging / "m", copy_function=shutil.copyfile)
            # copytree gives directories the module cache's read-only modes; a directory moved
            # to another parent must be writable (its ".." changes), and a bad copy removable.
            _open_dirs(staging / "m")
            got = dirhash_h1(staging / "m", prefix)
            if got not in expected:
                raise UserError(
                    f"The module cache's copy of {prefix} ({source}) does not match go.sum "
                    f"(expected {' or '.join(sorted(expected)) or 'a go.sum line'}, found "
                    f"{got or 'files a module never holds'}): run `go mod verify`, then "
                    "`go clean -modcache` to download it again."
                )
            try:
                (staging / "m").rename(copy)
                os.utime(copy)  # copytree gave it the module cache's (old) times
                return copy
            except OSError:  # another run made it first
                pass
        finally:
            _remove_tree(staging)
        if copy.is_dir() and not copy.is_symlink() and dirhash_h1(copy, prefix) in expected:
            _used(copy)
            return copy
        _discard(copy)
    raise OSError(f"could not put a verified copy of {prefix} at {copy}")


def _discard(path: Path) -> None:
    """Take `path` out of the way at once (a rename), then remove it."""
    trash = path.parent / f".trash-{secrets.token_hex(8)}"
    try:
        path.rename(trash)
    except FileNotFoundError:  # another run took it away already
        return
    _remove_tree(trash)


def _open_dirs(path: Path) -> None:
    """Make the directories of a tree writable by us, never following a symbolic link out of it."""
    path.chmod(0o755)
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            child = Path(root) / name
            if not child.is_symlink():
                child.chmod(0o755)


def _remove_tree(path: Path) -> None:
    """Remove a tree whose directories may be read-only (the module cache's are)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    try:
        _open_dirs(path)
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)


# -- escape verdicts -----------------------------------------------------------------------------


def _secret(create: bool) -> bytes | None:
    """The per-user secret of the verdict MACs, made once, 0600. It appears whole (written aside,
    then hard-linked into place, which fails if another run was first) or, where hard links are
    not to be had, through O_EXCL; two runs that race read one file. None when there is none to be
    had or it is not plainly ours."""
    path = cache_dir(_SECRET_NAME)
    for _ in range(50):
        state, value = _read_secret(path)
        if state == "sound":
            return value
        if not create or state == "unreadable":
            return None
        if state == "being written":
            time.sleep(0.01)
            continue
        if state == "unsound":
            # Damaged, someone else's, readable by others, a link: entries made under it are not
            # trusted. Replace it (only a recomputation can follow).
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                return None
            continue
        try:
            made = _make_secret(path)
        except FileExistsError:  # another run was first: read theirs
            continue
        except OSError:
            return None
        return made
    return None


def _make_secret(path: Path) -> bytes:
    value = secrets.token_bytes(_SECRET_SIZE)
    fd, aside = tempfile.mkstemp(prefix=".secret-", dir=_mkdirs(path.parent))  # 0600
    try:
        try:
            os.write(fd, value)
        finally:
            os.close(fd)
        try:
            os.link(aside, path)
            return value
        except FileExistsError:
            raise
        except OSError:  # no hard links here
            pass
    finally:
        Path(aside).unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        os.write(fd, value)
    finally:
        os.close(fd)
    return value


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _read_secret(path: Path) -> tuple[str, bytes]:
    """("absent" | "sound" | "unsound" | "being written" | "unreadable", the bytes)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW)
    except FileNotFoundError:
        return "absent", b""
    except OSError:
        return ("unsound" if path.is_symlink() else "unreadable"), b""
    try:
        info = os.fstat(fd)
        value = os.read(fd, _SECRET_SIZE + 1) if stat.S_ISREG(info.st_mode) else b""
    finally:
        os.close(fd)
    if (
        stat.S_ISREG(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & 0o077
        and len(value) == _SECRET_SIZE
    ):
        return "sound", value
    if stat.S_ISREG(info.st_mode) and len(value) < _SECRET_SIZE and time.time() - info.st_mtime < 5:
        return "being written", value
    return "unsound", value


def _mac(secret: bytes, key: str, entries: list[list[object]]) -> str:
    message = json.dumps([_FORMAT, key, entries], separators=(",", ":"), sort_keys=True)
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def _entries(verdicts: Mapping[tuple[str, str], list[bool]]) -> list[list[object]]:
    return [[p, n, [bool(b) for b in v]] for (p, n), v in sorted(verdicts.items())]


def load_verdicts(key: str, kind: str = "verdicts") -> Verdicts | None:
    """The verdicts kept for `key`, or None (absent, damaged, made for another key, or not made by
    this user's runs): then the compiler is asked again."""
    if not _KEY.fullmatch(key):
        return None
    secret = _secret(create=False)
    if secret is None:
        return None
    path = cache_dir(kind) / f"{key}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (
        isinstance(raw, dict)
        and set(raw) == {"format", "key", "verdicts", "mac"}
        and raw["format"] == _FORMAT
        and raw["key"] == key
        and isinstance(raw["mac"], str)
        and isinstance(raw["verdicts"], list)
    ):
        return None
    verdicts: Verdicts = {}
    for entry in raw["verdicts"]:
        if not (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], str)
            and isinstance(entry[1], str)
            and isinstance(entry[2], list)
            and all(isinstance(b, bool) for b in entry[2])
            and (entry[0], entry[1]) not in verdicts
        ):
            return None
        verdicts[(entry[0], entry[1])] = list(entry[2])
    if not hmac.compare_digest(raw["mac"], _mac(secret, key, _entries(verdicts))):
        return None
    _used(path)
    return verdicts


def store_verdicts(
    key: str, verdicts: Mapping[tuple[str, str], list[bool]], kind: str = "verdicts"
) -> None:
    """Keep the verdicts for the next run; without a writable cache, the next run asks again."""
    if not _KEY.fullmatch(key):
        return
    try:
        secret = _secret(create=True)
        if secret is None:
            return
        directory = _mkdirs(cache_dir(kind))
        entries = _entries(verdicts)
        record = {"format": _FORMAT, "key": key, "verdicts": entries,
                  "mac": _mac(secret, key, entries)}  # fmt: skip
        _write_atomically(directory, f"{key}.json", json.dumps(record).encode())
    except OSError:
        pass


def _write_atomically(directory: Path, name: str, data: bytes) -> None:
    """Readers see the old entry or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(tmp, directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- signed entries ------------------------------------------------------------------------------

_SIGNED_MAGIC = b"otel-go-autoinst signed 1\n"


def _signed_mac(secret: bytes, kind: str, key: str, payload: bytes) -> bytes:
    return hmac.new(secret, f"{kind}\0{key}\0".encode() + payload, hashlib.sha256).digest()


def load_signed(kind: str, slot: str, key: str) -> bytes | None:
    """The payload stored in `kind`/`slot` for `key`, only when this user's secret signed it."""
    if not (_KEY.fullmatch(slot) and _KEY.fullmatch(kind)):
        return None
    secret = _secret(create=False)
    if secret is None:
        return None
    path = cache_dir(kind) / slot
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_SIGNED_MAGIC)
    mac, stored_key, payload = (
        data[head : head + 32],
        data[head + 32 : head + 96],
        data[head + 96 :],
    )
    if not data.startswith(_SIGNED_MAGIC) or stored_key != key.encode().ljust(64, b" ")[:64]:
        return None
    if not hmac.compare_digest(mac, _signed_mac(secret, kind, key, payload)):
        return None
    _used(path)
    return payload


def store_signed(kind: str, slot: str, key: str, payload: bytes) -> None:
    """Keep `payload` for `key` in `kind`/`slot`; without a writable cache, nothing is kept."""
    if not (_KEY.fullmatch(slot) and _KEY.fullmatch(kind)) or len(key) > 64:
        return
    try:
        secret = _secret(create=True)
        if secret is None:
            return
        directory = _mkdirs(cache_dir(kind))
        record = (
            _SIGNED_MAGIC + _signed_mac(secret, kind, key, payload)
            + key.encode().ljust(64, b" ") + payload
        )  # fmt: skip
        _write_atomically(directory, slot, record)
    except OSError:
        pass


# -- trimming ------------------------------------------------------------------------------------

# Go's own rule for its build cache: entries unused for five days go, the times of use are
# refreshed at most once an hour (a write per read would cost more than it saves), and the
# folder is trimmed at most once a day.
TRIM_AFTER = 5 * 24 * 3600
_TRIM_EVERY = 24 * 3600
_TOUCH_EVERY = 3600
_TRIMMED = ("lists", "parsed", "words", "rules", "verdicts", "hints", "modules")
_TRIM_MARK = "trim.txt"


def _used(path: Path) -> None:
    """Mark an entry as used now."""
    try:
        if time.time() - path.stat().st_mtime > _TOUCH_EVERY:
            os.utime(path)
    except OSError:
        pass


def trim(now: float | None = None) -> None:
    """Remove the entries not used for TRIM_AFTER seconds, once a day at most (the first run to
    see the day's mark out of date does it); the per-user secret stays. Never fails a run."""
    now = time.time() if now is None else now
    mark = cache_dir(_TRIM_MARK)
    if not mark.parent.is_dir():
        return  # no cache yet
    try:
        if now - mark.stat().st_mtime < _TRIM_EVERY:
            return
    except FileNotFoundError:
        pass
    except OSError:
        return
    try:
        mark.write_text(f"{int(now)}\n", encoding="utf-8")
        os.utime(mark, (now, now))
    except OSError:
        return  # a cache this user cannot write is not this user's to trim
    for kind in _TRIMMED:
        try:
            entries = list(os.scandir(cache_dir(kind)))
        except OSError:
            continue
        for entry in entries:
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > TRIM_AFTER
                if old and entry.is_dir(follow_symlinks=False):
                    _discard(Path(entry.path))
                elif old:
                    os.unlink(entry.path)
            except OSError:
                continue
