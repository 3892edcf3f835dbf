"""A worked backward pass on f = (x * y) * z: each node's value and gradient, with the rule used."""

from __future__ import annotations

import gradbox as gb


def autograd_demo(x: float = 2.0, y: float = -3.0, z: float = 4.0) -> dict[str, tuple[float, float]]:
    """Build f = (x*y)*z, backpropagate, print the table and return {name: (value, grad)}."""
    xs = gb.tensor(x, dtype=gb.float64, requires_grad=True)
    ys = gb.tensor(y, dtype=gb.float64, requires_grad=True)
    zs = gb.tensor(z, dtype=gb.float64, requires_grad=True)
    q = xs * ys
    q.retain_grad()
    f = q * zs
    f.retain_grad()
    f.backward()
    rows = [
        ("x", xs, "df/dx = df/dq * dq/dx = z * y"),
        ("y", ys, "df/dy = df/dq * dq/dy = z * x"),
        ("z", zs, "df/dz = q = x * y"),
        ("q = x*y", q, "df/dq = z"),
        ("f = q*z", f, "df/df = 1"),
    ]
    print("Reverse-mode autograd on f = (x * y) * z\n")
    print(f"{'node':<10}{'value':>10}{'gradient':>12}   rule")
    out = {}
    for name, t, rule in rows:
        print(f"{name:<10}{t.item():>10.4g}{t.grad.item():>12.4g}   {rule}")
        out[name] = (t.item(), t.grad.item())
    print(f"\ngraph: f.grad_fn = {f.grad_fn}, its inputs: {f.grad_fn.next_functions}")
    return out
