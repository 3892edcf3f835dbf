"""``gb.backends.cudnn``: settable flags, as scripts set them; gradbox has no cuDNN (its results
are deterministic anyway)."""

enabled = False
benchmark = False
deterministic = True


def is_available() -> bool:
    return False
