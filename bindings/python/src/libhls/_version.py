"""Version of this package: the libhls release it binds (kept equal to Cargo.toml's)."""

__version__ = "0.1.0"
