"""contact-reasons: why customers contact you, and what to do about it."""

__version__ = "0.1.0"
