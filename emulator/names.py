"""Resource names as Pub/Sub spells them: projects/{project}/topics|subscriptions/{id}."""

import re

from emulator.errors import InvalidArgument

# The id rules of real Pub/Sub: start with a letter, 3-255 characters from this set,
# and never start with "goog" (reserved by Google).
_ID = re.compile(r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}")
_PROJECT = re.compile(r"projects/([^/]+)")

DELETED_TOPIC = "_deleted-topic_"


def _check(name: str, collection: str) -> str:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or not parts[1] or parts[2] != collection:
        raise InvalidArgument(
            f"Invalid resource name {name!r}: expected 'projects/<project>/{collection}/<id>'"
        )
    resource_id = parts[3]
    if not _ID.fullmatch(resource_id) or resource_id.lower().startswith("goog"):
        raise InvalidArgument(
            f"Invalid {collection[:-1]} id {resource_id!r} in {name!r}: it must start with a "
            "letter, be 3-255 characters of letters, digits and -_.~+%, and not start with 'goog'"
        )
    return name


def check_topic(name: str) -> str:
    """Return a valid topic name unchanged, or raise InvalidArgument saying what is wrong."""
    return _check(name, "topics")


def check_subscription(name: str) -> str:
    """Return a valid subscription name unchanged, or raise InvalidArgument."""
    return _check(name, "subscriptions")


def check_project(name: str) -> str:
    """Return a valid 'projects/<project>' name unchanged, or raise InvalidArgument."""
    if not _PROJECT.fullmatch(name):
        raise InvalidArgument(f"Invalid project name {name!r}: expected 'projects/<project>'")
    return name


def project_of(name: str) -> str:
    """'projects/p/topics/t' -> 'projects/p'."""
    return "/".join(name.split("/")[:2])
