"""gradbox: a deep learning framework on NumPy whose every gradient is written out and checked.

``import gradbox as gb`` gives PyTorch's names: ``gb.tensor``, ``gb.nn``, ``gb.optim``,
``loss.backward()``.
"""

from gradbox import _malloc

_malloc.tune()

from gradbox._dtype import (
    bool,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from gradbox._device import device, get_default_device, set_default_device
from gradbox.tensor import Size, Tensor
from gradbox.ops import *  # noqa: F403 - every op is a gb.<name> function
from gradbox.ops import torch_linalg as linalg  # gb.linalg: PyTorch's torch.linalg names
from gradbox import autograd
from gradbox.autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from gradbox.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    numel,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from gradbox.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from gradbox import accelerator, backends, cuda
from gradbox import inspect, nn, optim, train, utils, vision
from gradbox._numeric import finfo, get_num_threads, iinfo, set_num_threads
from gradbox.serialization import load, save

__version__ = "0.1.0"


def __getattr__(name: str):
    """``gb.onnx`` and ``gb.interop`` load on first use; they import onnx/torch only when called."""
    if name in ("onnx", "interop"):
        import importlib  # deferred: only these two subpackages load lazily

        return importlib.import_module(f"gradbox.{name}")
    raise AttributeError(f"module 'gradbox' has no attribute {name!r}")
