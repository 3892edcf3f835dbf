"""Tensors, as in PyTorch's "Tensors" quickstart: run it with PyTorch, or with gradbox by
changing only the import line (``import gradbox as torch``)."""

import numpy as np
import torch


def main() -> dict:
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    x_np = torch.from_numpy(np.array(data))
    x_ones = torch.ones_like(x_data)
    x_rand = torch.rand_like(x_data, dtype=torch.float)
    shape = (2, 3)
    rand_tensor, ones_tensor, zeros_tensor = torch.rand(shape), torch.ones(shape), torch.zeros(shape)

    tensor = torch.ones(4, 4)
    print(f"Shape of tensor: {tensor.shape}")
    print(f"Datatype of tensor: {tensor.dtype}")
    print(f"Device tensor is stored on: {tensor.device}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tensor = tensor.to(device)

    print(f"First row: {tensor[0]}")
    print(f"First column: {tensor[:, 0]}")
    print(f"Last column: {tensor[..., -1]}")
    tensor[:, 1] = 0
    t1 = torch.cat([tensor, tensor, tensor], dim=1)

    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    agg = tensor.sum()
    agg_item = agg.item()
    print(agg_item, type(agg_item))
    tensor.add_(5)

    t = torch.ones(5)
    n = t.numpy()
    t.add_(1)  # the NumPy array shares the tensor's memory
    return {
        "x_data": x_data.tolist(),
        "x_np": x_np.tolist(),
        "x_ones": x_ones.tolist(),
        "x_rand_dtype": str(x_rand.dtype).split(".")[-1],
        "shapes": [list(rand_tensor.shape), list(ones_tensor.shape), list(zeros_tensor.shape)],
        "t1": t1.tolist(),
        "y_equal": bool((y1 == y2).all()),
        "z_equal": bool((z1 == z2).all()),
        "agg": agg_item,
        "tensor": tensor.tolist(),
        "shared": n.tolist(),
    }


if __name__ == "__main__":
    main()
