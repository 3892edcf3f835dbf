"""Optimizers and schedulers: 100 steps on a fixed non-quadratic problem give torch.optim's
parameters in float64 (1e-10 relative) for every optimizer and option combination, with and
without a scheduler; state-dict round trips continue identically; textbook facts hold."""

import inspect

import numpy as np
import pytest
import torch

import gradbox as gb

RNG = np.random.default_rng(0)
A = RNG.standard_normal((6, 4))
B = RNG.standard_normal(6)
W0 = [RNG.standard_normal((4,)), RNG.standard_normal((2, 3))]


def grad_of(w: list[np.ndarray]) -> list[np.ndarray]:
    """Gradient of f(w) = sum log cosh(A w0 - b) + sum w^4/4 - sum cos(w) (non-quadratic)."""
    return [A.T @ np.tanh(A @ w[0] - B) + w[0] ** 3 + np.sin(w[0]), w[1] ** 3 + np.sin(w[1])]


def run(m, opt_name, kwargs, steps=100, sched=None, groups=False, state=None):
    """``steps`` updates of ``opt_name`` on f in framework ``m``; with maximize=True the
    gradient of -f is given, so every run descends f and stays finite."""
    sign = -1.0 if kwargs.get("maximize") else 1.0
    params = [m.tensor(w.copy(), requires_grad=True) for w in W0]
    spec = [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.003}] if groups else params
    opt = getattr(m.optim, opt_name)(spec, **kwargs)
    sch = sched(m, opt) if sched else None
    if state is not None:
        opt.load_state_dict(state[0])
        if sch:
            sch.load_state_dict(state[1])
    for _ in range(steps):
        with m.no_grad():
            gs = grad_of([p.detach().numpy() for p in params])
        for p, g in zip(params, gs):
            p.grad = m.tensor(sign * g)
        opt.step()
        if sch:
            sch.step()
    assert all(np.isfinite(p.detach().numpy()).all() for p in params)
    return [p.detach().numpy().copy() for p in params], opt, sch


OPTIONS = {
    "SGD": [
        dict(lr=0.01),
        dict(lr=0.01, momentum=0.9),
        dict(lr=0.01, momentum=0.9, nesterov=True),
        dict(lr=0.01, momentum=0.8, dampening=0.3, weight_decay=0.1),
        dict(lr=0.01, momentum=0.5, maximize=True),
    ],
    "Adam": [
        dict(lr=0.01),
        dict(lr=0.01, amsgrad=True),
        dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.99)),
        dict(lr=0.01, maximize=True, eps=1e-6),
        dict(lr=0.01, weight_decay=0.1, amsgrad=True),
    ],
    "AdamW": [dict(lr=0.01), dict(lr=0.01, weight_decay=0.1, amsgrad=True)],
    "RMSprop": [
        dict(lr=0.01),
        dict(lr=0.01, momentum=0.9),
        dict(lr=0.01, centered=True),
        dict(lr=0.001, centered=True, momentum=0.5, weight_decay=0.1, alpha=0.9),
    ],
    "Adagrad": [dict(lr=0.1), dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)],
    "Adadelta": [dict(), dict(lr=0.5, rho=0.8, weight_decay=0.1)],
    "NAdam": [
        dict(),
        dict(lr=0.01, weight_decay=0.1),
        dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, momentum_decay=0.01),
    ],
}
CASES = [(name, kw) for name, kws in OPTIONS.items() for kw in kws]


