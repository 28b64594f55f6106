"""Type stubs for the hologram package (Hologram Atlas)."""

from collections.abc import Sequence
from typing import Any, Literal, Protocol, SupportsIndex, TypedDict, final

import numpy as np
import numpy.typing as npt

from . import ops as ops

__version__: str
__all__ = ["__version__", "Executor", "Buffer", "Kernel", "cpu_info", "ops"]

_IsaName = Literal["baseline", "avx2", "avx512"]
_StoresName = Literal["auto", "cached", "streamed"]
_DType = str | np.dtype[Any] | type[np.float32] | type[np.int32] | type[np.int64] | type[np.bool_]
_DTypeLike = _DType | None
_Shape = SupportsIndex | Sequence[SupportsIndex]

# A DLPack PyCapsule (types.CapsuleType from Python 3.13 on).
_Capsule = object

class _SupportsDLPack(Protocol):
    def __dlpack__(self, *, max_version: tuple[int, int] | None = None) -> _Capsule: ...

class CpuInfo(TypedDict):
    brand: str
    isa: _IsaName
    isa_supported: list[str]
    isa_compiled: list[str]
    ncpu: int

class MemoryStats(TypedDict):
    bytes_in_use: int
    bytes_requested: int
    bytes_reserved: int
    peak_bytes_in_use: int
    allocs: int
    frees: int
    hits: int
    misses: int

def cpu_info() -> CpuInfo: ...

@final
class Executor:
    def __init__(
        self,
        threads: int = 1,
        isa: _IsaName | str | None = None,
        stores: _StoresName | str = "auto",
    ) -> None: ...
    @property
    def threads(self) -> int: ...
    @property
    def isa(self) -> str: ...
    @property
    def stores(self) -> str: ...
    @stores.setter
    def stores(self, value: _StoresName | str) -> None: ...
    def from_numpy(self, arr: npt.ArrayLike, /) -> Buffer: ...
    def from_dlpack(self, x: _SupportsDLPack | _Capsule, /) -> Buffer: ...
    def empty(self, shape: _Shape, dtype: _DTypeLike = "float32") -> Buffer: ...
    def zeros(self, shape: _Shape, dtype: _DTypeLike = "float32") -> Buffer: ...
    def memory_stats(self) -> MemoryStats: ...
    def empty_cache(self) -> None: ...
    def synchronize(self) -> None: ...
    def launch(
        self,
        kernel: Kernel,
        /,
        *args: Buffer | float | int,
        rows: int = 1,
        cols: int | None = None,
    ) -> None: ...

@final
class Buffer:
    """Made only by an Executor or an op; ``Buffer()`` raises TypeError."""
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def ndim(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def executor(self) -> Executor: ...
    def to_numpy(self) -> npt.NDArray[Any]: ...
    def item(self) -> float | int | bool: ...
    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __array__(
        self, dtype: npt.DTypeLike | None = None, copy: bool | None = None
    ) -> npt.NDArray[Any]: ...
    def __dlpack__(
        self,
        *,
        stream: None = None,
        max_version: tuple[int, int] | None = None,
        dl_device: tuple[int, int] | None = None,
        copy: bool | None = None,
    ) -> _Capsule: ...
    def __dlpack_device__(self) -> tuple[int, int]: ...
    def reshape(self, *shape: SupportsIndex | Sequence[SupportsIndex]) -> Buffer: ...
    def copy(self) -> Buffer: ...
    def astype(self, dtype: _DType) -> Buffer: ...
    def __matmul__(self, value: Buffer, /) -> Buffer: ...
    def __rmatmul__(self, value: Buffer, /) -> Buffer: ...

@final
class Kernel:
    def __init__(self, text: str) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def params(self) -> list[tuple[str, str, bool]]: ...
