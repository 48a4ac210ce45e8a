"""Keep freed memory in the process for reuse (glibc): numpy's large arrays otherwise each get
fresh pages from the kernel and give them back on free, and on a 10M-line run those page
faults cost more than the arithmetic. For short commands on large inputs only: the process
then keeps its peak memory until it exits."""
from __future__ import annotations

import os

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters
LARGE = 64 << 20  # bytes of input from which it pays


def large_input(paths) -> bool:
    return sum(os.path.getsize(p) for p in paths if p != "-" and os.path.isfile(p)) >= LARGE


def keep_freed_memory() -> bool:
    """Serve large allocations from the heap and never trim it; False where this is not glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1))
    except (OSError, AttributeError):
        return False
