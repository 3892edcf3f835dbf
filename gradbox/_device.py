"""Devices: gradbox computes on the CPU, and says so clearly when code asks for another device.

``gb.device("cpu")`` behaves like ``torch.device`` (``.type``, ``.index``, equal to the string
``"cpu"``); ``device=`` is accepted wherever PyTorch takes it. Asking for ``cuda``, ``mps`` or
any accelerator raises :class:`DeviceUnavailableError`, naming the way to a GPU: hand the model
to PyTorch (``gb.interop.to_torch``, or its weights in safetensors).
"""

from __future__ import annotations

KNOWN = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "mtia", "xla", "privateuseone")
MOVE_HINT = (
    "gradbox computes on the CPU only. To train on a GPU, move the model to PyTorch: "
    "gb.interop.to_torch(model), or save its weights with gb.save(model.state_dict(), 'model.safetensors') "
    "and load them into the same architecture built with torch.nn"
)


class DeviceUnavailableError(RuntimeError):
    """A device other than the CPU was asked for."""


class device:  # noqa: N801 - PyTorch's name
    """A device spec: ``device("cpu")``, ``device("cpu", 0)``, ``device("cuda:0")`` (the last one
    can be described, but a tensor can never be put there)."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: int | None = None) -> None:  # noqa: A002 - PyTorch's name
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index  # noqa: A001
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {type!r}")
        name, _, idx = type.partition(":")
        if name not in KNOWN:
            raise RuntimeError(f"device: expected one of {', '.join(KNOWN)} device type at start of device string: {type}")
        if idx:
            if index is not None:
                raise RuntimeError(f"device: the index is given twice ({type!r} and index={index})")
            if not idx.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}")
            index = int(idx)
        object.__setattr__(self, "type", name)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")
_default = CPU


def check(d, op: str) -> device:
    """The device ``d`` names (None: the default), refused unless it is the CPU."""
    if d is None:
        return _default
    if isinstance(d, int) and not isinstance(d, bool):
        d = device("cuda", d)  # PyTorch reads a bare int as a CUDA index
    dev = d if isinstance(d, device) else device(d)
    if dev.type != "cpu":
        raise DeviceUnavailableError(f"{op}: device {str(dev)!r} is not available. {MOVE_HINT}")
    return dev


def set_default_device(d) -> None:
    """Set the device creation functions use; only the CPU (or None) is possible here."""
    global _default
    _default = CPU if d is None else check(d, "set_default_device")


def get_default_device() -> device:
    return _default
