"""gb.utils.data against torch.utils.data: batching, shuffling, drop_last, collation,
random_split, Subset/ConcatDataset; shuffles are seeded and reproducible; the DataLoader takes
torch's keywords and rejects torch's invalid combinations with torch's messages; worker
processes give the same batches as the main process, are seeded, report their errors, and
split IterableDatasets as torch's do."""

import collections
import inspect
import os

import numpy as np
import pytest
import torch

import gradbox as gb

gdata, tdata = gb.utils.data, torch.utils.data


def _pair(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    return gdata.TensorDataset(gb.tensor(x), gb.tensor(y)), tdata.TensorDataset(torch.tensor(x), torch.tensor(y))


@pytest.mark.parametrize(
    "n,batch,drop_last", [(10, 3, False), (10, 3, True), (10, 5, False), (7, 10, False), (7, 10, True), (1, 1, False)]
)
def test_sequential_batches_equal_torch(n, batch, drop_last):
    g, t = _pair(n)
    gl, tl = (
        gdata.DataLoader(g, batch_size=batch, drop_last=drop_last),
        tdata.DataLoader(t, batch_size=batch, drop_last=drop_last),
    )
    assert len(gl) == len(tl)
    gb_batches, t_batches = list(gl), list(tl)
    assert len(gb_batches) == len(t_batches)
    for (gx, gy), (tx, ty) in zip(gb_batches, t_batches):
        np.testing.assert_array_equal(gx.numpy(), tx.numpy())
        np.testing.assert_array_equal(gy.numpy(), ty.numpy())
        assert gx.dtype.name == str(tx.dtype).split(".")[1] and gy.dtype == gb.int64


def test_shuffle_visits_every_sample_once_and_is_seeded():
    g, _ = _pair(103)
    gb.manual_seed(1)
    a = np.concatenate([y.numpy() for _, y in gdata.DataLoader(g, batch_size=10, shuffle=True)])
    gb.manual_seed(1)
    b = np.concatenate([y.numpy() for _, y in gdata.DataLoader(g, batch_size=10, shuffle=True)])
    assert sorted(a.tolist()) == list(range(103)) and (a == b).all() and not (a == np.arange(103)).all()
    loader = gdata.DataLoader(g, batch_size=10, shuffle=True, generator=gb.Generator().manual_seed(5))
    e1 = np.concatenate([y.numpy() for _, y in loader])
    e2 = np.concatenate([y.numpy() for _, y in loader])
    assert not (e1 == e2).all()  # a new order each epoch
    loader2 = gdata.DataLoader(g, batch_size=10, shuffle=True, generator=gb.Generator().manual_seed(5))
    np.testing.assert_array_equal(e1, np.concatenate([y.numpy() for _, y in loader2]))


class Pairs(gdata.Dataset):
    """A map-style dataset of dicts, tuples and numbers (no get_batch: per-sample path)."""

    def __init__(self, m):
        self.m = m

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": self.m.tensor([float(i), 2.0 * i]), "meta": (i, float(i) / 2)}


def test_default_collate_matches_torch_structure_and_dtypes():
    gb_b = next(iter(gdata.DataLoader(Pairs(gb), batch_size=3)))
    t_b = next(iter(tdata.DataLoader(Pairs(torch), batch_size=3)))
    np.testing.assert_array_equal(gb_b["x"].numpy(), t_b["x"].numpy())
    for g, t in zip(gb_b["meta"], t_b["meta"]):
        np.testing.assert_array_equal(g.numpy(), t.numpy())
        assert g.dtype.name == str(t.dtype).split(".")[1]
    assert isinstance(gb_b["meta"], type(t_b["meta"]))


def test_random_split_subset_concat_like_torch():
    g, t = _pair(10)
    for lengths in ([3, 7], [0.3, 0.3, 0.4], [0.5, 0.5], [1, 1, 8]):
        gs = gdata.random_split(g, lengths)
        ts = tdata.random_split(t, lengths)
        assert [len(s) for s in gs] == [len(s) for s in ts]
        assert sorted(i for s in gs for i in s.indices) == list(range(10))
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        gdata.random_split(g, [3, 3])
    sub = gdata.Subset(g, [9, 2, 4])
    np.testing.assert_array_equal(next(iter(gdata.DataLoader(sub, batch_size=3)))[1].numpy(), [9, 2, 4])
    cat = gdata.ConcatDataset([g, sub])
    assert len(cat) == 13 and cat[11][1].item() == 2 and cat[-1][1].item() == 4
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        gdata.DataLoader(g, batch_size=0)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        gdata.DataLoader(g, sampler=gdata.SequentialSampler(g), shuffle=True)


# ---- DataLoader keywords, collation, samplers, worker processes ------------------------------


def test_dataloader_accepts_every_keyword_of_torch():
    names = list(inspect.signature(tdata.DataLoader.__init__).parameters)
    assert list(inspect.signature(gdata.DataLoader.__init__).parameters) == names
    g, _ = _pair(6)
    loader = gdata.DataLoader(
        g, batch_size=2, shuffle=False, num_workers=0, collate_fn=None, pin_memory=True, drop_last=False,
        timeout=0, worker_init_fn=None, multiprocessing_context=None, generator=None, prefetch_factor=None,
        persistent_workers=False, pin_memory_device="", in_order=True,
    )  # fmt: skip
    assert [y.tolist() for _, y in loader] == [[0, 1], [2, 3], [4, 5]]  # pin_memory: accepted, no effect


@pytest.mark.parametrize(
    "kw",
    [
        {"num_workers": -1},
        {"timeout": -1},
        {"prefetch_factor": 2},
        {"persistent_workers": True},
        {"num_workers": 1, "prefetch_factor": -1},
        {"multiprocessing_context": "fork"},
        {"batch_size": None, "drop_last": True},
        {"batch_sampler": [[0]], "batch_size": 2},
    ],
)
def test_invalid_keyword_combinations_raise_like_torch(kw):
    g, t = _pair(4)
    with pytest.raises(ValueError) as want:
        tdata.DataLoader(t, **kw)
    with pytest.raises(ValueError) as got:
        gdata.DataLoader(g, **kw)
    assert str(got.value) == str(want.value)


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize(
    "samples",
    [
        [1, 2, 3],
        [1.5, 2.5],
        [True, False],
        [np.float32(1.5), np.float32(2)],
        [np.int32(3), np.int32(4)],
        [np.arange(3, dtype=np.float64), np.ones(3)],
        [(1, 2.0), (3, 4.0)],
        [[1, 2], [3, 4]],
        [{"a": 1, "b": [np.zeros(2), 0.5]}, {"a": 2, "b": [np.ones(2), 1.5]}],
        [Point(1, 2.0), Point(3, 4.0)],
        [("s", 1), ("t", 2)],
    ],
)
def test_default_collate_equals_torchs(samples):
    def same(g, t):
        if isinstance(t, torch.Tensor):
            assert isinstance(g, gb.Tensor) and g.dtype.name == str(t.dtype).split(".")[1], (g, t)
            np.testing.assert_array_equal(g.numpy(), t.numpy())
        elif isinstance(t, dict):
            assert type(g) is type(t) and g.keys() == t.keys()
            for k in t:
                same(g[k], t[k])
        elif isinstance(t, list | tuple):
            assert type(g) is type(t) and len(g) == len(t)
            for a, b in zip(g, t):
                same(a, b)
        else:
            assert g == t

    same(gdata.default_collate(samples), tdata.default_collate(samples))
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        gdata.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers"):
        gdata.default_collate([object()])


def test_no_batching_converts_and_samplers_match_torch():
    g, t = _pair(5)
    np.testing.assert_array_equal(
        [y.item() for _, y in gdata.DataLoader(g, batch_size=None)],
        [y.item() for _, y in tdata.DataLoader(t, batch_size=None)],
    )
    arr = gdata.DataLoader([np.arange(2), np.arange(2) + 1], batch_size=None)
    assert all(isinstance(x, gb.Tensor) for x in arr)  # default_convert: arrays become tensors
    for bs, drop in [(3, False), (3, True), (5, False)]:
        assert list(gdata.BatchSampler(gdata.SequentialSampler(range(10)), bs, drop)) == list(
            tdata.BatchSampler(tdata.SequentialSampler(range(10)), bs, drop)
        )
    gb.manual_seed(0)
    sub = list(gdata.SubsetRandomSampler([10, 20, 30, 40]))
    assert sorted(sub) == [10, 20, 30, 40]
    w = list(gdata.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 400))
    assert set(w) == {1, 3} and 0.65 < w.count(3) / 400 < 0.85
    custom = gdata.DataLoader(g, batch_sampler=[[4, 0], [2]])
    assert [y.tolist() for _, y in custom] == [[4, 0], [2]]


