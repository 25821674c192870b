"""YAML loading that remembers where every value came from.

Config errors must name file, line and field. PyYAML's node tree carries line marks, so we build
plain Python data from it and keep a side table of ``path -> line``. Duplicate keys, which plain
PyYAML silently accepts (last one wins), are rejected here with both lines.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import yaml

from dsrflow.errors import ConfigError

Path_ = tuple[str | int, ...]


class _AliasRefused(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _NoAliasLoader(yaml.SafeLoader):
    """A SafeLoader that refuses anchors and aliases as soon as it meets one.

    Aliases let a few lines expand into billions of nodes (an "alias bomb"); a catalog has no
    need for them, and refusing at the first anchor keeps loading linear in the file's size.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        # types-PyYAML leaves Parser.peek_event unannotated; it returns the next yaml.Event.
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AliasRefused(event.start_mark.line + 1)
        return super().compose_node(parent, index)


def load_with_positions(text: str, filename: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML text into Python data plus a map from data path to 1-based line number.

    Raises:
        ConfigError: The text is not valid YAML, has a duplicate key, or uses an anchor or
            alias.

    """
    try:
        node = yaml.compose(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        # A ReaderError has no mark, and its text spans two lines.
        if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
            where = f"{filename}:{text[: exc.position].count(chr(10)) + 1}"
            problem = f"unacceptable character #x{exc.character:04x}"
        else:
            problem = (getattr(exc, "problem", None) or str(exc)).split("\n")[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    except _AliasRefused as exc:
        raise ConfigError(
            f"{filename}:{exc.line}: YAML anchors and aliases are not allowed in the catalog "
            "(write each value out)"
        ) from None
    positions: dict[Path_, int] = {}
    if node is None:
        return None, positions
    return _build(node, (), positions, filename), positions


def _build(node: yaml.Node, path: Path_, positions: dict[Path_, int], filename: str) -> Any:
    positions.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, filename)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                key = str(key)
            _plain(key, (*path,), filename, line, allowed="")
            if key in seen:
                dotted = ".".join(str(p) for p in (*path, key))
                first = seen[key]
                raise ConfigError(
                    f"{filename}:{line}: {dotted}: duplicate key (first defined on line {first})"
                )
            seen[key] = line
            positions[(*path, key)] = line
            out[key] = _build(value_node, (*path, key), positions, filename)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(child, (*path, i), positions, filename) for i, child in enumerate(node.value)
        ]
    value = _scalar(node, filename)
    if isinstance(value, str):
        _plain(value, path, filename, node.start_mark.line + 1, allowed="\n\t")
    return value


def _plain(text: str, path: Path_, filename: str, line: int, *, allowed: str) -> None:
    """Refuse control and formatting characters: catalog text is printed, logged, used in SQL.

    Names and keys may hold none; values may hold line breaks and tabs (instructions).
    """
    for ch in text:
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            where = ".".join(str(p) for p in path) or "(top level)"
            raise ConfigError(
                f"{filename}:{line}: {where}: control or formatting character U+{ord(ch):04X} "
                "is not allowed"
            )


_TIMESTAMP = "tag:yaml.org,2002:timestamp"


def _scalar(node: yaml.Node, filename: str) -> Any:
    # Resolve scalars the way SafeLoader would (ints, bools, nulls, floats, strings), except
    # timestamps: an unquoted ``until: 2034-12-31`` stays the text it was written as. The
    # catalog's raw data must stay JSON (its digest is canonical JSON), and the models parse
    # ISO dates from text anyway.
    if isinstance(node, yaml.ScalarNode) and node.tag == _TIMESTAMP:
        return node.value
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:  # e.g. a tag like ``!env`` that plain YAML data has not
        problem = (getattr(exc, "problem", None) or str(exc)).split("\n")[0]
        line = node.start_mark.line + 1
        raise ConfigError(f"{filename}:{line}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()


def line_for(positions: dict[Path_, int], path: Path_) -> int | None:
    """Line of the longest prefix of ``path`` that has a recorded position."""
    for cut in range(len(path), -1, -1):
        line = positions.get(tuple(path[:cut]))
        if line is not None:
            return line
    return None


class _PlainDumper(yaml.SafeDumper):
    """Writes a value shared by two places twice, instead of as an anchor and an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(data: Any, **options: Any) -> str:
    """YAML text of ``data`` that the catalog loader accepts (no anchors or aliases).

    Args:
        data: Plain data (dicts, lists, scalars).
        **options: ``yaml.dump`` options (``sort_keys``, ``width``...).
    """
    # Without a stream yaml.dump returns the text; the stubs type every outcome as Any.
    text: str = yaml.dump(data, Dumper=_PlainDumper, **options)
    return text
