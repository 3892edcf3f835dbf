"""``gb.cuda``: there is no CUDA in gradbox; the queries answer so and the rest are no-ops."""

from __future__ import annotations

from gradbox._device import MOVE_HINT, DeviceUnavailableError


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Accepted so that seeding code runs; there is no CUDA generator to seed."""


manual_seed_all = manual_seed


def synchronize(device=None) -> None:
    """Nothing runs asynchronously on the CPU."""


def empty_cache() -> None:
    """No CUDA cache to empty."""


def current_device() -> int:
    raise DeviceUnavailableError(f"cuda.current_device: no CUDA device. {MOVE_HINT}")


def get_device_name(device=None) -> str:
    raise DeviceUnavailableError(f"cuda.get_device_name: no CUDA device. {MOVE_HINT}")
