"""Feed recipes: a small TOML file of named, weighted terms, identified by a hash (sans-I/O).

A recipe (every field but ``name`` and ``terms`` optional)::

    version = 1                       # format version; only 1 exists
    name = "for-you"                  # 1-64 of a-z 0-9 - _
    description = "..."               # at most 280 characters
    authors = "trusted"               # whose posts: "following" | "trusted" | "any"
    [terms.trust]                     # each term: a weight and its own parameters
    weight = 3.0
    [terms.recency]
    weight = 2.0
    half_life_hours = 6.0
    [modifiers]                       # discounts, each a factor in (0, 1]; 1 = no effect
    reply = 0.75
    out_of_network = 0.75
    diversity_floor = 0.25
    diversity_decay = 0.5

Terms and their parameters are listed in ``TERMS`` (meaning: ``pnyx/rank/score.py`` and
``docs/ranking.md``). Modifiers can only lower a score: nothing in a recipe can raise one
account, or one class of account, above what its terms give.

**Canonical form and hash.** ``canonical(recipe)`` is the recipe with every default filled in,
every number a float (``-0.0`` becomes ``0.0``), as JSON with sorted keys, no spaces, UTF-8.
``recipe_hash`` is the BLAKE2b-256 (hex) of ``HASH_DOMAIN`` followed by that text: two files
that differ only in layout, key order, comments or ``2`` against ``2.0`` have one hash.

Failure modes: every problem raises ``RecipeError`` (a ``UserError``) with a one-line message
naming the field, e.g. ``recipe: terms.recency.half_life_hours must be a number > 0``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from pnyx.errors import UserError

#: Largest recipe file accepted, in bytes.
MAX_RECIPE_BYTES = 16 * 1024
#: Largest absolute weight of a term (dimensionless).
MAX_WEIGHT = 1_000.0
#: Longest description, in characters.
MAX_DESCRIPTION_CHARS = 280
#: Domain separation prefix of the recipe hash.
HASH_DOMAIN = b"pnyx-recipe-v1\n"
#: Recipe format versions understood.
VERSIONS = (1,)
#: Allowed values of ``authors``.
AUTHORS = ("following", "trusted", "any")
NAME_RE = re.compile(r"[a-z0-9_-]{1,64}")

#: Each term's parameters and defaults (``weight`` is required for every term).
TERMS: dict[str, dict[str, float]] = {
    "time": {},
    "trust": {},
    "engagement": {"reply": 3.0, "repost": 2.0, "reaction": 1.0},
    "recency": {"half_life_hours": 6.0},
    "negative": {"cap": 3.0},
}
#: Parameters that must be > 0 (the others must be >= 0).
POSITIVE = {"half_life_hours", "cap"}
#: Modifiers and their defaults when the recipe leaves them out (1.0 = no effect).
MODIFIERS: dict[str, float] = {
    "reply": 1.0,
    "out_of_network": 1.0,
    "diversity_floor": 1.0,
    "diversity_decay": 0.5,
}


class RecipeError(UserError):
    """A recipe file is not valid TOML or breaks the recipe format (the message names the field)."""


@dataclass(frozen=True)
class Recipe:
    """A validated recipe; ``terms[name]`` holds ``weight`` and the term's parameters."""

    name: str
    description: str
    authors: str
    terms: dict[str, dict[str, float]]
    modifiers: dict[str, float]
    version: int = 1

    def canonical(self) -> bytes:
        doc = {
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "authors": self.authors,
            "terms": self.terms,
            "modifiers": self.modifiers,
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8")

    @property
    def hash(self) -> str:
        """BLAKE2b-256 (64 hex digits) of the canonical form."""
        return hashlib.blake2b(HASH_DOMAIN + self.canonical(), digest_size=32).hexdigest()

    def to_toml(self) -> str:
        """The recipe as TOML (canonical layout); ``parse(r.to_toml()) == r``."""
        lines = [
            f"version = {self.version}",
            f"name = {json.dumps(self.name)}",
            f"description = {json.dumps(self.description, ensure_ascii=False)}",
            f"authors = {json.dumps(self.authors)}",
        ]
        for term in sorted(self.terms):
            lines.append(f"\n[terms.{term}]")
            lines += [f"{k} = {v!r}" for k, v in sorted(self.terms[term].items())]
        lines.append("\n[modifiers]")
        lines += [f"{k} = {v!r}" for k, v in sorted(self.modifiers.items())]
        return "\n".join(lines) + "\n"


def _fail(message: str) -> RecipeError:
    return RecipeError(f"recipe: {message}")


def _number(value: object, field: str, low: float, high: float, open_low: bool) -> float:
    """``value`` as a float in the range, or a RecipeError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"{field} must be a number")
    x = float(value)
    bound = f"> {low:g}" if open_low else f">= {low:g}"
    if not math.isfinite(x) or x < low or (open_low and x == low):
        raise _fail(f"{field} must be a number {bound}" + (f" and <= {high:g}" if high else ""))
    if high and x > high:
        raise _fail(f"{field} must be a number {bound} and <= {high:g}")
    return x + 0.0  # -0.0 becomes 0.0


def _terms(raw: object) -> dict[str, dict[str, float]]:
    if not isinstance(raw, dict) or not raw:
        raise _fail("terms must be a table with at least one term")
    terms: dict[str, dict[str, float]] = {}
    for name, body in raw.items():
        if name not in TERMS:
            raise _fail(f"terms.{name} is not a known term ({', '.join(sorted(TERMS))})")
        if not isinstance(body, dict):
            raise _fail(f"terms.{name} must be a table")
        if "weight" not in body:
            raise _fail(f"terms.{name}.weight is missing")
        unknown = set(body) - {"weight"} - set(TERMS[name])
        if unknown:
            raise _fail(f"terms.{name}.{sorted(unknown)[0]} is not a parameter of {name}")
        field = f"terms.{name}.weight"
        weight = body["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise _fail(f"{field} must be a number")
        if not math.isfinite(float(weight)) or abs(float(weight)) > MAX_WEIGHT:
            raise _fail(f"{field} must be a number from {-MAX_WEIGHT:g} to {MAX_WEIGHT:g}")
        out = {"weight": float(weight) + 0.0}
        for param, default in TERMS[name].items():
            out[param] = _number(
                body.get(param, default), f"terms.{name}.{param}", 0.0, 0.0, param in POSITIVE
            )
        terms[name] = out
    return terms


def _modifiers(raw: object) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise _fail("modifiers must be a table")
    unknown = set(raw) - set(MODIFIERS)
    if unknown:
        raise _fail(f"modifiers.{sorted(unknown)[0]} is not a known modifier")
    return {
        k: _number(raw.get(k, default), f"modifiers.{k}", 0.0, 1.0, True)
        for k, default in MODIFIERS.items()
    }


def from_dict(doc: dict[str, Any]) -> Recipe:
    """Validate a decoded recipe document (a TOML or JSON object)."""
    known = {"version", "name", "description", "authors", "terms", "modifiers"}
    unknown = set(doc) - known
    if unknown:
        raise _fail(f"{sorted(unknown)[0]} is not a recipe field")
    version = doc.get("version", 1)
    if isinstance(version, bool) or version not in VERSIONS:
        raise _fail(f"version must be one of {', '.join(map(str, VERSIONS))}")
    name = doc.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise _fail("name must be 1-64 characters of a-z, 0-9, - and _")
    description = doc.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        raise _fail(f"description must be text of at most {MAX_DESCRIPTION_CHARS} characters")
    authors = doc.get("authors", "any")
    if authors not in AUTHORS:
        raise _fail(f"authors must be one of {', '.join(AUTHORS)}")
    return Recipe(
        name=name,
        description=description,
        authors=str(authors),
        terms=_terms(doc.get("terms")),
        modifiers=_modifiers(doc.get("modifiers", {})),
        version=int(version),
    )


def parse(text: str | bytes) -> Recipe:
    """Parse and validate a recipe file's contents."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if len(data) > MAX_RECIPE_BYTES:
        raise _fail(f"file is larger than {MAX_RECIPE_BYTES} bytes")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _fail("file is not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise _fail(f"not valid TOML: {exc}") from exc
    return from_dict(doc)


def from_canonical(data: bytes, max_bytes: int = MAX_RECIPE_BYTES) -> Recipe:
    """A recipe from its canonical bytes (a published ``recipe`` message's body), validated as
    a file is; the bytes must be exactly the canonical form. ``RecipeError`` otherwise."""
    if len(data) > max_bytes:
        raise _fail(f"published recipe is larger than {max_bytes} bytes")
    try:
        doc = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise _fail("published recipe is not UTF-8 text") from exc
    except (ValueError, RecursionError) as exc:
        raise _fail("published recipe is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise _fail("published recipe is not a JSON object")
    recipe = from_dict(doc)
    if recipe.canonical() != data:
        raise _fail("published recipe is not in canonical form")
    return recipe


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")
