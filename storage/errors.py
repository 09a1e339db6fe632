"""The storage layer's own exceptions: driver errors are translated here, at the boundary."""

from __future__ import annotations


class StorageError(Exception):
    """Base for everything the repositories raise on purpose."""


class NotFound(StorageError):
    pass


class ProfileNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"profile {name!r} not found")
        self.name = name


class VersionNotFound(NotFound):
    def __init__(self, profile_name: str, version: int) -> None:
        super().__init__(f"{profile_name} has no version {version}")
        self.profile_name = profile_name
        self.version = version


class VersionIdNotFound(NotFound):
    def __init__(self, version_id: int) -> None:
        super().__init__(f"no profile version with id {version_id}")
        self.version_id = version_id


class NoProfileYet(NotFound):
    """The workspace has no profile at all, so nothing can be resolved by default."""


class ProfileNameTaken(StorageError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a profile named {name!r} already exists")
        self.name = name


class MigrationError(StorageError):
    """A migration cannot be applied safely; the message says which file and why."""


class LabelNotFound(NotFound):
    def __init__(self, label: str) -> None:
        super().__init__(f"no label {label!r}")
        self.label = label


class LabelMovedMeanwhile(StorageError):
    """Someone else moved the label between reading it and moving it (compare-and-set lost)."""

    def __init__(self, label: str, *, expected: int | None, found: int | None) -> None:
        super().__init__(f"label {label!r} is at {found}, not {expected}")
        self.label = label
        self.expected = expected
        self.found = found


class ApiTokenNameTaken(StorageError):
    def __init__(self, name: str) -> None:
        super().__init__(f"an API token named {name!r} already exists")
        self.name = name
