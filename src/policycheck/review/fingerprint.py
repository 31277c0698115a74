"""The shape of a flag fingerprint, as waivers and baselines write it."""

FINGERPRINT = r"^[0-9a-f]{16}$"