class Numbers(gdata.Dataset):
    """Per-sample dataset recording which worker process produced each sample."""

    def __len__(self):
        return 37

    def __getitem__(self, i):
        info = gdata.get_worker_info()
        return gb.tensor([float(i)]), i, -1 if info is None else info.id, os.getpid()


def _ys(loader):
    return [b[1].tolist() for b in loader]


def test_two_workers_give_the_same_batches_as_none():
    # per-sample datasets and array datasets (whole-batch path), shuffled with a seeded generator
    for ds in (Numbers(), _pair(37)[0]):
        base = _ys(gdata.DataLoader(ds, batch_size=4, shuffle=True, generator=gb.Generator().manual_seed(7)))
        two = _ys(
            gdata.DataLoader(ds, batch_size=4, shuffle=True, generator=gb.Generator().manual_seed(7), num_workers=2)
        )
        assert two == base and sorted(sum(base, [])) == list(range(37))
    batches = list(gdata.DataLoader(Numbers(), batch_size=4, num_workers=2))
    assert [b[2].tolist()[0] for b in batches[:4]] == [0, 1, 0, 1]  # batches alternate between workers
    pids = {b[3][0].item() for b in batches}
    assert len(pids) == 2 and os.getpid() not in pids  # really other processes
    unordered = gdata.DataLoader(Numbers(), batch_size=4, num_workers=2, in_order=False)
    assert sorted(sum(_ys(unordered), [])) == list(range(37))


