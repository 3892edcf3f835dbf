"""torchvision's ``weights=`` interface: the builders take ``weights`` and ``progress`` (and the
legacy ``pretrained``), and the ``*_Weights`` enums exist so that code naming them runs up to
the point where weights would be loaded — where it stops with an explanation: gradbox ships no
pretrained weights."""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Callable


class PretrainedWeightsUnavailableError(NotImplementedError):
    """Pretrained weights were asked for; gradbox ships none."""


def _unavailable(what: str) -> PretrainedWeightsUnavailableError:
    return PretrainedWeightsUnavailableError(
        f"gradbox ships no pretrained weights, so {what} cannot be loaded. Build the model with weights=None "
        "(random initialisation, as torchvision's) and train it, or load weights you have with "
        "model.load_state_dict(state_dict): gradbox's models use torchvision's parameter names."
    )


class WeightsEnum(enum.Enum):
    """Base of the ``*_Weights`` enums: members name torchvision's weight sets; using one (its
    ``transforms()``, ``url``, ``meta`` or passing it to a builder) raises
    :class:`PretrainedWeightsUnavailableError`."""

    def transforms(self, *args, **kwargs):
        raise _unavailable(str(self))

    @property
    def url(self) -> str:
        raise _unavailable(str(self))

    @property
    def meta(self) -> dict:
        raise _unavailable(str(self))

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


def weights_enum(name: str, versions: tuple[str, ...] = ("IMAGENET1K_V1",)) -> type[WeightsEnum]:
    """A ``*_Weights`` enum with the given members; ``DEFAULT`` is the last one."""
    members = {v: f"{name}.{v}" for v in versions}
    members["DEFAULT"] = members[versions[-1]]
    return WeightsEnum(name, members)


def with_weights(builder: Callable, name: str, weights_cls: type[WeightsEnum] | None) -> Callable:
    """``builder`` with torchvision's keyword-only ``weights=None, progress=True``: any weights
    (or ``pretrained=True``) raise :class:`PretrainedWeightsUnavailableError` naming what was asked."""

    @functools.wraps(builder)
    def build(*args, weights=None, progress: bool = True, **kwargs):
        pretrained = kwargs.pop("pretrained", None)
        if pretrained:
            raise _unavailable(f"{name}(pretrained=True)")
        if weights is not None:
            raise _unavailable(
                f"{name}(weights={weights!r})" if isinstance(weights, str) else f"{name}(weights={weights})"
            )
        return builder(*args, **kwargs)

    params = list(inspect.signature(builder).parameters.values())
    params += [
        inspect.Parameter("weights", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=True, annotation=bool),
    ]
    build.__signature__ = inspect.signature(builder).replace(parameters=params)
    del build.__wrapped__  # the signature above is the one to show
    build.__doc__ = (builder.__doc__ or f"Build {name}.") + (
        "\n\n``weights`` / ``pretrained``: gradbox ships no pretrained weights; anything but None raises."
    )
    return build
