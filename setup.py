import setuptools; setuptools.setup()  # noqa: E702 -- all metadata lives in pyproject.toml