@pytest.fixture(autouse=True)
def torch_float64_scalars():
    """torch keeps some optimizer scalars (NAdam's mu_product, step counts) in the default
    dtype; with float64 it computes the same full-precision formulas as gradbox."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def assert_iterates_equal(a, b):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for n, kws in OPTIONS.items() for i in range(len(kws))])
def test_100_steps_equal_torch(name, kw):
    ours, _, _ = run(gb, name, kw)
    theirs, _, _ = run(torch, name, kw)
    assert_iterates_equal(ours, theirs)
    assert not np.allclose(ours[0], W0[0])  # the optimizer moved


SCHEDULES = {
    "StepLR": lambda m, o: m.optim.lr_scheduler.StepLR(o, 7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.optim.lr_scheduler.MultiStepLR(o, [10, 30, 30, 60], gamma=0.5),
    "ExponentialLR": lambda m, o: m.optim.lr_scheduler.ExponentialLR(o, 0.97),
    "CosineAnnealingLR": lambda m, o: m.optim.lr_scheduler.CosineAnnealingLR(o, 30, eta_min=1e-4),
    "LambdaLR": lambda m, o: m.optim.lr_scheduler.LambdaLR(o, lambda t: 1 / (1 + 0.1 * t)),
    "LinearLR": lambda m, o: m.optim.lr_scheduler.LinearLR(o, 0.2, 1.0, total_iters=20),
    "OneCycleLR": lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=100),
    "OneCycleLR3": lambda m, o: m.optim.lr_scheduler.OneCycleLR(
        o, max_lr=[0.05, 0.02], total_steps=120, three_phase=True, anneal_strategy="linear"
    ),
    "SequentialLR": lambda m, o: m.optim.lr_scheduler.SequentialLR(
        o,
        [
            m.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=10),
            m.optim.lr_scheduler.CosineAnnealingLR(o, 50),
            m.optim.lr_scheduler.ExponentialLR(o, 0.9),
        ],
        milestones=[10, 60],
    ),
}


@pytest.mark.parametrize("sched", list(SCHEDULES))
@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.01, momentum=0.9)), ("Adam", dict(lr=0.01))])
def test_100_steps_with_a_scheduler_equal_torch(sched, name, kw):
    ours, gopt, gs = run(gb, name, kw, sched=SCHEDULES[sched], groups=True)
    theirs, topt, ts = run(torch, name, kw, sched=SCHEDULES[sched], groups=True)
    assert_iterates_equal(ours, theirs)
    np.testing.assert_allclose(gs.get_last_lr(), ts.get_last_lr(), rtol=1e-12)
    for g, t in zip(gopt.param_groups, topt.param_groups):
        for k in ("lr", "momentum", "betas"):
            if k in t:
                np.testing.assert_allclose(np.asarray(g[k], float), np.asarray(t[k], float), rtol=1e-12)


def test_reduce_lr_on_plateau_follows_torch():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79999]
    lrs = []
    for m in (gb, torch):
        p = m.zeros(2, requires_grad=True)
        opt = m.optim.SGD([p], lr=1.0)
        s = m.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.1)
        seq = []
        for x in metrics:
            s.step(x)
            seq.append(s.get_last_lr()[0])
        lrs.append(seq)
    assert lrs[0] == lrs[1] and min(lrs[0]) < 1.0


@pytest.mark.parametrize("name,kw", [CASES[2], CASES[6], CASES[11], CASES[15], CASES[18], CASES[20]])
@pytest.mark.parametrize("with_sched", [False, True])
def test_state_dict_round_trip_continues_identically(name, kw, with_sched):
    sched = SCHEDULES["CosineAnnealingLR"] if with_sched else None
    straight, _, _ = run(gb, name, kw, steps=60, sched=sched)
    first, opt, sch = run(gb, name, kw, steps=30, sched=sched)
    saved = (opt.state_dict(), sch.state_dict() if sch else None)
    # a fresh optimizer at the half-way parameters, loading the saved state
    global W0
    keep, W0 = W0, first
    try:
        resumed, _, _ = run(gb, name, kw, steps=30, sched=sched, state=saved)
    finally:
        W0 = keep
    assert_iterates_equal(resumed, straight)


def test_heavy_ball_and_velocity_momentum_give_the_same_iterates_only_with_constant_lr():
    def heavy_ball(lrs, b=0.9):
        w_prev = [w.copy() for w in W0]
        w = [x.copy() for x in W0]
        for a in lrs:
            g = grad_of(w)
            w, w_prev = [x - a * gi + b * (x - xp) for x, gi, xp in zip(w, g, w_prev)], w
        return w

    velocity, _, _ = run(gb, "SGD", dict(lr=0.01, momentum=0.9), steps=50)
    assert_iterates_equal(heavy_ball([0.01] * 50), velocity)
    sched = lambda m, o: m.optim.lr_scheduler.StepLR(o, 10, gamma=0.5)
    velocity_changing, _, _ = run(gb, "SGD", dict(lr=0.01, momentum=0.9), steps=50, sched=sched)
    hb = heavy_ball([0.01 * 0.5 ** (t // 10) for t in range(50)])
    assert not np.allclose(hb[0], velocity_changing[0], rtol=1e-6)


def test_weight_decay_is_l2_for_sgd_but_not_for_adam_which_is_why_adamw_exists():
    lam = 0.1

    def l2_run(opt_name, kw, steps=50):
        params = [gb.tensor(w.copy(), requires_grad=True) for w in W0]
        opt = getattr(gb.optim, opt_name)(params, **kw)
        for _ in range(steps):
            gs = grad_of([p.detach().numpy() for p in params])
            for p, g in zip(params, gs):
                p.grad = gb.tensor(g + lam * p.detach().numpy())  # gradient of L + lam/2 ||w||^2
            opt.step()
        return [p.detach().numpy() for p in params]

    def decoupled(opt_name, kw, steps=50):  # w <- (1 - lr lam) w, then the plain step
        params = [gb.tensor(w.copy(), requires_grad=True) for w in W0]
        opt = getattr(gb.optim, opt_name)(params, **kw)
        for _ in range(steps):
            gs = grad_of([p.detach().numpy() for p in params])
            with gb.no_grad():
                for p in params:
                    p.mul_(1 - kw["lr"] * lam)
            for p, g in zip(params, gs):
                p.grad = gb.tensor(g)
            opt.step()
        return [p.detach().numpy() for p in params]

    sgd_wd, _, _ = run(gb, "SGD", dict(lr=0.01, weight_decay=lam), steps=50)
    assert_iterates_equal(sgd_wd, l2_run("SGD", dict(lr=0.01)))
    assert_iterates_equal(sgd_wd, decoupled("SGD", dict(lr=0.01)))  # for SGD all three coincide
    adam_wd, _, _ = run(gb, "Adam", dict(lr=0.01, weight_decay=lam), steps=50)
    assert_iterates_equal(adam_wd, l2_run("Adam", dict(lr=0.01)))  # Adam's weight_decay is L2 ...
    adamw, _, _ = run(gb, "AdamW", dict(lr=0.01, weight_decay=lam), steps=50)
    assert not np.allclose(adam_wd[0], adamw[0], rtol=1e-4)  # ... which is not weight decay
    assert_iterates_equal(adamw, decoupled("Adam", dict(lr=0.01)))  # AdamW is the decoupled form


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: gb.optim.SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
        (lambda p: gb.optim.Adam(p, betas=(1.0, 0.999)), r"Invalid beta parameter at index 0: 1.0"),
        (lambda p: gb.optim.Adam(p, betas=(0.9, -0.1)), r"Invalid beta parameter at index 1: -0.1"),
        (lambda p: gb.optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
        (lambda p: gb.optim.SGD([], lr=0.1), "optimizer got an empty parameter list"),
        (lambda p: gb.optim.SGD(p + p, lr=0.1), "same parameter twice"),
        (
            lambda p: gb.optim.SGD([{"params": p}, {"params": p[:1]}], lr=0.1),
            "some parameters appear in more than one parameter group",
        ),
        (lambda p: gb.optim.RMSprop(p, alpha=-1), "Invalid alpha value: -1"),
        (lambda p: gb.optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    ],
)
def test_bad_hyperparameters_raise_pytorchs_errors(make, match):
    params = [gb.zeros(2, requires_grad=True), gb.zeros(3, requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        make(params)


def test_zero_grad_add_param_group_and_closure():
    p, q = gb.ones(2, requires_grad=True), gb.ones(3, requires_grad=True)
    opt = gb.optim.SGD([p], lr=0.5)
    opt.add_param_group({"params": [q], "lr": 0.1})
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1] and opt.param_groups[1]["momentum"] == 0.0

    def closure():
        opt.zero_grad()
        loss = (p * p).sum() + q.sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(p.detach().numpy(), [0.0, 0.0])
    np.testing.assert_allclose(q.detach().numpy(), [0.9] * 3)
    opt.zero_grad()
    assert p.grad is None and q.grad is None


# ---- the update functions: what each class's step applies, callable on plain arrays ------------
def zeros():
    return [np.zeros_like(w) for w in W0]


# name -> (update function, its state lists before the first step for options kw); steps (t) and
# SGD's None momentum buffers are filled in by function_run
RULES = {
    "SGD": (gb.optim.sgd.sgd, lambda kw: [[None, None]]),
    "Adam": (gb.optim.adam.adam, lambda kw: [zeros(), zeros(), zeros() if kw.get("amsgrad") else []]),
    "AdamW": (gb.optim.adam.adamw, lambda kw: [zeros(), zeros(), zeros() if kw.get("amsgrad") else []]),
    "NAdam": (gb.optim.adam.nadam, lambda kw: [zeros(), zeros(), [1.0, 1.0]]),
    "RMSprop": (
        gb.optim.adaptive.rmsprop,
        lambda kw: [zeros(), zeros() if kw.get("momentum") else [], zeros() if kw.get("centered") else []],
    ),
    "Adagrad": (
        gb.optim.adaptive.adagrad,
        lambda kw: [[np.full_like(w, kw.get("initial_accumulator_value", 0.0)) for w in W0]],
    ),
    "Adadelta": (gb.optim.adaptive.adadelta, lambda kw: [zeros(), zeros()]),
}
COUNTS_STEPS = {"Adam", "AdamW", "NAdam", "Adagrad"}


def function_run(name, kw, steps):
    """``steps`` updates by the update function alone, on NumPy arrays, with state the caller keeps."""
    rule, make_state = RULES[name]
    hyper = getattr(gb.optim, name)([gb.zeros(1, requires_grad=True)], **kw).defaults  # kw + the defaults
    names = set(inspect.signature(rule).parameters)
    if rule is gb.optim.adam.adamw:  # adam's keyword arguments but the one adamw fixes
        names = set(inspect.signature(gb.optim.adam.adam).parameters) - {"decoupled_weight_decay"}
    options = {k: v for k, v in hyper.items() if k in names}
    sign = -1.0 if kw.get("maximize") else 1.0
    params, state = [w.copy() for w in W0], make_state(kw)
    for t in range(1, steps + 1):
        grads = [sign * g for g in grad_of(params)]
        before = [g.copy() for g in grads]
        rule(params, grads, *state, *([[t, t]] if name in COUNTS_STEPS else []), **options)
        for g, b in zip(grads, before):
            np.testing.assert_array_equal(g, b)  # the gradients are only read
    return params


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for n, kws in OPTIONS.items() for i in range(len(kws))])
def test_update_function_on_arrays_is_exactly_the_class_step(name, kw):
    ours, _, _ = run(gb, name, kw, steps=5)
    for x, y in zip(function_run(name, kw, steps=5), ours):
        np.testing.assert_array_equal(x, y)  # bit for bit: the class only gathers state and calls the function
    rule = RULES[name][0]
    math = inspect.cleandoc(rule.__doc__).split("\n\n")[0]
    assert math in getattr(gb.optim, name).__doc__  # help(Class) shows the function's update rule


def test_sgd_function_one_momentum_step_by_hand():
    theta, g, buf = np.array([1.0, -2.0]), np.array([0.5, 0.25]), np.array([0.2, -0.4])
    args = dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False)
    buffers = [buf]
    gb.optim.sgd.sgd([theta], [g], buffers, **args)
    v = 0.9 * np.array([0.2, -0.4]) + np.array([0.5, 0.25])
    np.testing.assert_allclose(buffers[0], v, rtol=1e-15)
    assert buffers[0] is buf  # updated in place
    np.testing.assert_allclose(theta, np.array([1.0, -2.0]) - 0.1 * v, rtol=1e-15)
    # a first step makes the buffer: v_1 = g, a copy (later in-place updates must not touch the gradient)
    theta2, fresh = np.array([1.0, -2.0]), [None]
    gb.optim.sgd.sgd([theta2], [g], fresh, **args)
    np.testing.assert_array_equal(fresh[0], g)
    assert not np.shares_memory(fresh[0], g)
    np.testing.assert_allclose(theta2, np.array([1.0, -2.0]) - 0.1 * g, rtol=1e-15)
    # the class makes the same step from the same state
    p = gb.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = gb.optim.SGD([p], lr=0.1, momentum=0.9)
    opt.state[p] = {"momentum_buffer": gb.tensor(np.array([0.2, -0.4]))}
    p.grad = gb.tensor(g.copy())
    opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), theta)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: gb.optim.Adam(p, eps=-1.0), "Invalid epsilon value: -1.0"),
        (lambda p: gb.optim.Adam(p, lr=-1.0, eps=-1.0), "Invalid learning rate: -1.0"),  # lr is checked first
        (lambda p: gb.optim.SGD(p, momentum=-0.5), "Invalid momentum value: -0.5"),
        (lambda p: gb.optim.AdamW(p, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
        (lambda p: gb.optim.NAdam(p, momentum_decay=-1), "Invalid momentum_decay value: -1"),
        (lambda p: gb.optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
        (lambda p: gb.optim.Adagrad(p, initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
        (lambda p: gb.optim.RMSprop(p, momentum=-1, eps=-1), "Invalid epsilon value: -1"),  # PyTorch's order
    ],
)
def test_every_optimizer_validates_through_pytorchs_messages(make, match):
    with pytest.raises(ValueError, match=match):
        make([gb.zeros(2, requires_grad=True)])


def test_lambda_and_sequential_schedulers_save_what_they_hold_entry_by_entry():
    class Warmup:  # a callable object: its attributes are state, unlike a function's code
        def __init__(self):
            self.scale = 1.0

        def __call__(self, t):
            return self.scale / (1 + t)

    def make(m, o):
        return m.optim.lr_scheduler.SequentialLR(
            o,
            [m.optim.lr_scheduler.LambdaLR(o, Warmup()), m.optim.lr_scheduler.LambdaLR(o, lambda t: 0.9**t)],
            milestones=[5],
        )

    straight, _, sch_straight = run(gb, "SGD", dict(lr=0.01, momentum=0.9), steps=20, sched=make)
    first, opt, sch = run(gb, "SGD", dict(lr=0.01, momentum=0.9), steps=8, sched=make)
    sch._schedulers[0].lr_lambdas[0].scale = 3.0  # state the object carries (its scheduler is past its milestone)
    saved = sch.state_dict()
    assert [s["lr_lambdas"][0] for s in saved["_schedulers"]] == [{"scale": 3.0}, None]
    global W0
    keep, W0 = W0, first
    try:
        resumed, _, sch2 = run(
            gb, "SGD", dict(lr=0.01, momentum=0.9), steps=12, sched=make, state=(opt.state_dict(), saved)
        )
    finally:
        W0 = keep
    assert_iterates_equal(resumed, straight)
    assert sch2.get_last_lr() == sch_straight.get_last_lr() and sch2._schedulers[0].lr_lambdas[0].scale == 3.0
    assert [s.last_epoch for s in sch2._schedulers] == [s.last_epoch for s in sch_straight._schedulers]
