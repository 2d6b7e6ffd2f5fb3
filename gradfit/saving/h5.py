"""Reading HDF5 weight files defensively: only hard links to plain groups and datasets, no external storage,
no virtual datasets, no compression filters, no attributes on datasets; every array's shape and dtype checked
against what the model needs before it is read."""

from __future__ import annotations

import io

import numpy as np

from ..schema import ModelFileError, fail, short

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: what h5py raises on a corrupt file (HDF5 has no checksum: any of these may come from flipped bits)
_H5_ERRORS = (KeyError, OSError, ValueError, RuntimeError, TypeError)


def h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is a dependency
        raise ImportError("Saving and loading models needs h5py: pip install h5py") from exc
    return h5py


class H5:
    """Read-only access to a weights file that only ever follows hard links to plain groups and datasets."""

    def __init__(self, h5file, where: str):
        self.h5py = h5py()
        self.f = h5file
        self.where = where

    def child(self, group, name: str, want_group: bool, at: str):
        """``group[name]`` (None for a missing group), refusing soft and external links and the wrong kind."""
        h5 = self.h5py
        try:
            link = group.get(name, getlink=True)
        except _H5_ERRORS as exc:
            fail(self.where, f"{at}: unreadable ({exc})")
        if link is None:
            if not want_group:
                fail(self.where, f"{at}: missing")
            return None
        if not isinstance(link, h5.HardLink):
            fail(self.where, f"{at}: refusing a {type(link).__name__} (only plain entries are read)")
        try:
            obj = group[name]
        except _H5_ERRORS as exc:
            fail(self.where, f"{at}: unreadable ({exc})")
        kind = h5.Group if want_group else h5.Dataset
        if not isinstance(obj, kind):
            fail(self.where, f"{at}: expected a {'group' if want_group else 'dataset'}, found {type(obj).__name__}")
        return obj

    def keys(self, group, at: str, limit: int = 100_000) -> list[str]:
        """The names in ``group`` (at most ``limit``), each UTF-8 text (h5py hands other names out as bytes)."""
        try:
            n = len(group)
            if n > limit:
                fail(self.where, f"{at}: {n} entries")
            names = list(group.keys())
        except ModelFileError:
            raise
        except _H5_ERRORS as exc:
            fail(self.where, f"{at}: unreadable ({exc})")
        for name in names:
            _check_name(name, self.where, at)
        return names

    def hard_children(self, group, at: str, limit: int = 100_000) -> set[str]:
        """The names in ``group``, read in one pass over its links without opening anything; any link that is
        not a hard link (soft, external, user-defined) is refused by name."""
        names: dict[str, int] = {}

        undecodable: list[bytes] = []

        def visit(name: bytes, info):
            # nothing may be raised in here: h5py's callback machinery turns it into a SystemError
            try:
                names[name.decode("utf-8")] = info.type
            except UnicodeDecodeError:
                undecodable.append(name)
                return 1
            return None if len(names) <= limit else 1  # anything but None stops the iteration

        try:
            group.id.links.iterate(visit, info=True)
        except _H5_ERRORS as exc:
            fail(self.where, f"{at}: unreadable ({exc})")
        for name in undecodable:
            _check_name(name, self.where, at)
        if len(names) > limit:
            fail(self.where, f"{at}: more than {limit} entries")
        kinds = {self.h5py.h5l.TYPE_SOFT: "SoftLink", self.h5py.h5l.TYPE_EXTERNAL: "ExternalLink"}
        for name, kind in names.items():
            if kind != self.h5py.h5l.TYPE_HARD:
                fail(
                    self.where,
                    f"{at}/{name}: refusing a {kinds.get(kind, 'user-defined link')} (only plain entries are read)",
                )
        return set(names)

    def array(self, ds, shape: tuple, dtype: str, at: str) -> np.ndarray:
        """The dataset's values, once its shape, dtype and storage are what the config says."""
        h5 = self.h5py
        try:
            if ds.shape is None:
                fail(self.where, f"{at}: an empty dataset (a null dataspace) holds no values")
            ds_shape, ds_dtype = tuple(ds.shape), ds.dtype
            if ds.external:
                fail(self.where, f"{at}: refusing a dataset stored in external files")
            if ds.is_virtual:
                fail(self.where, f"{at}: refusing a virtual dataset")
            if ds.id.get_create_plist().get_nfilters():
                fail(self.where, f"{at}: refusing a compressed or filtered dataset (Keras writes plain ones)")
            if len(ds.attrs):
                fail(self.where, f"{at}: unexpected attributes {short(list(ds.attrs.keys()))} (e.g. bfloat16 data)")
        except ModelFileError:
            raise
        except _H5_ERRORS as exc:
            fail(self.where, f"{at}: unreadable ({exc})")
        if ds_shape != tuple(shape):
            fail(self.where, f"{at}: the weight has shape {ds_shape} but the model needs {tuple(shape)}")
        want = np.dtype(dtype)
        kinds = "f" if want.kind == "f" else "iu"
        if (
            ds_dtype.names is not None
            or ds_dtype.kind not in kinds
            or ds_dtype.itemsize > 8
            or h5.check_dtype(vlen=ds_dtype) is not None
        ):
            fail(self.where, f"{at}: the weight has dtype {ds_dtype} but the model needs {want}")
        try:
            value = np.empty(ds_shape, dtype=ds_dtype)
            if value.size:
                ds.read_direct(value)
        except _H5_ERRORS as exc:
            fail(self.where, f"{at}: unreadable ({exc})")
        if want.kind != "f" and value.size and (value.min() < 0 or value.max() > np.iinfo(want).max):
            fail(self.where, f"{at}: counts must be non-negative integers, got {value.min()}..{value.max()}")
        if want.kind == "f" and value.size:
            _check_floats(value, want, self.where, at)
        return value.astype(want, copy=False)


def _check_name(name, where: str, at: str) -> None:
    if not isinstance(name, str):
        fail(where, f"{at}: an entry is named {short(name)}, which is not UTF-8 text (Keras writes names it can read)")


def _check_floats(value: np.ndarray, want: np.dtype, where: str, at: str) -> None:
    """Refuse NaN and infinity, and numbers beyond ``want``'s range (the cast would make them infinite)."""
    finite = np.isfinite(value)
    if not finite.all():
        bad = int(value.size - np.count_nonzero(finite))
        first = value.reshape(-1)[int(np.argmin(finite.reshape(-1)))]
        fail(where, f"{at}: holds {bad} values that are not finite (NaN or infinity, e.g. {first}); refusing them")
    if value.dtype.itemsize > want.itemsize:
        largest = float(np.finfo(want).max)
        top = float(np.abs(value).max())
        if top > largest:
            fail(
                where,
                f"{at}: holds {top:.4g}, beyond the range of {want} (±{float(largest):.4g}): it would load as infinity",
            )


def open_h5(source, where: str):
    """An HDF5 file (bytes or a path) opened read-only, once its first bytes are HDF5's signature."""
    h5 = h5py()
    if isinstance(source, (bytes, bytearray)):
        if not bytes(source[:8]) == HDF5_SIGNATURE:
            fail(where, "not an HDF5 file")
        source = io.BytesIO(source)
    else:
        try:
            with open(source, "rb") as f:
                head = f.read(8)
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            raise
        except OSError as exc:
            fail(where, f"cannot read: {exc}")
        if head != HDF5_SIGNATURE:
            fail(where, "not an HDF5 file")
    try:
        return h5.File(source, "r")
    except _H5_ERRORS as exc:
        fail(where, f"not a readable HDF5 file: {exc}")
