"""The ``.keras`` zip archive: what a member may be called, how large it may be and how it may be compressed,
checked before a byte is inflated; and atomic writes.

A ``.keras`` file is a zip of three members: ``metadata.json``, ``config.json`` and ``model.weights.h5``.
Everything else (another member, a path such as ``../x``, an encrypted or exotically compressed member, a
member that inflates far beyond what its config can justify) is refused with a :class:`ModelFileError`.
"""

from __future__ import annotations

import os

from ..schema import fail

CONFIG_NAME = "config.json"
METADATA_NAME = "metadata.json"
WEIGHTS_NAME = "model.weights.h5"
ARCHIVE_MEMBERS = (METADATA_NAME, CONFIG_NAME, WEIGHTS_NAME)
#: the Keras version whose file format gradfit writes (and checked its files against)
KERAS_FORMAT_VERSION = "3.15.1"

MAX_MEMBERS = 16
MAX_CONFIG_BYTES = 16 << 20
MAX_METADATA_BYTES = 1 << 20
# The weights member holds the model's weights, at most three optimizer slots per weight, HDF5 bookkeeping
# (about 1.5 KiB per group or dataset) and nothing else. Keras writes members uncompressed.
WEIGHTS_SLACK_BYTES = 2 << 20
WEIGHTS_BYTES_PER_ARRAY = 8 << 10
WEIGHTS_COPIES = 5
MAX_COMPRESSION_RATIO = 50
COMPRESSION_RATIO_FLOOR = 32 << 20


def open_archive(source, where: str):
    """The open zip file and its members by name, once every member's name, method, flags and size are fine."""
    import zipfile

    try:
        zf = zipfile.ZipFile(source, "r")
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        fail(where, f"not a .keras archive (a zip file): {exc}")
    try:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            fail(where, f"the archive has {len(infos)} members; a .keras file has 3")
        seen = {}
        for info in infos:
            name = info.filename
            if name in seen:
                fail(where, f"the archive holds two members named {name!r}")
            seen[name] = info
            _check_member(info, where)
        if CONFIG_NAME not in seen:
            fail(where, f"the archive has no {CONFIG_NAME}")
        return zf, seen
    except BaseException:
        zf.close()
        raise


def _check_member(info, where: str) -> None:
    import zipfile

    name = info.filename
    if name.endswith(".npz"):
        fail(
            where,
            f"refusing the member {name!r}: .npz weights may hold pickled Python objects, which "
            "gradfit never reads; save the model again in the default .h5 weights format",
        )
    if name not in ARCHIVE_MEMBERS:  # no folders, no paths: nothing is ever extracted anyway
        fail(
            where,
            f"unexpected archive member {name!r}: a .keras file gradfit reads holds only {', '.join(ARCHIVE_MEMBERS)}",
        )
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        fail(
            where,
            f"member {name!r} uses compression method {info.compress_type}; only stored or deflated members are read",
        )
    if info.flag_bits & 0x1:
        fail(where, f"member {name!r} is encrypted")
    if info.file_size > COMPRESSION_RATIO_FLOOR and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        fail(
            where,
            f"member {name!r} would inflate from {info.compress_size} to {info.file_size} bytes; "
            "refusing a likely decompression bomb",
        )


def read_member(zf, info, limit: int, where: str) -> bytes:
    """A member's bytes, refusing before reading when its declared size exceeds ``limit``, and never reading
    more than ``limit`` bytes whatever the headers say (a lying header cannot make it inflate more)."""
    import zipfile
    import zlib

    if info.file_size > limit:
        fail(where, f"member {info.filename!r} declares {info.file_size} bytes, more than the {limit} allowed")
    try:
        with zf.open(info, "r") as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as exc:
        fail(where, f"member {info.filename!r} is corrupt: {exc}")
    if len(data) > limit:
        fail(where, f"member {info.filename!r} inflates beyond the {limit} bytes allowed")
    if len(data) != info.file_size:
        fail(where, f"member {info.filename!r} holds {len(data)} bytes, not the {info.file_size} it declares")
    return data


def weights_limit(arrays: int, values: int, n_layers: int) -> int:
    """The most bytes a weights file for ``arrays`` weights holding ``values`` numbers can need."""
    return WEIGHTS_SLACK_BYTES + WEIGHTS_BYTES_PER_ARRAY * (4 * arrays + n_layers + 4) + WEIGHTS_COPIES * 8 * values


def check_weights_size(size: int, counts: tuple[int, int, int], n_layers: int, where: str) -> int:
    """Refuse a weights member much larger than the weights ``counts`` (arrays, values, bytes) need, or too
    small to hold them; returns the read limit."""
    arrays, values, nbytes = counts
    limit = weights_limit(arrays, values, n_layers)
    if size > limit:
        fail(
            where,
            f"{WEIGHTS_NAME} holds {size} bytes, far more than the {values} parameters its config "
            f"declares can fill (at most {limit} bytes)",
        )
    if size < nbytes:
        fail(
            where,
            f"{WEIGHTS_NAME} holds {size} bytes, too few for the {values} parameters its config "
            f"declares ({nbytes} bytes)",
        )
    return limit


# ------------------------------------------------------------------------------------------- writing


def write_archive(f, metadata_json: str, config_json: str, weights: bytes) -> None:
    """The three members, stored (not compressed), in Keras's order."""
    import zipfile

    with zipfile.ZipFile(f, "w") as zf:
        with zf.open(METADATA_NAME, "w") as member:
            member.write(metadata_json.encode())
        with zf.open(CONFIG_NAME, "w") as member:
            member.write(config_json.encode())
        zf.writestr(WEIGHTS_NAME, weights)


def atomic_write(path, write) -> None:
    """Write through ``write(fileobj)`` to a temporary file beside ``path``, then rename it over ``path``:
    a crash mid-save leaves the previous file whole."""
    import tempfile

    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        try:
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)


def check_overwrite(path, overwrite: bool) -> None:
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{os.fspath(path)!r} already exists; pass overwrite=True to replace it.")
