"""Keep freed memory in the process for reuse (glibc): numpy's large arrays otherwise each get
fresh pages from the kernel and give them back on free, and on a 10M-line run those page
faults cost more than the arithmetic. For short commands that allocate many large arrays."""
from __future__ import annotations

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters


def keep_freed_memory() -> bool:
    """Serve large allocations from the heap and never trim it; False where this is not glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1))
    except (OSError, AttributeError):
        return False
