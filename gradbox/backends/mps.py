"""``gb.backends.mps``: Apple's Metal backend is not available in gradbox."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
