"""gb.utils.data against torch.utils.data: batching, shuffling, drop_last, collation,
random_split, Subset/ConcatDataset; shuffles are seeded and reproducible."""

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