def test_persistent_workers_keep_their_processes_and_epochs_match():
    loader = gdata.DataLoader(
        Numbers(),
        batch_size=5,
        shuffle=True,
        num_workers=2,
        persistent_workers=True,
        generator=gb.Generator().manual_seed(1),
    )
    single = gdata.DataLoader(Numbers(), batch_size=5, shuffle=True, generator=gb.Generator().manual_seed(1))
    e1, e2 = list(loader), list(loader)
    assert [b[1].tolist() for b in e1] == _ys(single) and [b[1].tolist() for b in e2] == _ys(single)
    assert {b[3][0].item() for b in e1} == {b[3][0].item() for b in e2}  # the same two processes
    it = iter(loader)
    next(it)  # an abandoned epoch: its leftover batches must not leak into the next one
    _ys(single)
    assert [b[1].tolist() for b in loader] == _ys(single)


def _init(worker_id):
    info = gdata.get_worker_info()
    assert info.id == worker_id and info.num_workers == 2
    np.save(
        f"{os.environ['GB_TEST_DIR']}/init{worker_id}.npy", np.array([info.seed, gb.randint(0, 10**9, (1,)).item()])
    )


def test_worker_init_fn_and_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("GB_TEST_DIR", str(tmp_path))
    gb.manual_seed(0)
    list(gdata.DataLoader(Numbers(), batch_size=4, num_workers=2, worker_init_fn=_init))
    s0, s1 = np.load(tmp_path / "init0.npy"), np.load(tmp_path / "init1.npy")
    assert s1[0] == s0[0] + 1  # base_seed + worker_id
    assert s0[1] != s1[1]  # each worker's gradbox generator is seeded differently
    assert gdata.get_worker_info() is None


class Failing(gdata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"sample {i} is broken")
        if i == 7:
            os._exit(3)
        return i


def test_worker_errors_reach_the_main_process():
    with pytest.raises(RuntimeError, match=r"(?s)Caught KeyError in DataLoader worker process 0.*sample 5 is broken"):
        list(gdata.DataLoader(gdata.Subset(Failing(), range(6)), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(gdata.DataLoader(gdata.Subset(Failing(), [6, 7]), batch_size=1, num_workers=1))


class Slow(gdata.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        import time  # only the worker sleeps

        time.sleep(5)
        return i


def test_timeout():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        list(gdata.DataLoader(Slow(), num_workers=1, timeout=0.5))


def stream(m):
    """The same IterableDataset for either framework: each worker takes every n-th number."""

    class Stream(m.utils.data.IterableDataset):
        def __len__(self):
            return 11

        def __iter__(self):
            info = m.utils.data.get_worker_info()
            wid, n = (info.id, info.num_workers) if info is not None else (0, 1)
            return iter(range(wid, 11, n))

    return Stream()


@pytest.mark.parametrize("workers,drop_last", [(0, False), (2, False), (2, True)])
def test_iterable_datasets_split_across_workers_like_torch(workers, drop_last):
    g = [b.tolist() for b in gdata.DataLoader(stream(gb), batch_size=3, num_workers=workers, drop_last=drop_last)]
    t = [b.tolist() for b in tdata.DataLoader(stream(torch), batch_size=3, num_workers=workers, drop_last=drop_last)]
    assert g == t
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        gdata.DataLoader(stream(gb), shuffle=True)


class Noisy(gdata.Dataset):
    """Each sample draws from gradbox's default generator (as random transforms do)."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return gb.rand(1)


def test_random_draws_in_workers_are_seeded_by_gb_manual_seed():
    def epochs(shuffle):
        gb.manual_seed(0)
        loader = gdata.DataLoader(Noisy(), batch_size=3, num_workers=2, shuffle=shuffle)
        return [np.concatenate([b.numpy() for b in loader]) for _ in range(2)]

    for shuffle in (True, False):
        a, b = epochs(shuffle), epochs(shuffle)
        np.testing.assert_array_equal(a[0], b[0])  # the same seed, the same draws
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[0], a[1])  # but new ones every epoch
        assert len(np.unique(a[0])) == 12  # and the two workers do not repeat each other
