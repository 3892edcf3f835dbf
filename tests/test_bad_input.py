"""Bad input gets a clear error naming the op or layer, what it expected and what it got — or
PyTorch's answer; never a raw NumPy traceback or a silently wrong number (one test per defect)."""

import pytest
import torch

import gradbox as gb
import gradbox.nn.functional as F


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m: m.nn.functional.embedding(m.tensor([-1]), m.ones(3, 2)), r"embedding: index -1 is out of range"),
        (lambda m: m.gather(m.ones(3), 0, m.tensor([-1])), r"gather: index -1 is out of bounds for dimension 0 with size 3"),
        (lambda m: m.index_select(m.ones(3), 0, m.tensor([-1])), r"index_select: index -1 is out of bounds"),
        (lambda m: m.index_select(m.ones(3), 0, m.tensor([3])), r"index_select: index 3 is out of bounds"),
    ],
)
def test_negative_indices_raise_index_errors_where_torch_does(call, match):
    with pytest.raises((IndexError, RuntimeError)):
        call(torch)
    with pytest.raises(IndexError, match=match):
        call(gb)


def test_an_embedding_layer_with_index_minus_one_names_the_layer():
    with pytest.raises(IndexError, match=r"Embedding\(3, 2\): index -1 is out of range"):
        gb.nn.Embedding(3, 2)(gb.tensor([0, -1]))


@pytest.mark.parametrize("op", [lambda a, b: a // b, lambda a, b: a % b, lambda a, b: a.div(b, rounding_mode="floor")])
def test_integer_division_by_zero_raises_like_torch(op):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op(torch.tensor([1, 2]), torch.tensor([1, 0]))
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        op(gb.tensor([1, 2]), gb.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="integer division by zero"):  # also a RuntimeError, as torch's
        op(gb.tensor([1, 2]), 0)
    assert (gb.tensor([1.0]) // 0).item() == (torch.tensor([1.0]) // 0).item() == float("inf")  # floats: IEEE


def test_bce_with_targets_outside_zero_one_raises_like_torch():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        torch.nn.BCELoss()(torch.tensor([0.5]), torch.tensor([2.0]))
    with pytest.raises(RuntimeError, match=r"BCELoss\(\): all elements of target should be between 0 and 1, got values in \[-0.5, 2\]"):
        gb.nn.BCELoss()(gb.tensor([0.5, 0.5]), gb.tensor([2.0, -0.5]))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: gb.nn.Conv2d(1, 8, 3, stride=0), r"Conv2d: stride must be positive, got \(0, 0\)"),
        (lambda: gb.nn.Conv2d(1, 8, 0), r"Conv2d: kernel_size must be positive, got \(0, 0\)"),
        (lambda: gb.nn.Conv2d(1, 8, 3, padding=-1), r"Conv2d: padding must be non-negative, got \(-1, -1\)"),
        (lambda: gb.nn.Conv2d(1, 8, 3, dilation=0), r"Conv2d: dilation must be positive"),
        (lambda: gb.nn.ConvTranspose2d(1, 8, 3, stride=-2), r"ConvTranspose2d: stride must be positive"),
        (lambda: gb.nn.MaxPool2d(0), r"MaxPool2d: kernel_size must be positive, got \(0,\)"),
        (lambda: gb.nn.MaxPool2d(2, stride=0), r"MaxPool2d: stride must be positive"),
        (lambda: gb.nn.AvgPool2d(2, padding=-1), r"AvgPool2d: padding must be non-negative"),
        (lambda: gb.nn.Linear(-1, 2), r"Linear: in_features must be a non-negative int, got -1"),
        (lambda: gb.nn.Embedding(-1, 2), r"Embedding: num_embeddings must be a non-negative int, got -1"),
    ],
)
def test_zero_or_negative_layer_geometry_names_the_layer_and_value(make, match):
    with pytest.raises((ValueError, RuntimeError), match=match):
        make()


def test_functional_window_ops_check_their_geometry_too():
    x, w = gb.ones(1, 1, 5, 5), gb.ones(1, 1, 3, 3)
    with pytest.raises(RuntimeError, match=r"conv2d: stride must be positive, got \(0, 0\)"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(RuntimeError, match=r"max_pool2d: kernel_size must be positive"):
        F.max_pool2d(x, 0)
    with pytest.raises(RuntimeError, match=r"avg_pool2d: stride must be positive"):
        F.avg_pool2d(x, 2, stride=0)


@pytest.mark.parametrize("make", [lambda m: m.randn(-1), lambda m: m.zeros(2, -2), lambda m: m.ones(-3), lambda m: m.rand(2, -1)])
def test_negative_sizes_raise_naming_the_function(make):
    with pytest.raises(RuntimeError):
        make(torch)
    with pytest.raises(RuntimeError, match=r"(randn|zeros|ones|rand): trying to create a tensor with negative dimension -\d"):
        make(gb)
    assert gb.zeros(2, 3).reshape(-1, 2).shape == (3, 2)  # -1 still means "infer" where PyTorch allows it


def test_argmax_of_an_empty_dim_raises_like_torch():
    with pytest.raises(IndexError, match="argmax: expected reduction dim 0 to have non-zero size"):
        gb.argmax(gb.ones(0, 3), 0)
    with pytest.raises(IndexError):
        torch.argmax(torch.ones(0, 3), 0)
    assert gb.argmax(gb.ones(0, 3), 1).shape == torch.argmax(torch.ones(0, 3), 1).shape == (0,)


def test_a_ragged_nested_list_says_where_like_torch():
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 1 \(got 1\)"):
        torch.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"tensor: expected sequence of length 2 at dim 1 \(got 1\)"):
        gb.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"tensor: expected sequence of length 3 at dim 2 \(got 2\)"):
        gb.tensor([[[1, 2, 3], [4, 5]]])


def test_float32_random_tensors_are_drawn_in_float32():
    """A huge float32 randn must not allocate a float64 array first (3x the memory)."""
    import tracemalloc

    n = 2_000_000  # 8 MB of float32; a float64 draw first would peak at 16 + 8 MB
    for make in (lambda: gb.randn(n), lambda: gb.rand(n)):
        tracemalloc.start()
        a = make()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert a.dtype == gb.float32 and peak < 1.5 * 4 * n, peak
    gb.manual_seed(0)
    a = gb.randn(10_000)
    assert abs(float(a.mean())) < 0.05 and 0.95 < float(a.std()) < 1.05
