"""Device, dtype and thread choices shared by every ranker with weights. Under a launcher
(torchrun, accelerate) each process takes the GPU of its LOCAL_RANK."""
from __future__ import annotations

import logging
import os

from ..errors import LlmrankError

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "fp32", "bf16", "fp16")


def pick_device(device: str) -> str:
    import torch

    if device not in DEVICES:
        raise LlmrankError(f"--device must be one of {', '.join(DEVICES)}")
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        else:
            return "mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise LlmrankError("--device cuda was asked for, but torch sees no CUDA device")
        return f"cuda:{os.environ['LOCAL_RANK']}" if "LOCAL_RANK" in os.environ else "cuda"
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise LlmrankError("--device mps was asked for, but torch sees no MPS device")
    return device


def check_device(device: str) -> str:
    """--device as it is parsed, before any file is read: a known name, and a device torch sees
    (auto and cpu need no torch to check)."""
    if device not in DEVICES:
        raise LlmrankError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
    if device in ("cuda", "mps"):
        pick_device(device)
    return device


def dtype_name(dtype: str, device: str) -> str:
    """--dtype's precision on ``device``: auto is bf16 on a GPU that has it, else fp32."""
    import torch

    if dtype not in DTYPES:
        raise LlmrankError(f"--dtype must be one of {', '.join(DTYPES)}")
    if dtype == "auto":
        return "bf16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "fp32"
    return dtype


def pick_dtype(dtype: str, device: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name(dtype, device)]


def use_all_cores() -> None:
    """All cores for torch (unless OMP_NUM_THREADS says otherwise, e.g. for jobs sharing a
    machine), and no library progress bars or warnings mixed into ours."""
    import torch

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    if not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(cpu_threads())


def cpu_threads() -> int:
    """The threads a CPU engine runs on: OMP_NUM_THREADS where set, else every core this process may use."""
    if os.environ.get("OMP_NUM_THREADS"):
        return int(os.environ["OMP_NUM_THREADS"])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def place(runtime) -> tuple[str, object]:
    """(device, torch dtype) for a ranker's Runtime, with all cores for torch on the CPU."""
    device = pick_device(runtime.device)
    use_all_cores()
    return device, pick_dtype(runtime.dtype, device)


def launched() -> tuple[int, int]:
    """(rank, world size) under torchrun or accelerate launch (WORLD_SIZE > 1), joining the process
    group (gloo: it carries gathered run lines and the small loop's gradients); (0, 1) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import datetime

    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=datetime.timedelta(hours=24))
    return dist.get_rank(), dist.get_world_size()
