"""newswire: streaming ingestion of wire-service news feeds.

setup.py (not only pyproject) because Dataflow workers install pipeline code with --setup_file.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def _requirements() -> list[str]:
    lines = (HERE / "requirements.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith(("#", "-"))]


setup(
    name="newswire",
    version="0.1.0",
    description="Streaming ingestion pipeline for wire-service news feeds",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["schemas*", "transforms*", "pipeline*", "pollers*", "emulator*"]),
    include_package_data=True,
    package_data={"transforms.cleaning": ["rules/*.yaml", "models/*.json"], "pipeline": ["data/*"]},
    install_requires=_requirements(),
    entry_points={"console_scripts": ["newswire=pipeline.cli:entry"]},
)
